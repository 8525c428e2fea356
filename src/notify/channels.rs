//! Which channels a notification goes to, resolved once from sentri.yaml and the environment.
//!
//! The rules, in one place so the reader of a config can predict what happens:
//! - **email** when `email.smtp_server` is set and either `approvals.email_enabled` is on or an
//!   `email` adapter is enabled; to the enabled email adapters' `recipients:`, else to
//!   `approvals.approval_recipients` (itself defaulting to `email.username`).
//! - **Slack** when `SENTRI_SLACK_WEBHOOK_URL` is set (the reference's rule), whether or not a
//!   `slack` adapter is listed — unless one is listed and disabled.
//! - **webhook** per enabled `webhook` adapter with a URL.
//! - **PagerDuty** per enabled `pagerduty` adapter with a routing key; escalations only.
//!
//! A queued message names its endpoint by a label (`slack`, `webhook #1`, `pagerduty #2`: the
//! adapter's position in the file), never by URL or key: those are secrets and stay out of the
//! store, the audit trail and `sentri show`.

use std::collections::BTreeMap;

use crate::config::{AdapterKind, Config, Secret};

/// PagerDuty's Events API v2 endpoint, unless an adapter's `url:` says otherwise.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A generic JSON webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `webhook #N`, N the adapter's position in `notifications.adapters` (1-based).
    pub label: String,
    pub url: Secret,
    /// Extra headers; one named like a default header (Content-Type) replaces it.
    pub headers: BTreeMap<String, Secret>,
}

/// A PagerDuty Events API v2 service.
#[derive(Debug, Clone)]
pub struct PagerDuty {
    /// `pagerduty #N`, N the adapter's position in `notifications.adapters` (1-based).
    pub label: String,
    /// The events endpoint ([`PAGERDUTY_EVENTS_URL`] unless overridden).
    pub endpoint: String,
    pub routing_key: Secret,
}

/// Every channel notifications go to.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    /// Email recipients; empty when email notifications are off.
    pub email: Vec<String>,
    /// The Slack incoming webhook URL.
    pub slack: Option<Secret>,
    pub webhooks: Vec<Webhook>,
    pub pagerduty: Vec<PagerDuty>,
}

/// The outbox recipient label of Slack messages.
pub const SLACK_LABEL: &str = "slack";

impl Channels {
    /// Resolves the channels from a loaded configuration (see the module docs for the rules).
    pub fn from_config(config: &Config) -> Channels {
        let adapters = &config.notifications.adapters;
        let enabled = |kind: AdapterKind| adapters.iter().filter(move |a| a.kind == kind && a.enabled);
        let mut email = Vec::new();
        let email_adapters: Vec<_> = enabled(AdapterKind::Email).collect();
        if !config.email.smtp_server.trim().is_empty() && (config.approvals.email_enabled || !email_adapters.is_empty())
        {
            for address in email_adapters.iter().flat_map(|a| a.recipients.iter()) {
                if !email.iter().any(|known: &String| known.eq_ignore_ascii_case(address)) {
                    email.push(address.clone());
                }
            }
            if email.is_empty() {
                email = config.approvals.approval_recipients.clone();
            }
        }
        let slack_listed_off = adapters.iter().any(|a| a.kind == AdapterKind::Slack && !a.enabled)
            && enabled(AdapterKind::Slack).next().is_none();
        let slack = if slack_listed_off {
            None
        } else {
            enabled(AdapterKind::Slack)
                .find_map(|a| a.url.clone())
                .or_else(|| config.approvals.slack_webhook_url.clone())
        };
        let mut webhooks = Vec::new();
        let mut pagerduty = Vec::new();
        for (index, adapter) in adapters.iter().enumerate().filter(|(_, a)| a.enabled) {
            let position = index + 1;
            match adapter.kind {
                AdapterKind::Webhook => {
                    if let Some(url) = &adapter.url {
                        webhooks.push(Webhook {
                            label: format!("webhook #{position}"),
                            url: url.clone(),
                            headers: adapter.headers.clone(),
                        });
                    }
                }
                AdapterKind::PagerDuty => {
                    if let Some(routing_key) = &adapter.routing_key {
                        pagerduty.push(PagerDuty {
                            label: format!("pagerduty #{position}"),
                            endpoint: adapter
                                .url
                                .as_ref()
                                .map_or_else(|| PAGERDUTY_EVENTS_URL.to_owned(), |url| url.expose().to_owned()),
                            routing_key: routing_key.clone(),
                        });
                    }
                }
                AdapterKind::Slack | AdapterKind::Email => {}
            }
        }
        Channels { email, slack, webhooks, pagerduty }
    }

