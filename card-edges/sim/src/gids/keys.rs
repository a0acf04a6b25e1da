//! Key files: the control reference templates that say what a key may be used for (tag `A5`
//! in the FCP), the key they hold (RSA 1024-4096, or the 3-key 3DES administrator key), the
//! public key template `7F49` and the PUT KEY import format (GIDS v2.0 "key usage template",
//! ISO 7816-8).

use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};
use rsa::pkcs1::{EncodeRsaPrivateKey, RsaPrivateKeyRef};
use rsa::pkcs8::EncodePublicKey;
use rsa::pkcs8::der::Decode;
use zeroize::Zeroizing;

use super::sw;
use crate::rsa_key;

/// Control reference template tags (ISO 7816-8): authentication, digital signature,
/// confidentiality.
pub(super) const CRT_AUTHENTICATION: u8 = 0xA4;
pub(super) const CRT_SIGNATURE: u8 = 0xB6;
pub(super) const CRT_CONFIDENTIALITY: u8 = 0xB8;

/// The cryptographic mechanism of the administrator key: 3-key TDEA (GIDS v2.0 12.5.3.1).
pub(super) const TDES_3KEY: u8 = 0x02;
/// A 3-key 3DES key is 24 bytes.
pub(super) const TDES_KEY_LEN: usize = 24;

/// The RSA size a mechanism identifier's low nibble names (GIDS v2.0 12.5.3.1: `06` RSA-1024,
/// `07` 2048, `08` 3072, `09` 4096; the high nibble is the padding scheme).
pub(super) fn rsa_bits(mechanism: u8) -> Option<usize> {
    match mechanism & 0x0F {
        0x06 => Some(1024),
        0x07 => Some(2048),
        0x08 => Some(3072),
        0x09 => Some(4096),
        _ => None,
    }
}

/// The mechanism identifier (low nibble) for an RSA size.
pub(super) fn rsa_mechanism(bits: usize) -> Option<u8> {
    match bits {
        1024 => Some(0x06),
        2048 => Some(0x07),
        3072 => Some(0x08),
        4096 => Some(0x09),
        _ => None,
    }
}

/// One allowed use: a CRT (`A4`, `B6`, `B8`) and its mechanism (`80`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Crt {
    template: u8,
    mechanism: u8,
}

/// The key a key file holds.
pub(super) enum KeyMaterial {
    Rsa(Box<rsa::RsaPrivateKey>),
    Tdes(Zeroizing<[u8; TDES_KEY_LEN]>),
}

/// A key file's uses and key.
pub(super) struct KeyFile {
    crts: Vec<Crt>,
    pub(super) key: Option<KeyMaterial>,
}

impl KeyFile {
    /// Decodes the CRT list (the value of `A5`): one or more templates, each with a one-byte
    /// mechanism `80` (other tags, such as `83` key reference and `95` usage qualifier, are not
    /// checked: OpenSC's signature-only template names the wrong key in `83`). The templates
    /// must describe one key: `A4` with 3DES, or `B6`/`B8` with one RSA size. GidsApplet also
    /// requires 11 to 127 bytes.
    pub(super) fn from_crt(value: &[u8]) -> Option<Self> {
        if !(11..=127).contains(&value.len()) {
            return None;
        }
        let mut crts = Vec::new();
        for template in tlv::Reader::new(value) {
            let template = template.ok()?;
            let tag = u8::try_from(template.tag.0).ok()?;
            let mechanism = match tlv::Reader::new(template.value).find(Tag(0x80)).ok()? {
                Some([m]) => *m,
                _ => return None,
            };
            crts.push(Crt { template: tag, mechanism });
        }
        let file = Self { crts, key: None };
        let symmetric = file.crts.iter().all(|c| c.template == CRT_AUTHENTICATION && c.mechanism == TDES_3KEY);
        (symmetric || file.rsa_size().is_some()).then_some(file)
    }

    /// The RSA size the file is for, when every template is `B6`/`B8` of one size.
    pub(super) fn rsa_size(&self) -> Option<usize> {
        let mut sizes = self.crts.iter().map(|c| match c.template {
            CRT_SIGNATURE | CRT_CONFIDENTIALITY => rsa_bits(c.mechanism),
            _ => None,
        });
        let first = sizes.next()??;
        sizes.all(|s| s == Some(first)).then_some(first)
    }

    /// Whether the file holds the administrator's 3DES key.
    pub(super) fn is_tdes(&self) -> bool {
        self.crts.iter().any(|c| c.template == CRT_AUTHENTICATION && c.mechanism == TDES_3KEY)
    }

    /// Whether MSE SET may choose this key with `template` (`P2`) and `mechanism`.
    pub(super) fn allows(&self, template: u8, mechanism: u8) -> bool {
        self.crts.contains(&Crt { template, mechanism })
    }

    /// The RSA key, if one is loaded.
    pub(super) fn rsa(&self) -> Option<&rsa::RsaPrivateKey> {
        match &self.key {
            Some(KeyMaterial::Rsa(k)) => Some(k),
            _ => None,
        }
    }

