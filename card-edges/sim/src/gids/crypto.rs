//! Using and making RSA keys: MANAGE SECURITY ENVIRONMENT, PERFORM SECURITY OPERATION
//! (COMPUTE DIGITAL SIGNATURE, DECIPHER), GENERATE ASYMMETRIC KEY PAIR, the public key read and
//! PUT KEY (GIDS v2.0; ISO 7816-8). Mechanism identifiers: low nibble the RSA size, high
//! nibble the scheme: `1x` raw signature (the host pads), `5x` PKCS#1 v1.5 signature (the card
//! pads a DigestInfo), `0x` raw decipher, `4x` PKCS#1 v1.5 decipher, `8x` OAEP (SHA-1).

use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::access::op;
use super::fs::FileSystem;
use super::keys::{self, CRT_CONFIDENTIALITY, CRT_SIGNATURE, KeyMaterial};
use super::{Applet, sw};
use crate::rsa_key::{self, RawError};

/// The key and mechanism MSE SET chose for PSO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Environment {
    /// `B6` (signature) or `B8` (decipherment).
    pub(super) template: u8,
    pub(super) mechanism: u8,
    pub(super) kref: u8,
}

/// Scheme nibbles.
const SIGN_RAW: u8 = 0x10;
const SIGN_PKCS1: u8 = 0x50;
const DECIPHER_RAW: u8 = 0x00;
const DECIPHER_PKCS1: u8 = 0x40;
const DECIPHER_OAEP: u8 = 0x80;

/// MD5 || SHA-1, what Windows signs for SSL3 (`CALG_SSL3_SHAMD5`) without a DigestInfo.
const SHAMD5_LEN: usize = 36;

impl Applet {
    /// MSE SET: `41 B6`/`41 B8` with `80 01 <mechanism> 84 01 <kref>` for PSO; `C1 A4`/`81 A4`
    /// with `83 01 <kref>` for GENERAL AUTHENTICATE; `F3` restores the empty environment. The
    /// mechanism must be one the key file's CRT list allows for that template (`69 84`
    /// otherwise, as for an unknown key), and the key file's MSE condition must be met.
    pub(super) fn manage_security_environment(&mut self, cmd: &CommandView<'_>) -> Response {
        match (cmd.p1, cmd.p2) {
            (0x41, CRT_SIGNATURE | CRT_CONFIDENTIALITY) => self.set_environment(cmd.p2, cmd.data),
            (0xC1 | 0x81, keys::CRT_AUTHENTICATION) => self.set_authentication_key(cmd.data),
            (0xF3, _) => {
                self.security.env = None;
                self.security.auth_key = None;
                Response::ok(Vec::new())
            }
            (0x41 | 0xC1 | 0x81, _) => Response::status(StatusWord::INCORRECT_P1P2),
            _ => Response::status(StatusWord::FUNCTION_NOT_SUPPORTED),
        }
    }

