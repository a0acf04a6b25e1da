//! Yubico's PIV conventions, as yubico-piv-tool (`ykpiv/util.c`, `internal.h`), ykman and
//! yubikey.rs implement them and Yubico's PIV minidriver relies on: the objects a YubiKey keeps
//! in its vendor range next to the SP 800-73-4 ones. Only the formats live here (parsing never
//! panics and names what is wrong); [`super::PivEdge`] reads and writes them.
//!
//! | object | content (inside `53`) |
//! |---|---|
//! | ADMIN DATA `5FFF00` (readable by everyone) | `80 { 81 <flags> [82 <16-byte salt>] [83 <4-byte PIN timestamp>] }`; flags `01` = PUK blocked, `02` = management key stored PIN-protected |
//! | PRINTED `5FC109` (readable after VERIFY) | `88 { 89 <management key> [81 <flags>] }` once the key is PIN-protected |
//! | container map `5FFF10` | `81 { records of 107 bytes }`: a UTF-16LE name of 40 characters, slot, key spec, key size (LE), flags, PIN id, associated ECDH container, SHA-1 of the certificate |
//! | msroots `5FFF11`..`5FFF15` | the `mscp/msroots` file in parts: `83 <part>` for every part but the last, `82 <part>` for the last |

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};

/// Tags of Yubico's vendor objects.
pub mod tag {
    /// ADMIN DATA: flags (PUK blocked, management key PIN-protected), PIN-derived key salt.
    pub const ADMIN_DATA: u32 = 0x5FFF00;
    /// The Windows container map (Yubico's minidriver).
    pub const CONTAINER_MAP: u32 = 0x5FFF10;
    /// The first of the five objects holding `mscp/msroots`.
    pub const MSROOTS_FIRST: u32 = 0x5FFF11;
    /// The last of them.
    pub const MSROOTS_LAST: u32 = 0x5FFF15;
}

/// The largest object content a YubiKey 4 or 5 stores (a 3072-byte buffer less the framing).
pub const MAX_OBJECT: usize = 3063;
/// The bytes of an msroots part not taken by its tag and length (`82 82 LL LL` at most).
const PART_OVERHEAD: usize = 4;
/// The most msroots bytes one object carries.
pub const MSROOTS_PART: usize = MAX_OBJECT - PART_OVERHEAD;
/// The most msroots bytes the five objects carry.
pub const MSROOTS_MAX: usize = MSROOTS_PART * 5;

/// ADMIN DATA flag: the PUK is blocked (yubico-piv-tool blocks it when it stores the key).
pub const ADMIN_PUK_BLOCKED: u8 = 0x01;
/// ADMIN DATA flag: the management key is stored in PRINTED, readable after the PIN.
pub const ADMIN_MGMT_KEY_PROTECTED: u8 = 0x02;

const ADMIN_TEMPLATE: u32 = 0x80;
const ADMIN_FLAGS: u32 = 0x81;
const ADMIN_SALT: u32 = 0x82;
const ADMIN_TIMESTAMP: u32 = 0x83;
const PROTECTED_TEMPLATE: u32 = 0x88;
const PROTECTED_MGMT_KEY: u32 = 0x89;
const MAP_TEMPLATE: u32 = 0x81;
const MSROOTS_END: u32 = 0x82;
const MSROOTS_MID: u32 = 0x83;

/// The elements of a template, each at most once, in order.
fn unique_elements(value: &[u8], repeated: &'static str) -> Result<Vec<(u32, Vec<u8>)>> {
    let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
    for element in tlv::Reader::new(value) {
        let element = element?;
        if out.iter().any(|(t, _)| *t == element.tag.0) {
            return Err(Error::Malformed { what: repeated });
        }
        out.push((element.tag.0, element.value.to_vec()));
    }
    Ok(out)
}

