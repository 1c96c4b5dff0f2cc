//! Turning text into HTML that is safe to put on a page.
//!
//! Every piece of HTML that reaches a page goes through one of these functions:
//! - [`render_markdown`] for posts written in Gloss (Markdown; raw HTML in it is allowed
//!   but sanitized with [`sanitize_post_html`]);
//! - [`sanitize_post_html`] for post bodies that arrive as HTML (WordPress imports): the
//!   author is trusted with a rich set of tags, but never with scripts, styles, frames,
//!   forms or event handlers;
//! - [`sanitize_comment_html`] for comments, which come from strangers: Mastodon's strict
//!   allow-list (see `shared/dependencies.md`), links marked `nofollow noopener noreferrer ugc`;
//!   [`remote_comment_html`] prepares a fediverse object's content for it (length cap
//!   first, custom emoji as their `:shortcode:`, an Article's title).
//!
//! Text that is not HTML (content warnings, names, attachment descriptions, reports) is
//! kept as plain text ([`plain_text`], [`plain_line`]): NUL and control characters
//! removed, length capped, never decoded or parsed as markup (checklist C3, C8). The
//! templates escape it and isolate it with `<bdi>`.
//!
//! Remote media is never embedded: a comment's attachments are kept as links with their
//! description ([`comment_attachment`]), which the pages show as such, so that a reader's
//! browser never loads a stranger's server just by opening a post.

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Options, Parser, html};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Longest input accepted by the sanitizers, in bytes; longer input is cut (at a
/// character boundary) before parsing, so that hostile input costs bounded time.
pub const MAX_HTML_INPUT: usize = 512 * 1024;

/// Longest comment HTML accepted before sanitizing (security checklist C5).
pub const MAX_COMMENT_INPUT: usize = 64 * 1024;

/// Longest content warning (`summary`) kept, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1_000;

/// Longest attachment description (alt text) kept, in characters.
pub const MAX_ALT_TEXT_CHARS: usize = 1_500;

/// Longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Attachments kept per comment; further ones are dropped (checklist C7, F10).
pub const MAX_COMMENT_ATTACHMENTS: usize = 4;

/// Longest URL kept from a remote object (links, attachments).
pub const MAX_REMOTE_URL_LEN: usize = 2048;

const URL_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// The elements Mastodon keeps in remote content (`MASTODON_STRICT` in its
/// `app/lib/sanitize_config.rb`): what comments may contain and what our Notes use.
pub const MASTODON_STRICT_TAGS: [&str; 20] = [
    "p",
    "br",
    "span",
    "a",
    "del",
    "s",
    "pre",
    "blockquote",
    "code",
    "b",
    "strong",
    "u",
    "i",
    "em",
    "ul",
    "ol",
    "li",
    "ruby",
    "rt",
    "rp",
];

fn post_policy() -> &'static Builder<'static> {
    static POLICY: OnceLock<Builder<'static>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let tags: HashSet<&str> = [
            "a",
            "abbr",
            "b",
            "blockquote",
            "br",
            "caption",
            "cite",
            "code",
            "dd",
            "del",
            "details",
            "dfn",
            "div",
            "dl",
            "dt",
            "em",
            "figcaption",
            "figure",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "i",
            "img",
            "ins",
            "kbd",
            "li",
            "mark",
            "ol",
            "p",
            "pre",
            "q",
            "s",
            "samp",
            "small",
            "span",
            "strong",
            "sub",
            "summary",
            "sup",
            "table",
            "tbody",
            "td",
            "tfoot",
            "th",
            "thead",
            "time",
            "tr",
            "u",
            "ul",
            "var",
        ]
        .into_iter()
        .collect();
        let mut tag_attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
        tag_attributes.insert("a", ["href", "title", "hreflang"].into_iter().collect());
        tag_attributes.insert(
            "img",
            ["src", "alt", "title", "width", "height", "loading"]
                .into_iter()
                .collect(),
        );
        tag_attributes.insert("ol", ["start", "reversed"].into_iter().collect());
        tag_attributes.insert("li", ["value"].into_iter().collect());
        tag_attributes.insert("td", ["colspan", "rowspan", "align"].into_iter().collect());
        tag_attributes.insert(
            "th",
            ["colspan", "rowspan", "align", "scope"]
                .into_iter()
                .collect(),
        );
        tag_attributes.insert("time", ["datetime"].into_iter().collect());
        tag_attributes.insert("blockquote", ["cite"].into_iter().collect());
        tag_attributes.insert("q", ["cite"].into_iter().collect());
        tag_attributes.insert("abbr", ["title"].into_iter().collect());
        tag_attributes.insert("code", ["class"].into_iter().collect());
        let mut builder = Builder::default();
        builder
            .tags(tags)
            .tag_attributes(tag_attributes)
            .generic_attributes(["lang", "dir", "id"].into_iter().collect())
            .url_schemes(URL_SCHEMES.into_iter().collect())
            .url_relative(UrlRelative::PassThrough)
            .link_rel(Some("noopener"))
            .attribute_filter(|element, attribute, value| {
                // Only `language-*` classes on code blocks (syntax hints), nothing else.
                if element == "code" && attribute == "class" && !value.starts_with("language-") {
                    return None;
                }
                Some(value.into())
            });
        builder
    })
}

