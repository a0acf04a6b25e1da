//! The private keys in the card's slots and the operations GENERAL AUTHENTICATE performs with
//! them: raw RSA (the host pads), ECDSA over a host-computed hash (answered in DER), and ECDH
//! (answered as the shared point's x-coordinate).

use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use signature::hazmat::PrehashSigner;
use zeroize::Zeroizing;

use crate::rng::SimRng;
use crate::rsa_key;
use crate::{Error, Result};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

/// An asymmetric key algorithm a slot can hold, with its PIV identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA-1024 (`06`): SP 800-78, still found on older cards.
    Rsa1024,
    /// RSA-2048 (`07`).
    Rsa2048,
    /// RSA-3072 (`05`): SP 800-73-1, re-added by SP 800-78-5.
    Rsa3072,
    /// RSA-4096 (`16`): YubiKey 5.7's identifier, copied by its clones.
    Rsa4096,
    /// ECC P-256 (`11`).
    EccP256,
    /// ECC P-384 (`14`).
    EccP384,
}

impl KeyAlgorithm {
    /// The PIV algorithm identifier (P1 of GENERAL AUTHENTICATE, `80` of GENERATE).
    pub const fn id(self) -> u8 {
        match self {
            Self::Rsa1024 => 0x06,
            Self::Rsa2048 => 0x07,
            Self::Rsa3072 => 0x05,
            Self::Rsa4096 => 0x16,
            Self::EccP256 => 0x11,
            Self::EccP384 => 0x14,
        }
    }

    /// The algorithm an identifier names.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0x06 => Some(Self::Rsa1024),
            0x07 => Some(Self::Rsa2048),
            0x05 => Some(Self::Rsa3072),
            0x16 => Some(Self::Rsa4096),
            0x11 => Some(Self::EccP256),
            0x14 => Some(Self::EccP384),
            _ => None,
        }
    }

    /// RSA modulus size, or curve size, in bits.
    pub const fn bits(self) -> usize {
        match self {
            Self::Rsa1024 => 1024,
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
            Self::EccP256 => 256,
            Self::EccP384 => 384,
        }
    }

    /// Whether this is an RSA algorithm.
    pub const fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa1024 | Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    fn rsa_from_bits(bits: usize) -> Option<Self> {
        match bits {
            1024 => Some(Self::Rsa1024),
            2048 => Some(Self::Rsa2048),
            3072 => Some(Self::Rsa3072),
            4096 => Some(Self::Rsa4096),
            _ => None,
        }
    }
}

/// A slot's private key. The key types zeroize themselves on drop.
pub(crate) enum SlotKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
}

