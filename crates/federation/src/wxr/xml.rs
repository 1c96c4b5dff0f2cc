//! Streaming a WXR file into plain records.
//!
//! One pass with `quick_xml::NsReader` over the whole input. Elements are matched by
//! namespace URI (the prefixes `wp:`, `content:`... are only conventions) and by
//! their parent, using an explicit stack: `<wp:comment_id>` counts only directly
//! inside `<wp:comment>`, `<title>` only directly inside `<item>` or `<channel>`.
//! Text is collected only inside the fields we read, and each field is capped.

use super::text::{decode_xml_attribute, decode_xml_reference};
use super::{MAX_DEPTH, MAX_TEXT_BYTES, WxrError};
use quick_xml::NsReader;
use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

/// The channel of an export, as written.
#[derive(Debug, Default)]
pub(crate) struct RawChannel {
    pub title: String,
    pub link: String,
    pub base_site_url: String,
    pub authors: Vec<RawAuthor>,
    pub items: Vec<RawItem>,
}

/// A `wp:author` of the channel.
#[derive(Debug, Default)]
pub(crate) struct RawAuthor {
    pub id: String,
    pub login: String,
    pub display_name: String,
}

/// An `<item>`: a post, page, attachment, menu item...
#[derive(Debug, Default)]
pub(crate) struct RawItem {
    pub title: String,
    pub pub_date: String,
    pub creator: String,
    pub content: String,
    pub excerpt: String,
    pub post_id: String,
    pub post_date: String,
    pub post_date_gmt: String,
    pub post_modified_gmt: String,
    pub post_name: String,
    pub status: String,
    pub post_type: String,
    pub post_password: String,
    pub categories: Vec<RawCategory>,
    pub comments: Vec<RawComment>,
}

/// A `<category domain="..." nicename="...">Name</category>` of an item.
#[derive(Debug, Default)]
pub(crate) struct RawCategory {
    pub domain: String,
    pub nicename: String,
    pub name: String,
}

/// A `wp:comment` of an item.
#[derive(Debug, Default)]
pub(crate) struct RawComment {
    pub id: String,
    pub author: String,
    pub author_email: String,
    pub author_url: String,
    pub date: String,
    pub date_gmt: String,
    pub content: String,
    pub approved: String,
    pub comment_type: String,
    pub parent: String,
}

/// The namespaces WXR uses, recognised by URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    /// No namespace: the RSS 2.0 elements.
    Rss,
    Wp,
    Content,
    Excerpt,
    Dc,
    Other,
}

fn namespace_of(resolved: &ResolveResult<'_>) -> Ns {
    match resolved {
        ResolveResult::Unbound => Ns::Rss,
        ResolveResult::Bound(Namespace(uri)) => namespace_of_uri(uri),
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

/// `http://wordpress.org/export/1.N/` is `wp`, `.../1.N/excerpt/` is `excerpt`
/// (WXR 1.0 to 1.2 differ only in that number).
fn namespace_of_uri(uri: &[u8]) -> Ns {
    let Some(rest) = uri
        .strip_prefix(b"http://")
        .or_else(|| uri.strip_prefix(b"https://"))
    else {
        return Ns::Other;
    };
    match rest {
        b"purl.org/rss/1.0/modules/content/" => return Ns::Content,
        b"purl.org/dc/elements/1.1/" => return Ns::Dc,
        _ => {}
    }
    let Some(version) = rest.strip_prefix(b"wordpress.org/export/1.") else {
        return Ns::Other;
    };
    let digits = version.iter().take_while(|b| b.is_ascii_digit()).count();
    match version.get(digits..) {
        Some(b"/") if digits > 0 => Ns::Wp,
        Some(b"/excerpt/") if digits > 0 => Ns::Excerpt,
        _ => Ns::Other,
    }
}

/// A field whose text we keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ChannelTitle,
    ChannelLink,
    BaseSiteUrl,
    AuthorId,
    AuthorLogin,
    AuthorDisplayName,
    ItemTitle,
    ItemPubDate,
    ItemCreator,
    ItemContent,
    ItemExcerpt,
    PostId,
    PostDate,
    PostDateGmt,
    PostModifiedGmt,
    PostName,
    Status,
    PostType,
    PostPassword,
    Category,
    CommentId,
    CommentAuthor,
    CommentAuthorEmail,
    CommentAuthorUrl,
    CommentDate,
    CommentDateGmt,
    CommentContent,
    CommentApproved,
    CommentType,
    CommentParent,
}

/// What an open element is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Rss,
    Channel,
    Author,
    Item,
    Comment,
    Field(Field),
    /// Anything we do not read (including everything inside a field).
    Other,
}