fn comment_policy() -> &'static Builder<'static> {
    static POLICY: OnceLock<Builder<'static>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let tags: HashSet<&str> = MASTODON_STRICT_TAGS.into_iter().collect();
        let mut tag_attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
        tag_attributes.insert("a", ["href", "class", "translate"].into_iter().collect());
        tag_attributes.insert("span", ["class", "translate"].into_iter().collect());
        tag_attributes.insert("ol", ["start", "reversed"].into_iter().collect());
        tag_attributes.insert("li", ["value"].into_iter().collect());
        tag_attributes.insert("p", ["class"].into_iter().collect());
        let mut builder = Builder::default();
        builder
            .tags(tags)
            .tag_attributes(tag_attributes)
            .generic_attributes(["lang"].into_iter().collect())
            .url_schemes(["http", "https"].into_iter().collect())
            .url_relative(UrlRelative::Deny)
            .link_rel(Some("nofollow noopener noreferrer ugc"))
            .attribute_filter(|_element, attribute, value| match attribute {
                "translate" => (value == "no").then(|| value.into()),
                "class" => {
                    let kept: Vec<&str> = value
                        .split_ascii_whitespace()
                        .filter(|class| is_allowed_comment_class(class))
                        .collect();
                    if kept.is_empty() {
                        None
                    } else {
                        Some(kept.join(" ").into())
                    }
                }
                _ => Some(value.into()),
            });
        builder
    })
}

fn is_allowed_comment_class(class: &str) -> bool {
    const PREFIXES: [&str; 5] = ["h-", "p-", "u-", "dt-", "e-"];
    const NAMES: [&str; 5] = [
        "mention",
        "hashtag",
        "ellipsis",
        "invisible",
        "quote-inline",
    ];
    PREFIXES.iter().any(|prefix| class.starts_with(prefix)) || NAMES.contains(&class)
}

/// Cuts `input` to at most `max` bytes at a character boundary.
pub fn truncate_at_char_boundary(input: &str, max: usize) -> &str {
    if input.len() <= max {
        return input;
    }
    let mut end = max;
    while end > 0 && !input.is_char_boundary(end) {
        end -= 1;
    }
    input.get(..end).unwrap_or_default()
}

/// Strips NUL characters, which PostgreSQL TEXT refuses and no page needs.
fn without_nul(input: &str) -> std::borrow::Cow<'_, str> {
    if input.contains('\0') {
        std::borrow::Cow::Owned(input.replace('\0', ""))
    } else {
        std::borrow::Cow::Borrowed(input)
    }
}

