//! Discovery: how other servers find our actors and learn what we are.
//!
//! - WebFinger (RFC 7033) at `/.well-known/webfinger?resource=…`: `acct:user@host` or an
//!   actor's URL → a JRD with the actor id (`self`), the HTML profile and the remote
//!   follow template. Handles: the blog `@{blog_handle}@{host}`, authors
//!   `@{username}@{host}`, the instance `@{hostname}@{host}`. When an author's username
//!   equals the blog handle, the handle names the blog (the author stays reachable by
//!   the URL of their actor).
//! - host-meta (RFC 6415) at `/.well-known/host-meta` (XRD) and `/.well-known/host-meta.json`:
//!   where WebFinger lives, for the few clients that still ask.
//! - NodeInfo 2.0 and 2.1 behind `/.well-known/nodeinfo` (FEP-f1d5), with real counts.
//!
//! The JRD is written with our own small types rather than the library's `Webfinger`,
//! which serializes absent fields as `null` (`"href": null` on a template link).

use crate::actors::instance_username;
use crate::context::Federation;
use crate::routes::RouteError;
use crate::urls::Urls;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gloss_storage::SiteCounts;
use serde::Serialize;
use serde_json::{Value, json};

/// Media type of WebFinger answers.
pub const JRD_CONTENT_TYPE: &str = "application/jrd+json; charset=utf-8";
/// Media type of the XML host-meta.
pub const XRD_CONTENT_TYPE: &str = "application/xrd+xml; charset=utf-8";
/// The remote-follow link relation Mastodon reads.
pub const SUBSCRIBE_REL: &str = "http://ostatus.org/schema/1.0/subscribe";
/// The profile-page link relation.
pub const PROFILE_PAGE_REL: &str = "http://webfinger.net/rel/profile-page";
/// The NodeInfo 2.0 schema (link relation and `profile` of the content type).
pub const NODEINFO_2_0: &str = "http://nodeinfo.diaspora.software/ns/schema/2.0";
/// The NodeInfo 2.1 schema.
pub const NODEINFO_2_1: &str = "http://nodeinfo.diaspora.software/ns/schema/2.1";

/// Which of our actors a WebFinger resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebfingerTarget {
    Blog,
    Instance,
    /// An author's username (lower-cased); whether it exists is checked by the caller.
    Author(String),
}

/// Why a resource names none of our actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// Not an `acct:` URI or an http(s) URL at all (400).
    Malformed,
    /// Well-formed, but not one of ours (404): another host, or no such actor path.
    NotOurs,
}

/// Reads a WebFinger `resource`: `acct:user@host` (also `user@host` and `@user@host`,
/// which some clients send), or the URL of one of our actors. Hosts compare
/// case-insensitively.
pub fn parse_resource(
    resource: &str,
    urls: &Urls,
    blog_handle: &str,
) -> Result<WebfingerTarget, ResourceError> {
    let resource = resource.trim();
    if resource.is_empty() {
        return Err(ResourceError::Malformed);
    }
    let lower = resource.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return target_of_url(resource, urls);
    }
    let account = match lower.strip_prefix("acct:") {
        Some(_) => resource.get(5..).unwrap_or_default(),
        None if lower.contains(':') && !lower.contains('@') => {
            return Err(ResourceError::Malformed);
        }
        None => resource,
    };
    let account = account.strip_prefix('@').unwrap_or(account);
    let Some((user, host)) = account.rsplit_once('@') else {
        return Err(ResourceError::Malformed);
    };
    if user.is_empty() || host.is_empty() || user.contains('@') {
        return Err(ResourceError::Malformed);
    }
    if !host.eq_ignore_ascii_case(urls.host()) {
        return Err(ResourceError::NotOurs);
    }
    Ok(target_of_user(user, urls, blog_handle))
}

fn target_of_user(user: &str, urls: &Urls, blog_handle: &str) -> WebfingerTarget {
    if user.eq_ignore_ascii_case(blog_handle) {
        WebfingerTarget::Blog
    } else if user.eq_ignore_ascii_case(&instance_username(urls)) {
        WebfingerTarget::Instance
    } else {
        WebfingerTarget::Author(user.to_ascii_lowercase())
    }
}

