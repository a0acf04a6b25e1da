//! RSA private-key arithmetic shared by the simulated cards: the raw private operation on a
//! modulus-sized block (what a card's "RSA without padding" does), key generation from the
//! card's generator, and the big-endian integers of public key templates.

use crypto_bigint::modular::BoxedMontyForm;
use rsa::BoxedUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

use crate::rng::SimRng;
use crate::{Error, Result};

/// Why a raw private operation was refused: the input is not a block of the modulus length,
/// or its value is not below the modulus (ISO 7816-8 leaves both to the card: `67 00` and
/// `6A 80` are what cards answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawError {
    /// The input is not exactly as long as the modulus.
    Length,
    /// The input is not below the modulus, or the key is inconsistent.
    Value,
}

/// `input^d mod n` for an input of exactly the modulus length and below the modulus, the result
/// left-padded to the modulus length and checked against `e` (a fault check, as cards make).
///
/// # Errors
/// [`RawError`] as documented there.
pub(crate) fn raw_private(key: &rsa::RsaPrivateKey, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, RawError> {
    let k = key.size();
    if input.len() != k {
        return Err(RawError::Length);
    }
    let n = key.n().as_ref();
    let c = BoxedUint::from_be_slice(input, n.bits_precision()).map_err(|_| RawError::Value)?;
    if c >= *n {
        return Err(RawError::Value);
    }
    let m = private_op(key, &c).ok_or(RawError::Value)?;
    let bytes = Zeroizing::new(m.to_be_bytes());
    let skip = bytes.len().saturating_sub(k);
    let mut out = Zeroizing::new(vec![0u8; k.saturating_sub(bytes.len())]);
    out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
    Ok(out)
}

/// `c^d mod n`, checked by re-encrypting. A simulator has no timing side channel to guard, so
/// there is no blinding. `None` when the key is inconsistent.
fn private_op(key: &rsa::RsaPrivateKey, c: &BoxedUint) -> Option<BoxedUint> {
    let params = key.n_params();
    let m = BoxedMontyForm::new(c.clone(), params).pow(key.d()).retrieve();
    let back = BoxedMontyForm::new(m.clone(), params).pow(key.e()).retrieve();
    (back == *c).then_some(m)
}

/// A new RSA key of `bits` (public exponent 65537) drawn from `rng`.
///
/// # Errors
/// [`Error::Crypto`] if generation fails.
pub(crate) fn generate(bits: usize, rng: &mut SimRng) -> Result<rsa::RsaPrivateKey> {
    rsa::RsaPrivateKey::new(rng, bits).map_err(|_| Error::Crypto("RSA key generation failed"))
}

/// The modulus, big-endian, without leading zero bytes.
pub(crate) fn modulus(key: &rsa::RsaPublicKey) -> Vec<u8> {
    trimmed(&key.n().as_ref().to_be_bytes())
}

/// The public exponent, big-endian, without leading zero bytes.
pub(crate) fn exponent(key: &rsa::RsaPublicKey) -> Vec<u8> {
    trimmed(&key.e().to_be_bytes())
}

/// A big-endian integer without leading zero bytes (at least one byte).
fn trimmed(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes.get(start..).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;

    #[test]
    fn raw_private_inverts_the_public_operation() {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_1024).unwrap();
        let mut block = vec![0u8; 128];
        block[1] = 0x42;
        block[127] = 7;
        let s = raw_private(&key, &block).unwrap();
        assert_eq!(s.len(), 128);
        let back =
            rsa::hazmat::rsa_encrypt(&key.to_public_key(), &BoxedUint::from_be_slice(&s, 1024).unwrap()).unwrap();
        assert_eq!(&back.to_be_bytes()[..], &block[..]);
        assert_eq!(raw_private(&key, &block[1..]), Err(RawError::Length));
        assert_eq!(raw_private(&key, &[0xFF; 128]), Err(RawError::Value));
    }

    #[test]
    fn integers_are_trimmed() {
        assert_eq!(trimmed(&[0, 0, 1, 0]), [1, 0]);
        assert_eq!(trimmed(&[0, 0]), [0]);
        let key = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_1024).unwrap().to_public_key();
        assert_eq!(exponent(&key), [1, 0, 1]);
        assert_eq!(modulus(&key).len(), 128);
    }
}
