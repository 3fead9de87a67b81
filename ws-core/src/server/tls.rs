//! TLS of one server: the rustls config that `tls_cert`, `tls_key`, `tls_sni_certs` and
//! `tls_client_ca` make (read at start and again by every reload, which swaps it for new
//! connections), the certificate a handshake gets by the name it asks for (SNI), the
//! handshake, and what a finished handshake tells the service (HTTP/2 or not, the client's
//! certificate).
//!
//! The crypto provider is `ring` (README, "TLS": it builds in a fraction of `aws-lc-rs`'s time
//! and needs no C toolchain beyond `cc`).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig as TlsConfig};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::client_cert::ClientCert;
use crate::config::{CertFiles, Config, ConfigError, ServerConfig};

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
            if !settings.tls_sni_certs.is_empty() {
                return Err(vec![invalid(
                    "tls_sni_certs",
                    "tls_sni_certs",
                    "these certificates serve the clients that ask for their names; set \
                     `tls_cert` and `tls_key` too, for the clients that ask for no name or \
                     another"
                        .to_owned(),
                )]);
            }
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
    let mut by_name = Vec::new();
    for files in &settings.tls_sni_certs {
        match certified_files(files) {
            Ok(certified) => by_name.push((files, certified)),
            Err(reason) => errors.push(invalid("tls_sni_certs", "tls_sni_certs", reason)),
        }
    }
    let (Some(certs), Some(key), true) = (certs, key, errors.is_empty()) else {
        return Err(errors);
    };
    let default = certified(certs, key, cert_path, key_path).map_err(|(in_key, reason)| {
        let key = if in_key { "tls_key" } else { "tls_cert" };
        vec![invalid(key, key, reason)]
    })?;
    let resolver = Resolver::new(default, by_name)
        .map_err(|reason| vec![invalid("tls_sni_certs", "tls_sni_certs", reason)])?;

    let builder = TlsConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| vec![invalid("tls_cert", "tls_cert", e.to_string())])?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder.with_cert_resolver(Arc::new(resolver));
    tls.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Some(Arc::new(tls)))
}

/// The chain `certs` of `cert_path` with the key of `key_path`, checked to belong together;
/// the error says whether it is the key's fault (`true`) or the certificate's, and why.
fn certified(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, (bool, String)> {
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => (
            true,
            format!(
                "{}: this key does not belong to the certificate in {}",
                key_path.display(),
                cert_path.display()
            ),
        ),
        rustls::Error::InvalidCertificate(e) => (
            false,
            format!(
                "{}: the first certificate is not valid X.509: {e}",
                cert_path.display()
            ),
        ),
        e => (
            true,
            format!("{}: cannot use this key: {e}", key_path.display()),
        ),
    })
}

/// One item of `tls_sni_certs`, its files read now.
fn certified_files(files: &CertFiles) -> Result<CertifiedKey, String> {
    let certs = read_certs(&files.cert)?;
    let key = read_key(&files.key)?;
    certified(certs, key, &files.cert, &files.key).map_err(|(_, reason)| reason)
}

/// Picks the certificate of a TLS handshake: the one of `tls_sni_certs` that has the name the
/// client asked for (exactly, or by a wildcard one label up), else `tls_cert`'s.
///
/// rustls' `ResolvesServerCertUsingSni` matches exact names only and has no default, hence this.
#[derive(Debug)]
struct Resolver {
    default: Arc<CertifiedKey>,
    /// Lowercase DNS names, and for `*.example.com` the key `*.example.com` as well.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Resolver {
    /// `default` for every name `by_name` does not have; an error names a DNS name that two
    /// certificates claim, or a certificate that has none.
    fn new(default: CertifiedKey, certs: Vec<(&CertFiles, CertifiedKey)>) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        let mut owner: HashMap<String, &Path> = HashMap::new();
        for (files, certified) in certs {
            let names = certified
                .end_entity_cert()
                .map(|der| dns_names(der))
                .unwrap_or_default();
            if names.is_empty() {
                return Err(format!(
                    "{}: the certificate has no DNS name among its subject alternative names, \
                     so no client could ask for it",
                    files.cert.display()
                ));
            }
            let certified = Arc::new(certified);
            for name in names {
                if let Some(first) = owner.get(&name) {
                    if *first != files.cert.as_path() {
                        return Err(format!(
                            "{name} is a name of both {} and {}: which one a client asking \
                             for it gets would be a guess",
                            first.display(),
                            files.cert.display()
                        ));
                    }
                    continue;
                }
                owner.insert(name.clone(), &files.cert);
                by_name.insert(name, certified.clone());
            }
        }
        Ok(Self {
            default: Arc::new(default),
            by_name,
        })
    }

    /// The certificate for a client that asked for `name`.
    fn lookup(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = name.trim_end_matches('.');
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            &lower
        } else {
            name
        };
        self.by_name.get(name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.by_name.get(&format!("*.{parent}"))
        })
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let picked = match hello.server_name() {
            Some(name) if !self.by_name.is_empty() => self.lookup(name),
            _ => None,
        };
        Some(picked.unwrap_or(&self.default).clone())
    }
}

/// The DNS names among the subject alternative names of `cert`, lowercase.
fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_cert::der::oid::AssociatedOid;
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;

    let Ok(cert) = x509_cert::Certificate::from_der(cert) else {
        return Vec::new();
    };
    let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
    extensions
        .iter()
        .filter(|ext| ext.extn_id == SubjectAltName::OID)
        .filter_map(|ext| SubjectAltName::from_der(ext.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(dns.as_str().to_ascii_lowercase()),
            _ => None,
        })
        .collect()
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
