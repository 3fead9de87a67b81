//! [`ClientCert`]: the certificate a client proved it holds, on servers that ask for one.

use std::fmt;
use std::sync::Arc;

/// The certificate a client presented in the TLS handshake, verified against the server's
/// `tls_client_ca`. In the extensions of every request and WebSocket connection that came over
/// such a handshake: [`Conn::client_cert`](crate::Conn::client_cert),
/// [`RequestHead::client_cert`](crate::RequestHead::client_cert).
///
/// ```
/// use ws_core::{Conn, Controller, HookResult, Message};
///
/// struct Whoami;
///
/// impl Controller for Whoami {
///     async fn on_message(&self, cx: &mut Conn, _msg: Message) -> HookResult {
///         let who = cx.client_cert().map_or("anonymous", |c| c.subject());
///         cx.send(format!("you are {who}")).await?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq)]
struct Inner {
    subject: String,
    der: Vec<u8>,
}

impl ClientCert {
    /// The certificate's subject as RFC 4514 text, e.g. `CN=alice,O=Example`; empty if the
    /// certificate names none.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The whole certificate, DER-encoded, for checks of your own (extensions, fingerprints).
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The end-entity certificate of a verified chain. `None` if it does not parse as X.509
    /// (rustls has verified it, so this does not happen in practice).
    pub(crate) fn from_der(der: &[u8]) -> Option<Self> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        Some(Self {
            inner: Arc::new(Inner {
                subject: cert.tbs_certificate.subject.to_string(),
                der: der.to_vec(),
            }),
        })
    }
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("subject", &self.inner.subject)
            .field("der_len", &self.inner.der.len())
            .finish()
    }
}
