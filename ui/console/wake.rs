//! What wakes the console: everything it waits for arrives as a [`Wake`] on one channel — keys
//! and the terminal's end from [`super::input`], signals from [`super::signals`], and the
//! engine's "look now" from [`forward_engine_events`]. The loop blocks on that channel (with a
//! timeout for its clock), so a console with nothing to show sleeps.

use std::sync::mpsc::Sender;

use ratatui::crossterm::event::KeyEvent;
use sentri::engine::EngineEvent;
use tokio::sync::broadcast::{self, error::RecvError};

/// One reason for the console loop to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A key from the terminal.
    Key(KeyEvent),
    /// The terminal changed size (SIGWINCH).
    Resize,
    /// The in-process engine did something: the store has news.
    EngineSpoke,
    /// The terminal is gone (end of input, a read error, a hangup, SIGHUP): nothing can be
    /// shown or typed any more.
    TerminalGone(String),
    /// SIGTERM or SIGINT: stop; the terminal is still there and is restored.
    Stop(&'static str),
}

/// Turns the engine's events into [`Wake::EngineSpoke`]s, one per burst, until the engine or
/// the console goes away. Runs on the engine's runtime.
pub async fn forward_engine_events(mut events: broadcast::Receiver<EngineEvent>, wakes: Sender<Wake>) {
    loop {
        match events.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {
                // Whatever else already queued is covered by the same look at the store.
                super::engine_spoke(&mut events);
                if wakes.send(Wake::EngineSpoke).is_err() {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