    fn set_environment(&mut self, template: u8, data: &[u8]) -> Response {
        let (mut mechanism, mut kref) = (None, None);
        for item in tlv::Reader::new(data) {
            match item.map(|t| (t.tag.0, t.value)) {
                Ok((0x80, [m])) => mechanism = Some(*m),
                Ok((0x84, [k])) => kref = Some(*k),
                _ => return Response::status(sw::DATA_INVALID),
            }
        }
        let (Some(mechanism), Some(kref)) = (mechanism, kref) else {
            return Response::status(sw::DATA_INVALID);
        };
        if !self.fs.key_file(kref).is_some_and(|k| k.allows(template, mechanism)) {
            return Response::status(sw::DATA_INVALID);
        }
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(kref), op::MSE, self.authority()) {
            return Response::status(sw);
        }
        self.security.env = Some(Environment { template, mechanism, kref });
        Response::ok(Vec::new())
    }

    /// PERFORM SECURITY OPERATION: `9E 9A` signs, `80 86` deciphers, with the key of the
    /// current environment (`69 85` without one, or one set for the other operation). The key
    /// file's MSE condition is checked again, so a PSO after `00 20 00 82` fails with `69 82`.
    pub(super) fn perform_security_operation(&mut self, cmd: &CommandView<'_>) -> Response {
        let template = match (cmd.p1, cmd.p2) {
            (0x9E, 0x9A) => CRT_SIGNATURE,
            (0x80, 0x86) => CRT_CONFIDENTIALITY,
            _ => return Response::status(StatusWord::INCORRECT_P1P2),
        };
        let Some(env) = self.security.env.filter(|e| e.template == template) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(env.kref), op::MSE, self.authority()) {
            return Response::status(sw);
        }
        let Some(key) = self.fs.key_file(env.kref).and_then(keys::KeyFile::rsa) else {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let result = if template == CRT_SIGNATURE {
            sign(key, env.mechanism, cmd.data)
        } else {
            decipher(key, env.mechanism, cmd.data)
        };
        match result {
            Ok(out) => {
                self.key_operations += 1;
                Response::ok(out.to_vec())
            }
            Err(sw) => Response::status(sw),
        }
    }

    /// GENERATE ASYMMETRIC KEY PAIR `00 47 00 00 AC { 80 01 <mechanism> 83 01 <kref> }`: a new
    /// RSA key in an existing, activated key file (its GENERATE condition met), of the size the
    /// mechanism names, which must be the size of the file's CRT list. Answers the public key
    /// template; sent without Le, it waits for GET RESPONSE (`61xx`).
    pub(super) fn generate(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let Some((mechanism, kref)) = generate_request(cmd.data) else {
            return Response::status(sw::DATA_INVALID);
        };
        let Some(file) = self.fs.key_file(kref) else {
            return Response::status(sw::DATA_INVALID);
        };
        let size = file.rsa_size();
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(kref), op::GENERATE, self.authority()) {
            return Response::status(sw);
        }
        let Some(bits) = keys::rsa_bits(mechanism) else {
            return Response::status(StatusWord::FUNCTION_NOT_SUPPORTED);
        };
        if size != Some(bits) {
            return Response::status(sw::DATA_INVALID);
        }
        let Ok(key) = rsa_key::generate(bits, &mut self.rng) else {
            return Response::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        let Some(public) = keys::public_template(&key) else {
            return Response::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        if let Some(file) = self.fs.key_file_mut(kref) {
            file.key = Some(KeyMaterial::Rsa(Box::new(key)));
        }
        Response::ok(public)
    }

    /// The public key read, GET DATA `3FFF` with `70 08 84 01 <kref> A5 03 7F 49 80`: the
    /// public key template, under the key file's GET PUBLIC KEY condition (always, for user
    /// keys; never, for the administrator key).
    pub(super) fn read_public_key(&self, kref: u8) -> Response {
        if self.fs.key_file(kref).is_none() {
            return Response::status(sw::DATA_INVALID);
        }
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(kref), op::GET_PUBLIC_KEY, self.authority()) {
            return Response::status(sw);
        }
        match self.fs.key_file(kref).and_then(keys::KeyFile::rsa).and_then(keys::public_template) {
            Some(t) => Response::ok(t),
            None => Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        }
    }

    /// PUT KEY, PUT DATA `3FFF` (chained): imports a key into an existing, activated key file
    /// under its PUT KEY condition: an RSA key of the file's size, or the 3DES key of an
    /// authentication key file.
    pub(super) fn put_key(&mut self, cmd: &CommandView<'_>) -> Response {
        // The key reference first: access is decided before the key material is looked at.
        let Some(kref) = import_kref(cmd.data) else {
            return Response::status(sw::DATA_INVALID);
        };
        let Some(file) = self.fs.key_file(kref) else {
            return Response::status(sw::DATA_INVALID);
        };
        let (size, tdes) = (file.rsa_size(), file.is_tdes());
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(kref), op::PUT_KEY, self.authority()) {
            return Response::status(sw);
        }
        let import = match keys::parse_import(cmd.data) {
            Ok(i) => i,
            Err(sw) => return Response::status(sw),
        };
        let fits = match &import.key {
            KeyMaterial::Rsa(k) => size == Some(k.size() * 8),
            KeyMaterial::Tdes(_) => tdes,
        };
        if !fits || import.kref != kref {
            return Response::status(sw::DATA_INVALID);
        }
        if let Some(file) = self.fs.key_file_mut(kref) {
            file.key = Some(import.key);
        }
        Response::ok(Vec::new())
    }
}

/// The mechanism and key reference of a GENERATE request: exactly `AC { 80 01 m, 83 01 k }`
/// in either order.
fn generate_request(data: &[u8]) -> Option<(u8, u8)> {
    let crt = tlv::read_single(data).ok().filter(|t| t.tag == Tag(0xAC))?;
    let (mut mechanism, mut kref) = (None, None);
    for item in tlv::Reader::new(crt.value) {
        match item.ok().map(|t| (t.tag.0, t.value))? {
            (0x80, [m]) if mechanism.is_none() => mechanism = Some(*m),
            (0x83, [k]) if kref.is_none() => kref = Some(*k),
            _ => return None,
        }
    }
    Some((mechanism?, kref?))
}

/// The key reference (`70 { 84 01 <kref> ... }`) of PUT KEY data.
fn import_kref(data: &[u8]) -> Option<u8> {
    let outer = tlv::read_single(data).ok().filter(|t| t.tag == Tag(0x70))?;
    match tlv::Reader::new(outer.value).find(Tag(0x84)).ok()? {
        Some([k]) => Some(*k),
        _ => None,
    }
}

fn raw_error(e: RawError) -> StatusWord {
    match e {
        RawError::Length => StatusWord::WRONG_LENGTH,
        RawError::Value => StatusWord::INCORRECT_DATA,
    }
}

