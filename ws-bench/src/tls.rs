//! TLS for the TLS columns (#15): a self-signed certificate made with rcgen at the start of
//! a run, the server side the peers use (`--tls-cert`/`--tls-key`) and the client side of
//! the load generator (trusting only that certificate). Everything is rustls on `ring`, as
//! in ws-core.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::ring::default_provider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::BenchError;

/// The ALPN protocol the load generator offers and the peers accept: WebSocket over
/// HTTP/1.1 upgrade (ws-cli also offers `h2`, which the load generator does not ask for).
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A certificate and key written as PEM files, and a client that trusts the certificate.
#[derive(Clone)]
pub struct TlsFiles {
    /// PEM certificate (self-signed, for `127.0.0.1` and `localhost`).
    pub cert: PathBuf,
    /// PEM private key of `cert` (PKCS#8).
    pub key: PathBuf,
    /// The load generator's side.
    pub client: TlsClient,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Makes a self-signed certificate for `127.0.0.1` and `localhost` with rcgen and
    /// writes `tls-cert.pem` and `tls-key.pem` into `dir` (the run's private temp dir).
    pub fn generate(dir: &Path) -> Result<Self, BenchError> {
        let made = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .map_err(|e| BenchError::Server(format!("rcgen: {e}")))?;
        let cert = dir.join("tls-cert.pem");
        let key = dir.join("tls-key.pem");
        std::fs::write(&cert, made.cert.pem())?;
        std::fs::write(&key, made.signing_key.serialize_pem())?;
        let client = TlsClient::trusting(made.cert.der().clone())?;
        Ok(TlsFiles { cert, key, client })
    }
}

/// The load generator's TLS client: trusts one certificate, offers ALPN `http/1.1`, and
/// never resumes a session, so every connection does a full handshake (the figure does
/// not depend on a ticket cache on either side).
#[derive(Clone)]
pub struct TlsClient(TlsConnector);

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    /// A client that trusts `cert` alone.
    pub fn trusting(cert: CertificateDer<'static>) -> Result<Self, BenchError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(cert)
            .map_err(|e| BenchError::Server(format!("TLS root: {e}")))?;
        let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| BenchError::Server(format!("TLS client: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        config.resumption = Resumption::disabled();
        Ok(TlsClient(TlsConnector::from(Arc::new(config))))
    }

    /// The TLS handshake over `tcp` to the server at `ip`; checks that ALPN chose
    /// `http/1.1` (a server that ignores ALPN is accepted too).
    pub async fn connect(
        &self,
        ip: std::net::IpAddr,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, BenchError> {
        let stream = self
            .0
            .connect(ServerName::IpAddress(ip.into()), tcp)
            .await?;
        match stream.get_ref().1.alpn_protocol() {
            None | Some(ALPN_HTTP1) => Ok(stream),
            Some(other) => Err(BenchError::Handshake(format!(
                "ALPN chose {:?}, expected http/1.1",
                String::from_utf8_lossy(other)
            ))),
        }
    }
}

/// The peers' TLS: a server config from PEM files on ring, ALPN `http/1.1` only.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_client_trusts_the_generated_certificate() {
        let dir = crate::config::make_temp_dir().expect("temp dir");
        let files = TlsFiles::generate(&dir).expect("generate");
        let acc = acceptor(&files.cert, &files.key).expect("acceptor");
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let server = tokio::spawn(tokio::time::timeout(
            std::time::Duration::from_secs(10),
            async move {
                let (s, _) = l.accept().await.expect("accept");
                let mut s = acc.accept(s).await.expect("server handshake");
                let mut b = [0u8; 4];
                s.read_exact(&mut b).await.expect("read");
                s.write_all(&b).await.expect("write");
                s.flush().await.expect("flush");
            },
        ));
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut c = files
            .client
            .connect(addr.ip(), tcp)
            .await
            .expect("client handshake");
        assert_eq!(c.get_ref().1.alpn_protocol(), Some(ALPN_HTTP1));
        c.write_all(b"ping").await.expect("write");
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.expect("read");
        assert_eq!(&b, b"ping");
        server.await.expect("join").expect("in time");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
