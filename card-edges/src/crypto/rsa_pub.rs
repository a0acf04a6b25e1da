//! RSA public keys: decoding them, their sizes, and the raw public operation for checking what a
//! card returned.

use crypto_bigint::modular::BoxedMontyForm;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPublicKey};

use super::{HashAlg, pkcs1, pss};
use crate::error::{Error, Result};

/// Decodes a DER `SubjectPublicKeyInfo` holding an RSA key (`rsaEncryption`).
///
/// # Errors
/// [`Error::Malformed`] when it does not decode, is not RSA, or its modulus is outside the
/// `rsa` crate's 1024..=8192-bit range.
pub fn public_key_from_spki(der: &[u8]) -> Result<RsaPublicKey> {
    RsaPublicKey::from_public_key_der(der).map_err(|_| Error::Malformed { what: "RSA SubjectPublicKeyInfo" })
}

/// Builds a public key from big-endian modulus and exponent bytes (PIV's `7F49 { 81 n, 82 e }`,
/// a `BCRYPT_RSAPUBLIC_BLOB`'s fields). Leading zero bytes are allowed.
///
/// # Errors
/// [`Error::Malformed`] for an even or out-of-range modulus (1024..=8192 bits) or exponent.
pub fn public_key_from_components(n: &[u8], e: &[u8]) -> Result<RsaPublicKey> {
    let (n, e) = (trim_zeros(n), trim_zeros(e));
    // Refuse absurd sizes before any big-integer work (8192 bits; e at most 2^33 - 1).
    if n.len() > RsaPublicKey::MAX_SIZE / 8 || e.len() > 8 {
        return Err(Error::Malformed { what: "RSA public key components" });
    }
    let n = BoxedUint::from_be_slice_vartime(n);
    let e = BoxedUint::from_be_slice_vartime(e);
    RsaPublicKey::new(n, e).map_err(|_| Error::Malformed { what: "RSA public key components" })
}

/// `k`: the modulus length in bytes (also the length of every signature and ciphertext).
pub fn modulus_len(key: &impl PublicKeyParts) -> usize {
    key.size()
}

/// The modulus length in bits (`modBits` of RFC 8017, which PSS needs).
pub fn modulus_bits(key: &impl PublicKeyParts) -> usize {
    usize::try_from(key.n().bits()).unwrap_or(usize::MAX)
}

/// The raw public operation `block^e mod n` (RSAEP / RSAVP1) on a `k`-byte block, returning
/// `k` bytes.
///
/// # Errors
/// [`Error::InvalidArgument`] when `block` is not `k` bytes long; [`Error::Crypto`] when it is
/// not less than the modulus.
pub fn raw_public(key: &impl PublicKeyParts, block: &[u8]) -> Result<Vec<u8>> {
    let k = key.size();
    if block.len() != k {
        return Err(Error::InvalidArgument("block length is not the modulus length"));
    }
    let m = BoxedUint::from_be_slice(block, key.n_bits_precision())
        .map_err(|_| Error::InvalidArgument("block length is not the modulus length"))?;
    if m >= *key.n().as_ref() {
        return Err(Error::Crypto("block is not less than the modulus"));
    }
    // With the key's own Montgomery parameters and only the exponent's bits: `BoxedUint::pow_mod`
    // would recompute the parameters and run the full width of `e` in constant time, about ten
    // times the work. The exponent is public, so its length may show in the timing.
    let e = key.e();
    let out = BoxedMontyForm::new(m, key.n_params()).pow_bounded_exp(e, e.bits()).retrieve().to_be_bytes();
    let skip = out.len().saturating_sub(k);
    Ok(out.get(skip..).unwrap_or_default().to_vec())
}

/// Checks a card's PKCS#1 v1.5 signature (by re-encoding, as RFC 8017 §8.2.2 does).
/// `hash_alg` as in [`pkcs1::encode_sign`].
///
/// # Errors
/// [`Error::Crypto`] when the signature does not verify; as [`pkcs1::encode_sign`] for a bad
/// hash.
pub fn verify_pkcs1(key: &impl PublicKeyParts, hash_alg: Option<HashAlg>, hash: &[u8], signature: &[u8]) -> Result<()> {
    let expected = pkcs1::encode_sign(hash_alg, hash, key.size())?;
    let block = raw_public(key, signature).map_err(|_| SIGNATURE_ERROR)?;
    if block == **expected { Ok(()) } else { Err(SIGNATURE_ERROR) }
}

/// Checks a card's RSASSA-PSS signature (MGF1 with `hash_alg`); `salt_len` `None` accepts any
/// salt length.
///
/// # Errors
/// [`Error::Crypto`] when the signature does not verify; as [`pss::verify`] otherwise.
pub fn verify_pss(
    key: &impl PublicKeyParts,
    hash_alg: HashAlg,
    m_hash: &[u8],
    signature: &[u8],
    salt_len: Option<usize>,
) -> Result<()> {
    let block = raw_public(key, signature).map_err(|_| SIGNATURE_ERROR)?;
    pss::verify(hash_alg, m_hash, &block, salt_len, modulus_bits(key))
}