    /// The 3DES key, if one is loaded.
    pub(super) fn tdes(&self) -> Option<&[u8; TDES_KEY_LEN]> {
        match &self.key {
            Some(KeyMaterial::Tdes(k)) => Some(k),
            _ => None,
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub(super) fn spki_der(&self) -> Option<Vec<u8>> {
        let doc = self.rsa()?.to_public_key().to_public_key_der().ok()?;
        Some(doc.as_bytes().to_vec())
    }
}

/// The public key template `7F49 { 81 <modulus>, 82 <exponent> }` in DER (GIDS v2.0; ISO
/// 7816-8 table 3), what GENERATE and the public key read return.
pub(super) fn public_template(key: &rsa::RsaPrivateKey) -> Option<Vec<u8>> {
    let public = key.to_public_key();
    let mut inner = Vec::with_capacity(600);
    tlv::write(&mut inner, Tag(0x81), &rsa_key::modulus(&public)).ok()?;
    tlv::write(&mut inner, Tag(0x82), &rsa_key::exponent(&public)).ok()?;
    tlv::encode(Tag(0x7F49), &inner).ok()
}

/// A key as PUT KEY delivers it.
pub(super) struct Import {
    pub(super) kref: u8,
    pub(super) key: KeyMaterial,
}

/// Decodes PUT KEY's data: `70 { 84 01 <kref>, A5 { [83 01 <type>], [84 01 00], 87 <key>,
/// [88 ...] } }`. Type `02` is RSA, the key a PKCS#1 RSAPrivateKey whose CRT components must be
/// those of its primes (a card computes with them); no type means a symmetric key, which must
/// be 24 bytes (3-key 3DES). A key-encryption key reference other than `00` is refused with
/// `6A 81`, as GidsApplet does.
///
/// # Errors
/// `69 84` for anything malformed, `6A 81` for an encrypted key.
pub(super) fn parse_import(data: &[u8]) -> Result<Import, StatusWord> {
    let invalid = sw::DATA_INVALID;
    let outer = tlv::read_single(data).map_err(|_| invalid)?;
    if outer.tag != Tag(0x70) {
        return Err(invalid);
    }
    let (mut kref, mut template) = (None, None);
    for item in tlv::Reader::new(outer.value) {
        let item = item.map_err(|_| invalid)?;
        match (item.tag.0, item.value) {
            (0x84, [k]) => kref = Some(*k),
            (0xA5, value) => template = Some(value),
            _ => return Err(invalid),
        }
    }
    let (kref, template) = (kref.ok_or(invalid)?, template.ok_or(invalid)?);
    let (mut key_type, mut value) = (None, None);
    for item in tlv::Reader::new(template) {
        let item = item.map_err(|_| invalid)?;
        match (item.tag.0, item.value) {
            (0x83, [t]) => key_type = Some(*t),
            (0x84, [0]) => {}
            (0x84, [_]) => return Err(StatusWord::FUNCTION_NOT_SUPPORTED),
            (0x87, v) => value = Some(v),
            (0x88, _) => {}
            _ => return Err(invalid),
        }
    }
    let value = value.ok_or(invalid)?;
    let key = match key_type {
        None => KeyMaterial::Tdes(Zeroizing::new(<[u8; TDES_KEY_LEN]>::try_from(value).map_err(|_| invalid)?)),
        Some(0x02) => KeyMaterial::Rsa(Box::new(rsa_from_pkcs1(value).ok_or(invalid)?)),
        Some(_) => return Err(invalid),
    };
    Ok(Import { kref, key })
}

/// An RSA key from a PKCS#1 RSAPrivateKey, if it is consistent, CRT components included (a
/// card computes with them), and of a GIDS size. The INTEGERs are read as unsigned magnitudes
/// with or without a leading zero byte, as GidsApplet reads them: OpenSC's `gids_import_key`
/// encodes them without the sign byte DER requires.
fn rsa_from_pkcs1(der: &[u8]) -> Option<rsa::RsaPrivateKey> {
    use rsa::traits::PublicKeyParts;
    let sequence = tlv::read_single(der).ok().filter(|t| t.tag == Tag(0x30))?;
    let integers = tlv::Reader::new(sequence.value)
        .map(|t| t.ok().filter(|t| t.tag == Tag(0x02) && !t.value.is_empty()).map(|t| magnitude(t.value)))
        .collect::<Option<Vec<&[u8]>>>()?;
    let [version, n, e, d, p, q, dp, dq, qinv] = integers.as_slice() else { return None };
    if !version.is_empty() {
        return None;
    }
    let bits = u32::try_from(n.len() * 8).ok()?;
    let uint = |bytes: &[u8], bits: u32| rsa::BoxedUint::from_be_slice(bytes, bits).ok();
    let e_bits = u32::try_from(e.len() * 8).ok()?;
    let key = rsa::RsaPrivateKey::from_components(
        uint(n, bits)?,
        uint(e, e_bits)?,
        uint(d, bits)?,
        vec![uint(p, bits)?, uint(q, bits)?],
    )
    .ok()?;
    rsa_mechanism(key.size() * 8)?;
    // The key recomputes dP, dQ and qInv from the primes: compare them with what was sent.
    let canonical = key.to_pkcs1_der().ok()?;
    let ours = RsaPrivateKeyRef::from_der(canonical.as_bytes()).ok()?;
    (ours.prime1.as_bytes() == *p
        && ours.exponent1.as_bytes() == *dp
        && ours.exponent2.as_bytes() == *dq
        && ours.coefficient.as_bytes() == *qinv)
        .then_some(key)
}

/// A big-endian integer without its leading zero bytes.
fn magnitude(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use rsa::pkcs8::DecodePrivateKey;

    /// OpenSC's key-exchange template for key `81`, RSA-2048.
    const KX_CRT: [u8; 55] = hex!(
        "B809800107830181950140 B809800187830181950140 B809800147830181950140
         B609800117830181950140 B609800157830181950140"
    );

    #[test]
    fn crt_lists() {
        let kf = KeyFile::from_crt(&KX_CRT).unwrap();
        assert_eq!(kf.rsa_size(), Some(2048));
        assert!(kf.allows(CRT_SIGNATURE, 0x57));
        assert!(kf.allows(CRT_CONFIDENTIALITY, 0x47));
        assert!(!kf.allows(CRT_SIGNATURE, 0x47));
        assert!(!kf.allows(CRT_CONFIDENTIALITY, 0x48));
        assert!(!kf.is_tdes());
        let admin = KeyFile::from_crt(&hex!("A4098001028301809501C0")).unwrap();
        assert!(admin.is_tdes());
        assert_eq!(admin.rsa_size(), None);
        assert!(admin.allows(CRT_AUTHENTICATION, TDES_3KEY));
        // OpenSC's signature-only template (with its `83 01 83`).
        let sig = KeyFile::from_crt(&hex!("B609800118830183950140B609800158830183950140")).unwrap();
        assert_eq!(sig.rsa_size(), Some(3072));
        // Mixed sizes, a missing mechanism, too short.
        assert!(KeyFile::from_crt(&hex!("B609800117830181950140B609800158830183950140")).is_none());
        assert!(KeyFile::from_crt(&hex!("B60983018195014000000000")).is_none());
        assert!(KeyFile::from_crt(&hex!("B6038001 17")).is_none());
    }

    #[test]
    fn imports() {
        let admin =
            parse_import(&hex!("7024840180A51F8718010203040506070801020304050607080102030405060708 8803B073DC"))
                .unwrap();
        assert_eq!(admin.kref, 0x80);
        assert!(matches!(admin.key, KeyMaterial::Tdes(k) if k[..8] == hex!("0102030405060708")));

        let key = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_1024).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        let mut tmpl = hex!("830102 840100").to_vec();
        tlv::write(&mut tmpl, Tag(0x87), der.as_bytes()).unwrap();
        let mut inner = hex!("840181").to_vec();
        tlv::write(&mut inner, Tag(0xA5), &tmpl).unwrap();
        let data = tlv::encode(Tag(0x70), &inner).unwrap();
        let imported = parse_import(&data).unwrap();
        assert_eq!(imported.kref, 0x81);
        assert!(matches!(&imported.key, KeyMaterial::Rsa(k) if **k == key));

        // OpenSC's encoding: unsigned magnitudes, no sign byte.
        let unsigned = unsigned_pkcs1(&key);
        assert_ne!(unsigned, der.as_bytes());
        assert!(rsa_from_pkcs1(&unsigned).is_some_and(|k| k == key));
        // A wrong CRT coefficient is caught.
        let mut bad = der.as_bytes().to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(rsa_from_pkcs1(&bad).is_none());
        // An encrypted key, a short 3DES key, a missing key reference.
        assert_eq!(parse_import(&hex!("700B840180A506840101870100")).err(), Some(StatusWord::FUNCTION_NOT_SUPPORTED));
        assert_eq!(parse_import(&hex!("7008840180A503870100")).err(), Some(sw::DATA_INVALID));
        assert_eq!(parse_import(&hex!("7005A503870100")).err(), Some(sw::DATA_INVALID));
    }

    /// RSAPrivateKey with every INTEGER as its bare magnitude (what OpenSC sends).
    fn unsigned_pkcs1(key: &rsa::RsaPrivateKey) -> Vec<u8> {
        let der = key.to_pkcs1_der().unwrap();
        let seq = tlv::read_single(der.as_bytes()).unwrap();
        let mut body = Vec::new();
        for t in tlv::Reader::new(seq.value) {
            let t = t.unwrap();
            let v = magnitude(t.value);
            tlv::write(&mut body, Tag(0x02), if v.is_empty() { &[0] } else { v }).unwrap();
        }
        tlv::encode(Tag(0x30), &body).unwrap()
    }

    #[test]
    fn public_templates_are_der() {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_1024).unwrap();
        let t = public_template(&key).unwrap();
        assert_eq!(t[..6], hex!("7F4981888181"));
        assert_eq!(t[t.len() - 5..], hex!("8203010001"));
        let key = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_2048_B).unwrap();
        let t = public_template(&key).unwrap();
        assert_eq!(t[..9], hex!("7F498201098182 0100"));
    }
}
