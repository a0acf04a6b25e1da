//! Key references, key files and the data fields of the key commands (GIDS v2.0 sections on
//! cryptographic mechanisms, key files and PUT KEY; the templates are the ones Windows' msclmd
//! sends, which OpenSC's card-gids.c copies).
//!
//! Container `i` (its `cmapfile` record) uses key reference `0x81 + i`, kept in key file
//! `B0 (81 + i)`; key reference `0x80` is the administrator key. So at most 126 containers.

use core::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};
use crate::key::{KeyRole, PublicKey};

/// Key reference of container 0.
pub const FIRST_KEY_REF: u8 = 0x81;
/// Key reference of the administrator key (3-key Triple DES, key file `B080`).
pub const ADMIN_KEY_REF: u8 = 0x80;
/// Containers the key references `81..=FE` allow.
pub const MAX_CONTAINERS: usize = 126;

/// Scheme nibbles of the cryptographic mechanism identifier (tag `80`), high nibble; the low
/// nibble is the key type and size ([`rsa_key_type`]).
pub mod scheme {
    /// Decipher: raw RSA, no padding removal.
    pub const DECIPHER_RAW: u8 = 0x00;
    /// Decipher: RSAES-PKCS1-v1_5, the card removes the padding.
    pub const DECIPHER_PKCS1: u8 = 0x40;
    /// Decipher: RSAES-OAEP (SHA-1), the card removes the padding.
    pub const DECIPHER_OAEP: u8 = 0x80;
    /// Signature: the host sends the whole padded block ("full SHA off-card").
    pub const SIGN_RAW: u8 = 0x10;
    /// Signature: RSASSA-PKCS1-v1_5, the host sends the DigestInfo and the card pads.
    pub const SIGN_PKCS1: u8 = 0x50;
}

/// The key reference of container `index`, or `None` past the 126th container.
pub fn key_ref(index: u8) -> Option<u8> {
    (usize::from(index) < MAX_CONTAINERS).then(|| FIRST_KEY_REF + index)
}

/// The key file of key reference `key_ref` (`B081` for `81`).
pub fn key_file_id(key_ref: u8) -> u16 {
    0xB000 | u16::from(key_ref)
}

/// The mechanism low nibble of an RSA key of `bits` (`06` 1024, `07` 2048, `08` 3072, `09`
/// 4096), or `None` for sizes GIDS does not define.
pub fn rsa_key_type(bits: u16) -> Option<u8> {
    match bits {
        1024 => Some(0x06),
        2048 => Some(0x07),
        3072 => Some(0x08),
        4096 => Some(0x09),
        _ => None,
    }
}

/// The key file's FCP for CREATE FILE: file descriptor `18` (key file), its FID, the compact
/// security attributes `8F 10 10 10 00` (GENERATE, MSE, PUT KEY with the user PIN; GET PUBLIC
/// KEY always) and the CRTs that say what the key may do. A key-exchange key decrypts (raw,
/// OAEP, PKCS#1) and signs (raw block, PKCS#1); a signature key only signs.
pub fn key_file_fcp(key_ref: u8, key_type: u8, role: KeyRole) -> Result<Vec<u8>> {
    let crt = |tag: u32, mechanism: u8| -> Result<Vec<u8>> {
        let mut inner = Vec::with_capacity(9);
        tlv::write(&mut inner, Tag(0x80), &[mechanism])?;
        tlv::write(&mut inner, Tag(0x83), &[key_ref])?;
        tlv::write(&mut inner, Tag(0x95), &[0x40])?;
        tlv::encode(Tag(tag), &inner)
    };
    let mut crts = Vec::with_capacity(55);
    if role == KeyRole::Exchange {
        crts.extend(crt(0xB8, scheme::DECIPHER_RAW | key_type)?);
        crts.extend(crt(0xB8, scheme::DECIPHER_OAEP | key_type)?);
        crts.extend(crt(0xB8, scheme::DECIPHER_PKCS1 | key_type)?);
    }
    crts.extend(crt(0xB6, scheme::SIGN_RAW | key_type)?);
    crts.extend(crt(0xB6, scheme::SIGN_PKCS1 | key_type)?);
    let mut fcp = Vec::with_capacity(73);
    tlv::write(&mut fcp, Tag(0x82), &[0x18])?;
    tlv::write(&mut fcp, Tag(0x83), &key_file_id(key_ref).to_be_bytes())?;
    tlv::write(&mut fcp, Tag(0x8C), &[0x8F, 0x10, 0x10, 0x10, 0x00])?;
    tlv::write(&mut fcp, Tag(0xA5), &crts)?;
    tlv::encode(Tag(0x62), &fcp)
}

