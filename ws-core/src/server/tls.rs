//! TLS of one server: the rustls config that `tls_cert`, `tls_key` and `tls_client_ca` make
//! (read at start and again by every reload, which swaps it for new connections), the
//! handshake, and what a finished handshake tells the service (HTTP/2 or not, the client's
//! certificate).
//!
//! The crypto provider is `ring` (README, "TLS": it builds in a fraction of `aws-lc-rs`'s time
//! and needs no C toolchain beyond `cc`).

use std::io;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig as TlsConfig};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::client_cert::ClientCert;
use crate::config::{Config, ConfigError, ServerConfig};

/// The ALPN protocols offered, best first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The TLS config that new connections of one server get (`None`: plain TCP); replaced by a
/// reload, while open connections keep the one they were accepted with.
#[derive(Default)]
pub(crate) struct LiveTls(RwLock<Option<Arc<TlsConfig>>>);

impl LiveTls {
    pub(crate) fn current(&self) -> Option<Arc<TlsConfig>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, config: Option<Arc<TlsConfig>>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = config;
    }
}

impl std::fmt::Debug for LiveTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.current().is_some() {
            "LiveTls(on)"
        } else {
            "LiveTls(off)"
        })
    }
}

/// The TLS config of server `name` as `settings` describe it, its files read now; `None` when
/// the server has neither `tls_cert` nor `tls_key`. Every problem names its key and file.
pub(crate) fn load(
    name: &str,
    settings: &ServerConfig,
    config: &Config,
) -> Result<Option<Arc<TlsConfig>>, Vec<ConfigError>> {
    let key_name = |key: &str| format!("servers.{name}.{key}");
    let invalid = |key: &str, source_key: &str, reason: String| ConfigError::Invalid {
        key: key_name(key),
        source_name: config.source_of(&key_name(source_key)),
        reason,
    };
    let (cert_path, key_path) = match (&settings.tls_cert, &settings.tls_key) {
        (None, None) => {
            return match &settings.tls_client_ca {
                None => Ok(None),
                Some(_) => Err(vec![invalid(
                    "tls_client_ca",
                    "tls_client_ca",
                    "client certificates are asked for in a TLS handshake: set `tls_cert` and \
                     `tls_key` too, or remove `tls_client_ca`"
                        .to_owned(),
                )]),
            };
        }
        (Some(cert), None) => {
            return Err(vec![invalid(
                "tls_key",
                "tls_cert",
                format!(
                    "missing: `tls_cert` is set ({}) but `tls_key` is not; TLS needs both \
                     (or neither, for plain TCP)",
                    cert.display()
                ),
            )]);
        }
        (None, Some(key)) => {
            return Err(vec![invalid(
                "tls_cert",
                "tls_key",
                format!(
                    "missing: `tls_key` is set ({}) but `tls_cert` is not; TLS needs both \
                     (or neither, for plain TCP)",
                    key.display()
                ),
            )]);
        }
        (Some(cert), Some(key)) => (cert, key),
    };

    let mut errors = Vec::new();
    let certs = read_certs(cert_path)
        .map_err(|reason| errors.push(invalid("tls_cert", "tls_cert", reason)))
        .ok();
    let key = read_key(key_path)
        .map_err(|reason| errors.push(invalid("tls_key", "tls_key", reason)))
        .ok();
    let verifier = settings.tls_client_ca.as_ref().and_then(|ca| {
        client_verifier(ca)
            .map_err(|reason| errors.push(invalid("tls_client_ca", "tls_client_ca", reason)))
            .ok()
    });
    let (Some(certs), Some(key), true) = (certs, key, errors.is_empty()) else {
        return Err(errors);
    };

    let builder = TlsConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| vec![invalid("tls_cert", "tls_cert", e.to_string())])?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder.with_single_cert(certs, key).map_err(|e| {
        vec![match e {
            rustls::Error::InconsistentKeys(_) => invalid(
                "tls_key",
                "tls_key",
                format!(
                    "{}: this key does not belong to the certificate in {}",
                    key_path.display(),
                    cert_path.display()
                ),
            ),
            rustls::Error::InvalidCertificate(e) => invalid(
                "tls_cert",
                "tls_cert",
                format!(
                    "{}: the first certificate is not valid X.509: {e}",
                    cert_path.display()
                ),
            ),
            e => invalid(
                "tls_key",
                "tls_key",
                format!("{}: cannot use this key: {e}", key_path.display()),
            ),
        }]
    })?;
    tls.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Some(Arc::new(tls)))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, what: &str, e: pem::Error) -> String {
    match e {
        pem::Error::Io(e) => format!("cannot read {}: {e}", path.display()),
        pem::Error::NoItemsFound => format!(
            "{}: no {what} in it; give a PEM file (`-----BEGIN ...-----`)",
            path.display()
        ),
        e => format!("{}: not a valid PEM file: {e}", path.display()),
    }
}

/// Every certificate of a PEM file, in order (at least one).
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, "certificate", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, "certificate", e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "certificate", pem::Error::NoItemsFound));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, "private key", e))
}

fn client_verifier(
    path: &Path,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A TLS connection after its handshake.
pub(crate) type Stream = TlsStream<TcpStream>;

/// The server side of the TLS handshake on `stream`.
pub(crate) async fn accept(config: Arc<TlsConfig>, stream: TcpStream) -> io::Result<Stream> {
    TlsAcceptor::from(config).accept(stream).await
}

/// Whether ALPN chose HTTP/2.
pub(crate) fn is_h2(stream: &Stream) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(ALPN[0])
}

/// The client's verified certificate, if it sent one (only servers with `tls_client_ca` ask).
pub(crate) fn client_cert(stream: &Stream) -> Option<ClientCert> {
    let end_entity = stream.get_ref().1.peer_certificates()?.first()?;
    ClientCert::from_der(end_entity)
}
