//! Connecting to an access request's callback endpoint (the AuthZEN Access Request profile):
//! the URL is checked again against the deployment's [`CallbackRules`], the host resolved, every
//! address checked, and the connection made to those very addresses, so a name that now
//! resolves to an internal address (DNS rebinding since the submission) is refused rather than
//! posted to. https endpoints are verified against the system's CA certificates.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::domain::{CallbackRules, CallbackTarget};

/// Connects to callback endpoints.
pub(super) struct CallbackConnector {
    rules: CallbackRules,
    /// `None` when the system has no CA certificates (https callbacks then fail, saying so).
    tls: Option<TlsConnector>,
}

/// An open connection to a callback endpoint, ready for one post.
pub(super) struct CallbackConnection {
    /// The request sender.
    pub(super) sender: SendRequest<Full<Bytes>>,
    /// The path and query to post to.
    pub(super) path_and_query: String,
    /// The `Host` header.
    pub(super) host: String,
}

impl CallbackConnector {
    /// A connector holding callbacks to `rules`.
    pub(super) fn new(rules: CallbackRules) -> Self {
        let mut roots = RootCertStore::empty();
        for certificate in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(certificate);
        }
        let tls = (!roots.is_empty()).then(|| {
            TlsConnector::from(Arc::new(
                ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ))
        });
        CallbackConnector { rules, tls }
    }

    /// A connection to `url`, when the rules allow it now.
    pub(super) async fn connect(&self, url: &str) -> Result<CallbackConnection, String> {
        let target = self.rules.target(url)?;
        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|_| "the callback host does not resolve".to_owned())?
                .collect();
        self.rules.check_addresses(&target, &addresses)?;
        let tcp = tokio::net::TcpStream::connect(addresses.as_slice())
            .await
            .map_err(|error| format!("connecting: {error}"))?;
        let _ = tcp.set_nodelay(true);
        let sender = if target.https {
            let tls = self.tls.as_ref().ok_or_else(|| {
                "no system CA certificates: https callbacks cannot be verified".to_owned()
            })?;
            let name = ServerName::try_from(target.host.clone())
                .map_err(|error| format!("the callback host: {error}"))?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|error| format!("tls: {error}"))?;
            handshake(TokioIo::new(stream)).await?
        } else {
            handshake(TokioIo::new(tcp)).await?
        };
        Ok(CallbackConnection {
            sender,
            host: host_header(&target),
            path_and_query: target.path_and_query,
        })
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("http: {error}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// The `Host` header for `target`: the port only when it is not the scheme's default.
fn host_header(target: &CallbackTarget) -> String {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let default_port = if target.https { 443 } else { 80 };
    if target.port == default_port {
        host
    } else {
        format!("{host}:{}", target.port)
    }
}