/// Renders a post written in Markdown (CommonMark plus tables, footnotes,
/// strikethrough and task lists) to sanitized HTML. Headings are shifted down one
/// level (`#` becomes `<h2>`): the page's `<h1>` is the post title.
pub fn render_markdown(source: &str) -> String {
    let source = truncate_at_char_boundary(source, MAX_HTML_INPUT);
    let source = without_nul(source);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION;
    let parser = Parser::new_ext(&source, options).map(|event| match event {
        pulldown_cmark::Event::Start(pulldown_cmark::Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => pulldown_cmark::Event::Start(pulldown_cmark::Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        pulldown_cmark::Event::End(pulldown_cmark::TagEnd::Heading(level)) => {
            pulldown_cmark::Event::End(pulldown_cmark::TagEnd::Heading(demote(level)))
        }
        other => other,
    });
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, parser);
    post_policy().clean(&unsafe_html).to_string()
}

fn demote(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel::{H1, H2, H3, H4, H5, H6};
    match level {
        H1 => H2,
        H2 => H3,
        H3 => H4,
        H4 => H5,
        H5 | H6 => H6,
    }
}

/// Sanitizes a post body that arrives as HTML (WordPress exports). WordPress stores
/// bodies with bare newlines instead of `<p>` around paragraphs ("autop"); those are
/// turned into paragraphs first.
pub fn sanitize_post_html(html: &str) -> String {
    let html = truncate_at_char_boundary(html, MAX_HTML_INPUT);
    let html = without_nul(html);
    post_policy().clean(&wordpress_autop(&html)).to_string()
}

/// Sanitizes comment HTML from a stranger to Mastodon's allow-list.
///
/// The input is cut to [`MAX_COMMENT_INPUT`] bytes before it is parsed (checklist C5),
/// and so is the output: sanitizing can make text longer (`<a>` gains a `rel`, every
/// open element a closing tag), so when the result is still too long, a shorter prefix
/// of the input is sanitized instead (halving, so the total work stays within twice the
/// first pass). Since no output is longer than the input cap, sanitizing an output again
/// reads all of it: `sanitize_comment_html(sanitize_comment_html(x))` is
/// `sanitize_comment_html(x)` (checked by the property test below).
pub fn sanitize_comment_html(html: &str) -> String {
    let html = truncate_at_char_boundary(html, MAX_COMMENT_INPUT);
    let html = without_nul(html);
    let mut limit = html.len();
    loop {
        let cleaned = comment_policy()
            .clean(truncate_at_char_boundary(&html, limit))
            .to_string();
        if cleaned.len() <= MAX_COMMENT_INPUT || limit == 0 {
            return cleaned;
        }
        limit /= 2;
    }
}

/// Prepares the HTML `content` of a fediverse object for a comment: cut to
/// [`MAX_COMMENT_INPUT`] before anything parses it (checklist C5), custom emoji pictures
/// replaced by their `:shortcode:` (`emoji` lists the shortcodes the object's `Emoji` tags
/// declare), the `title` of an Article or Page put first as a bold paragraph, and the
/// whole sanitized with [`sanitize_comment_html`].
pub fn remote_comment_html(content: &str, title: Option<&str>, emoji: &[String]) -> String {
    let content = truncate_at_char_boundary(content, MAX_COMMENT_INPUT);
    let content = without_nul(content);
    let content = emoji_images_as_shortcodes(&content, emoji);
    let title = title
        .map(|title| plain_line(title, MAX_NAME_CHARS))
        .filter(|title| !title.is_empty());
    match title {
        Some(title) => sanitize_comment_html(&format!(
            "<p><strong>{}</strong></p>{content}",
            escape_html(&title)
        )),
        None => sanitize_comment_html(&content),
    }
}

/// Whether `name` is a custom emoji's shortcode as servers write it in `tag`:
/// `:name:` with letters, digits, `_`, `-` or `+` between the colons.
pub fn is_emoji_shortcode(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix(':')
        .and_then(|rest| rest.strip_suffix(':'))
    else {
        return false;
    };
    !inner.is_empty()
        && inner.len() <= 100
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
}

/// Replaces every `<img>` whose `alt` or `title` is one of the `emoji` shortcodes by the
/// shortcode itself, so that a custom emoji survives the sanitizer (which drops images)
/// as the text Mastodon would show without it. Servers that write the shortcode as text
/// (Mastodon does) need nothing. Any other markup is passed on untouched: this runs
/// before the sanitizer and only ever turns a tag into plain text.
pub fn emoji_images_as_shortcodes(html: &str, emoji: &[String]) -> String {
    if emoji.is_empty() || !html.contains('<') {
        return html.to_owned();
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = find_ascii_case_insensitive(rest, "<img") {
        let (before, tag_and_after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = tag_end(tag_and_after) else {
            out.push_str(tag_and_after);
            return out;
        };
        let (tag, after) = tag_and_after.split_at(end);
        let shortcode = ["alt", "title"].into_iter().find_map(|name| {
            attribute_value(tag, name)
                .map(|value| value.trim().to_owned())
                .filter(|value| emoji.iter().any(|known| known == value))
        });
        match shortcode {
            Some(shortcode) => out.push_str(&escape_html(&shortcode)),
            None => out.push_str(tag),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The byte offset of the first case-insensitive occurrence of the ASCII `needle`.
fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// The length of the tag that `text` starts with (up to and including its `>`), skipping
/// quoted attribute values; `None` when it never ends.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(at + 1),
            (None, _) => {}
        }
    }
    None
}

/// The value of attribute `name` in one start tag (`<img alt=":x:" …>`), with the usual
/// HTML spellings: double, single or no quotes, any case for the name. Character
/// references in the value are not decoded.
fn attribute_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let body = tag.strip_prefix('<')?.strip_suffix('>')?;
    // Skip the tag name.
    let mut rest = body.trim_start_matches(|c: char| !c.is_whitespace() && c != '/');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let (attribute, after_name) = rest.split_at(name_end);
        let after_name = after_name.trim_start();
        let (value, after_value) = match after_name.strip_prefix('=') {
            Some(value_and_more) => {
                let value_and_more = value_and_more.trim_start();
                match value_and_more.chars().next() {
                    Some(quote @ ('"' | '\'')) => {
                        let inner = value_and_more.get(1..).unwrap_or_default();
                        let close = inner.find(quote).unwrap_or(inner.len());
                        (
                            inner.get(..close).unwrap_or_default(),
                            inner.get(close + 1..).unwrap_or_default(),
                        )
                    }
                    _ => {
                        let end = value_and_more
                            .find(char::is_whitespace)
                            .unwrap_or(value_and_more.len());
                        value_and_more.split_at(end)
                    }
                }
            }
            None => ("", after_name),
        };
        if attribute.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if after_value.len() >= rest.len() {
            // No progress: malformed; give up rather than loop.
            return None;
        }
        rest = after_value;
    }
}

/// Links in sanitized comment HTML that count for the moderation rules: every `<a>`
/// with an `href`, except mentions and hashtags (`class` containing `mention` or
/// `hashtag`), which every fediverse reply carries.
pub fn count_comment_links(html: &str) -> usize {
    let mut count = 0;
    let mut rest = html;
    while let Some(start) = find_ascii_case_insensitive(rest, "<a") {
        let candidate = rest.get(start..).unwrap_or_default();
        let is_anchor = candidate
            .as_bytes()
            .get(2)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>');
        let end = tag_end(candidate).unwrap_or(candidate.len());
        if is_anchor {
            let tag = candidate.get(..end).unwrap_or_default();
            let is_tag_link = attribute_value(tag, "class").is_some_and(|classes| {
                classes
                    .split_ascii_whitespace()
                    .any(|class| class == "mention" || class == "hashtag")
            });
            if attribute_value(tag, "href").is_some() && !is_tag_link {
                count += 1;
            }
        }
        rest = candidate.get(end.max(1)..).unwrap_or_default();
    }
    count
}

/// Plain text from a stranger (a content warning, a report): NUL and control characters
/// removed (newlines and tabs kept), `\r\n` made `\n`, trimmed, cut to `max_chars`
/// characters. Markup and character references stay as the text they are (checklist C3).
pub fn plain_text(text: &str, max_chars: usize) -> String {
    // Bound the work before looking at characters: a char is at most 4 bytes.
    let text = truncate_at_char_boundary(text, max_chars.saturating_mul(4));
    let cleaned: String = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    cleaned.trim().chars().take(max_chars).collect()
}

/// Like [`plain_text`], on one line: every run of white space (newlines included)
/// becomes one space. For names and titles.
pub fn plain_line(text: &str, max_chars: usize) -> String {
    let text = truncate_at_char_boundary(text, max_chars.saturating_mul(4));
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().filter(|c| !c.is_control()).collect())
        .filter(|word: &String| !word.is_empty())
        .collect();
    words.join(" ").chars().take(max_chars).collect()
}

