//! Each test starts [`serve`] on 127.0.0.1:0 with a tiny router and talks to it with reqwest
//! or with a raw (blocking, std) socket; the timings printed are what was measured.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tls")
        .join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

async fn whoami(
    Extension(peer): Extension<PeerInfo>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
) -> String {
    assert!(addr.ip().is_loopback());
    format!(
        "tls={} cert={}",
        peer.tls,
        peer.client_cert_sha256.as_deref().unwrap_or("-")
    )
}

fn app() -> Router {
    Router::new()
        .route("/", get(whoami))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow done"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "never"
            }),
        )
}

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: 64,
        header_read_timeout: Duration::from_secs(5),
        tls_handshake_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(5),
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(tls: Option<TlsAcceptor>, limits: ConnectionLimits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(serve(listener, app(), tls, limits, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            done,
        }
    }

    /// Signals the shutdown and returns how long `serve` took to return.
    async fn stop(mut self) -> Duration {
        let start = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), &mut self.done)
            .await
            .expect("serve returns after the shutdown")
            .unwrap()
            .unwrap();
        start.elapsed()
    }

    fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn https(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
}

fn tls(client_ca: bool, mode: Option<ClientCertMode>) -> Option<TlsAcceptor> {
    tls_acceptor(&TlsConfig {
        cert: Some(fixture("server.pem")),
        key: Some(fixture("server.key")),
        client_ca: client_ca.then(|| fixture("ca.pem")),
        client_cert: mode,
    })
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A rustls client trusting the test CA, presenting `identity` ("client" or "other-client").
fn tls_client(server: &Server, identity: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&read_fixture("ca.pem")).unwrap();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .resolve("localhost", server.addr)
        .timeout(Duration::from_secs(5));
    if let Some(name) = identity {
        let mut pem = read_fixture(&format!("{name}.pem"));
        pem.extend(read_fixture(&format!("{name}.key")));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

async fn get_ok(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn client_fingerprint() -> String {
    let der = CertificateDer::from_pem_slice(&read_fixture("client.pem")).unwrap();
    tls::sha256_hex(der.as_ref())
}

/// A raw client: connects, sends `chunks` (pausing `pause` after each), then reads until the
/// server closes. Returns what it read and how long after the last chunk the close came.
async fn raw(addr: SocketAddr, chunks: Vec<Vec<u8>>, pause: Duration) -> (Vec<u8>, Duration) {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        for chunk in &chunks {
            // The server may already have closed on a trickle; stop writing then.
            if stream.write_all(chunk).is_err() {
                break;
            }
            std::thread::sleep(pause);
        }
        let sent = Instant::now();
        let mut read = Vec::new();
        let _ = stream.read_to_end(&mut read); // EOF, or a reset after the server closed
        (read, sent.elapsed())
    })
    .await
    .unwrap()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn plain_http_serves_with_peer_info() {
    let server = Server::start(None, limits()).await;
    assert_eq!(
        get_ok(&client(), &server.http("/")).await,
        "tls=false cert=-"
    );
    server.stop().await;
}

#[tokio::test]
async fn tls_serves_a_client_trusting_the_test_ca() {
    let server = Server::start(tls(false, None), limits()).await;
    let client = tls_client(&server, None);
    assert_eq!(get_ok(&client, &server.https("/")).await, "tls=true cert=-");
    // The certificate names 127.0.0.1 too.
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    assert_eq!(get_ok(&client, &url).await, "tls=true cert=-");
    // A client that does not trust the test CA is refused by its own side.
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .resolve("localhost", server.addr)
        .build()
        .unwrap();
    assert!(untrusting.get(server.https("/")).send().await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_cleanly_and_serving_goes_on() {
    let server = Server::start(tls(false, None), limits()).await;
    let (read, closed_after) = raw(server.addr, vec![GET.to_vec()], Duration::ZERO).await;
    println!(
        "plain HTTP to the TLS port: closed after {closed_after:?}, {} bytes back {:02x?}",
        read.len(),
        read
    );
    assert!(closed_after < Duration::from_secs(2));
    assert!(!read.starts_with(b"HTTP/"), "no HTTP answer");
    let client = tls_client(&server, None);
    assert_eq!(get_ok(&client, &server.https("/")).await, "tls=true cert=-");
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off() {
    let limits = ConnectionLimits {
        tls_handshake_timeout: Duration::from_millis(300),
        ..limits()
    };
    let server = Server::start(tls(false, None), limits).await;
    // Nothing at all, then half a ClientHello record header.
    for chunks in [vec![], vec![vec![0x16, 0x03, 0x01]]] {
        let (_, closed_after) = raw(server.addr, chunks, Duration::ZERO).await;
        println!("stalled TLS handshake closed after {closed_after:?}");
        assert!(
            closed_after >= Duration::from_millis(250),
            "{closed_after:?}"
        );
        assert!(closed_after < Duration::from_secs(2), "{closed_after:?}");
    }
    let client = tls_client(&server, None);
    assert_eq!(get_ok(&client, &server.https("/")).await, "tls=true cert=-");
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_required_admits_only_trusted_client_certificates() {
    let server = Server::start(tls(true, None), limits()).await;
    let anonymous = tls_client(&server, None)
        .get(server.https("/"))
        .send()
        .await;
    println!("no client certificate: {anonymous:?}");
    assert!(anonymous.is_err());
    let untrusted = tls_client(&server, Some("other-client"))
        .get(server.https("/"))
        .send()
        .await;
    println!("untrusted client certificate: {untrusted:?}");
    assert!(untrusted.is_err());
    let body = get_ok(&tls_client(&server, Some("client")), &server.https("/")).await;
    assert_eq!(body, format!("tls=true cert={}", client_fingerprint()));
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_optional_admits_anonymous_and_trusted_clients() {
    let server = Server::start(tls(true, Some(ClientCertMode::Optional)), limits()).await;
    let body = get_ok(&tls_client(&server, None), &server.https("/")).await;
    assert_eq!(body, "tls=true cert=-");
    let body = get_ok(&tls_client(&server, Some("client")), &server.https("/")).await;
    assert_eq!(body, format!("tls=true cert={}", client_fingerprint()));
    // A certificate that is presented must still be trusted.
    let untrusted = tls_client(&server, Some("other-client"))
        .get(server.https("/"))
        .send()
        .await;
    assert!(untrusted.is_err());
    server.stop().await;
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off_while_others_are_served() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        ..limits()
    };
    let server = Server::start(None, limits).await;
    let half = b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    let slow = tokio::spawn(raw(server.addr, vec![half], Duration::ZERO));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let served_at = Instant::now();
    assert_eq!(
        get_ok(&client(), &server.http("/")).await,
        "tls=false cert=-"
    );
    println!("other client served in {:?}", served_at.elapsed());
    let (read, closed_after) = slow.await.unwrap();
    println!(
        "half a head: closed after {closed_after:?}, answer {:?}",
        String::from_utf8_lossy(&read)
    );
    assert!(
        closed_after >= Duration::from_millis(250),
        "{closed_after:?}"
    );
    assert!(
        closed_after < Duration::from_millis(1500),
        "{closed_after:?}"
    );
    assert!(read.is_empty(), "hyper closes without a 408");

    // A steady trickle (a byte every 50 ms) does not extend the deadline.
    let start = Instant::now();
    let trickle = GET.iter().map(|b| vec![*b]).collect();
    let (read, _) = raw(server.addr, trickle, Duration::from_millis(50)).await;
    let total = start.elapsed();
    println!("trickled head: closed after {total:?} in all");
    assert!(read.is_empty());
    assert!(total < Duration::from_millis(1500), "{total:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_idle_timeout() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_millis(300),
        ..limits()
    };
    let server = Server::start(None, limits).await;
    let (read, closed_after) = raw(server.addr, vec![GET.to_vec()], Duration::ZERO).await;
    println!("idle keep-alive (idle 300 ms, head 3 s): closed {closed_after:?} after the request");
    assert!(read.starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_after >= Duration::from_millis(250),
        "{closed_after:?}"
    );
    assert!(
        closed_after < Duration::from_millis(1500),
        "{closed_after:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn keep_alive_outlives_the_header_timeout_and_requests_head_timeout_from_first_byte() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(1200),
        ..limits()
    };
    let server = Server::start(None, limits).await;
    // Second request 600 ms after the first: past the header timeout, within the idle one.
    let (read, closed_after) = raw(
        server.addr,
        vec![GET.to_vec(), GET.to_vec()],
        Duration::from_millis(600),
    )
    .await;
    let text = String::from_utf8_lossy(&read);
    println!("keep-alive (idle 1.2 s, head 200 ms): closed {closed_after:?} after the second request's pause");
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");

    // After a response, half a head: cut off 200 ms after its first byte, not 1.2 s.
    let half = b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    let (read, closed_after) = raw(
        server.addr,
        vec![GET.to_vec(), half],
        Duration::from_millis(100),
    )
    .await;
    println!("half a second head: closed {closed_after:?} after the 100 ms pause that followed it");
    assert_eq!(
        String::from_utf8_lossy(&read)
            .matches("HTTP/1.1 200")
            .count(),
        1
    );
    assert!(
        closed_after < Duration::from_millis(700),
        "{closed_after:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_a_slot_frees() {
    let limits = ConnectionLimits {
        max_connections: 2,
        ..limits()
    };
    let server = Server::start(None, limits).await;
    let holders: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(server.addr).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = client()
        .get(server.http("/"))
        .timeout(Duration::from_millis(700))
        .send()
        .await;
    println!("third connection while two are held: {waiting:?}");
    assert!(waiting.unwrap_err().is_timeout());

    // A client queued in the backlog is taken in as soon as a slot frees.
    let url = server.http("/");
    let queued = tokio::spawn(async move {
        let start = Instant::now();
        let response = client().get(url).send().await;
        (response.map(|r| r.status()), start.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(holders);
    let (status, took) = queued.await.unwrap();
    println!("queued connection served after {took:?} (a slot freed at 300 ms)");
    assert_eq!(status.unwrap(), 200);
    assert!(took >= Duration::from_millis(250), "{took:?}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_stops_accepting() {
    let server = Server::start(None, limits()).await;
    let url = server.http("/slow");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    // An idle keep-alive connection does not hold the shutdown up.
    let idle = tokio::spawn(raw(server.addr, vec![GET.to_vec()], Duration::ZERO));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = server.addr;
    let took = server.stop().await;
    println!("shutdown with a 600 ms request in flight returned after {took:?}");
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "slow done");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (read, _) = idle.await.unwrap();
    assert!(read.starts_with(b"HTTP/1.1 200"));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_a_stuck_request_after_the_grace_period() {
    let limits = ConnectionLimits {
        shutdown_grace: Duration::from_millis(300),
        ..limits()
    };
    let server = Server::start(None, limits).await;
    let url = server.http("/stuck");
    let stuck = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = server.stop().await;
    println!("shutdown with a stuck request returned after {took:?} (grace 300 ms)");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(stuck.await.unwrap().is_err());
}

#[tokio::test]
async fn shutdown_with_nothing_in_flight_is_immediate() {
    let server = Server::start(tls(false, None), limits()).await;
    let took = server.stop().await;
    assert!(took < Duration::from_millis(500), "{took:?}");
}
