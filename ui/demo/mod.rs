//! Everything `sentri demo` needs below the screen: the demo alerts and SIMULATED databases
//! ([`scenarios`]), a session that runs the real engine over them ([`session`]), the story told
//! as plain lines ([`narrate`]), the dry run ([`dry_run`]) and the console over a session on a
//! terminal ([`live`]). The command (`cmd/demo.rs`) picks the console or the narration.

pub mod dry_run;
pub mod live;
pub mod narrate;
pub mod scenarios;
pub mod session;
