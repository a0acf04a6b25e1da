//! Card-neutral key types that every card edge uses: what a key is ([`KeyAlgorithm`]), its
//! public half ([`PublicKey`], kept as SubjectPublicKeyInfo DER whatever form the card gave it
//! in), and how a container presents it to the Base CSP ([`KeyRole`]).

use std::sync::Arc;

use der::Decode;
use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts;
use spki::SubjectPublicKeyInfoRef;

use crate::error::{Error, Result};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A key algorithm a card edge can hold: RSA of a given size, or ECC on a NIST curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA with this modulus size in bits.
    Rsa {
        /// Modulus bits.
        bits: u16,
    },
    /// ECC on NIST P-256.
    P256,
    /// ECC on NIST P-384.
    P384,
}

impl KeyAlgorithm {
    /// Key size in bits (the curve size for ECC).
    pub fn bits(self) -> u16 {
        match self {
            Self::Rsa { bits } => bits,
            Self::P256 => 256,
            Self::P384 => 384,
        }
    }

    /// Bytes of the RSA block or of one ECC coordinate.
    pub fn byte_len(self) -> usize {
        usize::from(self.bits()).div_ceil(8)
    }

    /// Whether this is RSA.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa { .. })
    }
}

/// How a container presents its key to the Base CSP: in the key-exchange slot of the container
/// (`AT_KEYEXCHANGE` RSA, which signs too; `AT_ECDHE_*`) or the signature slot (`AT_SIGNATURE`,
/// `AT_ECDSA_*`). Smart Card Minidriver Specification v7, section 8.1 (CONTAINER_MAP_RECORD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// The key-exchange slot.
    Exchange,
    /// The signature slot.
    Signature,
}

impl KeyRole {
    /// The certificate file of a key in this role (`kxcNN` or `kscNN`).
    pub fn cert_kind(self) -> vfs::well_known::CertKind {
        match self {
            Self::Exchange => vfs::well_known::CertKind::KeyExchange,
            Self::Signature => vfs::well_known::CertKind::Signature,
        }
    }
}

/// A key's public half, decoded once: an edge keeps it per container for the insertion, and
/// every check of a card's RSA result reuses the decoded modulus and its Montgomery parameters
/// (decoding them again would add about a sixth to each check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki: Vec<u8>,
    /// The decoded RSA key (shared: containers are cloned out of the edges' caches).
    rsa: Option<Arc<rsa::RsaPublicKey>>,
}

impl PublicKey {
    /// The algorithm and size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The decoded RSA key, for an RSA key.
    pub fn rsa(&self) -> Option<&rsa::RsaPublicKey> {
        self.rsa.as_deref()
    }

    /// Reads the public key of an X.509 certificate.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the certificate does not parse; [`Error::Unsupported`] for
    /// key types no edge holds (other than RSA, P-256 and P-384).
    pub fn from_certificate(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|_| Error::Malformed { what: "certificate is not X.509 DER" })?;
        let spki = der::Encode::to_der(cert.tbs_certificate().subject_public_key_info())
            .map_err(|_| Error::Malformed { what: "certificate public key does not encode" })?;
        Self::from_spki(&spki)
    }

    /// Reads a SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// As [`PublicKey::from_certificate`].
    pub fn from_spki(spki: &[u8]) -> Result<Self> {
        let info = SubjectPublicKeyInfoRef::from_der(spki)
            .map_err(|_| Error::Malformed { what: "malformed SubjectPublicKeyInfo" })?;
        let mut rsa = None;
        let algorithm = if info.algorithm.oid == RSA_ENCRYPTION {
            let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(spki)
                .map_err(|_| Error::Malformed { what: "malformed RSA public key" })?;
            let bits =
                u16::try_from(key.n().bits()).map_err(|_| Error::Unsupported("RSA key larger than 65535 bits"))?;
            rsa = Some(Arc::new(key));
            KeyAlgorithm::Rsa { bits }
        } else if info.algorithm.oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(Error::Malformed { what: "EC key without a named curve" })?;
            if curve == SECP256R1 {
                KeyAlgorithm::P256
            } else if curve == SECP384R1 {
                KeyAlgorithm::P384
            } else {
                return Err(Error::Unsupported("EC curve other than P-256 or P-384"));
            }
        } else {
            return Err(Error::Unsupported("public key algorithm other than RSA or EC"));
        };
        Ok(Self { algorithm, spki: spki.to_vec(), rsa })
    }

    /// An RSA key from its modulus and public exponent (big-endian, as cards return them in
    /// a `7F49` template, ISO 7816-8 and GIDS v2), encoded as SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a zero, even or oversized modulus or exponent.
    pub fn from_rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<Self> {
        use rsa::pkcs8::EncodePublicKey;
        let (n, e) = (trim_leading_zeros(modulus), trim_leading_zeros(exponent));
        if n.is_empty() || n.len() > 2048 || e.is_empty() || e.len() > 8 {
            return Err(Error::Malformed { what: "RSA public key component of a bad size" });
        }
        let bits = u32::try_from(n.len() * 8).map_err(|_| Error::Malformed { what: "RSA modulus too long" })?;
        let n = rsa::BoxedUint::from_be_slice(n, bits).map_err(|_| Error::Malformed { what: "RSA modulus" })?;
        let e = rsa::BoxedUint::from_be_slice(e, 64).map_err(|_| Error::Malformed { what: "RSA exponent" })?;
        let key = rsa::RsaPublicKey::new(n, e).map_err(|_| Error::Malformed { what: "RSA public key out of range" })?;
        let spki = key.to_public_key_der().map_err(|_| Error::Malformed { what: "RSA public key does not encode" })?;
        Self::from_spki(spki.as_bytes())
    }

    /// The uncompressed EC point (`04 X Y`) of an EC key.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an RSA key, [`Error::Malformed`] for a broken SPKI.
    pub fn ec_point(&self) -> Result<Vec<u8>> {
        if self.algorithm.is_rsa() {
            return Err(Error::InvalidArgument("not an EC key"));
        }
        let info = SubjectPublicKeyInfoRef::from_der(&self.spki)
            .map_err(|_| Error::Malformed { what: "malformed SubjectPublicKeyInfo" })?;
        info.subject_public_key
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or(Error::Malformed { what: "EC point with unused bits" })
    }

    /// The RSA modulus and public exponent (big-endian) of an RSA key.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an EC key.
    pub fn rsa_components(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let key = self.rsa().ok_or(Error::InvalidArgument("not an RSA key"))?;
        let n = key.n().to_be_bytes_trimmed_vartime().to_vec();
        let e = key.e().to_be_bytes_trimmed_vartime().to_vec();
        Ok((n, e))
    }
}

