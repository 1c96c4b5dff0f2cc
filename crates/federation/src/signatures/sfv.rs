//! The part of RFC 8941 Structured Field Values that HTTP Message Signatures use:
//! dictionaries whose members are items or inner lists, with parameters
//! (`Signature-Input`, `Signature`, `Content-Digest`).
//!
//! The parser follows RFC 8941 §4.2 and is bounded: callers cap the input length, and the
//! number of members, inner-list items and parameters is capped here, so CPU and memory stay
//! proportional to a small input. It works on bytes and takes every slice with bounds checks.

use std::ops::Range;

use base64::Engine;

use super::BASE64;

/// Most dictionary members, inner-list items or parameters accepted in one place.
pub(super) const MAX_ENTRIES: usize = 32;
/// Longest key (dictionary key or parameter name) accepted.
const MAX_KEY_LEN: usize = 64;

/// A bare item (RFC 8941 §3.3). Decimals are recognised but their value is not needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BareItem {
    Integer(i64),
    Decimal,
    String(String),
    Token(String),
    ByteSequence(Vec<u8>),
    Boolean(bool),
}

/// Parameters in the order received; names are unique.
pub(super) type Parameters = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    pub(super) bare: BareItem,
    pub(super) params: Parameters,
}

/// The value of a dictionary member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MemberValue {
    Item(Item),
    InnerList(Vec<Item>, Parameters),
}

/// A dictionary member with the byte range of its value in the input, so that
/// `@signature-params` can be rebuilt exactly as the sender serialized it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    pub(super) key: String,
    pub(super) value: MemberValue,
    pub(super) value_span: Range<usize>,
}

