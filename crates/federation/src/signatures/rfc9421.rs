//! RFC 9421 HTTP Message Signatures, the subset the fediverse uses (Fedify signs
//! `("@method" "@target-uri" "@authority" "host" "date" "content-digest")` with
//! `alg="rsa-v1_5-sha256"`).
//!
//! The signature base (§2.5) is one `"component": value` line per covered component, then
//! `"@signature-params": ` followed by the `Signature-Input` member value exactly as received.

use super::sfv::{self, BareItem, Item, MemberValue, Parameters};
use super::{
    Algorithm, MAX_COMPONENTS, MAX_HEADER_LEN, RequestContext, Scheme, SignatureError,
    SignedRequest, check_key_id, digest, joined_header, shown, unix_time,
};

/// What the `Signature-Input` member of the first label says.
#[derive(Debug)]
struct Input {
    label: String,
    components: Vec<String>,
    /// The member value as received, for the `@signature-params` line.
    raw_params: String,
    key_id: String,
    algorithm: Algorithm,
    created: Option<i64>,
    expires: Option<i64>,
}

/// Parses and checks an RFC 9421 signed request.
pub(super) fn parse(context: &RequestContext<'_>) -> Result<SignedRequest, SignatureError> {
    let signed = parse_any_key_id(context)?;
    check_key_id(&signed.key_id)?;
    Ok(signed)
}

/// Everything but the key id check, which the RFC's own examples (`keyid="test-key-rsa-pss"`)
/// would fail: the fediverse names keys by URL, RFC 9421 does not have to.
fn parse_any_key_id(context: &RequestContext<'_>) -> Result<SignedRequest, SignatureError> {
    let input_header =
        joined_header(context.headers, "signature-input")?.ok_or(SignatureError::NotSigned)?;
    let signature_header = joined_header(context.headers, "signature")?
        .ok_or_else(|| SignatureError::Malformed("Signature-Input without Signature".to_owned()))?;
    let input = parse_input(&input_header)?;
    let signature = find_signature(&signature_header, &input.label)?;
    check_coverage(context, &input)?;
    if let Some(created) = input.created {
        context.check_signed_at("created", unix_time(created, "created")?)?;
    }
    if let Some(expires) = input.expires {
        context.check_expires(unix_time(expires, "expires")?)?;
    }
    let signed_data = signature_base(context, &input)?;
    Ok(SignedRequest {
        key_id: input.key_id,
        scheme: Scheme::Rfc9421,
        algorithm: input.algorithm,
        signed_data,
        signed_data_without_query: None,
        signature,
    })
}

/// Parses `Signature-Input` and keeps its first member: several signatures can be present
/// (e.g. one added by a proxy), and the first is the origin's.
fn parse_input(header: &str) -> Result<Input, SignatureError> {
    let malformed = |what: String| SignatureError::Malformed(format!("Signature-Input: {what}"));
    let members = sfv::parse_dictionary(header, false).map_err(malformed)?;
    let first = members
        .into_iter()
        .next()
        .ok_or_else(|| malformed("empty".to_owned()))?;
    let MemberValue::InnerList(items, params) = first.value else {
        return Err(malformed("member is not an inner list".to_owned()));
    };
    let raw_params = header.get(first.value_span).unwrap_or_default().to_owned();

    let mut components: Vec<String> = Vec::new();
    for Item { bare, params } in items {
        let BareItem::String(name) = bare else {
            return Err(malformed("component is not a string".to_owned()));
        };
        if !params.is_empty() {
            // `;sf`, `;key`, `;bs`, `;req`, `;tr` change how a value is derived; nobody in the
            // fediverse uses them, and guessing would verify the wrong bytes.
            return Err(SignatureError::Malformed(format!(
                "component parameters are not supported ({})",
                shown(&name)
            )));
        }
        let valid = !name.is_empty()
            && name.bytes().enumerate().all(|(index, b)| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'-' | b'_' | b'.')
                    || (b == b'@' && index == 0)
            });
        if !valid {
            return Err(malformed(format!("bad component name {}", shown(&name))));
        }
        if components.contains(&name) {
            return Err(malformed(format!("{} covered twice", shown(&name))));
        }
        if components.len() == MAX_COMPONENTS {
            return Err(malformed("too many components".to_owned()));
        }
        components.push(name);
    }

    let (key_id, algorithm, created, expires) = signature_params(&params)?;
    Ok(Input {
        label: first.key,
        components,
        raw_params,
        key_id,
        algorithm,
        created,
        expires,
    })
}

