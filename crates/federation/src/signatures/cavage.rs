//! draft-cavage-http-signatures (versions 08 to 12 as the fediverse uses them).
//!
//! `Signature: keyId="https://a.example/u#main-key",algorithm="rsa-sha256",
//! headers="(request-target) host date digest",signature="base64"`
//!
//! The signing string is one `name: value` line per entry of `headers`, joined with `\n`
//! (draft-cavage-12 §2.3).

use axum::http::Method;

use super::{
    Algorithm, MAX_COMPONENTS, MAX_PARAMS, RequestContext, Scheme, SignatureError, SignedRequest,
    check_key_id, decode_signature, digest, joined_header, shown, unix_time,
};

/// The parameters of a draft-cavage signature header.
#[derive(Debug, Default)]
struct Params<'a> {
    key_id: Option<&'a str>,
    algorithm: Option<&'a str>,
    headers: Option<&'a str>,
    signature: Option<&'a str>,
    created: Option<&'a str>,
    expires: Option<&'a str>,
}

/// Parses and checks a draft-cavage signature header value (without `Signature ` prefix).
pub(super) fn parse(
    context: &RequestContext<'_>,
    header: &str,
) -> Result<SignedRequest, SignatureError> {
    let params = parse_params(header)?;
    let key_id = params
        .key_id
        .ok_or_else(|| SignatureError::Malformed("no keyId".to_owned()))?;
    let encoded = params
        .signature
        .ok_or_else(|| SignatureError::Malformed("no signature".to_owned()))?;
    let algorithm = match params.algorithm {
        None => Algorithm::Pkcs1Sha256,
        Some(name) if name.eq_ignore_ascii_case("hs2019") => Algorithm::Pkcs1Sha256,
        Some(name) if name.eq_ignore_ascii_case("rsa-sha256") => Algorithm::Pkcs1Sha256,
        Some(name) if name.eq_ignore_ascii_case("rsa-sha512") => Algorithm::Pkcs1Sha512,
        Some(name) => return Err(SignatureError::UnsupportedAlgorithm(shown(name))),
    };
    check_key_id(key_id)?;
    let signature = decode_signature(encoded.as_bytes())?;
    let created = params
        .created
        .map(|value| parse_timestamp(value, "created"))
        .transpose()?;
    let expires = params
        .expires
        .map(|value| parse_timestamp(value, "expires"))
        .transpose()?;

    // draft-cavage-12 §2.1.6: without `headers`, only `(created)` is signed; that covers
    // nothing we require, so it fails below like any other incomplete list.
    let covered = covered_names(params.headers.unwrap_or("(created)"))?;
    let covers = |name: &str| covered.iter().any(|entry| entry == name);
    if !covers("(request-target)") {
        return Err(SignatureError::MissingComponent(
            "(request-target)".to_owned(),
        ));
    }
    if !covers("host") {
        return Err(SignatureError::MissingComponent("host".to_owned()));
    }
    if !covers("date") && !covers("(created)") {
        return Err(SignatureError::MissingComponent("date".to_owned()));
    }
    if context.has_body() && !covers("digest") && !covers("content-digest") {
        return Err(SignatureError::MissingComponent("digest".to_owned()));
    }
    if let Some(expires) = expires {
        context.check_expires(expires)?;
    }

    let mut signed_data = Vec::new();
    // Where the (request-target) value sits in `signed_data`, for the query-less variant.
    let mut target_range = None;
    for name in &covered {
        if !signed_data.is_empty() {
            signed_data.push(b'\n');
        }
        signed_data.extend_from_slice(name.as_bytes());
        signed_data.extend_from_slice(b": ");
        match name.as_str() {
            "(request-target)" => {
                let start = signed_data.len();
                signed_data
                    .extend_from_slice(context.method.as_str().to_ascii_lowercase().as_bytes());
                signed_data.push(b' ');
                signed_data.extend_from_slice(context.path_and_query.as_bytes());
                target_range = Some(start..signed_data.len());
            }
            "(created)" => {
                let created = created.ok_or_else(|| {
                    SignatureError::Malformed("(created) signed without created".to_owned())
                })?;
                context.check_signed_at("created", created)?;
                signed_data.extend_from_slice(params.created.unwrap_or_default().as_bytes());
            }
            "(expires)" => {
                if expires.is_none() {
                    return Err(SignatureError::Malformed(
                        "(expires) signed without expires".to_owned(),
                    ));
                }
                signed_data.extend_from_slice(params.expires.unwrap_or_default().as_bytes());
            }
            pseudo if pseudo.starts_with('(') => {
                return Err(SignatureError::Malformed(format!(
                    "unsupported pseudo-header {}",
                    shown(pseudo)
                )));
            }
            "host" => signed_data.extend_from_slice(&context.signed_host()?),
            header => {
                let value = context
                    .field_value(header)
                    .ok_or_else(|| SignatureError::MissingComponent(shown(header)))?;
                match header {
                    "date" => context.check_date_header(&value)?,
                    "digest" => check_body_digest(context, "digest", digest::check_digest)?,
                    "content-digest" => {
                        check_body_digest(context, "content-digest", digest::check_content_digest)?
                    }
                    _ => {}
                }
                signed_data.extend_from_slice(&value);
            }
        }
    }

    // Fedify's draft-cavage signer and older Mastodon leave the query out of
    // (request-target). Accept that for reads only; anything that changes state must sign it.
    let signed_data_without_query = match (target_range, context.query) {
        (Some(range), Some(_)) if matches!(*context.method, Method::GET | Method::HEAD) => {
            let mut variant = signed_data.get(..range.start).unwrap_or_default().to_vec();
            variant.extend_from_slice(context.method.as_str().to_ascii_lowercase().as_bytes());
            variant.push(b' ');
            variant.extend_from_slice(context.path.as_bytes());
            variant.extend_from_slice(signed_data.get(range.end..).unwrap_or_default());
            Some(variant)
        }
        _ => None,
    };

    Ok(SignedRequest {
        key_id: key_id.to_owned(),
        scheme: Scheme::Cavage,
        algorithm,
        signed_data,
        signed_data_without_query,
        signature,
    })
}

