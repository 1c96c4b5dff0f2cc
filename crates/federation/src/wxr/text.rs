//! Small text conversions for WordPress fields: slugs, usernames, plain text, URLs.

use crate::content::{is_valid_slug, plain_text_excerpt, slugify};

/// Decodes `%XX` escapes (WordPress stores non-ASCII slugs percent-encoded, e.g.
/// `caf%c3%a9`). Malformed escapes are kept as they are; invalid UTF-8 becomes U+FFFD.
pub(crate) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).and_then(|b| hex_value(*b)),
                bytes.get(index + 2).and_then(|b| hex_value(*b)),
            )
        {
            out.push(high * 16 + low);
            index += 3;
            continue;
        }
        out.push(byte);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A slug from a WordPress `post_name` or term `nicename`: kept when it already is a
/// valid slug once percent-decoded (so old permalinks keep working), slugified
/// otherwise, and derived from `title` when empty.
pub(crate) fn slug_from_wordpress(name: &str, title: &str, fallback: &str) -> String {
    let decoded = percent_decode(name.trim());
    if is_valid_slug(&decoded) {
        return decoded;
    }
    if decoded.trim().is_empty() {
        slugify(title, fallback)
    } else {
        slugify(&decoded, fallback)
    }
}

/// A Gloss username (`[a-z0-9_]`, 1-32 characters) from a WordPress login.
pub(crate) fn username_from_login(login: &str, author_id: &str) -> String {
    let mut username: String = login
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .take(32)
        .collect();
    if username.is_empty() {
        let digits: String = author_id
            .chars()
            .filter(char::is_ascii_digit)
            .take(26)
            .collect();
        username = format!("author{digits}");
    }
    username
}

/// Plain text of a field that WordPress treats as HTML (titles, names, term names):
/// tags dropped, entities decoded, whitespace collapsed, cut to `max_chars`.
pub(crate) fn plain_text(value: &str, max_chars: usize) -> String {
    if value.contains(['<', '&']) {
        return plain_text_excerpt(value, max_chars);
    }
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
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

/// `value` when it is an absolute `http` or `https` URL with a host; commenters'
/// websites end up in `href` attributes, so nothing else is kept.
pub(crate) fn http_url(value: &str) -> Option<String> {
    let parsed = url::Url::parse(value.trim()).ok()?;
    let web = matches!(parsed.scheme(), "http" | "https");
    let has_host = parsed.host_str().is_some_and(|host| !host.is_empty());
    (web && has_host && parsed.as_str().len() <= 2048).then(|| parsed.to_string())
}

/// Removes HTML comments (`<!-- wp:paragraph -->` block delimiters, `<!--more-->`)
/// from a post body before WordPress's "autop" sees it: the sanitizer would drop them
/// anyway, but left in, they make autop wrap block-level HTML in stray paragraphs.
pub(crate) fn strip_html_comments(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 4..).unwrap_or_default();
        match after.find("-->") {
            Some(end) => rest = after.get(end + 3..).unwrap_or_default(),
            // An unterminated comment hides the rest of the body in a browser too.
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the XML predefined entities and character references in an attribute
/// value; unknown entities (HTML ones such as `&nbsp;`) are kept as written.
pub(crate) fn decode_xml_attribute(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let decoded = after
            .find(';')
            .filter(|&semicolon| semicolon <= 12)
            .and_then(|semicolon| {
                let name = after.get(..semicolon)?;
                Some((decode_xml_reference(name)?, semicolon))
            });
        match decoded {
            Some((text, semicolon)) => {
                out.push_str(&text);
                rest = after.get(semicolon + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of the reference `&name;` (predefined entity or character reference).
pub(crate) fn decode_xml_reference(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        return char::from_u32(code)
            .filter(|c| *c != '\0')
            .map(String::from);
    }
    quick_xml::escape::resolve_xml_entity(name).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_are_decoded_and_bad_ones_kept() {
        assert_eq!(percent_decode("caf%c3%a9"), "café");
        assert_eq!(percent_decode("100%-sure%2"), "100%-sure%2");
    }

    #[test]
    fn wordpress_slugs_are_kept_when_valid() {
        assert_eq!(slug_from_wordpress("hello-world", "X", "p"), "hello-world");
        assert_eq!(
            slug_from_wordpress("caf%c3%a9-au-lait", "X", "p"),
            "cafe-au-lait"
        );
        assert_eq!(slug_from_wordpress("", "Hello, World!", "p"), "hello-world");
        assert_eq!(slug_from_wordpress("%e6%97%a5", "日本", "post-7"), "post-7");
    }

    #[test]
    fn usernames_keep_only_lowercase_letters_digits_and_underscores() {
        assert_eq!(username_from_login("John.Doe_2", "1"), "johndoe_2");
        assert_eq!(username_from_login("élise", "1"), "lise");
        assert_eq!(username_from_login("日本", "12"), "author12");
        assert_eq!(username_from_login(&"a".repeat(50), "1").len(), 32);
    }

    #[test]
    fn plain_text_decodes_entities_and_drops_tags() {
        assert_eq!(plain_text("Tom &amp; <em>Jerry</em>", 100), "Tom & Jerry");
        assert_eq!(plain_text("  spaced \n out ", 100), "spaced out");
        assert_eq!(plain_text("one two three", 9), "one two…");
    }

    #[test]
    fn only_absolute_web_urls_are_kept() {
        assert_eq!(
            http_url(" http://www.example.com/ ").as_deref(),
            Some("http://www.example.com/")
        );
        assert_eq!(http_url("javascript:alert(1)"), None);
        assert_eq!(http_url("www.example.com"), None);
        assert_eq!(http_url("mailto:a@example.com"), None);
        assert_eq!(http_url(""), None);
    }

    #[test]
    fn html_comments_are_removed() {
        assert_eq!(
            strip_html_comments(
                "<!-- wp:paragraph -->\n<p>a</p>\n<!-- /wp:paragraph --><!--more-->b"
            ),
            "\n<p>a</p>\nb"
        );
        assert_eq!(strip_html_comments("a<!-- open"), "a");
    }

    #[test]
    fn attribute_entities_are_decoded() {
        assert_eq!(
            decode_xml_attribute("a&amp;b&#233;&#xE9;&nbsp;&"),
            "a&béé&nbsp;&"
        );
    }
}
