//! Remote interaction: sending a reader to their own fediverse server to reply to, or
//! follow, one of our objects ("Reply from your fediverse account", "Follow this blog").
//!
//! Gloss has no reader accounts, so a reader who wants to reply must do it from home.
//! Their server tells us where its "interact with this object" page is:
//!
//! ```text
//!  reader types            Gloss asks the reader's server               browser goes to
//!  @ann@social.example ──► GET https://social.example/.well-known/  ──► template with {uri}
//!                          webfinger?resource=acct:ann@social.example    replaced by the
//!                          → link rel="http://ostatus.org/schema/1.0/     percent-encoded id
//!                            subscribe", template="https://…?uri={uri}"   of our object
//!  social.example ───────► GET https://social.example/.well-known/  ──► the software's own path:
//!                          nodeinfo, then the NodeInfo document          Misskey /authorize-follow,
//!                          → software.name                               Pleroma /ostatus_subscribe,
//!                                                                        else (or when NodeInfo fails)
//!                                                                        /authorize_interaction?uri=…
//! ```
//!
//! What servers do, which decided the shape of this module:
//! - Mastodon (and others that copy it, such as hackers.pub) answer WebFinger with
//!   `https://HOST/authorize_interaction?uri={uri}`; Friendica serves that path too, and
//!   Mastodon guesses it for software that advertises nothing, so it is the fallback for a
//!   bare instance name.
//! - Pleroma and Akkoma advertise `https://HOST/ostatus_subscribe?acct={uri}`, Misskey
//!   and its forks `https://HOST/authorize-follow?acct={uri}`. Without a user name there
//!   is no WebFinger to ask, so a bare server's NodeInfo (FEP-f1d5) says which software
//!   it runs, and that picks the path.
//! - GoToSocial advertises no template at all (it has no web client to interact from):
//!   a clear "your server offers no remote interaction" error, never a guess.
//! - FEP-3b86 ("Activity Intents") describes richer per-intent links; the subscribe
//!   template is what servers actually serve today, so it is what Gloss reads.
//!
//! Security, in the order the checks run:
//! - The account is parsed leniently (`@user@host`, `user@host`, `acct:`, a profile URL,
//!   a bare host) into a strict [`ReaderAccount`]: ASCII user name, IDNA host, no
//!   userinfo, no path (checklist F6).
//! - The WebFinger request goes through the SSRF-safe client ([`crate::http_client`]),
//!   over https (plain http only on a test network, `allow_private_addresses`), with the
//!   client that follows no redirect (F5); the body is capped.
//! - The answer's `subject` must be the account the reader typed.
//! - The redirect target must parse as an https URL (http only on a test network) on the
//!   host the reader typed or one of its subdomains (a server's web UI may live on
//!   `social.example` for `@ann@example`), with no userinfo and no IP literal. So a link
//!   crafted with someone else's handle can only send a reader to the domain the link
//!   itself names, and never to a `javascript:` or `data:` URL.

use crate::context::Federation;
use crate::discovery::SUBSCRIBE_REL;
use crate::http_client::{self, HttpClientError};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::fmt;
use url::{Host, Url};

/// Longest account a reader may type (an e-mail address's limit, generous for handles).
pub const MAX_ACCOUNT_LENGTH: usize = 320;

/// Longest user name part of a handle.
const MAX_USER_LENGTH: usize = 128;

/// Largest WebFinger or NodeInfo answer read; real ones are under 4 KB.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Longest template accepted from a WebFinger answer.
const MAX_TEMPLATE_LENGTH: usize = 2048;

/// The `Accept` header of WebFinger (RFC 7033 §10.2) and NodeInfo requests.
const JSON_ACCEPT: &str = "application/jrd+json, application/json;q=0.9";

/// The reader's fediverse account, or just their server, as they typed it, normalized:
/// the user name keeps its case (servers compare it case-insensitively), the host is
/// lower-case ASCII (IDNA), with a port only when one was typed and is not 443.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderAccount {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

impl ReaderAccount {
    /// The user name, when the reader gave a full handle.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host name, lower-case, without port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host` or `host:port`, as in `acct:` URIs.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// `@user@host`, or `host` for a bare server. Always a valid cookie value and never
/// longer than [`MAX_ACCOUNT_LENGTH`] plus a few bytes.
impl fmt::Display for ReaderAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => write!(f, "@{user}@{}", self.authority()),
            None => f.write_str(&self.authority()),
        }
    }
}

