//! Match throughput: how many alert emails per second the matcher reads with the whole default
//! policy pack loaded. Prints figures; run with `cargo bench --bench match_throughput`.

use std::time::Instant;

use sentri::home::Home;
use sentri::intake::RawAlert;
use sentri::pipeline::matcher::{self, KnownDatabase, MatchOutcome};
use sentri::policy::PolicySet;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    home.init(false).expect("init");
    let policies = PolicySet::load(&home.root);
    // Every sample alert of the pack (real monitor shapes), plus mail that matches nothing.
    let mut emails: Vec<RawAlert> = policies
        .alerts
        .iter()
        .flat_map(|policy| &policy.samples)
        .map(|sample| RawAlert::from_parts(&sample.subject, &sample.body, String::new()))
        .collect();
    for index in 0..emails.len() / 4 {
        emails.push(RawAlert::from_parts(
            &format!("Newsletter {index}: storage tips"),
            &"lorem ipsum ".repeat(200),
            String::new(),
        ));
    }
    let databases: Vec<KnownDatabase> = ["PRODDB", "ERPPRD", "HRPROD", "DEV-DB-01", "app", "shop"]
        .iter()
        .map(|name| KnownDatabase {
            name: (*name).to_owned(),
            environment: "DEV".into(),
            aliases: Vec::new(),
            engine: None,
        })
        .collect();

    let rounds = 20;
    let mut figures = Vec::new();
    for (label, prefiltered) in [("every pattern (no prefilter)", false), ("prefiltered", true)] {
        let started = Instant::now();
        let mut matched = 0usize;
        for _ in 0..rounds {
            for email in &emails {
                let outcome = if prefiltered {
                    matcher::match_alert(email, &policies, &databases)
                } else {
                    matcher::match_alert_unfiltered(email, &policies, &databases)
                };
                if let MatchOutcome::Matched(_) = outcome {
                    matched += 1;
                }
            }
        }
        let elapsed = started.elapsed();
        let total = rounds * emails.len();
        let rate = total as f64 / elapsed.as_secs_f64();
        println!(
            "match_throughput: {label}: {} policies, {} distinct emails, {total} matches in {:.2?}",
            policies.alerts.len(),
            emails.len(),
            elapsed
        );
        println!(
            "match_throughput: {label}: {rate:.0} emails/s ({:.1} µs per email), {matched} recognised",
            elapsed.as_secs_f64() * 1e6 / total as f64
        );
        figures.push(rate);
    }
    if let [before, after] = figures[..] {
        println!("match_throughput: prefilter speed-up {:.1}× (goal: ≥ 20,000 emails/s)", after / before);
    }
}
