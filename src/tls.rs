//! The one TLS stack: rustls with aws-lc-rs, trusting the public web roots plus, when
//! `email.ca_file` names one, a team's own CA — mail servers inside a company are often signed
//! by an in-house CA that no public root store knows.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Why a CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read CA certificates from {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: certificate {index} is not a usable CA certificate: {source}", path.display())]
    Invalid {
        path: PathBuf,
        index: usize,
        #[source]
        source: rustls::Error,
    },
    #[error("the TLS configuration cannot be built: {detail}")]
    Unusable { detail: String },
}

/// Installs rustls' aws-lc-rs provider as the process default, once. A second call (or a provider
/// installed elsewhere first) is harmless.
pub fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err means a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Every certificate in a PEM file; at least one.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| CaFileError::Read { path: path.to_path_buf(), source })?;
    if certificates.is_empty() {
        return Err(CaFileError::Empty { path: path.to_path_buf() });
    }
    Ok(certificates)
}

/// The public web roots plus the certificates of `ca_file`, if given.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, CaFileError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        add_file(&mut roots, path)?;
    }
    Ok(roots)
}

/// Only the certificates of `root_file` when one is given (libpq's `sslrootcert`: that file is
/// the whole trust), else the public roots.
pub fn root_store_only(root_file: Option<&Path>) -> Result<RootCertStore, CaFileError> {
    let Some(path) = root_file else { return root_store(None) };
    let mut roots = RootCertStore::empty();
    add_file(&mut roots, path)?;
    Ok(roots)
}

/// A client configuration that verifies servers against [`root_store_only`].
pub fn client_config_only(root_file: Option<&Path>) -> Result<Arc<ClientConfig>, CaFileError> {
    install_crypto_provider();
    let roots = root_store_only(root_file)?;
    Ok(Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()))
}

fn add_file(roots: &mut RootCertStore, path: &Path) -> Result<(), CaFileError> {
    for (index, certificate) in read_ca_file(path)?.into_iter().enumerate() {
        roots.add(certificate).map_err(|source| CaFileError::Invalid {
            path: path.to_path_buf(),
            index: index + 1,
            source,
        })?;
    }
    Ok(())
}

/// A client configuration that verifies servers against [`root_store`].
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, CaFileError> {
    install_crypto_provider();
    let roots = root_store(ca_file)?;
    Ok(Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let error = read_ca_file(&missing).expect_err("missing");
        assert!(error.to_string().contains("missing.pem"), "{error}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        assert!(matches!(read_ca_file(&empty), Err(CaFileError::Empty { .. })));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
        let error = root_store(Some(&garbage)).map(|_| ()).expect_err("garbage");
        assert!(error.to_string().contains("garbage.pem"), "{error}");
    }

    #[test]
    fn the_public_roots_are_always_there() {
        let roots = root_store(None).expect("roots");
        assert!(roots.len() > 100, "{} roots", roots.len());
    }
}
