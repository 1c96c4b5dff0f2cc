//! Markdown files with front matter, as `gloss post publish` reads them: YAML between
//! `---` lines (Jekyll, Hugo, Eleventy) or TOML between `+++` lines (Hugo), at the very
//! top of the file, then the Markdown body.
//!
//! Parsing is pure and finishes before the database is opened, so a malformed file
//! never touches the blog.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

/// Keys the front matter may carry.
const KNOWN_KEYS: [&str; 7] = [
    "title", "slug", "date", "tags", "summary", "author", "draft",
];

/// The front matter as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    title: Option<String>,
    slug: Option<String>,
    date: Option<String>,
    tags: Option<RawTags>,
    summary: Option<String>,
    author: Option<String>,
    draft: Option<bool>,
}

/// Tags as a list (`[a, b]`) or a comma-separated string (`"a, b"`).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a list of tags or a comma-separated string")]
enum RawTags {
    List(Vec<String>),
    Text(String),
}

/// A post file, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFile {
    pub title: String,
    pub slug: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub summary: Option<String>,
    /// Username of the author.
    pub author: Option<String>,
    pub draft: bool,
    /// The Markdown after the front matter.
    pub body: String,
}

/// Why a file cannot be published. Messages say what to write instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrontMatterError {
    #[error("has no front matter: start it with a line '---', then 'title: ...', then '---'")]
    Missing,
    #[error("front matter is not closed: add a line '{0}' after it")]
    Unclosed(&'static str),
    #[error("front matter is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("unknown front matter key{} {}; expected only {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "), KNOWN_KEYS.join(", "))]
    UnknownKeys(Vec<String>),
    #[error("front matter has no title; expected a line 'title: ...'")]
    NoTitle,
    #[error(
        "date {0:?} is not a date; expected YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (UTC) or RFC 3339 such as 2024-05-01T09:30:00+02:00"
    )]
    BadDate(String),
}

/// Splits `text` into front matter and body and checks the front matter.
pub fn parse(text: &str) -> Result<PostFile, FrontMatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first_line, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (delimiter, format) = match first_line.trim_end() {
        "---" => ("---", Format::Yaml),
        "+++" => ("+++", Format::Toml),
        _ => return Err(FrontMatterError::Missing),
    };
    let (front, body) = split_at_closing_line(rest, delimiter)?;
    let raw = match format {
        Format::Yaml => parse_yaml(front)?,
        Format::Toml => parse_toml(front)?,
    };
    check(raw, body.trim_start_matches(['\r', '\n']).to_owned())
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Yaml,
    Toml,
}

/// The text before the first line equal to `delimiter`, and the text after it.
fn split_at_closing_line<'a>(
    text: &'a str,
    delimiter: &'static str,
) -> Result<(&'a str, &'a str), FrontMatterError> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == delimiter {
            let front = text.get(..offset).unwrap_or_default();
            let body = text.get(offset + line.len()..).unwrap_or_default();
            return Ok((front, body));
        }
        offset += line.len();
    }
    Err(FrontMatterError::Unclosed(delimiter))
}

fn parse_yaml(front: &str) -> Result<RawFrontMatter, FrontMatterError> {
    let syntax = |message: String| FrontMatterError::Syntax {
        format: "YAML",
        message,
    };
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(front).map_err(|err| syntax(err.to_string()))?;
    let mapping = match value {
        // An empty block: no keys at all.
        serde_yaml_ng::Value::Null => return Ok(RawFrontMatter::default()),
        serde_yaml_ng::Value::Mapping(mapping) => mapping,
        _ => return Err(syntax("expected 'key: value' lines".to_owned())),
    };
    let keys: Vec<String> = mapping
        .keys()
        .map(|key| match key {
            serde_yaml_ng::Value::String(key) => key.clone(),
            other => serde_yaml_ng::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })
        .collect();
    reject_unknown_keys(keys)?;
    serde_yaml_ng::from_value(serde_yaml_ng::Value::Mapping(mapping))
        .map_err(|err| syntax(err.to_string()))
}

fn parse_toml(front: &str) -> Result<RawFrontMatter, FrontMatterError> {
    let syntax = |message: String| FrontMatterError::Syntax {
        format: "TOML",
        message: message.trim_end().to_owned(),
    };
    let mut table: toml::Table = toml::from_str(front).map_err(|err| syntax(err.to_string()))?;
    reject_unknown_keys(table.keys().cloned().collect())?;
    // TOML has a date type (`date = 2024-05-01`); read it as the text it was written as.
    if let Some(toml::Value::Datetime(date)) = table.get("date") {
        let text = date.to_string();
        table.insert("date".to_owned(), toml::Value::String(text));
    }
    table
        .try_into()
        .map_err(|err: toml::de::Error| syntax(err.to_string()))
}

