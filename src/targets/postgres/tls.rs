//! TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert` meanings, made stricter in one
//! place: Sentri never falls back to plain text on its own.
//!
//! | sslmode              | loopback / socket | remote host                                |
//! |----------------------|-------------------|--------------------------------------------|
//! | `disable`            | plain             | plain (the DBA said so)                     |
//! | absent, `allow`, `prefer` | plain        | TLS, as `require` (libpq would fall back to plain) |
//! | `require`            | TLS, certificate not verified — unless `sslrootcert` is given, then as `verify-ca` (libpq) |
//! | `verify-ca`          | TLS, the chain verified against `sslrootcert` (or the public roots), any host name |
//! | `verify-full`        | TLS, the chain and the host name verified   |
//!
//! `sslrootcert=system` means the public roots. tokio-postgres knows neither `verify-*` nor
//! `sslrootcert`, so both are taken out of the connection string before it parses the rest.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::CaFileError;

/// How a connection is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// No TLS.
    Plain,
    /// TLS with this much verification.
    Tls { verify: Verify, root_cert: Option<PathBuf> },
}

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing (libpq `require` without a root certificate): encrypted, not authenticated.
    Nothing,
    /// The chain, not the host name (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The connection string without the TLS keys tokio-postgres cannot read, and what they asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRequest {
    pub connection: String,
    /// The `sslmode`, lower-cased, if one was written (the last one counts, as in libpq).
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

static URL_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([?&])(sslmode|sslrootcert)=([^&]*)").unwrap_or_else(|_| unreachable!("a valid pattern"))
});
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|\s)(sslmode|sslrootcert)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
        .unwrap_or_else(|_| unreachable!("a valid pattern"))
});

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL or a libpq `key=value` string.
pub fn take_tls_keys(connection: &str) -> TlsRequest {
    let mut sslmode = None;
    let mut sslrootcert = None;
    let mut record = |key: &str, value: String| {
        if key.eq_ignore_ascii_case("sslmode") {
            sslmode = Some(value.to_ascii_lowercase());
        } else {
            sslrootcert = Some(value);
        }
    };
    let is_url = {
        let lower = connection.trim_start().to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    };
    let rest = if is_url {
        for captures in URL_PARAM.captures_iter(connection) {
            let value = percent_encoding::percent_decode_str(&captures[3]).decode_utf8_lossy().into_owned();
            record(&captures[2], value);
        }
        let stripped = URL_PARAM.replace_all(connection, "$1").into_owned();
        // `?&x=1`, `?` or a trailing `&` left behind are tidied away.
        let tidy = stripped.replace("?&", "?").replace("&&", "&");
        tidy.trim_end_matches(['&', '?']).to_owned()
    } else {
        for captures in KEY_VALUE.captures_iter(connection) {
            let raw = &captures[2];
            let value = raw.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(raw).replace("\\'", "'");
            record(&captures[1], value);
        }
        KEY_VALUE.replace_all(connection, "").trim().to_owned()
    };
    TlsRequest { connection: rest, sslmode, sslrootcert }
}

/// The protection a request asks for, given whether every host is local. `Err` names the
/// `sslmode` that is not one of libpq's.
pub fn protection(request: &TlsRequest, all_local: bool) -> Result<Protection, String> {
    let root_cert = match request.sslrootcert.as_deref().map(str::trim) {
        None | Some("") | Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
    };
    let has_roots = request.sslrootcert.as_deref().is_some_and(|r| !r.trim().is_empty());
    let tls = |verify| Ok(Protection::Tls { verify, root_cert: root_cert.clone() });
    match request.sslmode.as_deref() {
        Some("disable") => Ok(Protection::Plain),
        None | Some("allow" | "prefer") if all_local => Ok(Protection::Plain),
        None | Some("allow" | "prefer" | "require") => tls(if has_roots { Verify::Chain } else { Verify::Nothing }),
        Some("verify-ca") => tls(Verify::Chain),
        Some("verify-full") => tls(Verify::Full),
        Some(other) => Err(other.to_owned()),
    }
}