impl SlotKey {
    /// A key from an unencrypted PKCS#8 `PrivateKeyInfo` (RSA of a PIV size, P-256 or P-384).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for any other key.
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self> {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
            KeyAlgorithm::rsa_from_bits(k.size() * 8)
                .ok_or(Error::InvalidArgument("RSA key size is not 1024, 2048, 3072 or 4096"))?;
            return Ok(Self::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P256(k));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::P384(k));
        }
        Err(Error::InvalidArgument("not a PKCS#8 RSA, P-256 or P-384 private key"))
    }

    /// A new key of `alg` drawn from `rng`.
    ///
    /// # Errors
    /// [`Error::Crypto`] if RSA key generation fails.
    pub(crate) fn generate(alg: KeyAlgorithm, rng: &mut SimRng) -> Result<Self> {
        Ok(match alg {
            KeyAlgorithm::EccP256 => Self::P256(p256::SecretKey::generate_from_rng(rng)),
            KeyAlgorithm::EccP384 => Self::P384(p384::SecretKey::generate_from_rng(rng)),
            rsa_alg => Self::Rsa(Box::new(rsa_key::generate(rsa_alg.bits(), rng)?)),
        })
    }

    /// The key's algorithm.
    pub(crate) fn algorithm(&self) -> KeyAlgorithm {
        match self {
            // from_pkcs8 and generate admit only the four PIV sizes.
            Self::Rsa(k) => KeyAlgorithm::rsa_from_bits(k.size() * 8).unwrap_or(KeyAlgorithm::Rsa2048),
            Self::P256(_) => KeyAlgorithm::EccP256,
            Self::P384(_) => KeyAlgorithm::EccP384,
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`Error::Crypto`] if encoding fails.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>> {
        let doc = match self {
            Self::Rsa(k) => k.to_public_key().to_public_key_der(),
            Self::P256(k) => k.public_key().to_public_key_der(),
            Self::P384(k) => k.public_key().to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).map_err(|_| Error::Crypto("public key encoding failed"))
    }

    /// The public key as GENERATE and YubiKey metadata return it: `81 n 82 e` for RSA,
    /// `86 04||X||Y` for ECC (the content of `7F49`).
    ///
    /// # Errors
    /// Only for absurd sizes (never for PIV keys).
    pub(crate) fn public_template(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(600);
        match self {
            Self::Rsa(k) => {
                let public = k.to_public_key();
                tlv::write(&mut out, Tag(0x81), &rsa_key::modulus(&public))?;
                tlv::write(&mut out, Tag(0x82), &rsa_key::exponent(&public))?;
            }
            Self::P256(k) => tlv::write(&mut out, Tag(0x86), &k.public_key().to_sec1_bytes())?,
            Self::P384(k) => tlv::write(&mut out, Tag(0x86), &k.public_key().to_sec1_bytes())?,
        }
        Ok(out)
    }

    /// The private-key operation of `81`: raw RSA on a block of exactly the modulus size
    /// (below the modulus), or ECDSA on a hash of exactly the field size, in DER.
    ///
    /// # Errors
    /// `6A 80` for input of the wrong length or value.
    pub(crate) fn sign(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
        let bad = StatusWord::INCORRECT_DATA;
        match self {
            Self::Rsa(k) => raw_rsa(k, input),
            Self::P256(k) => {
                if input.len() != 32 {
                    return Err(bad);
                }
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::SigningKey::from(k).sign_prehash(input).map_err(|_| bad)?;
                Ok(Zeroizing::new(sig.to_der().as_bytes().to_vec()))
            }
            Self::P384(k) => {
                if input.len() != 48 {
                    return Err(bad);
                }
                let sig: p384::ecdsa::Signature =
                    p384::ecdsa::SigningKey::from(k).sign_prehash(input).map_err(|_| bad)?;
                Ok(Zeroizing::new(sig.to_der().as_bytes().to_vec()))
            }
        }
    }

    /// ECDH with the peer's uncompressed point (`04||X||Y`): the shared x-coordinate.
    ///
    /// # Errors
    /// `6A 80` for an RSA key, a point of the wrong form or one not on the curve.
    pub(crate) fn ecdh(&self, point: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
        let bad = StatusWord::INCORRECT_DATA;
        if point.first() != Some(&0x04) {
            return Err(bad);
        }
        match self {
            Self::P256(k) if point.len() == 65 => {
                let peer = p256::PublicKey::from_sec1_bytes(point).map_err(|_| bad)?;
                Ok(Zeroizing::new(k.diffie_hellman(&peer).raw_secret_bytes().to_vec()))
            }
            Self::P384(k) if point.len() == 97 => {
                let peer = p384::PublicKey::from_sec1_bytes(point).map_err(|_| bad)?;
                Ok(Zeroizing::new(k.diffie_hellman(&peer).raw_secret_bytes().to_vec()))
            }
            _ => Err(bad),
        }
    }
}

