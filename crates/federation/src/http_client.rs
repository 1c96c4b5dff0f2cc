//! The one outbound HTTP client for all federation traffic (fetches and deliveries),
//! hardened against server-side request forgery (security checklist F1–F8, F13).
//!
//! Where each guard sits, and why there:
//!
//! ```text
//!  caller ── check_url ──► reqwest ── redirect policy ──► next hop (check_url again, ≤ 1 hop)
//!   (cheap pre-check)        │
//!                            ├─ host name ──► GlobalOnlyResolver ──► connect   (every new
//!                            │                (drops non-global addresses)       connection)
//!                            └─ IP literal ─► connect ──► TLS verifier refuses
//!                                             (check_url rejects these earlier)
//! ```
//!
//! * The resolver is the real guard: it runs for every new connection, including each
//!   redirect hop and each delivery retry, so a name that resolved to a public address
//!   when it was queued and to a private one now (DNS rebinding, F4/F13) is refused
//!   before any TCP connection is opened.
//! * IP-literal URLs never reach a resolver (hyper connects to them directly), so
//!   [`check_url`] and the redirect policy reject them. As a second line for callers that
//!   forget `check_url`, the TLS verifier refuses IP-address server names in production;
//!   the TCP handshake has then happened, but no HTTP request is ever sent.
//! * Production is HTTPS only; plain HTTP, loopback and private addresses are allowed only
//!   with `allow_private_addresses`, a test-network setting that logs a warning.
//! * Bodies are read through [`read_body_limited`], which counts bytes after gzip
//!   decompression, and every request has a total deadline that includes the body (F7, F8).

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use url::{Host, Url};

/// Largest ActivityStreams document we accept, counted after decompression (F8).
pub const MAX_FETCH_BODY: usize = 1024 * 1024;

/// Total deadline of a request, body included, unless the settings say otherwise (F7).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Deadline for opening a TCP connection (and the TLS handshake) to one peer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many redirects are followed; each hop is validated again (F5).
pub const MAX_REDIRECTS: usize = 1;

/// The `Accept` header of ActivityStreams fetches, as the ActivityPub spec asks.
pub const ACTIVITY_ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Longest document `id` quoted in an [`HttpClientError::IdMismatch`].
const MAX_ID_LENGTH: usize = 2048;

/// User agent sent when the settings leave it empty.
const DEFAULT_USER_AGENT: &str = concat!("Gloss/", env!("CARGO_PKG_VERSION"));

/// Settings of the federation HTTP client. The binary composes these from
/// `GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES`, `GLOSS_FEDERATION_EXTRA_CA` and the
/// instance's user agent; construct with `..Default::default()` so new fields don't break
/// callers.
#[derive(Debug, Clone, Default)]
pub struct HttpClientSettings {
    /// Test networks only: lets Gloss reach peers on loopback and private addresses and
    /// over plain HTTP. Off by default; a warning is logged when on.
    pub allow_private_addresses: bool,
    /// Contents of a PEM file with extra CA certificates to trust besides the system
    /// roots (a test network's own CA). A warning is logged when set.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// `User-Agent` header; empty means `Gloss/<version>`.
    pub user_agent: String,
    /// Total deadline of one request, body included; `None` means 20 s. Tests shorten it.
    pub request_timeout: Option<Duration>,
    /// Return every 3xx response to the caller instead of following it: for clients whose
    /// protocol forbids redirects (inbox deliveries, checklist Q11; WebFinger, F5).
    pub refuse_redirects: bool,
}

/// Why an outbound federation request failed. Messages never contain response bodies (F3).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpClientError {
    /// The URL's host is, or resolves only to, loopback, private or reserved addresses.
    #[error("blocked address: {0}")]
    BlockedAddress(String),
    /// The URL is unusable for federation (scheme, userinfo, missing host, IP literal),
    /// or a redirect pointed at such a URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The peer redirected more than [`MAX_REDIRECTS`] times.
    #[error("too many redirects")]
    TooManyRedirects,
    /// The body is larger than the limit, counted after decompression.
    #[error("response body too large")]
    BodyTooLarge,
    /// The response is not an ActivityStreams document (F2); carries the media type seen.
    #[error("wrong content type: {0}")]
    WrongContentType(String),
    /// The document's `id` is not the URL it was fetched from (F1).
    #[error("document id {found:?} does not match the URL it was fetched from ({expected})")]
    IdMismatch {
        /// The final URL, after redirects.
        expected: String,
        /// The document's `id` (empty when it has none or it is over 2048 bytes).
        found: String,
    },
    /// The peer answered with this unexpected HTTP status.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The connection or the whole request took too long.
    #[error("request timed out")]
    Timeout,
    /// The peer answered 410 Gone: the object was deleted.
    #[error("the remote object is gone")]
    Gone,
    /// Any other network, protocol or decoding failure (including an invalid JSON body
    /// and a failing request signer).
    #[error("transport error: {0}")]
    Transport(String),
    /// TLS setup or handshake failure (bad extra CA file, untrusted certificate...).
    #[error("TLS error: {0}")]
    Tls(String),
}