fn reject_unknown_keys(keys: Vec<String>) -> Result<(), FrontMatterError> {
    let unknown: Vec<String> = keys
        .into_iter()
        .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(FrontMatterError::UnknownKeys(unknown))
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn check(raw: RawFrontMatter, body: String) -> Result<PostFile, FrontMatterError> {
    let title = non_empty(raw.title).ok_or(FrontMatterError::NoTitle)?;
    let date = match non_empty(raw.date) {
        Some(text) => Some(parse_date(&text).ok_or(FrontMatterError::BadDate(text))?),
        None => None,
    };
    let tags = match raw.tags {
        None => Vec::new(),
        Some(RawTags::List(tags)) => tags,
        Some(RawTags::Text(text)) => text.split(',').map(str::to_owned).collect(),
    };
    let tags = tags
        .into_iter()
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect();
    Ok(PostFile {
        title,
        slug: non_empty(raw.slug),
        date,
        tags,
        summary: non_empty(raw.summary),
        author: non_empty(raw.author),
        draft: raw.draft.unwrap_or(false),
        body,
    })
}

/// RFC 3339, or a date or date and time without zone, taken as UTC.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(date) = NaiveDateTime::parse_from_str(text, format) {
            return Some(date.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|date| date.and_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn yaml_front_matter_is_read_with_every_field() {
        let post = parse(
            "---\ntitle: Hello: world\nslug: hello\ndate: 2024-05-01 09:30\ntags: [Mali, Sahel]\n\
             summary: Short.\nauthor: alice\ndraft: true\n---\n\nBody *text*.\n",
        );
        // A colon inside an unquoted value is a YAML error; the message says so.
        assert!(matches!(post, Err(FrontMatterError::Syntax { .. })));

        let post = parse(
            "---\ntitle: \"Hello: world\"\nslug: hello\ndate: 2024-05-01 09:30\ntags: [Mali, Sahel]\n\
             summary: Short.\nauthor: alice\ndraft: true\n---\n\nBody *text*.\n",
        )
        .unwrap();
        assert_eq!(post.title, "Hello: world");
        assert_eq!(post.slug.as_deref(), Some("hello"));
        assert_eq!(post.date.unwrap().to_rfc3339(), "2024-05-01T09:30:00+00:00");
        assert_eq!(post.tags, ["Mali", "Sahel"]);
        assert_eq!(post.author.as_deref(), Some("alice"));
        assert!(post.draft);
        assert_eq!(post.body, "Body *text*.\n");
    }

    #[test]
    fn toml_front_matter_accepts_native_dates() {
        let post =
            parse("+++\ntitle = \"T\"\ndate = 2024-05-01\ntags = \"a, b ,\"\n+++\nBody\n").unwrap();
        assert_eq!(post.date.unwrap().to_rfc3339(), "2024-05-01T00:00:00+00:00");
        assert_eq!(post.tags, ["a", "b"]);
        assert_eq!(post.body, "Body\n");
    }

    #[test]
    fn a_file_without_front_matter_is_refused() {
        assert_eq!(parse("# Title\n\ntext"), Err(FrontMatterError::Missing));
        assert_eq!(parse(""), Err(FrontMatterError::Missing));
        assert_eq!(
            parse("---\ntitle: x\n"),
            Err(FrontMatterError::Unclosed("---"))
        );
    }

    #[test]
    fn unknown_keys_are_all_named() {
        let err = parse("---\ntitle: x\ncategory: y\nlayout: post\n---\n").unwrap_err();
        assert_eq!(
            err,
            FrontMatterError::UnknownKeys(vec!["category".into(), "layout".into()])
        );
        assert!(err.to_string().contains("category, layout"));
    }

    #[test]
    fn the_title_is_required() {
        assert_eq!(parse("---\n---\nbody"), Err(FrontMatterError::NoTitle));
        assert_eq!(
            parse("---\ntitle: \"  \"\n---\n"),
            Err(FrontMatterError::NoTitle)
        );
    }

    #[test]
    fn dates_come_in_several_forms() {
        for text in [
            "2024-05-01T09:30:00Z",
            "2024-05-01T11:30:00+02:00",
            "2024-05-01 09:30:00",
            "2024-05-01 09:30",
        ] {
            assert_eq!(
                parse_date(text).unwrap().to_rfc3339(),
                "2024-05-01T09:30:00+00:00",
                "{text}"
            );
        }
        assert!(parse_date("May 1st").is_none());
        assert!(matches!(
            parse("---\ntitle: x\ndate: yesterday\n---\n"),
            Err(FrontMatterError::BadDate(_))
        ));
    }

    #[test]
    fn crlf_files_and_a_byte_order_mark_are_accepted() {
        let post = parse("\u{feff}---\r\ntitle: x\r\n---\r\nBody\r\n").unwrap();
        assert_eq!(post.title, "x");
        assert_eq!(post.body, "Body\r\n");
    }
}
