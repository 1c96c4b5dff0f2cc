#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The federation HTTP client against local, hand-written hostile servers: address guard,
//! redirects, deadlines, body limits and ActivityStreams checks (security checklist F1–F8).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gloss_federation::http_client::{
    ACTIVITY_ACCEPT, HostLookup, HttpClientError, HttpClientSettings, LookupFuture, MAX_FETCH_BODY,
    RequestSigner, build_client, build_client_with_lookup, check_redirect_hop, check_url,
    fetch_activity_json, is_global_address, read_body_limited,
};
use reqwest::header::{HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

// ---------------------------------------------------------------------------------------
// A tiny HTTP/1.1 responder: one request per connection, then close.
// ---------------------------------------------------------------------------------------

/// What the test server saw of one request.
#[derive(Debug, Clone)]
struct SeenRequest {
    path: String,
    headers: HashMap<String, String>,
}

/// How the test server answers.
enum Reply {
    /// Status, headers and body; `Content-Length` is added unless `close_delimited`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        close_delimited: bool,
    },
    /// Headers, then the body one byte at a time with a pause between bytes.
    Drip { body_len: usize, pause: Duration },
}

fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Reply {
    Reply::Full {
        status,
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        body: body.into(),
        close_delimited: false,
    }
}

fn redirect(location: &str) -> Reply {
    reply(302, &[("Location", location)], "")
}

type Handler = dyn Fn(&SeenRequest, SocketAddr) -> Reply + Send + Sync;

struct TestServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<SeenRequest>>>,
}

impl TestServer {
    async fn start(
        handler: impl Fn(&SeenRequest, SocketAddr) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (count, seen) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_one(stream, handler.clone(), seen.clone(), addr));
            }
        });
        TestServer {
            addr,
            connections,
            requests,
        }
    }

    fn url(&self, host: &str, path: &str) -> Url {
        Url::parse(&format!("http://{host}:{}{path}", self.addr.port())).unwrap()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn last_request(&self) -> SeenRequest {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request seen")
    }
}

async fn serve_one(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    addr: SocketAddr,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let request = SeenRequest { path, headers };
    seen.lock().unwrap().push(request.clone());

    match handler(&request, addr) {
        Reply::Full {
            status,
            headers,
            body,
            close_delimited,
        } => {
            let mut out = format!("HTTP/1.1 {status} Test\r\nConnection: close\r\n");
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            if !close_delimited {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Reply::Drip { body_len, pause } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/activity+json\r\nContent-Length: {body_len}\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            for _ in 0..body_len {
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
    let _ = stream.shutdown().await;
}

fn settings(allow_private_addresses: bool) -> HttpClientSettings {
    HttpClientSettings {
        allow_private_addresses,
        user_agent: "Gloss-test".to_owned(),
        ..Default::default()
    }
}

fn client(allow_private_addresses: bool) -> reqwest::Client {
    build_client(&settings(allow_private_addresses)).unwrap()
}

/// Sends a plain GET with the client, bypassing `check_url`, to exercise the
/// connect-time guards alone.
async fn raw_get(
    client: &reqwest::Client,
    url: &str,
) -> Result<reqwest::Response, HttpClientError> {
    Ok(client.get(url).send().await?)
}

/// Gives a connection that should not exist the time to show up in the counter.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

fn document(id: &Url) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id.as_str(),
        "type": "Note",
        "content": "hello",
    }))
    .unwrap()
}

/// Serves a good ActivityStreams document whose id is its own URL.
fn serve_documents(request: &SeenRequest, addr: SocketAddr) -> Reply {
    let id = Url::parse(&format!("http://localhost:{}{}", addr.port(), request.path)).unwrap();
    reply(
        200,
        &[("Content-Type", "application/activity+json")],
        document(&id),
    )
}

// ---------------------------------------------------------------------------------------
// is_global_address and check_url
// ---------------------------------------------------------------------------------------