/// Adds signature headers to an outgoing request. The instance actor signs its GETs
/// ("authorized fetch"); the signing module implements this. Called once per request,
/// just before it is sent, with the URL of the first hop.
pub trait RequestSigner: Send + Sync {
    /// Returns the headers to add (typically `Date`, `Signature`), or why signing failed.
    fn sign(&self, method: &Method, url: &Url) -> Result<Vec<(HeaderName, HeaderValue)>, String>;
}

impl<F> RequestSigner for F
where
    F: Fn(&Method, &Url) -> Result<Vec<(HeaderName, HeaderValue)>, String> + Send + Sync,
{
    fn sign(&self, method: &Method, url: &Url) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        self(method, url)
    }
}

/// Future returned by [`HostLookup::lookup`].
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Turns a host name into addresses, before the guard filters them. Production uses the
/// system resolver ([`SystemLookup`]); tests substitute a stub to play a rebinding DNS.
pub trait HostLookup: Send + Sync + 'static {
    /// Resolves `host` (a domain name, never an IP literal).
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (`getaddrinfo` via tokio), without any caching of our own so each
/// connection sees the current answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// Builds the federation client with the system resolver. See the module docs for what
/// it guards against.
pub fn build_client(settings: &HttpClientSettings) -> Result<reqwest::Client, HttpClientError> {
    build_client_with_lookup(settings, Arc::new(SystemLookup))
}

/// Builds the federation client with a custom host lookup; the address guard still
/// applies to whatever the lookup returns. Meant for tests that simulate DNS.
pub fn build_client_with_lookup(
    settings: &HttpClientSettings,
    lookup: Arc<dyn HostLookup>,
) -> Result<reqwest::Client, HttpClientError> {
    let allow_private = settings.allow_private_addresses;
    if allow_private {
        tracing::warn!(
            "federation may reach loopback and private addresses over plain HTTP \
             (allow_private_addresses); use this only on a test network"
        );
    }
    if settings.extra_ca_pem.is_some() {
        tracing::warn!("federation trusts an extra CA certificate besides the system roots");
    }

    let tls = build_tls_config(settings)?;
    let total_timeout = settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    let refuse_redirects = settings.refuse_redirects;
    let user_agent = if settings.user_agent.is_empty() {
        DEFAULT_USER_AGENT
    } else {
        settings.user_agent.as_str()
    };

    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(GlobalOnlyResolver {
            lookup,
            allow_private,
        }))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if refuse_redirects {
                return attempt.stop();
            }
            match check_redirect_hop(attempt.url(), attempt.previous(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(error) => attempt.error(error),
            }
        }))
        // A proxy would connect on our behalf and bypass the resolver guard.
        .no_proxy()
        .https_only(!allow_private)
        .referer(false)
        .connect_timeout(CONNECT_TIMEOUT.min(total_timeout))
        .timeout(total_timeout)
        .gzip(true)
        .user_agent(user_agent)
        .build()
        .map_err(|error| {
            HttpClientError::Transport(format!("cannot build the HTTP client: {error}"))
        })
}

/// A rustls configuration with the ring provider chosen here (not a process-global
/// default), the platform roots plus the extra CA, and the IP-literal guard.
fn build_tls_config(
    settings: &HttpClientSettings,
) -> Result<rustls::ClientConfig, HttpClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra_roots = match &settings.extra_ca_pem {
        Some(pem) => parse_extra_ca(pem)?,
        None => Vec::new(),
    };
    let platform =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|error| {
                HttpClientError::Tls(format!(
                    "cannot load trusted CA certificates ({error}); install the system CA \
                     bundle or set GLOSS_FEDERATION_EXTRA_CA"
                ))
            })?;
    let verifier = AddressGuardVerifier {
        inner: Arc::new(platform),
        allow_private: settings.allow_private_addresses,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| HttpClientError::Tls(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // reqwest leaves ALPN to whoever preconfigures TLS.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Parses every certificate of a PEM file; a file without any is an error rather than a
/// silently ignored setting.
fn parse_extra_ca(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            HttpClientError::Tls(format!("the extra CA file is not valid PEM: {error}"))
        })?;
    if certificates.is_empty() {
        return Err(HttpClientError::Tls(
            "the extra CA file contains no PEM certificate".to_owned(),
        ));
    }
    Ok(certificates)
}