/// Checks a digest header against the body (the header text, bounded and joined).
fn check_body_digest(
    context: &RequestContext<'_>,
    name: &str,
    check: fn(&str, &[u8]) -> Result<(), SignatureError>,
) -> Result<(), SignatureError> {
    let value = joined_header(context.headers, name)?
        .ok_or_else(|| SignatureError::MissingComponent(name.to_owned()))?;
    check(&value, context.body)
}

/// Splits the `headers` parameter: lower-cased names separated by spaces, unique, bounded.
fn covered_names(list: &str) -> Result<Vec<String>, SignatureError> {
    let mut names: Vec<String> = Vec::new();
    for name in list.split_ascii_whitespace() {
        let name = name.to_ascii_lowercase();
        let valid = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'(' | b')'));
        if !valid {
            return Err(SignatureError::Malformed(format!(
                "bad header name {}",
                shown(&name)
            )));
        }
        if names.contains(&name) {
            return Err(SignatureError::Malformed(format!(
                "{} covered twice",
                shown(&name)
            )));
        }
        if names.len() == MAX_COMPONENTS {
            return Err(SignatureError::Malformed(
                "too many covered headers".to_owned(),
            ));
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err(SignatureError::Malformed("empty headers list".to_owned()));
    }
    Ok(names)
}

fn parse_timestamp(value: &str, what: &str) -> Result<std::time::SystemTime, SignatureError> {
    // draft-cavage-12 allows a decimal point; senders use whole seconds. Refuse anything else
    // rather than guess.
    let seconds =
        if value.len() <= 15 && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            value.parse::<i64>().ok()
        } else {
            None
        };
    let seconds =
        seconds.ok_or_else(|| SignatureError::Malformed(format!("{what} is not an integer")))?;
    unix_time(seconds, what)
}