/// What the element `(ns, local)` is when its parent is `parent`.
fn classify(parent: Open, ns: Ns, local: &[u8]) -> Open {
    use Field as F;
    let field = match (parent, ns, local) {
        (Open::Rss, Ns::Rss, b"channel") => return Open::Channel,
        (Open::Channel, Ns::Rss, b"item") => return Open::Item,
        (Open::Channel, Ns::Wp, b"author") => return Open::Author,
        (Open::Item, Ns::Wp, b"comment") => return Open::Comment,

        (Open::Channel, Ns::Rss, b"title") => F::ChannelTitle,
        (Open::Channel, Ns::Rss, b"link") => F::ChannelLink,
        (Open::Channel, Ns::Wp, b"base_site_url") => F::BaseSiteUrl,

        (Open::Author, Ns::Wp, b"author_id") => F::AuthorId,
        (Open::Author, Ns::Wp, b"author_login") => F::AuthorLogin,
        (Open::Author, Ns::Wp, b"author_display_name") => F::AuthorDisplayName,

        (Open::Item, Ns::Rss, b"title") => F::ItemTitle,
        (Open::Item, Ns::Rss, b"pubDate") => F::ItemPubDate,
        (Open::Item, Ns::Rss, b"category") => F::Category,
        (Open::Item, Ns::Dc, b"creator") => F::ItemCreator,
        (Open::Item, Ns::Content, b"encoded") => F::ItemContent,
        (Open::Item, Ns::Excerpt, b"encoded") => F::ItemExcerpt,
        (Open::Item, Ns::Wp, b"post_id") => F::PostId,
        (Open::Item, Ns::Wp, b"post_date") => F::PostDate,
        (Open::Item, Ns::Wp, b"post_date_gmt") => F::PostDateGmt,
        (Open::Item, Ns::Wp, b"post_modified_gmt") => F::PostModifiedGmt,
        (Open::Item, Ns::Wp, b"post_name") => F::PostName,
        (Open::Item, Ns::Wp, b"status") => F::Status,
        (Open::Item, Ns::Wp, b"post_type") => F::PostType,
        (Open::Item, Ns::Wp, b"post_password") => F::PostPassword,

        (Open::Comment, Ns::Wp, b"comment_id") => F::CommentId,
        (Open::Comment, Ns::Wp, b"comment_author") => F::CommentAuthor,
        (Open::Comment, Ns::Wp, b"comment_author_email") => F::CommentAuthorEmail,
        (Open::Comment, Ns::Wp, b"comment_author_url") => F::CommentAuthorUrl,
        (Open::Comment, Ns::Wp, b"comment_date") => F::CommentDate,
        (Open::Comment, Ns::Wp, b"comment_date_gmt") => F::CommentDateGmt,
        (Open::Comment, Ns::Wp, b"comment_content") => F::CommentContent,
        (Open::Comment, Ns::Wp, b"comment_approved") => F::CommentApproved,
        (Open::Comment, Ns::Wp, b"comment_type") => F::CommentType,
        (Open::Comment, Ns::Wp, b"comment_parent") => F::CommentParent,
        _ => return Open::Other,
    };
    Open::Field(field)
}

