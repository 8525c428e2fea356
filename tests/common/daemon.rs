//! A `sentri start` child process that is killed (and reaped) when the test ends, however it
//! ends, so no daemon outlives its test and holds a store or a port.

use std::process::Child;

/// The running daemon; dropping it kills it.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