#[test]
fn is_global_address_refuses_every_special_purpose_range() {
    let not_global = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.1.2.3",
        "169.254.169.254",
        "169.254.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "100::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "2001:db8::1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "3fff::1",
        "5f00::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
    ];
    for text in not_global {
        let ip: IpAddr = text.parse().unwrap();
        assert!(!is_global_address(ip), "{text} must not be global");
    }

    let global = [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.3.1",
        "198.20.0.1",
        "223.255.255.254",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2001:4860:4860::8888",
        "2a01:4f8:c17:1::1",
        "2600::1",
    ];
    for text in global {
        let ip: IpAddr = text.parse().unwrap();
        assert!(is_global_address(ip), "{text} must be global");
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn check_url_accepts_plain_https_domains() {
    check_url(&url("https://mastodon.example/users/alice"), false).unwrap();
    check_url(&url("https://mastodon.example:8443/users/alice"), false).unwrap();
}

#[test]
fn check_url_blocks_private_ip_literals_in_every_spelling() {
    for text in [
        "https://127.0.0.1/",
        "http://127.0.0.1:8080/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[fd00::1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "http://localhost:3000/",
        "https://api.localhost/",
    ] {
        let result = check_url(&url(text), false);
        assert!(
            matches!(result, Err(HttpClientError::BlockedAddress(_))),
            "{text}: {result:?}"
        );
    }
}

#[test]
fn check_url_refuses_public_ip_literals_userinfo_and_other_schemes() {
    for text in [
        "https://8.8.8.8/",
        "https://[2001:4860:4860::8888]/",
        "https://alice@mastodon.example/",
        "https://alice:secret@mastodon.example/",
        "https://:secret@mastodon.example/",
        "http://mastodon.example/",
        "ftp://mastodon.example/",
        "file:///etc/passwd",
        "data:text/plain,hello",
        "gopher://mastodon.example/",
    ] {
        let result = check_url(&url(text), false);
        assert!(
            matches!(result, Err(HttpClientError::InvalidUrl(_))),
            "{text}: {result:?}"
        );
    }
}

#[test]
fn check_url_on_a_test_network_allows_http_and_private_hosts_but_not_userinfo() {
    for text in [
        "http://127.0.0.1:8080/",
        "http://localhost:3000/",
        "https://[::1]/",
        "http://10.0.0.1/",
    ] {
        check_url(&url(text), true).unwrap();
    }
    assert!(matches!(
        check_url(&url("http://alice@localhost/"), true),
        Err(HttpClientError::InvalidUrl(_))
    ));
    assert!(matches!(
        check_url(&url("ftp://localhost/"), true),
        Err(HttpClientError::InvalidUrl(_))
    ));
}

#[test]
fn a_redirect_hop_is_checked_like_a_first_request() {
    let start = [url("https://a.example/note")];
    check_redirect_hop(&url("https://b.example/note"), &start, false).unwrap();
    assert!(matches!(
        check_redirect_hop(&url("https://127.0.0.1/"), &start, false),
        Err(HttpClientError::BlockedAddress(_))
    ));
    assert!(matches!(
        check_redirect_hop(&url("https://localhost/admin"), &start, false),
        Err(HttpClientError::BlockedAddress(_))
    ));
    assert!(matches!(
        check_redirect_hop(&url("https://[::ffff:169.254.169.254]/"), &start, false),
        Err(HttpClientError::BlockedAddress(_))
    ));
    assert!(matches!(
        check_redirect_hop(&url("http://b.example/note"), &start, false),
        Err(HttpClientError::InvalidUrl(_))
    ));
    assert!(matches!(
        check_redirect_hop(
            &url("https://b.example/note"),
            &[url("http://a.example/")],
            true
        ),
        Err(HttpClientError::InvalidUrl(_))
    ));
    let two = [url("https://a.example/1"), url("https://a.example/2")];
    assert!(matches!(
        check_redirect_hop(&url("https://a.example/3"), &two, false),
        Err(HttpClientError::TooManyRedirects)
    ));
}

// ---------------------------------------------------------------------------------------
// The connect-time guard
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn loopback_is_refused_without_opening_a_connection() {
    let server = TestServer::start(serve_documents).await;
    let guarded = client(false);
    let port = server.addr.port();

    // Through the pre-check, as every federation fetch goes.
    for text in [
        format!("http://127.0.0.1:{port}/note"),
        format!("https://127.0.0.1:{port}/note"),
        format!("http://localhost:{port}/note"),
        format!("https://[::ffff:127.0.0.1]:{port}/note"),
    ] {
        let result = fetch_activity_json(&guarded, &url(&text), false, None).await;
        assert!(
            matches!(result, Err(HttpClientError::BlockedAddress(_))),
            "{text}: {result:?}"
        );
    }

    // Straight through reqwest: the resolver drops loopback answers for `localhost`.
    let result = raw_get(&guarded, &format!("https://localhost:{port}/note")).await;
    assert!(
        matches!(result, Err(HttpClientError::BlockedAddress(_))),
        "{result:?}"
    );
    // Plain HTTP never leaves the client in production.
    let result = raw_get(&guarded, &format!("http://localhost:{port}/note")).await;
    assert!(
        matches!(result, Err(HttpClientError::InvalidUrl(_))),
        "{result:?}"
    );

    settle().await;
    assert_eq!(
        server.connections(),
        0,
        "the guarded client must not connect"
    );

    // The same requests succeed on a test network, proving the server was reachable.
    let open = client(true);
    for host in ["127.0.0.1", "localhost"] {
        let response = raw_get(&open, server.url(host, "/note").as_str())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let fetched = fetch_activity_json(&open, &server.url("localhost", "/note"), true, None)
        .await
        .unwrap();
    assert_eq!(fetched["type"], "Note");
    assert!(server.connections() >= 3);
}

/// Answers every name with fixed addresses, like a hostile DNS server would.
/// Counts the lookups, to show that nothing caches an answer between connections.
struct StubLookup {
    addrs: Vec<IpAddr>,
    lookups: AtomicUsize,
}

impl HostLookup for StubLookup {
    fn lookup(&self, _host: &str) -> LookupFuture {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let addrs = self.addrs.clone();
        Box::pin(async move { Ok(addrs) })
    }
}

#[tokio::test]
async fn a_public_name_that_rebinds_to_private_addresses_is_refused_at_connect_time() {
    let server = TestServer::start(serve_documents).await;
    let port = server.addr.port();
    let rebinding = Arc::new(StubLookup {
        addrs: vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "10.0.0.7".parse().unwrap(),
            "::ffff:127.0.0.1".parse().unwrap(),
        ],
        lookups: AtomicUsize::new(0),
    });
    let guarded = build_client_with_lookup(&settings(false), rebinding.clone()).unwrap();

    // The pre-check cannot know what the name will resolve to...
    let target = url(&format!("https://innocent.example:{port}/note"));
    check_url(&target, false).unwrap();
    // ...the resolver does, at connect time.
    let result = fetch_activity_json(&guarded, &target, false, None).await;
    assert!(
        matches!(result, Err(HttpClientError::BlockedAddress(_))),
        "{result:?}"
    );
    settle().await;
    assert_eq!(server.connections(), 0);

    // Control: on a test network the stub's loopback answer is used and reaches the server.
    assert_eq!(rebinding.lookups.load(Ordering::SeqCst), 1);
    let open = build_client_with_lookup(&settings(true), rebinding.clone()).unwrap();
    for _ in 0..2 {
        let response = raw_get(&open, &format!("http://innocent.example:{port}/note"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(server.connections(), 2);
    // F13: every new connection (here: each request, the server closes) asks DNS again.
    assert_eq!(rebinding.lookups.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------
// Redirects (on a test network, so the local server is reachable)
// ---------------------------------------------------------------------------------------

fn redirecting(request: &SeenRequest, addr: SocketAddr) -> Reply {
    let port = addr.port();
    match request.path.as_str() {
        "/one-hop" => redirect("/doc"),
        "/two-hops" => redirect("/one-hop"),
        "/loop" => redirect("/loop"),
        "/to-ftp" => redirect(&format!("ftp://localhost:{port}/doc")),
        "/to-file" => redirect("file:///etc/passwd"),
        "/to-userinfo" => redirect(&format!("http://admin@localhost:{port}/doc")),
        _ => serve_documents(request, addr),
    }
}

#[tokio::test]
async fn one_redirect_is_followed_and_the_final_url_must_be_the_id() {
    let server = TestServer::start(redirecting).await;
    let open = client(true);
    let document = fetch_activity_json(&open, &server.url("localhost", "/one-hop"), true, None)
        .await
        .unwrap();
    assert_eq!(document["id"], server.url("localhost", "/doc").as_str());
}

#[tokio::test]
async fn a_second_redirect_or_a_loop_is_refused() {
    let server = TestServer::start(redirecting).await;
    let open = client(true);
    for path in ["/two-hops", "/loop"] {
        let result = fetch_activity_json(&open, &server.url("localhost", path), true, None).await;
        assert!(
            matches!(result, Err(HttpClientError::TooManyRedirects)),
            "{path}: {result:?}"
        );
    }
    let requests = server.requests.lock().unwrap().len();
    assert_eq!(requests, 4, "each chain stops after its single allowed hop");
}

#[tokio::test]
async fn a_client_that_refuses_redirects_hands_the_3xx_back() {
    let server = TestServer::start(redirecting).await;
    let no_redirects = build_client(&HttpClientSettings {
        refuse_redirects: true,
        ..settings(true)
    })
    .unwrap();
    let response = raw_get(&no_redirects, server.url("localhost", "/one-hop").as_str())
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let result = fetch_activity_json(
        &no_redirects,
        &server.url("localhost", "/one-hop"),
        true,
        None,
    )
    .await;
    assert!(
        matches!(result, Err(HttpClientError::Status(302))),
        "{result:?}"
    );
    assert_eq!(
        server.requests.lock().unwrap().len(),
        2,
        "nothing was followed"
    );
}

#[tokio::test]
async fn a_redirect_to_another_scheme_or_with_userinfo_is_refused() {
    let server = TestServer::start(redirecting).await;
    let open = client(true);
    for path in ["/to-ftp", "/to-userinfo"] {
        let result = raw_get(&open, server.url("localhost", path).as_str()).await;
        assert!(
            matches!(result, Err(HttpClientError::InvalidUrl(_))),
            "{path}: {result:?}"
        );
    }
    // reqwest does not even treat a `file:` Location as a redirect: the 302 comes back
    // unfollowed, and a fetch reports it as an unexpected status.
    let result = fetch_activity_json(&open, &server.url("localhost", "/to-file"), true, None).await;
    assert!(
        matches!(
            result,
            Err(HttpClientError::InvalidUrl(_) | HttpClientError::Status(302))
        ),
        "{result:?}"
    );
    assert_eq!(
        server.requests.lock().unwrap().len(),
        3,
        "no hop was followed"
    );
}

// ---------------------------------------------------------------------------------------
// Deadlines and body limits
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_dripping_server_is_cut_off_at_the_total_deadline() {
    let server = TestServer::start(|_: &SeenRequest, _| Reply::Drip {
        body_len: 600,
        pause: Duration::from_millis(100),
    })
    .await;
    let impatient = build_client(&HttpClientSettings {
        request_timeout: Some(Duration::from_millis(800)),
        ..settings(true)
    })
    .unwrap();
    let started = Instant::now();
    let result =
        fetch_activity_json(&impatient, &server.url("localhost", "/slow"), true, None).await;
    assert!(
        matches!(result, Err(HttpClientError::Timeout)),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

fn big_body(request: &SeenRequest, _: SocketAddr) -> Reply {
    let body = vec![b' '; MAX_FETCH_BODY + 1];
    match request.path.as_str() {
        "/with-length" => reply(200, &[("Content-Type", "application/activity+json")], body),
        // Claims 10 bytes but keeps sending: the client must stop at the claimed length.
        "/lying-length" => Reply::Full {
            status: 200,
            headers: vec![("Content-Length".to_owned(), "10".to_owned())],
            body,
            close_delimited: true,
        },
        "/without-length" => Reply::Full {
            status: 200,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/activity+json".to_owned(),
            )],
            body,
            close_delimited: true,
        },
        "/gzip-bomb" => Reply::Full {
            status: 200,
            headers: vec![
                (
                    "Content-Type".to_owned(),
                    "application/activity+json".to_owned(),
                ),
                ("Content-Encoding".to_owned(), "gzip".to_owned()),
            ],
            body: gzip_of_spaces(4 * MAX_FETCH_BODY),
            close_delimited: false,
        },
        "/gzip-small" => Reply::Full {
            status: 200,
            headers: vec![("Content-Encoding".to_owned(), "gzip".to_owned())],
            body: gzip_of_spaces(1000),
            close_delimited: false,
        },
        _ => reply(404, &[], ""),
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_or_without_content_length() {
    let server = TestServer::start(big_body).await;
    let open = client(true);
    for path in ["/with-length", "/without-length", "/gzip-bomb"] {
        let response = raw_get(&open, server.url("localhost", path).as_str())
            .await
            .unwrap();
        let result = read_body_limited(response, MAX_FETCH_BODY).await;
        assert!(
            matches!(result, Err(HttpClientError::BodyTooLarge)),
            "{path}: {result:?}"
        );

        let result = fetch_activity_json(&open, &server.url("localhost", path), true, None).await;
        assert!(
            matches!(result, Err(HttpClientError::BodyTooLarge)),
            "{path}: {result:?}"
        );
    }
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_and_counted_after_decompression() {
    let bomb = gzip_of_spaces(4 * MAX_FETCH_BODY);
    assert!(
        bomb.len() < MAX_FETCH_BODY / 10,
        "the bomb is small on the wire"
    );

    let server = TestServer::start(big_body).await;
    let open = client(true);
    let response = raw_get(&open, server.url("localhost", "/gzip-small").as_str())
        .await
        .unwrap();
    let body = read_body_limited(response, 1000).await.unwrap();
    assert_eq!(&body[..], &[b' '; 1000][..]);

    let response = raw_get(&open, server.url("localhost", "/gzip-small").as_str())
        .await
        .unwrap();
    let result = read_body_limited(response, 999).await;
    assert!(
        matches!(result, Err(HttpClientError::BodyTooLarge)),
        "{result:?}"
    );

    // A Content-Length that understates the body: only the announced bytes are read.
    let response = raw_get(&open, server.url("localhost", "/lying-length").as_str())
        .await
        .unwrap();
    assert_eq!(read_body_limited(response, 10).await.unwrap().len(), 10);
}

/// A gzip stream of `len` spaces, compressed with fixed-Huffman DEFLATE: one literal and
/// then back-references of length 258 at distance 1 (13 bits per 258 bytes).
fn gzip_of_spaces(len: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        count: u32,
    }
    impl Bits {
        /// Appends `n` bits of `value`, least significant first (DEFLATE's bit order).
        fn put(&mut self, value: u32, n: u32) {
            for i in 0..n {
                self.acc |= ((value >> i) & 1) << self.count;
                self.count += 1;
                if self.count == 8 {
                    self.out.push(self.acc as u8);
                    self.acc = 0;
                    self.count = 0;
                }
            }
        }
        /// Appends a Huffman code, which DEFLATE packs most significant bit first.
        fn code(&mut self, code: u32, n: u32) {
            for i in (0..n).rev() {
                self.put((code >> i) & 1, 1);
            }
        }
        /// Fixed-Huffman literal for a byte below 144.
        fn literal(&mut self, byte: u8) {
            self.code(0x30 + u32::from(byte), 8);
        }
    }

    assert!(len > 0);
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        count: 0,
    };
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman codes
    bits.literal(b' ');
    let mut remaining = len - 1;
    while remaining >= 258 {
        bits.code(0b1100_0101, 8); // length symbol 285 = 258 bytes
        bits.code(0, 5); // distance symbol 0 = 1 byte back
        remaining -= 258;
    }
    for _ in 0..remaining {
        bits.literal(b' ');
    }
    bits.code(0, 7); // end of block (symbol 256)
    if bits.count > 0 {
        bits.put(0, 8 - bits.count);
    }
    let mut out = bits.out;
    out.extend_from_slice(&crc32_of_spaces(len).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

fn crc32_of_spaces(len: usize) -> u32 {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    let mut crc = !0u32;
    for _ in 0..len {
        crc = table[((crc ^ u32::from(b' ')) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

// ---------------------------------------------------------------------------------------
// fetch_activity_json
// ---------------------------------------------------------------------------------------

fn typed(request: &SeenRequest, addr: SocketAddr) -> Reply {
    let own_id = Url::parse(&format!("http://localhost:{}{}", addr.port(), request.path)).unwrap();
    let body = document(&own_id);
    match request.path.as_str() {
        "/json" => reply(200, &[("Content-Type", "application/json")], body),
        "/html" => reply(200, &[("Content-Type", "text/html; charset=utf-8")], body),
        "/none" => reply(200, &[], body),
        "/ld" => reply(
            200,
            &[(
                "Content-Type",
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            )],
            body,
        ),
        "/activity-charset" => reply(
            200,
            &[("Content-Type", "Application/Activity+JSON; charset=utf-8")],
            body,
        ),
        "/other-id" => reply(
            200,
            &[("Content-Type", "application/activity+json")],
            document(&url("https://victim.example/users/alice")),
        ),
        "/no-id" => reply(
            200,
            &[("Content-Type", "application/activity+json")],
            "{\"type\":\"Note\"}",
        ),
        "/not-json" => reply(
            200,
            &[("Content-Type", "application/activity+json")],
            "<html>secret</html>",
        ),
        "/gone" => reply(410, &[("Content-Type", "application/activity+json")], "{}"),
        "/missing" => reply(404, &[], "not here"),
        "/broken" => reply(500, &[], "stack trace with secrets"),
        _ => serve_documents(request, addr),
    }
}

#[tokio::test]
async fn only_activitystreams_media_types_are_accepted() {
    let server = TestServer::start(typed).await;
    let open = client(true);
    for (path, seen) in [
        ("/json", "application/json"),
        ("/html", "text/html"),
        ("/none", "none"),
    ] {
        let result = fetch_activity_json(&open, &server.url("localhost", path), true, None).await;
        match result {
            Err(HttpClientError::WrongContentType(found)) => assert_eq!(found, seen, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    for path in ["/ld", "/activity-charset"] {
        let document = fetch_activity_json(&open, &server.url("localhost", path), true, None)
            .await
            .unwrap();
        assert_eq!(document["type"], "Note", "{path}");
    }
}

#[tokio::test]
async fn a_document_whose_id_is_not_its_url_is_refused() {
    let server = TestServer::start(typed).await;
    let open = client(true);
    let result =
        fetch_activity_json(&open, &server.url("localhost", "/other-id"), true, None).await;
    match result {
        Err(HttpClientError::IdMismatch { expected, found }) => {
            assert_eq!(expected, server.url("localhost", "/other-id").as_str());
            assert_eq!(found, "https://victim.example/users/alice");
        }
        other => panic!("{other:?}"),
    }
    let result = fetch_activity_json(&open, &server.url("localhost", "/no-id"), true, None).await;
    assert!(
        matches!(result, Err(HttpClientError::IdMismatch { .. })),
        "{result:?}"
    );
    // Fetched as 127.0.0.1 but claiming to be localhost: a different URL, refused.
    let result = fetch_activity_json(&open, &server.url("127.0.0.1", "/doc"), true, None).await;
    assert!(
        matches!(result, Err(HttpClientError::IdMismatch { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn status_codes_map_to_errors_without_echoing_the_body() {
    let server = TestServer::start(typed).await;
    let open = client(true);
    let result = fetch_activity_json(&open, &server.url("localhost", "/gone"), true, None).await;
    assert!(matches!(result, Err(HttpClientError::Gone)), "{result:?}");
    let result = fetch_activity_json(&open, &server.url("localhost", "/missing"), true, None).await;
    assert!(
        matches!(result, Err(HttpClientError::Status(404))),
        "{result:?}"
    );
    let result = fetch_activity_json(&open, &server.url("localhost", "/broken"), true, None).await;
    let error = result.unwrap_err();
    assert!(matches!(error, HttpClientError::Status(500)));
    assert!(!error.to_string().contains("secrets"));

    let error = fetch_activity_json(&open, &server.url("localhost", "/not-json"), true, None)
        .await
        .unwrap_err();
    assert!(matches!(error, HttpClientError::Transport(_)), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test]
async fn fetches_ask_for_activitystreams_and_carry_the_signers_headers() {
    let server = TestServer::start(typed).await;
    let open = client(true);
    let signer = |method: &reqwest::Method, url: &Url| {
        Ok(vec![(
            HeaderName::from_static("signature"),
            HeaderValue::from_str(&format!(
                "keyId=\"test\",target=\"{} {}\"",
                method,
                url.path()
            ))
            .unwrap(),
        )])
    };
    fetch_activity_json(
        &open,
        &server.url("localhost", "/doc"),
        true,
        Some(&signer as &dyn RequestSigner),
    )
    .await
    .unwrap();
    let seen = server.last_request();
    assert_eq!(seen.headers["accept"], ACTIVITY_ACCEPT);
    assert_eq!(
        seen.headers["signature"],
        "keyId=\"test\",target=\"GET /doc\""
    );
    assert_eq!(seen.headers["user-agent"], "Gloss-test");

    let failing = |_: &reqwest::Method, _: &Url| Err("no key".to_owned());
    let result = fetch_activity_json(
        &open,
        &server.url("localhost", "/doc"),
        true,
        Some(&failing as &dyn RequestSigner),
    )
    .await;
    assert!(
        matches!(result, Err(HttpClientError::Transport(ref m)) if m.contains("no key")),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------
// TLS with an extra CA (a test network's own CA, generated once with openssl; the leaf is
// for DNS:localhost and IP:127.0.0.1, valid 2000–2126)
// ---------------------------------------------------------------------------------------

const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBYzCCAQmgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1HbG9zcyBU
ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMjYwMTAxMDAwMDAwWjAYMRYwFAYD
VQQDDA1HbG9zcyBUZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMIvi
cfCzdESDIhrJQt9Jn0ML7U+eHtSllbTDQN6jhwIcIN2PG8VPTS7qxHQbPKfUzp58
1VRHvrW/pmCeKZvUJKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AQYwHQYDVR0OBBYEFFYNE9eWCEDmXeIuLVL/38NrDQNmMAoGCCqGSM49BAMCA0gA
MEUCIQDIQe9x96fmR8V+7WggqiX5+syy4ddzCepFcDtTUj3ArAIgLGCrqJwimvlO
EWsXJwcqcDuin207RQwDL4RgN1eLIOo=
-----END CERTIFICATE-----
";

const TEST_LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBsTCCAVagAwIBAgIBAjAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1HbG9zcyBU
ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMjYwMTAxMDAwMDAwWjAUMRIwEAYD
VQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAScsStSNRcw
n4rWwjIB92DeLRcxcrekkBWHTUvZLt4Y9/+AZGG6rqaZrCNW6NSU+sk5ZvtHUpT7
m0I47ShNGAGpo4GSMIGPMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATAMBgNV
HRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAf
BgNVHSMEGDAWgBRWDRPXlghA5l3iLi1S/9/Daw0DZjAdBgNVHQ4EFgQUzQpRc1Ah
uChWFCxcP/bRXFAwLi4wCgYIKoZIzj0EAwIDSQAwRgIhAIYis/pKWiIhsDNbBmnu
VEwrGzpzCWrgjLqWLV/VA9PFAiEAwgA2PPUGH5YfYltex5VehSj6wOall7jY4t1r
qK1x1Mo=
-----END CERTIFICATE-----
";

const TEST_LEAF_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFEWwjGo623XBTts0
ObqDPrDjPaKajn4nji2K0q4jzV2hRANCAAScsStSNRcwn4rWwjIB92DeLRcxcrek
kBWHTUvZLt4Y9/+AZGG6rqaZrCNW6NSU+sk5ZvtHUpT7m0I47ShNGAGp
-----END PRIVATE KEY-----
";

/// A blocking HTTPS server on its own thread: completes the TLS handshake and answers
/// each request with `200 ok`. Counts TCP connections and HTTP requests separately.
struct TlsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

fn start_tls_server() -> TlsServer {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = vec![CertificateDer::from_pem_slice(TEST_LEAF_PEM.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(TEST_LEAF_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (count, served) = (connections.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let (config, served) = (config.clone(), served.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                served.fetch_add(1, Ordering::SeqCst);
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    TlsServer {
        port,
        connections,
        requests,
    }
}

fn settings_with_test_ca(allow_private_addresses: bool) -> HttpClientSettings {
    HttpClientSettings {
        extra_ca_pem: Some(TEST_CA_PEM.as_bytes().to_vec()),
        ..settings(allow_private_addresses)
    }
}

#[tokio::test]
async fn the_extra_ca_is_trusted_and_only_when_configured() {
    let server = start_tls_server();
    let target = format!("https://localhost:{}/", server.port);

    let with_ca = build_client(&settings_with_test_ca(true)).unwrap();
    let response = raw_get(&with_ca, &target).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(read_body_limited(response, 100).await.unwrap(), "ok");

    match build_client(&settings(true)) {
        // A machine without a system CA bundle cannot even build the client.
        Err(error) => assert!(matches!(error, HttpClientError::Tls(_)), "{error:?}"),
        Ok(without_ca) => {
            let result = raw_get(&without_ca, &target).await;
            assert!(matches!(result, Err(HttpClientError::Tls(_))), "{result:?}");
        }
    }
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        1,
        "only the trusting client got through"
    );
}

#[tokio::test]
async fn without_a_test_network_https_to_loopback_is_refused_even_with_the_ca() {
    let server = start_tls_server();
    let guarded = build_client(&settings_with_test_ca(false)).unwrap();

    // A host name: the resolver refuses before any connection.
    let result = raw_get(&guarded, &format!("https://localhost:{}/", server.port)).await;
    assert!(
        matches!(result, Err(HttpClientError::BlockedAddress(_))),
        "{result:?}"
    );
    settle().await;
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);

    // An IP literal that skipped check_url: it bypasses the resolver, but the TLS verifier
    // refuses the IP server name, so no HTTP request is ever sent.
    let result = raw_get(&guarded, &format!("https://127.0.0.1:{}/", server.port)).await;
    assert!(
        matches!(result, Err(HttpClientError::BlockedAddress(_))),
        "{result:?}"
    );
    settle().await;
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn a_garbage_extra_ca_file_is_a_clear_tls_error() {
    for pem in [
        &b"not a certificate at all"[..],
        b"-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n",
        b"",
    ] {
        let result = build_client(&HttpClientSettings {
            extra_ca_pem: Some(pem.to_vec()),
            ..settings(false)
        });
        match result {
            Err(HttpClientError::Tls(message)) => {
                assert!(message.contains("extra CA"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
