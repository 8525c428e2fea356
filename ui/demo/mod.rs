//! Everything `sentri demo` needs below the screen: the demo alerts and SIMULATED databases
//! ([`scenarios`]), a session that runs the real engine over them ([`session`]), the story told
//! as plain lines ([`narrate`]) and the dry run ([`dry_run`]). The command (`cmd/demo.rs`)
//! tells the story on a terminal or headless; the console can take a [`session::DemoSession`]
//! over and show the same things on screen.

pub mod dry_run;
pub mod narrate;
pub mod scenarios;
pub mod session;
