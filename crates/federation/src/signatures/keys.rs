//! RSA keys for HTTP signatures: our private key (parsed once, used by `ring`, which blinds
//! every private-key operation) and a remote actor's public key (parsed from the PEM in its
//! actor document).
//!
//! `ring` has no parser for "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo), which is what every
//! fediverse server publishes, so [`VerifyingKey`] carries a small DER reader that extracts
//! the PKCS#1 `RSAPublicKey` from it. The reader checks every length against the input and
//! never indexes out of bounds: the PEM comes from a remote server.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair};

use super::{BASE64, SignatureError};

/// PEM documents larger than this are refused before decoding (an 8192-bit key is ~1.5 KB).
const MAX_PEM_LEN: usize = 64 * 1024;
/// ring verifies RSA signatures for moduli of 2048 to 8192 bits; smaller keys are too weak and
/// larger ones cost unbounded CPU, so both are refused when the key is parsed.
const MIN_MODULUS_BITS: usize = 2048;
const MAX_MODULUS_BITS: usize = 8192;
/// ring's limits on the public exponent: odd, at least 3, at most 2^33 - 1.
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// DER encoding of the rsaEncryption OID, 1.2.840.113549.1.1.1 (RFC 8017 Appendix C).
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-RSASSA-PSS, 1.2.840.113549.1.1.10: an RSA key restricted to PSS (not used in the fediverse).
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
/// id-Ed25519, 1.3.101.112 (RFC 8410).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Our actor's private key, used to sign outgoing requests.
///
/// Parsed once from PEM (parsing validates the whole key, which takes a while), then cheap to
/// clone: the key pair is shared behind an `Arc`. `Debug` shows the key size only.
#[derive(Clone)]
pub struct SigningKey {
    pair: Arc<RsaKeyPair>,
    rng: SystemRandom,
}

