//! The accept loop: plain TCP or TLS (rustls, ring), optionally mutual TLS, HTTP/1.1 by hyper
//! over the axum [`Router`], with limits against slow clients and connection floods, and a
//! graceful stop.
//!
//! What a client meets, in order:
//!
//! 1. **Connection cap.** At most [`ConnectionLimits::max_connections`] connections are open at
//!    once. Beyond that the loop stops calling `accept`: new connections wait in the kernel's
//!    listen backlog (they are neither refused nor closed) and are taken in as slots free up;
//!    when the backlog is full too, the kernel drops further SYNs and clients retry.
//! 2. **TLS handshake** (when TLS is on), within [`ConnectionLimits::tls_handshake_timeout`];
//!    under mutual TLS a missing or untrusted client certificate fails here. A failed handshake
//!    is logged at debug level with its class only ("no client certificate", "not TLS or
//!    malformed TLS", ...).
//! 3. **Request head** within [`ConnectionLimits::header_read_timeout`] (slowloris): a client
//!    that has not sent its whole head by then is disconnected, however steadily it trickles.
//! 4. **Keep-alive.** After a response, the next request must start within
//!    [`ConnectionLimits::idle_timeout`], and its head must be complete within
//!    `header_read_timeout` of its first byte; otherwise the connection is closed.
//!
//! Each request carries a [`PeerInfo`] and the peer's address as
//! [`axum::extract::ConnectInfo<SocketAddr>`] in its extensions.
//!
//! Not covered here: how slowly a request *body* may arrive, and how long a handler may run;
//! those belong to the router's own timeouts.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use cds_server::listen::{serve, tls_acceptor, ConnectionLimits, TlsConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let tls = tls_acceptor(&TlsConfig {
//!     cert: Some("server.pem".into()),
//!     key: Some("server.key".into()),
//!     ..TlsConfig::default()
//! })
//! .map_err(std::io::Error::other)?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
//! serve(listener, app, tls, ConnectionLimits::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

mod conn;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use conn::{ConnActivity, ConnTimer, Counted};
pub use tls::{tls_acceptor, ClientCertMode, ListenError, TlsConfig};

/// Limits on connections. [`Default`] gives 1024 connections, 5 s for a request head, 5 s
/// for a TLS handshake, 60 s of keep-alive idleness and 10 s to drain at shutdown.
///
/// ```
/// use std::time::Duration;
/// let limits = cds_server::listen::ConnectionLimits {
///     max_connections: 256,
///     ..Default::default()
/// };
/// assert_eq!(limits.header_read_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at most (TLS handshakes included). Beyond, new connections wait in the
    /// kernel's listen backlog until one closes: they are not accepted, refused nor closed.
    /// `0` counts as 1.
    pub max_connections: usize,
    /// A client must send a whole request head within this (slowloris): from the connection's
    /// start (after the TLS handshake) for the first request, from the first byte for later
    /// ones. hyper answers nothing and closes the connection.
    pub header_read_timeout: Duration,
    /// A TLS handshake must complete within this.
    pub tls_handshake_timeout: Duration,
    /// A keep-alive connection on which no new request starts within this after a response is
    /// closed.
    pub idle_timeout: Duration,
    /// At shutdown, in-flight requests get this long to finish; connections still open then
    /// are dropped.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(5),
            tls_handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What the accept loop knows of a request's connection, in the request's extensions
/// (`axum::Extension<PeerInfo>` in a handler).
///
/// ```
/// use axum::Extension;
/// use cds_server::listen::PeerInfo;
/// async fn handler(Extension(peer): Extension<PeerInfo>) -> String {
///     match peer.client_cert_sha256 {
///         Some(fingerprint) => format!("client certificate {fingerprint}"),
///         None => format!("tls: {}", peer.tls),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Lowercase hex SHA-256 of the DER of the client's leaf certificate, when the client
    /// presented one under mutual TLS (it was verified against `client_ca` in the handshake).
    pub client_cert_sha256: Option<String>,
}

/// Pause after an accept error such as EMFILE, doubled while errors repeat, up to
/// [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, gives
/// in-flight requests [`ConnectionLimits::shutdown_grace`] to finish (idle keep-alive
/// connections are closed at once) and returns.
///
/// With `tls`, every connection must complete a TLS handshake (see [`tls_acceptor`]). Accept
/// errors (EMFILE, ENFILE, ...) do not end the loop: they are logged and accepting resumes
/// after a short pause. It returns `Ok(())` after the shutdown; the `io::Result` leaves room
/// for failures of the listener itself.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut backoff = MIN_ACCEPT_BACKOFF;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never: the semaphore is not closed
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "accept: connection failed before it was taken");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; pausing");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                    continue;
                }
            },
        };
        backoff = MIN_ACCEPT_BACKOFF;
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            tls.clone(),
            limits,
            stop_rx.clone(),
            permit,
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "shutdown: connections still open after the grace period are dropped"
        );
        connections.shutdown().await;
    } else {
        tracing::debug!(open, "shutdown: all connections finished");
    }
    Ok(())
}

/// Errors of one incoming connection (it failed before `accept` took it), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionRefused
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    )
}

/// One connection, from the TLS handshake to its close. `_permit` holds its slot.
async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let Some(acceptor) = tls else {
        let peer = PeerInfo {
            tls: false,
            client_cert_sha256: None,
        };
        return http(stream, addr, peer, app, limits, stop).await;
    };
    let handshake = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(class = tls::handshake_failure_class(&e), "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(class = "handshake timeout", "TLS handshake failed");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    let client_cert_sha256 = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| tls::sha256_hex(leaf.as_ref()));
    let peer = PeerInfo {
        tls: true,
        client_cert_sha256,
    };
    http(stream, addr, peer, app, limits, stop).await;
}

/// HTTP/1.1 on an established (plain or TLS) stream until it closes or the server stops.
async fn http<S>(
    stream: S,
    addr: SocketAddr,
    peer: PeerInfo,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(ConnActivity::default());
    let io = TokioIo::new(Counted::new(stream, activity.clone()));
    let counter = activity.clone();
    let service =
        TowerToHyperService::new(app.map_request(move |mut req: hyper::Request<Incoming>| {
            counter.request_started();
            req.extensions_mut().insert(peer.clone());
            req.extensions_mut().insert(ConnectInfo(addr));
            req.map(axum::body::Body::new)
        }));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(ConnTimer {
            activity,
            idle_timeout: limits.idle_timeout,
            header_read_timeout: limits.header_read_timeout,
        })
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(
            class = http_failure_class(&e),
            "connection closed on an error"
        );
    }
}

/// Completes when the server stops (or `serve` was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A hyper connection error as a short class for the logs, without the peer's data.
fn http_failure_class(e: &hyper::Error) -> &'static str {
    if e.is_timeout() {
        "request head timeout or keep-alive idle timeout"
    } else if e.is_parse() || e.is_parse_status() {
        "malformed request"
    } else if e.is_incomplete_message() {
        "connection closed mid-request"
    } else if e.is_body_write_aborted() || e.is_canceled() || e.is_closed() {
        "connection closed"
    } else {
        "i/o error"
    }
}

#[cfg(test)]
mod tests;
