//! Body digests: `Digest` (RFC 3230, what draft-cavage senders use) and `Content-Digest`
//! (RFC 9530, what RFC 9421 senders use). A signature covers the digest header, and the digest
//! binds the body.
//!
//! Both headers may list several algorithms. We know SHA-256 and SHA-512: every known one
//! present must match, unknown ones are ignored, and at least one known one is required.
//! Algorithm names are compared case-insensitively because real senders disagree on case
//! (bovine writes `sha-256=`, Mastodon `SHA-256=`).

use base64::Engine;
use ring::digest;

use super::sfv::{self, BareItem, MemberValue};
use super::{BASE64, SignatureError};

/// The value we send in `Digest`: `SHA-256=<base64>`.
pub(super) fn digest_header_value(body: &[u8]) -> String {
    format!(
        "SHA-256={}",
        BASE64.encode(digest::digest(&digest::SHA256, body))
    )
}

/// Checks an RFC 3230 `Digest` header value (`alg=base64, alg=base64`) against `body`.
pub(super) fn check_digest(value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let mut known = 0;
    for entry in value.split(',') {
        let Some((name, encoded)) = entry.trim().split_once('=') else {
            return Err(SignatureError::Malformed(
                "Digest entry without '='".to_owned(),
            ));
        };
        let Some(algorithm) = algorithm_named(name.trim()) else {
            continue;
        };
        known += 1;
        let claimed = BASE64
            .decode(encoded.trim())
            .map_err(|_| SignatureError::BadDigest)?;
        if claimed != digest::digest(algorithm, body).as_ref() {
            return Err(SignatureError::BadDigest);
        }
    }
    if known == 0 {
        return Err(SignatureError::UnsupportedAlgorithm(
            "Digest has neither SHA-256 nor SHA-512".to_owned(),
        ));
    }
    Ok(())
}

/// Checks an RFC 9530 `Content-Digest` header value (`sha-256=:base64:`) against `body`.
pub(super) fn check_content_digest(value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let members = sfv::parse_dictionary(value, true)
        .map_err(|reason| SignatureError::Malformed(format!("Content-Digest: {reason}")))?;
    let mut known = 0;
    for member in members {
        let Some(algorithm) = algorithm_named(&member.key) else {
            continue;
        };
        known += 1;
        let MemberValue::Item(sfv::Item {
            bare: BareItem::ByteSequence(claimed),
            ..
        }) = member.value
        else {
            return Err(SignatureError::Malformed(
                "Content-Digest value is not a byte sequence".to_owned(),
            ));
        };
        if claimed != digest::digest(algorithm, body).as_ref() {
            return Err(SignatureError::BadDigest);
        }
    }
    if known == 0 {
        return Err(SignatureError::UnsupportedAlgorithm(
            "Content-Digest has neither sha-256 nor sha-512".to_owned(),
        ));
    }
    Ok(())
}

fn algorithm_named(name: &str) -> Option<&'static digest::Algorithm> {
    if name.eq_ignore_ascii_case("sha-256") {
        Some(&digest::SHA256)
    } else if name.eq_ignore_ascii_case("sha-512") {
        Some(&digest::SHA512)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const BODY: &[u8] = b"{\"hello\": \"world\"}";
    /// From RFC 9530 / RFC 9421 §B.2 for the body above.
    const SHA256: &str = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
    const SHA512: &str =
        "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==";

    #[test]
    fn we_send_what_we_check() {
        assert_eq!(digest_header_value(BODY), format!("SHA-256={SHA256}"));
        check_digest(&digest_header_value(BODY), BODY).unwrap();
    }

    #[test]
    fn digest_algorithm_names_are_case_insensitive() {
        for name in ["SHA-256", "sha-256", "Sha-256"] {
            check_digest(&format!("{name}={SHA256}"), BODY).unwrap();
        }
        check_digest(&format!("SHA-512={SHA512}, MD5=whatever"), BODY).unwrap();
    }

    #[test]
    fn a_wrong_or_undecodable_digest_is_bad() {
        assert_eq!(
            check_digest(&format!("SHA-256={SHA256}"), b"tampered"),
            Err(SignatureError::BadDigest)
        );
        assert_eq!(
            check_digest("SHA-256=###", BODY),
            Err(SignatureError::BadDigest)
        );
        // One good and one bad known algorithm: bad.
        assert_eq!(
            check_digest(&format!("SHA-256={SHA256},SHA-512={SHA256}"), BODY),
            Err(SignatureError::BadDigest)
        );
    }

    #[test]
    fn a_digest_without_a_known_algorithm_is_refused() {
        assert!(matches!(
            check_digest("MD5=abc", BODY),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            check_digest("", BODY),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn content_digest_is_checked() {
        check_content_digest(&format!("sha-512=:{SHA512}:"), BODY).unwrap();
        check_content_digest(&format!("SHA-256=:{SHA256}:, unixsum=:AAAA:"), BODY).unwrap();
        assert_eq!(
            check_content_digest(&format!("sha-256=:{SHA256}:"), b"other"),
            Err(SignatureError::BadDigest)
        );
        assert!(matches!(
            check_content_digest(&format!("sha-256={SHA256}"), BODY),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            check_content_digest("md5=:AAAA:", BODY),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));
    }
}