/// `input^d mod n` for a block of exactly the modulus length below the modulus; anything else is
/// `6A 80`, as GENERAL AUTHENTICATE answers malformed input.
fn raw_rsa(key: &rsa::RsaPrivateKey, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
    rsa_key::raw_private(key, input).map_err(|_| StatusWord::INCORRECT_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey;
    use rsa::BoxedUint;
    use signature::hazmat::PrehashVerifier;
    use test_vectors::keys;

    #[test]
    fn loads_every_test_vector_key() {
        for (name, pk8, spki) in keys::ALL {
            let k = SlotKey::from_pkcs8(pk8).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(k.spki_der().unwrap(), *spki, "{name}");
        }
        assert!(SlotKey::from_pkcs8(keys::RSA_2048_A_SPKI).is_err());
    }

    #[test]
    fn raw_rsa_is_the_private_operation() {
        let k = SlotKey::from_pkcs8(keys::RSA_2048_A).unwrap();
        assert_eq!(k.algorithm(), KeyAlgorithm::Rsa2048);
        let SlotKey::Rsa(rsa_key) = &k else { unreachable!() };
        let pubkey = rsa_key.to_public_key();
        // A PKCS#1 v1.5 block with a leading zero byte: the output must keep its width.
        let mut block = vec![0u8, 1];
        block.extend(std::iter::repeat_n(0xFF, 200));
        block.push(0);
        block.extend(std::iter::repeat_n(0x42, 256 - block.len()));
        let s = k.sign(&block).unwrap();
        assert_eq!(s.len(), 256);
        let back = rsa::hazmat::rsa_encrypt(&pubkey, &BoxedUint::from_be_slice(&s, 2048).unwrap()).unwrap();
        assert_eq!(&back.to_be_bytes()[..], &block[..], "s^e mod n == input");
        // Wrong length, and a value not below the modulus.
        assert_eq!(k.sign(&block[1..]), Err(StatusWord::INCORRECT_DATA));
        assert_eq!(k.sign(&[0xFF; 256]), Err(StatusWord::INCORRECT_DATA));
        assert_eq!(k.ecdh(&[4; 65]), Err(StatusWord::INCORRECT_DATA));
    }

    #[test]
    fn ecdsa_verifies_with_the_public_key() {
        let k = SlotKey::from_pkcs8(keys::P256_A).unwrap();
        let hash = [0x5A; 32];
        let der = k.sign(&hash).unwrap();
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        let vk = p256::ecdsa::VerifyingKey::from_public_key_der(keys::P256_A_SPKI).unwrap();
        vk.verify_prehash(&hash, &sig).unwrap();
        assert!(k.sign(&[0x5A; 48]).is_err());

        let k = SlotKey::from_pkcs8(keys::P384_A).unwrap();
        let hash = [0xA5; 48];
        let der = k.sign(&hash).unwrap();
        let sig = p384::ecdsa::Signature::from_der(&der).unwrap();
        let vk = p384::ecdsa::VerifyingKey::from_public_key_der(keys::P384_A_SPKI).unwrap();
        vk.verify_prehash(&hash, &sig).unwrap();
        assert!(k.sign(&[0xA5; 32]).is_err());
    }

    #[test]
    fn ecdh_matches_the_host_side() {
        let card = SlotKey::from_pkcs8(keys::P256_B).unwrap();
        let host = p256::SecretKey::from_pkcs8_der(keys::P256_C).unwrap();
        let card_pub = p256::PublicKey::from_public_key_der(keys::P256_B_SPKI).unwrap();
        let z = card.ecdh(&host.public_key().to_sec1_bytes()).unwrap();
        assert_eq!(&z[..], host.diffie_hellman(&card_pub).raw_secret_bytes().as_slice());
        // Compressed points, wrong curves and points off the curve are refused.
        let compressed = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&host.public_key(), true);
        assert!(card.ecdh(compressed.as_bytes()).is_err());
        let mut off = host.public_key().to_sec1_bytes().to_vec();
        off[64] ^= 1;
        assert!(card.ecdh(&off).is_err());

        let card = SlotKey::from_pkcs8(keys::P384_B).unwrap();
        let host = p384::SecretKey::from_pkcs8_der(keys::P384_A).unwrap();
        let card_pub = p384::PublicKey::from_public_key_der(keys::P384_B_SPKI).unwrap();
        let z = card.ecdh(&host.public_key().to_sec1_bytes()).unwrap();
        assert_eq!(z.len(), 48);
        assert_eq!(&z[..], host.diffie_hellman(&card_pub).raw_secret_bytes().as_slice());
    }

    #[test]
    fn public_templates() {
        let k = SlotKey::from_pkcs8(keys::P256_A).unwrap();
        let t = k.public_template().unwrap();
        assert_eq!(&t[..3], &[0x86, 0x41, 0x04]);
        let k = SlotKey::from_pkcs8(keys::RSA_1024).unwrap();
        let t = k.public_template().unwrap();
        assert_eq!(&t[..3], &[0x81, 0x81, 0x80]);
        assert_eq!(&t[t.len() - 5..], &[0x82, 0x03, 0x01, 0x00, 0x01]);
    }

    #[test]
    fn generated_ec_keys_follow_the_seed() {
        let a = SlotKey::generate(KeyAlgorithm::EccP384, &mut SimRng::from_seed(b"s", b"9D")).unwrap();
        let b = SlotKey::generate(KeyAlgorithm::EccP384, &mut SimRng::from_seed(b"s", b"9D")).unwrap();
        let c = SlotKey::generate(KeyAlgorithm::EccP384, &mut SimRng::from_seed(b"t", b"9D")).unwrap();
        assert_eq!(a.spki_der().unwrap(), b.spki_der().unwrap());
        assert_ne!(a.spki_der().unwrap(), c.spki_der().unwrap());
        assert_eq!(a.algorithm(), KeyAlgorithm::EccP384);
    }

    #[test]
    fn algorithm_ids_round_trip() {
        for id in 0..=255u8 {
            if let Some(a) = KeyAlgorithm::from_id(id) {
                assert_eq!(a.id(), id);
            }
        }
        assert_eq!(KeyAlgorithm::from_id(0x16), Some(KeyAlgorithm::Rsa4096));
        assert_eq!(KeyAlgorithm::from_id(0x03), None);
    }
}