/// A big-endian integer without its leading zero bytes (empty for zero).
fn trim_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_test_certificates() {
        use test_vectors::certs;
        assert_eq!(
            PublicKey::from_certificate(certs::PIV_AUTH_9A).unwrap().algorithm,
            KeyAlgorithm::Rsa { bits: 2048 }
        );
        assert_eq!(PublicKey::from_certificate(certs::DIGITAL_SIGNATURE_9C).unwrap().algorithm, KeyAlgorithm::P256);
        assert_eq!(PublicKey::from_certificate(certs::RETIRED_85_P384).unwrap().algorithm, KeyAlgorithm::P384);
        assert_eq!(
            PublicKey::from_certificate(certs::RETIRED_84_RSA_4096).unwrap().algorithm,
            KeyAlgorithm::Rsa { bits: 4096 }
        );
        let k = PublicKey::from_certificate(certs::CARD_AUTH_9E).unwrap();
        assert_eq!(k.spki, test_vectors::keys::P256_B_SPKI);
        assert_eq!(k.ec_point().unwrap().len(), 65);
        let (n, e) = PublicKey::from_certificate(certs::KEY_MANAGEMENT_9D).unwrap().rsa_components().unwrap();
        assert_eq!((n.len(), e), (256, vec![1, 0, 1]));
        assert!(PublicKey::from_certificate(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn rsa_key_from_components_matches_the_certificate() {
        let k = PublicKey::from_certificate(test_vectors::certs::KEY_MANAGEMENT_9D).unwrap();
        let (n, e) = k.rsa_components().unwrap();
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        assert_eq!(PublicKey::from_rsa_components(&padded, &[0, 1, 0, 1]).unwrap(), k);
        assert_eq!(PublicKey::from_rsa_components(&n, &e).unwrap().spki, k.spki);
        assert!(PublicKey::from_rsa_components(&[], &e).is_err());
        assert!(PublicKey::from_rsa_components(&n, &[0]).is_err());
        assert!(PublicKey::from_rsa_components(&[0xFF; 3000], &e).is_err());
    }

    #[test]
    fn the_decoded_rsa_key_is_the_spki_s() {
        use rsa::pkcs8::DecodePublicKey;
        for der in [test_vectors::certs::PIV_AUTH_9A, test_vectors::certs::RETIRED_84_RSA_4096] {
            let k = PublicKey::from_certificate(der).unwrap();
            assert_eq!(*k.rsa().unwrap(), rsa::RsaPublicKey::from_public_key_der(k.spki()).unwrap());
        }
        let ec = PublicKey::from_certificate(test_vectors::certs::CARD_AUTH_9E).unwrap();
        assert!(ec.rsa().is_none());
        assert_eq!(ec.rsa_components().unwrap_err(), Error::InvalidArgument("not an RSA key"));
    }
}