/// GENERATE ASYMMETRIC KEY PAIR's data: control reference template `AC { 80 mechanism, 83 key
/// reference }`.
pub fn generate_data(key_ref: u8, key_type: u8) -> Result<Vec<u8>> {
    let mut inner = Vec::with_capacity(6);
    tlv::write(&mut inner, Tag(0x80), &[key_type])?;
    tlv::write(&mut inner, Tag(0x83), &[key_ref])?;
    tlv::encode(Tag(0xAC), &inner)
}

/// The GET DATA (`3FFF`) data field that asks for a key's public part:
/// `70 { 84 key reference, A5 { 7F49 80 } }` (the only form OpenSC and Windows send).
pub fn public_key_query(key_ref: u8) -> Vec<u8> {
    vec![0x70, 0x08, 0x84, 0x01, key_ref, 0xA5, 0x03, 0x7F, 0x49, 0x80]
}

/// The RSA public key in a `7F49 { 81 modulus, 82 exponent }` answer (ISO 7816-8).
///
/// # Errors
/// [`Error::Malformed`] without `7F49`, `81` or `82`, or for components no RSA key has.
pub fn parse_public_key(answer: &[u8]) -> Result<PublicKey> {
    let template = tlv::Reader::new(answer)
        .find(Tag(0x7F49))?
        .ok_or(Error::Malformed { what: "public key answer without 7F49" })?;
    let field = |tag| -> Result<&[u8]> {
        tlv::Reader::new(template).find(Tag(tag))?.ok_or(Error::Malformed { what: "7F49 without modulus or exponent" })
    };
    PublicKey::from_rsa_components(field(0x81)?, field(0x82)?)
}

/// An RSA private key for import, big-endian unsigned integers (CRT form, PKCS #1).
#[derive(Clone)]
pub struct RsaPrivateParts {
    /// Modulus.
    pub n: Zeroizing<Vec<u8>>,
    /// Public exponent.
    pub e: Zeroizing<Vec<u8>>,
    /// Private exponent.
    pub d: Zeroizing<Vec<u8>>,
    /// First prime.
    pub p: Zeroizing<Vec<u8>>,
    /// Second prime.
    pub q: Zeroizing<Vec<u8>>,
    /// `d mod (p - 1)`.
    pub dp: Zeroizing<Vec<u8>>,
    /// `d mod (q - 1)`.
    pub dq: Zeroizing<Vec<u8>>,
    /// `q^-1 mod p`.
    pub qinv: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for RsaPrivateParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateParts").field("modulus_bytes", &trim(&self.n).len()).finish_non_exhaustive()
    }
}

impl RsaPrivateParts {
    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        let n = trim(&self.n);
        n.first().map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
    }

    /// The public half.
    ///
    /// # Errors
    /// [`Error::Malformed`] for components no RSA key has.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_rsa_components(&self.n, &self.e)
    }
}

