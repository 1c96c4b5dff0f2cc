#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HTTP signatures through our own code: round trips, requests signed by activitypub_federation
//! and by hand (draft-cavage and RFC 9421), and the signature items of the security checklist
//! (S1-S6, S11, S14).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::http_signatures::generate_actor_keypair;
use activitypub_federation::traits::{Actor, Object};
use axum::http::header::{AUTHORIZATION, DATE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use gloss_federation::signatures::{
    DEFAULT_MAX_SKEW, KeyRefetchLimiter, Scheme, SignatureError, SignedRequest, SigningKey,
    VerifyingKey, parse_request, sign_request,
};
use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{self as ring_signature, RsaKeyPair};
use url::Url;

const ORIGIN: &str = "https://blog.test";
const KEY_ID: &str = "https://remote.example/users/alice#main-key";
const BODY: &[u8] = br#"{"type":"Create","id":"https://remote.example/notes/1/create"}"#;

struct TestKey {
    private_pem: String,
    public_pem: String,
    signing: SigningKey,
    verifying: VerifyingKey,
    ring_pair: RsaKeyPair,
}

fn test_key() -> TestKey {
    let keypair = generate_actor_keypair().unwrap();
    TestKey {
        signing: SigningKey::from_pkcs8_pem(&keypair.private_key).unwrap(),
        verifying: VerifyingKey::from_pem(&keypair.public_key).unwrap(),
        ring_pair: RsaKeyPair::from_pkcs8(&pem_body(&keypair.private_key)).unwrap(),
        private_pem: keypair.private_key,
        public_pem: keypair.public_key,
    }
}

/// The sender in most tests.
static ALICE: LazyLock<TestKey> = LazyLock::new(test_key);
/// Someone else, whose key must not verify Alice's requests.
static MALLORY: LazyLock<TestKey> = LazyLock::new(test_key);

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    BASE64.decode(body).unwrap()
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// A fixed "now" so dates are reproducible.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

fn hours(count: u64) -> Duration {
    Duration::from_secs(count * 3600)
}

fn to_header_map(pairs: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(name, value);
    }
    headers
}

/// Headers of a POST to `url` signed by us as Alice at `at`.
fn signed_by_us(method: &Method, url: &str, body: &[u8], at: SystemTime) -> HeaderMap {
    to_header_map(
        sign_request(
            method,
            &Url::parse(url).unwrap(),
            body,
            KEY_ID,
            &ALICE.signing,
            at,
        )
        .unwrap(),
    )
}

fn parse(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SignedRequest, SignatureError> {
    parse_request(
        method,
        path,
        headers,
        body,
        &origin(),
        now(),
        DEFAULT_MAX_SKEW,
    )
}

/// Parses and verifies with Alice's key.
fn check(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    parse(method, path, headers, body)?.verify(&ALICE.verifying)
}

fn sign_with_ring(algorithm: &'static dyn ring_signature::RsaEncoding, message: &[u8]) -> String {
    let mut out = vec![0; ALICE.ring_pair.public().modulus_len()];
    ALICE
        .ring_pair
        .sign(algorithm, &SystemRandom::new(), message, &mut out)
        .unwrap();
    BASE64.encode(out)
}

fn sha256_digest(body: &[u8]) -> String {
    BASE64.encode(ring::digest::digest(&ring::digest::SHA256, body))
}

/// A draft-cavage request signed by hand, the way other servers build it.
struct Cavage<'a> {
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'a str, String)>,
    covered: String,
    /// Raw extra parameters, e.g. `created=123,` placed before `headers=`.
    extra_params: String,
    algorithm: Option<&'a str>,
    key_id: &'a str,
}

impl<'a> Cavage<'a> {
    /// A POST to our inbox the way Mastodon sends it.
    fn post(path: &'a str, body: &[u8]) -> Self {
        Self {
            method: "post",
            path,
            headers: vec![
                ("host", "blog.test".to_owned()),
                ("date", httpdate::fmt_http_date(now())),
                ("digest", format!("SHA-256={}", sha256_digest(body))),
                ("content-type", "application/activity+json".to_owned()),
            ],
            covered: "(request-target) host date digest content-type".to_owned(),
            extra_params: String::new(),
            algorithm: Some("rsa-sha256"),
            key_id: KEY_ID,
        }
    }

