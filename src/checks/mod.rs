//! Proactive checks, run: the scheduler that fires every check policy on every database of its
//! engine, the run itself (the health query on the read-only path, under a time limit), and
//! the findings its rows come to.
//!
//! It sits above `targets`, `store` and `policy`, which it uses, and below `engine`, which
//! starts [`Scheduler::run`] on its tracker; it reaches a database only through a
//! [`TargetSource`], so it never owns connections, and hands a run's findings back through it
//! (the engine makes them workflows). Each run's judged numbers are kept as time series in the
//! store; space-like ones are forecast ([`forecast`]).

pub mod findings;
pub mod forecast;
pub mod history;
pub mod run;
pub mod samples;
pub mod scheduler;

pub use findings::{Exceeded, Finding, findings};
pub use forecast::{Forecast, Urgency};
pub use run::{CheckError, CheckOutcome, DEFAULT_LIMITS, run_check};
pub use scheduler::{RecordedRun, Scheduler, SchedulerError, SchedulerSettings, TargetSource};
