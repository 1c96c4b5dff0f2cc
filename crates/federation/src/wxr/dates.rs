//! The dates of a WordPress export.
//!
//! WordPress writes `YYYY-MM-DD HH:MM:SS` twice: in the blog's time zone
//! (`wp:post_date`) and in UTC (`wp:post_date_gmt`). Drafts and some old exports carry
//! `0000-00-00 00:00:00` in the UTC column; RSS's own `pubDate` (RFC 2822) is the
//! last resort.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// A `YYYY-MM-DD HH:MM:SS` WordPress date read as UTC; `None` for the zero date,
/// an empty field or anything unparsable.
pub(crate) fn parse_wordpress_date(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
}

/// An RFC 2822 date (RSS `pubDate`), converted to UTC.
pub(crate) fn parse_rfc2822_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

/// When a post was published: `wp:post_date_gmt`, else `wp:post_date` taken as UTC
/// (the zone is unknown; a few hours off beats losing the date), else `pubDate`.
pub(crate) fn post_published_at(gmt: &str, local: &str, pub_date: &str) -> Option<DateTime<Utc>> {
    parse_wordpress_date(gmt)
        .or_else(|| parse_wordpress_date(local))
        .or_else(|| parse_rfc2822_date(pub_date))
}

/// Edits within a minute of publication are WordPress saving twice, not updates.
const UPDATE_THRESHOLD: TimeDelta = TimeDelta::seconds(60);

/// When a post was last edited, if that happened clearly after publication.
pub(crate) fn post_updated_at(
    modified_gmt: &str,
    published_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    parse_wordpress_date(modified_gmt)
        .filter(|modified| *modified - published_at > UPDATE_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn wordpress_dates_are_read_as_utc() {
        assert_eq!(
            parse_wordpress_date("2013-02-11 12:00:00"),
            Some(utc(2013, 2, 11, 12, 0, 0))
        );
        assert_eq!(
            parse_wordpress_date(" 2013-02-11 12:00:05\n"),
            Some(utc(2013, 2, 11, 12, 0, 5))
        );
    }

    #[test]
    fn the_zero_date_and_garbage_are_no_date() {
        assert_eq!(parse_wordpress_date("0000-00-00 00:00:00"), None);
        assert_eq!(parse_wordpress_date(""), None);
        assert_eq!(parse_wordpress_date("2013-02-30 12:00:00"), None);
        assert_eq!(parse_wordpress_date("yesterday"), None);
    }

    #[test]
    fn rfc2822_dates_are_converted_to_utc() {
        assert_eq!(
            parse_rfc2822_date("Mon, 11 Feb 2013 13:00:00 +0100"),
            Some(utc(2013, 2, 11, 12, 0, 0))
        );
        assert_eq!(parse_rfc2822_date("not a date"), None);
    }

    #[test]
    fn publication_falls_back_from_gmt_to_local_to_pub_date() {
        let pub_date = "Tue, 12 Feb 2013 08:00:00 +0000";
        assert_eq!(
            post_published_at("2013-02-11 12:00:00", "2013-02-11 13:00:00", pub_date),
            Some(utc(2013, 2, 11, 12, 0, 0))
        );
        assert_eq!(
            post_published_at("0000-00-00 00:00:00", "2013-02-11 13:00:00", pub_date),
            Some(utc(2013, 2, 11, 13, 0, 0))
        );
        assert_eq!(
            post_published_at("0000-00-00 00:00:00", "", pub_date),
            Some(utc(2013, 2, 12, 8, 0, 0))
        );
        assert_eq!(post_published_at("", "", ""), None);
    }

    #[test]
    fn an_edit_counts_as_an_update_only_after_a_minute() {
        let published = utc(2013, 2, 11, 12, 0, 0);
        assert_eq!(post_updated_at("2013-02-11 12:00:59", published), None);
        assert_eq!(post_updated_at("2013-02-11 12:01:00", published), None);
        assert_eq!(
            post_updated_at("2013-02-11 12:01:01", published),
            Some(utc(2013, 2, 11, 12, 1, 1))
        );
        assert_eq!(post_updated_at("2013-02-10 12:00:00", published), None);
        assert_eq!(post_updated_at("0000-00-00 00:00:00", published), None);
    }
}