type SignatureParams = (String, Algorithm, Option<i64>, Option<i64>);

/// Reads `keyid`, `alg`, `created` and `expires` (§2.3); `nonce`, `tag` and unknown
/// parameters only take part in the base.
fn signature_params(params: &Parameters) -> Result<SignatureParams, SignatureError> {
    let malformed = |what: &str| SignatureError::Malformed(format!("Signature-Input: {what}"));
    let mut key_id = None;
    let mut algorithm = Algorithm::Pkcs1Sha256OrPssSha512;
    let mut created = None;
    let mut expires = None;
    for (name, value) in params {
        match (name.as_str(), value) {
            ("keyid", BareItem::String(id)) => key_id = Some(id.clone()),
            ("alg", BareItem::String(alg)) => {
                algorithm = match alg.as_str() {
                    "rsa-v1_5-sha256" => Algorithm::Pkcs1Sha256,
                    "rsa-pss-sha512" => Algorithm::PssSha512,
                    other => return Err(SignatureError::UnsupportedAlgorithm(shown(other))),
                }
            }
            ("created", BareItem::Integer(at)) => created = Some(*at),
            ("expires", BareItem::Integer(at)) => expires = Some(*at),
            ("keyid" | "alg" | "created" | "expires", _) => {
                return Err(malformed(&format!("{name} has the wrong type")));
            }
            _ => {}
        }
    }
    let key_id = key_id.ok_or_else(|| malformed("no keyid"))?;
    Ok((key_id, algorithm, created, expires))
}

/// Finds the signature bytes for `label` in the `Signature` dictionary.
fn find_signature(header: &str, label: &str) -> Result<Vec<u8>, SignatureError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed(
            "Signature header too long".to_owned(),
        ));
    }
    let members = sfv::parse_dictionary(header, false)
        .map_err(|what| SignatureError::Malformed(format!("Signature: {what}")))?;
    let member = members
        .into_iter()
        .find(|member| member.key == label)
        .ok_or_else(|| {
            SignatureError::Malformed(format!("no Signature for label {}", shown(label)))
        })?;
    match member.value {
        MemberValue::Item(Item {
            bare: BareItem::ByteSequence(bytes),
            ..
        }) if !bytes.is_empty() && bytes.len() <= super::MAX_SIGNATURE_LEN => Ok(bytes),
        _ => Err(SignatureError::Malformed(
            "Signature value is not a plausible byte sequence".to_owned(),
        )),
    }
}

/// Requires what a signature must cover to mean "this request, to us, now, with this body".
fn check_coverage(context: &RequestContext<'_>, input: &Input) -> Result<(), SignatureError> {
    let covers = |name: &str| input.components.iter().any(|component| component == name);
    let missing = |name: &str| Err(SignatureError::MissingComponent(name.to_owned()));
    if !covers("@method") {
        return missing("@method");
    }
    let whole_target = covers("@target-uri") || covers("@request-target");
    if !whole_target && !covers("@path") {
        return missing("@target-uri");
    }
    if !whole_target && context.query.is_some() && !covers("@query") {
        return missing("@query");
    }
    if !covers("@target-uri") && !covers("@authority") && !covers("host") {
        return missing("@authority");
    }
    if input.created.is_none() && !covers("date") {
        return missing("created");
    }
    if context.has_body() && !covers("content-digest") && !covers("digest") {
        return missing("content-digest");
    }
    Ok(())
}