/// Validates a URL before any request: a cheap pre-check without DNS (the resolver is the
/// real guard). Requires a host, refuses IP literals (except on a test network),
/// `localhost` names, userinfo, and any scheme but `https` (`http` too on a test network).
pub fn check_url(url: &Url, allow_private_addresses: bool) -> Result<(), HttpClientError> {
    // The host comes first so that `http://127.0.0.1/` is reported as the blocked address
    // it is rather than as a scheme problem.
    match url.host() {
        None => {
            return Err(HttpClientError::InvalidUrl(
                "the URL has no host".to_owned(),
            ));
        }
        Some(Host::Domain(domain)) => {
            let name = domain.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() {
                return Err(HttpClientError::InvalidUrl(
                    "the URL has an empty host".to_owned(),
                ));
            }
            // RFC 6761: localhost names always mean this machine, whatever DNS says.
            if !allow_private_addresses && (name == "localhost" || name.ends_with(".localhost")) {
                return Err(HttpClientError::BlockedAddress(format!(
                    "{name} is this machine"
                )));
            }
        }
        Some(Host::Ipv4(ip)) => check_ip_literal(IpAddr::V4(ip), allow_private_addresses)?,
        Some(Host::Ipv6(ip)) => check_ip_literal(IpAddr::V6(ip), allow_private_addresses)?,
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HttpClientError::InvalidUrl(
            "the URL carries a user name or password".to_owned(),
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_private_addresses => Ok(()),
        other => Err(HttpClientError::InvalidUrl(format!(
            "scheme {other:?} is not allowed"
        ))),
    }
}

/// IP literals skip DNS, hence the resolver guard, so they are refused outright in
/// production: a fediverse peer has a domain name.
fn check_ip_literal(ip: IpAddr, allow_private_addresses: bool) -> Result<(), HttpClientError> {
    if allow_private_addresses {
        Ok(())
    } else if !is_global_address(ip) {
        Err(HttpClientError::BlockedAddress(ip.to_string()))
    } else {
        Err(HttpClientError::InvalidUrl(format!(
            "IP address {ip} instead of a domain name"
        )))
    }
}

/// Decides whether a redirect to `next` may be followed, `previous` being the URLs already
/// requested (the original URL first). At most [`MAX_REDIRECTS`] hops; each hop passes
/// [`check_url`] and keeps the scheme of the hop before it.
pub fn check_redirect_hop(
    next: &Url,
    previous: &[Url],
    allow_private_addresses: bool,
) -> Result<(), HttpClientError> {
    if previous.len() > MAX_REDIRECTS {
        return Err(HttpClientError::TooManyRedirects);
    }
    check_url(next, allow_private_addresses)?;
    if let Some(last) = previous.last()
        && last.scheme() != next.scheme()
    {
        return Err(HttpClientError::InvalidUrl(format!(
            "redirect from {} to {} changes the scheme",
            last.scheme(),
            next.scheme()
        )));
    }
    Ok(())
}

/// Whether an address is globally routable, i.e. one a fediverse peer may have.
///
/// IPv4: false for 0/8, 10/8, 100.64/10, 127/8, 169.254/16 (cloud metadata), 172.16/12,
/// 192.0.0/24, the documentation nets, 192.88.99/24, 192.168/16, 198.18/15, multicast and
/// 240/4 (broadcast included). IPv6: only 2000::/3 counts as global unicast, minus
/// 2001::/23 (Teredo and other IETF assignments), 2001:db8::/32 and 3fff::/20
/// (documentation); addresses that embed an IPv4 address (`::ffff:a.b.c.d`, NAT64
/// 64:ff9b::/96, 6to4 2002::/16) are judged by that address.
pub fn is_global_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network"
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || a == 127
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, 240/4 reserved, broadcast
    !blocked
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_global_v4(v4);
    }
    let s = ip.segments();
    // Everything outside 2000::/3 (::, ::1, ::/96, 100::/64, fc00::/7, fe80::/10,
    // fec0::/10, ff00::/8, 64:ff9b:1::/48, 5f00::/16...) is special-purpose or unassigned.
    let global_unicast = s[0] & 0xe000 == 0x2000;
    let special = match (s[0], s[1]) {
        (0x2001, second) => second < 0x0200 || second == 0x0db8, // 2001::/23 (Teredo...), documentation
        (0x3fff, second) => second < 0x1000,                     // documentation (RFC 9637)
        _ => false,
    };
    global_unicast && !special
}

