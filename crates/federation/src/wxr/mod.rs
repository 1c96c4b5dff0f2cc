//! Reading a WordPress export (WXR 1.0, 1.1 and 1.2) into an [`ImportBatch`].
//!
//! Two stages, so that nothing is half-imported: [`xml`] streams the whole file into
//! plain records (or fails with a line and column), then [`mapping`] decides what is
//! kept, what is skipped and why, and turns bodies and comments into sanitized HTML.
//! Only then does the caller hand the batch to `Store::import`, which applies it in
//! one transaction.
//!
//! Everything is bounded: the file size ([`MAX_INPUT_BYTES`]), a single text node
//! ([`MAX_TEXT_BYTES`]) and the element depth ([`MAX_DEPTH`]); the reader keeps its
//! own stack instead of recursing, so hostile nesting costs memory in proportion to
//! the input and nothing more.
//!
//! WXR is RSS 2.0 with WordPress namespaces; see
//! <https://developer.wordpress.org/reference/functions/export_wp/> for what the
//! exporter writes.

mod dates;
mod mapping;
mod text;
mod xml;

use gloss_storage::{AuthorId, ImportBatch};
use std::fmt;

/// Largest export accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// Longest single text node (a post body, a comment) accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// Deepest element nesting accepted. WXR needs five levels; the slack is for
/// exporters that put extra markup in.
pub const MAX_DEPTH: usize = 256;

/// Why an export could not be read. Nothing of it is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrError {
    /// 1-based line of the problem; 0 when it concerns the whole file (too large).
    pub line: u64,
    /// 1-based column, in characters; 0 when it concerns the whole file.
    pub column: u64,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl fmt::Display for WxrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for WxrError {}

impl WxrError {
    /// An error at byte `offset` of `xml`, with line and column computed from it.
    pub(crate) fn at(xml: &[u8], offset: u64, message: impl Into<String>) -> WxrError {
        let (line, column) = line_and_column(xml, offset);
        WxrError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `xml`. An offset past
/// the end points just after the last byte.
pub(crate) fn line_and_column(xml: &[u8], offset: u64) -> (u64, u64) {
    let end = usize::try_from(offset).unwrap_or(usize::MAX).min(xml.len());
    let before = xml.get(..end).unwrap_or_default();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    // Count characters, not bytes: UTF-8 continuation bytes look like 0b10xx_xxxx.
    let column = before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count() as u64
        + 1;
    (line, column)
}

/// The blog an export came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrSite {
    /// The blog title (`<channel><title>`), as plain text.
    pub title: String,
    /// The blog address (`<channel><link>`).
    pub link: String,
    /// `wp:base_site_url` without a trailing slash; part of every import key, so that
    /// exports of different blogs never collide and the same blog imports idempotently.
    pub base_site_url: String,
    /// Number of `<item>` elements read (posts, pages, attachments, menus...).
    pub items: usize,
}

/// A parsed export, ready for `Store::import`.
#[derive(Debug, Clone)]
pub struct WxrImport {
    /// Where the export came from.
    pub site: WxrSite,
    /// The authors, published posts and their comments to import.
    pub batch: ImportBatch,
    /// One line per thing left out (drafts, pages, attachments, pingbacks, trashed
    /// comments...) with the reason, plus informational notes (a comment re-attached
    /// because its parent was left out).
    pub skipped: Vec<String>,
}

/// Parses a whole export. `fallback_author` gets posts whose author is not in the export.
/// `progress` is called with (bytes_read, total_bytes) now and then so the CLI can draw a bar.
pub fn parse_wxr(
    xml: &[u8],
    fallback_author: AuthorId,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<WxrImport, WxrError> {
    if let Some(error) = size_error(xml.len()) {
        return Err(error);
    }
    let channel = xml::read_channel(xml, progress)?;
    Ok(mapping::map_channel(channel, fallback_author))
}

/// The error for an export of `len` bytes, if it is too large to read.
fn size_error(len: usize) -> Option<WxrError> {
    (len > MAX_INPUT_BYTES).then(|| WxrError {
        line: 0,
        column: 0,
        message: format!(
            "the file is {} MiB; exports larger than {} MiB are refused (export smaller date ranges from WordPress, Tools > Export)",
            len.div_ceil(1024 * 1024),
            MAX_INPUT_BYTES / (1024 * 1024)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_lines_and_characters_from_one() {
        let xml = "ab\nc\u{e9}d<x".as_bytes();
        assert_eq!(line_and_column(xml, 0), (1, 1));
        assert_eq!(line_and_column(xml, 1), (1, 2));
        assert_eq!(line_and_column(xml, 3), (2, 1));
        // "é" is two bytes but one column.
        let lt = xml.iter().position(|&b| b == b'<').unwrap_or_default() as u64;
        assert_eq!(line_and_column(xml, lt), (2, 4));
        assert_eq!(line_and_column(xml, 10_000), (2, 6));
    }

    #[test]
    fn exports_over_256_mib_are_refused_before_reading() {
        assert_eq!(size_error(MAX_INPUT_BYTES), None);
        let error = size_error(MAX_INPUT_BYTES + 1).map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "line 0, column 0: the file is 257 MiB; exports larger than 256 MiB are refused (export smaller date ranges from WordPress, Tools > Export)"
            )
        );
    }

    #[test]
    fn error_display_names_line_and_column() {
        let error = WxrError {
            line: 3,
            column: 7,
            message: "broken".to_owned(),
        };
        assert_eq!(error.to_string(), "line 3, column 7: broken");
    }
}
