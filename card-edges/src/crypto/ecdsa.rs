//! ECDSA format conversion: a card answers DER `SEQUENCE { INTEGER r, INTEGER s }`; CNG and the
//! Base CSP want fixed-width big-endian `r || s`. Also fits a hash to the field's length before
//! the card signs it.
//!
//! Only P-256 (32-byte field) and P-384 (48-byte field) are handled: the curves of PIV and
//! of the minidriver specification.

use crate::error::{Error, Result};

/// Largest DER signature for the supported fields: `30 66 (02 31 00 <48>) (02 31 00 <48>)`.
const MAX_DER_LEN: usize = 2 + 2 * (2 + 1 + 48);

/// Converts a card's DER ECDSA signature to fixed-width `r || s` (`2 * field_len` bytes) for a
/// field of `field_len` bytes (32 for P-256, 48 for P-384).
///
/// Strict DER: definite minimal lengths, no trailing bytes, minimal positive INTEGERs. Short
/// values are left-padded; `r` and `s` must lie in `[1, n - 1]` for the curve's order `n`.
///
/// # Errors
/// [`Error::Malformed`] for anything else; [`Error::Unsupported`] for another field size.
pub fn der_to_fixed(der: &[u8], field_len: usize) -> Result<Vec<u8>> {
    check_field(field_len)?;
    if der.len() > MAX_DER_LEN {
        return Err(malformed("ECDSA signature too long"));
    }
    let (seq, rest) = read_tlv(der, 0x30)?;
    if !rest.is_empty() {
        return Err(malformed("bytes after the ECDSA signature"));
    }
    let (r, seq) = read_positive_integer(seq)?;
    let (s, seq) = read_positive_integer(seq)?;
    if !seq.is_empty() {
        return Err(malformed("extra fields in the ECDSA signature"));
    }
    let mut out = Vec::with_capacity(2 * field_len);
    for value in [r, s] {
        let pad = field_len.checked_sub(value.len()).ok_or_else(|| malformed("ECDSA r or s longer than the field"))?;
        out.resize(out.len() + pad, 0);
        out.extend_from_slice(value);
    }
    check_range(&out, field_len)?;
    Ok(out)
}

/// Converts fixed-width `r || s` to DER `SEQUENCE { INTEGER r, INTEGER s }`: what a card
/// answers (for a simulated card, and for tests).
///
/// # Errors
/// [`Error::InvalidArgument`] when `fixed` is not `2 * field_len` bytes or `r` or `s` is not in
/// `[1, n - 1]`; [`Error::Unsupported`] for another field size.
pub fn fixed_to_der(fixed: &[u8], field_len: usize) -> Result<Vec<u8>> {
    check_field(field_len)?;
    if fixed.len() != 2 * field_len {
        return Err(Error::InvalidArgument("ECDSA signature is not twice the field length"));
    }
    check_range(fixed, field_len).map_err(|_| Error::InvalidArgument("ECDSA r or s out of range"))?;
    let mut body = Vec::with_capacity(MAX_DER_LEN);
    for half in fixed.chunks(field_len) {
        let zeros = half.iter().take_while(|&&b| b == 0).count();
        let value = half.get(zeros..).unwrap_or_default();
        let sign_pad = value.first().is_some_and(|&b| b >= 0x80);
        body.push(0x02);
        body.push(
            u8::try_from(value.len() + usize::from(sign_pad)).map_err(|_| Error::InvalidArgument("field too long"))?,
        );
        if sign_pad {
            body.push(0x00);
        }
        body.extend_from_slice(value);
    }
    let mut der = Vec::with_capacity(body.len() + 2);
    der.push(0x30);
    der.push(u8::try_from(body.len()).map_err(|_| Error::InvalidArgument("field too long"))?);
    der.extend_from_slice(&body);
    Ok(der)
}

/// Fits `hash` to a field of `field_len` bytes before the card signs it: a shorter hash is
/// left-padded with zeros (its integer value is unchanged; right-padding, a known OpenSC bug,
/// multiplies it by a power of 256), a longer one keeps its leftmost `field_len` bytes (the
/// FIPS 186 truncation to the order's bit length, exact for byte-aligned orders such as those of
/// P-256 and P-384). `field_len` is a curve's field size, not input data.
pub fn fit_hash(hash: &[u8], field_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(field_len);
    out.resize(field_len.saturating_sub(hash.len()), 0);
    out.extend(hash.iter().take(field_len));
    out
}