/// Parses `name="value",name=value,...` into the parameters we know. Unknown parameters are
/// ignored; duplicates of any parameter are refused; the count is bounded.
fn parse_params(header: &str) -> Result<Params<'_>, SignatureError> {
    let malformed = |what: &str| SignatureError::Malformed(what.to_owned());
    let bytes = header.as_bytes();
    let mut pos = 0;
    let mut seen: Vec<String> = Vec::new();
    let mut params = Params::default();
    let skip_ows = |pos: &mut usize| {
        while matches!(bytes.get(*pos), Some(b' ' | b'\t')) {
            *pos += 1;
        }
    };
    loop {
        skip_ows(&mut pos);
        if pos >= bytes.len() {
            break;
        }
        let name_start = pos;
        while matches!(bytes.get(pos), Some(b) if b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            pos += 1;
        }
        let name = header
            .get(name_start..pos)
            .filter(|name| !name.is_empty() && name.len() <= 32)
            .ok_or_else(|| malformed("bad parameter name"))?;
        skip_ows(&mut pos);
        if bytes.get(pos) != Some(&b'=') {
            return Err(malformed("parameter without '='"));
        }
        pos += 1;
        skip_ows(&mut pos);
        let value = if bytes.get(pos) == Some(&b'"') {
            let start = pos + 1;
            let len = bytes
                .get(start..)
                .and_then(|rest| rest.iter().position(|b| *b == b'"'))
                .ok_or_else(|| malformed("unbalanced quotes"))?;
            pos = start + len + 1;
            header.get(start..start + len).unwrap_or_default()
        } else {
            let start = pos;
            while matches!(bytes.get(pos), Some(b) if !matches!(b, b',' | b' ' | b'\t' | b'"')) {
                pos += 1;
            }
            header
                .get(start..pos)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| malformed("parameter without a value"))?
        };

        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(SignatureError::Malformed(format!(
                "duplicate parameter {}",
                shown(name)
            )));
        }
        if seen.len() == MAX_PARAMS {
            return Err(malformed("too many parameters"));
        }
        let slot = match lower.as_str() {
            "keyid" => Some(&mut params.key_id),
            "algorithm" => Some(&mut params.algorithm),
            "headers" => Some(&mut params.headers),
            "signature" => Some(&mut params.signature),
            "created" => Some(&mut params.created),
            "expires" => Some(&mut params.expires),
            _ => None,
        };
        if let Some(slot) = slot {
            *slot = Some(value);
        }
        seen.push(lower);

        skip_ows(&mut pos);
        if pos >= bytes.len() {
            break;
        }
        if bytes.get(pos) != Some(&b',') {
            return Err(malformed("expected ',' between parameters"));
        }
        pos += 1;
        skip_ows(&mut pos);
        if pos >= bytes.len() {
            return Err(malformed("trailing ','"));
        }
    }
    if seen.is_empty() {
        return Err(malformed("empty signature header"));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn parameters_parse_with_spaces_and_unquoted_numbers() {
        let params = parse_params(
            r#"keyId="https://a.example/u#k", algorithm = "hs2019",created=1700000000,expires=1700003600,headers="(request-target) (created)",signature="c2ln""#,
        )
        .unwrap();
        assert_eq!(params.key_id, Some("https://a.example/u#k"));
        assert_eq!(params.algorithm, Some("hs2019"));
        assert_eq!(params.created, Some("1700000000"));
        assert_eq!(params.expires, Some("1700003600"));
        assert_eq!(params.signature, Some("c2ln"));
    }

    #[test]
    fn malformed_parameter_lists_are_refused() {
        for header in [
            "",
            "  ",
            r#"keyId="unbalanced"#,
            r#"keyId"#,
            r#"keyId="#,
            r#"keyId="a" signature="b""#,
            r#"keyId="a",keyid="b""#,
            r#"="a""#,
            r#"keyId="a",,signature="b""#,
            r#"keyId="a","#,
        ] {
            assert!(parse_params(header).is_err(), "{header:?} accepted");
        }
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=\"x\"")).collect();
        assert!(parse_params(&many.join(",")).is_err());
    }

    #[test]
    fn covered_names_are_lower_cased_unique_and_bounded() {
        assert_eq!(
            covered_names("(request-target) Host  date").unwrap(),
            vec!["(request-target)", "host", "date"]
        );
        assert!(covered_names("host Host").is_err());
        assert!(covered_names("   ").is_err());
        assert!(covered_names("ho\"st").is_err());
        let many: Vec<String> = (0..=MAX_COMPONENTS).map(|i| format!("x-{i}")).collect();
        assert!(covered_names(&many.join(" ")).is_err());
    }

    #[test]
    fn timestamps_must_be_whole_seconds() {
        assert!(parse_timestamp("1700000000", "created").is_ok());
        for bad in ["", "-1", "1.5", "1e9", "9999999999999999"] {
            assert!(parse_timestamp(bad, "created").is_err(), "{bad}");
        }
    }
}