/// PUT KEY's data (to `3FFF`): `70 { 84 key reference, A5 { 83 02 (RSA), 84 00 (not
/// encrypted), 87 RSAPrivateKey DER } }`. Zeroized on drop.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty component.
pub fn import_data(key_ref: u8, key: &RsaPrivateParts) -> Result<Zeroizing<Vec<u8>>> {
    let ints = [&[0u8][..], &key.n, &key.e, &key.d, &key.p, &key.q, &key.dp, &key.dq, &key.qinv];
    if ints.iter().skip(1).any(|i| trim(i).is_empty()) {
        return Err(Error::InvalidArgument("an RSA key component is empty or zero"));
    }
    // Reserve everything up front: growing a buffer would leave copies of the key behind.
    let room = ints.iter().map(|i| i.len() + 8).sum::<usize>() + 32;
    let mut der = Zeroizing::new(Vec::with_capacity(room));
    for int in ints {
        let magnitude = trim(int);
        let mut value = Zeroizing::new(Vec::with_capacity(magnitude.len() + 1));
        if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
            value.push(0);
        }
        value.extend_from_slice(magnitude);
        tlv::write(&mut der, Tag(0x02), &value)?;
    }
    let mut sequence = Zeroizing::new(Vec::with_capacity(room));
    tlv::write(&mut sequence, Tag(0x30), &der)?;
    let mut value_template = Zeroizing::new(Vec::with_capacity(room));
    tlv::write(&mut value_template, Tag(0x83), &[0x02])?;
    tlv::write(&mut value_template, Tag(0x84), &[0x00])?;
    tlv::write(&mut value_template, Tag(0x87), &sequence)?;
    let mut usage = Zeroizing::new(Vec::with_capacity(room));
    tlv::write(&mut usage, Tag(0x84), &[key_ref])?;
    tlv::write(&mut usage, Tag(0xA5), &value_template)?;
    let mut out = Zeroizing::new(Vec::with_capacity(room));
    tlv::write(&mut out, Tag(0x70), &usage)?;
    Ok(out)
}

