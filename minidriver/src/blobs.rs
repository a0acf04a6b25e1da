//! Public key blobs as the CSP wants them (`CONTAINER_INFO`), the peer key blob
//! `CardConstructDHAgreement` receives, and the `PRIVATEKEYBLOB` of a key import.

use card_edges::key::{KeyAlgorithm, PublicKey};
use zeroize::Zeroizing;

use crate::abi::crypt;
use crate::edge::KeyRole;
use crate::error::{Error, Result};

/// `PUBLICKEYBLOB` type byte.
const PUBLICKEYBLOB: u8 = 6;
/// `CUR_BLOB_VERSION`.
const CUR_BLOB_VERSION: u8 = 2;
/// "RSA1".
const RSA1: u32 = 0x3141_5352;
/// `PRIVATEKEYBLOB` type byte.
const PRIVATEKEYBLOB: u8 = 7;
/// "RSA2".
const RSA2: u32 = 0x3241_5352;
/// `BLOBHEADER` + `RSAPUBKEY`.
pub(crate) const PRIVATE_KEY_BLOB_HEADER: usize = 20;
/// Largest RSA key a blob may describe (CAPI's own limit).
const MAX_RSA_BITS: u32 = 16_384;

/// An RSA private key from a CAPI `PRIVATEKEYBLOB`, components big-endian.
pub(crate) struct RsaPrivateKeyBlob {
    /// `aiKeyAlg`: the role the CSP asks for.
    pub(crate) role: KeyRole,
    /// Modulus size.
    pub(crate) bits: u16,
    /// Public exponent.
    pub(crate) e: u32,
    /// n, p, q, dp, dq, qinv, d.
    pub(crate) n: Vec<u8>,
    pub(crate) p: Zeroizing<Vec<u8>>,
    pub(crate) q: Zeroizing<Vec<u8>>,
    pub(crate) dp: Zeroizing<Vec<u8>>,
    pub(crate) dq: Zeroizing<Vec<u8>>,
    pub(crate) qinv: Zeroizing<Vec<u8>>,
    pub(crate) d: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for RsaPrivateKeyBlob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaPrivateKeyBlob").field("bits", &self.bits).finish_non_exhaustive()
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).and_then(|x| x.try_into().ok()).map(u32::from_le_bytes)
}

/// The whole length of a `PRIVATEKEYBLOB` from its first [`PRIVATE_KEY_BLOB_HEADER`] bytes
/// (`BLOBHEADER` + `RSAPUBKEY`): `20 + bitlen/8 * 2 + bitlen/16 * 5`.
///
/// # Errors
/// [`Error::InvalidParameter`] when the header is not an RSA `PRIVATEKEYBLOB` of a sane size.
pub(crate) fn private_key_blob_len(header: &[u8]) -> Result<usize> {
    let bad = Error::InvalidParameter("pbKeyData is not an RSA PRIVATEKEYBLOB");
    if header.first() != Some(&PRIVATEKEYBLOB) || header.get(1) != Some(&CUR_BLOB_VERSION) {
        return Err(bad);
    }
    let alg = le_u32(header, 4).ok_or(bad.clone())?;
    let bits = le_u32(header, 12).ok_or(bad.clone())?;
    if le_u32(header, 8) != Some(RSA2)
        || !matches!(alg, crypt::CALG_RSA_KEYX | crypt::CALG_RSA_SIGN)
        || !(512..=MAX_RSA_BITS).contains(&bits)
        || !bits.is_multiple_of(16)
    {
        return Err(bad);
    }
    let bits = usize::try_from(bits).map_err(|_| bad)?;
    Ok(PRIVATE_KEY_BLOB_HEADER + bits / 8 * 2 + bits / 16 * 5)
}

