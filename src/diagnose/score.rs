//! Scoring candidates without a model: the reference product's argue/select, made
//! deterministic. Each criterion scores 0–1 from the candidate itself, the evidence and the
//! database's history; the specialist's `## Scoring Weights` weigh them.

use std::collections::BTreeMap;

use super::candidates::Drafted;
use crate::domain::Risk;
use crate::policy::specialist::{Criterion, DEFAULT_WEIGHTS, Specialist};

/// How often fixes of one action type ended well on this database: `(completed, finished)`.
pub type History = BTreeMap<String, (u32, u32)>;

/// A fix with no history on this database: neither trusted nor doubted.
pub const NO_HISTORY: f64 = 0.5;

/// The score of one criterion for `drafted`.
pub fn criterion(criterion: Criterion, drafted: &Drafted, history: &History) -> f64 {
    let candidate = &drafted.candidate;
    match criterion {
        Criterion::Risk => match candidate.risk {
            Risk::Low => 1.0,
            Risk::Medium => 0.6,
            Risk::High => 0.3,
            Risk::Critical => 0.0,
        },
        Criterion::Reversibility => {
            if candidate.irreversible.is_none() && !candidate.rollback.is_empty() {
                1.0
            } else {
                0.3
            }
        }
        Criterion::Availability => drafted.impact.score(),
        Criterion::Benefit => drafted.benefit.clamp(0.0, 1.0),
        Criterion::History => match history.get(&candidate.plan.action_type) {
            Some((completed, finished)) if *finished > 0 => f64::from(*completed) / f64::from(*finished),
            _ => NO_HISTORY,
        },
    }
}

/// Scores `drafted` under `specialist`'s weights (the defaults without one), filling the
/// candidate's `scores` under the names the file gave them and its weighted `score`.
pub fn score(drafted: &mut Drafted, specialist: Option<&Specialist>, history: &History) {
    let weights: Vec<(Criterion, f64)> = specialist.map_or_else(|| DEFAULT_WEIGHTS.to_vec(), |s| s.weights.clone());
    let total_weight: f64 = weights.iter().map(|(_, weight)| weight.max(0.0)).sum();
    let mut scores = BTreeMap::new();
    let mut sum = 0.0;
    for (name, weight) in &weights {
        let value = criterion(*name, drafted, history);
        sum += value * weight.max(0.0);
        let label = specialist.map_or_else(|| name.as_str().to_owned(), |s| s.weight_label(*name));
        scores.insert(label, round(value));
    }
    drafted.candidate.scores = scores;
    drafted.candidate.score = if total_weight > 0.0 { round(sum / total_weight) } else { 0.0 };
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