/// PUT KEY's data for a new administrator key: `70 { 84 80, A5 { 87 key, 88 B0 73 DC } }`
/// (GIDS electrical profile, as OpenSC's `gids-tool` sends it).
///
/// # Errors
/// [`Error::InvalidArgument`] unless `key` is 24 bytes.
pub fn admin_key_data(key: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if key.len() != super::admin::ADMIN_KEY_LEN {
        return Err(Error::InvalidArgument("a GIDS administrator key is 24 bytes (3-key Triple DES)"));
    }
    let mut value_template = Zeroizing::new(Vec::with_capacity(40));
    tlv::write(&mut value_template, Tag(0x87), key)?;
    tlv::write(&mut value_template, Tag(0x88), &[0xB0, 0x73, 0xDC])?;
    let mut usage = Zeroizing::new(Vec::with_capacity(48));
    tlv::write(&mut usage, Tag(0x84), &[ADMIN_KEY_REF])?;
    tlv::write(&mut usage, Tag(0xA5), &value_template)?;
    let mut out = Zeroizing::new(Vec::with_capacity(48));
    tlv::write(&mut out, Tag(0x70), &usage)?;
    Ok(out)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gids::transcript;
    use hex_literal::hex;

    #[test]
    fn key_exchange_template_is_the_recorded_one() {
        // CREATE FILE data for key 81, RSA-2048 (bytes recorded from GidsApplet driven by
        // OpenSC 0.23; OpenSC copies Windows' template).
        let cmd = transcript::bytes(transcript::CREATE_EXCHANGE_KEY_FILE_COMMAND);
        assert_eq!(key_file_fcp(0x81, 0x07, KeyRole::Exchange).unwrap(), cmd[5..]);
    }

    #[test]
    fn signature_template() {
        let fcp = key_file_fcp(0x82, 0x06, KeyRole::Signature).unwrap();
        assert_eq!(fcp, hex!("6226 820118 8302B082 8C058F10101000 A516 B609800116830182950140 B609800156830182950140"));
    }

    #[test]
    fn generate_and_public_key_commands() {
        let cmd = transcript::bytes(transcript::GENERATE_COMMAND);
        assert_eq!(generate_data(0x81, 0x07).unwrap(), cmd[5..]);
        let query = transcript::bytes(transcript::PUBLIC_KEY_COMMAND);
        assert_eq!(public_key_query(0x81), query[5..15]);
    }

    #[test]
    fn recorded_public_key() {
        let key = parse_public_key(&transcript::public_key_response()).unwrap();
        assert_eq!(key.algorithm(), crate::key::KeyAlgorithm::Rsa { bits: 2048 });
        let (n, e) = key.rsa_components().unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(e, [1, 0, 1]);
        for bad in [&hex!("7F4900")[..], &hex!("7F49 04 8102 0101"), &hex!("9000"), &hex!("7F49 05 8102 01")] {
            assert!(matches!(parse_public_key(bad), Err(Error::Malformed { .. })), "{bad:02X?}");
        }
    }

    #[test]
    fn references_and_mechanisms() {
        assert_eq!(key_ref(0), Some(0x81));
        assert_eq!(key_ref(125), Some(0xFE));
        assert_eq!(key_ref(126), None);
        assert_eq!(key_file_id(0x81), 0xB081);
        assert_eq!(rsa_key_type(2048), Some(0x07));
        assert_eq!(rsa_key_type(4096), Some(0x09));
        assert_eq!(rsa_key_type(1536), None);
    }

    fn parts(key: &rsa::RsaPrivateKey) -> RsaPrivateParts {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let z = |b: &[u8]| Zeroizing::new(b.to_vec());
        let primes = key.primes();
        RsaPrivateParts {
            n: z(&key.n().to_be_bytes_trimmed_vartime()),
            e: z(&key.e().to_be_bytes_trimmed_vartime()),
            d: z(&key.d().to_be_bytes_trimmed_vartime()),
            p: z(&primes[0].to_be_bytes_trimmed_vartime()),
            q: z(&primes[1].to_be_bytes_trimmed_vartime()),
            dp: z(&key.dp().unwrap().to_be_bytes_trimmed_vartime()),
            dq: z(&key.dq().unwrap().to_be_bytes_trimmed_vartime()),
            qinv: z(&key.qinv().unwrap().retrieve().to_be_bytes_trimmed_vartime()),
        }
    }

    pub(crate) fn test_key() -> RsaPrivateParts {
        use rsa::pkcs8::DecodePrivateKey;
        parts(&rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_2048_A).unwrap())
    }

    #[test]
    fn import_data_is_a_pkcs1_private_key() {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = test_key();
        assert_eq!(key.bits(), 2048);
        let data = import_data(0x81, &key).unwrap();
        let usage = tlv::read_single(&data).unwrap();
        assert_eq!(usage.tag, Tag(0x70));
        assert_eq!(tlv::find(usage.value, &[Tag(0x84)]).unwrap(), Some(&[0x81u8][..]));
        let der = tlv::find(usage.value, &[Tag(0xA5), Tag(0x87)]).unwrap().unwrap();
        assert_eq!(tlv::find(usage.value, &[Tag(0xA5), Tag(0x83)]).unwrap(), Some(&[0x02u8][..]));
        let decoded = rsa::RsaPrivateKey::from_pkcs1_der(der).unwrap();
        assert_eq!(PublicKey::from_spki(test_vectors::keys::RSA_2048_A_SPKI).unwrap(), key.public_key().unwrap());
        assert_eq!(parts(&decoded).d, key.d);
        assert!(!format!("{key:?}").contains(&hex::encode(&key.d[..4])));
        let mut empty = key;
        empty.d = Zeroizing::new(vec![0]);
        assert!(import_data(0x81, &empty).is_err());
    }

    #[test]
    fn admin_key_template() {
        let data = admin_key_data(&[0; 24]).unwrap();
        assert_eq!(
            &data[..],
            &hex!("7024 840180 A51F 8718 000000000000000000000000000000000000000000000000 8803B073DC")
        );
        assert!(admin_key_data(&[0; 16]).is_err());
    }
}
