//! Transport security: TLS on the gRPC, admin and PEP-facing HTTP ports (rustls, ring), an optional client
//! certificate by which a policy enforcement point may be known instead of a bearer token, and
//! certificates re-read from their files while the server runs (a rotated Kubernetes secret
//! takes effect without a restart; connections already open keep the certificate they began
//! with).
//!
//! A client certificate is only ever an identity when it chains to the configured client CA
//! (rustls checks that during the handshake) and is valid for one of the configured PEP names;
//! it then carries exactly the PEP role. Callers without a certificate still present bearer
//! tokens, and a bearer token, when sent, is what counts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::domain::{Identity, Subject};

/// How long a client may take over its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings. Without `cert_file` every port speaks plaintext (for a service mesh or a
/// loopback sidecar that terminates TLS).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to; unset means client
    /// certificates are neither asked for nor used.
    pub client_ca_file: Option<PathBuf>,
    /// DNS names (subject alternative names) of client certificates that identify policy
    /// enforcement points: such a client may call Check without a bearer token.
    pub pep_client_names: Vec<String>,
    /// How often the files are re-read, in seconds.
    pub reload_interval_seconds: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            pep_client_names: Vec::new(),
            reload_interval_seconds: 30,
        }
    }
}

/// The files' contents as last read: the configuration in force is built from exactly these
/// bytes, and a reload compares them to tell whether anything changed.
#[derive(PartialEq, Eq)]
struct TlsFiles {
    chain: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// The TLS server configurations in force, for the gRPC port (ALPN `h2`), the admin port
/// (`http/1.1`) and the PEP-facing HTTP port (both), swapped whole when the files change.
pub struct ServerTls {
    config: TlsConfig,
    grpc: ArcSwap<ServerConfig>,
    admin: ArcSwap<ServerConfig>,
    http: ArcSwap<ServerConfig>,
    loaded: Mutex<TlsFiles>,
}

impl ServerTls {
    /// Reads the files `config` names; `None` when TLS is not configured.
    pub fn load(config: &TlsConfig) -> Result<Option<Arc<ServerTls>>, String> {
        match (&config.cert_file, &config.key_file) {
            (None, None) => {
                if config.client_ca_file.is_some() || !config.pep_client_names.is_empty() {
                    return Err(
                        "tls.client_ca_file and tls.pep_client_names need tls.cert_file and tls.key_file"
                            .into(),
                    );
                }
                return Ok(None);
            }
            (Some(_), Some(_)) => {}
            _ => return Err("tls.cert_file and tls.key_file go together: set both".into()),
        }
        if !config.pep_client_names.is_empty() && config.client_ca_file.is_none() {
            return Err(
                "tls.pep_client_names needs tls.client_ca_file: client certificates must chain to a CA you name"
                    .into(),
            );
        }
        for name in &config.pep_client_names {
            ServerName::try_from(name.as_str())
                .map_err(|_| format!("tls.pep_client_names: {name:?} is not a DNS name"))?;
            Subject::parse(name)
                .map_err(|error| format!("tls.pep_client_names: {name:?}: {}", error.0))?;
        }
        let contents = read_files(config)?;
        let (grpc, admin, http) = server_configs(&contents)?;
        Ok(Some(Arc::new(ServerTls {
            config: config.clone(),
            grpc: ArcSwap::from_pointee(grpc),
            admin: ArcSwap::from_pointee(admin),
            http: ArcSwap::from_pointee(http),
            loaded: Mutex::new(contents),
        })))
    }

    /// Re-reads the files; when they changed and make a valid configuration, it takes over
    /// for new connections. A broken rotation (a key that does not match, a half-written
    /// file) keeps the old certificate and says so.
    pub(crate) fn reload(&self) -> Result<bool, String> {
        let contents = read_files(&self.config)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if *loaded == contents {
            return Ok(false);
        }
        let (grpc, admin, http) = server_configs(&contents)?;
        self.grpc.store(Arc::new(grpc));
        self.admin.store(Arc::new(admin));
        self.http.store(Arc::new(http));
        *loaded = contents;
        Ok(true)
    }