    /// The webhook a queued message names.
    pub fn webhook(&self, label: &str) -> Option<&Webhook> {
        self.webhooks.iter().find(|w| w.label == label)
    }

    /// The PagerDuty service a queued message names.
    pub fn pagerduty(&self, label: &str) -> Option<&PagerDuty> {
        self.pagerduty.iter().find(|p| p.label == label)
    }

    /// Whether any channel is on (the daemon logs it at start).
    pub fn is_empty(&self) -> bool {
        self.email.is_empty() && self.slack.is_none() && self.webhooks.is_empty() && self.pagerduty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(yaml: &str, env: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let lookup = move |var: &str| env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone());
        Config::from_yaml(yaml, Path::new("sentri.yaml"), &lookup).unwrap().config
    }

    #[test]
    fn nothing_configured_means_no_channel() {
        assert!(Channels::from_config(&config("", &[])).is_empty());
    }

    #[test]
    fn email_goes_to_adapter_recipients_else_approval_recipients() {
        let base = "email: {smtp_server: localhost, username: sentri@x.org}\n";
        let off = config(base, &[]);
        assert!(Channels::from_config(&off).email.is_empty(), "no email_enabled, no email adapter");
        let approvals =
            config(&format!("{base}approvals: {{email_enabled: true, approval_recipients: [dba@x.org]}}\n"), &[]);
        assert_eq!(Channels::from_config(&approvals).email, ["dba@x.org"]);
        let adapter = config(
            &format!(
                "{base}approvals: {{approval_recipients: [dba@x.org]}}\nnotifications:\n  adapters:\n    - {{type: email, \
                 enabled: true, recipients: [oncall@x.org, OnCall@x.org, team@x.org]}}\n"
            ),
            &[],
        );
        assert_eq!(Channels::from_config(&adapter).email, ["oncall@x.org", "team@x.org"]);
    }

    #[test]
    fn http_channels_are_labelled_by_position_and_keep_secrets_out_of_labels() {
        let yaml = "notifications:\n  adapters:\n    - {type: webhook, enabled: false, url: http://a/1}\n    - {type: \
                    webhook, enabled: true, url: http://b/s3cret}\n    - {type: pagerduty, enabled: true, url: \
                    http://127.0.0.1:9/enqueue}\n    - {type: pagerduty, enabled: true}\n";
        let channels = Channels::from_config(&config(
            yaml,
            &[("SENTRI_PAGERDUTY_ROUTING_KEY", "rk"), ("SENTRI_SLACK_WEBHOOK_URL", "http://slack/x")],
        ));
        assert_eq!(channels.webhooks.len(), 1);
        assert_eq!(channels.webhooks[0].label, "webhook #2");
        assert_eq!(channels.webhook("webhook #2").unwrap().url.expose(), "http://b/s3cret");
        assert_eq!(channels.pagerduty[0].endpoint, "http://127.0.0.1:9/enqueue");
        assert_eq!(channels.pagerduty(&channels.pagerduty[1].label).unwrap().endpoint, PAGERDUTY_EVENTS_URL);
        assert_eq!(channels.slack.as_ref().map(Secret::expose), Some("http://slack/x"));
        let off = config(
            "notifications:\n  adapters:\n    - {type: slack, enabled: false}\n",
            &[("SENTRI_SLACK_WEBHOOK_URL", "http://slack/x")],
        );
        assert!(Channels::from_config(&off).slack.is_none(), "a Slack adapter listed as disabled turns Slack off");
    }

    #[test]
    fn webhook_url_may_come_from_the_environment() {
        let yaml = "notifications:\n  adapters:\n    - {type: webhook, enabled: true}\n";
        let channels = Channels::from_config(&config(yaml, &[("SENTRI_WEBHOOK_URL", "http://env/hook")]));
        assert_eq!(channels.webhooks[0].url.expose(), "http://env/hook");
    }
}
