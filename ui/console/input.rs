//! The keyboard, read by the console itself. crossterm 0.29's reader retries for ever when the
//! tty hangs up (`read` returns 0 or EIO and its loop neither stops nor reports it: a process
//! left behind by a dropped SSH session spins at 100 % CPU and never sees its SIGTERM). So a
//! thread of ours waits on the tty with `poll`, reads it, and treats end of input, a read error
//! or a hangup as [`Wake::TerminalGone`]; `anes` turns the bytes into keys, which become the
//! crossterm [`KeyEvent`]s the keymap speaks.

use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read};
use std::os::fd::AsFd;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use anes::parser::{KeyCode as AnesKey, KeyModifiers as AnesModifiers, Parser, Sequence};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;

use super::wake::Wake;

/// As much as one read takes; a key or an escape sequence is a few bytes.
const READ_SIZE: usize = 1024;

/// The thread reading the terminal; stopped and joined on drop.
pub struct Input {
    /// Dropping it wakes the thread, which then returns.
    stop: Option<PipeWriter>,
    thread: Option<JoinHandle<()>>,
}

impl Input {
    /// Starts reading standard input (a terminal: [`super::ensure_terminal`] checked it).
    pub fn start(wakes: Sender<Wake>) -> io::Result<Input> {
        let tty = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        let (stop_reader, stop) = io::pipe()?;
        let thread = std::thread::Builder::new()
            .name("console-input".into())
            .spawn(move || read_keys(&tty, &stop_reader, &wakes))?;
        Ok(Input { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What one wait on the terminal found.
#[derive(Debug, PartialEq, Eq)]
enum Ready {
    /// Bytes to read.
    Input,
    /// The console is closing.
    Stop,
    /// The terminal is gone, and why.
    Gone(String),
}

/// Reads keys until the console closes or the terminal goes away; never busy: between keys it
/// sleeps in `poll`.
fn read_keys(tty: &File, stop: &PipeReader, wakes: &Sender<Wake>) {
    let mut parser = Parser::default();
    let mut buffer = [0u8; READ_SIZE];
    loop {
        match wait(tty, stop) {
            Ready::Input => {}
            Ready::Stop => return,
            Ready::Gone(why) => {
                let _ = wakes.send(Wake::TerminalGone(why));
                return;
            }
        }
        let read = match (&*tty).read(&mut buffer) {
            Ok(0) => {
                let _ = wakes.send(Wake::TerminalGone("the terminal's input ended".into()));
                return;
            }
            Ok(read) => read,
            Err(error) if matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => continue,
            Err(error) => {
                let _ = wakes.send(Wake::TerminalGone(format!("reading the terminal failed: {error}")));
                return;
            }
        };
        parser.advance(&buffer[..read], read == READ_SIZE);
        for key in parser.by_ref().filter_map(key_event) {
            if wakes.send(Wake::Key(key)).is_err() {
                return;
            }
        }
    }
}

/// Sleeps until the terminal has bytes, hangs up, or the console closes.
fn wait(tty: &File, stop: &PipeReader) -> Ready {
    loop {
        let mut fds = [PollFd::new(tty, PollFlags::IN), PollFd::new(stop, PollFlags::IN)];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(error) => return Ready::Gone(format!("waiting for the terminal failed: {error}")),
        }
        if let Some(ready) = readiness(fds[0].revents(), fds[1].revents()) {
            return ready;
        }
    }
}

/// What `poll`'s answer for the terminal and the stop pipe means. The stop pipe wins: the
/// console is leaving anyway. Input is read even beside a hangup (a hung-up tty says it is
/// readable too, and its read then ends the loop); a hangup or error alone is the end.
fn readiness(tty: PollFlags, stop: PollFlags) -> Option<Ready> {
    if !stop.is_empty() {
        return Some(Ready::Stop);
    }
    if tty.contains(PollFlags::IN) {
        return Some(Ready::Input);
    }
    if tty.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
        return Some(Ready::Gone(format!("the terminal hung up ({tty:?})")));
    }
    None
}

/// One parsed sequence as the key crossterm would have reported; mouse reports and cursor
/// positions (the console asks for neither) are dropped.
fn key_event(sequence: Sequence) -> Option<KeyEvent> {
    let Sequence::Key(key, anes_modifiers) = sequence else { return None };
    let mut modifiers = KeyModifiers::empty();
    for (theirs, ours) in [
        (AnesModifiers::SHIFT, KeyModifiers::SHIFT),
        (AnesModifiers::CONTROL, KeyModifiers::CONTROL),
        (AnesModifiers::ALT, KeyModifiers::ALT),
        (AnesModifiers::META, KeyModifiers::META),
    ] {
        if anes_modifiers.contains(theirs) {
            modifiers |= ours;
        }
    }
    let code = match key {
        AnesKey::Backspace => KeyCode::Backspace,
        AnesKey::Enter => KeyCode::Enter,
        AnesKey::Left => KeyCode::Left,
        AnesKey::Right => KeyCode::Right,
        AnesKey::Up => KeyCode::Up,
        AnesKey::Down => KeyCode::Down,
        AnesKey::Home => KeyCode::Home,
        AnesKey::End => KeyCode::End,
        AnesKey::PageUp => KeyCode::PageUp,
        AnesKey::PageDown => KeyCode::PageDown,
        AnesKey::Tab => KeyCode::Tab,
        AnesKey::BackTab => {
            modifiers |= KeyModifiers::SHIFT;
            KeyCode::BackTab
        }
        AnesKey::Delete => KeyCode::Delete,
        AnesKey::Insert => KeyCode::Insert,
        AnesKey::F(number) => KeyCode::F(number),
        AnesKey::Esc => KeyCode::Esc,
        AnesKey::Null => {
            modifiers |= KeyModifiers::CONTROL;
            KeyCode::Char(' ')
        }
        AnesKey::Char(c) => {
            let (c, control) = control_char(c);
            if control {
                modifiers |= KeyModifiers::CONTROL;
            } else if c.is_uppercase() {
                modifiers |= KeyModifiers::SHIFT;
            }
            KeyCode::Char(c)
        }
    };
    Some(KeyEvent::new(code, modifiers))
}

/// Raw mode delivers Ctrl+letter as the control byte 0x01–0x1A (and Ctrl+4..7 as 0x1C–0x1F);
/// anes passes them on as characters. Returns the key pressed with Ctrl, as crossterm names it.
fn control_char(c: char) -> (char, bool) {
    match u8::try_from(c) {
        Ok(byte @ 0x01..=0x1A) => (char::from(b'a' + byte - 0x01), true),
        Ok(byte @ 0x1C..=0x1F) => (char::from(b'4' + byte - 0x1C), true),
        _ => (c, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys the console's keymap uses, as a terminal sends them.
    fn keys(bytes: &[u8]) -> Vec<KeyEvent> {
        let mut parser = Parser::default();
        parser.advance(bytes, false);
        parser.filter_map(key_event).collect()
    }

    #[test]
    fn plain_keys_arrows_and_control_keys_read_as_crossterm_names_them() {
        let plain = |code| KeyEvent::new(code, KeyModifiers::empty());
        assert_eq!(keys(b"jq/"), vec![plain(KeyCode::Char('j')), plain(KeyCode::Char('q')), plain(KeyCode::Char('/'))]);
        assert_eq!(keys(b"G"), vec![KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)]);
        assert_eq!(keys(b"\r"), vec![plain(KeyCode::Enter)]);
        assert_eq!(keys(b"\t"), vec![plain(KeyCode::Tab)]);
        assert_eq!(keys(b"\x7f"), vec![plain(KeyCode::Backspace)]);
        assert_eq!(keys(b"\x1b"), vec![plain(KeyCode::Esc)]);
        assert_eq!(keys(b"\x1b[A\x1b[B"), vec![plain(KeyCode::Up), plain(KeyCode::Down)]);
        assert_eq!(keys(b"\x1b[5~\x1b[6~"), vec![plain(KeyCode::PageUp), plain(KeyCode::PageDown)]);
        assert_eq!(keys(b"\x1b[Z"), vec![KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)]);
        assert_eq!(keys(b"\x03"), vec![KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)]);
        assert_eq!(keys(b"\x15"), vec![KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)]);
        assert_eq!(keys("é".as_bytes()), vec![plain(KeyCode::Char('é'))]);
    }