    /// Re-reads the files every `tls.reload_interval_seconds`.
    pub(crate) fn spawn_reloader(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        let every = Duration::from_secs(self.config.reload_interval_seconds.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match tls.reload() {
                    Ok(true) => tracing::info!("tls: certificates reloaded"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::error!(%error, "tls: reloading failed; keeping the certificates in force")
                    }
                }
            }
        })
    }

    /// Handshakes on the admin port.
    pub(crate) fn admin_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.admin.load_full())
    }

    /// Handshakes on the PEP-facing HTTP port (`http_listen`).
    pub(crate) fn http_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.http.load_full())
    }

    /// The gRPC port's accepted connections, TLS done: each handshake runs on its own task
    /// (with a deadline), so a slow or broken client never holds up the others.
    pub(crate) fn incoming(
        self: &Arc<Self>,
        listener: TcpListener,
    ) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(256);
        let tls = self.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::warn!(%error, "tls: accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    () = sender.closed() => return,
                };
                let _ = stream.set_nodelay(true);
                let acceptor = TlsAcceptor::from(tls.grpc.load_full());
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = sender.send(Ok(stream)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "tls: handshake failed"),
                        Err(_) => tracing::debug!("tls: handshake timed out"),
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }
}

fn read_files(config: &TlsConfig) -> Result<TlsFiles, String> {
    let read = |setting: &str, path: &Path| {
        std::fs::read(path).map_err(|error| format!("{setting} {}: {error}", path.display()))
    };
    let (Some(cert_file), Some(key_file)) = (&config.cert_file, &config.key_file) else {
        return Err("tls.cert_file and tls.key_file go together: set both".into());
    };
    Ok(TlsFiles {
        chain: read("tls.cert_file", cert_file)?,
        key: read("tls.key_file", key_file)?,
        client_ca: config
            .client_ca_file
            .as_deref()
            .map(|path| read("tls.client_ca_file", path))
            .transpose()?,
    })
}

/// The certificates in `pem` as trust anchors; `setting` names where they came from.
pub(crate) fn root_store(pem: &[u8], setting: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate.map_err(|error| format!("{setting}: {error}"))?;
        roots
            .add(certificate)
            .map_err(|error| format!("{setting}: {error}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{setting}: no certificate in it"));
    }
    Ok(roots)
}

/// The configurations for the gRPC, admin and HTTP ports, alike but for their ALPN protocols.
fn server_configs(files: &TlsFiles) -> Result<(ServerConfig, ServerConfig, ServerConfig), String> {
    let chain = CertificateDer::pem_slice_iter(&files.chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("tls.cert_file: {error}"))?;
    if chain.is_empty() {
        return Err("tls.cert_file: no certificate in it".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&files.key)
        .map_err(|error| format!("tls.key_file: {error}"))?;
    let builder = match &files.client_ca {
        None => ServerConfig::builder().with_no_client_auth(),
        Some(pem) => {
            let roots = root_store(pem, "tls.client_ca_file")?;
            // A client may still come without a certificate and present a bearer token.
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .allow_unauthenticated()
                .build()
                .map_err(|error| format!("tls.client_ca_file: {error}"))?;
            ServerConfig::builder().with_client_cert_verifier(verifier)
        }
    };
    let mut grpc = builder
        .with_single_cert(chain, key)
        .map_err(|error| format!("tls.cert_file and tls.key_file: {error}"))?;
    let mut admin = grpc.clone();
    let mut http = grpc.clone();
    grpc.alpn_protocols = vec![b"h2".to_vec()];
    admin.alpn_protocols = vec![b"http/1.1".to_vec()];
    http.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((grpc, admin, http))
}

/// The policy enforcement points known by client certificate.
pub struct PepCertificates {
    names: Vec<(ServerName<'static>, Arc<Identity>)>,
}

impl PepCertificates {
    /// One identity per configured name, each holding `pep_role` and nothing else.
    pub fn new(config: &TlsConfig, pep_role: &str) -> Option<Self> {
        if config.pep_client_names.is_empty() {
            return None;
        }
        let names = config
            .pep_client_names
            .iter()
            .filter_map(|name| {
                let server_name = ServerName::try_from(name.clone()).ok()?;
                let identity = Identity {
                    subject: Subject::parse(name).ok()?,
                    session: None,
                    groups: Vec::new(),
                    roles: vec![pep_role.to_owned()],
                    standing_roles: Vec::new(),
                    manager: None,
                    amr: vec!["mtls".into()],
                    expires_at: DateTime::<Utc>::MAX_UTC,
                    issuer: None,
                };
                Some((server_name, Arc::new(identity)))
            })
            .collect();
        Some(PepCertificates { names })
    }

    /// The PEP whose name the verified client certificate `leaf` is valid for.
    pub(crate) fn identify(&self, leaf: &CertificateDer<'_>) -> Option<Arc<Identity>> {
        let certificate = webpki::EndEntityCert::try_from(leaf).ok()?;
        self.names
            .iter()
            .find(|(name, _)| certificate.verify_is_valid_for_subject_name(name).is_ok())
            .map(|(_, identity)| identity.clone())
    }
}