/// A comment attachment as kept: an http(s) URL of sane length (anything else is
/// dropped, checklist C11), a plausible media type, and the description as plain text.
/// Pages show it as a link with its description, never as an inline remote image.
pub fn comment_attachment(
    url: &str,
    media_type: Option<&str>,
    name: Option<&str>,
) -> Option<gloss_storage::Attachment> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    let url = String::from(parsed);
    if url.len() > MAX_REMOTE_URL_LEN {
        return None;
    }
    let media_type = media_type
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| {
            value.len() <= 100
                && value.split_once('/').is_some_and(|(kind, sub)| {
                    !kind.is_empty()
                        && !sub.is_empty()
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"/+-.".contains(&b))
                })
        });
    let name = name
        .map(|text| plain_text(text, MAX_ALT_TEXT_CHARS))
        .filter(|text| !text.is_empty());
    Some(gloss_storage::Attachment {
        url,
        media_type,
        name,
    })
}

/// Turns plain text with blank-line paragraphs and line breaks into HTML that
/// [`sanitize_comment_html`] accepts: every character is escaped.
pub fn plain_text_to_html(text: &str) -> String {
    let text = truncate_at_char_boundary(text, MAX_COMMENT_INPUT);
    let normalized = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len() + 16);
    for paragraph in normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        out.push_str("<p>");
        let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
        out.push_str(&lines.join("<br>"));
        out.push_str("</p>");
    }
    out
}