/// How often (in bytes read) progress is reported.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Reads a whole export into a [`RawChannel`], or fails with the position of the
/// first problem.
pub(crate) fn read_channel(
    xml: &[u8],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RawChannel, WxrError> {
    // quick-xml skips a UTF-8 byte order mark without counting it in its positions;
    // skipping it here keeps our offsets aligned with the reader's (and editors do not
    // count it as a column either).
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let total = xml.len() as u64;
    progress(0, total);
    let mut state = ReadState::new(xml);
    let mut reader = NsReader::from_reader(xml);
    let mut reported = 0;
    loop {
        let event_start = reader.buffer_position();
        let (ns, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (namespace_of(&resolved), event),
            Err(error) => return Err(state.xml_error(&error, reader.error_position())),
        };
        match event {
            Event::Start(start) => state.open(&start, ns, event_start)?,
            Event::Empty(start) => {
                state.open(&start, ns, event_start)?;
                state.close();
            }
            Event::End(_) => state.close(),
            Event::Text(text) if state.capturing() => {
                let text = text
                    .xml10_content()
                    .map_err(|error| WxrError::at(xml, event_start, error.to_string()))?;
                state.append(&text)?;
            }
            Event::CData(cdata) if state.capturing() => {
                let text = cdata
                    .xml10_content()
                    .map_err(|error| WxrError::at(xml, event_start, error.to_string()))?;
                state.append(&text)?;
            }
            Event::GeneralRef(reference) if state.capturing() => {
                let name = reference
                    .decode()
                    .map_err(|error| WxrError::at(xml, event_start, error.to_string()))?;
                match decode_xml_reference(&name) {
                    Some(text) => state.append(&text)?,
                    None if name.starts_with('#') => {
                        return Err(WxrError::at(
                            xml,
                            event_start,
                            format!("invalid character reference &{name};"),
                        ));
                    }
                    // An HTML entity (`&nbsp;`) that XML does not define: keep it as
                    // written; bodies are HTML, and plain-text fields decode it later.
                    None => state.append(&format!("&{name};"))?,
                }
            }
            Event::Eof => break,
            _ => {}
        }
        let position = reader.buffer_position();
        if position - reported >= PROGRESS_STEP {
            reported = position;
            progress(position, total);
        }
    }
    let channel = state.finish(total)?;
    progress(total, total);
    Ok(channel)
}

/// The reader's state between events.
struct ReadState<'x> {
    xml: &'x [u8],
    /// Open elements with the byte offset of their `<`.
    stack: Vec<(Open, u64)>,
    /// Depth of the field being captured (its index in `stack`).
    capture: Option<usize>,
    text: String,
    channel: RawChannel,
    author: RawAuthor,
    item: RawItem,
    comment: RawComment,
    category: RawCategory,
    /// Offset of `<rss>`, once seen.
    rss_at: Option<u64>,
    root_closed: bool,
    saw_channel: bool,
    /// Whether any element of the WordPress export namespace was seen: an RSS feed
    /// without them is not an export.
    saw_wordpress: bool,
}

impl<'x> ReadState<'x> {
    fn new(xml: &'x [u8]) -> Self {
        ReadState {
            xml,
            stack: Vec::new(),
            capture: None,
            text: String::new(),
            channel: RawChannel::default(),
            author: RawAuthor::default(),
            item: RawItem::default(),
            comment: RawComment::default(),
            category: RawCategory::default(),
            rss_at: None,
            root_closed: false,
            saw_channel: false,
            saw_wordpress: false,
        }
    }

    fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    fn open(&mut self, start: &BytesStart<'_>, ns: Ns, at: u64) -> Result<(), WxrError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(WxrError::at(
                self.xml,
                at,
                format!("elements are nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        let local = start.local_name();
        let local = local.as_ref();
        if ns == Ns::Wp || ns == Ns::Excerpt {
            self.saw_wordpress = true;
        }
        let open = match self.stack.last() {
            Some(&(parent, _)) => classify(parent, ns, local),
            None if self.rss_at.is_none() => {
                if ns != Ns::Rss || local != b"rss" {
                    return Err(WxrError::at(
                        self.xml,
                        at,
                        format!(
                            "not a WordPress export: the document is <{}>, not <rss>",
                            String::from_utf8_lossy(start.name().as_ref())
                        ),
                    ));
                }
                self.rss_at = Some(at);
                Open::Rss
            }
            // Anything after the root element is ignored.
            None => Open::Other,
        };
        match open {
            Open::Channel => self.saw_channel = true,
            Open::Author => self.author = RawAuthor::default(),
            Open::Item => self.item = RawItem::default(),
            Open::Comment => self.comment = RawComment::default(),
            Open::Field(field) => {
                self.capture = Some(self.stack.len());
                self.text.clear();
                if field == Field::Category {
                    self.category = self.category_attributes(start, at)?;
                }
            }
            Open::Rss | Open::Other => {}
        }
        self.stack.push((open, at));
        Ok(())
    }

    fn category_attributes(
        &self,
        start: &BytesStart<'_>,
        at: u64,
    ) -> Result<RawCategory, WxrError> {
        let mut category = RawCategory::default();
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|error| WxrError::at(self.xml, at, error.to_string()))?;
            let key = attribute.key;
            if key.prefix().is_some() {
                continue;
            }
            let value = decode_xml_attribute(&String::from_utf8_lossy(&attribute.value));
            match key.local_name().as_ref() {
                b"domain" => category.domain = value,
                b"nicename" => category.nicename = value,
                _ => {}
            }
        }
        Ok(category)
    }

    fn append(&mut self, text: &str) -> Result<(), WxrError> {
        if self.text.len() + text.len() > MAX_TEXT_BYTES {
            let at = self
                .capture
                .and_then(|depth| self.stack.get(depth))
                .map_or(0, |&(_, at)| at);
            return Err(WxrError::at(
                self.xml,
                at,
                format!(
                    "the text of <{}> is longer than {} MiB",
                    element_name_at(self.xml, at),
                    MAX_TEXT_BYTES / (1024 * 1024)
                ),
            ));
        }
        // XML forbids NUL, PostgreSQL TEXT refuses it, and no page needs it.
        if text.contains('\0') {
            self.text.push_str(&text.replace('\0', ""));
        } else {
            self.text.push_str(text);
        }
        Ok(())
    }

    fn close(&mut self) {
        let Some((open, _)) = self.stack.pop() else {
            return;
        };
        match open {
            Open::Field(field) => {
                self.capture = None;
                let text = std::mem::take(&mut self.text);
                self.store(field, text);
            }
            Open::Author => {
                let author = std::mem::take(&mut self.author);
                self.channel.authors.push(author);
            }
            Open::Comment => {
                let comment = std::mem::take(&mut self.comment);
                self.item.comments.push(comment);
            }
            Open::Item => {
                let item = std::mem::take(&mut self.item);
                self.channel.items.push(item);
            }
            Open::Rss => self.root_closed = true,
            Open::Channel | Open::Other => {}
        }
    }

    fn store(&mut self, field: Field, text: String) {
        use Field as F;
        let slot = match field {
            F::ChannelTitle => &mut self.channel.title,
            F::ChannelLink => &mut self.channel.link,
            F::BaseSiteUrl => &mut self.channel.base_site_url,
            F::AuthorId => &mut self.author.id,
            F::AuthorLogin => &mut self.author.login,
            F::AuthorDisplayName => &mut self.author.display_name,
            F::ItemTitle => &mut self.item.title,
            F::ItemPubDate => &mut self.item.pub_date,
            F::ItemCreator => &mut self.item.creator,
            F::ItemContent => &mut self.item.content,
            F::ItemExcerpt => &mut self.item.excerpt,
            F::PostId => &mut self.item.post_id,
            F::PostDate => &mut self.item.post_date,
            F::PostDateGmt => &mut self.item.post_date_gmt,
            F::PostModifiedGmt => &mut self.item.post_modified_gmt,
            F::PostName => &mut self.item.post_name,
            F::Status => &mut self.item.status,
            F::PostType => &mut self.item.post_type,
            F::PostPassword => &mut self.item.post_password,
            F::Category => {
                let mut category = std::mem::take(&mut self.category);
                category.name = text;
                self.item.categories.push(category);
                return;
            }
            F::CommentId => &mut self.comment.id,
            F::CommentAuthor => &mut self.comment.author,
            F::CommentAuthorEmail => &mut self.comment.author_email,
            F::CommentAuthorUrl => &mut self.comment.author_url,
            F::CommentDate => &mut self.comment.date,
            F::CommentDateGmt => &mut self.comment.date_gmt,
            F::CommentContent => &mut self.comment.content,
            F::CommentApproved => &mut self.comment.approved,
            F::CommentType => &mut self.comment.comment_type,
            F::CommentParent => &mut self.comment.parent,
        };
        *slot = text;
    }

    /// Checks that the document was a complete WXR export.
    fn finish(self, total: u64) -> Result<RawChannel, WxrError> {
        if let Some(&(_, at)) = self.stack.last() {
            let (line, column) = super::line_and_column(self.xml, at);
            return Err(WxrError::at(
                self.xml,
                total,
                format!(
                    "the file ends inside <{}> (opened at line {line}, column {column}); is it truncated?",
                    element_name_at(self.xml, at)
                ),
            ));
        }
        let Some(rss_at) = self.rss_at else {
            return Err(WxrError::at(
                self.xml,
                total,
                "not a WordPress export: no <rss> element",
            ));
        };
        if !self.root_closed {
            return Err(WxrError::at(self.xml, total, "the file ends before </rss>"));
        }
        if !self.saw_channel {
            return Err(WxrError::at(
                self.xml,
                rss_at,
                "not a WordPress export: <rss> has no <channel>",
            ));
        }
        if !self.saw_wordpress {
            return Err(WxrError::at(
                self.xml,
                rss_at,
                "not a WordPress export: an RSS feed without WordPress data (no element in the http://wordpress.org/export/ namespace)",
            ));
        }
        Ok(self.channel)
    }

    /// Turns a quick-xml error into one with a position. An end tag that does not
    /// match is reported where the unclosed element was opened: that is the line to
    /// fix, and the end tag's own position is in the message.
    fn xml_error(&self, error: &XmlError, error_at: u64) -> WxrError {
        if let XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) = error
            && let Some(&(_, opened_at)) = self.stack.last()
        {
            let (line, column) = super::line_and_column(self.xml, error_at);
            return WxrError::at(
                self.xml,
                opened_at,
                format!(
                    "<{expected}> is not closed: found </{found}> at line {line}, column {column}"
                ),
            );
        }
        WxrError::at(self.xml, error_at, error.to_string())
    }
}

