//! One HTTP/1.1 exchange over TLS with a server elevator reaches out to (an identity
//! provider's JWKS, discovery document and token endpoint): connect, TLS with the given roots,
//! send, read an answer of at most a given size. One request per connection: these calls are
//! rare, and a fresh connection is one less thing to get wrong. The callers add the deadline.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// Sends `request` (its URI absolute, `https`) through `tls`; the answer, whatever its status,
/// with its body read up to `max_answer_bytes`. Errors say which step failed, not for whom.
pub(crate) async fn exchange_once(
    tls: &TlsConnector,
    request: http::Request<Vec<u8>>,
    max_answer_bytes: usize,
) -> Result<http::Response<Bytes>, String> {
    let uri = request.uri().clone();
    if uri.scheme_str() != Some("https") {
        return Err("must be reached over https".into());
    }
    let failed = |what: &str, error: &dyn std::fmt::Display| format!("{what}: {error}");
    let host = uri
        .host()
        .ok_or("no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|error| failed("connect", &error))?;
    let server_name = ServerName::try_from(host).map_err(|error| failed("host", &error))?;
    let stream = tls
        .connect(server_name, tcp)
        .await
        .map_err(|error| failed("tls", &error))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| failed("http", &error))?;
    tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    let authority = uri.authority().map_or("", |authority| authority.as_str());
    parts.headers.insert(
        http::header::HOST,
        authority
            .parse()
            .map_err(|error| failed("host header", &error))?,
    );
    parts.uri = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .parse()
        .map_err(|error| failed("path", &error))?;
    let response = sender
        .send_request(http::Request::from_parts(
            parts,
            Full::new(Bytes::from(body)),
        ))
        .await
        .map_err(|error| failed("http", &error))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, max_answer_bytes)
        .collect()
        .await
        .map_err(|error| failed("body", &error))?
        .to_bytes();
    Ok(http::Response::from_parts(parts, body))
}
