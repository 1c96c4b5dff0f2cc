//! HTTP signatures in our own code, on `ring`.
//!
//! activitypub_federation signs and verifies with the `rsa` crate, which is several times slower
//! and signs without blinding (RUSTSEC-2023-0071). Gloss signs its deliveries and verifies
//! incoming requests here instead, and keeps the library for everything else.
//!
//! Everything in this module is pure and synchronous: no I/O, no clock (the caller passes
//! `now`), no global state.
//!
//! # Schemes accepted
//! - draft-cavage HTTP Signatures (`Signature: keyId=...,algorithm=...,headers=...,signature=...`,
//!   also as `Authorization: Signature ...`) with `algorithm` `hs2019`, `rsa-sha256` or absent,
//!   all verified as RSASSA-PKCS1-v1_5 with SHA-256 (what `hs2019` means with an RSA key in
//!   practice), and `rsa-sha512`. The `(request-target)`, `(created)` and `(expires)`
//!   pseudo-headers are supported.
//! - RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`; the first label is used)
//!   with `alg` `rsa-v1_5-sha256`, `rsa-pss-sha512`, or absent (then either is accepted, since
//!   the key alone does not say). Components: `@method`, `@target-uri`, `@authority`, `@scheme`,
//!   `@request-target`, `@path`, `@query` and header fields.
//!
//! Anything else is an error, and every error should become a 401: Fedify tries RFC 9421 first
//! and falls back to draft-cavage only after a 401.
//!
//! # What a signature must cover
//! - the method and target: `(request-target)`, or `@method` with `@target-uri`,
//!   `@request-target` or `@path` (plus `@query` when the request has a query);
//! - our host: a signed `host` equal to ours (case-insensitive, default ports understood), or
//!   `@authority`/`@target-uri`, which we rebuild from our own public origin so they only
//!   verify when the signer meant us (Misskey CVE-2023-49079);
//! - a time: `date` or the `created` parameter;
//! - for requests with a body (any POST, PUT or PATCH, or a non-empty body): `digest` or
//!   `content-digest`, whose header must match the body.
//!
//! # Time window
//! Mastodon's: a `Date`/`created` is accepted from [`MAX_SIGNATURE_AGE`] + `max_skew` in the
//! past to `max_skew` in the future; an `expires` must not be more than `max_skew` in the past.
//! With [`DEFAULT_MAX_SKEW`] that is 13 hours back and 1 hour ahead. Replays inside the window
//! are harmless because receiving is deduplicated on the activity id.
//!
//! # Verifying a request
//! ```text
//!   parse_request(..) ──► SignedRequest { key_id } ──► caller finds the key:
//!          │                                              cache hit ─► verify(key)
//!          │                                              cache miss ─► fetch, verify(key)
//!          ▼                                                    │
//!   Err(..) ─► 401                                   Err(Invalid) on a cached key
//!                                                               │
//!                         KeyRefetchLimiter::try_acquire(key_id) allows it?
//!                           yes ─► refetch the key once, verify again (key rotation)
//!                           no  ─► 401
//! ```
//! [`parse_request`] does every check that needs no key (syntax, required components, host,
//! time, digest), so a request that fails them costs no key fetch.