/// WordPress's "autop": text separated by blank lines becomes paragraphs and single
/// newlines become `<br>`, unless the chunk already is block-level HTML.
pub fn wordpress_autop(html: &str) -> String {
    let normalized = html.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len() + 64);
    for chunk in normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if starts_with_block_tag(chunk) {
            out.push_str(chunk);
        } else {
            out.push_str("<p>");
            out.push_str(&chunk.replace('\n', "<br>\n"));
            out.push_str("</p>");
        }
        out.push('\n');
    }
    out
}

fn starts_with_block_tag(chunk: &str) -> bool {
    const BLOCKS: [&str; 22] = [
        "p",
        "div",
        "blockquote",
        "ul",
        "ol",
        "li",
        "pre",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "figure",
        "hr",
        "dl",
        "section",
        "article",
        "aside",
        "details",
        "form",
    ];
    let Some(rest) = chunk.strip_prefix('<') else {
        return false;
    };
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    BLOCKS.contains(&name.as_str())
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\0' => {}
            other => out.push(other),
        }
    }
    out
}

/// Plain text of an HTML fragment, whitespace collapsed, cut to about `max_chars`
/// characters at a word boundary with an ellipsis. Used for summaries and previews.
pub fn plain_text_excerpt(html: &str, max_chars: usize) -> String {
    let html = truncate_at_char_boundary(html, MAX_HTML_INPUT);
    let text = html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_default();
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(max_chars).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    cut.push('…');
    cut
}

/// A URL slug: lower-case ASCII letters, digits and single dashes; other letters are
/// transliterated where simple (accents dropped) or removed. Never empty: falls back
/// to `fallback`.
pub fn slugify(text: &str, fallback: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut dash = false;
    for c in text.chars() {
        let mapped = fold_accent(c);
        if mapped.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(mapped.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if slug.len() >= 80 {
            break;
        }
    }
    if slug.is_empty() {
        fallback.to_owned()
    } else {
        slug
    }
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        other => other,
    }
}

