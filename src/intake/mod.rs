//! Sources of alerts. Every source produces [`RawAlert`]s, which are stored before anything
//! else happens to them, so nothing a monitor sent is ever lost.

pub mod email;
pub mod html_text;
pub mod imap;
pub mod replay;

pub use email::RawAlert;
pub use imap::{ImapSettings, IntakeError};