fn target_of_url(resource: &str, urls: &Urls) -> Result<WebfingerTarget, ResourceError> {
    let parsed = url::Url::parse(resource).map_err(|_| ResourceError::Malformed)?;
    let ours = url::Url::parse(urls.base()).map_err(|_| ResourceError::NotOurs)?;
    let same_host = parsed
        .host_str()
        .zip(ours.host_str())
        .is_some_and(|(theirs, ours)| theirs.eq_ignore_ascii_case(ours))
        && parsed.port_or_known_default() == ours.port_or_known_default();
    if !same_host {
        return Err(ResourceError::NotOurs);
    }
    let base_path = ours.path().trim_end_matches('/');
    let path = parsed
        .path()
        .strip_prefix(base_path)
        .ok_or(ResourceError::NotOurs)?;
    let path = path.strip_suffix('/').unwrap_or(path);
    match path {
        "/blog" => Ok(WebfingerTarget::Blog),
        "/instance" => Ok(WebfingerTarget::Instance),
        other => match other.strip_prefix("/authors/") {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Ok(WebfingerTarget::Author(name.to_ascii_lowercase()))
            }
            _ => Err(ResourceError::NotOurs),
        },
    }
}

/// A JSON Resource Descriptor (RFC 7033 §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jrd {
    pub subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub links: Vec<JrdLink>,
}

/// One link of a JRD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JrdLink {
    pub rel: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// The JRD of one of our actors. `profile` is its HTML page, if it has one.
pub fn jrd(user: &str, actor_id: &str, profile: Option<&str>, urls: &Urls) -> Jrd {
    let mut aliases = vec![actor_id.to_owned()];
    let mut links = vec![JrdLink {
        rel: "self".to_owned(),
        kind: Some("application/activity+json".to_owned()),
        href: Some(actor_id.to_owned()),
        template: None,
    }];
    if let Some(profile) = profile {
        if profile != actor_id {
            aliases.push(profile.to_owned());
        }
        links.push(JrdLink {
            rel: PROFILE_PAGE_REL.to_owned(),
            kind: Some("text/html".to_owned()),
            href: Some(profile.to_owned()),
            template: None,
        });
    }
    links.push(JrdLink {
        rel: SUBSCRIBE_REL.to_owned(),
        kind: None,
        href: None,
        // Served by gloss-web (`pages::interact::authorize_interaction`): Gloss has no
        // accounts to interact from, so it explains that, or leads to one of our own
        // pages. Kept advertised because Mastodon guesses this very path anyway.
        template: Some(format!("{}/authorize_interaction?uri={{uri}}", urls.base())),
    });
    Jrd {
        subject: format!("acct:{user}@{}", urls.host()),
        aliases,
        links,
    }
}

/// The host-meta XRD document.
pub fn host_meta_xml(urls: &Urls) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}\"/>\n\
         </XRD>\n",
        crate::content::escape_html(&lrdd_template(urls))
    )
}

/// The host-meta document as JSON (RFC 6415 appendix A).
pub fn host_meta_json(urls: &Urls) -> Value {
    json!({"links": [{"rel": "lrdd", "template": lrdd_template(urls)}]})
}

fn lrdd_template(urls: &Urls) -> String {
    format!("{}/.well-known/webfinger?resource={{uri}}", urls.base())
}

/// `/.well-known/nodeinfo`: where the NodeInfo documents are.
pub fn nodeinfo_links(urls: &Urls) -> Value {
    json!({"links": [
        {"rel": NODEINFO_2_0, "href": urls.absolute("/nodeinfo/2.0")},
        {"rel": NODEINFO_2_1, "href": urls.absolute("/nodeinfo/2.1")},
    ]})
}

/// A NodeInfo version we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeInfoVersion {
    V2_0,
    V2_1,
}

impl NodeInfoVersion {
    fn number(self) -> &'static str {
        match self {
            NodeInfoVersion::V2_0 => "2.0",
            NodeInfoVersion::V2_1 => "2.1",
        }
    }

    /// The content type, with the schema as its `profile`.
    pub fn content_type(self) -> String {
        let schema = match self {
            NodeInfoVersion::V2_0 => NODEINFO_2_0,
            NodeInfoVersion::V2_1 => NODEINFO_2_1,
        };
        format!("application/json; profile=\"{schema}#\"")
    }
}