/// The qualified name of the element whose `<` is at `at`, for messages.
fn element_name_at(xml: &[u8], at: u64) -> String {
    let start = usize::try_from(at).unwrap_or(usize::MAX).saturating_add(1);
    let name: Vec<u8> = xml
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| !b.is_ascii_whitespace() && **b != b'>' && **b != b'/')
        .take(100)
        .copied()
        .collect();
    String::from_utf8_lossy(&name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpress_namespaces_are_recognised_by_uri() {
        assert_eq!(
            namespace_of_uri(b"http://wordpress.org/export/1.2/"),
            Ns::Wp
        );
        assert_eq!(
            namespace_of_uri(b"http://wordpress.org/export/1.0/"),
            Ns::Wp
        );
        assert_eq!(
            namespace_of_uri(b"http://wordpress.org/export/1.1/excerpt/"),
            Ns::Excerpt
        );
        assert_eq!(
            namespace_of_uri(b"http://purl.org/rss/1.0/modules/content/"),
            Ns::Content
        );
        assert_eq!(
            namespace_of_uri(b"http://purl.org/dc/elements/1.1/"),
            Ns::Dc
        );
        assert_eq!(namespace_of_uri(b"http://wordpress.org/export/"), Ns::Other);
        assert_eq!(namespace_of_uri(b"http://example.org/wp/"), Ns::Other);
    }

    #[test]
    fn fields_count_only_under_their_parent() {
        assert_eq!(
            classify(Open::Comment, Ns::Wp, b"comment_id"),
            Open::Field(Field::CommentId)
        );
        assert_eq!(classify(Open::Item, Ns::Wp, b"comment_id"), Open::Other);
        assert_eq!(classify(Open::Other, Ns::Wp, b"comment_id"), Open::Other);
        assert_eq!(classify(Open::Item, Ns::Rss, b"item"), Open::Other);
    }

    #[test]
    fn element_names_are_read_back_for_messages() {
        assert_eq!(element_name_at(b"  <wp:post_id>1", 2), "wp:post_id");
        assert_eq!(element_name_at(b"<br/>", 0), "br");
    }
}
