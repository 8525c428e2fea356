//! Mail out through the configured SMTP server, with lettre.
//!
//! The transport follows sentri.yaml's `email` section: `smtp_ssl` (implicit TLS, usually port
//! 465) wins over `use_tls` (STARTTLS, required — never silently downgraded); with both off,
//! plain SMTP is allowed only to a loopback host (or with `allow_plaintext: true`), and no
//! password is sent over it: a plain-text relay on this machine is trusted by address, and a
//! password never crosses an unencrypted connection.
//!
//! Every message carries From, To, Subject, Date, a Message-ID that stays the same across
//! retries (so a receiving server or a human can tell a retry from a new message),
//! `Auto-Submitted: auto-generated` (RFC 3834: vacation responders stay quiet) and
//! [`SENTRI_HEADER`], so Sentri never reads its own mail back as an alert or a reply.

use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailContent, NotifyError, SENTRI_HEADER};
use crate::config::{EmailConfig, is_loopback};
use crate::store::OutboxMessage;

/// How long one SMTP conversation may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// `X-Sentri-Message: <value>`.
#[derive(Debug, Clone)]
struct SentriMessage(String);

impl Header for SentriMessage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(SENTRI_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SentriMessage(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834).
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// The value of [`SENTRI_HEADER`] on the message built from outbox row `id`.
pub fn sentri_header_value(message: &OutboxMessage) -> String {
    match &message.workflow_id {
        Some(workflow_id) => format!("outbox-{}; workflow={workflow_id}", message.id),
        None => format!("outbox-{}", message.id),
    }
}

fn mailbox(field: impl Into<String>, value: &str) -> Result<Mailbox, NotifyError> {
    value.trim().parse::<Mailbox>().map_err(|source| NotifyError::Address {
        field: field.into(),
        value: value.to_owned(),
        source,
    })
}

/// A configured SMTP sender. Cheap to share; each send opens its own connection.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpSender {
    /// Builds the sender from the `email` section, refusing what would be unsafe or cannot
    /// work: no server, an invalid From address, plain text to a host that is not loopback.
    pub fn from_config(email: &EmailConfig) -> Result<SmtpSender, NotifyError> {
        let host = email.smtp_server.trim().to_owned();
        if host.is_empty() {
            return Err(NotifyError::NoSmtpServer);
        }
        let from_field = if email.from_address.trim().is_empty() { "email.username" } else { "email.from_address" };
        let from = mailbox(from_field, &email.from_address)?;
        let setup = |source| NotifyError::SmtpSetup { host: host.clone(), source };
        let (builder, encrypted) = if email.smtp_ssl {
            (AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(setup)?, true)
        } else if email.use_tls {
            (AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(setup)?, true)
        } else if is_loopback(&host) || email.allow_plaintext {
            (AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host), false)
        } else {
            return Err(NotifyError::PlaintextNotLoopback { host });
        };
        let mut builder = builder.port(email.smtp_port).timeout(Some(SMTP_TIMEOUT));
        if encrypted && let Some(ca_file) = &email.ca_file {
            // The team's own CA, beside the public roots (`email.ca_file`, shared with IMAP).
            let pem = std::fs::read(ca_file)
                .map_err(|source| NotifyError::CaFile { path: ca_file.clone(), detail: source.to_string() })?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|source| NotifyError::CaFile { path: ca_file.clone(), detail: source.to_string() })?;
            let parameters =
                TlsParameters::builder(host.clone()).add_root_certificate(certificate).build_rustls().map_err(setup)?;
            builder = builder.tls(if email.smtp_ssl { Tls::Wrapper(parameters) } else { Tls::Required(parameters) });
        }
        if encrypted
            && !email.smtp_username.trim().is_empty()
            && let Some(password) = &email.smtp_password
        {
            builder = builder.credentials(Credentials::new(email.smtp_username.clone(), password.expose().to_owned()));
        }
        Ok(SmtpSender { transport: builder.build(), from, host, port: email.smtp_port })
    }

    /// The From: mailbox.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The email for one outbox row: headers, and a text part with an optional HTML
    /// alternative (multipart/alternative).
    pub fn message(&self, outbox: &OutboxMessage) -> Result<Message, NotifyError> {
        let content: EmailContent = serde_json::from_str(&outbox.body).map_err(|source| NotifyError::Body {
            id: outbox.id,
            kind: outbox.kind.clone(),
            source,
        })?;
        let to = mailbox(format!("outbox message {} recipient", outbox.id), &outbox.recipient)?;
        let domain = self.from.email.domain().to_owned();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(outbox.subject.clone())
            .date_now()
            .message_id(Some(format!("<sentri.outbox-{}.{}@{domain}>", outbox.id, outbox.created_at.as_millisecond())))
            .header(AutoSubmitted)
            .header(SentriMessage(sentri_header_value(outbox)));
        let built = match content.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(content.text, html)),
            None => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(content.text)),
        };
        built.map_err(|source| NotifyError::Build { id: outbox.id, source })
    }

    /// Sends one outbox row. Success means the server accepted it for delivery.
    pub async fn send(&self, outbox: &OutboxMessage) -> Result<(), NotifyError> {
        let message = self.message(outbox)?;
        self.transport.send(message).await.map(|_| ()).map_err(|source| NotifyError::Smtp {
            id: outbox.id,
            host: self.host.clone(),
            port: self.port,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn email(server: &str, use_tls: bool, smtp_ssl: bool) -> EmailConfig {
        EmailConfig {
            smtp_server: server.to_owned(),
            smtp_port: 2525,
            use_tls,
            smtp_ssl,
            username: "sentri@example.org".to_owned(),
            smtp_username: "sentri@example.org".to_owned(),
            from_address: "Sentri <sentri@example.org>".to_owned(),
            smtp_password: Some(Secret::new("pw")),
            ..EmailConfig::default()
        }
    }

    fn outbox(body: &str, recipient: &str) -> OutboxMessage {
        OutboxMessage {
            id: 42,
            kind: "email".into(),
            recipient: recipient.into(),
            subject: "[SENTRI] COMPLETED: tablespace_full on PROD [WF:3f9c2a1b]".into(),
            body: body.into(),
            workflow_id: Some("3f9c2a1b-0000".into()),
            created_at: "2026-11-25T01:02:03.456Z".parse().unwrap(),
            attempts: 0,
            next_attempt_at: None,
            sent_at: None,
            gave_up_at: None,
            last_error: None,
        }
    }

    #[test]
    fn the_ca_file_is_trusted_for_tls_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
        for (use_tls, smtp_ssl) in [(true, false), (false, true)] {
            let with_ca = EmailConfig { ca_file: Some(ca.clone()), ..email("smtp.example.org", use_tls, smtp_ssl) };
            assert!(SmtpSender::from_config(&with_ca).is_ok());
        }
        let missing =
            EmailConfig { ca_file: Some(dir.path().join("gone.pem")), ..email("smtp.example.org", true, false) };
        let err = SmtpSender::from_config(&missing).unwrap_err();
        assert!(err.to_string().contains("email.ca_file") && err.to_string().contains("gone.pem"), "{err}");
    }

    #[test]
    fn plain_text_only_to_loopback() {
        assert!(SmtpSender::from_config(&email("127.0.0.1", false, false)).is_ok());
        assert!(SmtpSender::from_config(&email("localhost", false, false)).is_ok());
        let err = SmtpSender::from_config(&email("smtp.example.org", false, false)).unwrap_err();
        assert!(matches!(err, NotifyError::PlaintextNotLoopback { .. }), "{err:?}");
        assert!(err.to_string().contains("email.smtp_server smtp.example.org"), "{err}");
        let allowed = EmailConfig { allow_plaintext: true, ..email("smtp.example.org", false, false) };
        assert!(SmtpSender::from_config(&allowed).is_ok());
        assert!(SmtpSender::from_config(&email("smtp.example.org", true, false)).is_ok());
        assert!(SmtpSender::from_config(&email("smtp.example.org", false, true)).is_ok());
        assert!(matches!(SmtpSender::from_config(&email("", true, false)), Err(NotifyError::NoSmtpServer)));
    }

    #[test]
    fn invalid_addresses_name_their_field() {
        let bad_from = EmailConfig { from_address: "not an address".into(), ..email("localhost", false, false) };
        let err = SmtpSender::from_config(&bad_from).unwrap_err();
        assert!(err.to_string().starts_with("email.from_address: \"not an address\""), "{err}");
        let no_from = EmailConfig { from_address: String::new(), ..email("localhost", false, false) };
        assert!(SmtpSender::from_config(&no_from).unwrap_err().to_string().starts_with("email.username"));
        let sender = SmtpSender::from_config(&email("localhost", false, false)).unwrap();
        let err = sender.message(&outbox(r#"{"text":"hi"}"#, "dba at example")).unwrap_err();
        assert!(err.to_string().starts_with("outbox message 42 recipient: \"dba at example\""), "{err}");
        let err = sender.message(&outbox("not json", "dba@example.org")).unwrap_err();
        assert!(matches!(err, NotifyError::Body { id: 42, .. }), "{err:?}");
    }

    #[test]
    fn every_message_carries_the_headers_and_both_parts() {
        let sender = SmtpSender::from_config(&email("localhost", false, false)).unwrap();
        let message =
            sender.message(&outbox(r#"{"text":"plain words","html":"<p>rich words</p>"}"#, "dba@example.org")).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        for header in [
            "From: Sentri <sentri@example.org>",
            "To: dba@example.org",
            "Subject: [SENTRI] COMPLETED: tablespace_full on PROD [WF:3f9c2a1b]",
            "Date: ",
            "Message-ID: <sentri.outbox-42.1795568523456@example.org>",
            "Auto-Submitted: auto-generated",
            "X-Sentri-Message: outbox-42; workflow=3f9c2a1b-0000",
            "multipart/alternative",
            "text/plain",
            "text/html",
        ] {
            assert!(text.contains(header), "{header} missing:\n{text}");
        }
        let plain = sender.message(&outbox(r#"{"text":"plain words"}"#, "dba@example.org")).unwrap();
        let plain = String::from_utf8(plain.formatted()).unwrap();
        assert!(!plain.contains("multipart"), "{plain}");
        assert!(plain.contains("plain words"));
    }

    #[test]
    fn debug_shows_no_password() {
        let sender = SmtpSender::from_config(&email("smtp.example.org", true, false)).unwrap();
        assert!(!format!("{sender:?}").contains("pw\""));
    }
}