impl SigningKey {
    /// Parses a "BEGIN PRIVATE KEY" (PKCS#8, what `generate_actor_keypair` writes) or a
    /// "BEGIN RSA PRIVATE KEY" (PKCS#1, found in keys imported from other software) PEM.
    ///
    /// ring accepts RSA keys of 2048 to 4096 bits for signing.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignatureError> {
        let (label, der) = decode_pem(pem)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => {
                return Err(SignatureError::BadKey(format!(
                    "expected a PRIVATE KEY PEM, found {}",
                    super::shown(other)
                )));
            }
        }
        .map_err(|rejected| SignatureError::BadKey(format!("private key rejected: {rejected}")))?;
        Ok(Self {
            pair: Arc::new(pair),
            rng: SystemRandom::new(),
        })
    }

    /// The size of the RSA modulus in bits.
    pub fn modulus_bits(&self) -> usize {
        self.pair.public().modulus_len() * 8
    }

    /// The matching public key, for publishing in our actor document or for tests.
    pub fn verifying_key(&self) -> Result<VerifyingKey, SignatureError> {
        // ring's public key serializes as a DER PKCS#1 RSAPublicKey.
        VerifyingKey::from_pkcs1_der(self.pair.public().as_ref())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` ("rsa-sha256" / "rsa-v1_5-sha256").
    pub(super) fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut out = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
            .map_err(|_| SignatureError::BadKey("signing failed".to_owned()))?;
        Ok(out)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("modulus_bits", &self.modulus_bits())
            .finish_non_exhaustive()
    }
}

/// A remote actor's RSA public key, checked for size and shape when parsed.
///
/// Holds the DER PKCS#1 `RSAPublicKey` that ring verifies with.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    pkcs1: Arc<[u8]>,
    modulus_bits: usize,
}

impl VerifyingKey {
    /// Parses the `publicKeyPem` of an actor: "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo, what
    /// Mastodon, Misskey, GoToSocial, Pleroma and Fedify publish) or "BEGIN RSA PUBLIC KEY"
    /// (PKCS#1). The first PEM block in the text is used; whitespace inside it is ignored.
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        let (label, der) = decode_pem(pem)?;
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_der(&der),
            other => Err(SignatureError::BadKey(format!(
                "expected a PUBLIC KEY PEM, found {}",
                super::shown(other)
            ))),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo holding an rsaEncryption key (RFC 5280 §4.1, RFC 3279).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SignatureError> {
        let mut outer = Der::new(der);
        let spki = outer.read(TAG_SEQUENCE)?;
        outer.finish()?;

        let mut fields = Der::new(spki);
        let algorithm = fields.read(TAG_SEQUENCE)?;
        let key_bits = fields.read(TAG_BIT_STRING)?;
        fields.finish()?;

        let mut algorithm = Der::new(algorithm);
        let oid = algorithm.read(TAG_OID)?;
        if oid != OID_RSA_ENCRYPTION {
            let kind = if oid == OID_ED25519 {
                "an Ed25519 key"
            } else if oid == OID_RSASSA_PSS {
                "an RSASSA-PSS-only key"
            } else {
                "not an RSA key"
            };
            return Err(SignatureError::BadKey(format!(
                "unsupported key type: {kind}"
            )));
        }
        // The parameters must be NULL (RFC 3279 §2.3.1); some encoders omit them.
        if !algorithm.is_empty() {
            let params = algorithm.read(TAG_NULL)?;
            if !params.is_empty() {
                return Err(bad_der("NULL with content"));
            }
        }
        algorithm.finish()?;

        // A BIT STRING starts with the number of unused bits, which must be 0 for a key.
        match key_bits.split_first() {
            Some((0, pkcs1)) => Self::from_pkcs1_der(pkcs1),
            _ => Err(bad_der("key BIT STRING with unused bits")),
        }
    }

    /// Parses a DER PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
    /// (RFC 8017 Appendix A.1.1).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, SignatureError> {
        let mut outer = Der::new(der);
        let key = outer.read(TAG_SEQUENCE)?;
        outer.finish()?;

        let mut fields = Der::new(key);
        let modulus = positive_integer(fields.read(TAG_INTEGER)?)?;
        let exponent = positive_integer(fields.read(TAG_INTEGER)?)?;
        fields.finish()?;

        let modulus_bits = bit_length(modulus);
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&modulus_bits) {
            return Err(SignatureError::BadKey(format!(
                "RSA modulus of {modulus_bits} bits (accepted: {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS})"
            )));
        }
        if exponent.len() > 5 {
            return Err(SignatureError::BadKey("RSA exponent too large".to_owned()));
        }
        let e = exponent
            .iter()
            .fold(0_u64, |acc, byte| (acc << 8) | u64::from(*byte));
        if !(3..=MAX_EXPONENT).contains(&e) || e % 2 == 0 {
            return Err(SignatureError::BadKey(format!("unusable RSA exponent {e}")));
        }
        Ok(Self {
            pkcs1: Arc::from(der),
            modulus_bits,
        })
    }

    /// The size of the RSA modulus in bits.
    pub fn modulus_bits(&self) -> usize {
        self.modulus_bits
    }

    /// Whether `signature` is a valid signature of `message` under this key with `algorithm`.
    pub(super) fn verifies(
        &self,
        algorithm: &'static signature::RsaParameters,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        signature::UnparsedPublicKey::new(algorithm, &*self.pkcs1)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("modulus_bits", &self.modulus_bits)
            .finish_non_exhaustive()
    }
}

/// Finds the first `-----BEGIN label-----` ... `-----END label-----` block and decodes its body.
/// Whitespace (newlines, CRLF, indentation) inside the body is ignored, so one-line PEMs and
/// PEMs re-indented by JSON pretty-printers work too.
fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), SignatureError> {
    if pem.len() > MAX_PEM_LEN {
        return Err(SignatureError::BadKey("PEM too large".to_owned()));
    }
    let bad = |what: &str| SignatureError::BadKey(format!("malformed PEM: {what}"));
    let (_, after_begin) = pem
        .split_once("-----BEGIN ")
        .ok_or_else(|| bad("no BEGIN line"))?;
    let (label, body_and_rest) = after_begin
        .split_once("-----")
        .ok_or_else(|| bad("unterminated BEGIN line"))?;
    if label.is_empty()
        || label.len() > 64
        || !label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')
    {
        return Err(bad("bad label"));
    }
    let end_marker = format!("-----END {label}-----");
    let (body, _) = body_and_rest
        .split_once(&end_marker)
        .ok_or_else(|| bad("no matching END line"))?;
    let compact: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der = BASE64
        .decode(&compact)
        .map_err(|_| bad("body is not base64"))?;
    if der.is_empty() {
        return Err(bad("empty body"));
    }
    Ok((label.to_owned(), der))
}

fn bad_der(what: &str) -> SignatureError {
    SignatureError::BadKey(format!("malformed DER: {what}"))
}

/// A cursor over DER-encoded input that reads one tag-length-value at a time.
///
/// Only what keys need: single-byte tags and definite lengths of up to four bytes, in their
/// minimal (DER) form. Every slice is taken with bounds checks.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Errors unless everything was read: DER has no room for trailing bytes.
    fn finish(&self) -> Result<(), SignatureError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(bad_der("trailing bytes"))
        }
    }

    /// Reads one element with the `expected` tag and returns its contents.
    fn read(&mut self, expected: u8) -> Result<&'a [u8], SignatureError> {
        let (&tag, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| bad_der("truncated"))?;
        if tag != expected {
            return Err(bad_der("unexpected tag"));
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(|| bad_der("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length; more than 4 length bytes is absurd for a key.
            if count == 0 || count > 4 {
                return Err(bad_der("unsupported length"));
            }
            let bytes = rest.get(..count).ok_or_else(|| bad_der("truncated"))?;
            rest = rest.get(count..).ok_or_else(|| bad_der("truncated"))?;
            if bytes.first() == Some(&0) {
                return Err(bad_der("non-minimal length"));
            }
            let len = bytes
                .iter()
                .fold(0_usize, |acc, byte| (acc << 8) | usize::from(*byte));
            if len < 0x80 {
                return Err(bad_der("non-minimal length"));
            }
            len
        };
        let contents = rest.get(..len).ok_or_else(|| bad_der("truncated"))?;
        self.rest = rest.get(len..).ok_or_else(|| bad_der("truncated"))?;
        Ok(contents)
    }
}

/// Checks that a DER INTEGER is positive and minimally encoded; returns its magnitude bytes.
fn positive_integer(bytes: &[u8]) -> Result<&[u8], SignatureError> {
    match bytes {
        [] => Err(bad_der("empty INTEGER")),
        [first, ..] if *first >= 0x80 => Err(SignatureError::BadKey(
            "negative RSA key component".to_owned(),
        )),
        [0, second, ..] if *second < 0x80 => Err(bad_der("non-minimal INTEGER")),
        [0, magnitude @ ..] if !magnitude.is_empty() => Ok(magnitude),
        [0] => Err(SignatureError::BadKey("zero RSA key component".to_owned())),
        magnitude => Ok(magnitude),
    }
}

/// Number of significant bits of a big-endian magnitude without leading zero bytes.
fn bit_length(magnitude: &[u8]) -> usize {
    match magnitude.split_first() {
        None => 0,
        Some((first, rest)) => rest.len() * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::signatures::RFC9421_TEST_KEY_RSA_PSS;

    fn spki_der() -> Vec<u8> {
        decode_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap().1
    }

    #[test]
    fn an_spki_rsa_key_parses_and_reports_its_size() {
        let key = VerifyingKey::from_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap();
        assert_eq!(key.modulus_bits(), 2048);
        assert_eq!(
            format!("{key:?}"),
            "VerifyingKey { modulus_bits: 2048, .. }"
        );
    }

    #[test]
    fn the_pkcs1_form_of_the_same_key_parses_to_the_same_key() {
        let der = spki_der();
        // The PKCS#1 key is the BIT STRING content after the 24-byte SPKI prefix of a
        // 2048-bit key (and its zero "unused bits" byte).
        let pkcs1 = &der[24..];
        let pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            BASE64.encode(pkcs1)
        );
        assert_eq!(
            VerifyingKey::from_pem(&pem).unwrap(),
            VerifyingKey::from_pem(RFC9421_TEST_KEY_RSA_PSS).unwrap()
        );
    }

    #[test]
    fn a_one_line_indented_pem_with_crlf_still_parses() {
        let body: String = RFC9421_TEST_KEY_RSA_PSS
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let pem =
            format!("  -----BEGIN PUBLIC KEY-----\r\n    {body}\r\n  -----END PUBLIC KEY-----");
        assert!(VerifyingKey::from_pem(&pem).is_ok());
    }

    #[test]
    fn every_truncation_of_the_der_is_a_clean_error() {
        let der = spki_der();
        for len in 0..der.len() {
            assert!(
                VerifyingKey::from_spki_der(&der[..len]).is_err(),
                "prefix of {len} bytes accepted"
            );
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(matches!(
            VerifyingKey::from_spki_der(&longer),
            Err(SignatureError::BadKey(reason)) if reason.contains("trailing")
        ));
    }

    #[test]
    fn every_single_byte_corruption_is_handled_without_panicking() {
        let der = spki_der();
        for index in 0..der.len() {
            for value in [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff] {
                let mut bad = der.clone();
                bad[index] = value;
                let _ = VerifyingKey::from_spki_der(&bad);
            }
        }
    }

    #[test]
    fn ed25519_and_small_keys_are_refused_with_a_reason() {
        // SPKI of an Ed25519 key (RFC 8410 §10.1).
        let ed25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----";
        assert!(matches!(
            VerifyingKey::from_pem(ed25519),
            Err(SignatureError::BadKey(reason)) if reason.contains("Ed25519")
        ));

        // A 1024-bit modulus with exponent 65537, built by hand.
        let mut modulus = vec![0x00, 0xc0];
        modulus.extend(std::iter::repeat_n(0x11, 127));
        let mut body = vec![TAG_INTEGER, 0x81, modulus.len() as u8];
        body.extend(&modulus);
        body.extend([TAG_INTEGER, 0x03, 0x01, 0x00, 0x01]);
        let mut pkcs1 = vec![TAG_SEQUENCE, 0x81, body.len() as u8];
        pkcs1.extend(&body);
        assert!(matches!(
            VerifyingKey::from_pkcs1_der(&pkcs1),
            Err(SignatureError::BadKey(reason)) if reason.contains("1024 bits")
        ));
    }

    #[test]
    fn pem_oddities_are_bad_keys() {
        for pem in [
            "",
            "-----BEGIN PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN public key-----\nAAAA\n-----END public key-----",
        ] {
            assert!(
                matches!(VerifyingKey::from_pem(pem), Err(SignatureError::BadKey(_))),
                "{pem:?}"
            );
        }
        let huge = format!("-----BEGIN PUBLIC KEY-----\n{}", "A".repeat(MAX_PEM_LEN));
        assert!(VerifyingKey::from_pem(&huge).is_err());
    }

    #[test]
    fn der_lengths_must_be_minimal_and_definite() {
        // NULL with an indefinite length, with a non-minimal long form, and a 5-byte length.
        for input in [
            &[TAG_NULL, 0x80][..],
            &[TAG_NULL, 0x81, 0x00],
            &[TAG_NULL, 0x82, 0x00, 0x80],
            &[TAG_NULL, 0x85, 1, 0, 0, 0, 0],
        ] {
            assert!(Der::new(input).read(TAG_NULL).is_err(), "{input:?}");
        }
        assert_eq!(Der::new(&[TAG_NULL, 0x00]).read(TAG_NULL).unwrap(), b"");
    }

    #[test]
    fn bit_length_counts_significant_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f, 0, 0]), 23);
    }
}