const SIGNATURE_ERROR: Error = Error::Crypto("signature verification failed");

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rsa::Pkcs1v15Sign;
    use rsa::pkcs8::EncodePublicKey;

    use super::*;
    use crate::crypto::testutil::{private_op, rsa_2048, rsa_keys};

    #[test]
    fn spki_decodes_the_fixed_keys() {
        use test_vectors::keys::*;
        for (spki, bits) in [
            (RSA_1024_SPKI, 1024),
            (RSA_2048_A_SPKI, 2048),
            (RSA_2048_B_SPKI, 2048),
            (RSA_3072_SPKI, 3072),
            (RSA_4096_SPKI, 4096),
        ] {
            let key = public_key_from_spki(spki).unwrap();
            assert_eq!(modulus_bits(&key), bits);
            assert_eq!(modulus_len(&key), bits / 8);
            assert_eq!(key.e_bytes().as_ref(), &[1, 0, 1]);
        }
        assert_eq!(
            public_key_from_spki(P256_A_SPKI).unwrap_err(),
            Error::Malformed { what: "RSA SubjectPublicKeyInfo" }
        );
        assert!(public_key_from_spki(&RSA_2048_A_SPKI[..100]).is_err());
        assert!(public_key_from_spki(b"").is_err());
    }

    #[test]
    fn spki_matches_the_private_keys() {
        for (name, key) in rsa_keys() {
            let spki = key.to_public_key().to_public_key_der().unwrap();
            let decoded = public_key_from_spki(spki.as_bytes()).unwrap();
            assert_eq!(decoded, key.to_public_key(), "{name}");
        }
    }

    #[test]
    fn components() {
        let key = rsa_2048();
        let n = key.n_bytes();
        let from = public_key_from_components(&n, &[1, 0, 1]).unwrap();
        assert_eq!(from, key.to_public_key());
        // A leading 00 (as a DER INTEGER or a careless card would send) changes nothing.
        let with_zero = public_key_from_components(&[&[0u8][..], &n].concat(), &[0, 1, 0, 1]).unwrap();
        assert_eq!(with_zero, from);
        assert_eq!(modulus_len(&with_zero), 256);
        let mut even = n.to_vec();
        *even.last_mut().unwrap() &= 0xFE;
        assert!(public_key_from_components(&even, &[1, 0, 1]).is_err());
        assert!(public_key_from_components(&n[..64], &[1, 0, 1]).is_err(), "512-bit modulus");
        assert!(public_key_from_components(&n, &[]).is_err());
        assert!(public_key_from_components(&[], &[1, 0, 1]).is_err());
        assert!(public_key_from_components(&[0xFF; 1025], &[1, 0, 1]).is_err());
        assert!(public_key_from_components(&n, &[1; 9]).is_err());
    }

    /// `raw_public` inverts the card's operation and verifies `rsa` crate signatures.
    #[test]
    fn raw_public_inverts_private() {
        for (name, key) in rsa_keys() {
            let hash = HashAlg::Sha256.hash(name.as_bytes()).unwrap();
            let sig = key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &hash).unwrap();
            verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
            let block = raw_public(&key, &sig).unwrap();
            assert_eq!(*block, *pkcs1::encode_sign(Some(HashAlg::Sha256), &hash, key.size()).unwrap());
            assert_eq!(private_op(&key, &block), sig);
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert_eq!(
                verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &bad).unwrap_err(),
                Error::Crypto("signature verification failed")
            );
        }
    }

    #[test]
    fn raw_public_rejects_out_of_range() {
        let key = rsa_2048().to_public_key();
        assert!(raw_public(&key, &[0; 255]).is_err());
        assert!(raw_public(&key, &[0; 257]).is_err());
        assert!(raw_public(&key, &key.n_bytes()).is_err());
        assert!(raw_public(&key, &[0xFF; 256]).is_err());
        assert_eq!(raw_public(&key, &[0; 256]).unwrap(), vec![0; 256]);
        let mut one = vec![0; 256];
        one[255] = 1;
        assert_eq!(raw_public(&key, &one).unwrap(), one);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..600), e in prop::collection::vec(any::<u8>(), 0..10)) {
            let _ = public_key_from_spki(&data);
            let _ = public_key_from_components(&data, &e);
        }

        #[test]
        fn raw_public_never_panics(data in prop::collection::vec(any::<u8>(), 250..260)) {
            let key = rsa_2048();
            let _ = raw_public(&key, &data);
            let _ = verify_pkcs1(&key, None, b"x", &data);
            let _ = verify_pss(&key, HashAlg::Sha256, &[0; 32], &data, None);
        }
    }
}