    #[test]
    fn a_hangup_alone_is_the_end_and_the_stop_pipe_wins() {
        assert_eq!(readiness(PollFlags::IN, PollFlags::empty()), Some(Ready::Input));
        // Readable and hung up: the read that follows sees the end (or the last bytes).
        assert_eq!(readiness(PollFlags::IN | PollFlags::HUP | PollFlags::ERR, PollFlags::empty()), Some(Ready::Input));
        assert!(matches!(readiness(PollFlags::HUP, PollFlags::empty()), Some(Ready::Gone(_))));
        assert!(matches!(readiness(PollFlags::NVAL, PollFlags::empty()), Some(Ready::Gone(_))));
        assert_eq!(readiness(PollFlags::IN, PollFlags::HUP), Some(Ready::Stop));
        assert_eq!(readiness(PollFlags::empty(), PollFlags::empty()), None);
    }

    /// A real pipe stands in for a terminal whose other end closed: the reader reports the end
    /// of input and returns, instead of reading again and again.
    #[test]
    fn end_of_input_is_reported_once_and_the_reader_returns() {
        let (reader, writer) = io::pipe().expect("pipe");
        let (stop_reader, _stop) = io::pipe().expect("stop pipe");
        let (wakes, woken) = std::sync::mpsc::channel();
        let mut writer = writer;
        io::Write::write_all(&mut writer, b"k").expect("write");
        drop(writer);
        let tty = File::from(std::os::fd::OwnedFd::from(reader));
        read_keys(&tty, &stop_reader, &wakes);
        drop(wakes);
        let seen: Vec<Wake> = woken.iter().collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0], Wake::Key(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::empty())));
        assert!(matches!(&seen[1], Wake::TerminalGone(_)), "{seen:?}");
    }
}
