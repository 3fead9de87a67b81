//! TLS for the end-to-end tests: certificates made with rcgen (certificate authorities, server
//! and client certificates), PEM files in a private temporary directory, and rustls clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::within;

/// A certificate authority that signs server and client certificates.
pub struct Ca {
    name: String,
    params: CertificateParams,
    key: KeyPair,
    /// The CA's own (self-signed) certificate, PEM.
    pub cert_pem: String,
    /// The same, DER.
    pub cert_der: CertificateDer<'static>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("name", &self.name).finish()
    }
}

/// A certificate signed by a [`Ca`] and its private key.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Leaf {
    /// The private key, DER, for rustls.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

impl Ca {
    /// A new CA whose subject is `CN=<name>,O=ws-tests`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "ws-tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            name: name.to_owned(),
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            params,
            key,
        }
    }

    /// The CA of every test in this process that does not need a CA of its own (the one
    /// [`start_demo_over`](crate::start_demo_over) and [`tls_connect`] use).
    pub fn shared() -> &'static Ca {
        static SHARED: OnceLock<Ca> = OnceLock::new();
        SHARED.get_or_init(|| Ca::new("ws-tests shared CA"))
    }

    fn sign(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1 (`CN=localhost`).
    pub fn server_cert(&self) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }

    /// A server certificate for the DNS names `names` (its subject alternative names; the
    /// first is also its `CN`), e.g. `["chat.test", "*.games.test"]`.
    pub fn server_cert_for(&self, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }

    /// A client certificate with subject `CN=<cn>,O=Example`.
    pub fn client_cert(&self, cn: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }
}

/// A fresh private directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// `ws-tests-<pid>-<n>-<name>`, created empty.
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ws-tests-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server's certificate and key as PEM files (`cert.pem`, `key.pem`, and `client-ca.pem`
/// once [`write_client_ca`](Self::write_client_ca) is called) in a private temporary
/// directory, removed on drop.
#[derive(Debug)]
pub struct TlsFiles {
    dir: TempDir,
    /// `cert.pem`: the server certificate.
    pub cert: PathBuf,
    /// `key.pem`: its private key.
    pub key: PathBuf,
    /// `client-ca.pem`: the CA bundle for client certificates.
    pub client_ca: PathBuf,
}

impl TlsFiles {
    /// Writes `leaf` (cert and key) into a new directory named after `name`.
    pub fn new(name: &str, leaf: &Leaf) -> Self {
        let dir = TempDir::new(name);
        let files = Self {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: dir.path().join("client-ca.pem"),
            dir,
        };
        files.write(leaf);
        files
    }

    /// A server certificate of the [shared](Ca::shared) CA, written into a new directory.
    pub fn shared(name: &str) -> Self {
        Self::new(name, &Ca::shared().server_cert())
    }

    /// Overwrites the certificate and key files with `leaf`'s.
    pub fn write(&self, leaf: &Leaf) {
        std::fs::write(&self.cert, &leaf.cert_pem).unwrap();
        std::fs::write(&self.key, &leaf.key_pem).unwrap();
    }

    /// Writes `ca`'s certificate as the client CA bundle.
    pub fn write_client_ca(&self, ca: &Ca) {
        std::fs::write(&self.client_ca, &ca.cert_pem).unwrap();
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the directory (for extra files a test writes).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `tls_cert = "..."` and `tls_key = "..."` lines, for a `[servers.NAME]` table.
    pub fn toml_keys(&self) -> String {
        format!(
            "tls_cert = {}\ntls_key = {}\n",
            toml_str(&self.cert),
            toml_str(&self.key)
        )
    }

    /// `[servers.<server>]` with [`toml_keys`](Self::toml_keys).
    pub fn toml(&self, server: &str) -> String {
        format!("[servers.{server}]\n{}", self.toml_keys())
    }

    /// [`toml`](Self::toml) plus `tls_client_ca`.
    pub fn toml_with_client_ca(&self, server: &str) -> String {
        format!(
            "{}tls_client_ca = {}\n",
            self.toml(server),
            toml_str(&self.client_ca)
        )
    }
}

/// A path as a TOML basic string.
pub fn toml_str(path: &Path) -> String {
    let s = path.to_str().expect("temporary paths are UTF-8");
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rustls crypto provider of the workspace (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config that trusts `roots` only, offers `alpn` (e.g. `[b"h2", b"http/1.1"]`) and
/// presents `client` as its certificate when given.
pub fn client_config(roots: &[&Ca], client: Option<&Leaf>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for ca in roots {
        store.add(ca.cert_der.clone()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store);
    let mut config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(vec![leaf.cert_der.clone()], leaf.key_der())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Connects to `addr` and runs the TLS handshake for `localhost` with `config`; the
/// handshake's error when it fails (bounded by [`TIMEOUT`](crate::TIMEOUT)).
pub async fn try_tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = within("connect", TcpStream::connect(addr)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    within(
        "TLS handshake",
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
}

/// Connects to `addr` and runs the TLS handshake asking for `name` (the SNI extension carries
/// it when it is a DNS name; an IP address sends none) with `config`.
pub async fn try_tls_connect_as(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = within("connect", TcpStream::connect(addr)).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    within(
        "TLS handshake",
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
}

/// A client config that accepts any server certificate (for tests that look at which
/// certificate a server presents, whatever its names), offering HTTP/1.1.
pub fn any_cert_client_config() -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A server certificate verifier that accepts every certificate (signatures still checked).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Connects with TLS, trusting the [shared](Ca::shared) CA and offering `alpn`; panics
/// unless the handshake succeeds.
pub async fn tls_connect(addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    tls_connect_with(addr, client_config(&[Ca::shared()], None, alpn)).await
}

/// [`try_tls_connect`] that panics when the handshake fails.
pub async fn tls_connect_with(addr: SocketAddr, config: Arc<ClientConfig>) -> TlsStream<TcpStream> {
    try_tls_connect(addr, config)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with {addr} failed: {e}"))
}

/// The protocol ALPN chose on `stream` (`None` when the server chose none).
pub fn alpn_of(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// The certificate the server presented on `stream` (its leaf), DER.
pub fn peer_cert(stream: &TlsStream<TcpStream>) -> Option<CertificateDer<'static>> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
}
