//! How deep the model goes for one alert, decided by how this alert's fixes went on this
//! database (the reference's cost gate, §3.5), counting only finished workflows: an in-flight or
//! escalated workflow says nothing about whether a fix works, and counting it (as the reference
//! did) lowers the rate of a healthy alert and sends every repeat to the model.

use super::Depth;
use crate::domain::Diagnosis;
use crate::store::FinishedOutcomes;

/// At or above this success rate, with [`TRUSTED_RUNS`], the specialists are trusted alone.
pub const TRUSTED_RATE: f64 = 0.95;
/// Finished workflows needed before a rate is trusted enough to skip the model.
pub const TRUSTED_RUNS: u32 = 5;
/// At or above this rate, with [`FAMILIAR_RUNS`], one question is enough.
pub const FAMILIAR_RATE: f64 = 0.80;
/// Finished workflows needed for the one-shot level.
pub const FAMILIAR_RUNS: u32 = 3;

/// What the gate decided, and why in words (for the diagnosis' record and the audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Gated {
    /// `None`: the model is not asked.
    pub depth: Option<Depth>,
    pub reason: String,
}

/// The depth for an alert whose finished workflows on this database ended as `outcomes`, given
/// the specialists' diagnosis. The model is skipped only when the history is long and good
/// *and* the specialists have a fix to offer: a familiar alert whose cause they could not name
/// still gets a question.
pub fn depth(outcomes: FinishedOutcomes, deterministic: &Diagnosis) -> Gated {
    let FinishedOutcomes { completed, finished } = outcomes;
    let Some(rate) = outcomes.success_rate() else {
        return Gated { depth: Some(Depth::Agentic), reason: "no finished workflow of this alert here yet".into() };
    };
    let record = format!("{completed} of {finished} finished fixes of this alert worked here");
    let has_fix = !deterministic.candidates.is_empty();
    if rate >= TRUSTED_RATE && finished >= TRUSTED_RUNS && has_fix {
        return Gated { depth: None, reason: format!("{record}: the specialists' fixes are trusted") };
    }
    if rate >= FAMILIAR_RATE && finished >= FAMILIAR_RUNS {
        return Gated { depth: Some(Depth::OneShot), reason: format!("{record}: one question, no tools") };
    }
    Gated { depth: Some(Depth::Agentic), reason: format!("{record}: the model investigates") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::diagnosis_example::idle_in_transaction;

    fn gate(completed: u32, finished: u32, with_fix: bool) -> Option<Depth> {
        let mut diagnosis = idle_in_transaction("x");
        if !with_fix {
            diagnosis.candidates.clear();
        }
        depth(FinishedOutcomes { completed, finished }, &diagnosis).depth
    }

    #[test]
    fn a_long_good_record_with_a_fix_skips_the_model() {
        assert_eq!(gate(19, 20, true), None);
        assert_eq!(gate(5, 5, true), None);
        assert_eq!(gate(5, 5, false), Some(Depth::OneShot), "no fix to offer: ask once");
    }

    #[test]
    fn a_short_or_mixed_record_asks_once_and_a_poor_one_investigates() {
        assert_eq!(gate(4, 4, true), Some(Depth::OneShot), "too few runs to skip");
        assert_eq!(gate(17, 20, true), Some(Depth::OneShot));
        assert_eq!(gate(8, 10, true), Some(Depth::OneShot), "the boundary is inclusive");
        assert_eq!(gate(2, 2, true), Some(Depth::Agentic), "two runs are not a record");
        assert_eq!(gate(7, 10, true), Some(Depth::Agentic));
        assert_eq!(gate(0, 0, true), Some(Depth::Agentic));
    }

    #[test]
    fn the_reason_says_the_record() {
        let diagnosis = idle_in_transaction("x");
        let gated = depth(FinishedOutcomes { completed: 19, finished: 20 }, &diagnosis);
        assert!(gated.reason.starts_with("19 of 20"), "{}", gated.reason);
    }
}