fn encode_template(template: u32, elements: &[(u32, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut inner = Zeroizing::new(Vec::new());
    for (t, v) in elements {
        tlv::write(&mut inner, Tag(*t), v)?;
    }
    tlv::encode(Tag(template), &inner)
}

/// ADMIN DATA (`5FFF00`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminData {
    /// Its elements in order, unknown ones kept so a rewrite loses nothing.
    elements: Vec<(u32, Vec<u8>)>,
}

impl AdminData {
    /// Parses the object's content (inside `53`).
    ///
    /// # Errors
    /// [`Error::Malformed`] naming the fault: not one `80` template, a repeated element, flags
    /// that are not one byte, a salt that is not 16 bytes, a timestamp that is not 4 bytes.
    pub fn parse(content: &[u8]) -> Result<Self> {
        let template =
            tlv::read_single(content).map_err(|_| Error::Malformed { what: "ADMIN DATA is not one 80 template" })?;
        if template.tag != Tag(ADMIN_TEMPLATE) {
            return Err(Error::Malformed { what: "ADMIN DATA is not one 80 template" });
        }
        let elements = unique_elements(template.value, "ADMIN DATA repeats an element")?;
        for (t, v) in &elements {
            match (*t, v.len()) {
                (ADMIN_FLAGS, 1) | (ADMIN_SALT, 16) | (ADMIN_TIMESTAMP, 4) => {}
                (ADMIN_FLAGS, _) => return Err(Error::Malformed { what: "ADMIN DATA flags (81) are not one byte" }),
                (ADMIN_SALT, _) => return Err(Error::Malformed { what: "ADMIN DATA salt (82) is not 16 bytes" }),
                (ADMIN_TIMESTAMP, _) => {
                    return Err(Error::Malformed { what: "ADMIN DATA PIN timestamp (83) is not 4 bytes" });
                }
                _ => {}
            }
        }
        Ok(Self { elements })
    }

    /// The flags byte (`0` when absent).
    pub fn flags(&self) -> u8 {
        self.element(ADMIN_FLAGS).and_then(|v| v.first().copied()).unwrap_or(0)
    }

    /// Whether the management key is stored PIN-protected in PRINTED.
    pub fn mgmt_key_protected(&self) -> bool {
        self.flags() & ADMIN_MGMT_KEY_PROTECTED != 0
    }

    /// Whether the PUK is blocked.
    pub fn puk_blocked(&self) -> bool {
        self.flags() & ADMIN_PUK_BLOCKED != 0
    }

    /// Whether the management key is derived from the PIN with this salt (an old, deprecated
    /// yubico-piv-tool mode this edge does not implement).
    pub fn pin_derived_key(&self) -> bool {
        self.element(ADMIN_SALT).is_some()
    }

    fn element(&self, t: u32) -> Option<&[u8]> {
        self.elements.iter().find(|(e, _)| *e == t).map(|(_, v)| v.as_slice())
    }

    /// The same data saying the management key is stored PIN-protected (a PIN-derived key's
    /// salt is dropped: the stored key replaces it).
    #[must_use]
    pub fn with_mgmt_key_protected(mut self) -> Self {
        let flags = self.flags() | ADMIN_MGMT_KEY_PROTECTED;
        self.elements.retain(|(t, _)| *t != ADMIN_SALT && *t != ADMIN_FLAGS);
        self.elements.insert(0, (ADMIN_FLAGS, vec![flags]));
        self
    }

    /// The object's content.
    ///
    /// # Errors
    /// Only for absurd sizes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode_template(ADMIN_TEMPLATE, &self.elements)
    }
}

/// Yubico's PIN-protected data in PRINTED (`5FC109`). Holds a secret: zeroized when dropped.
#[derive(Clone, Default)]
pub struct ProtectedData {
    elements: Vec<(u32, Zeroizing<Vec<u8>>)>,
}

impl core::fmt::Debug for ProtectedData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let tags: Vec<String> = self.elements.iter().map(|(t, _)| format!("{t:02X}")).collect();
        f.debug_struct("ProtectedData").field("elements", &tags).finish_non_exhaustive()
    }
}

impl ProtectedData {
    /// Whether PRINTED's content is Yubico's `88` template (and not a card's own printed
    /// information, SP 800-73-4 Part 1 Appendix A table 14).
    pub fn is_yubico(content: &[u8]) -> bool {
        content.first() == Some(&(PROTECTED_TEMPLATE as u8))
    }

    /// Parses PRINTED's content (inside `53`).
    ///
    /// # Errors
    /// [`Error::Malformed`] naming the fault: not one `88` template (cardholder printed
    /// information instead), a repeated element.
    pub fn parse(content: &[u8]) -> Result<Self> {
        let not_yubico = Error::Malformed { what: "PRINTED holds no 88 template of a PIN-protected management key" };
        let template = tlv::read_single(content).map_err(|_| not_yubico.clone())?;
        if template.tag != Tag(PROTECTED_TEMPLATE) {
            return Err(not_yubico);
        }
        let elements = unique_elements(template.value, "PRINTED's 88 template repeats an element")?;
        Ok(Self { elements: elements.into_iter().map(|(t, v)| (t, Zeroizing::new(v))).collect() })
    }