/// Why what the reader typed is not an account. The messages are shown to the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("Enter your fediverse handle, like @you@your.server, or your server's name.")]
    Empty,
    #[error("That is too long to be a fediverse handle.")]
    TooLong,
    #[error(
        "That does not look like a fediverse handle. Enter it like @you@your.server, or just your.server."
    )]
    Malformed,
}

/// Parses what a reader typed into the account form: `@user@host`, `user@host`,
/// `acct:user@host`, `https://host/@user`, `host`, `https://host/…`; surrounding spaces
/// are ignored, everything else is strict (one `@` between user and host, ASCII user
/// names, no userinfo, no path after a bare host, a domain with a dot or an IP address).
pub fn parse_reader_account(input: &str) -> Result<ReaderAccount, AccountError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AccountError::Empty);
    }
    if input.len() > MAX_ACCOUNT_LENGTH {
        return Err(AccountError::TooLong);
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AccountError::Malformed);
    }
    let lower = input.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return parse_profile_url(input);
    }
    let account = match lower.strip_prefix("acct:") {
        Some(_) => input.get(5..).unwrap_or_default(),
        None => input,
    };
    let account = account.strip_prefix('@').unwrap_or(account);
    match account.split_once('@') {
        Some((user, host)) => {
            check_user(user)?;
            let (host, port) = parse_host(host)?;
            Ok(ReaderAccount {
                user: Some(user.to_owned()),
                host,
                port,
            })
        }
        None => {
            let (host, port) = parse_host(account)?;
            Ok(ReaderAccount {
                user: None,
                host,
                port,
            })
        }
    }
}

/// `https://host/@user` names the user; any other URL names its host.
fn parse_profile_url(input: &str) -> Result<ReaderAccount, AccountError> {
    let url = Url::parse(input).map_err(|_| AccountError::Malformed)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AccountError::Malformed);
    }
    let authority = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(AccountError::Malformed),
    };
    let (host, port) = parse_host(&authority)?;
    let mut segments = url.path_segments().into_iter().flatten();
    let user = match (segments.next(), segments.next()) {
        (Some(first), None | Some("")) => first
            .strip_prefix('@')
            .filter(|user| check_user(user).is_ok())
            .map(str::to_owned),
        _ => None,
    };
    Ok(ReaderAccount { user, host, port })
}

fn check_user(user: &str) -> Result<(), AccountError> {
    let valid = !user.is_empty()
        && user.len() <= MAX_USER_LENGTH
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(AccountError::Malformed)
    }
}

/// A host with an optional port, as the `url` crate normalizes it (IDNA, lower case);
/// anything that would add a path, query, fragment or userinfo is refused.
fn parse_host(authority: &str) -> Result<(String, Option<u16>), AccountError> {
    if authority.is_empty()
        || authority
            .bytes()
            .any(|b| matches!(b, b'@' | b'/' | b'\\' | b'?' | b'#' | b'%'))
    {
        return Err(AccountError::Malformed);
    }
    let url = Url::parse(&format!("https://{authority}/")).map_err(|_| AccountError::Malformed)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(AccountError::Malformed);
    }
    let host = match url.host() {
        Some(Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.');
            let labels_ok = domain.contains('.')
                && domain
                    .split('.')
                    .all(|label| !label.is_empty() && label.len() <= 63);
            if !labels_ok || domain.len() > 253 {
                return Err(AccountError::Malformed);
            }
            domain.to_owned()
        }
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => format!("[{ip}]"),
        None => return Err(AccountError::Malformed),
    };
    if url.port() == Some(0) {
        return Err(AccountError::Malformed);
    }
    Ok((host, url.port()))
}

/// Why no interaction page could be found. The messages are shown to the reader, so
/// they never quote the remote server's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    /// The server answered WebFinger with 404 or 410.
    #[error("{0} does not know this account. Check the spelling of your handle.")]
    UnknownAccount(String),
    /// The server could not be reached, or answered with an error status.
    #[error("Your server {host} could not be reached ({reason}). Try again later.")]
    Unreachable { host: String, reason: String },
    /// The answer was not a usable WebFinger document, named another account, or
    /// carried a template Gloss refuses to send a reader to.
    #[error("Your server {host} gave an answer Gloss cannot use ({reason}).")]
    BadAnswer { host: String, reason: String },
    /// The server advertises no remote-interaction template.
    #[error(
        "Your server {0} does not offer remote interaction. Copy the address of this page and paste it into your server's search instead."
    )]
    NoTemplate(String),
    /// The host is not one Gloss may contact (a private address, `localhost`, an IP
    /// literal in production).
    #[error("Gloss cannot contact {0}.")]
    Refused(String),
}

