//! A real terminal for the tests: a tmux server of the test's own (its socket in the test's
//! temp folder) holding one detached 160x48 session, driven with keys and read with
//! `capture-pane` as a person would; killed on drop, whether the test passed or panicked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server and its session.
pub struct Tmux {
    socket: PathBuf,
    session: String,
    /// How long [`Tmux::wait_for`] waits before it gives up (a hang guard, not a measure).
    patience: Duration,
}

impl Tmux {
    /// Starts `command` (a shell line) in a detached 160x48 session.
    pub fn start(socket: PathBuf, command: &str, patience: Duration) -> Tmux {
        let session = format!("sentri-{}", std::process::id());
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d", "-x", "160", "-y", "48", "-s", &session, command])
            .status()
            .expect("tmux new-session");
        assert!(status.success(), "tmux new-session failed: {status}");
        Tmux { socket, session, patience }
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(&self.socket);
        command
    }

    /// The screen as text (no colours).
    pub fn screen(&self) -> String {
        let output = self.tmux().args(["capture-pane", "-p", "-t", &self.session]).output().expect("capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A tmux format (`#{pane_pid}`, `#{alternate_on}`) for the session's pane.
    pub fn display(&self, format: &str) -> String {
        let output =
            self.tmux().args(["display-message", "-p", "-t", &self.session, format]).output().expect("display-message");
        assert!(output.status.success(), "tmux display-message {format}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Keys as tmux names them (`Enter`, `Escape`) or single characters.
    pub fn keys(&self, keys: &[&str]) {
        let status = self.tmux().args(["send-keys", "-t", &self.session]).args(keys).status().expect("send-keys");
        assert!(status.success(), "send-keys {keys:?}");
    }

    /// Text typed literally.
    pub fn type_text(&self, text: &str) {
        let status = self.tmux().args(["send-keys", "-l", "-t", &self.session, text]).status().expect("send-keys");
        assert!(status.success(), "send-keys -l {text:?}");
    }

    pub fn alive(&self) -> bool {
        self.tmux().args(["has-session", "-t", &self.session]).output().is_ok_and(|output| output.status.success())
    }

    /// Ends the session as a closed window or a dropped SSH connection does: the pane's
    /// terminal goes away under whatever runs in it.
    pub fn kill_session(&self) {
        let status = self.tmux().args(["kill-session", "-t", &self.session]).status().expect("kill-session");
        assert!(status.success(), "tmux kill-session failed: {status}");
    }

    /// Polls the screen until `ready` holds; returns that screen. Panics with the last screen
    /// when it never does.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + self.patience;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "never saw {what}; the screen was:\n{screen}");
            assert!(self.alive(), "the session ended before {what}; the last screen was:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

pub fn installed() -> bool {
    Command::new("tmux").arg("-V").output().is_ok_and(|output| output.status.success())
}

/// Single-quotes a path for the shell line tmux runs.
pub fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
