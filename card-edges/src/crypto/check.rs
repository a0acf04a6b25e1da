//! Checks of what a card computed, with the public key alone: no APDU, well under a
//! millisecond, and a corrupted or substituted result is never handed on as good. A card (or a
//! reader, or anything between) that returns a wrong signature or plaintext makes the operation
//! fail with [`Error::Malformed`], which the minidriver reports as `SCARD_E_UNEXPECTED`.
//!
//! - RSA (signature or decryption): `output^e mod n` must give back the input block (RSAVP1 of
//!   RFC 8017 §5.2.2 undoes RSASP1; RSAEP undoes RSADP).
//! - ECDSA: the signature must verify over the hash the card was given (FIPS 186-5 §6.4.2).
//! - ECDH has no such check: the shared secret depends on the peer's private key. Only its
//!   length is checked, by the edges.

use signature::hazmat::PrehashVerifier;

use crate::error::{Error, Result};
use crate::key::{KeyAlgorithm, PublicKey};

const WRONG: Error = Error::Malformed { what: "the card's result does not verify with the key's public key" };

/// Checks the result of a raw RSA private operation: `output^e mod n == input`.
///
/// # Errors
/// [`Error::Malformed`] when it does not hold (or the key is not RSA).
pub fn rsa_private_result(key: &PublicKey, input: &[u8], output: &[u8]) -> Result<()> {
    let public = key.rsa().ok_or(WRONG)?;
    let back = super::raw_public(public, output).map_err(|_| WRONG)?;
    if subtle::ConstantTimeEq::ct_eq(back.as_slice(), input).into() { Ok(()) } else { Err(WRONG) }
}

/// Checks a fixed-width `r || s` ECDSA signature over `hash` (already fitted to the field).
///
/// # Errors
/// [`Error::Malformed`] when it does not verify (or the key is not EC).
pub fn ecdsa_signature(key: &PublicKey, hash: &[u8], r_s: &[u8]) -> Result<()> {
    let point = key.ec_point().map_err(|_| WRONG)?;
    let ok = match key.algorithm() {
        KeyAlgorithm::P256 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| WRONG)?;
            let sig = p256::ecdsa::Signature::from_slice(r_s).map_err(|_| WRONG)?;
            vk.verify_prehash(hash, &sig).is_ok()
        }
        KeyAlgorithm::P384 => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| WRONG)?;
            let sig = p384::ecdsa::Signature::from_slice(r_s).map_err(|_| WRONG)?;
            vk.verify_prehash(hash, &sig).is_ok()
        }
        KeyAlgorithm::Rsa { .. } => false,
    };
    if ok { Ok(()) } else { Err(WRONG) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signature::hazmat::PrehashSigner;

    #[test]
    fn rsa_results_are_checked() {
        let sk = crate::crypto::testutil::rsa_2048();
        let key = PublicKey::from_spki(test_vectors::keys::RSA_2048_A_SPKI).unwrap();
        let block = crate::crypto::pkcs1::encode_sign(Some(crate::crypto::HashAlg::Sha256), &[7; 32], 256).unwrap();
        let s = crate::crypto::testutil::private_op(&sk, &block);
        assert_eq!(rsa_private_result(&key, &block, &s), Ok(()));
        let mut flipped = s.clone();
        flipped[100] ^= 1;
        assert!(rsa_private_result(&key, &block, &flipped).is_err());
        assert!(rsa_private_result(&key, &block, &s[..255]).is_err(), "short output");
        let mut other = block.to_vec();
        other[255] ^= 1;
        assert!(rsa_private_result(&key, &other, &s).is_err(), "another input");
        let ec = PublicKey::from_spki(test_vectors::keys::P256_A_SPKI).unwrap();
        assert!(rsa_private_result(&ec, &block, &s).is_err());
    }

    #[test]
    fn ecdsa_results_are_checked() {
        use p256::pkcs8::DecodePrivateKey;
        let sk = p256::ecdsa::SigningKey::from_pkcs8_der(test_vectors::keys::P256_A).unwrap();
        let key = PublicKey::from_spki(test_vectors::keys::P256_A_SPKI).unwrap();
        let hash = [0x42; 32];
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&hash).unwrap();
        let rs = sig.to_bytes().to_vec();
        assert_eq!(ecdsa_signature(&key, &hash, &rs), Ok(()));
        assert!(ecdsa_signature(&key, &[0x43; 32], &rs).is_err());
        let mut bad = rs.clone();
        bad[5] ^= 0x80;
        assert!(ecdsa_signature(&key, &hash, &bad).is_err());
        assert!(ecdsa_signature(&key, &hash, &rs[..63]).is_err());
        let p384 = PublicKey::from_spki(test_vectors::keys::P384_A_SPKI).unwrap();
        assert!(ecdsa_signature(&p384, &hash, &rs).is_err());
    }
}