mod cavage;
mod digest;
mod keys;
mod refetch;
mod rfc9421;
mod sfv;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::header::{AUTHORIZATION, DATE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::signature::{self as ring_signature, RsaParameters};
use url::Url;

pub use keys::{SigningKey, VerifyingKey};
pub use refetch::KeyRefetchLimiter;

/// How long after its `Date`/`created` a signature is accepted, before adding the clock skew
/// margin. Mastodon's `EXPIRATION_WINDOW_LIMIT`.
pub const MAX_SIGNATURE_AGE: Duration = Duration::from_secs(12 * 60 * 60);
/// The clock skew margin we pass as `max_skew`: Mastodon's `CLOCK_SKEW_MARGIN`.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(60 * 60);

/// Longest `Signature`, `Signature-Input`, `Authorization`, `Digest` or `Content-Digest` value
/// parsed; longer ones are refused unread.
const MAX_HEADER_LEN: usize = 8 * 1024;
/// Most parameters in a signature header.
const MAX_PARAMS: usize = 32;
/// Most covered components (headers) in one signature.
const MAX_COMPONENTS: usize = 30;
/// Longest key id accepted (it is a URL the caller will fetch).
const MAX_KEY_ID_LEN: usize = 2048;
/// Longest decoded signature: an 8192-bit RSA signature is 1024 bytes.
const MAX_SIGNATURE_LEN: usize = 1024;

/// Standard base64 that accepts a missing or present `=` padding: senders differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request's signature was not accepted. Every variant should be answered with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Signature`, `Signature-Input` or `Authorization: Signature` header.
    #[error("Request not signed")]
    NotSigned,
    /// A signature header (or a header it covers) could not be parsed.
    #[error("Malformed signature: {0}")]
    Malformed(String),
    /// A component we require is not covered by the signature, or a covered header is absent.
    #[error("Required component not signed or absent: {0}")]
    MissingComponent(String),
    /// The `Digest`/`Content-Digest` does not match the body.
    #[error("Invalid Digest")]
    BadDigest,
    /// The signed host is not ours: the request was signed for another server.
    #[error("Signed host does not match this server")]
    HostMismatch,
    /// The signature is too old or has expired.
    #[error("Signature expired: {0}")]
    Expired(String),
    /// The signature claims a time too far in the future.
    #[error("Signature date too far in the future: {0}")]
    ClockSkew(String),
    /// A signature or digest algorithm we do not implement.
    #[error("Unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A key could not be parsed or used.
    #[error("Unusable key: {0}")]
    BadKey(String),
    /// The signature does not verify with the key.
    #[error("Invalid signature")]
    Invalid,
}

impl SignatureError {
    /// A short human reason for the 401 body. Never contains more than a short, escaped
    /// snippet of the request.
    pub fn reason(&self) -> String {
        self.to_string()
    }

    /// Whether refetching the sender's key could help: only when the signature did not verify
    /// with a (possibly stale) cached key. Everything else fails whatever the key.
    pub fn may_be_stale_key(&self) -> bool {
        matches!(self, Self::Invalid)
    }
}

/// Which specification a request was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// draft-cavage-http-signatures (Mastodon and most of the fediverse).
    Cavage,
    /// RFC 9421 HTTP Message Signatures (Fedify tries it first).
    Rfc9421,
}

/// The RSA signature scheme a request declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Pkcs1Sha256,
    Pkcs1Sha512,
    PssSha512,
    /// RFC 9421 without `alg`: the key's algorithm is not known from an RSA public key alone.
    Pkcs1Sha256OrPssSha512,
}

static PKCS1_SHA256: [&RsaParameters; 1] = [&ring_signature::RSA_PKCS1_2048_8192_SHA256];
static PKCS1_SHA512: [&RsaParameters; 1] = [&ring_signature::RSA_PKCS1_2048_8192_SHA512];
static PSS_SHA512: [&RsaParameters; 1] = [&ring_signature::RSA_PSS_2048_8192_SHA512];
static PKCS1_SHA256_OR_PSS_SHA512: [&RsaParameters; 2] = [
    &ring_signature::RSA_PKCS1_2048_8192_SHA256,
    &ring_signature::RSA_PSS_2048_8192_SHA512,
];

impl Algorithm {
    /// The ring verification algorithms to try, in order.
    fn parameters(self) -> &'static [&'static RsaParameters] {
        match self {
            Self::Pkcs1Sha256 => &PKCS1_SHA256,
            Self::Pkcs1Sha512 => &PKCS1_SHA512,
            Self::PssSha512 => &PSS_SHA512,
            Self::Pkcs1Sha256OrPssSha512 => &PKCS1_SHA256_OR_PSS_SHA512,
        }
    }
}

/// A parsed incoming signature that passed every check that needs no key.
///
/// Fetch (or look up) the key named by `key_id`, then call [`SignedRequest::verify`].
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// The key id the sender named (an http(s) URL; usually `actor#main-key`, but GoToSocial
    /// uses `actor/main-key`). Which actor owns it is for the caller to establish.
    pub key_id: String,
    /// Which specification the request was signed with.
    pub scheme: Scheme,
    algorithm: Algorithm,
    signed_data: Vec<u8>,
    /// For signed GETs: the same signed data without the query string, because several
    /// implementations (Fedify's draft-cavage signer, older Mastodon) omit it from
    /// `(request-target)`. Mastodon accepts both forms for the same reason.
    signed_data_without_query: Option<Vec<u8>>,
    signature: Vec<u8>,
}