/// Where to send the reader so that their server shows `object_uri` ready to reply to,
/// or to follow. With a full handle, the reader's server is asked (WebFinger, see the
/// module documentation). With a bare server name, its NodeInfo says which software it
/// runs when `detect_software` is set: Misskey and its forks, Pleroma and Akkoma get
/// their own interaction paths, GoToSocial (which has none) a clear error; for anything
/// else, or when NodeInfo cannot be read, the Mastodon convention
/// `https://HOST/authorize_interaction?uri=…` is the fallback.
///
/// `object_uri` must be one of our objects; the caller checks that.
pub async fn interaction_url(
    federation: &Federation,
    account: &ReaderAccount,
    object_uri: &str,
    detect_software: bool,
) -> Result<Url, InteractionError> {
    let allow_private = federation.settings().allow_private_addresses;
    let Some(user) = account.user() else {
        let software = if detect_software {
            server_software(federation, account, allow_private).await
        } else {
            None
        };
        let template = bare_instance_template(account, software.as_ref())?;
        return fill_template(&template, object_uri, account, allow_private);
    };
    let template = subscribe_template(federation, user, account, allow_private).await?;
    fill_template(&template, object_uri, account, allow_private)
}

/// What a server's NodeInfo says it runs, and the scheme it was reached with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSoftware {
    /// `software.name`, lower-case.
    pub name: String,
    /// `https`, or `http` on a test network.
    pub scheme: &'static str,
}

/// The interaction template of a bare server, by the software it runs (see
/// [`interaction_url`]).
pub fn bare_instance_template(
    account: &ReaderAccount,
    software: Option<&ServerSoftware>,
) -> Result<String, InteractionError> {
    let authority = account.authority();
    let (scheme, name) = match software {
        Some(software) => (software.scheme, software.name.as_str()),
        None => ("https", ""),
    };
    let path = match name {
        "misskey" | "sharkey" | "firefish" | "calckey" | "foundkey" | "iceshrimp"
        | "cherrypick" | "meisskey" => "/authorize-follow?acct={uri}",
        "pleroma" | "akkoma" => "/ostatus_subscribe?acct={uri}",
        "gotosocial" => return Err(InteractionError::NoTemplate(authority)),
        _ => "/authorize_interaction?uri={uri}",
    };
    Ok(format!("{scheme}://{authority}{path}"))
}

/// Asks the reader's server for its subscribe template.
async fn subscribe_template(
    federation: &Federation,
    user: &str,
    account: &ReaderAccount,
    allow_private: bool,
) -> Result<String, InteractionError> {
    let host = account.authority();
    let resource = format!("acct:{user}@{host}");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("resource", &resource)
        .finish();
    let path = format!("/.well-known/webfinger?{query}");
    let (jrd, _) = match get_json_from(federation, account, &path, allow_private).await? {
        JsonAnswer::Found(found) => found,
        JsonAnswer::NotFound => return Err(InteractionError::UnknownAccount(host)),
    };
    let bad_answer = |reason: &str| InteractionError::BadAnswer {
        host: host.clone(),
        reason: reason.to_owned(),
    };
    let subject = jrd
        .get("subject")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if !subject.eq_ignore_ascii_case(&resource) {
        tracing::info!(%host, "remote interaction: WebFinger subject is another account");
        return Err(bad_answer("it describes another account"));
    }
    let template = jrd
        .get("links")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|link| link.get("rel").and_then(serde_json::Value::as_str) == Some(SUBSCRIBE_REL))
        .find_map(|link| link.get("template").and_then(serde_json::Value::as_str));
    match template {
        Some(template) => Ok(template.to_owned()),
        None => Err(InteractionError::NoTemplate(host)),
    }
}

