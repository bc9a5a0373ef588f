//! TLS on the API itself, so a LAN bind needs no proxy in front: a certificate
//! chain and its private key in PEM files, read at start and again on SIGHUP (a
//! renewed certificate is picked up without a restart; a reload that fails keeps
//! the certificate in use and says why).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use edgeclip_io::Limit;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The largest certificate chain or key file read: real chains are a few KiB.
const PEM_LIMIT: Limit = Limit::new("a TLS certificate or key file", 1 << 20);

/// Where the server's certificate chain and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Accepts TLS connections with the certificate loaded last.
#[derive(Clone)]
pub struct TlsAcceptor {
    files: Arc<TlsFiles>,
    current: Arc<RwLock<tokio_rustls::TlsAcceptor>>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads `files`; the error names the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Self, String> {
        let acceptor = acceptor(&files)?;
        Ok(Self {
            files: Arc::new(files),
            current: Arc::new(RwLock::new(acceptor)),
        })
    }

    /// Reads the files again; on an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The acceptor for the next connection.
    pub fn current(&self) -> tokio_rustls::TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    let certs = read_pem(&files.cert)?;
    let certs = CertificateDer::pem_slice_iter(&certs)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in the file",
            files.cert.display()
        ));
    }
    let key = read_pem(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| format!("{}: not a PEM private key: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} and {}: the key does not fit the certificate, or either is unusable: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    edgeclip_io::read_limited(path, PEM_LIMIT).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.key_pair.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn a_certificate_and_its_key_load_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "localhost");
        let acceptor = TlsAcceptor::load(files.clone()).unwrap();
        std::fs::write(&files.key, "not a key").unwrap();
        let e = acceptor.reload().unwrap_err();
        assert!(
            e.contains("localhost.key") && e.contains("not a PEM private key"),
            "{e}"
        );
        // The certificate in use stays after a failed reload.
        let _still = acceptor.current();
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a");
        let b = write_pair(dir.path(), "b");
        let e = TlsAcceptor::load(TlsFiles {
            cert: a.cert,
            key: b.key,
        })
        .unwrap_err();
        assert!(e.contains("a.crt") && e.contains("b.key"), "{e}");
    }

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("none.crt"),
            key: dir.path().join("none.key"),
        };
        assert!(TlsAcceptor::load(files.clone())
            .unwrap_err()
            .contains("none.crt"));
        std::fs::write(&files.cert, "").unwrap();
        let e = TlsAcceptor::load(files).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }
}