impl SignedRequest {
    /// Checks the signature with the sender's public key. Does not re-check time or digest.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SignatureError> {
        let candidates =
            std::iter::once(&self.signed_data).chain(self.signed_data_without_query.as_ref());
        for data in candidates {
            for parameters in self.algorithm.parameters() {
                if key.verifies(parameters, data, &self.signature) {
                    return Ok(());
                }
            }
        }
        Err(SignatureError::Invalid)
    }

    /// The exact bytes the signature is over (draft-cavage signing string or RFC 9421 signature
    /// base), for diagnostics.
    pub fn signed_data(&self) -> &[u8] {
        &self.signed_data
    }
}

/// Parses and checks an incoming request's signature, everything that needs no key.
///
/// - `path_and_query`: the request target as received (`/inbox?x=1`).
/// - `public_origin`: our public origin (`https://blog.example`; any path is ignored). The
///   signed host must match it, and RFC 9421's `@target-uri`/`@authority` are rebuilt from it,
///   because behind a reverse proxy the request itself does not say which scheme the sender used.
/// - `now`, `max_skew`: see the module's "Time window"; pass [`DEFAULT_MAX_SKEW`].
///
/// When `Host` is absent (HTTP/2 carries `:authority` instead) our own host stands in for it.
pub fn parse_request(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    public_origin: &Url,
    now: SystemTime,
    max_skew: Duration,
) -> Result<SignedRequest, SignatureError> {
    let context = RequestContext::new(
        method,
        path_and_query,
        headers,
        body,
        public_origin,
        now,
        max_skew,
    )?;
    if headers.contains_key("signature-input") {
        return rfc9421::parse(&context);
    }
    if let Some(value) = single_header(headers, "signature")? {
        return cavage::parse(&context, value);
    }
    // Some servers put a draft-cavage signature in `Authorization: Signature keyId=...`.
    if let Some(value) = single_header(headers, AUTHORIZATION.as_str())?
        && let Some(params) = value
            .get(..10)
            .filter(|scheme| scheme.eq_ignore_ascii_case("signature "))
            .and_then(|_| value.get(10..))
    {
        return cavage::parse(&context, params);
    }
    Err(SignatureError::NotSigned)
}

/// Signs an outgoing request, draft-cavage style with `algorithm="rsa-sha256"`, which every
/// fediverse server accepts (Mastodon itself sends it).
///
/// Returns the headers to set: `Date`, `Host`, `Digest` (SHA-256; when the request has a body,
/// that is for POST/PUT/PATCH or a non-empty body) and `Signature`, covering
/// `(request-target) host date [digest]`. The `Host` value equals the URL's authority, so
/// setting it changes nothing on the wire. `Content-Type` is left to the caller and not signed.
///
/// Sign each attempt anew: a retried delivery needs a fresh `Date`.
pub fn sign_request(
    method: &Method,
    url: &Url,
    body: &[u8],
    key_id: &str,
    key: &SigningKey,
    now: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, SignatureError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SignatureError::Malformed("URL is not http(s)".to_owned()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| SignatureError::Malformed("URL has no host".to_owned()))?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    if key_id.is_empty()
        || key_id.len() > MAX_KEY_ID_LEN
        || !key_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(SignatureError::Malformed(
            "key id must be printable ASCII without quotes".to_owned(),
        ));
    }
    let mut target = format!("{} {}", method.as_str().to_ascii_lowercase(), url.path());
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let date = httpdate::fmt_http_date(now);
    let digest = has_body(method, body).then(|| digest::digest_header_value(body));

    let mut signing_string = format!("(request-target): {target}\nhost: {authority}\ndate: {date}");
    let mut covered = "(request-target) host date".to_owned();
    if let Some(digest) = &digest {
        signing_string.push_str("\ndigest: ");
        signing_string.push_str(digest);
        covered.push_str(" digest");
    }
    let signature = BASE64.encode(key.sign_pkcs1_sha256(signing_string.as_bytes())?);
    let signature_header = format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{covered}\",signature=\"{signature}\""
    );

    let value = |text: &str| {
        HeaderValue::from_str(text)
            .map_err(|_| SignatureError::Malformed("header value not representable".to_owned()))
    };
    let mut out = vec![(DATE, value(&date)?), (HOST, value(&authority)?)];
    if let Some(digest) = &digest {
        out.push((HeaderName::from_static("digest"), value(digest)?));
    }
    out.push((
        HeaderName::from_static("signature"),
        value(&signature_header)?,
    ));
    Ok(out)
}