/// The software a bare server runs, from its NodeInfo (FEP-f1d5), or `None` when that
/// cannot be read: the caller then falls back to the Mastodon convention, so a failure
/// here is logged, never shown.
async fn server_software(
    federation: &Federation,
    account: &ReaderAccount,
    allow_private: bool,
) -> Option<ServerSoftware> {
    let host = account.authority();
    let outcome = async {
        let (index, scheme) =
            match get_json_from(federation, account, "/.well-known/nodeinfo", allow_private).await?
            {
                JsonAnswer::Found(found) => found,
                JsonAnswer::NotFound => return Ok(None),
            };
        let Some(href) = nodeinfo_href(&index, account, scheme) else {
            return Ok(None);
        };
        let document = match get_json(federation, &href, &host, allow_private).await {
            Ok(JsonAnswer::Found(document)) => document,
            Ok(JsonAnswer::NotFound) => return Ok(None),
            Err(attempt) => return Err(attempt.into_error(account)),
        };
        let name = document
            .get("software")
            .and_then(|software| software.get("name"))
            .and_then(serde_json::Value::as_str)
            .filter(|name| name.len() <= 64)
            .map(str::to_ascii_lowercase);
        Ok(name.map(|name| ServerSoftware { name, scheme }))
    };
    match outcome.await {
        Ok(software) => software,
        Err(error) => {
            tracing::info!(%host, %error, "remote interaction: NodeInfo not read, using the Mastodon convention");
            None
        }
    }
}

/// The NodeInfo 2.x document a `/.well-known/nodeinfo` index points at, if it lives on
/// the server itself (same scheme, host and port: a server does not get to send Gloss
/// elsewhere).
fn nodeinfo_href(index: &serde_json::Value, account: &ReaderAccount, scheme: &str) -> Option<Url> {
    let links = index.get("links")?.as_array()?;
    let mut hrefs: Vec<(&str, &str)> = links
        .iter()
        .filter_map(|link| {
            let rel = link.get("rel")?.as_str()?;
            let href = link.get("href")?.as_str()?;
            rel.starts_with("http://nodeinfo.diaspora.software/ns/schema/2.")
                .then_some((rel, href))
        })
        .collect();
    // The newest schema first (2.1 before 2.0).
    hrefs.sort_by(|a, b| b.0.cmp(a.0));
    hrefs.into_iter().find_map(|(_, href)| {
        let url = Url::parse(href).ok()?;
        let same_server = url.scheme() == scheme
            && url.host_str() == Some(account.host())
            && url.port() == account.port();
        same_server.then_some(url)
    })
}

/// A JSON document, or a 404/410.
enum JsonAnswer<T> {
    Found(T),
    NotFound,
}

/// GETs `path` (with its query) from the reader's server as JSON, over https, and on a
/// test network over plain http when the server does not speak TLS. Returns the scheme
/// that worked with the document.
async fn get_json_from(
    federation: &Federation,
    account: &ReaderAccount,
    path: &str,
    allow_private: bool,
) -> Result<JsonAnswer<(serde_json::Value, &'static str)>, InteractionError> {
    let host = account.authority();
    let mut last = None;
    let schemes: &[&'static str] = if allow_private {
        &["https", "http"]
    } else {
        &["https"]
    };
    for &scheme in schemes {
        let url = Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|_| InteractionError::Refused(host.clone()))?;
        match get_json(federation, &url, &host, allow_private).await {
            Ok(JsonAnswer::Found(json)) => return Ok(JsonAnswer::Found((json, scheme))),
            Ok(JsonAnswer::NotFound) => return Ok(JsonAnswer::NotFound),
            Err(attempt @ Attempt::Transport(_)) => last = Some(attempt),
            Err(Attempt::Failed(error)) => return Err(error),
        }
    }
    Err(last
        .map(|attempt| attempt.into_error(account))
        .unwrap_or_else(|| InteractionError::Refused(host)))
}

/// How one request failed; only a transport failure is worth a retry over http.
enum Attempt {
    Transport(String),
    Failed(InteractionError),
}

impl Attempt {
    fn into_error(self, account: &ReaderAccount) -> InteractionError {
        match self {
            Attempt::Transport(reason) => InteractionError::Unreachable {
                host: account.authority(),
                reason,
            },
            Attempt::Failed(error) => error,
        }
    }
}