    /// The stored management key.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the template holds no `89` or an empty one.
    pub fn management_key(&self) -> Result<&[u8]> {
        match self.elements.iter().find(|(t, _)| *t == PROTECTED_MGMT_KEY) {
            Some((_, k)) if !k.is_empty() => Ok(k.as_slice()),
            Some(_) => Err(Error::Malformed { what: "PRINTED's management key (89) is empty" }),
            None => Err(Error::Malformed { what: "PRINTED's 88 template holds no management key (89)" }),
        }
    }

    /// The same data holding `key` as the management key.
    #[must_use]
    pub fn with_management_key(mut self, key: &[u8]) -> Self {
        self.elements.retain(|(t, _)| *t != PROTECTED_MGMT_KEY);
        self.elements.insert(0, (PROTECTED_MGMT_KEY, Zeroizing::new(key.to_vec())));
        self
    }

    /// The object's content (a secret).
    ///
    /// # Errors
    /// Only for absurd sizes.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut inner = Zeroizing::new(Vec::new());
        for (t, v) in &self.elements {
            tlv::write(&mut inner, Tag(*t), v)?;
        }
        Ok(Zeroizing::new(tlv::encode(Tag(PROTECTED_TEMPLATE), &inner)?))
    }
}

/// Characters of a container name in a map record (40, the last a NUL), as in `cmapfile`.
pub const NAME_CHARS: usize = 40;
/// The length of one container map record.
pub const RECORD_LEN: usize = 2 * NAME_CHARS + 27;

/// One record of the container map (`5FFF10`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRecord {
    /// The container's name (at most 39 characters).
    pub name: String,
    /// The key reference of its slot.
    pub slot: u8,
    /// Its key spec (`AT_KEYEXCHANGE`, `AT_SIGNATURE`, `AT_ECDSA_P256`, ...).
    pub key_spec: u8,
    /// Its key size in bits.
    pub key_size_bits: u16,
    /// `cmapfile` flags (`01` valid, `02` default).
    pub flags: u8,
    /// The PIN that guards the key.
    pub pin_id: u8,
    /// The associated ECDH container (`CCP_ASSOCIATED_ECDH_KEY`), `0` for none.
    pub associated_ecdh: u8,
    /// SHA-1 of the slot's certificate when the record was written (zeros: none yet).
    pub cert_fingerprint: [u8; 20],
}

