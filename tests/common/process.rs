//! Stopping a test server the way a crash looks to its clients: its whole process group killed,
//! then the port seen closed.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
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