/// Parses a whole `PRIVATEKEYBLOB` (little-endian components, turned big-endian here).
///
/// # Errors
/// [`Error::InvalidParameter`] for a malformed blob or one of the wrong length.
pub(crate) fn rsa_private_key_blob(blob: &[u8]) -> Result<RsaPrivateKeyBlob> {
    let len = private_key_blob_len(blob)?;
    let bad = Error::InvalidParameter("PRIVATEKEYBLOB of the wrong length");
    if blob.len() != len {
        return Err(bad);
    }
    let role = if le_u32(blob, 4) == Some(crypt::CALG_RSA_SIGN) { KeyRole::Signature } else { KeyRole::Exchange };
    let bits = le_u32(blob, 12).and_then(|b| u16::try_from(b).ok()).ok_or(bad.clone())?;
    let e = le_u32(blob, 16).ok_or(bad.clone())?;
    let (full, half) = (usize::from(bits) / 8, usize::from(bits) / 16);
    let mut at = PRIVATE_KEY_BLOB_HEADER;
    let mut take = |n: usize| -> Result<Zeroizing<Vec<u8>>> {
        let part = blob.get(at..at + n).ok_or(bad.clone())?;
        at += n;
        Ok(Zeroizing::new(part.iter().rev().copied().collect()))
    };
    let n = take(full)?.to_vec();
    let (p, q, dp, dq, qinv) = (take(half)?, take(half)?, take(half)?, take(half)?, take(half)?);
    let d = take(full)?;
    Ok(RsaPrivateKeyBlob { role, bits, e, n, p, q, dp, dq, qinv, d })
}

/// The blob for a container's key: a CAPI `PUBLICKEYBLOB` (little-endian modulus) for RSA,
/// a `BCRYPT_ECCKEY_BLOB` + X + Y for ECC, with the ECDSA or ECDH magic by role.
///
/// # Errors
/// [`Error::Unexpected`] for a key whose encoding cannot be read, or an RSA exponent over 32 bits.
pub(crate) fn public_key_blob(key: &PublicKey, role: KeyRole) -> Result<Vec<u8>> {
    match key.algorithm() {
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
            let field = key.algorithm().byte_len();
            let Some((&0x04, xy)) = point.split_first() else {
                return Err(Error::Unexpected("EC point not uncompressed"));
            };
            if xy.len() != 2 * field {
                return Err(Error::Unexpected("EC point of the wrong size"));
            }
            let magic = match (key.algorithm(), role) {
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

    /// A `PRIVATEKEYBLOB` of a test-vector key, built as CAPI lays it out.
    fn blob_of(pk8: &[u8], alg: u32) -> Vec<u8> {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let k = rsa::RsaPrivateKey::from_pkcs8_der(pk8).unwrap();
        let bits = k.n().bits();
        let le = |v: &[u8], len: usize| {
            let mut x: Vec<u8> = v.iter().rev().copied().collect();
            x.resize(len, 0);
            x
        };
        let (full, half) = (bits as usize / 8, bits as usize / 16);
        let mut out = vec![PRIVATEKEYBLOB, 2, 0, 0];
        out.extend_from_slice(&alg.to_le_bytes());
        out.extend_from_slice(&RSA2.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&65537u32.to_le_bytes());
        let p = &k.primes()[0];
        let q = &k.primes()[1];
        out.extend(le(&k.n().to_be_bytes_trimmed_vartime(), full));
        out.extend(le(&p.to_be_bytes_trimmed_vartime(), half));
        out.extend(le(&q.to_be_bytes_trimmed_vartime(), half));
        out.extend(le(&k.dp().unwrap().to_be_bytes_trimmed_vartime(), half));
        out.extend(le(&k.dq().unwrap().to_be_bytes_trimmed_vartime(), half));
        out.extend(le(&k.qinv().unwrap().retrieve().to_be_bytes_trimmed_vartime(), half));
        out.extend(le(&k.d().to_be_bytes_trimmed_vartime(), full));
        out
    }

    #[test]
    fn privatekeyblob_parses_and_checks_its_length() {
        let blob = blob_of(test_vectors::keys::RSA_2048_A, crypt::CALG_RSA_KEYX);
        assert_eq!(private_key_blob_len(&blob[..20]).unwrap(), blob.len());
        assert_eq!(blob.len(), 20 + 256 * 2 + 128 * 5);
        let k = rsa_private_key_blob(&blob).unwrap();
        assert_eq!((k.bits, k.e, k.role), (2048, 65537, KeyRole::Exchange));
        let cert_key = PublicKey::from_spki(test_vectors::keys::RSA_2048_A_SPKI).unwrap();
        assert_eq!(k.n, cert_key.rsa_components().unwrap().0);
        assert!(rsa_private_key_blob(&blob[..blob.len() - 1]).is_err());
        let mut bad = blob.clone();
        bad[0] = PUBLICKEYBLOB;
        assert!(private_key_blob_len(&bad).is_err());
        let mut bad = blob;
        bad[12..16].copy_from_slice(&100_000u32.to_le_bytes());
        assert!(private_key_blob_len(&bad).is_err());
    }

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