impl MapRecord {
    fn decode(bytes: &[u8]) -> Result<Self> {
        let bad_name = Error::Malformed { what: "container map name is not UTF-16" };
        let (name, rest) =
            bytes.split_at_checked(2 * NAME_CHARS).ok_or(Error::Malformed { what: "container map record" })?;
        let units: Vec<u16> = name.chunks_exact(2).filter_map(|c| c.try_into().ok()).map(u16::from_le_bytes).collect();
        let end = units.iter().position(|u| *u == 0).unwrap_or(units.len());
        let name = String::from_utf16(units.get(..end).unwrap_or_default()).map_err(|_| bad_name)?;
        let [slot, key_spec, s0, s1, flags, pin_id, associated_ecdh, fingerprint @ ..] = rest else {
            return Err(Error::Malformed { what: "container map record" });
        };
        let cert_fingerprint: [u8; 20] =
            fingerprint.try_into().map_err(|_| Error::Malformed { what: "container map record" })?;
        Ok(Self {
            name,
            slot: *slot,
            key_spec: *key_spec,
            key_size_bits: u16::from_le_bytes([*s0, *s1]),
            flags: *flags,
            pin_id: *pin_id,
            associated_ecdh: *associated_ecdh,
            cert_fingerprint,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let units: Vec<u16> = self.name.encode_utf16().collect();
        if units.len() >= NAME_CHARS {
            return Err(Error::InvalidArgument("a container name has at most 39 characters"));
        }
        for i in 0..NAME_CHARS {
            out.extend_from_slice(&units.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        out.extend_from_slice(&[self.slot, self.key_spec]);
        out.extend_from_slice(&self.key_size_bits.to_le_bytes());
        out.extend_from_slice(&[self.flags, self.pin_id, self.associated_ecdh]);
        out.extend_from_slice(&self.cert_fingerprint);
        Ok(())
    }
}

/// Parses the container map's content (inside `53`); an empty content is an empty map.
///
/// # Errors
/// [`Error::Malformed`]: not one `81` template, a length that is not a whole number of
/// records, a name that is not UTF-16.
pub fn parse_container_map(content: &[u8]) -> Result<Vec<MapRecord>> {
    if content.is_empty() {
        return Ok(Vec::new());
    }
    let template =
        tlv::read_single(content).map_err(|_| Error::Malformed { what: "container map is not one 81 template" })?;
    if template.tag != Tag(MAP_TEMPLATE) {
        return Err(Error::Malformed { what: "container map is not one 81 template" });
    }
    if !template.value.len().is_multiple_of(RECORD_LEN) {
        return Err(Error::Malformed { what: "container map is not a whole number of 107-byte records" });
    }
    template.value.chunks_exact(RECORD_LEN).map(MapRecord::decode).collect()
}

/// The container map's content for `records` (empty for none: the object is deleted).
///
/// # Errors
/// [`Error::InvalidArgument`] for a name of 40 characters or more; [`Error::Vfs`] (out of
/// space) beyond the object size a YubiKey stores.
pub fn encode_container_map(records: &[MapRecord]) -> Result<Vec<u8>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut body = Vec::with_capacity(records.len() * RECORD_LEN);
    for r in records {
        r.encode(&mut body)?;
    }
    let out = tlv::encode(Tag(MAP_TEMPLATE), &body)?;
    if out.len() > MAX_OBJECT {
        return Err(vfs::Error::OutOfSpace.into());
    }
    Ok(out)
}

/// Splits `mscp/msroots` into the contents of `5FFF11`.. (`83` parts, then one `82`).
///
/// # Errors
/// [`Error::Vfs`] (out of space) beyond five objects.
pub fn split_msroots(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    if data.len() > MSROOTS_MAX {
        return Err(vfs::Error::OutOfSpace.into());
    }
    let parts: Vec<&[u8]> = if data.is_empty() { vec![data] } else { data.chunks(MSROOTS_PART).collect() };
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| tlv::encode(Tag(if i == last { MSROOTS_END } else { MSROOTS_MID }), part))
        .collect()
}

/// One msroots object's part, and whether it is the last one.
///
/// # Errors
/// [`Error::Malformed`] for anything but one `82` or `83`.
pub fn msroots_part(content: &[u8]) -> Result<(&[u8], bool)> {
    let part = tlv::read_single(content).map_err(|_| Error::Malformed { what: "msroots part is not one 82 or 83" })?;
    match part.tag.0 {
        MSROOTS_END => Ok((part.value, true)),
        MSROOTS_MID => Ok((part.value, false)),
        _ => Err(Error::Malformed { what: "msroots part is not one 82 or 83" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    fn what(e: Error) -> &'static str {
        match e {
            Error::Malformed { what } => what,
            other => panic!("not Malformed: {other:?}"),
        }
    }

    #[test]
    fn admin_data() {
        // yubico-piv-tool after "set-mgm-key --protected": PIN-protected key, PUK blocked.
        let a = AdminData::parse(&hex!("8003 810103")).unwrap();
        assert!(a.mgmt_key_protected() && a.puk_blocked() && !a.pin_derived_key());
        let a = AdminData::parse(&hex!("8009 810100 830478563412")).unwrap();
        assert!(!a.mgmt_key_protected());
        let p = a.with_mgmt_key_protected();
        assert_eq!(p.encode().unwrap(), hex!("8009 810102 830478563412"));
        let salted = AdminData::parse(&hex!("8015 810100 8210 000102030405060708090A0B0C0D0E0F")).unwrap();
        assert!(salted.pin_derived_key());
        assert_eq!(salted.with_mgmt_key_protected().encode().unwrap(), hex!("8003 810102"));
        assert_eq!(AdminData::default().with_mgmt_key_protected().encode().unwrap(), hex!("8003 810102"));
        // Malformed inputs: each names its fault.
        assert_eq!(what(AdminData::parse(&hex!("8803 810102")).unwrap_err()), "ADMIN DATA is not one 80 template");
        assert_eq!(what(AdminData::parse(&hex!("8003 8101")).unwrap_err()), "ADMIN DATA is not one 80 template");
        assert_eq!(what(AdminData::parse(&hex!("8003 810102 00")).unwrap_err()), "ADMIN DATA is not one 80 template");
        assert_eq!(
            what(AdminData::parse(&hex!("8004 81020202")).unwrap_err()),
            "ADMIN DATA flags (81) are not one byte"
        );
        assert_eq!(what(AdminData::parse(&hex!("8006 810102 810102")).unwrap_err()), "ADMIN DATA repeats an element");
        assert_eq!(what(AdminData::parse(&hex!("8004 82020000")).unwrap_err()), "ADMIN DATA salt (82) is not 16 bytes");
        assert_eq!(
            what(AdminData::parse(&hex!("8004 83020000")).unwrap_err()),
            "ADMIN DATA PIN timestamp (83) is not 4 bytes"
        );
    }

    #[test]
    fn protected_data() {
        let key = hex!("0102030405060708 1112131415161718 2122232425262728");
        let p = ProtectedData::parse(&hex!("881A 8918 0102030405060708 1112131415161718 2122232425262728")).unwrap();
        assert_eq!(p.management_key().unwrap(), key);
        assert!(!format!("{p:?}").contains("0102"), "the key never reaches Debug");
        let rewritten = ProtectedData::default().with_management_key(&key).encode().unwrap();
        assert_eq!(&rewritten[..], &hex!("881A 8918 0102030405060708 1112131415161718 2122232425262728"));
        let with_flags = ProtectedData::parse(&hex!("8803 810101")).unwrap().with_management_key(&[7; 16]);
        assert_eq!(&with_flags.encode().unwrap()[..4], &hex!("8815 8910"));
        assert!(ProtectedData::is_yubico(&hex!("8800")) && !ProtectedData::is_yubico(&hex!("0104 4A6F686E")));
        assert_eq!(
            what(ProtectedData::parse(&hex!("0104 4A6F686E")).unwrap_err()),
            "PRINTED holds no 88 template of a PIN-protected management key"
        );
        assert_eq!(
            what(ProtectedData::parse(&hex!("8803 810101")).unwrap().management_key().unwrap_err()),
            "PRINTED's 88 template holds no management key (89)"
        );
        assert_eq!(
            what(ProtectedData::parse(&hex!("8802 8900")).unwrap().management_key().unwrap_err()),
            "PRINTED's management key (89) is empty"
        );
        assert_eq!(
            what(ProtectedData::parse(&hex!("8806 890101 890101")).unwrap_err()),
            "PRINTED's 88 template repeats an element"
        );
        assert_eq!(
            what(ProtectedData::parse(&hex!("8805 8904 0102")).unwrap_err()),
            "PRINTED holds no 88 template of a PIN-protected management key"
        );
    }

    fn record(name: &str, slot: u8) -> MapRecord {
        MapRecord {
            name: name.into(),
            slot,
            key_spec: 1,
            key_size_bits: 2048,
            flags: 3,
            pin_id: 1,
            associated_ecdh: 0,
            cert_fingerprint: [0xAB; 20],
        }
    }

    #[test]
    fn container_map() {
        let records = vec![record("le-User-0d3f9a3c-5e5b-4b9e-8a8a", 0x9A), record("x", 0x82)];
        let content = encode_container_map(&records).unwrap();
        assert_eq!(&content[..3], &hex!("81 81 D6"), "two records of 107 bytes");
        let first = &content[3..3 + RECORD_LEN];
        assert_eq!(&first[..4], &hex!("6C 00 65 00"), "UTF-16LE");
        assert_eq!(&first[80..87], &hex!("9A 01 0008 03 01 00"));
        assert_eq!(parse_container_map(&content).unwrap(), records);
        assert!(parse_container_map(&[]).unwrap().is_empty());
        assert!(encode_container_map(&[]).unwrap().is_empty());
        assert!(encode_container_map(&[record(&"n".repeat(40), 0x9A)]).is_err());
        assert_eq!(
            what(parse_container_map(&hex!("8203 000000")).unwrap_err()),
            "container map is not one 81 template"
        );
        assert_eq!(
            what(parse_container_map(&hex!("8103 000000")).unwrap_err()),
            "container map is not a whole number of 107-byte records"
        );
        let mut bad = content.clone();
        bad[3] = 0x00;
        bad[4] = 0xD8; // a lone high surrogate
        assert_eq!(what(parse_container_map(&bad).unwrap_err()), "container map name is not UTF-16");
        // More records than one object holds.
        let many: Vec<MapRecord> = (0..29).map(|i| record("c", 0x82 + i)).collect();
        assert!(matches!(encode_container_map(&many), Err(Error::Vfs(vfs::Error::OutOfSpace))));
    }

    #[test]
    fn msroots_parts() {
        let data: Vec<u8> = (0..7000u32).map(|i| i as u8).collect();
        let parts = split_msroots(&data).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.len() <= MAX_OBJECT));
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let (part, last) = msroots_part(p).unwrap();
            assert_eq!(last, i == 2);
            joined.extend_from_slice(part);
        }
        assert_eq!(joined, data);
        assert_eq!(split_msroots(&[]).unwrap(), vec![hex!("8200").to_vec()]);
        assert!(split_msroots(&vec![0; MSROOTS_MAX + 1]).is_err());
        assert_eq!(what(msroots_part(&hex!("8400")).unwrap_err()), "msroots part is not one 82 or 83");
    }
}
