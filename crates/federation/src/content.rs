//! Turning text into HTML that is safe to put on a page.
//!
//! Every piece of HTML that reaches a page goes through one of these functions:
//! - [`render_markdown`] for posts written in Gloss (Markdown; raw HTML in it is allowed
//!   but sanitized with [`sanitize_post_html`]);
//! - [`sanitize_post_html`] for post bodies that arrive as HTML (WordPress imports): the
//!   author is trusted with a rich set of tags, but never with scripts, styles, frames,
//!   forms or event handlers;
//! - [`sanitize_comment_html`] for comments, which come from strangers: Mastodon's strict
//!   allow-list (see `shared/dependencies.md`), links marked `nofollow noopener noreferrer ugc`.

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Options, Parser, html};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Longest input accepted by the sanitizers, in bytes; longer input is cut (at a
/// character boundary) before parsing, so that hostile input costs bounded time.
pub const MAX_HTML_INPUT: usize = 512 * 1024;

/// Longest comment HTML accepted before sanitizing (security checklist C5).
pub const MAX_COMMENT_INPUT: usize = 64 * 1024;

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
pub fn sanitize_comment_html(html: &str) -> String {
    let html = truncate_at_char_boundary(html, MAX_COMMENT_INPUT);
    let html = without_nul(html);
    comment_policy().clean(&html).to_string()
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
}