/// One GET of a JSON document (WebFinger's JRD, NodeInfo) through the SSRF-safe client
/// that follows no redirect (F5): the answer must come from where it was asked.
async fn get_json(
    federation: &Federation,
    url: &Url,
    host: &str,
    allow_private: bool,
) -> Result<JsonAnswer<serde_json::Value>, Attempt> {
    let bad_answer = |reason: &str| {
        Attempt::Failed(InteractionError::BadAnswer {
            host: host.to_owned(),
            reason: reason.to_owned(),
        })
    };
    http_client::check_url(url, allow_private).map_err(|error| {
        tracing::info!(%host, %error, "remote interaction: host refused");
        Attempt::Failed(InteractionError::Refused(host.to_owned()))
    })?;
    let response = federation
        .delivery_http()
        .get(url.clone())
        .header(ACCEPT, JSON_ACCEPT)
        .send()
        .await
        .map_err(|error| classify(HttpClientError::from(error), host))?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        return Ok(JsonAnswer::NotFound);
    }
    if status.is_redirection() || response.url() != url {
        return Err(bad_answer(
            "it redirects WebFinger elsewhere; enter the address of its web site instead",
        ));
    }
    if !status.is_success() {
        return Err(Attempt::Failed(InteractionError::Unreachable {
            host: host.to_owned(),
            reason: format!("HTTP status {}", status.as_u16()),
        }));
    }
    let json_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"));
    if !json_type {
        return Err(bad_answer("not a JSON document"));
    }
    let body = http_client::read_body_limited(response, MAX_JSON_BODY)
        .await
        .map_err(|error| classify(error, host))?;
    serde_json::from_slice(&body)
        .map(JsonAnswer::Found)
        .map_err(|_| bad_answer("not valid JSON"))
}

/// Sorts a client failure into "retry over http" (test networks only) or a final error.
fn classify(error: HttpClientError, host: &str) -> Attempt {
    match error {
        HttpClientError::BlockedAddress(_) | HttpClientError::InvalidUrl(_) => {
            tracing::info!(%host, %error, "remote interaction: host refused");
            Attempt::Failed(InteractionError::Refused(host.to_owned()))
        }
        HttpClientError::Transport(_) | HttpClientError::Tls(_) => {
            tracing::info!(%host, %error, "remote interaction: server unreachable");
            Attempt::Transport("no connection".to_owned())
        }
        HttpClientError::Timeout => Attempt::Failed(InteractionError::Unreachable {
            host: host.to_owned(),
            reason: "it took too long to answer".to_owned(),
        }),
        HttpClientError::BodyTooLarge => Attempt::Failed(InteractionError::BadAnswer {
            host: host.to_owned(),
            reason: "the answer is too large".to_owned(),
        }),
        other => {
            tracing::info!(%host, error = %other, "remote interaction: lookup failed");
            Attempt::Failed(InteractionError::Unreachable {
                host: host.to_owned(),
                reason: "the request failed".to_owned(),
            })
        }
    }
}