/// A NodeInfo document. Users are authors; local posts are published posts; local
/// comments are the comments readers see (approved, not deleted), whatever their origin.
pub fn nodeinfo(version: NodeInfoVersion, counts: &SiteCounts, node_name: &str) -> Value {
    let mut software = json!({
        "name": "gloss",
        "version": env!("CARGO_PKG_VERSION"),
    });
    if version == NodeInfoVersion::V2_1 {
        software["repository"] = json!(env!("CARGO_PKG_REPOSITORY"));
        software["homepage"] = json!(env!("CARGO_PKG_REPOSITORY"));
    }
    json!({
        "version": version.number(),
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0"]},
        "openRegistrations": false,
        "usage": {
            "users": {
                "total": counts.authors,
                "activeMonth": counts.active_authors_month,
                "activeHalfyear": counts.active_authors_halfyear,
            },
            "localPosts": counts.published_posts,
            "localComments": counts.public_comments,
        },
        "metadata": {"nodeName": node_name},
    })
}

// ---- handlers ----

/// Discovery documents may be read by browser-side clients on other origins.
fn with_cors(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn json_response(content_type: &str, value: &impl Serialize) -> Result<Response, RouteError> {
    let body = serde_json::to_vec(value).map_err(|err| RouteError::Internal(err.to_string()))?;
    let content_type =
        HeaderValue::from_str(content_type).map_err(|err| RouteError::Internal(err.to_string()))?;
    Ok(with_cors(
        ([(header::CONTENT_TYPE, content_type)], body).into_response(),
    ))
}

/// `GET /.well-known/webfinger`.
pub(crate) async fn webfinger(
    State(federation): State<Federation>,
    RawQuery(query): RawQuery,
) -> Result<Response, RouteError> {
    let resource = query
        .as_deref()
        .and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "resource")
                .map(|(_, value)| value.into_owned())
        })
        .ok_or_else(|| RouteError::BadRequest("the resource parameter is missing".to_owned()))?;
    let urls = federation.urls();
    let settings = federation.settings();
    let target =
        parse_resource(&resource, urls, &settings.blog_handle).map_err(|err| match err {
            ResourceError::Malformed => {
                RouteError::BadRequest("resource must be acct:user@host or an actor URL".to_owned())
            }
            ResourceError::NotOurs => RouteError::NotFound,
        })?;
    let jrd = match target {
        WebfingerTarget::Blog => jrd(
            &settings.blog_handle,
            &urls.blog_actor(),
            Some(&urls.home()),
            urls,
        ),
        WebfingerTarget::Instance => {
            jrd(&instance_username(urls), &urls.instance_actor(), None, urls)
        }
        WebfingerTarget::Author(username) => {
            if username.len() > 64 {
                return Err(RouteError::NotFound);
            }
            let author = federation
                .store()
                .author_by_username(&username)
                .await?
                .ok_or(RouteError::NotFound)?;
            let id = urls.author_actor(&author.username);
            jrd(&author.username, &id, Some(&id), urls)
        }
    };
    json_response(JRD_CONTENT_TYPE, &jrd)
}

/// `GET /.well-known/host-meta`.
pub(crate) async fn host_meta(State(federation): State<Federation>) -> Response {
    with_cors(
        (
            [(header::CONTENT_TYPE, XRD_CONTENT_TYPE)],
            host_meta_xml(federation.urls()),
        )
            .into_response(),
    )
}

/// `GET /.well-known/host-meta.json`.
pub(crate) async fn host_meta_json_handler(
    State(federation): State<Federation>,
) -> Result<Response, RouteError> {
    json_response("application/json", &host_meta_json(federation.urls()))
}

/// `GET /.well-known/nodeinfo`.
pub(crate) async fn nodeinfo_index(
    State(federation): State<Federation>,
) -> Result<Response, RouteError> {
    json_response("application/json", &nodeinfo_links(federation.urls()))
}

/// `GET /nodeinfo/2.0`.
pub(crate) async fn nodeinfo_2_0(
    State(federation): State<Federation>,
) -> Result<Response, RouteError> {
    nodeinfo_response(&federation, NodeInfoVersion::V2_0).await
}

/// `GET /nodeinfo/2.1`.
pub(crate) async fn nodeinfo_2_1(
    State(federation): State<Federation>,
) -> Result<Response, RouteError> {
    nodeinfo_response(&federation, NodeInfoVersion::V2_1).await
}