/// A connector for `protection` (one that is never used when it is [`Protection::Plain`]).
pub fn connector(protection: &Protection) -> Result<MakeRustlsConnect, CaFileError> {
    crate::tls::install_crypto_provider();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (verify, root_cert) = match protection {
        Protection::Plain => (Verify::Full, None),
        Protection::Tls { verify, root_cert } => (*verify, root_cert.as_deref()),
    };
    let config = match verify {
        Verify::Full => (*crate::tls::client_config_only(root_cert)?).clone(),
        Verify::Chain => {
            let roots = crate::tls::root_store_only(root_cert)?;
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|error| CaFileError::Unusable { detail: error.to_string() })?;
            dangerous_config(Arc::new(AnyHostName { inner }), &provider)?
        }
        Verify::Nothing => dangerous_config(Arc::new(Unverified { provider: Arc::clone(&provider) }), &provider)?,
    };
    Ok(MakeRustlsConnect::new(config))
}

fn dangerous_config(
    verifier: Arc<dyn ServerCertVerifier>,
    provider: &Arc<CryptoProvider>,
) -> Result<ClientConfig, CaFileError> {
    Ok(ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| CaFileError::Unusable { detail: error.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate may be any.
#[derive(Debug)]
struct AnyHostName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// libpq's `require` without a root certificate: the server's certificate is not checked (the
/// handshake's signatures still are). Encryption against eavesdropping, not impersonation.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(connection: &str) -> TlsRequest {
        take_tls_keys(connection)
    }

    #[test]
    fn tls_keys_are_taken_out_of_both_forms() {
        let url =
            request("postgres://db01:5432/app?application_name=x&sslmode=Verify-Full&sslrootcert=%2Fetc%2Fca.pem");
        assert_eq!(url.connection, "postgres://db01:5432/app?application_name=x");
        assert_eq!(url.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(url.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let first = request("postgresql://db01/app?sslmode=require&connect_timeout=5");
        assert_eq!(first.connection, "postgresql://db01/app?connect_timeout=5");
        let only = request("postgres://db01/app?sslmode=disable");
        assert_eq!(only.connection, "postgres://db01/app");

        let kv = request("host=db01 sslmode = verify-ca dbname=app sslrootcert='/etc/my ca.pem'");
        assert_eq!(kv.connection, "host=db01 dbname=app");
        assert_eq!(kv.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(kv.sslrootcert.as_deref(), Some("/etc/my ca.pem"));
        let last = request("host=h sslmode=disable sslmode=require");
        assert_eq!(last.sslmode.as_deref(), Some("require"), "the last one counts");
        assert_eq!(request("host=h dbname=x").sslmode, None);
    }

    #[test]
    fn protection_follows_libpq_and_never_falls_back_to_plain_text_remotely() {
        let tls = |verify, root: Option<&str>| Protection::Tls { verify, root_cert: root.map(PathBuf::from) };
        let p = |connection: &str, local| protection(&request(connection), local);
        assert_eq!(p("host=h", true), Ok(Protection::Plain));
        assert_eq!(p("host=h sslmode=prefer", true), Ok(Protection::Plain));
        assert_eq!(p("host=h", false), Ok(tls(Verify::Nothing, None)), "remote: TLS, never plain");
        assert_eq!(p("host=h sslmode=disable", false), Ok(Protection::Plain));
        assert_eq!(p("host=h sslmode=require", true), Ok(tls(Verify::Nothing, None)));
        assert_eq!(p("host=h sslmode=require sslrootcert=/ca.pem", false), Ok(tls(Verify::Chain, Some("/ca.pem"))));
        assert_eq!(p("host=h sslmode=verify-ca", false), Ok(tls(Verify::Chain, None)));
        assert_eq!(p("host=h sslmode=verify-full sslrootcert=system", false), Ok(tls(Verify::Full, None)));
        assert_eq!(p("host=h sslmode=always", false), Err("always".to_owned()));
    }

    #[test]
    fn every_protection_builds_a_connector() {
        for verify in [Verify::Nothing, Verify::Chain, Verify::Full] {
            assert!(connector(&Protection::Tls { verify, root_cert: None }).is_ok(), "{verify:?}");
        }
        let missing = Protection::Tls { verify: Verify::Full, root_cert: Some(PathBuf::from("/nonexistent/ca.pem")) };
        let error = connector(&missing).map(|_| ()).expect_err("a missing root certificate");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }
}