/// Whether a request is expected to carry a body that a digest must bind.
fn has_body(method: &Method, body: &[u8]) -> bool {
    !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Our public origin, split up the way host checks and RFC 9421 need it.
struct Origin {
    scheme: String,
    /// Lower-case host (url lower-cases domains); IPv6 in brackets.
    host: String,
    port: u16,
    /// The port a `Host` without one means: the scheme's default.
    default_port: u16,
    /// `host` or `host:port` when the port is not the scheme's default.
    authority: String,
}

/// Everything about the request that both schemes look at.
struct RequestContext<'a> {
    method: &'a Method,
    path_and_query: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    body: &'a [u8],
    origin: Origin,
    now: SystemTime,
    max_skew: Duration,
}

impl<'a> RequestContext<'a> {
    fn new(
        method: &'a Method,
        path_and_query: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
        public_origin: &Url,
        now: SystemTime,
        max_skew: Duration,
    ) -> Result<Self, SignatureError> {
        let host = public_origin
            .host_str()
            .ok_or_else(|| SignatureError::Malformed("our public origin has no host".to_owned()))?;
        let port = public_origin
            .port_or_known_default()
            .ok_or_else(|| SignatureError::Malformed("our public origin has no port".to_owned()))?;
        let authority = match public_origin.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let default_port = if public_origin.scheme() == "https" {
            443
        } else {
            80
        };
        let origin = Origin {
            scheme: public_origin.scheme().to_owned(),
            host: host.to_ascii_lowercase(),
            port,
            default_port,
            authority,
        };
        if !path_and_query.starts_with('/') || !path_and_query.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(SignatureError::Malformed(
                "request target is not an absolute path".to_owned(),
            ));
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Ok(Self {
            method,
            path_and_query,
            path,
            query,
            headers,
            body,
            origin,
            now,
            max_skew,
        })
    }

    fn has_body(&self) -> bool {
        has_body(self.method, self.body)
    }

    /// The value of a covered header field: every field line trimmed, joined with ", "
    /// (draft-cavage §2.3 and RFC 9421 §2.1). `None` when absent.
    fn field_value(&self, name: &str) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for value in self.headers.get_all(name) {
            let joined = out.get_or_insert_with(Vec::new);
            if !joined.is_empty() {
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(value.as_bytes().trim_ascii());
        }
        out
    }

    /// The value to sign for `host`: the header as received, checked against our origin, or
    /// our own authority when the header is absent (HTTP/2).
    fn signed_host(&self) -> Result<Vec<u8>, SignatureError> {
        let Some(value) = self.field_value(HOST.as_str()) else {
            return Ok(self.origin.authority.clone().into_bytes());
        };
        let text = std::str::from_utf8(&value).map_err(|_| SignatureError::HostMismatch)?;
        if !self.is_our_host(text) {
            return Err(SignatureError::HostMismatch);
        }
        Ok(value)
    }

