//! Public key blobs as the CSP wants them (`CONTAINER_INFO`), and the peer key blob
//! `CardConstructDHAgreement` receives.

use card_edges::key::{KeyAlgorithm, PublicKey};

use crate::abi::crypt;
use crate::edge::KeyRole;
use crate::error::{Error, Result};

/// `PUBLICKEYBLOB` type byte.
const PUBLICKEYBLOB: u8 = 6;
/// `CUR_BLOB_VERSION`.
const CUR_BLOB_VERSION: u8 = 2;
/// "RSA1".
const RSA1: u32 = 0x3141_5352;

/// The blob for a container's key: a CAPI `PUBLICKEYBLOB` (little-endian modulus) for RSA,
/// a `BCRYPT_ECCKEY_BLOB` + X + Y for ECC, with the ECDSA or ECDH magic by role.
///
/// # Errors
/// [`Error::Unexpected`] for a key whose encoding cannot be read, or an RSA exponent over 32 bits.
pub(crate) fn public_key_blob(key: &PublicKey, role: KeyRole) -> Result<Vec<u8>> {
    match key.algorithm {
        KeyAlgorithm::Rsa { bits } => {
            let (n, e) = key.rsa_components().map_err(|_| Error::Unexpected("RSA public key unreadable"))?;
            let exp = e.iter().try_fold(0u32, |acc, b| acc.checked_mul(256).map(|v| v | u32::from(*b)));
            let exp = exp.ok_or(Error::Unexpected("RSA exponent wider than 32 bits"))?;
            let alg = match role {
                KeyRole::Exchange => crypt::CALG_RSA_KEYX,
                KeyRole::Signature => crypt::CALG_RSA_SIGN,
            };
            let len = usize::from(bits).div_ceil(8);
            let mut out = Vec::with_capacity(20 + len);
            out.extend_from_slice(&[PUBLICKEYBLOB, CUR_BLOB_VERSION, 0, 0]);
            out.extend_from_slice(&alg.to_le_bytes());
            out.extend_from_slice(&RSA1.to_le_bytes());
            out.extend_from_slice(&u32::from(bits).to_le_bytes());
            out.extend_from_slice(&exp.to_le_bytes());
            // The modulus, little-endian, padded to bitlen/8 bytes.
            let mut le: Vec<u8> = n.iter().rev().copied().collect();
            le.resize(len, 0);
            out.extend_from_slice(&le);
            Ok(out)
        }
        KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
            let point = key.ec_point().map_err(|_| Error::Unexpected("EC public key unreadable"))?;
            let field = key.algorithm.byte_len();
            let Some((&0x04, xy)) = point.split_first() else {
                return Err(Error::Unexpected("EC point not uncompressed"));
            };
            if xy.len() != 2 * field {
                return Err(Error::Unexpected("EC point of the wrong size"));
            }
            let magic = match (key.algorithm, role) {
                (KeyAlgorithm::P256, KeyRole::Signature) => crypt::ECDSA_PUBLIC_P256_MAGIC,
                (KeyAlgorithm::P384, KeyRole::Signature) => crypt::ECDSA_PUBLIC_P384_MAGIC,
                (KeyAlgorithm::P256, KeyRole::Exchange) => crypt::ECDH_PUBLIC_P256_MAGIC,
                _ => crypt::ECDH_PUBLIC_P384_MAGIC,
            };
            let mut out = Vec::with_capacity(8 + xy.len());
            out.extend_from_slice(&magic.to_le_bytes());
            out.extend_from_slice(&u32::try_from(field).unwrap_or(0).to_le_bytes());
            out.extend_from_slice(xy);
            Ok(out)
        }
    }
}

/// The uncompressed point (`04 X Y`) of a peer's `BCRYPT_ECCKEY_BLOB`, checked against the
/// curve of our key: an ECDH (or ECDSA) public magic of that curve, `cbKey` equal to the field
/// size, and exactly `8 + 2 * cbKey` bytes.
///
/// # Errors
/// [`Error::InvalidParameter`] for anything else.
pub(crate) fn peer_point(blob: &[u8], ours: KeyAlgorithm) -> Result<Vec<u8>> {
    let bad = Error::InvalidParameter("peer key is not a BCRYPT_ECCKEY_BLOB of this curve");
    let (header, xy) = blob.split_at_checked(8).ok_or(bad.clone())?;
    let magic = u32::from_le_bytes(header.get(..4).and_then(|b| b.try_into().ok()).ok_or(bad.clone())?);
    let cb_key = u32::from_le_bytes(header.get(4..8).and_then(|b| b.try_into().ok()).ok_or(bad.clone())?);
    let (magics, field): (&[u32], usize) = match ours {
        KeyAlgorithm::P256 => (&[crypt::ECDH_PUBLIC_P256_MAGIC, crypt::ECDSA_PUBLIC_P256_MAGIC], 32),
        KeyAlgorithm::P384 => (&[crypt::ECDH_PUBLIC_P384_MAGIC, crypt::ECDSA_PUBLIC_P384_MAGIC], 48),
        KeyAlgorithm::Rsa { .. } => return Err(bad),
    };
    if !magics.contains(&magic) || usize::try_from(cb_key).ok() != Some(field) || xy.len() != 2 * field {
        return Err(bad);
    }
    let mut point = Vec::with_capacity(1 + xy.len());
    point.push(0x04);
    point.extend_from_slice(xy);
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_vectors::certs;

    #[test]
    fn rsa_publickeyblob() {
        let key = PublicKey::from_certificate(certs::PIV_AUTH_9A).unwrap();
        let blob = public_key_blob(&key, KeyRole::Exchange).unwrap();
        assert_eq!(blob.len(), 20 + 256);
        assert_eq!(&blob[..8], &[6, 2, 0, 0, 0x00, 0xA4, 0, 0]);
        assert_eq!(&blob[8..12], b"RSA1");
        assert_eq!(u32::from_le_bytes(blob[12..16].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(blob[16..20].try_into().unwrap()), 65537);
        let (n, _) = key.rsa_components().unwrap();
        let mut le = n;
        le.reverse();
        assert_eq!(&blob[20..], &le[..]);
        assert_eq!(public_key_blob(&key, KeyRole::Signature).unwrap()[4..8], [0x00, 0x24, 0, 0]);
    }

    #[test]
    fn ecc_blob_and_peer_round_trip() {
        let key = PublicKey::from_certificate(certs::DIGITAL_SIGNATURE_9C).unwrap();
        let blob = public_key_blob(&key, KeyRole::Signature).unwrap();
        assert_eq!(&blob[..8], &[0x45, 0x43, 0x53, 0x31, 32, 0, 0, 0]);
        assert_eq!(blob.len(), 8 + 64);
        assert_eq!(peer_point(&blob, KeyAlgorithm::P256).unwrap(), key.ec_point().unwrap());
        assert!(peer_point(&blob, KeyAlgorithm::P384).is_err());
        assert!(peer_point(&blob[..40], KeyAlgorithm::P256).is_err());
        let mut wrong_size = blob;
        wrong_size[4] = 48;
        assert!(peer_point(&wrong_size, KeyAlgorithm::P256).is_err());
    }
}