fn check_field(field_len: usize) -> Result<()> {
    match field_len {
        32 | 48 => Ok(()),
        _ => Err(Error::Unsupported("ECDSA field size other than P-256 and P-384")),
    }
}

/// `r` and `s` in `[1, n - 1]` for the curve of `field_len`.
fn check_range(fixed: &[u8], field_len: usize) -> Result<()> {
    let ok = match field_len {
        32 => p256::ecdsa::Signature::from_slice(fixed).is_ok(),
        48 => p384::ecdsa::Signature::from_slice(fixed).is_ok(),
        _ => false,
    };
    if ok { Ok(()) } else { Err(malformed("ECDSA r or s out of range")) }
}

/// Reads one DER TLV with tag `tag`: its value and the bytes after it. Lengths must be minimal;
/// only the short form and `81 xx` are needed here.
fn read_tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first().ok_or_else(|| malformed("truncated ECDSA signature"))?;
    if t != tag {
        return Err(malformed("unexpected tag in the ECDSA signature"));
    }
    let (&len, rest) = rest.split_first().ok_or_else(|| malformed("truncated ECDSA signature"))?;
    let (len, rest) = match len {
        0..=0x7F => (usize::from(len), rest),
        0x81 => match rest.split_first() {
            Some((&len, rest)) if len >= 0x80 => (usize::from(len), rest),
            _ => return Err(malformed("non-DER length in the ECDSA signature")),
        },
        _ => return Err(malformed("non-DER length in the ECDSA signature")),
    };
    rest.split_at_checked(len).ok_or_else(|| malformed("truncated ECDSA signature"))
}

