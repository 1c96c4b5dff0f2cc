//! Settings: built-in defaults, then an optional TOML file, then `GLOSS_*` environment
//! variables, each layer overriding the one before.
//!
//! Everything is validated here, before any command touches the database, so that a
//! mistyped setting never leaves a half-created `gloss.db` behind. Every error names the
//! setting and says what is expected.

use serde::Deserialize;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

/// The settings file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "gloss.toml";

/// Prefix of the environment variables that override the file.
const ENV_PREFIX: &str = "GLOSS_";

/// Environment variables under this prefix belong to the test suites and are ignored.
const ENV_TEST_PREFIX: &str = "GLOSS_TEST_";

/// The environment variable clap reads for `--config`; known, but not a setting.
pub const CONFIG_ENV: &str = "GLOSS_CONFIG";

/// The settings file as written by the operator. Every key is optional; a missing key
/// keeps its default. Unknown keys are refused so that a typo does not go unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    /// The URL readers use to reach the blog. Default `http://localhost:8080`.
    public_url: Option<String>,
    /// The socket address the HTTP server binds. Default `127.0.0.1:8080`.
    listen: Option<String>,
    /// `sqlite:PATH` or `postgres://...`. Default `sqlite:gloss.db`.
    database_url: Option<String>,
    /// Posts per listing page, 1 to 100. Default 10.
    posts_per_page: Option<i64>,
    /// A tracing filter. Default `info`.
    log: Option<String>,
    /// The blog's own fediverse handle. Default `blog`.
    blog_handle: Option<String>,
    /// Test networks only: reach peers on loopback and private addresses. Default false.
    federation_allow_private_addresses: Option<bool>,
    /// Test networks only: an extra trusted CA certificate (PEM file). Default none.
    federation_extra_ca: Option<String>,
    /// How fediverse replies are moderated: open, first-time or all. Default first-time.
    comments_moderation: Option<String>,
    /// Days after publication when a post stops taking comments; 0 = never. Default 0.
    comments_close_after_days: Option<i64>,
    /// Readers' comments through the post page's form: off, moderated or open. Default
    /// moderated.
    comments_local: Option<String>,
    /// Bytes of rendered public pages kept in memory; 0 = off. Default 4 MiB.
    page_cache_bytes: Option<i64>,
}

/// A database URL. Kept apart from plain strings because it may carry a password:
/// its `Debug` and [`DatabaseUrl::redacted`] forms never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password, for connecting and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced, safe for logs and `gloss config`.
    pub fn redacted(&self) -> String {
        redact_database_url(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

/// The validated settings every command runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL readers use to reach the blog (scheme and host, no path): every absolute
    /// link, feed id and (later) ActivityPub id is built from it, so it must be the
    /// address seen from outside, behind any reverse proxy.
    pub public_url: Url,
    /// The socket address the HTTP server binds, e.g. `127.0.0.1:8080` behind a
    /// reverse proxy or `[::]:8080` to accept every interface.
    pub listen: SocketAddr,
    /// Which database to use: `sqlite:PATH` (created on first start) or
    /// `postgres://USER:PASSWORD@HOST/DATABASE`. Secret: may carry a password.
    pub database_url: DatabaseUrl,
    /// Posts shown per page on the home, tag and author pages (1 to 100).
    pub posts_per_page: u32,
    /// What to log, as a tracing filter (`info`, `gloss=debug,sqlx=warn`, ...).
    /// `RUST_LOG` takes precedence when it is set.
    pub log: String,
    /// The blog's own handle on the fediverse (`@blog@host`): `[a-z0-9_]`, 1 to 32
    /// characters.
    pub blog_handle: String,
    /// Test networks only: lets fetches and deliveries reach loopback and private
    /// addresses. Off by default; a warning is logged when on.
    pub federation_allow_private_addresses: bool,
    /// Test networks only: a CA certificate file (PEM) trusted in addition to the
    /// system's, with its contents read at start-up. A warning is logged when set.
    pub federation_extra_ca: Option<(PathBuf, Vec<u8>)>,
    /// How fediverse replies are moderated: `open` (published at once), `first-time`
    /// (a commenter's first comment waits for approval) or `all`. Rules (links, bursts,
    /// blocks) hold comments in every mode.
    pub comments_moderation: gloss_federation::moderation::CommentsModeration,
    /// Days after its publication when a post stops taking comments (fediverse replies
    /// are refused politely, the form is hidden); 0 means never. At most
    /// [`MAX_CLOSE_AFTER_DAYS`].
    pub comments_close_after_days: u32,
    /// Readers' comments through the form on the post page: `off`, `moderated` (each
    /// waits for approval) or `open` (published at once unless a rule holds it).
    pub comments_local: gloss_federation::moderation::LocalComments,
    /// Bytes of rendered public pages (with their gzip copies) kept in memory to answer
    /// anonymous readers while nothing they show has changed; 0 turns the cache off. At
    /// most [`MAX_PAGE_CACHE_BYTES`].
    pub page_cache_bytes: usize,
}

/// The largest `page_cache_bytes` accepted (1 GiB).
pub const MAX_PAGE_CACHE_BYTES: usize = 1 << 30;

/// The largest `comments_close_after_days` accepted (about a hundred years).
pub const MAX_CLOSE_AFTER_DAYS: u32 = 36_500;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: default_public_url(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DatabaseUrl("sqlite:gloss.db".to_owned()),
            posts_per_page: 10,
            log: "info".to_owned(),
            blog_handle: "blog".to_owned(),
            federation_allow_private_addresses: false,
            federation_extra_ca: None,
            comments_moderation: gloss_federation::moderation::CommentsModeration::default(),
            comments_close_after_days: 0,
            comments_local: gloss_federation::moderation::LocalComments::default(),
            page_cache_bytes: gloss_web::page_cache::DEFAULT_CAPACITY_BYTES,
        }
    }
}