/// The IPv4 address inside an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16)
/// address, which is where packets to it actually go.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from_segments = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(from_segments(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(from_segments(s[1], s[2]))
    } else {
        None
    }
}

/// Reads a response body into memory, aborting with [`HttpClientError::BodyTooLarge`] as
/// soon as more than `limit` bytes have arrived. reqwest decompresses gzip transparently,
/// so the count is after decompression (a gzip bomb stops at `limit`). The client's total
/// timeout still applies to every chunk.
pub async fn read_body_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, HttpClientError> {
    // An honest Content-Length lets us refuse without reading; a lying one is caught below.
    if let Some(length) = response.content_length()
        && length > u64::try_from(limit).unwrap_or(u64::MAX)
    {
        return Err(HttpClientError::BodyTooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(HttpClientError::BodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// GETs an ActivityStreams document and returns it as JSON, after checking the URL
/// ([`check_url`]), the status (410 → [`HttpClientError::Gone`]), the media type
/// (`application/activity+json` or `application/ld+json` only; F2), the size
/// ([`MAX_FETCH_BODY`]) and that the document's `id` is the final URL after at most one
/// redirect (F1; fragments ignored on both sides). `signer` adds signature headers.
pub async fn fetch_activity_json(
    client: &reqwest::Client,
    url: &Url,
    allow_private_addresses: bool,
    signer: Option<&dyn RequestSigner>,
) -> Result<serde_json::Value, HttpClientError> {
    check_url(url, allow_private_addresses)?;
    let mut request = client.get(url.clone()).header(ACCEPT, ACTIVITY_ACCEPT);
    if let Some(signer) = signer {
        let headers = signer.sign(&Method::GET, url).map_err(|error| {
            HttpClientError::Transport(format!("signing the request failed: {error}"))
        })?;
        for (name, value) in headers {
            request = request.header(name, value);
        }
    }
    let response = request.send().await?;

    let status = response.status();
    if status == StatusCode::GONE {
        return Err(HttpClientError::Gone);
    }
    if !status.is_success() {
        return Err(HttpClientError::Status(status.as_u16()));
    }
    check_activity_content_type(response.headers().get(CONTENT_TYPE))?;

    let final_url = response.url().clone();
    let body = read_body_limited(response, MAX_FETCH_BODY).await?;
    // serde_json's messages can quote the input; report only the position.
    let document: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        HttpClientError::Transport(format!(
            "the response is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ))
    })?;
    check_document_id(&document, &final_url)?;
    Ok(document)
}

/// F2: only the two ActivityStreams media types are accepted, whatever their parameters.
fn check_activity_content_type(value: Option<&HeaderValue>) -> Result<(), HttpClientError> {
    let Some(value) = value else {
        return Err(HttpClientError::WrongContentType("none".to_owned()));
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|text| text.split(';').next())
        .map(|media_type| media_type.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/activity+json" | "application/ld+json" => Ok(()),
        _ => Err(HttpClientError::WrongContentType(describe_media_type(
            &essence,
        ))),
    }
}

/// A log-safe rendering of a media type the peer sent: short, and only token characters.
fn describe_media_type(essence: &str) -> String {
    let printable = !essence.is_empty()
        && essence.len() <= 64
        && essence
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/+-.!#$&^_".contains(&byte));
    if printable {
        essence.to_owned()
    } else {
        "unrecognized".to_owned()
    }
}

/// F1: the document must be the one its URL names, or a peer could serve someone else's
/// objects.
fn check_document_id(document: &serde_json::Value, final_url: &Url) -> Result<(), HttpClientError> {
    let mut expected = final_url.clone();
    expected.set_fragment(None);
    let found = document
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let matches = Url::parse(found)
        .map(|mut id| {
            id.set_fragment(None);
            id == expected
        })
        .unwrap_or(false);
    if matches {
        Ok(())
    } else {
        Err(HttpClientError::IdMismatch {
            expected: expected.to_string(),
            // The id is passed on whole (callers may follow it, e.g. a key's owner), but
            // an absurdly long one is response data we don't carry around.
            found: if found.len() <= MAX_ID_LENGTH {
                found.to_owned()
            } else {
                String::new()
            },
        })
    }
}

impl From<reqwest::Error> for HttpClientError {
    /// Classifies a reqwest failure, recovering the guard errors that the resolver, the
    /// redirect policy and the TLS verifier raised inside it.
    fn from(error: reqwest::Error) -> Self {
        let mut current: Option<&(dyn StdError + 'static)> = Some(&error);
        while let Some(source) = current {
            if let Some(found) = classify_source(source) {
                return found;
            }
            // io::Error::source skips the error it wraps (hyper-rustls nests two of them
            // around the rustls error), so step into it explicitly.
            current = match source.downcast_ref::<io::Error>() {
                Some(io_error) => io_error
                    .get_ref()
                    .map(|inner| inner as &(dyn StdError + 'static)),
                None => source.source(),
            };
        }
        if error.is_timeout() {
            return HttpClientError::Timeout;
        }
        let message = error_chain(&error);
        if error.is_builder() {
            HttpClientError::InvalidUrl(message)
        } else {
            HttpClientError::Transport(message)
        }
    }
}

/// Our own error or a rustls error somewhere in a reqwest error's chain.
fn classify_source(source: &(dyn StdError + 'static)) -> Option<HttpClientError> {
    if let Some(own) = source.downcast_ref::<HttpClientError>() {
        return Some(own.clone());
    }
    let tls = source.downcast_ref::<rustls::Error>()?;
    let wrapped = match tls {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))
        | rustls::Error::Other(OtherError(inner)) => inner.downcast_ref::<HttpClientError>(),
        _ => None,
    };
    Some(match wrapped {
        Some(own) => own.clone(),
        None => HttpClientError::Tls(tls.to_string()),
    })
}

/// "outer: inner: innermost", for errors that fit no finer variant.
fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut current = error.source();
    while let Some(source) = current {
        message.push_str(": ");
        message.push_str(&source.to_string());
        current = source.source();
    }
    message
}

/// The connect-time guard: resolves host names and drops every address that is not
/// globally routable, so each new connection (first request, redirect hop, retry) is
/// judged by the current DNS answer.
struct GlobalOnlyResolver {
    lookup: Arc<dyn HostLookup>,
    allow_private: bool,
}

impl Resolve for GlobalOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.clone();
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = lookup.lookup(&host).await?;
            if resolved.is_empty() {
                return Err(HttpClientError::Transport(format!("{host} has no address")).into());
            }
            let kept: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|ip| allow_private || is_global_address(*ip))
                // Port 0 is replaced by the URL's port (or the scheme's default) by reqwest.
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if kept.is_empty() {
                tracing::warn!(%host, "refused to connect: the host resolves only to non-public addresses");
                return Err(HttpClientError::BlockedAddress(format!(
                    "{host} resolves only to non-public addresses"
                ))
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// Wraps the platform verifier to refuse IP-address server names in production: the
/// second line of defence for IP-literal URLs that skipped [`check_url`] (they bypass
/// the resolver). No HTTP request reaches such a host.
#[derive(Debug)]
struct AddressGuardVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    allow_private: bool,
}

impl ServerCertVerifier for AddressGuardVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let ServerName::IpAddress(ip) = server_name
            && let Err(error) = check_ip_literal(IpAddr::from(*ip), self.allow_private)
        {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(error)),
            )));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_ipv4_is_read_from_each_transition_prefix() {
        let mapped: Ipv6Addr = "::ffff:10.1.2.3".parse().unwrap();
        let nat64: Ipv6Addr = "64:ff9b::a01:203".parse().unwrap();
        let six_to_four: Ipv6Addr = "2002:a01:203::1".parse().unwrap();
        for ip in [mapped, nat64, six_to_four] {
            assert_eq!(embedded_ipv4(ip), Some(Ipv4Addr::new(10, 1, 2, 3)), "{ip}");
        }
        assert_eq!(embedded_ipv4("2a01:4f8::1".parse().unwrap()), None);
    }

    #[test]
    fn a_media_type_with_odd_characters_is_not_echoed() {
        assert_eq!(describe_media_type("text/html"), "text/html");
        assert_eq!(describe_media_type("text/html<script>"), "unrecognized");
        assert_eq!(describe_media_type(""), "unrecognized");
    }

    #[test]
    fn garbage_extra_ca_is_a_clear_error() {
        let error = parse_extra_ca(b"not a certificate").unwrap_err();
        assert!(matches!(error, HttpClientError::Tls(ref m) if m.contains("no PEM certificate")));
    }
}