    fn header(mut self, name: &'a str, value: &str) -> Self {
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    fn signing_string(&self) -> String {
        let params: Vec<(&str, &str)> = self
            .extra_params
            .split(',')
            .filter_map(|param| param.split_once('='))
            .collect();
        self.covered
            .split(' ')
            .map(|name| {
                let value = match name {
                    "(request-target)" => format!("{} {}", self.method, self.path),
                    "(created)" | "(expires)" => {
                        let key = name.trim_matches(|c| c == '(' || c == ')');
                        params
                            .iter()
                            .find(|(param, _)| *param == key)
                            .map(|(_, value)| value.to_string())
                            .unwrap_or_default()
                    }
                    header => self
                        .headers
                        .iter()
                        .filter(|(existing, _)| *existing == header)
                        .map(|(_, value)| value.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                format!("{name}: {value}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn signature_header(&self, signature: &str) -> String {
        let algorithm = self
            .algorithm
            .map(|algorithm| format!("algorithm=\"{algorithm}\","))
            .unwrap_or_default();
        format!(
            "keyId=\"{}\",{algorithm}{}headers=\"{}\",signature=\"{signature}\"",
            self.key_id, self.extra_params, self.covered
        )
    }

    fn headers_with(&self, signature_header: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers.insert(
            "signature",
            HeaderValue::from_str(signature_header).unwrap(),
        );
        headers
    }

    fn sign(&self) -> HeaderMap {
        let signature = sign_with_ring(
            &ring_signature::RSA_PKCS1_SHA256,
            self.signing_string().as_bytes(),
        );
        self.headers_with(&self.signature_header(&signature))
    }
}

/// An RFC 9421 request signed by hand, shaped like Fedify's: components
/// `@method @target-uri @authority host date content-digest`, `alg="rsa-v1_5-sha256"`.
struct Rfc9421<'a> {
    method: &'a str,
    target_uri: String,
    headers: Vec<(&'a str, String)>,
    components: Vec<&'a str>,
    params: String,
}

impl<'a> Rfc9421<'a> {
    fn post(path: &str, body: &[u8]) -> Self {
        Self {
            method: "POST",
            target_uri: format!("{ORIGIN}{path}"),
            headers: vec![
                ("host", "blog.test".to_owned()),
                ("date", httpdate::fmt_http_date(now())),
                (
                    "content-digest",
                    format!("sha-256=:{}:", sha256_digest(body)),
                ),
            ],
            components: vec![
                "@method",
                "@target-uri",
                "@authority",
                "host",
                "date",
                "content-digest",
            ],
            params: format!(
                "alg=\"rsa-v1_5-sha256\";keyid=\"{KEY_ID}\";created={}",
                now().duration_since(UNIX_EPOCH).unwrap().as_secs()
            ),
        }
    }

    fn header(mut self, name: &'a str, value: &str) -> Self {
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    fn signature_input(&self) -> String {
        let components: Vec<String> = self.components.iter().map(|c| format!("\"{c}\"")).collect();
        format!("({});{}", components.join(" "), self.params)
    }

    fn base(&self) -> String {
        let url = Url::parse(&self.target_uri).unwrap();
        let mut lines: Vec<String> = self
            .components
            .iter()
            .map(|component| {
                let value = match *component {
                    "@method" => self.method.to_owned(),
                    "@target-uri" => self.target_uri.clone(),
                    "@authority" => url.host_str().unwrap().to_owned(),
                    "@path" => url.path().to_owned(),
                    "@query" => format!("?{}", url.query().unwrap_or_default()),
                    header => self
                        .headers
                        .iter()
                        .find(|(name, _)| *name == header)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default(),
                };
                format!("\"{component}\": {value}")
            })
            .collect();
        lines.push(format!("\"@signature-params\": {}", self.signature_input()));
        lines.join("\n")
    }

    fn sign(&self) -> HeaderMap {
        let algorithm: &'static dyn ring_signature::RsaEncoding =
            if self.params.contains("rsa-pss-sha512") {
                &ring_signature::RSA_PSS_SHA512
            } else {
                &ring_signature::RSA_PKCS1_SHA256
            };
        let signature = sign_with_ring(algorithm, self.base().as_bytes());
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers.insert(
            "signature-input",
            HeaderValue::from_str(&format!("sig1={}", self.signature_input())).unwrap(),
        );
        headers.insert(
            "signature",
            HeaderValue::from_str(&format!("sig1=:{signature}:")).unwrap(),
        );
        headers
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn our_spki_reader_agrees_with_ring_on_the_public_key() {
    assert_eq!(ALICE.signing.verifying_key().unwrap(), ALICE.verifying);
    assert_eq!(ALICE.verifying.modulus_bits(), 2048);
    assert!(ALICE.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[test]
fn signing_keys_do_not_print_their_secret() {
    let debug = format!("{:?}", ALICE.signing);
    assert_eq!(debug, "SigningKey { modulus_bits: 2048, .. }");
    assert!(!ALICE.private_pem.contains(&debug));
}

#[test]
fn a_public_key_is_not_a_signing_key_and_vice_versa() {
    assert!(matches!(
        SigningKey::from_pkcs8_pem(&ALICE.public_pem),
        Err(SignatureError::BadKey(_))
    ));
    assert!(matches!(
        VerifyingKey::from_pem(&ALICE.private_pem),
        Err(SignatureError::BadKey(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn a_post_we_sign_parses_and_verifies() {
    let headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
    let signed = parse(&Method::POST, "/inbox", &headers, BODY).unwrap();
    assert_eq!(signed.key_id, KEY_ID);
    assert_eq!(signed.scheme, Scheme::Cavage);
    signed.verify(&ALICE.verifying).unwrap();
}

#[test]
fn what_we_sign_covers_target_host_date_and_digest() {
    let headers = signed_by_us(&Method::POST, "https://blog.test/inbox?x=1", BODY, now());
    let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["date", "host", "digest", "signature"]);
    assert_eq!(headers[HOST], "blog.test");
    assert_eq!(headers[DATE], httpdate::fmt_http_date(now()));
    assert_eq!(
        headers["digest"].to_str().unwrap(),
        format!("SHA-256={}", sha256_digest(BODY))
    );
    let signature = headers["signature"].to_str().unwrap();
    assert!(signature.starts_with(&format!(
        "keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\",signature=\""
    )));
    let signed = parse(&Method::POST, "/inbox?x=1", &headers, BODY).unwrap();
    assert!(
        String::from_utf8_lossy(signed.signed_data())
            .starts_with("(request-target): post /inbox?x=1\n")
    );
}

#[test]
fn a_get_we_sign_has_no_digest_and_verifies() {
    let headers = signed_by_us(
        &Method::GET,
        "https://blog.test/users/blog?page=2",
        b"",
        now(),
    );
    assert!(!headers.contains_key("digest"));
    check(&Method::GET, "/users/blog?page=2", &headers, b"").unwrap();
}

#[test]
fn a_non_default_port_is_part_of_the_signed_host() {
    let headers = signed_by_us(&Method::POST, "http://localhost:8080/inbox", BODY, now());
    assert_eq!(headers[HOST], "localhost:8080");
    let signed = parse_request(
        &Method::POST,
        "/inbox",
        &headers,
        BODY,
        &Url::parse("http://localhost:8080").unwrap(),
        now(),
        DEFAULT_MAX_SKEW,
    )
    .unwrap();
    signed.verify(&ALICE.verifying).unwrap();
}

#[test]
fn another_key_does_not_verify_and_suggests_a_refetch() {
    let headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
    let error = parse(&Method::POST, "/inbox", &headers, BODY)
        .unwrap()
        .verify(&MALLORY.verifying)
        .unwrap_err();
    assert_eq!(error, SignatureError::Invalid);
    assert!(error.may_be_stale_key());
    assert!(!SignatureError::BadDigest.may_be_stale_key());
}

#[test]
fn a_key_rotation_is_followed_at_most_once_per_interval() {
    // The flow the inbox follows: the cached key fails, one refetch is allowed, the fresh key
    // verifies; a flood of bad signatures in the same name gets no more refetches.
    let limiter = KeyRefetchLimiter::default();
    let headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
    let signed = parse(&Method::POST, "/inbox", &headers, BODY).unwrap();
    let cached = &MALLORY.verifying; // stale
    let error = signed.verify(cached).unwrap_err();
    let start = std::time::Instant::now();
    assert!(error.may_be_stale_key() && limiter.try_acquire(&signed.key_id, start));
    signed.verify(&ALICE.verifying).unwrap(); // the refetched key
    assert!(!limiter.try_acquire(&signed.key_id, start + Duration::from_secs(10)));
}

// ---------------------------------------------------------------------------------------------
// Requests signed by others

/// A minimal actor so activitypub_federation's own signing code can be driven.
#[derive(Debug, Clone)]
struct LibraryActor {
    id: Url,
    public_key_pem: String,
    private_key_pem: String,
}

#[async_trait::async_trait]
impl Object for LibraryActor {
    type DataType = ();
    type Kind = ();
    type Error = String;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(_: Url, _: &Data<()>) -> Result<Option<Self>, String> {
        Ok(None)
    }

    async fn into_json(self, _: &Data<()>) -> Result<(), String> {
        Ok(())
    }

    async fn verify(_: &(), _: &Url, _: &Data<()>) -> Result<(), String> {
        Ok(())
    }

    async fn from_json(_: (), _: &Data<()>) -> Result<Self, String> {
        Err("not used".to_owned())
    }
}

impl Actor for LibraryActor {
    fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_key_pem.clone())
    }

    fn inbox(&self) -> Url {
        self.id.join("inbox").unwrap()
    }
}

#[tokio::test]
async fn requests_signed_by_activitypub_federation_verify() {
    // reqwest is built with `rustls-no-provider`.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let actor = LibraryActor {
        id: Url::parse("https://remote.example/users/alice").unwrap(),
        public_key_pem: ALICE.public_pem.clone(),
        private_key_pem: ALICE.private_pem.clone(),
    };
    // compat = false: hs2019 with (created) and (expires); true: draft-10 style with Date only.
    for compat in [false, true] {
        let config = FederationConfig::builder()
            .domain("remote.example")
            .app_data(())
            .debug(true)
            .http_signature_compat(compat)
            .signed_fetch_actor(&actor)
            .build()
            .await
            .unwrap();
        let data = config.to_request_data();
        let client = reqwest_middleware::ClientWithMiddleware::from(reqwest::Client::new());
        // The headers the library's delivery task puts on every request before signing
        // (`generate_request_headers`); in compat mode it would add Host and Date itself.
        let request = data
            .sign_request(
                client
                    .post("https://blog.test/inbox")
                    .header("content-type", "application/activity+json")
                    .header("host", "blog.test")
                    .header("date", httpdate::fmt_http_date(SystemTime::now())),
                bytes::Bytes::from_static(BODY),
            )
            .await
            .unwrap();
        let headers = request.headers().clone();
        let signature = headers["signature"].to_str().unwrap().to_owned();
        assert_eq!(signature.contains("(created)"), !compat, "{signature}");

        let signed = parse_request(
            &Method::POST,
            "/inbox",
            &headers,
            BODY,
            &origin(),
            SystemTime::now(),
            DEFAULT_MAX_SKEW,
        )
        .unwrap();
        assert_eq!(signed.key_id, "https://remote.example/users/alice#main-key");
        signed.verify(&ALICE.verifying).unwrap();

        // And the library's signature is bound to the body like ours.
        assert_eq!(
            parse_request(
                &Method::POST,
                "/inbox",
                &headers,
                b"{}",
                &origin(),
                SystemTime::now(),
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            SignatureError::BadDigest
        );
    }
}

#[test]
fn a_mastodon_style_post_verifies() {
    let request = Cavage::post("/inbox", BODY);
    check(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
}

#[test]
fn hs2019_and_a_missing_algorithm_mean_rsa_sha256() {
    for algorithm in [Some("hs2019"), Some("RSA-SHA256"), None] {
        let mut request = Cavage::post("/inbox", BODY);
        request.algorithm = algorithm;
        check(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
    }
}

#[test]
fn rsa_sha512_verifies_as_pkcs1_sha512() {
    let mut request = Cavage::post("/inbox", BODY);
    request.algorithm = Some("rsa-sha512");
    let signature = sign_with_ring(
        &ring_signature::RSA_PKCS1_SHA512,
        request.signing_string().as_bytes(),
    );
    let headers = request.headers_with(&request.signature_header(&signature));
    check(&Method::POST, "/inbox", &headers, BODY).unwrap();
}

#[test]
fn a_bovine_lower_case_digest_algorithm_is_accepted() {
    let request =
        Cavage::post("/inbox", BODY).header("digest", &format!("sha-256={}", sha256_digest(BODY)));
    check(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
}

#[test]
fn a_gotosocial_key_id_without_a_fragment_is_accepted() {
    let mut request = Cavage::post("/inbox", BODY);
    request.key_id = "https://gts.example/users/alice/main-key";
    let signed = parse(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
    assert_eq!(signed.key_id, "https://gts.example/users/alice/main-key");
    signed.verify(&ALICE.verifying).unwrap();
}

#[test]
fn the_authorization_header_form_is_accepted() {
    let request = Cavage::post("/inbox", BODY);
    let mut headers = request.sign();
    let signature = headers.remove("signature").unwrap();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Signature {}", signature.to_str().unwrap())).unwrap(),
    );
    check(&Method::POST, "/inbox", &headers, BODY).unwrap();
}

#[test]
fn created_and_expires_pseudo_headers_are_checked() {
    let at = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let make = |created: u64, expires: u64| {
        let mut request = Cavage::post("/inbox", BODY);
        request.algorithm = Some("hs2019");
        request.covered = "(request-target) (created) (expires) host digest".to_owned();
        request.extra_params = format!("created={created},expires={expires},");
        request.sign()
    };
    check(&Method::POST, "/inbox", &make(at - 10, at + 3600), BODY).unwrap();
    assert!(matches!(
        check(
            &Method::POST,
            "/inbox",
            &make(at - 14 * 3600, at + 3600),
            BODY
        ),
        Err(SignatureError::Expired(_))
    ));
    assert!(matches!(
        check(
            &Method::POST,
            "/inbox",
            &make(at - 7200, at - 3601 - 60),
            BODY
        ),
        Err(SignatureError::Expired(_))
    ));
    assert!(matches!(
        check(
            &Method::POST,
            "/inbox",
            &make(at + 2 * 3600, at + 3 * 3600),
            BODY
        ),
        Err(SignatureError::ClockSkew(_))
    ));
}

#[test]
fn repeated_header_lines_are_joined_with_comma_space() {
    let mut request = Cavage::post("/inbox", BODY).header("x-extra", "one");
    request.headers.push(("x-extra", "two".to_owned()));
    request.covered = "(request-target) host date digest x-extra".to_owned();
    let headers = request.sign();
    let signed = parse(&Method::POST, "/inbox", &headers, BODY).unwrap();
    assert!(String::from_utf8_lossy(signed.signed_data()).ends_with("\nx-extra: one, two"));
    signed.verify(&ALICE.verifying).unwrap();
}

#[test]
fn a_get_signed_without_its_query_is_accepted_but_a_post_is_not() {
    // Fedify's draft-cavage signer leaves the query out of (request-target).
    let mut get = Cavage::post("/users/blog/outbox", b"");
    get.method = "get";
    get.covered = "(request-target) host date".to_owned();
    let headers = get.sign();
    check(&Method::GET, "/users/blog/outbox?page=1", &headers, b"").unwrap();

    let post = Cavage::post("/inbox", BODY);
    assert_eq!(
        check(&Method::POST, "/inbox?x=1", &post.sign(), BODY),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn a_fedify_style_rfc_9421_post_verifies() {
    let request = Rfc9421::post("/inbox", BODY);
    let signed = parse(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
    assert_eq!(signed.scheme, Scheme::Rfc9421);
    assert_eq!(signed.key_id, KEY_ID);
    assert_eq!(
        String::from_utf8(signed.signed_data().to_vec()).unwrap(),
        request.base()
    );
    signed.verify(&ALICE.verifying).unwrap();
}

#[test]
fn rfc_9421_with_path_and_query_and_pss_verifies() {
    let mut request = Rfc9421::post("/inbox?a=1", BODY);
    request.components = vec!["@method", "@path", "@query", "@authority", "content-digest"];
    request.params = format!(
        "created={};keyid=\"{KEY_ID}\";alg=\"rsa-pss-sha512\"",
        now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    );
    let headers = request.sign();
    check(&Method::POST, "/inbox?a=1", &headers, BODY).unwrap();
    assert_eq!(
        check(&Method::POST, "/inbox?a=2", &headers, BODY),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn rfc_9421_uses_the_first_label() {
    let request = Rfc9421::post("/inbox", BODY);
    let mut headers = request.sign();
    let input = headers["signature-input"].to_str().unwrap().to_owned();
    let signature = headers["signature"].to_str().unwrap().to_owned();
    headers.insert(
        "signature-input",
        HeaderValue::from_str(&format!("{input}, proxy=(\"@method\");keyid=\"x\"")).unwrap(),
    );
    headers.insert(
        "signature",
        HeaderValue::from_str(&format!("proxy=:AAAA:, {signature}")).unwrap(),
    );
    check(&Method::POST, "/inbox", &headers, BODY).unwrap();
}

#[test]
fn rfc_9421_signed_for_another_server_does_not_verify_here() {
    // Captured at evil.example and replayed to us with our Host: the @target-uri we rebuild
    // from our own origin differs from the one signed.
    let mut request = Rfc9421::post("/inbox", BODY);
    request.target_uri = "https://evil.example/inbox".to_owned();
    request.components = vec!["@method", "@target-uri", "date", "content-digest"];
    assert_eq!(
        check(&Method::POST, "/inbox", &request.sign(), BODY),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn rfc_9421_requirements_are_enforced() {
    let at = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let cases: Vec<(Vec<&str>, String, SignatureError)> = vec![
        (
            vec!["@target-uri", "date", "content-digest"],
            format!("keyid=\"{KEY_ID}\""),
            SignatureError::MissingComponent("@method".to_owned()),
        ),
        (
            vec!["@method", "@authority", "date", "content-digest"],
            format!("keyid=\"{KEY_ID}\""),
            SignatureError::MissingComponent("@target-uri".to_owned()),
        ),
        (
            vec!["@method", "@path", "date", "content-digest"],
            format!("keyid=\"{KEY_ID}\""),
            SignatureError::MissingComponent("@authority".to_owned()),
        ),
        (
            vec!["@method", "@target-uri", "content-digest"],
            format!("keyid=\"{KEY_ID}\""),
            SignatureError::MissingComponent("created".to_owned()),
        ),
        (
            vec!["@method", "@target-uri", "date"],
            format!("keyid=\"{KEY_ID}\""),
            SignatureError::MissingComponent("content-digest".to_owned()),
        ),
        (
            vec!["@method", "@target-uri", "content-digest"],
            format!("keyid=\"{KEY_ID}\";created={}", at - 14 * 3600),
            SignatureError::Expired(format!("created is {} s old", 14 * 3600)),
        ),
        (
            vec!["@method", "@target-uri", "content-digest"],
            format!("keyid=\"{KEY_ID}\";created={at};alg=\"ed25519\""),
            SignatureError::UnsupportedAlgorithm("ed25519".to_owned()),
        ),
        (
            vec!["@method", "@target-uri", "content-digest", "@status"],
            format!("keyid=\"{KEY_ID}\";created={at}"),
            SignatureError::Malformed("unsupported derived component @status".to_owned()),
        ),
    ];
    for (components, params, expected) in cases {
        let mut request = Rfc9421::post("/inbox", BODY);
        request.components = components.clone();
        request.params = params;
        assert_eq!(
            check(&Method::POST, "/inbox", &request.sign(), BODY),
            Err(expected),
            "{components:?}"
        );
    }
}

#[test]
fn rfc_9421_body_tampering_is_a_bad_digest() {
    let request = Rfc9421::post("/inbox", BODY);
    assert_eq!(
        check(
            &Method::POST,
            "/inbox",
            &request.sign(),
            b"{\"type\":\"Delete\"}"
        ),
        Err(SignatureError::BadDigest)
    );
}

// ---------------------------------------------------------------------------------------------
// Security checklist

#[test]
fn s1_a_request_without_signature_is_not_signed() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("blog.test"));
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer token"));
    let error = parse(&Method::POST, "/inbox", &headers, BODY).unwrap_err();
    assert_eq!(error, SignatureError::NotSigned);
    assert_eq!(error.reason(), "Request not signed");
}

#[test]
fn s2_a_post_must_sign_its_digest() {
    let mut unsigned_digest = Cavage::post("/inbox", BODY);
    unsigned_digest.covered = "(request-target) host date content-type".to_owned();
    assert_eq!(
        check(&Method::POST, "/inbox", &unsigned_digest.sign(), BODY),
        Err(SignatureError::MissingComponent("digest".to_owned()))
    );

    let mut no_digest_header = Cavage::post("/inbox", BODY);
    no_digest_header
        .headers
        .retain(|(name, _)| *name != "digest");
    assert_eq!(
        check(&Method::POST, "/inbox", &no_digest_header.sign(), BODY),
        Err(SignatureError::MissingComponent("digest".to_owned()))
    );

    // Even an empty POST must sign a digest.
    let mut empty = Cavage::post("/inbox", b"");
    empty.covered = "(request-target) host date".to_owned();
    assert_eq!(
        check(&Method::POST, "/inbox", &empty.sign(), b""),
        Err(SignatureError::MissingComponent("digest".to_owned()))
    );
}

#[test]
fn s3_a_modified_body_is_an_invalid_digest() {
    let headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
    let error = parse(&Method::POST, "/inbox", &headers, b"{\"type\":\"Delete\"}").unwrap_err();
    assert_eq!(error, SignatureError::BadDigest);
    assert_eq!(error.reason(), "Invalid Digest");

    // The attacker also replaces the Digest header: the signature no longer matches.
    let mut headers = headers;
    headers.insert(
        "digest",
        HeaderValue::from_str(&format!("SHA-256={}", sha256_digest(b"{}"))).unwrap(),
    );
    assert_eq!(
        check(&Method::POST, "/inbox", &headers, b"{}"),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn s4_path_query_and_method_are_bound() {
    let to_blog_inbox = signed_by_us(
        &Method::POST,
        "https://blog.test/users/blog/inbox",
        BODY,
        now(),
    );
    check(&Method::POST, "/users/blog/inbox", &to_blog_inbox, BODY).unwrap();
    for (method, path) in [
        (Method::POST, "/inbox"),
        (Method::POST, "/users/blog/inbox?x=1"),
        (Method::PUT, "/users/blog/inbox"),
    ] {
        assert_eq!(
            check(&method, path, &to_blog_inbox, BODY),
            Err(SignatureError::Invalid),
            "{method} {path}"
        );
    }

    let with_query = signed_by_us(&Method::GET, "https://blog.test/users/blog?a=1", b"", now());
    check(&Method::GET, "/users/blog?a=1", &with_query, b"").unwrap();
    assert_eq!(
        check(&Method::GET, "/users/blog?a=2", &with_query, b""),
        Err(SignatureError::Invalid)
    );
    assert_eq!(
        check(&Method::GET, "/users/blog", &with_query, b""),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn s5_the_signed_host_must_be_ours() {
    let mut host_unsigned = Cavage::post("/inbox", BODY);
    host_unsigned.covered = "(request-target) date digest".to_owned();
    assert_eq!(
        check(&Method::POST, "/inbox", &host_unsigned.sign(), BODY),
        Err(SignatureError::MissingComponent("host".to_owned()))
    );

    // A delivery to evil.example replayed to us, with its Host...
    let for_evil = signed_by_us(&Method::POST, "https://evil.example/inbox", BODY, now());
    assert_eq!(
        check(&Method::POST, "/inbox", &for_evil, BODY),
        Err(SignatureError::HostMismatch)
    );
    // ...or with our Host substituted.
    let mut rewritten = for_evil.clone();
    rewritten.insert(HOST, HeaderValue::from_static("blog.test"));
    assert_eq!(
        check(&Method::POST, "/inbox", &rewritten, BODY),
        Err(SignatureError::Invalid)
    );
    // RFC 9421 `host` is checked the same way.
    let request = Rfc9421::post("/inbox", BODY).header("host", "evil.example");
    assert_eq!(
        check(&Method::POST, "/inbox", &request.sign(), BODY),
        Err(SignatureError::HostMismatch)
    );
}

#[test]
fn s5_host_spelling_variants_of_ours_are_accepted() {
    for host in ["BLOG.Test", "blog.test:443"] {
        let request = Cavage::post("/inbox", BODY).header("host", host);
        check(&Method::POST, "/inbox", &request.sign(), BODY).unwrap();
    }
    // HTTP/2 has no Host header: our host stands in for it.
    let mut headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
    headers.remove(HOST);
    check(&Method::POST, "/inbox", &headers, BODY).unwrap();
}

#[test]
fn s6_dates_are_checked_against_the_window() {
    let unparsable = Cavage::post("/inbox", BODY).header("date", "yesterday");
    assert_eq!(
        check(&Method::POST, "/inbox", &unparsable.sign(), BODY),
        Err(SignatureError::Malformed("unparsable Date".to_owned()))
    );

    let post_at = |at: SystemTime| {
        let headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, at);
        check(&Method::POST, "/inbox", &headers, BODY)
    };
    post_at(now() - hours(13)).unwrap();
    post_at(now() + hours(1)).unwrap();
    let too_old = post_at(now() - hours(13) - Duration::from_secs(1)).unwrap_err();
    assert!(matches!(too_old, SignatureError::Expired(_)), "{too_old:?}");
    assert_eq!(too_old.reason(), "Signature expired: Date is 46801 s old");
    let future = post_at(now() + hours(1) + Duration::from_secs(1)).unwrap_err();
    assert!(matches!(future, SignatureError::ClockSkew(_)), "{future:?}");

    // The window is the caller's choice of skew on top of the 12 hours.
    let headers = signed_by_us(
        &Method::POST,
        "https://blog.test/inbox",
        BODY,
        now() - hours(3),
    );
    assert!(
        parse_request(
            &Method::POST,
            "/inbox",
            &headers,
            BODY,
            &origin(),
            now(),
            Duration::ZERO
        )
        .is_ok()
    );
}

#[test]
fn s6_a_date_that_is_not_signed_does_not_count() {
    let mut request = Cavage::post("/inbox", BODY);
    request.covered = "(request-target) host digest".to_owned();
    assert_eq!(
        check(&Method::POST, "/inbox", &request.sign(), BODY),
        Err(SignatureError::MissingComponent("date".to_owned()))
    );
}

#[test]
fn s14_malformed_signature_headers_get_clean_errors() {
    let valid = Cavage::post("/inbox", BODY);
    let with_signature = |value: &str| valid.headers_with(value);
    type Expectation = fn(&SignatureError) -> bool;
    let cases: Vec<(String, Expectation)> = vec![
        (
            format!("keyId=\"{KEY_ID}\",headers=\"(request-target) host"),
            |e| matches!(e, SignatureError::Malformed(r) if r == "unbalanced quotes"),
        ),
        (
            format!(
                "keyId=\"{KEY_ID}\",algorithm=\"ecdsa-sha256\",headers=\"(request-target) host date digest\",signature=\"AAAA\""
            ),
            |e| matches!(e, SignatureError::UnsupportedAlgorithm(r) if r == "ecdsa-sha256"),
        ),
        (
            format!(
                "keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\",signature=\"%%%not base64%%%\""
            ),
            |e| matches!(e, SignatureError::Malformed(r) if r == "signature is not base64"),
        ),
        (
            "keyId=\"main-key\",headers=\"(request-target) host date digest\",signature=\"AAAA\""
                .to_owned(),
            |e| matches!(e, SignatureError::Malformed(r) if r.contains("http(s) URL")),
        ),
        (
            "keyId=\"\",headers=\"(request-target) host date digest\",signature=\"AAAA\""
                .to_owned(),
            |e| matches!(e, SignatureError::Malformed(r) if r == "empty keyId"),
        ),
        (
            "".to_owned(),
            |e| matches!(e, SignatureError::Malformed(r) if r == "empty signature header"),
        ),
        (
            format!("keyId=\"{KEY_ID}\",signature=\"AAAA\""),
            |e| matches!(e, SignatureError::MissingComponent(c) if c == "(request-target)"),
        ),
        (
            format!(
                "keyId=\"{KEY_ID}\",headers=\"(request-target) host host date digest\",signature=\"AAAA\""
            ),
            |e| matches!(e, SignatureError::Malformed(r) if r.contains("covered twice")),
        ),
        (
            format!(
                "keyId=\"{KEY_ID}\",headers=\"(request-target) (algorithm) host date digest\",signature=\"AAAA\""
            ),
            |e| matches!(e, SignatureError::Malformed(r) if r.contains("pseudo-header")),
        ),
        (
            format!("keyId=\"{KEY_ID}\",signature=\"{}\"", "A".repeat(4000)),
            |e| matches!(e, SignatureError::Malformed(r) if r.contains("impossible length")),
        ),
    ];
    for (header, expected) in cases {
        let error = check(&Method::POST, "/inbox", &with_signature(&header), BODY).unwrap_err();
        assert!(expected(&error), "{header:?} gave {error:?}");
        assert!(error.reason().len() < 120, "{}", error.reason());
    }

    // A 64 KB header is refused unread.
    let huge = format!("keyId=\"{KEY_ID}\",signature=\"{}\"", "A".repeat(64 * 1024));
    assert_eq!(
        check(&Method::POST, "/inbox", &with_signature(&huge), BODY),
        Err(SignatureError::Malformed(
            "signature header too long".to_owned()
        ))
    );

    // NUL and other control bytes cannot even be put in a HeaderValue, so they never reach
    // us; obs-text (bytes >= 0x80) can, and is refused.
    assert!(HeaderValue::from_bytes(b"keyId=\"a\0b\"").is_err());
    let mut headers = valid.headers_with("x");
    headers.insert(
        "signature",
        HeaderValue::from_bytes(b"keyId=\"https://r.example/\xff\"").unwrap(),
    );
    assert!(matches!(
        check(&Method::POST, "/inbox", &headers, BODY),
        Err(SignatureError::Malformed(_))
    ));

    // Two Signature headers are ambiguous.
    let mut headers = valid.sign();
    let signature = headers["signature"].clone();
    headers.append("signature", signature);
    assert_eq!(
        check(&Method::POST, "/inbox", &headers, BODY),
        Err(SignatureError::Malformed(
            "more than one signature header".to_owned()
        ))
    );
}

#[test]
fn s14_malformed_rfc_9421_headers_get_clean_errors() {
    let request = Rfc9421::post("/inbox", BODY);
    for (input, signature) in [
        ("sig1=(\"@method\"", "sig1=:AAAA:"),
        ("sig1=(\"@method\");keyid=\"x\"", "sig2=:AAAA:"),
        ("sig1=(\"@method\");keyid=\"x\"", "sig1=:%%%:"),
        ("sig1=(\"@method\");keyid=\"x\"", "sig1=\"AAAA\""),
        ("", "sig1=:AAAA:"),
    ] {
        let mut headers = request.sign();
        headers.insert("signature-input", HeaderValue::from_str(input).unwrap());
        headers.insert("signature", HeaderValue::from_str(signature).unwrap());
        assert!(
            matches!(
                check(&Method::POST, "/inbox", &headers, BODY),
                Err(SignatureError::Malformed(_))
            ),
            "{input} / {signature}"
        );
    }
    let mut headers = request.sign();
    headers.remove("signature");
    assert!(matches!(
        check(&Method::POST, "/inbox", &headers, BODY),
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn too_many_covered_components_are_refused() {
    let mut request = Cavage::post("/inbox", BODY);
    let names: Vec<String> = (0..31).map(|i| format!("x-h{i}")).collect();
    request.covered = format!("(request-target) host date digest {}", names.join(" "));
    assert_eq!(
        check(&Method::POST, "/inbox", &request.sign(), BODY),
        Err(SignatureError::Malformed(
            "too many covered headers".to_owned()
        ))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// S14: whatever arrives in a Signature header, parsing returns (no panic).
    #[test]
    fn arbitrary_signature_headers_never_panic(value in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_static("blog.test"));
            headers.insert("signature", value);
            let _ = parse(&Method::POST, "/inbox", &headers, BODY);
        }
    }

    /// The same with text built from the characters signature headers are made of.
    #[test]
    fn signature_like_text_never_panics(value in r#"[a-zA-Z0-9=",() #:/.+-]{0,300}"#) {
        let mut headers = Cavage::post("/inbox", BODY).headers_with("x");
        headers.insert("signature", HeaderValue::from_str(&value).unwrap());
        if let Ok(signed) = parse(&Method::POST, "/inbox", &headers, BODY) {
            let _ = signed.verify(&ALICE.verifying);
        }
    }

    /// RFC 9421 headers from structured-field characters never panic either.
    #[test]
    fn signature_input_like_text_never_panics(
        input in r#"[a-z0-9=";() :@*?.,-]{0,200}"#,
        signature in r#"[a-z0-9=:;,+/ ]{0,200}"#,
    ) {
        let mut headers = Rfc9421::post("/inbox", BODY).sign();
        headers.insert("signature-input", HeaderValue::from_str(&input).unwrap());
        headers.insert("signature", HeaderValue::from_str(&signature).unwrap());
        let _ = parse(&Method::POST, "/inbox", &headers, BODY);
    }

    /// Flipping any byte of a valid signature header never panics, and never verifies unless
    /// the change is one that cannot matter.
    #[test]
    fn corrupted_valid_headers_never_panic(index in 0_usize..2000, byte in 0x20_u8..0x7f) {
        let mut headers = signed_by_us(&Method::POST, "https://blog.test/inbox", BODY, now());
        let mut value = headers["signature"].as_bytes().to_vec();
        let index = index % value.len();
        value[index] = byte;
        headers.insert("signature", HeaderValue::from_bytes(&value).unwrap());
        let _ = check(&Method::POST, "/inbox", &headers, BODY);
    }

    /// Public key text from a remote actor document never panics the parser.
    #[test]
    fn arbitrary_public_key_pems_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(&body)
        );
        let _ = VerifyingKey::from_pem(&pem);
        let _ = VerifyingKey::from_spki_der(&body);
        let _ = VerifyingKey::from_pkcs1_der(&body);
    }
}
