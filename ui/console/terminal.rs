//! The one owner of the terminal. Raw mode and the alternate screen are entered once, when the
//! console opens, and left on every way out: a return or an error (the guard's `Drop`), a panic
//! (ratatui's panic hook). When the terminal itself has gone away (a dropped SSH session, a
//! killed tmux pane) there is nothing to restore, and every write to it would fail — `eprintln!`
//! and ratatui's own `Drop` panic on such a failure — so standard output and standard error are
//! pointed at `/dev/null` instead, and the process winds down quietly.

use std::io;

use anyhow::Context as _;
use ratatui::DefaultTerminal;

use super::app::App;
use super::theme::Theme;
use super::view;

/// The terminal in raw mode on its alternate screen, for as long as this value lives.
pub struct Screen {
    terminal: DefaultTerminal,
    /// The terminal hung up: nothing is written to it any more, not even the restore.
    gone: bool,
}

impl Screen {
    /// Enters raw mode and the alternate screen (and installs ratatui's restoring panic hook).
    /// A half-done setup is undone before the error is returned.
    pub fn open() -> anyhow::Result<Screen> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(Screen { terminal, gone: false }),
            Err(error) => {
                let _ = ratatui::try_restore();
                Err(error).context("setting up the terminal")
            }
        }
    }

    /// Draws `app`. An error means the terminal no longer takes output.
    pub fn draw(&mut self, app: &App, theme: &Theme) -> io::Result<()> {
        self.terminal.draw(|frame| view::draw(app, theme, frame)).map(|_| ())
    }

    /// The terminal went away: from now on nothing is written to it, and whatever the process
    /// still prints on its way out goes to `/dev/null`.
    pub fn lost(&mut self) {
        self.gone = true;
        if let Err(error) = silence_stdio() {
            tracing::warn!(%error, "cannot point standard output at /dev/null after the terminal hung up");
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if !self.gone {
            // Nothing useful to do when this fails: the console is leaving either way.
            let _ = ratatui::try_restore();
        }
    }
}

/// Points standard output and standard error at `/dev/null`.
fn silence_stdio() -> io::Result<()> {
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    rustix::stdio::dup2_stdout(&null)?;
    rustix::stdio::dup2_stderr(&null)?;
    Ok(())
}
