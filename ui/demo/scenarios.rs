//! What the demo feeds the engine: alert emails in the shapes real monitors send (kept in
//! `assets/demo/`, compiled in), the SIMULATED databases they are about, and what each one is
//! meant to show.

use anyhow::bail;
use sentri::targets::DbKind;

/// One demo alert.
#[derive(Debug, Clone, Copy)]
pub struct DemoAlert {
    /// The file in assets/demo/, for messages.
    pub file: &'static str,
    /// The email as a monitor sent it.
    pub email: &'static str,
    /// The policy expected to recognise it.
    pub alert_type: &'static str,
    /// The engine whose policy pack it belongs to: Oracle alerts run on the sandbox, the others
    /// only against a real database (`--db`).
    pub engine: DbKind,
    /// How the email names its database, and how to write another name in its place (`{}`)
    /// when `--db` sends it to a real database.
    pub database_token: &'static str,
    pub database_template: &'static str,
    /// What the story shows with it, in one line.
    pub story: &'static str,
    /// The one alert of its type used with `--db` (the others repeat the type).
    pub for_real_database: bool,
}

impl DemoAlert {
    /// The email, aimed at `database` instead of the database it names.
    pub fn email_for(&self, database: Option<&str>) -> String {
        match database {
            Some(name) => self.email.replace(self.database_token, &self.database_template.replace("{}", name)),
            None => self.email.to_owned(),
        }
    }
}

/// Every demo alert, in the order the story tells them.
pub const ALERTS: &[DemoAlert] = &[
    DemoAlert {
        file: "assets/demo/01_dev_users_tablespace_full.eml",
        email: include_str!("../../assets/demo/01_dev_users_tablespace_full.eml"),
        alert_type: "tablespace_full",
        engine: DbKind::Oracle,
        database_token: "DEVDB01",
        database_template: "{}",
        story: "USERS is 97% full on DEV: a datafile is added at once and the space is measured again",
        for_real_database: true,
    },
    DemoAlert {
        file: "assets/demo/02_dev_temp_full.eml",
        email: include_str!("../../assets/demo/02_dev_temp_full.eml"),
        alert_type: "temp_full",
        engine: DbKind::Oracle,
        database_token: "DEVDB01",
        database_template: "{}",
        story: "TEMP peaked at 98% on DEV: a tempfile is added",
        for_real_database: true,
    },
    DemoAlert {
        file: "assets/demo/03_dev_hist_data_full.eml",
        email: include_str!("../../assets/demo/03_dev_hist_data_full.eml"),
        alert_type: "tablespace_full",
        engine: DbKind::Oracle,
        database_token: "DEVDB02",
        database_template: "{}",
        story: "HIST_DATA is 96% full on a disk group with 1.1 GB free: the new datafile cannot grow, \
                validation fails and the fix is rolled back",
        for_real_database: false,
    },
    DemoAlert {
        file: "assets/demo/04_prod_blocking_session.eml",
        email: include_str!("../../assets/demo/04_prod_blocking_session.eml"),
        alert_type: "session_blocker",
        engine: DbKind::Oracle,
        database_token: "PRODDB",
        database_template: "{}",
        story: "an idle session blocks three others on PROD: killing it cannot be undone, so it waits for approval",
        for_real_database: true,
    },
    DemoAlert {
        file: "assets/demo/05_postgres_sequence.eml",
        email: include_str!("../../assets/demo/05_postgres_sequence.eml"),
        alert_type: "pg_sequence_exhaustion",
        engine: DbKind::Postgres,
        database_token: "DB \"app\"",
        database_template: "DB \"{}\"",
        story: "a PostgreSQL sequence is 93% used: it is widened to bigint (only with --db)",
        for_real_database: true,
    },
];

/// The SIMULATED databases of the demo, as a sentri.yaml would list them.
pub const SANDBOX_CONFIG: &str = "\
databases:
  - name: DEV-DB-01
    connection_string: \"sandbox:dev\"
    environment: DEV
    aliases: [DEVDB01]
  - name: DEV-DB-02
    connection_string: \"sandbox:dev-tight\"
    environment: DEV
    aliases: [DEVDB02]
  - name: PROD-DB-03
    connection_string: \"sandbox:prod\"
    environment: PROD
    aliases: [PRODDB]
approvals:
  approval_timeout: 3600
";

/// The alerts to feed: the sandbox's (Oracle) ones, or with `--db` the ones of that database's
/// engine (one per type); `--alert-type` keeps one type.
pub fn select(alert_type: Option<&str>, real_engine: Option<DbKind>) -> anyhow::Result<Vec<DemoAlert>> {
    let known = || {
        let mut names: Vec<&str> = ALERTS.iter().map(|alert| alert.alert_type).collect();
        names.dedup();
        names.join(", ")
    };
    if let Some(wanted) = alert_type
        && !ALERTS.iter().any(|alert| alert.alert_type.eq_ignore_ascii_case(wanted))
    {
        bail!("the demo has no `{wanted}` alert; it has: {}", known());
    }
    let chosen: Vec<DemoAlert> = ALERTS
        .iter()
        .filter(|alert| alert_type.is_none_or(|wanted| alert.alert_type.eq_ignore_ascii_case(wanted)))
        .filter(|alert| match real_engine {
            None => alert.engine == DbKind::Oracle,
            Some(engine) => alert.for_real_database && alert.engine == engine.policy_engine(),
        })
        .copied()
        .collect();
    if chosen.is_empty() {
        match (alert_type, real_engine) {
            (Some(wanted), None) => bail!(
                "`{wanted}` is a {} alert: the sandbox simulates Oracle, so run it against a real database with --db NAME",
                ALERTS
                    .iter()
                    .find(|a| a.alert_type.eq_ignore_ascii_case(wanted))
                    .map_or("non-Oracle", |a| a.engine.as_str())
            ),
            (Some(wanted), Some(engine)) => bail!("`{wanted}` is not an alert for a {engine} database"),
            (None, Some(engine)) => bail!("the demo has no alert for a {engine} database"),
            (None, None) => bail!("the demo has no alerts"),
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_email_names_its_database_once_retargetable() {
        for alert in ALERTS {
            assert!(alert.email.contains(alert.database_token), "{}", alert.file);
            let aimed = alert.email_for(Some("ELSEWHERE"));
            assert!(!aimed.contains(alert.database_token), "{}", alert.file);
            assert!(aimed.contains("ELSEWHERE"), "{}", alert.file);
            assert_eq!(alert.email_for(None), alert.email);
        }
    }

    #[test]
    fn selection_follows_the_sandbox_or_the_real_engine() {
        let sandbox = select(None, None).expect("sandbox alerts");
        assert_eq!(sandbox.len(), 4);
        assert!(sandbox.iter().all(|alert| alert.engine == DbKind::Oracle));
        let postgres = select(None, Some(DbKind::Postgres)).expect("postgres alerts");
        assert_eq!(postgres.iter().map(|a| a.alert_type).collect::<Vec<_>>(), ["pg_sequence_exhaustion"]);
        let oracle = select(None, Some(DbKind::Oracle)).expect("oracle alerts");
        assert_eq!(oracle.len(), 3, "the rollback scenario is the sandbox's own");
        assert_eq!(select(Some("tablespace_full"), None).expect("two").len(), 2);
        assert!(select(Some("pg_sequence_exhaustion"), None).is_err());
        assert!(select(Some("session_blocker"), Some(DbKind::Postgres)).is_err());
        assert!(select(Some("nope"), None).is_err());
    }
}