async fn nodeinfo_response(
    federation: &Federation,
    version: NodeInfoVersion,
) -> Result<Response, RouteError> {
    let counts = federation.store().site_counts(chrono::Utc::now()).await?;
    let settings = federation.store().blog_settings().await?;
    json_response(
        &version.content_type(),
        &nodeinfo(version, &counts, &settings.title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Urls {
        Urls::new(&url::Url::parse("https://Blog.Example.org").unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn acct_resources_name_the_blog_the_instance_or_an_author() {
        let u = urls();
        let parse = |r: &str| parse_resource(r, &u, "blog");
        assert_eq!(
            parse("acct:blog@blog.example.org"),
            Ok(WebfingerTarget::Blog)
        );
        assert_eq!(
            parse("acct:BLOG@BLOG.EXAMPLE.ORG"),
            Ok(WebfingerTarget::Blog)
        );
        assert_eq!(parse("@blog@blog.example.org"), Ok(WebfingerTarget::Blog));
        assert_eq!(
            parse("blog.example.org@blog.example.org"),
            Ok(WebfingerTarget::Instance)
        );
        assert_eq!(
            parse("acct:Ann@blog.example.org"),
            Ok(WebfingerTarget::Author("ann".into()))
        );
    }

    #[test]
    fn actor_urls_are_resources_too() {
        let u = urls();
        let parse = |r: &str| parse_resource(r, &u, "blog");
        assert_eq!(
            parse("https://blog.example.org/blog"),
            Ok(WebfingerTarget::Blog)
        );
        assert_eq!(
            parse("https://blog.example.org/instance"),
            Ok(WebfingerTarget::Instance)
        );
        assert_eq!(
            parse("https://BLOG.example.org/authors/ann/"),
            Ok(WebfingerTarget::Author("ann".into()))
        );
        assert_eq!(
            parse("https://blog.example.org/posts/x"),
            Err(ResourceError::NotOurs)
        );
        assert_eq!(
            parse("https://evil.example/blog"),
            Err(ResourceError::NotOurs)
        );
    }

    #[test]
    fn other_hosts_are_not_found_and_garbage_is_a_bad_request() {
        let u = urls();
        let parse = |r: &str| parse_resource(r, &u, "blog");
        assert_eq!(parse("acct:blog@evil.example"), Err(ResourceError::NotOurs));
        for junk in [
            "",
            "acct:",
            "acct:blog",
            "acct:@blog.example.org",
            "acct:blog@",
            "mailto:x",
            "http://",
        ] {
            assert_eq!(parse(junk), Err(ResourceError::Malformed), "{junk:?}");
        }
    }

    #[test]
    fn the_jrd_links_self_profile_and_the_subscribe_template() {
        let u = urls();
        let value = serde_json::to_value(jrd("blog", &u.blog_actor(), Some(&u.home()), &u))
            .unwrap_or_default();
        assert_eq!(value["subject"], "acct:blog@blog.example.org");
        assert_eq!(value["links"][0]["rel"], "self");
        assert_eq!(value["links"][0]["type"], "application/activity+json");
        assert_eq!(value["links"][0]["href"], "https://blog.example.org/blog");
        assert_eq!(value["links"][1]["rel"], PROFILE_PAGE_REL);
        assert_eq!(
            value["links"][2]["template"],
            "https://blog.example.org/authorize_interaction?uri={uri}"
        );
        assert!(value["links"][2].get("href").is_none(), "no nulls");
    }

    #[test]
    fn nodeinfo_reports_the_counts_and_the_schema_version() {
        let counts = SiteCounts {
            authors: 2,
            published_posts: 5,
            public_comments: 7,
            active_authors_month: 1,
            active_authors_halfyear: 2,
        };
        let v20 = nodeinfo(NodeInfoVersion::V2_0, &counts, "My blog");
        assert_eq!(v20["version"], "2.0");
        assert_eq!(v20["software"]["name"], "gloss");
        assert!(v20["software"].get("repository").is_none());
        assert_eq!(v20["usage"]["users"]["total"], 2);
        assert_eq!(v20["usage"]["localPosts"], 5);
        assert_eq!(v20["usage"]["localComments"], 7);
        assert_eq!(v20["metadata"]["nodeName"], "My blog");
        let v21 = nodeinfo(NodeInfoVersion::V2_1, &counts, "My blog");
        assert_eq!(v21["version"], "2.1");
        assert!(v21["software"]["repository"].is_string());
        assert_eq!(
            NodeInfoVersion::V2_1.content_type(),
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""
        );
    }

    #[test]
    fn host_meta_points_at_webfinger() {
        let xml = host_meta_xml(&urls());
        assert!(xml.contains(
            "template=\"https://blog.example.org/.well-known/webfinger?resource={uri}\""
        ));
    }
}
