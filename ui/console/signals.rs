//! The signals that end the console: SIGHUP (the terminal hung up — an SSH session dropped, a
//! tmux pane was killed), SIGTERM and SIGINT; and SIGWINCH, which only redraws. They reach the
//! loop as [`Wake`]s, so it leaves through the same door as a `q`. A second SIGTERM or SIGINT —
//! or one after the console closed — has its default effect and ends the process at once, as it
//! would without a console. SIGHUP never does: a hung-up terminal sends it more than once (the
//! kernel to the foreground group, then the shell to its jobs), and a second one killing the
//! process would skip the cleanup the first one started — the demo's home would be left behind.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
use signal_hook::iterator::{Handle, Signals};

use super::wake::Wake;

/// The signals that stop the console.
const STOPPING: [i32; 3] = [SIGHUP, SIGTERM, SIGINT];

/// The stopping signals a person sends: the second one, or one after the console closed, ends
/// the process at once.
const INSISTENT: [i32; 2] = [SIGTERM, SIGINT];

/// A thread turning signals into [`Wake`]s; stopped and joined on drop.
pub struct SignalWatch {
    /// Set by the first stopping signal and when the watch ends: from then on a SIGTERM or
    /// SIGINT has its default effect.
    seen: Arc<AtomicBool>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalWatch {
    /// Starts listening. From here on these signals no longer kill the process by themselves
    /// (except a second stopping one).
    pub fn start(wakes: Sender<Wake>) -> io::Result<SignalWatch> {
        let seen = Arc::new(AtomicBool::new(false));
        for signal in INSISTENT {
            // Order matters: the default action checks the flag before the second registration
            // sets it, so the first signal only sets it.
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&seen))?;
            signal_hook::flag::register(signal, Arc::clone(&seen))?;
        }
        signal_hook::flag::register(SIGHUP, Arc::clone(&seen))?;
        let mut signals = Signals::new(STOPPING.iter().copied().chain([SIGWINCH]))?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new().name("console-signals".into()).spawn(move || {
            for signal in signals.forever() {
                if wakes.send(wake_for(signal)).is_err() {
                    return;
                }
            }
        })?;
        Ok(SignalWatch { seen, handle, thread: Some(thread) })
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.seen.store(true, Ordering::SeqCst);
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What one signal means to the console.
fn wake_for(signal: i32) -> Wake {
    match signal {
        SIGWINCH => Wake::Resize,
        SIGHUP => Wake::TerminalGone("SIGHUP: the terminal hung up".into()),
        SIGTERM => Wake::Stop("SIGTERM"),
        _ => Wake::Stop("SIGINT"),
    }
}

#[cfg(test)]
mod tests {
    // Imports inside the test: the console bench includes this file without a test harness,
    // which drops the test and would leave a module-level import unused.

    #[test]
    fn a_hangup_means_the_terminal_is_gone_and_sigterm_means_stop() {
        use super::Wake;
        assert!(matches!(super::wake_for(super::SIGHUP), Wake::TerminalGone(_)));
        assert_eq!(super::wake_for(super::SIGTERM), Wake::Stop("SIGTERM"));
        assert_eq!(super::wake_for(super::SIGINT), Wake::Stop("SIGINT"));
        assert_eq!(super::wake_for(super::SIGWINCH), Wake::Resize);
    }
}