/// Builds the signature base (§2.5), checking host, date and digest values on the way.
fn signature_base(context: &RequestContext<'_>, input: &Input) -> Result<Vec<u8>, SignatureError> {
    let mut base = Vec::with_capacity(512);
    for name in &input.components {
        base.push(b'"');
        base.extend_from_slice(name.as_bytes());
        base.extend_from_slice(b"\": ");
        let origin = &context.origin;
        match name.as_str() {
            "@method" => base.extend_from_slice(context.method.as_str().as_bytes()),
            "@target-uri" => {
                base.extend_from_slice(origin.scheme.as_bytes());
                base.extend_from_slice(b"://");
                base.extend_from_slice(origin.authority.as_bytes());
                base.extend_from_slice(context.path_and_query.as_bytes());
            }
            "@authority" => base.extend_from_slice(origin.authority.as_bytes()),
            "@scheme" => base.extend_from_slice(origin.scheme.as_bytes()),
            "@request-target" => base.extend_from_slice(context.path_and_query.as_bytes()),
            "@path" => base.extend_from_slice(context.path.as_bytes()),
            "@query" => {
                base.push(b'?');
                base.extend_from_slice(context.query.unwrap_or_default().as_bytes());
            }
            derived if derived.starts_with('@') => {
                return Err(SignatureError::Malformed(format!(
                    "unsupported derived component {}",
                    shown(derived)
                )));
            }
            "host" => base.extend_from_slice(&context.signed_host()?),
            header => {
                let value = context
                    .field_value(header)
                    .ok_or_else(|| SignatureError::MissingComponent(shown(header)))?;
                match header {
                    "date" => context.check_date_header(&value)?,
                    "content-digest" | "digest" => {
                        let text = joined_header(context.headers, header)?
                            .ok_or_else(|| SignatureError::MissingComponent(header.to_owned()))?;
                        if header == "digest" {
                            digest::check_digest(&text, context.body)?;
                        } else {
                            digest::check_content_digest(&text, context.body)?;
                        }
                    }
                    _ => {}
                }
                base.extend_from_slice(&value);
            }
        }
        base.push(b'\n');
    }
    base.extend_from_slice(b"\"@signature-params\": ");
    base.extend_from_slice(input.raw_params.as_bytes());
    Ok(base)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use axum::http::{HeaderMap, HeaderValue, Method};
    use url::Url;

    use super::super::{DEFAULT_MAX_SKEW, RFC9421_TEST_KEY_RSA_PSS, VerifyingKey, parse_request};
    use super::*;

    /// RFC 9421 §B.2 "test-request" with the B.2.3 "full coverage" rsa-pss-sha512 signature.
    fn b23_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "example.com"),
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("content-type", "application/json"),
            (
                "content-digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            ),
            ("content-length", "18"),
            (
                "signature-input",
                r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#,
            ),
            (
                "signature",
                "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
            ),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers
    }

    const B23_BODY: &[u8] = b"{\"hello\": \"world\"}";

    fn parse_b23(headers: &HeaderMap, path: &str) -> Result<SignedRequest, SignatureError> {
        let method = Method::POST;
        let origin = Url::parse("https://example.com").unwrap();
        let context = RequestContext::new(
            &method,
            path,
            headers,
            B23_BODY,
            &origin,
            UNIX_EPOCH + Duration::from_secs(1_618_884_475),
            DEFAULT_MAX_SKEW,
        )
        .unwrap();
        parse_any_key_id(&context)
    }

    #[test]
    fn through_parse_request_the_rfc_example_key_id_is_refused_for_not_being_a_url() {
        let result = parse_request(
            &Method::POST,
            "/foo?param=Value&Pet=dog",
            &b23_headers(),
            B23_BODY,
            &Url::parse("https://example.com").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_618_884_475),
            DEFAULT_MAX_SKEW,
        );
        assert_eq!(
            result.unwrap_err(),
            SignatureError::Malformed("keyId is not an http(s) URL".to_owned())
        );
    }

    #[test]
    fn the_rfc_9421_full_coverage_example_builds_the_published_base_and_verifies() {
        let signed = parse_b23(&b23_headers(), "/foo?param=Value&Pet=dog").unwrap();
        assert_eq!(signed.key_id, "test-key-rsa-pss");
        assert_eq!(signed.scheme, Scheme::Rfc9421);
        let expected_base = concat!(
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
            "\"@method\": POST\n",
            "\"@path\": /foo\n",
            "\"@query\": ?param=Value&Pet=dog\n",
            "\"@authority\": example.com\n",
            "\"content-type\": application/json\n",
            "\"content-digest\": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n",
            "\"content-length\": 18\n",
            "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\"",
        );
        assert_eq!(
            String::from_utf8(signed.signed_data().to_vec()).unwrap(),
            expected_base
        );
        // No `alg` parameter: PKCS#1 v1.5 fails, PSS-SHA512 verifies.
        let key = VerifyingKey::from_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap();
        signed.verify(&key).unwrap();
    }

    #[test]
    fn the_rfc_9421_example_fails_once_anything_covered_changes() {
        let key = VerifyingKey::from_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap();
        let signed = parse_b23(&b23_headers(), "/foo?param=Value&Pet=cat").unwrap();
        assert_eq!(signed.verify(&key), Err(SignatureError::Invalid));

        let mut headers = b23_headers();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let signed = parse_b23(&headers, "/foo?param=Value&Pet=dog").unwrap();
        assert_eq!(signed.verify(&key), Err(SignatureError::Invalid));
    }

    #[test]
    fn the_rfc_9421_minimal_example_has_the_published_base_and_verifies_with_pss() {
        // B.2.1 covers nothing, so parse_request refuses it; build its base directly.
        let input = parse_input(
            r#"sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#,
        )
        .unwrap();
        let headers = HeaderMap::new();
        let method = Method::POST;
        let origin = Url::parse("https://example.com").unwrap();
        let context = RequestContext::new(
            &method,
            "/foo?param=Value&Pet=dog",
            &headers,
            B23_BODY,
            &origin,
            UNIX_EPOCH + Duration::from_secs(1_618_884_473),
            DEFAULT_MAX_SKEW,
        )
        .unwrap();
        let base = signature_base(&context, &input).unwrap();
        assert_eq!(
            base,
            br#""@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#
        );
        let signature = find_signature(
            "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:",
            "sig-b21",
        )
        .unwrap();
        assert_eq!(
            check_coverage(&context, &input),
            Err(SignatureError::MissingComponent("@method".to_owned()))
        );
        let key = VerifyingKey::from_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap();
        assert!(key.verifies(
            &ring::signature::RSA_PSS_2048_8192_SHA512,
            &base,
            &signature
        ));
    }

    #[test]
    fn signature_input_oddities_are_refused() {
        for (input, expected) in [
            (r#"sig1="not a list";keyid="k""#, "inner list"),
            (r#"sig1=("@method";sf);keyid="k""#, "component parameters"),
            (r#"sig1=("@method" "@method");keyid="k""#, "twice"),
            (r#"sig1=("Host");keyid="k""#, "bad component name"),
            (r#"sig1=(@method);keyid="k""#, "expected an item"),
            (r#"sig1=(method);keyid="k""#, "not a string"),
            (r#"sig1=("@method");keyid=1"#, "wrong type"),
            (r#"sig1=("@method")"#, "no keyid"),
        ] {
            match parse_input(input) {
                Err(SignatureError::Malformed(reason)) => {
                    assert!(reason.contains(expected), "{input}: {reason}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_input(r#"sig1=("@method");keyid="k";alg="ed25519""#),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));
    }
}