/// COMPUTE DIGITAL SIGNATURE. `5x`: the data is a DER DigestInfo or Windows' 36-byte
/// MD5||SHA-1, which the card pads (PKCS#1 v1.5 type 1); `1x`: the data is the whole block.
fn sign(key: &rsa::RsaPrivateKey, mechanism: u8, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
    let k = key.size();
    match mechanism & 0xF0 {
        SIGN_RAW => rsa_key::raw_private(key, data).map_err(raw_error),
        SIGN_PKCS1 => {
            if data.len() != SHAMD5_LEN && !is_digest_info(data) {
                return Err(StatusWord::INCORRECT_DATA);
            }
            // 00 01 FF..FF 00 T, with at least 8 bytes of FF (RFC 8017 9.2).
            let pad = k.checked_sub(data.len() + 3).filter(|p| *p >= 8).ok_or(StatusWord::WRONG_LENGTH)?;
            let mut block = Zeroizing::new(Vec::with_capacity(k));
            block.extend_from_slice(&[0x00, 0x01]);
            block.extend(core::iter::repeat_n(0xFF, pad));
            block.push(0x00);
            block.extend_from_slice(data);
            rsa_key::raw_private(key, &block).map_err(raw_error)
        }
        _ => Err(StatusWord::CONDITIONS_NOT_SATISFIED),
    }
}

/// DECIPHER, with no padding-indicator byte (what Windows and OpenSC send to GIDS cards): the
/// whole cryptogram must be as long as the modulus (`67 00`, as GidsApplet).
fn decipher(key: &rsa::RsaPrivateKey, mechanism: u8, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
    if data.len() != key.size() {
        return Err(StatusWord::WRONG_LENGTH);
    }
    let bad = |_| StatusWord::INCORRECT_DATA;
    match mechanism & 0xF0 {
        DECIPHER_RAW => rsa_key::raw_private(key, data).map_err(raw_error),
        DECIPHER_PKCS1 => {
            let block = rsa_key::raw_private(key, data).map_err(raw_error)?;
            unpad_type2(&block).map(|m| Zeroizing::new(m.to_vec())).ok_or(StatusWord::INCORRECT_DATA)
        }
        DECIPHER_OAEP => key.decrypt(rsa::Oaep::<sha1::Sha1>::new(), data).map(Zeroizing::new).map_err(bad),
        _ => Err(StatusWord::FUNCTION_NOT_SUPPORTED),
    }
}

/// The message in a PKCS#1 v1.5 encryption block `00 02 PS 00 M` with at least 8 bytes of
/// non-zero padding (RFC 8017 7.2.2). A card reports bad padding as an error; it has no use for
/// the implicit rejection host libraries adopt against padding oracles.
fn unpad_type2(block: &[u8]) -> Option<&[u8]> {
    let [0x00, 0x02, rest @ ..] = block else { return None };
    let zero = rest.iter().position(|b| *b == 0)?;
    (zero >= 8).then(|| rest.get(zero + 1..).unwrap_or_default())
}

/// Whether `data` is exactly a DER DigestInfo: `SEQUENCE { SEQUENCE { OID [, NULL] },
/// OCTET STRING (16 to 64 bytes) }`.
fn is_digest_info(data: &[u8]) -> bool {
    let Ok(outer) = tlv::read_single(data) else { return false };
    if outer.tag != Tag(0x30) {
        return false;
    }
    let Ok(items) = tlv::Reader::new(outer.value).collect_all() else { return false };
    let [algorithm, digest] = items.as_slice() else { return false };
    let Ok(parts) = tlv::Reader::new(algorithm.value).collect_all() else { return false };
    let algorithm_ok = algorithm.tag == Tag(0x30)
        && match parts.as_slice() {
            [oid] => oid.tag == Tag(0x06) && !oid.value.is_empty(),
            [oid, null] => {
                oid.tag == Tag(0x06) && !oid.value.is_empty() && null.tag == Tag(0x05) && null.value.is_empty()
            }
            _ => false,
        };
    algorithm_ok && digest.tag == Tag(0x04) && (16..=64).contains(&digest.value.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn digest_infos() {
        let sha256 = [hex!("3031300D060960864801650304020105000420").to_vec(), vec![0xAB; 32]].concat();
        assert!(is_digest_info(&sha256));
        let no_null = [hex!("302F300B0609608648016503040201 0420").to_vec(), vec![0xAB; 32]].concat();
        assert!(is_digest_info(&no_null));
        assert!(!is_digest_info(&[0xAB; 32]), "a bare hash");
        assert!(!is_digest_info(&sha256[..sha256.len() - 1]));
        assert!(!is_digest_info(&[sha256, vec![0]].concat()));
    }

    #[test]
    fn generate_requests() {
        assert_eq!(generate_request(&hex!("AC06800107830181")), Some((0x07, 0x81)));
        assert_eq!(generate_request(&hex!("AC06830181800107")), Some((0x07, 0x81)));
        assert_eq!(generate_request(&hex!("AC03800107")), None);
        assert_eq!(generate_request(&hex!("AB06800107830181")), None);
        assert_eq!(generate_request(&hex!("AC09800107830181840100")), None);
    }
}