/// Whether `slug` is a well-formed slug as [`slugify`] produces them.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 200
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_paragraphs_and_demotes_headings() {
        let html = render_markdown("# Title\n\nSome *text*.");
        assert!(html.contains("<h2>Title</h2>"), "{html}");
        assert!(html.contains("<p>Some <em>text</em>.</p>"), "{html}");
    }

    #[test]
    fn markdown_with_raw_script_is_sanitized() {
        let html = render_markdown("Hi <script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn post_html_keeps_blockquotes_and_drops_javascript_links() {
        let html = sanitize_post_html(
            "<blockquote><p>Quoted</p></blockquote>\n\n<a href=\"javascript:alert(1)\">x</a>",
        );
        assert!(
            html.contains("<blockquote><p>Quoted</p></blockquote>"),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
    }

    #[test]
    fn wordpress_autop_makes_paragraphs_from_blank_lines() {
        let html = sanitize_post_html("First line\nsecond line\n\nSecond paragraph");
        assert_eq!(
            html,
            "<p>First line<br>\nsecond line</p>\n<p>Second paragraph</p>\n"
        );
    }

    #[test]
    fn comment_links_get_ugc_rel_and_unknown_classes_are_dropped() {
        let html = sanitize_comment_html(
            "<p class=\"evil\"><a href=\"https://example.org/\" class=\"mention u-url x\">@a</a></p>",
        );
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer ugc\""),
            "{html}"
        );
        assert!(html.contains("class=\"mention u-url\""), "{html}");
        assert!(!html.contains("evil"), "{html}");
    }

    #[test]
    fn comment_html_drops_images_and_styles() {
        let html = sanitize_comment_html("<img src=x onerror=alert(1)><style>*{}</style><b>ok</b>");
        assert_eq!(html, "<b>ok</b>");
    }

    #[test]
    fn plain_text_is_escaped_into_paragraphs() {
        assert_eq!(
            plain_text_to_html("a <b>\nline\n\nnext"),
            "<p>a &lt;b&gt;<br>line</p><p>next</p>"
        );
    }

    #[test]
    fn slugs_are_ascii_and_never_empty() {
        assert_eq!(
            slugify("Mali: Guerrilla Attacks [Updated]", "x"),
            "mali-guerrilla-attacks-updated"
        );
        assert_eq!(slugify("Côte d’Ivoire", "x"), "cote-d-ivoire");
        assert_eq!(slugify("日本", "post"), "post");
        assert!(is_valid_slug("a-b-1"));
        assert!(!is_valid_slug("A b"));
    }

    #[test]
    fn excerpt_is_cut_at_a_word_boundary() {
        let text = plain_text_excerpt("<p>one two three four</p>", 9);
        assert_eq!(text, "one two…");
    }

    #[test]
    fn nul_characters_are_removed() {
        assert_eq!(sanitize_comment_html("a\0b"), "ab");
    }

    /// Checklist C1: classic XSS vectors are removed or neutralized.
    #[test]
    fn comment_html_neutralizes_the_c1_vectors() {
        for (input, forbidden) in [
            ("<script>alert(1)</script>ok", "script"),
            ("<img src=x onerror=alert(1)>ok", "onerror"),
            ("<svg onload=alert(1)>ok</svg>", "onload"),
            ("<iframe src=\"https://evil.example\"></iframe>ok", "iframe"),
            ("<style>body{}</style>ok", "style"),
            ("<a href=\"javascript:alert(1)\">ok</a>", "javascript"),
            ("<a href=\"JaVaScRiPt&#x3A;alert(1)\">ok</a>", "alert"),
            (
                "<a href=\"data:text/html,<script>alert(1)</script>\">ok</a>",
                "data:",
            ),
            ("<a href=\"mailto:a@b.example\">ok</a>", "mailto"),
            ("<a href=\"//evil.example/x\">ok</a>", "evil"),
            ("<a href=\"/relative\">ok</a>", "relative"),
        ] {
            let html = sanitize_comment_html(input);
            assert!(
                !html.to_ascii_lowercase().contains(forbidden),
                "{input} -> {html}"
            );
            assert!(html.contains("ok"), "{input} -> {html}");
        }
        let html = sanitize_comment_html("<a href=\" https://ok.example/\">link</a>");
        assert!(html.contains("https://ok.example/"), "{html}");
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer ugc\""),
            "{html}"
        );
    }

    /// Checklist C2: mutation XSS vectors are safe after re-parsing.
    #[test]
    fn comment_html_survives_the_c2_mutation_vectors() {
        for input in C2_VECTORS {
            let once = sanitize_comment_html(input);
            assert_eq!(sanitize_comment_html(&once), once, "{input}");
            assert_safe_after_reparse(&once);
        }
    }

    /// Checklist C5: huge and deeply nested input is cut before parsing.
    #[test]
    fn huge_and_deeply_nested_comment_html_is_cut_before_sanitizing() {
        for hostile in [
            "<b>".repeat(100_000),
            "<a>".repeat(100_000),
            "&".repeat(100_000),
            "<p>".to_owned() + &"a".repeat(5 * 1024 * 1024) + "</p>",
        ] {
            let html = remote_comment_html(&hostile, None, &[]);
            assert!(html.len() <= MAX_COMMENT_INPUT, "{}", html.len());
            assert!(!html.is_empty());
            assert_eq!(sanitize_comment_html(&html), html, "idempotent at the cap");
        }
    }

    #[test]
    fn custom_emoji_images_become_their_shortcodes() {
        let emoji = vec![":blob:".to_owned(), ":wave_2:".to_owned()];
        let html = remote_comment_html(
            "<p>hi <img class=\"emoji\" src=\"https://m.example/blob.png\" alt=\":blob:\"> \
             <IMG title=':wave_2:' src=x> <img alt=\":other:\" src=y> :text:</p>",
            None,
            &emoji,
        );
        assert_eq!(html, "<p>hi :blob: :wave_2:  :text:</p>");
        assert!(is_emoji_shortcode(":blob_cat-2:"));
        assert!(!is_emoji_shortcode(":a b:"));
        assert!(!is_emoji_shortcode("blob"));
        assert!(!is_emoji_shortcode("::"));
        // An unterminated tag is left for the sanitizer.
        assert_eq!(
            emoji_images_as_shortcodes("a <img alt=\":blob:\"", &emoji),
            "a <img alt=\":blob:\""
        );
    }

    #[test]
    fn links_are_counted_without_mentions_and_hashtags() {
        let html = sanitize_comment_html(
            "<p><a href=\"https://a.example/@x\" class=\"u-url mention\">@x</a> \
             <a href=\"https://a.example/tags/t\" class=\"mention hashtag\">#t</a> \
             <a href=\"https://one.example/\">1</a> <a href=\"https://two.example/\">2</a> \
             <a href=\"javascript:x\">not a link</a> <abbr>a</abbr></p>",
        );
        assert_eq!(count_comment_links(&html), 2, "{html}");
        assert_eq!(count_comment_links("<p>no links &lt;a href=x&gt;</p>"), 0);
    }

    #[test]
    fn plain_text_keeps_markup_as_text_and_drops_controls() {
        assert_eq!(
            plain_text("  &lt;script&gt; <b>x</b>\0\r\nnext ", 100),
            "&lt;script&gt; <b>x</b>\nnext"
        );
        assert_eq!(
            plain_line(" Ann\n\t\u{202E}Evil\0 ", 100),
            "Ann \u{202E}Evil"
        );
        assert_eq!(plain_text("ééé", 2), "éé");
        assert_eq!(plain_line("", 10), "");
    }

    #[test]
    fn attachments_are_http_links_with_plain_descriptions() {
        let kept = comment_attachment(
            "https://m.example/a.png",
            Some("Image/PNG"),
            Some("a <b>cat</b>\0"),
        )
        .unwrap_or_else(|| panic!("kept"));
        assert_eq!(kept.url, "https://m.example/a.png");
        assert_eq!(kept.media_type.as_deref(), Some("image/png"));
        assert_eq!(kept.name.as_deref(), Some("a <b>cat</b>"));
        for url in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "ftp://m.example/a",
            "/relative.png",
        ] {
            assert!(comment_attachment(url, None, None).is_none(), "{url}");
        }
        let odd = comment_attachment("https://m.example/a", Some("<script>"), Some("  "))
            .unwrap_or_else(|| panic!("kept"));
        assert_eq!(odd.media_type, None);
        assert_eq!(odd.name, None);
    }

    /// The mXSS and filter-evasion vectors of checklist C1/C2, as fragments for the
    /// property test too.
    const C2_VECTORS: [&str; 12] = [
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
        "<svg><foreignObject><p><img src=x onerror=alert(2)></p></foreignObject></svg>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(3)>\"></noscript>",
        "<math><annotation-xml encoding=\"text/html\"><img src=x onerror=alert(4)></annotation-xml></math>",
        "<svg><style><img src=x onerror=alert(5)></style></svg>",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(6)>",
        "<a href=\"jav&#x09;ascript:alert(7)\">x</a>",
        "<a href=\"&#106;avascript:alert(8)\">x</a>",
        "<a href=\" data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==\">x</a>",
        "<p style=\"background:url(javascript:alert(10))\" onclick=\"alert(11)\">x</p>",
        "<template><img src=x onerror=alert(12)></template><xmp><img src=x onerror=alert(13)></xmp>",
        "<!--<img src=x onerror=alert(14)>--><![CDATA[<img src=x onerror=alert(15)>]]>",
    ];

    thread_local! {
        /// What the re-parsing policy saw: (element, attribute, value).
        static SEEN: std::cell::RefCell<Vec<(String, String, String)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Re-parses sanitized HTML with html5ever (through a permissive ammonia policy that
    /// keeps every element and records every attribute) and checks that nothing active
    /// is left: no event handler, no `javascript:`/`data:`/`vbscript:` URL, no element
    /// outside the comment allow-list.
    fn assert_safe_after_reparse(html: &str) {
        static OBSERVER: OnceLock<Builder<'static>> = OnceLock::new();
        const OBSERVED_TAGS: [&str; 40] = [
            "script",
            "style",
            "iframe",
            "img",
            "svg",
            "math",
            "object",
            "embed",
            "noscript",
            "template",
            "form",
            "input",
            "button",
            "link",
            "meta",
            "base",
            "frame",
            "frameset",
            "textarea",
            "select",
            "option",
            "xmp",
            "title",
            "mtext",
            "mglyph",
            "annotation-xml",
            "foreignobject",
            "details",
            "video",
            "audio",
            "source",
            "table",
            "td",
            "tr",
            "div",
            "a",
            "p",
            "span",
            "b",
            "iframe",
        ];
        let observer = OBSERVER.get_or_init(|| {
            let mut tags: HashSet<&str> = OBSERVED_TAGS.into_iter().collect();
            tags.extend(MASTODON_STRICT_TAGS);
            let prefixes: HashSet<&str> = [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
                "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "-", "_", ":",
            ]
            .into_iter()
            .collect();
            let mut builder = Builder::empty();
            builder
                .tags(tags)
                .clean_content_tags(HashSet::new())
                .generic_attribute_prefixes(prefixes)
                .url_schemes(
                    ["http", "https", "mailto", "javascript", "data", "vbscript"]
                        .into_iter()
                        .collect(),
                )
                .url_relative(UrlRelative::PassThrough)
                .link_rel(None)
                .strip_comments(false)
                .attribute_filter(|element, attribute, value| {
                    SEEN.with(|seen| {
                        seen.borrow_mut().push((
                            element.to_owned(),
                            attribute.to_owned(),
                            value.to_owned(),
                        ));
                    });
                    Some(value.into())
                });
            builder
        });
        SEEN.with(|seen| seen.borrow_mut().clear());
        let reparsed = observer.clean(html).to_string();
        let seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
        for (element, attribute, value) in seen {
            assert!(
                !attribute.to_ascii_lowercase().starts_with("on"),
                "event handler {element}[{attribute}] in {html}"
            );
            let squeezed: String = value
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
                .to_ascii_lowercase();
            for scheme in ["javascript:", "data:", "vbscript:"] {
                assert!(
                    !squeezed.starts_with(scheme),
                    "{scheme} URL in {element}[{attribute}] of {html}"
                );
            }
            assert!(
                matches!(
                    attribute.as_str(),
                    "href"
                        | "class"
                        | "rel"
                        | "lang"
                        | "translate"
                        | "start"
                        | "reversed"
                        | "value"
                ),
                "unexpected attribute {element}[{attribute}] in {html}"
            );
        }
        let lower = reparsed.to_ascii_lowercase();
        for tag in OBSERVED_TAGS {
            if MASTODON_STRICT_TAGS.contains(&tag) {
                continue;
            }
            assert!(!lower.contains(&format!("<{tag}")), "<{tag}> in {html}");
        }
    }

    #[test]
    fn the_reparse_check_catches_what_it_looks_for() {
        for unsafe_html in [
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\" DATA:text/html,x\">x</a>",
            "<p onclick=\"x\">x</p>",
            "<img src=\"https://x.example/\">",
            "<script>x</script>",
        ] {
            let caught = std::panic::catch_unwind(|| assert_safe_after_reparse(unsafe_html));
            assert!(caught.is_err(), "not caught: {unsafe_html}");
        }
        assert_safe_after_reparse("<p><a href=\"https://ok.example/\" rel=\"nofollow\">ok</a></p>");
    }

    mod properties {
        use super::super::*;
        use super::{C2_VECTORS, assert_safe_after_reparse};
        use proptest::prelude::*;
        use proptest::sample::select;

        const TAGS: [&str; 24] = [
            "a",
            "p",
            "b",
            "span",
            "img",
            "svg",
            "math",
            "script",
            "style",
            "iframe",
            "noscript",
            "mtext",
            "mglyph",
            "table",
            "form",
            "template",
            "annotation-xml",
            "foreignObject",
            "ul",
            "li",
            "blockquote",
            "code",
            "pre",
            "xmp",
        ];
        const ATTRIBUTES: [&str; 12] = [
            "href",
            "src",
            "onerror",
            "onload",
            "OnClick",
            "class",
            "style",
            "title",
            "alt",
            "encoding",
            "xlink:href",
            "formaction",
        ];
        const VALUES: [&str; 16] = [
            "https://ok.example/",
            "javascript:alert(1)",
            "JaVaScRiPt&#x3A;alert(1)",
            "java\tscript:alert(1)",
            "&#106;avascript:alert(1)",
            " data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "mention hashtag",
            "u-url mention evil",
            "</noscript><img src=x onerror=alert(1)>",
            "text/html",
            "x\" onerror=\"alert(1)",
            "//evil.example",
            "",
            "&quot;><script>alert(1)</script>",
            "<>&'\"",
        ];

        fn fragment() -> impl Strategy<Value = String> {
            prop_oneof![
                select(&C2_VECTORS[..]).prop_map(str::to_owned),
                (
                    select(&TAGS[..]),
                    select(&ATTRIBUTES[..]),
                    select(&VALUES[..]),
                    0..3u8
                )
                    .prop_map(|(tag, attribute, value, quoting)| match quoting {
                        0 => format!("<{tag} {attribute}=\"{value}\">"),
                        1 => format!("<{tag} {attribute}='{value}'>"),
                        _ => format!("<{tag} {attribute}={value}>"),
                    }),
                select(&TAGS[..]).prop_map(|tag| format!("</{tag}>")),
                "[a-z <>&;=\"'/:#!\\-]{0,16}",
                Just("<!--".to_owned()),
                Just("-->".to_owned()),
                Just("<![CDATA[".to_owned()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Checklist C2 and the issue's property: sanitizing is idempotent and leaves
            /// no event handler, `javascript:` or `data:` URL once the output is parsed again.
            #[test]
            fn sanitizing_is_idempotent_and_leaves_nothing_active(
                parts in proptest::collection::vec(fragment(), 0..12)
            ) {
                let input = parts.concat();
                let once = sanitize_comment_html(&input);
                let twice = sanitize_comment_html(&once);
                prop_assert_eq!(&twice, &once, "input: {}", input);
                assert_safe_after_reparse(&once);
                let remote = remote_comment_html(&input, Some(&input), &[":x:".to_owned()]);
                prop_assert_eq!(sanitize_comment_html(&remote), remote.clone());
                assert_safe_after_reparse(&remote);
            }
        }
    }
}