/// Reads a DER INTEGER that must be positive and minimally encoded: its magnitude without the
/// sign byte, and the bytes after it.
fn read_positive_integer(input: &[u8]) -> Result<(&[u8], &[u8])> {
    let (value, rest) = read_tlv(input, 0x02)?;
    let magnitude = match value {
        [] => return Err(malformed("empty INTEGER in the ECDSA signature")),
        [0x00] => return Err(malformed("ECDSA r or s is zero")),
        [0x00, next, ..] if *next < 0x80 => return Err(malformed("non-minimal INTEGER in the ECDSA signature")),
        [0x00, magnitude @ ..] => magnitude,
        [first, ..] if *first >= 0x80 => return Err(malformed("negative INTEGER in the ECDSA signature")),
        magnitude => magnitude,
    };
    Ok((magnitude, rest))
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::pkcs8::DecodePrivateKey;
    use proptest::prelude::*;

    use super::*;
    use crate::crypto::HashAlg;

    fn p256_keys() -> Vec<p256::ecdsa::SigningKey> {
        use test_vectors::keys::{P256_A, P256_B, P256_C};
        [P256_A, P256_B, P256_C].iter().map(|der| p256::ecdsa::SigningKey::from_pkcs8_der(der).unwrap()).collect()
    }

    fn p384_keys() -> Vec<p384::ecdsa::SigningKey> {
        use test_vectors::keys::{P384_A, P384_B};
        [P384_A, P384_B].iter().map(|der| p384::ecdsa::SigningKey::from_pkcs8_der(der).unwrap()).collect()
    }

    /// Sign with the p256/p384 crates, convert their DER with our code, compare with their
    /// fixed-size bytes; and back.
    #[test]
    fn converts_p256_and_p384_signatures() {
        // RFC 6979 signatures are deterministic, so this set of messages is fixed: it includes
        // values with a zero top byte, which the conversion must left-pad.
        let mut padded_seen = false;
        for key in p256_keys() {
            for i in 0..200u32 {
                let msg = i.to_be_bytes();
                let sig: p256::ecdsa::Signature = key.sign(&msg);
                let der = sig.to_der();
                let fixed = der_to_fixed(der.as_bytes(), 32).unwrap();
                assert_eq!(fixed.as_slice(), sig.to_bytes().as_slice());
                assert_eq!(fixed_to_der(&fixed, 32).unwrap(), der.as_bytes());
                padded_seen |= fixed[0] == 0 || fixed[32] == 0;
            }
        }
        for key in p384_keys() {
            for i in 0..200u32 {
                let msg = i.to_be_bytes();
                let sig: p384::ecdsa::Signature = key.sign(&msg);
                let der = sig.to_der();
                let fixed = der_to_fixed(der.as_bytes(), 48).unwrap();
                assert_eq!(fixed.as_slice(), sig.to_bytes().as_slice());
                assert_eq!(fixed_to_der(&fixed, 48).unwrap(), der.as_bytes());
                padded_seen |= fixed[0] == 0 || fixed[48] == 0;
            }
        }
        assert!(padded_seen, "some r or s had a zero top byte");
    }

    /// Values with leading zero bytes (r = 1, s with a zero top byte) come back left-padded.
    #[test]
    fn short_integers_are_left_padded() {
        let mut fixed = vec![0u8; 64];
        fixed[31] = 0x01;
        fixed[33] = 0x80;
        fixed[63] = 0x07;
        let der = fixed_to_der(&fixed, 32).unwrap();
        assert_eq!(&der[..5], &hex!("30 25 02 01 01"));
        assert_eq!(&der[5..9], &hex!("02 20 00 80"), "s is 31 bytes, high bit set: sign byte");
        assert_eq!(der_to_fixed(&der, 32).unwrap(), fixed);
        // The p256 crate's own parser agrees.
        let theirs = p256::ecdsa::Signature::from_der(&der).unwrap();
        assert_eq!(theirs.to_bytes().as_slice(), fixed.as_slice());
    }

    #[test]
    fn rejects_malformed_der() {
        let key = &p256_keys()[0];
        let sig: p256::ecdsa::Signature = key.sign(b"malformed");
        let good = sig.to_der().as_bytes().to_vec();
        assert!(der_to_fixed(&good, 32).is_ok());
        let r_len = usize::from(good[3]);
        let s_at = 4 + r_len;

        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("trailing byte", [good.as_slice(), &[0]].concat()),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("SET instead of SEQUENCE", [&[0x31], &good[1..]].concat()),
            ("long-form length", [&[0x30, 0x81, good[1]], &good[2..]].concat()),
            ("indefinite length", [&[0x30, 0x80], &good[2..], &[0, 0]].concat()),
            ("zero r", hex!("30 06 02 01 00 02 01 01").to_vec()),
            ("zero s", hex!("30 06 02 01 01 02 01 00").to_vec()),
            ("negative r", hex!("30 06 02 01 81 02 01 01").to_vec()),
            ("non-minimal r", hex!("30 07 02 02 00 01 02 01 01").to_vec()),
            ("empty r", hex!("30 05 02 00 02 01 01").to_vec()),
            ("only r", hex!("30 03 02 01 01").to_vec()),
            ("three integers", hex!("30 09 02 01 01 02 01 01 02 01 01").to_vec()),
            ("OCTET STRING r", hex!("30 06 04 01 01 02 01 01").to_vec()),
            ("r of 33 bytes", [&hex!("30 27 02 21 01")[..], &[0x11; 32], &hex!("02 01 01")].concat()),
            (
                "r with sign byte but 33 bytes",
                [&hex!("30 28 02 22 00 80")[..], &[0x11; 32], &hex!("02 01 01")].concat(),
            ),
            (
                "r = n (P-256 order)",
                [
                    &hex!("30 26 02 21 00")[..],
                    &hex!("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
                    &hex!("02 01 01"),
                ]
                .concat(),
            ),
        ];
        let mut b = good.clone();
        b[1] += 1;
        cases.push(("outer length too long", b));
        let mut b = good.clone();
        b[s_at + 1] -= 1;
        cases.push(("inner length short", b));
        for (what, der) in cases {
            assert!(matches!(der_to_fixed(&der, 32), Err(Error::Malformed { .. })), "{what}");
        }
        // n - 1 is accepted.
        let n_minus_1 = [
            &hex!("30 26 02 21 00")[..],
            &hex!("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550"),
            &hex!("02 01 01"),
        ]
        .concat();
        assert!(der_to_fixed(&n_minus_1, 32).is_ok());
        // A good P-256 signature is also a (short) valid P-384 one; the field is the caller's.
        assert_eq!(der_to_fixed(&good, 48).unwrap().len(), 96);
        assert!(matches!(der_to_fixed(&good, 66), Err(Error::Unsupported(_))));
    }

    #[test]
    fn fixed_to_der_rejects_bad_input() {
        assert!(fixed_to_der(&[1; 63], 32).is_err());
        assert!(fixed_to_der(&[0; 64], 32).is_err());
        assert!(fixed_to_der(&[0xFF; 64], 32).is_err(), "above the order");
        assert!(fixed_to_der(&[1; 64], 33).is_err());
        assert!(fixed_to_der(&[1; 96], 48).is_ok());
    }

    /// The card signs `fit_hash(h)`; the p256 crate, given the whole hash, truncates (FIPS 186)
    /// and signs the same integer: identical deterministic (RFC 6979) signatures, and the
    /// verifier accepts ours for the original hash. A right-padded short hash would not verify.
    #[test]
    fn fit_hash_matches_fips_186_truncation() {
        let p256 = &p256_keys()[0];
        let p384 = &p384_keys()[0];
        for alg in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let h = alg.hash(b"fit").unwrap();

            let fitted = fit_hash(&h, 32);
            assert_eq!(fitted.len(), 32);
            let ours: p256::ecdsa::Signature = p256.sign_prehash(&fitted).unwrap();
            let theirs: p256::ecdsa::Signature = p256.sign_prehash(&h).unwrap();
            assert_eq!(ours, theirs, "{alg:?}");
            p256.verifying_key().verify_prehash(&h, &ours).unwrap();

            let fitted = fit_hash(&h, 48);
            let ours: p384::ecdsa::Signature = p384.sign_prehash(&fitted).unwrap();
            let theirs: p384::ecdsa::Signature = p384.sign_prehash(&h).unwrap();
            assert_eq!(ours, theirs, "{alg:?}");
            p384.verifying_key().verify_prehash(&h, &ours).unwrap();

            if h.len() < 48 {
                let mut right_padded = h.clone();
                right_padded.resize(48, 0);
                let wrong: p384::ecdsa::Signature = p384.sign_prehash(&right_padded).unwrap();
                assert!(p384.verifying_key().verify_prehash(&h, &wrong).is_err(), "{alg:?}");
            }
        }
        // And a whole-message signature verifies after the DER round trip.
        let sig: p256::ecdsa::Signature = p256.sign(b"message");
        let fixed = der_to_fixed(sig.to_der().as_bytes(), 32).unwrap();
        let back = p256::ecdsa::Signature::from_slice(&fixed).unwrap();
        p256.verifying_key().verify(b"message", &back).unwrap();
    }

    #[test]
    fn fit_hash_shapes() {
        assert_eq!(fit_hash(&[1, 2, 3], 5), vec![0, 0, 1, 2, 3]);
        assert_eq!(fit_hash(&[1, 2, 3, 4, 5, 6], 4), vec![1, 2, 3, 4]);
        assert_eq!(fit_hash(&[], 2), vec![0, 0]);
        assert_eq!(fit_hash(&[9; 32], 32), vec![9; 32]);
        assert!(fit_hash(&[9; 32], 0).is_empty());
    }

    proptest! {
        #[test]
        fn der_to_fixed_never_panics(der in prop::collection::vec(any::<u8>(), 0..120), field in prop::sample::select(vec![0usize, 32, 48, 66])) {
            let _ = der_to_fixed(&der, field);
        }

        /// Structured inputs reach deeper than random bytes.
        #[test]
        fn der_to_fixed_never_panics_on_sequences(r in prop::collection::vec(any::<u8>(), 0..52), s in prop::collection::vec(any::<u8>(), 0..52), tweak in any::<u8>()) {
            let mut der = vec![0x30, u8::try_from(r.len() + s.len() + 4).unwrap(), 0x02, u8::try_from(r.len()).unwrap()];
            der.extend(&r);
            der.push(0x02);
            der.push(u8::try_from(s.len()).unwrap().wrapping_add(tweak % 3).wrapping_sub(1));
            der.extend(&s);
            for field in [32, 48] {
                if let Ok(fixed) = der_to_fixed(&der, field) {
                    prop_assert_eq!(fixed.len(), 2 * field);
                    prop_assert_eq!(fixed_to_der(&fixed, field).unwrap(), der.clone());
                }
            }
        }

        #[test]
        fn round_trip(fixed in prop::collection::vec(any::<u8>(), 64)) {
            if let Ok(der) = fixed_to_der(&fixed, 32) {
                prop_assert_eq!(&der_to_fixed(&der, 32).unwrap(), &fixed);
                let theirs = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
                prop_assert_eq!(theirs.as_slice(), fixed.as_slice());
            }
        }

        #[test]
        fn fit_hash_keeps_the_integer(hash in prop::collection::vec(any::<u8>(), 0..80), field in 1usize..70) {
            let fitted = fit_hash(&hash, field);
            prop_assert_eq!(fitted.len(), field);
            if hash.len() <= field {
                prop_assert!(fitted.ends_with(&hash));
            } else {
                prop_assert_eq!(fitted.as_slice(), &hash[..field]);
            }
        }
    }
}
