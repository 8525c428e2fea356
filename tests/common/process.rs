//! Stopping test servers: the way a crash looks to their clients (the whole process group
//! killed, then the port seen closed), and for certain once the test process is gone.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Kills `child`'s process group (it must have been spawned with `process_group(0)`), reaps it,
/// waits until no process of the group is left, then until nothing accepts on `port`.
pub fn kill_group_and_wait(mut child: Child, port: u16, server: &str) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("kill").args(["-0", "--", &group]).stderr(Stdio::null()).status().is_ok_and(|s| s.success()) {
        assert!(Instant::now() < deadline, "{server} processes survived SIGKILL of their group");
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the shell command `then` once this test process has exited, however it exits (a
/// detached `sh` polls for it): how a server started for the tests is always stopped.
#[allow(clippy::zombie_processes, reason = "the watchdog must outlive this process; init reaps it")]
pub fn after_this_process(then: &str, server: &str) {
    let me = std::process::id();
    let script = format!("while kill -0 {me} 2>/dev/null; do sleep 0.5; done; {then}");
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot spawn the {server} watchdog: {error}"));
}

/// The server's child handle, even when a test panicked while holding it: a failed start must
/// still be stopped cleanly in `Drop`, not abort the whole test binary on a poisoned mutex.
pub fn child_slot(slot: &Mutex<Option<Child>>) -> MutexGuard<'_, Option<Child>> {
    slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the server's process has exited, and how; the lock is released before returning,
/// so a caller may panic with the status without poisoning the slot.
pub fn exit_status(slot: &Mutex<Option<Child>>) -> Option<std::process::ExitStatus> {
    child_slot(slot).as_mut().and_then(|child| child.try_wait().ok().flatten())
}