    /// Case-insensitive, port-aware comparison of a `Host` value with our origin.
    /// `blog.example`, `BLOG.example:443` and `blog.example.` all match `https://blog.example`.
    fn is_our_host(&self, value: &str) -> bool {
        let (host, port) = if let Some(bracketed) = value.strip_prefix('[') {
            let Some((inside, rest)) = bracketed.split_once(']') else {
                return false;
            };
            let port = match rest {
                "" => None,
                _ => match rest.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return false,
                },
            };
            (format!("[{inside}]"), port)
        } else {
            match value.split_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (value.to_owned(), None),
            }
        };
        let port = match port {
            None => self.origin.default_port,
            Some(digits) => match digits.parse::<u16>() {
                Ok(port) if !digits.starts_with('+') => port,
                _ => return false,
            },
        };
        let host = host.strip_suffix('.').unwrap_or(&host);
        port == self.origin.port && host.eq_ignore_ascii_case(&self.origin.host)
    }

    /// Parses a covered `Date` header and checks it against the window.
    fn check_date_header(&self, value: &[u8]) -> Result<(), SignatureError> {
        let date = std::str::from_utf8(value)
            .ok()
            .and_then(|text| httpdate::parse_http_date(text).ok())
            .ok_or_else(|| SignatureError::Malformed("unparsable Date".to_owned()))?;
        self.check_signed_at("Date", date)
    }

    /// A signing time must be no older than `MAX_SIGNATURE_AGE + max_skew`, and no more than
    /// `max_skew` ahead of our clock.
    fn check_signed_at(&self, what: &str, at: SystemTime) -> Result<(), SignatureError> {
        if let Ok(ahead) = at.duration_since(self.now)
            && ahead > self.max_skew
        {
            return Err(SignatureError::ClockSkew(format!(
                "{what} is {} s ahead of our clock",
                ahead.as_secs()
            )));
        }
        if let Ok(age) = self.now.duration_since(at)
            && age > MAX_SIGNATURE_AGE.saturating_add(self.max_skew)
        {
            return Err(SignatureError::Expired(format!(
                "{what} is {} s old",
                age.as_secs()
            )));
        }
        Ok(())
    }

    /// An explicit expiry must not be more than `max_skew` in the past.
    fn check_expires(&self, expires: SystemTime) -> Result<(), SignatureError> {
        if let Ok(past) = self.now.duration_since(expires)
            && past > self.max_skew
        {
            return Err(SignatureError::Expired(format!(
                "expired {} s ago",
                past.as_secs()
            )));
        }
        Ok(())
    }
}

/// A Unix timestamp in seconds as a `SystemTime`, refusing negative or absurd values.
fn unix_time(seconds: i64, what: &str) -> Result<SystemTime, SignatureError> {
    u64::try_from(seconds)
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .ok_or_else(|| SignatureError::Malformed(format!("{what} is not a valid timestamp")))
}

/// Checks a key id: an http(s) URL of bounded length. Its owner is checked by the caller.
fn check_key_id(key_id: &str) -> Result<(), SignatureError> {
    if key_id.is_empty() {
        return Err(SignatureError::Malformed("empty keyId".to_owned()));
    }
    if key_id.len() > MAX_KEY_ID_LEN {
        return Err(SignatureError::Malformed("keyId too long".to_owned()));
    }
    match Url::parse(key_id) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(SignatureError::Malformed(
            "keyId is not an http(s) URL".to_owned(),
        )),
    }
}

/// Decodes the base64 signature value, bounded.
fn decode_signature(encoded: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let signature = BASE64
        .decode(encoded)
        .map_err(|_| SignatureError::Malformed("signature is not base64".to_owned()))?;
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_LEN {
        return Err(SignatureError::Malformed(
            "signature has an impossible length".to_owned(),
        ));
    }
    Ok(signature)
}

/// The single value of a header as text, bounded; `None` when absent. Several lines of a
/// signature header are refused: they would be ambiguous.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, SignatureError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SignatureError::Malformed(format!(
            "more than one {name} header"
        )));
    }
    Ok(Some(header_text(value, name)?))
}

/// A header value as text, refusing oversized or non-ASCII values.
fn header_text<'h>(value: &'h HeaderValue, name: &str) -> Result<&'h str, SignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed(format!("{name} header too long")));
    }
    value
        .to_str()
        .map_err(|_| SignatureError::Malformed(format!("{name} header is not visible ASCII")))
}