/// Replaces `{uri}` in `template` with the percent-encoded `object_uri` and checks the
/// result is somewhere Gloss may send a reader: http(s) only (https in production), no
/// userinfo, no IP literal or `localhost` in production, and on the reader's host (or a
/// subdomain of it) at the port they typed.
pub fn fill_template(
    template: &str,
    object_uri: &str,
    account: &ReaderAccount,
    allow_private_addresses: bool,
) -> Result<Url, InteractionError> {
    let host = account.authority();
    let bad = |reason: &str| InteractionError::BadAnswer {
        host: host.clone(),
        reason: reason.to_owned(),
    };
    if template.len() > MAX_TEMPLATE_LENGTH {
        return Err(bad("the interaction address is too long"));
    }
    if !template.contains("{uri}") {
        return Err(bad("the interaction address has no place for the post"));
    }
    let filled = template.replace("{uri}", &percent_encode_component(object_uri));
    let url = Url::parse(&filled).map_err(|_| bad("the interaction address is not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private_addresses => {}
        _ => return Err(bad("the interaction address is not https")),
    }
    http_client::check_url(&url, allow_private_addresses)
        .map_err(|_| bad("the interaction address is not a public web address"))?;
    let target_host = url.host_str().unwrap_or_default().trim_end_matches('.');
    let same_site = target_host == account.host()
        || target_host
            .strip_suffix(account.host())
            .is_some_and(|prefix| prefix.ends_with('.'));
    if !same_site || url.port() != account.port() {
        return Err(bad("the interaction address is on another server"));
    }
    Ok(url)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so the URI survives
/// as one query value whatever the template's server decodes (`+` included).
pub fn percent_encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_server_gets_the_path_of_its_software() {
        let server = parse_reader_account("social.example").unwrap();
        let running = |name: &str| ServerSoftware {
            name: name.to_owned(),
            scheme: "https",
        };
        let template =
            |software: Option<&ServerSoftware>| bare_instance_template(&server, software);
        assert_eq!(
            template(None).unwrap(),
            "https://social.example/authorize_interaction?uri={uri}"
        );
        assert_eq!(
            template(Some(&running("mastodon"))).unwrap(),
            "https://social.example/authorize_interaction?uri={uri}"
        );
        assert_eq!(
            template(Some(&running("sharkey"))).unwrap(),
            "https://social.example/authorize-follow?acct={uri}"
        );
        assert_eq!(
            template(Some(&running("akkoma"))).unwrap(),
            "https://social.example/ostatus_subscribe?acct={uri}"
        );
        assert_eq!(
            template(Some(&running("gotosocial"))),
            Err(InteractionError::NoTemplate("social.example".to_owned()))
        );
    }

    #[test]
    fn nodeinfo_links_elsewhere_are_ignored() {
        let server = parse_reader_account("social.example").unwrap();
        let index = serde_json::json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
             "href": "https://social.example/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
             "href": "https://social.example/nodeinfo/2.1"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.2",
             "href": "https://evil.example/nodeinfo"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.3",
             "href": "http://social.example/nodeinfo"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.4",
             "href": "https://social.example:8443/nodeinfo"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.5", "href": 5},
            {"rel": "something else", "href": "https://social.example/x"},
        ]});
        assert_eq!(
            nodeinfo_href(&index, &server, "https").map(String::from),
            Some("https://social.example/nodeinfo/2.1".to_owned())
        );
        assert_eq!(
            nodeinfo_href(&serde_json::json!({"links": 3}), &server, "https"),
            None
        );
        assert_eq!(
            nodeinfo_href(&serde_json::json!([]), &server, "https"),
            None
        );
    }

    fn parse(input: &str) -> Result<String, AccountError> {
        parse_reader_account(input).map(|account| account.to_string())
    }

    #[test]
    fn handles_are_read_in_every_usual_spelling() {
        for input in [
            "@ann@social.example",
            "ann@social.example",
            "acct:ann@social.example",
            "ACCT:@ann@Social.Example",
            "  @ann@social.example\t",
            "https://social.example/@ann",
            "https://Social.Example/@ann/",
            "@ann@social.example.",
        ] {
            assert_eq!(
                parse(input).as_deref(),
                Ok("@ann@social.example"),
                "{input:?}"
            );
        }
        assert_eq!(
            parse("@Ann.B-c_d@x.example").as_deref(),
            Ok("@Ann.B-c_d@x.example")
        );
    }

    #[test]
    fn a_server_name_or_url_is_a_bare_instance() {
        for input in [
            "social.example",
            "Social.Example",
            "https://social.example",
            "https://social.example/",
            "https://social.example/about/more",
            "https://social.example/@ann/123",
            "@social.example",
        ] {
            let account = parse_reader_account(input).unwrap();
            assert_eq!(account.user(), None, "{input:?}");
            assert_eq!(account.host(), "social.example", "{input:?}");
        }
    }

    #[test]
    fn ports_are_kept_unless_they_are_the_default() {
        let account = parse_reader_account("@ann@social.example:8443").unwrap();
        assert_eq!(account.port(), Some(8443));
        assert_eq!(account.authority(), "social.example:8443");
        assert_eq!(
            parse("ann@social.example:443").as_deref(),
            Ok("@ann@social.example")
        );
        assert_eq!(parse("ann@social.example:0"), Err(AccountError::Malformed));
        assert_eq!(
            parse("ann@social.example:99999"),
            Err(AccountError::Malformed)
        );
        assert_eq!(
            parse("ann@social.example:"),
            Ok("@ann@social.example".to_owned())
        );
    }

    #[test]
    fn unicode_domains_become_punycode_but_unicode_user_names_are_refused() {
        assert_eq!(
            parse("@ann@bücher.example").as_deref(),
            Ok("@ann@xn--bcher-kva.example")
        );
        assert_eq!(parse("@änn@social.example"), Err(AccountError::Malformed));
        // A right-to-left override is neither a user name nor a host.
        assert_eq!(
            parse("@ann\u{202e}@social.example"),
            Err(AccountError::Malformed)
        );
        assert_eq!(
            parse("@ann@social\u{202e}.example"),
            Err(AccountError::Malformed)
        );
    }

    #[test]
    fn hostile_input_is_refused() {
        for input in [
            "@@social.example",
            "@ann@@social.example",
            "@ann@bob@social.example",
            "ann@",
            "@",
            "@ann@social",
            "ann @social.example",
            "@ann@social .example",
            "ann@social.example/path",
            "ann@social.example?x=1",
            "ann@social.example#x",
            "ann@evil.example\\@social.example",
            "ann@social%2eexample",
            "ann@social.example\r\nSet-Cookie: x",
            "https://user:pw@social.example/@ann",
            "https://evil.example@social.example/",
            "javascript:alert(1)",
            "data:text/html,x",
            "ann@.example",
            "ann@social..example",
            "<script>@social.example",
            "ann@-\u{0000}.example",
        ] {
            assert!(parse(input).is_err(), "{input:?} gave {:?}", parse(input));
        }
        assert_eq!(parse(""), Err(AccountError::Empty));
        assert_eq!(parse("   "), Err(AccountError::Empty));
        let long = format!("@{}@social.example", "a".repeat(400));
        assert_eq!(parse(&long), Err(AccountError::TooLong));
        let long_user = format!("@{}@social.example", "a".repeat(200));
        assert_eq!(parse(&long_user), Err(AccountError::Malformed));
    }

    #[test]
    fn the_display_form_is_a_safe_cookie_value() {
        let account = parse_reader_account("@Ann@Bücher.Example:8443").unwrap();
        let text = account.to_string();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\";,\\".contains(&b))
        );
        assert_eq!(parse_reader_account(&text).unwrap(), account);
    }

    fn account(input: &str) -> ReaderAccount {
        parse_reader_account(input).unwrap()
    }

    #[test]
    fn the_template_gets_the_percent_encoded_uri() {
        let url = fill_template(
            "https://social.example/authorize_interaction?uri={uri}",
            "https://blog.example/posts/a+b?x=1&y",
            &account("@ann@social.example"),
            false,
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://social.example/authorize_interaction?uri=https%3A%2F%2Fblog.example%2Fposts%2Fa%2Bb%3Fx%3D1%26y"
        );
        let sub = fill_template(
            "https://web.social.example/interact?acct={uri}",
            "https://blog.example/blog",
            &account("@ann@social.example"),
            false,
        );
        assert!(sub.is_ok(), "{sub:?}");
    }

    #[test]
    fn templates_elsewhere_or_with_other_schemes_are_refused() {
        let ann = account("@ann@social.example");
        for template in [
            "javascript:alert('{uri}')",
            "JAVASCRIPT:alert('{uri}')",
            "data:text/html,{uri}",
            "http://social.example/authorize_interaction?uri={uri}",
            "https://evil.example/authorize_interaction?uri={uri}",
            "https://evilsocial.example/?uri={uri}",
            "https://social.example.evil.example/?uri={uri}",
            "https://user@social.example/?uri={uri}",
            "https://social.example:8443/?uri={uri}",
            "https://127.0.0.1/?uri={uri}",
            "//social.example/?uri={uri}",
            "/authorize_interaction?uri={uri}",
            "https://social.example/no-placeholder",
            "",
        ] {
            assert!(
                fill_template(template, "https://blog.example/blog", &ann, false).is_err(),
                "{template:?}"
            );
        }
        let long = format!("https://social.example/?uri={{uri}}&{}", "x".repeat(3000));
        assert!(fill_template(&long, "https://blog.example/blog", &ann, false).is_err());
    }

    #[test]
    fn a_test_network_allows_plain_http_and_addresses_but_still_not_other_schemes() {
        let local = account("@ann@127.0.0.1:8080");
        assert!(
            fill_template(
                "http://127.0.0.1:8080/i?uri={uri}",
                "https://b/x",
                &local,
                true
            )
            .is_ok()
        );
        assert!(
            fill_template(
                "http://127.0.0.1:8080/i?uri={uri}",
                "https://b/x",
                &local,
                false
            )
            .is_err()
        );
        assert!(fill_template("javascript:{uri}", "https://b/x", &local, true).is_err());
        assert!(
            fill_template(
                "http://127.0.0.1:9999/i?uri={uri}",
                "https://b/x",
                &local,
                true
            )
            .is_err()
        );
    }
}