#[allow(clippy::expect_used)] // a constant, checked by the unit tests
fn default_public_url() -> Url {
    Url::parse("http://localhost:8080").expect("the default public URL parses")
}

impl Settings {
    /// The public URL without its trailing slash, ready to have a path appended.
    pub fn public_base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The public URL of a post.
    pub fn post_url(&self, slug: &str) -> String {
        format!("{}/posts/{slug}", self.public_base())
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// A setting that cannot be used: which one, what is wrong, what is expected.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}; expected {expected}")]
pub struct SettingsError {
    pub setting: String,
    pub problem: String,
    pub expected: String,
}

/// The settings in effect, with where each came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// Same order as [`FIELDS`].
    pub sources: Vec<Source>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// One setting as the operator sees it.
struct Field {
    key: &'static str,
    env: &'static str,
    /// One line for `gloss config`.
    help: &'static str,
    expected: &'static str,
}

const FIELDS: [Field; 12] = [
    Field {
        key: "public_url",
        env: "GLOSS_PUBLIC_URL",
        help: "The URL readers use to reach the blog; every absolute link is built from it.",
        expected: "an absolute http or https URL without path, query or fragment, such as https://blog.example.org",
    },
    Field {
        key: "listen",
        env: "GLOSS_LISTEN",
        help: "The address and port the HTTP server binds.",
        expected: "an IP address and port such as 127.0.0.1:8080 or [::]:8080",
    },
    Field {
        key: "database_url",
        env: "GLOSS_DATABASE_URL",
        help: "The database: sqlite:PATH or postgres://USER:PASSWORD@HOST/DATABASE (secret).",
        expected: "sqlite:PATH (for example sqlite:gloss.db) or postgres://USER:PASSWORD@HOST/DATABASE",
    },
    Field {
        key: "posts_per_page",
        env: "GLOSS_POSTS_PER_PAGE",
        help: "Posts per page on the home, tag and author pages.",
        expected: "a whole number from 1 to 100",
    },
    Field {
        key: "log",
        env: "GLOSS_LOG",
        help: "What to log, as a tracing filter (RUST_LOG takes precedence when set).",
        expected: "a tracing filter such as info, warn or gloss=debug,sqlx=warn",
    },
    Field {
        key: "blog_handle",
        env: "GLOSS_BLOG_HANDLE",
        help: "The blog's own fediverse handle (@HANDLE@host).",
        expected: "1 to 32 lower-case letters, digits or underscores",
    },
    Field {
        key: "federation_allow_private_addresses",
        env: "GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES",
        help: "Test networks only: let fetches and deliveries reach loopback and private addresses.",
        expected: "true or false",
    },
    Field {
        key: "federation_extra_ca",
        env: "GLOSS_FEDERATION_EXTRA_CA",
        help: "Test networks only: a CA certificate (PEM file) to trust besides the system's (empty: none).",
        expected: "the path of a readable PEM file holding a CERTIFICATE block, or an empty value",
    },
    Field {
        key: "comments_moderation",
        env: "GLOSS_COMMENTS_MODERATION",
        help: "How fediverse replies are moderated: open, first-time or all.",
        expected: "open, first-time or all",
    },
    Field {
        key: "comments_close_after_days",
        env: "GLOSS_COMMENTS_CLOSE_AFTER_DAYS",
        help: "Days after publication when a post stops taking comments (0: never).",
        expected: "a whole number of days from 0 to 36500 (0 or empty: never)",
    },
    Field {
        key: "comments_local",
        env: "GLOSS_COMMENTS_LOCAL",
        help: "Readers' comments through the post page's form: off, moderated or open.",
        expected: "off, moderated or open",
    },
    Field {
        key: "page_cache_bytes",
        env: "GLOSS_PAGE_CACHE_BYTES",
        help: "Bytes of rendered public pages kept in memory for anonymous readers (0: no cache).",
        expected: "a whole number of bytes from 0 to 1073741824 (0: off)",
    },
];

/// Reads the settings: defaults, then `config` (or `gloss.toml` in the working
/// directory when `config` is `None` and the file exists), then the `GLOSS_*` variables
/// found in `env`. Writes nothing.
pub fn load(
    config: Option<&Path>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Loaded, SettingsError> {
    // Raw values as strings, with their source, in FIELDS order.
    let mut raw: Vec<Option<(String, Source)>> = vec![None; FIELDS.len()];

    let file = match config {
        Some(path) => Some(read_file(path, true)?),
        None => {
            let path = Path::new(DEFAULT_CONFIG_FILE);
            if path.exists() {
                Some(read_file(path, false)?)
            } else {
                None
            }
        }
    };
    let file_path = file.as_ref().map(|(path, _)| path.clone());
    if let Some((path, contents)) = file {
        let values = [
            contents.public_url,
            contents.listen,
            contents.database_url,
            contents.posts_per_page.map(|n| n.to_string()),
            contents.log,
            contents.blog_handle,
            contents
                .federation_allow_private_addresses
                .map(|b| b.to_string()),
            contents.federation_extra_ca,
            contents.comments_moderation,
            contents.comments_close_after_days.map(|n| n.to_string()),
            contents.comments_local,
            contents.page_cache_bytes.map(|n| n.to_string()),
        ];
        for (slot, value) in raw.iter_mut().zip(values) {
            if let Some(value) = value {
                *slot = Some((value, Source::File(path.clone())));
            }
        }
    }

    // Sorted so that the first error reported does not depend on the environment's order.
    let mut env: Vec<(OsString, OsString)> = env
        .into_iter()
        .filter(|(name, _)| name.to_string_lossy().starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (name, value) in env {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with(ENV_TEST_PREFIX) || name == CONFIG_ENV {
            continue;
        }
        let Some(index) = FIELDS.iter().position(|field| field.env == name) else {
            return Err(unknown_env(&name));
        };
        let Some(field) = FIELDS.get(index) else {
            continue;
        };
        let Ok(value) = value.into_string() else {
            return Err(SettingsError {
                setting: name,
                problem: "the value is not valid UTF-8".to_owned(),
                expected: field.expected.to_owned(),
            });
        };
        if let Some(slot) = raw.get_mut(index) {
            *slot = Some((value, Source::Env(field.env)));
        }
    }

    let mut settings = Settings::default();
    let mut sources = Vec::with_capacity(FIELDS.len());
    for (field, value) in FIELDS.iter().zip(raw) {
        let Some((value, source)) = value else {
            sources.push(Source::Default);
            continue;
        };
        apply(&mut settings, field.key, &value).map_err(|problem| SettingsError {
            setting: match &source {
                Source::Env(var) => (*var).to_owned(),
                Source::File(path) => format!("{} (in {})", field.key, path.display()),
                Source::Default => field.key.to_owned(),
            },
            problem,
            expected: field.expected.to_owned(),
        })?;
        sources.push(source);
    }
    Ok(Loaded {
        settings,
        sources,
        file: file_path,
    })
}

fn read_file(path: &Path, explicit: bool) -> Result<(PathBuf, SettingsFile), SettingsError> {
    let setting = if explicit {
        format!("--config {}", path.display())
    } else {
        path.display().to_string()
    };
    let text = std::fs::read_to_string(path).map_err(|err| SettingsError {
        setting: setting.clone(),
        problem: format!("cannot read the settings file: {err}"),
        expected: "a readable TOML file".to_owned(),
    })?;
    let contents: SettingsFile = toml::from_str(&text).map_err(|err| SettingsError {
        setting,
        problem: err.to_string().trim_end().to_owned(),
        expected: format!(
            "a TOML file with only these keys: {}",
            FIELDS.iter().map(|f| f.key).collect::<Vec<_>>().join(", ")
        ),
    })?;
    Ok((path.to_path_buf(), contents))
}

fn unknown_env(name: &str) -> SettingsError {
    let known: Vec<&str> = FIELDS.iter().map(|f| f.env).collect();
    let suggestion = known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .min()
        .filter(|(distance, _)| *distance <= 3)
        .map(|(_, candidate)| format!(" (did you mean {candidate}?)"))
        .unwrap_or_default();
    SettingsError {
        setting: name.to_owned(),
        problem: format!("unknown setting{suggestion}"),
        expected: format!(
            "one of the known settings {}, or {CONFIG_ENV} for the settings file",
            known.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean" hints on short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = current
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// Parses `value` into the field named `key`; on failure, says what is wrong.
fn apply(settings: &mut Settings, key: &str, value: &str) -> Result<(), String> {
    match key {
        "public_url" => settings.public_url = parse_public_url(value)?,
        "listen" => {
            settings.listen = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not an IP address with a port"))?;
        }
        "database_url" => {
            let value = value.trim();
            gloss_storage::engine_for_url(value).map_err(|_| {
                format!(
                    "{:?} is not a supported database URL",
                    redact_database_url(value)
                )
            })?;
            settings.database_url = DatabaseUrl(value.to_owned());
        }
        "posts_per_page" => {
            let number: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a whole number"))?;
            settings.posts_per_page = u32::try_from(number)
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| format!("{number} is out of range"))?;
        }
        "log" => {
            let value = value.trim();
            tracing_subscriber::EnvFilter::try_new(value)
                .map_err(|err| format!("{value:?} is not a valid filter: {err}"))?;
            settings.log = value.to_owned();
        }
        "blog_handle" => {
            let value = value.trim();
            if !is_valid_handle(value) {
                return Err(format!("{value:?} is not a valid handle"));
            }
            settings.blog_handle = value.to_owned();
        }
        "federation_allow_private_addresses" => {
            settings.federation_allow_private_addresses = match value.trim() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" | "" => false,
                other => return Err(format!("{other:?} is not true or false")),
            };
        }
        "federation_extra_ca" => {
            let value = value.trim();
            settings.federation_extra_ca = if value.is_empty() {
                None
            } else {
                let path = PathBuf::from(value);
                let pem = std::fs::read(&path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(format!("{} holds no PEM certificate", path.display()));
                }
                Some((path, pem))
            };
        }
        "comments_moderation" => {
            let value = value.trim();
            settings.comments_moderation =
                gloss_federation::moderation::CommentsModeration::parse(value)
                    .ok_or_else(|| format!("{value:?} is not a moderation mode"))?;
        }
        "comments_close_after_days" => {
            let value = value.trim();
            settings.comments_close_after_days = if value.is_empty() {
                0
            } else {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|days| *days <= MAX_CLOSE_AFTER_DAYS)
                    .ok_or_else(|| format!("{value:?} is not a number of days from 0 to 36500"))?
            };
        }
        "comments_local" => {
            let value = value.trim();
            settings.comments_local = gloss_federation::moderation::LocalComments::parse(value)
                .ok_or_else(|| format!("{value:?} is not off, moderated or open"))?;
        }
        "page_cache_bytes" => {
            let value = value.trim();
            settings.page_cache_bytes = value
                .parse::<usize>()
                .ok()
                .filter(|bytes| *bytes <= MAX_PAGE_CACHE_BYTES)
                .ok_or_else(|| {
                    format!("{value:?} is not a number of bytes from 0 to 1073741824")
                })?;
        }
        other => return Err(format!("{other} is not a setting")),
    }
    Ok(())
}

fn parse_public_url(value: &str) -> Result<Url, String> {
    let value = value.trim();
    let url = Url::parse(value).map_err(|err| format!("{value:?} is not a URL ({err})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{value:?} does not start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{value:?} carries a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} has a query or fragment"));
    }
    // The router serves from the root; links under a sub-path would all be broken.
    if url.path() != "/" {
        return Err(format!("{value:?} has a path ({})", url.path()));
    }
    Ok(url)
}

/// Whether `handle` is a valid blog handle: `[a-z0-9_]{1,32}`, like usernames.
fn is_valid_handle(handle: &str) -> bool {
    (1..=32).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Replaces the password of a database URL (in the user-info part and in a
/// `password=` query parameter) with `REDACTED`. Works on text, so that even URLs that
/// do not parse can be shown in an error message.
pub fn redact_database_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let rest = out.get(start..).unwrap_or_default();
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..authority_len).unwrap_or_default();
        if let Some(at) = authority.rfind('@') {
            let userinfo = authority.get(..at).unwrap_or_default();
            if let Some(colon) = userinfo.find(':') {
                let user = userinfo.get(..colon).unwrap_or_default();
                let after = rest.get(at..).unwrap_or_default();
                out = format!(
                    "{}{user}:REDACTED{after}",
                    out.get(..start).unwrap_or_default()
                );
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let (query, fragment) = match query.find('#') {
            Some(hash) => query.split_at(hash),
            None => (query, ""),
        };
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{key}=REDACTED")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}{fragment}", query.join("&"));
    }
    out
}

impl Loaded {
    /// The settings as TOML, secrets redacted, each with its description and source.
    pub fn to_toml(&self) -> String {
        let settings = &self.settings;
        let values: [toml::Value; 12] = [
            toml::Value::String(settings.public_base()),
            toml::Value::String(settings.listen.to_string()),
            toml::Value::String(settings.database_url.redacted()),
            toml::Value::Integer(i64::from(settings.posts_per_page)),
            toml::Value::String(settings.log.clone()),
            toml::Value::String(settings.blog_handle.clone()),
            toml::Value::Boolean(settings.federation_allow_private_addresses),
            toml::Value::String(
                settings
                    .federation_extra_ca
                    .as_ref()
                    .map(|(path, _)| path.display().to_string())
                    .unwrap_or_default(),
            ),
            toml::Value::String(settings.comments_moderation.as_str().to_owned()),
            toml::Value::Integer(i64::from(settings.comments_close_after_days)),
            toml::Value::String(settings.comments_local.as_str().to_owned()),
            toml::Value::Integer(i64::try_from(settings.page_cache_bytes).unwrap_or(i64::MAX)),
        ];
        let mut out = String::from(
            "# Gloss settings in effect (secrets redacted).\n\
             # Order of precedence: GLOSS_* environment variables, then the settings file, then defaults.\n",
        );
        match &self.file {
            Some(path) => out.push_str(&format!("# Settings file: {}\n", path.display())),
            None => out.push_str("# Settings file: none\n"),
        }
        for ((field, value), source) in FIELDS.iter().zip(values).zip(&self.sources) {
            let origin = match source {
                Source::Env(_) => source.to_string(),
                _ => format!("{source}; override with {}", field.env),
            };
            out.push_str(&format!(
                "\n# {}\n# from: {origin}\n{} = {value}\n",
                field.help, field.key
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Loaded, SettingsError> {
        // An explicit path that exists keeps the test independent of the working directory.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.toml");
        std::fs::write(&path, "").unwrap();
        load(Some(&path), env(pairs))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let loaded = load_env(&[("PATH", "/bin")]).unwrap();
        assert_eq!(loaded.settings.public_base(), "http://localhost:8080");
        assert_eq!(loaded.settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(loaded.settings.database_url.expose(), "sqlite:gloss.db");
        assert_eq!(loaded.settings.posts_per_page, 10);
        assert!(loaded.sources.iter().all(|s| *s == Source::Default));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "posts_per_page = 5\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        let loaded = load(Some(&path), env(&[("GLOSS_POSTS_PER_PAGE", "7")])).unwrap();
        assert_eq!(loaded.settings.posts_per_page, 7);
        assert_eq!(loaded.settings.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(loaded.sources[3], Source::Env("GLOSS_POSTS_PER_PAGE"));
        assert_eq!(loaded.sources[1], Source::File(path));
    }

    #[test]
    fn an_unknown_environment_variable_is_named_with_a_suggestion() {
        let err = load_env(&[("GLOSS_PUBLIK_URL", "x")]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("GLOSS_PUBLIK_URL: unknown setting"),
            "{message}"
        );
        assert!(
            message.contains("did you mean GLOSS_PUBLIC_URL"),
            "{message}"
        );
    }

    #[test]
    fn test_suite_variables_are_ignored() {
        assert!(load_env(&[("GLOSS_TEST_POSTGRES_URL", "postgres://x")]).is_ok());
    }

    #[test]
    fn invalid_values_name_the_setting_and_what_is_expected() {
        for (var, value, expected) in [
            ("GLOSS_PUBLIC_URL", "ftp://x", "http"),
            ("GLOSS_PUBLIC_URL", "https://x.org/blog", "without path"),
            ("GLOSS_PUBLIC_URL", "https://x.org/?a=b", "query"),
            ("GLOSS_LISTEN", "localhost", "IP address and port"),
            ("GLOSS_DATABASE_URL", "mysql://x", "sqlite:PATH"),
            ("GLOSS_POSTS_PER_PAGE", "0", "1 to 100"),
            ("GLOSS_POSTS_PER_PAGE", "ten", "1 to 100"),
            ("GLOSS_LOG", "info,[", "tracing filter"),
            ("GLOSS_BLOG_HANDLE", "Blog!", "lower-case"),
            ("GLOSS_COMMENTS_MODERATION", "sometimes", "first-time"),
            (
                "GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES",
                "maybe",
                "true or false",
            ),
            (
                "GLOSS_FEDERATION_EXTRA_CA",
                "/nonexistent/ca.pem",
                "readable PEM file",
            ),
        ] {
            let message = load_env(&[(var, value)]).unwrap_err().to_string();
            assert!(message.starts_with(var), "{message}");
            assert!(message.contains("; expected "), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn the_test_network_settings_are_off_by_default_and_read_when_given() {
        let defaults = load_env(&[]).unwrap().settings;
        assert!(!defaults.federation_allow_private_addresses);
        assert!(defaults.federation_extra_ca.is_none());

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let not_a_cert = dir.path().join("notes.txt");
        std::fs::write(&not_a_cert, "hello").unwrap();
        let ca_path = ca.display().to_string();
        let loaded = load_env(&[
            ("GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES", "true"),
            ("GLOSS_FEDERATION_EXTRA_CA", &ca_path),
        ])
        .unwrap();
        assert!(loaded.settings.federation_allow_private_addresses);
        let (path, pem) = loaded.settings.federation_extra_ca.clone().unwrap();
        assert_eq!(path, ca);
        assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(
            loaded
                .to_toml()
                .contains("federation_allow_private_addresses = true")
        );

        let message = load_env(&[(
            "GLOSS_FEDERATION_EXTRA_CA",
            &not_a_cert.display().to_string(),
        )])
        .unwrap_err()
        .to_string();
        assert!(message.contains("no PEM certificate"), "{message}");
    }

    #[test]
    fn an_unknown_file_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "publik_url = \"https://x.org\"\n").unwrap();
        let message = load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(message.contains("publik_url"), "{message}");
        assert!(message.contains("g.toml"), "{message}");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let message = load(Some(Path::new("/nonexistent/gloss.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("--config /nonexistent/gloss.toml"),
            "{message}"
        );
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_database_url("postgres://gloss:s3cret@db.example:5432/gloss"),
            "postgres://gloss:REDACTED@db.example:5432/gloss"
        );
        assert_eq!(
            redact_database_url("postgres://db/gloss?user=g&password=s3cret&sslmode=require"),
            "postgres://db/gloss?user=g&password=REDACTED&sslmode=require"
        );
        assert_eq!(redact_database_url("sqlite:gloss.db"), "sqlite:gloss.db");
        let url = DatabaseUrl("postgres://a:s3cret@h/d".into());
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn printed_settings_are_valid_toml_without_secrets() {
        let loaded = load_env(&[("GLOSS_DATABASE_URL", "postgres://u:s3cret@h/d")]).unwrap();
        let text = loaded.to_toml();
        assert!(!text.contains("s3cret"));
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["posts_per_page"].as_integer(), Some(10));
        assert!(text.contains("from: environment variable GLOSS_DATABASE_URL"));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("GLOSS_PUBLIK_URL", "GLOSS_PUBLIC_URL"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn comments_close_after_days_defaults_to_never_and_is_validated() {
        assert_eq!(load_env(&[]).unwrap().settings.comments_close_after_days, 0);
        for (value, days) in [("30", 30), (" 7 ", 7), ("0", 0), ("", 0)] {
            let loaded = load_env(&[("GLOSS_COMMENTS_CLOSE_AFTER_DAYS", value)]).unwrap();
            assert_eq!(loaded.settings.comments_close_after_days, days, "{value:?}");
        }
        for bad in ["-1", "thirty", "1.5", "36501"] {
            let message = load_env(&[("GLOSS_COMMENTS_CLOSE_AFTER_DAYS", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with("GLOSS_COMMENTS_CLOSE_AFTER_DAYS"),
                "{message}"
            );
            assert!(message.contains("0 to 36500"), "{message}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "comments_close_after_days = 14\n").unwrap();
        let loaded = load(Some(&path), env(&[])).unwrap();
        assert_eq!(loaded.settings.comments_close_after_days, 14);
        assert!(loaded.to_toml().contains("comments_close_after_days = 14"));
    }

    #[test]
    fn page_cache_bytes_defaults_to_four_mib_and_is_validated() {
        assert_eq!(
            load_env(&[]).unwrap().settings.page_cache_bytes,
            4 * 1024 * 1024
        );
        for (value, bytes) in [("0", 0), (" 1048576 ", 1_048_576)] {
            let loaded = load_env(&[("GLOSS_PAGE_CACHE_BYTES", value)]).unwrap();
            assert_eq!(loaded.settings.page_cache_bytes, bytes, "{value:?}");
        }
        for bad in ["-1", "4MiB", "", "1073741825"] {
            let message = load_env(&[("GLOSS_PAGE_CACHE_BYTES", bad)])
                .unwrap_err()
                .to_string();
            assert!(message.starts_with("GLOSS_PAGE_CACHE_BYTES"), "{message}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "page_cache_bytes = 0\n").unwrap();
        let loaded = load(Some(&path), env(&[])).unwrap();
        assert_eq!(loaded.settings.page_cache_bytes, 0);
        assert!(loaded.to_toml().contains("page_cache_bytes = 0"));
    }

    #[test]
    fn comments_local_defaults_to_moderated_and_reads_its_three_values() {
        use gloss_federation::moderation::LocalComments;
        assert_eq!(
            load_env(&[]).unwrap().settings.comments_local,
            LocalComments::Moderated
        );
        for (value, mode) in [
            ("off", LocalComments::Off),
            ("Open", LocalComments::Open),
            ("moderated", LocalComments::Moderated),
        ] {
            let loaded = load_env(&[("GLOSS_COMMENTS_LOCAL", value)]).unwrap();
            assert_eq!(loaded.settings.comments_local, mode);
        }
        let message = load_env(&[("GLOSS_COMMENTS_LOCAL", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("GLOSS_COMMENTS_LOCAL"), "{message}");
        assert!(message.contains("off, moderated or open"), "{message}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "comments_local = \"off\"\n").unwrap();
        let loaded = load(Some(&path), env(&[])).unwrap();
        assert_eq!(loaded.settings.comments_local, LocalComments::Off);
        assert!(loaded.to_toml().contains("comments_local = \"off\""));
    }
}