/// All lines of a header joined with ", " (how HTTP combines field lines), bounded.
fn joined_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, SignatureError> {
    let mut out: Option<String> = None;
    for value in headers.get_all(name) {
        let text = header_text(value, name)?;
        let joined = out.get_or_insert_with(String::new);
        if !joined.is_empty() {
            joined.push_str(", ");
        }
        joined.push_str(text);
        if joined.len() > MAX_HEADER_LEN {
            return Err(SignatureError::Malformed(format!("{name} header too long")));
        }
    }
    Ok(out)
}

/// A short, escaped snippet of untrusted text for error messages.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(40)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// RFC 9421 Appendix B.1.2, `test-key-rsa-pss`: an ordinary rsaEncryption SPKI.
#[cfg(test)]
const RFC9421_TEST_KEY_RSA_PSS: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn context_for<'a>(headers: &'a HeaderMap, origin: &str) -> RequestContext<'a> {
        static GET: Method = Method::GET;
        RequestContext::new(
            &GET,
            "/inbox",
            headers,
            b"",
            &Url::parse(origin).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            DEFAULT_MAX_SKEW,
        )
        .unwrap()
    }

    #[test]
    fn our_host_is_compared_case_insensitively_and_port_aware() {
        let headers = HeaderMap::new();
        let https = context_for(&headers, "https://blog.example");
        for ok in [
            "blog.example",
            "BLOG.Example",
            "blog.example:443",
            "blog.example.",
        ] {
            assert!(https.is_our_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "blog.example:80",
            "blog.example:8443",
            "blog.example:",
            "blog.example:+443",
            "blog.example.evil.example",
            "",
            "[::1]",
        ] {
            assert!(!https.is_our_host(bad), "{bad}");
        }
        let dev = context_for(&headers, "http://localhost:8080");
        assert!(dev.is_our_host("localhost:8080"));
        assert!(!dev.is_our_host("localhost"));
        let ipv6 = context_for(&headers, "http://[::1]:8080/");
        assert!(ipv6.is_our_host("[::1]:8080"));
        assert!(!ipv6.is_our_host("[::1]"));
        assert!(!ipv6.is_our_host("[::1"));
    }

    #[test]
    fn a_missing_host_header_stands_in_for_ours() {
        let headers = HeaderMap::new();
        let context = context_for(&headers, "https://blog.example:8443/some/path");
        assert_eq!(context.signed_host().unwrap(), b"blog.example:8443");
    }

    #[test]
    fn the_time_window_is_twelve_hours_plus_skew_back_and_skew_ahead() {
        let headers = HeaderMap::new();
        let context = context_for(&headers, "https://blog.example");
        let now = context.now;
        let hour = Duration::from_secs(3600);
        assert!(context.check_signed_at("Date", now).is_ok());
        assert!(context.check_signed_at("Date", now - 13 * hour).is_ok());
        assert!(matches!(
            context.check_signed_at("Date", now - 13 * hour - Duration::from_secs(1)),
            Err(SignatureError::Expired(_))
        ));
        assert!(context.check_signed_at("Date", now + hour).is_ok());
        assert!(matches!(
            context.check_signed_at("Date", now + hour + Duration::from_secs(1)),
            Err(SignatureError::ClockSkew(_))
        ));
        assert!(context.check_expires(now - hour).is_ok());
        assert!(
            context
                .check_expires(now - hour - Duration::from_secs(1))
                .is_err()
        );
    }

    #[test]
    fn timestamps_out_of_range_are_malformed_not_panics() {
        assert!(unix_time(-1, "created").is_err());
        assert_eq!(
            unix_time(1_700_000_000, "created").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }

    #[test]
    fn shown_truncates_and_escapes() {
        assert_eq!(shown("a\"b\n"), "a\\\"b\\n");
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 41);
    }

    #[test]
    fn key_ids_must_be_http_urls() {
        assert!(check_key_id("https://a.example/users/x#main-key").is_ok());
        assert!(check_key_id("https://gts.example/users/x/main-key").is_ok());
        for bad in [
            "",
            "main-key",
            "acct:x@a.example",
            "javascript:alert(1)",
            "https://",
        ] {
            assert!(check_key_id(bad).is_err(), "{bad}");
        }
        assert!(
            check_key_id(&format!("https://a.example/{}", "x".repeat(MAX_KEY_ID_LEN))).is_err()
        );
    }
}
