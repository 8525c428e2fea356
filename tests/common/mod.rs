//! Real servers for the integration tests (ARCHITECTURE §7): started once per test binary on
//! loopback, on free ports, in temporary directories, and stopped by PID when the binary
//! exits. Each test binary uses only some of the helpers, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod daemon;
pub mod diagnosis;
pub mod dovecot;
pub mod http;
pub mod model_server;
pub mod postgres;
pub mod process;
pub mod smtp;
pub mod tmux;