/// Parses a dictionary (RFC 8941 §4.2.2). Duplicate keys are refused rather than overwritten:
/// a signature header with two members of the same name is not something to guess about.
///
/// With `lenient_keys`, upper-case letters are accepted in keys and lower-cased: some senders
/// write `Content-Digest: SHA-256=:...:`.
pub(super) fn parse_dictionary(input: &str, lenient_keys: bool) -> Result<Vec<Member>, String> {
    let mut parser = Parser {
        input: input.as_bytes(),
        pos: 0,
        lenient_keys,
    };
    parser.skip_sp();
    if parser.at_end() {
        return Err("empty dictionary".to_owned());
    }
    let mut members: Vec<Member> = Vec::new();
    loop {
        let key = parser.key()?;
        if members.iter().any(|member| member.key == key) {
            return Err(format!("duplicate member {key}"));
        }
        if members.len() == MAX_ENTRIES {
            return Err("too many members".to_owned());
        }
        let (value, value_span) = if parser.eat(b'=') {
            let start = parser.pos;
            let value = parser.item_or_inner_list()?;
            (value, start..parser.pos)
        } else {
            let start = parser.pos;
            let params = parser.parameters()?;
            let value = MemberValue::Item(Item {
                bare: BareItem::Boolean(true),
                params,
            });
            (value, start..parser.pos)
        };
        members.push(Member {
            key,
            value,
            value_span,
        });
        parser.skip_ows();
        if parser.at_end() {
            return Ok(members);
        }
        if !parser.eat(b',') {
            return Err("expected ',' between members".to_owned());
        }
        parser.skip_ows();
        if parser.at_end() {
            return Err("trailing ','".to_owned());
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    lenient_keys: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    fn key(&mut self) -> Result<String, String> {
        let lenient = self.lenient_keys;
        let first_ok =
            |b: u8| b.is_ascii_lowercase() || b == b'*' || (lenient && b.is_ascii_uppercase());
        match self.peek() {
            Some(b) if first_ok(b) => {}
            _ => return Err("expected a key".to_owned()),
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'.' | b'*')
                || (lenient && b.is_ascii_uppercase());
            if !ok {
                break;
            }
            self.pos += 1;
            if self.pos - start > MAX_KEY_LEN {
                return Err("key too long".to_owned());
            }
        }
        let key = self.input.get(start..self.pos).unwrap_or_default();
        Ok(String::from_utf8_lossy(key).to_ascii_lowercase())
    }

    fn item_or_inner_list(&mut self) -> Result<MemberValue, String> {
        if !self.eat(b'(') {
            return Ok(MemberValue::Item(self.item()?));
        }
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.parameters()?;
                return Ok(MemberValue::InnerList(items, params));
            }
            if items.len() == MAX_ENTRIES {
                return Err("too many items in inner list".to_owned());
            }
            items.push(self.item()?);
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return Err("expected ' ' or ')' in inner list".to_owned());
            }
        }
    }

    fn item(&mut self) -> Result<Item, String> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(Item { bare, params })
    }

    fn parameters(&mut self) -> Result<Parameters, String> {
        let mut params: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let name = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if params.iter().any(|(existing, _)| *existing == name) {
                return Err(format!("duplicate parameter {name}"));
            }
            if params.len() == MAX_ENTRIES {
                return Err("too many parameters".to_owned());
            }
            params.push((name, value));
        }
        Ok(params)
    }

    fn bare_item(&mut self) -> Result<BareItem, String> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => Ok(self.token()),
            _ => Err("expected an item".to_owned()),
        }
    }

    /// RFC 8941 §4.2.4: at most 15 integer digits, or 12 + 3 for a decimal.
    fn number(&mut self) -> Result<BareItem, String> {
        let negative = self.eat(b'-');
        let start = self.pos;
        let mut dot = None;
        while let Some(b) = self.peek() {
            if b.is_ascii_digit() {
                self.pos += 1;
            } else if b == b'.' && dot.is_none() {
                dot = Some(self.pos);
                self.pos += 1;
            } else {
                break;
            }
            if self.pos - start > 16 {
                return Err("number too long".to_owned());
            }
        }
        let digits = self.input.get(start..self.pos).unwrap_or_default();
        match dot {
            None => {
                if digits.is_empty() || digits.len() > 15 {
                    return Err("bad integer".to_owned());
                }
                let magnitude = digits
                    .iter()
                    .fold(0_i64, |acc, d| acc * 10 + i64::from(d - b'0'));
                Ok(BareItem::Integer(if negative {
                    -magnitude
                } else {
                    magnitude
                }))
            }
            Some(dot) => {
                let int_len = dot - start;
                let frac_len = self.pos - dot - 1;
                if int_len == 0 || int_len > 12 || frac_len == 0 || frac_len > 3 {
                    return Err("bad decimal".to_owned());
                }
                Ok(BareItem::Decimal)
            }
        }
    }

    fn string(&mut self) -> Result<BareItem, String> {
        self.pos += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string".to_owned()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(BareItem::String(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(escaped @ (b'"' | b'\\')) => {
                            out.push(escaped);
                            self.pos += 1;
                        }
                        _ => return Err("bad escape in string".to_owned()),
                    }
                }
                Some(b @ 0x20..=0x7e) => {
                    out.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err("control or non-ASCII character in string".to_owned()),
            }
        }
    }

    /// token = ( ALPHA / "*" ) *( tchar / ":" / "/" )
    fn token(&mut self) -> BareItem {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b);
            if !tchar {
                break;
            }
            self.pos += 1;
        }
        let token = self.input.get(start..self.pos).unwrap_or_default();
        BareItem::Token(String::from_utf8_lossy(token).into_owned())
    }

    fn byte_sequence(&mut self) -> Result<BareItem, String> {
        self.pos += 1; // the opening colon
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let encoded = self.input.get(start..self.pos).unwrap_or_default();
        if !self.eat(b':') {
            return Err("unterminated byte sequence".to_owned());
        }
        BASE64
            .decode(encoded)
            .map(BareItem::ByteSequence)
            .map_err(|_| "byte sequence is not base64".to_owned())
    }

    fn boolean(&mut self) -> Result<BareItem, String> {
        self.pos += 1; // the question mark
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err("bad boolean".to_owned()),
        };
        self.pos += 1;
        Ok(BareItem::Boolean(value))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_signature_input_parses_with_the_exact_span_of_its_value() {
        let input = r#"sig1=("@method" "@target-uri" "host");alg="rsa-v1_5-sha256";keyid="https://a.example/u#k";created=1700000000 , sig2=();created=1"#;
        let members = parse_dictionary(input, false).unwrap();
        assert_eq!(members.len(), 2);
        let first = &members[0];
        assert_eq!(first.key, "sig1");
        assert_eq!(
            &input[first.value_span.clone()],
            r#"("@method" "@target-uri" "host");alg="rsa-v1_5-sha256";keyid="https://a.example/u#k";created=1700000000"#
        );
        let MemberValue::InnerList(items, params) = &first.value else {
            panic!("not an inner list");
        };
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].bare, BareItem::String("@target-uri".to_owned()));
        assert_eq!(
            params[2],
            ("created".to_owned(), BareItem::Integer(1_700_000_000))
        );
        assert_eq!(&input[members[1].value_span.clone()], "();created=1");
    }

    #[test]
    fn byte_sequences_tokens_booleans_and_escapes_parse() {
        let members = parse_dictionary(
            r#"a=:aGVsbG8=:, b=tok/en:x, c=?0, d, e="q\"\\", f=-12, g=1.5"#,
            false,
        )
        .unwrap();
        let values: Vec<BareItem> = members
            .into_iter()
            .map(|m| match m.value {
                MemberValue::Item(item) => item.bare,
                MemberValue::InnerList(..) => panic!("inner list"),
            })
            .collect();
        assert_eq!(
            values,
            vec![
                BareItem::ByteSequence(b"hello".to_vec()),
                BareItem::Token("tok/en:x".to_owned()),
                BareItem::Boolean(false),
                BareItem::Boolean(true),
                BareItem::String("q\"\\".to_owned()),
                BareItem::Integer(-12),
                BareItem::Decimal,
            ]
        );
    }

    #[test]
    fn malformed_dictionaries_are_errors() {
        for input in [
            "",
            "   ",
            "a=",
            "a=(",
            "a=(\"x\"",
            "a=(\"x\"\"y\")",
            "a=\"unterminated",
            "a=:bm90IGJhc2U2NA",
            "a=:!!:",
            "a=1,",
            "a=1 b=2",
            "A=1",
            "1a=1",
            "a=1, a=2",
            "a=1;p;p",
            "a=1234567890123456",
            "a=1.2345",
            "a=?2",
            "a=\"\u{7f}\"",
            "a=\"\\n\"",
        ] {
            assert!(
                parse_dictionary(input, false).is_err(),
                "{input:?} accepted"
            );
        }
    }

    #[test]
    fn lenient_keys_are_lower_cased() {
        let members = parse_dictionary("SHA-256=:aGVsbG8=:", true).unwrap();
        assert_eq!(members[0].key, "sha-256");
    }

    #[test]
    fn member_and_parameter_counts_are_capped() {
        let many_members: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("k{i}=1")).collect();
        assert!(parse_dictionary(&many_members.join(","), false).is_err());
        let many_params: String = (0..=MAX_ENTRIES).map(|i| format!(";p{i}")).collect();
        assert!(parse_dictionary(&format!("a=1{many_params}"), false).is_err());
        let many_items = vec!["\"x\""; MAX_ENTRIES + 1].join(" ");
        assert!(parse_dictionary(&format!("a=({many_items})"), false).is_err());
    }
}
