//! What a slot's key is, learned from its certificate: PIV has no standard "read public key",
//! so the certificate's SubjectPublicKeyInfo is the host's only source.

use der::Decode;
use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts;
use spki::SubjectPublicKeyInfoRef;

use crate::error::{Error, Result};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A key algorithm a PIV slot can hold.
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
    /// The PIV algorithm identifier (P1 of GENERAL AUTHENTICATE, `80` in GENERATE): SP 800-78
    /// values, plus `16` for RSA-4096 as YubiKey 5.7+ and its clones number it.
    pub fn piv_id(self) -> Option<u8> {
        match self {
            Self::Rsa { bits: 1024 } => Some(0x06),
            Self::Rsa { bits: 2048 } => Some(0x07),
            Self::Rsa { bits: 3072 } => Some(0x05),
            Self::Rsa { bits: 4096 } => Some(0x16),
            Self::Rsa { .. } => None,
            Self::P256 => Some(0x11),
            Self::P384 => Some(0x14),
        }
    }

    /// The algorithm a PIV identifier names.
    pub fn from_piv_id(id: u8) -> Option<Self> {
        match id {
            0x06 => Some(Self::Rsa { bits: 1024 }),
            0x07 => Some(Self::Rsa { bits: 2048 }),
            0x05 => Some(Self::Rsa { bits: 3072 }),
            0x16 => Some(Self::Rsa { bits: 4096 }),
            0x11 => Some(Self::P256),
            0x14 => Some(Self::P384),
            _ => None,
        }
    }

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

/// A slot's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// The algorithm and size.
    pub algorithm: KeyAlgorithm,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

impl PublicKey {
    /// Reads the public key of an X.509 certificate.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the certificate does not parse; [`Error::Unsupported`] for
    /// key types PIV cannot hold.
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
        let algorithm = if info.algorithm.oid == RSA_ENCRYPTION {
            let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(spki)
                .map_err(|_| Error::Malformed { what: "malformed RSA public key" })?;
            let bits =
                u16::try_from(key.n().bits()).map_err(|_| Error::Unsupported("RSA key larger than 65535 bits"))?;
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
        Ok(Self { algorithm, spki: spki.to_vec() })
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
    /// [`Error::InvalidArgument`] for an EC key, [`Error::Malformed`] for a broken SPKI.
    pub fn rsa_components(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        if !self.algorithm.is_rsa() {
            return Err(Error::InvalidArgument("not an RSA key"));
        }
        let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&self.spki)
            .map_err(|_| Error::Malformed { what: "malformed RSA public key" })?;
        let n = key.n().to_be_bytes_trimmed_vartime().to_vec();
        let e = key.e().to_be_bytes_trimmed_vartime().to_vec();
        Ok((n, e))
    }
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
        assert_eq!(PublicKey::from_certificate(certs::RETIRED_84_RSA_4096).unwrap().algorithm.piv_id(), Some(0x16));
        let k = PublicKey::from_certificate(certs::CARD_AUTH_9E).unwrap();
        assert_eq!(k.spki, test_vectors::keys::P256_B_SPKI);
        assert_eq!(k.ec_point().unwrap().len(), 65);
        let (n, e) = PublicKey::from_certificate(certs::KEY_MANAGEMENT_9D).unwrap().rsa_components().unwrap();
        assert_eq!((n.len(), e), (256, vec![1, 0, 1]));
        assert!(PublicKey::from_certificate(&[0x30, 0x00]).is_err());
    }
}
