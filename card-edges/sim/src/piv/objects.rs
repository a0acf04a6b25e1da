//! The card's data objects (SP 800-73-4 Part 1 appendix A) and builders for the ones every
//! token is provisioned with: CHUID, CCC, discovery object, key history, certificate objects.
//!
//! Objects are stored by BER tag as the *content* the host writes inside `53` (discovery and
//! the biometric group template are answered in their own tag, `7E` / `7F61`, as the spec says).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use zeroize::Zeroizing;

use crate::{Error, Result};
use card_edges::iso7816::tlv::{self, Tag};

/// Tags of the objects the simulator knows by name.
pub(crate) mod tag {
    /// Card Capability Container.
    pub(crate) const CCC: u32 = 0x5FC107;
    /// Card Holder Unique Identifier.
    pub(crate) const CHUID: u32 = 0x5FC102;
    /// Discovery object (answered as `7E`).
    pub(crate) const DISCOVERY: u32 = 0x7E;
    /// Biometric information templates group template (answered as `7F61`).
    pub(crate) const BIT_GROUP: u32 = 0x7F61;
    /// Key history object.
    pub(crate) const KEY_HISTORY: u32 = 0x5FC10C;
    /// Printed information (PIN-protected).
    pub(crate) const PRINTED_INFORMATION: u32 = 0x5FC109;
    /// Cardholder fingerprints (PIN-protected).
    pub(crate) const FINGERPRINTS: u32 = 0x5FC103;
    /// Cardholder facial image (PIN-protected).
    pub(crate) const FACIAL_IMAGE: u32 = 0x5FC108;
    /// Cardholder iris images (PIN-protected).
    pub(crate) const IRIS_IMAGES: u32 = 0x5FC121;
    /// Pairing code reference data container (PIN-protected).
    pub(crate) const PAIRING_CODE: u32 = 0x5FC123;
}

/// The PIV application identifier (NIST RID, PIX `0000 1000`, version `0100`).
pub(crate) const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];

/// Largest object content accepted by PUT DATA: yubico-piv-tool sizes YubiKey 4/5 objects at
/// 3063 bytes (a 3072-byte buffer less 9 bytes of framing).
pub(crate) const MAX_OBJECT: usize = 3063;

/// Largest certificate a `70` may inflate to: bounds a hostile gzip bomb written by the host.
const MAX_INFLATED: u64 = 64 * 1024;

/// The FASC-N of non-federal issuers (agency code 9999) that tokens write by default; with it
/// hosts identify the card by the CHUID GUID instead.
const NON_FEDERAL_FASCN: [u8; 25] = [
    0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08, 0x42, 0x10, 0x84,
    0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
];

/// The data objects on the card.
#[derive(Default)]
pub(crate) struct Objects {
    map: BTreeMap<u32, Zeroizing<Vec<u8>>>,
}

impl Objects {
    /// The content of object `tag`.
    pub(crate) fn get(&self, tag: u32) -> Option<&[u8]> {
        self.map.get(&tag).map(|v| v.as_slice())
    }

    /// Stores `content` as object `tag`.
    pub(crate) fn set(&mut self, tag: u32, content: Vec<u8>) {
        self.map.insert(tag, Zeroizing::new(content));
    }

    /// Deletes object `tag`.
    pub(crate) fn remove(&mut self, tag: u32) {
        self.map.remove(&tag);
    }

    /// Object `tag` as GET DATA answers it: `53 L content`, or `7E`/`7F61` in their own tag.
    ///
    /// # Errors
    /// Only for contents of 16 MiB or more, which PUT DATA never accepts.
    pub(crate) fn response(&self, tag: u32) -> Result<Option<Vec<u8>>> {
        let Some(content) = self.get(tag) else { return Ok(None) };
        let outer = if matches!(tag, tag::DISCOVERY | tag::BIT_GROUP) { tag } else { 0x53 };
        Ok(tlv::encode(Tag(outer), content).map(Some)?)
    }

    /// The tags present, in order (for tests and debugging).
    pub(crate) fn tags(&self) -> impl Iterator<Item = u32> + '_ {
        self.map.keys().copied()
    }
}

/// Objects that need the PIN before GET DATA returns them (SP 800-73-4 Part 1 table 2,
/// "PIN" or "PIN or OCC" read access).
pub(crate) fn is_pin_protected(tag: u32) -> bool {
    matches!(
        tag,
        tag::PRINTED_INFORMATION | tag::FINGERPRINTS | tag::FACIAL_IMAGE | tag::IRIS_IMAGES | tag::PAIRING_CODE
    )
}

/// Objects PUT DATA may write: the PIV range, discovery, the biometric group template, and the
/// vendor range YubiKeys offer (`5FFFxx`, used for Microsoft container maps and admin data).
pub(crate) fn is_writable(tag: u32) -> bool {
    matches!(tag, 0x5FC101..=0x5FC123 | tag::DISCOVERY | tag::BIT_GROUP | 0x5FFF00..=0x5FFFFF)
}

/// The certificate object of a key slot: `9A→5FC105`, `9C→5FC10A`, `9D→5FC10B`, `9E→5FC101`,
/// retired `82..95→5FC10D..5FC120`.
pub(crate) fn certificate_tag(slot: u8) -> Option<u32> {
    match slot {
        0x9A => Some(0x5FC105),
        0x9C => Some(0x5FC10A),
        0x9D => Some(0x5FC10B),
        0x9E => Some(0x5FC101),
        0x82..=0x95 => Some(0x5FC10D + u32::from(slot - 0x82)),
        _ => None,
    }
}

/// Whether `slot` is an asymmetric key slot (9A, 9C, 9D, 9E, retired 82..95).
pub(crate) fn is_key_slot(slot: u8) -> bool {
    certificate_tag(slot).is_some()
}

/// CHUID content: the non-federal FASC-N, the GUID, an expiry date, an empty issuer signature
/// and the empty error detection code, in the layout tokens write.
pub(crate) fn chuid(guid: &[u8; 16]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    tlv::write(&mut out, Tag(0x30), &NON_FEDERAL_FASCN)?;
    tlv::write(&mut out, Tag(0x34), guid)?;
    tlv::write(&mut out, Tag(0x35), b"20450101")?;
    tlv::write(&mut out, Tag(0x3E), &[])?;
    tlv::write(&mut out, Tag(0xFE), &[])?;
    Ok(out)
}

/// The GUID (`34`) of a CHUID's content.
pub(crate) fn chuid_guid(content: &[u8]) -> Option<[u8; 16]> {
    tlv::Reader::new(content).find(Tag(0x34)).ok().flatten().and_then(|g| <[u8; 16]>::try_from(g).ok())
}

/// CCC content: card identifier (GSC-IS RID, manufacturer, card type, 14-byte id), versions,
/// and the empty optional elements, as YubiKeys write it.
pub(crate) fn ccc(card_id: &[u8; 14]) -> Result<Vec<u8>> {
    let mut identifier = vec![0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02];
    identifier.extend_from_slice(card_id);
    let mut out = Vec::with_capacity(64);
    tlv::write(&mut out, Tag(0xF0), &identifier)?;
    tlv::write(&mut out, Tag(0xF1), &[0x21])?;
    tlv::write(&mut out, Tag(0xF2), &[0x21])?;
    tlv::write(&mut out, Tag(0xF3), &[])?;
    tlv::write(&mut out, Tag(0xF4), &[0x00])?;
    tlv::write(&mut out, Tag(0xF5), &[0x10])?;
    for t in [0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE] {
        tlv::write(&mut out, Tag(t), &[])?;
    }
    Ok(out)
}

/// Discovery object content: the PIV AID and the PIN usage policy (`40 00`: application PIN
/// only, as YubiKeys have).
pub(crate) fn discovery() -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(18);
    tlv::write(&mut out, Tag(0x4F), &PIV_AID)?;
    tlv::write(&mut out, Tag(0x5F2F), &[0x40, 0x00])?;
    Ok(out)
}

/// Key history content: how many retired slots (from `82` up) may hold certificates on card
/// and off card. Hosts do not look at retired slots beyond the on-card count.
pub(crate) fn key_history(on_card: u8, off_card: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(8);
    tlv::write(&mut out, Tag(0xC1), &[on_card])?;
    tlv::write(&mut out, Tag(0xC2), &[off_card])?;
    tlv::write(&mut out, Tag(0xFE), &[])?;
    Ok(out)
}

/// Certificate object content: `70 cert`, `71 CertInfo` (`01` = gzip, RFC 1952), `FE 00`.
pub(crate) fn certificate_object(der: &[u8], gzip: bool) -> Result<Vec<u8>> {
    let body = if gzip { gzip_bytes(der)? } else { der.to_vec() };
    let mut out = Vec::with_capacity(body.len() + 12);
    tlv::write(&mut out, Tag(0x70), &body)?;
    tlv::write(&mut out, Tag(0x71), &[u8::from(gzip)])?;
    tlv::write(&mut out, Tag(0xFE), &[])?;
    Ok(out)
}

/// The DER certificate in a certificate object's content, inflated when CertInfo says gzip.
/// `None` for an empty or unreadable object.
pub(crate) fn certificate_from_object(content: &[u8]) -> Option<Vec<u8>> {
    let cert = tlv::Reader::new(content).find(Tag(0x70)).ok().flatten().filter(|c| !c.is_empty())?;
    let info = tlv::Reader::new(content).find(Tag(0x71)).ok().flatten().and_then(|i| i.first().copied());
    if info.is_some_and(|b| b & 0x01 != 0) { gunzip(cert) } else { Some(cert.to_vec()) }
}

/// gzip with a zero timestamp, so that the same certificate always compresses the same.
fn gzip_bytes(data: &[u8]) -> Result<Vec<u8>> {
    let crypto = |_| Error::Crypto("gzip compression failed");
    let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    enc.write_all(data).map_err(crypto)?;
    enc.finish().map_err(crypto)
}

fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).take(MAX_INFLATED).read_to_end(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn chuid_layout() {
        let guid = hex!("44A38407356C45CAB0376BF76CB4CB07");
        let c = chuid(&guid).unwrap();
        let expected = hex!(
            "3019 D4E739DA739CED39CE739D836858210842108421C84210C3EB"
            "3410 44A38407356C45CAB0376BF76CB4CB07"
            "3508 3230343530313031"
            "3E00 FE00"
        );
        assert_eq!(c, expected);
        assert_eq!(chuid_guid(&c), Some(guid));
        // The GUID sits where tools look for it (offset 29 of the content).
        assert_eq!(&c[29..45], &guid);
    }

    #[test]
    fn ccc_discovery_and_history_layouts() {
        let c = ccc(&[0xAB; 14]).unwrap();
        assert_eq!(&c[..9], &hex!("F015 A000000116 FF 02"));
        assert_eq!(&c[9..23], &[0xAB; 14]);
        assert_eq!(&c[23..], &hex!("F10121 F20121 F300 F40100 F50110 F600 F700 FA00 FB00 FC00 FD00 FE00"));
        assert_eq!(discovery().unwrap(), hex!("4F0B A0000003080000100001 00 5F2F02 4000"));
        assert_eq!(key_history(3, 0).unwrap(), hex!("C10103 C20100 FE00"));
    }

    #[test]
    fn object_responses() {
        let mut o = Objects::default();
        o.set(tag::DISCOVERY, discovery().unwrap());
        o.set(tag::KEY_HISTORY, key_history(0, 0).unwrap());
        assert_eq!(o.response(tag::DISCOVERY).unwrap().unwrap(), hex!("7E12 4F0BA0000003080000100001 00 5F2F024000"));
        assert_eq!(o.response(tag::KEY_HISTORY).unwrap().unwrap(), hex!("5308 C10100 C20100 FE00"));
        assert_eq!(o.response(0x5FC105).unwrap(), None);
    }

    #[test]
    fn certificate_objects_plain_and_gzip() {
        let der = test_vectors::certs::PIV_AUTH_9A;
        let plain = certificate_object(der, false).unwrap();
        assert_eq!(&plain[..4], &[0x70, 0x82, (der.len() >> 8) as u8, der.len() as u8]);
        assert_eq!(&plain[plain.len() - 5..], &hex!("710100 FE00"));
        assert_eq!(certificate_from_object(&plain).unwrap(), der);

        let gz = certificate_object(der, true).unwrap();
        assert!(gz.len() < plain.len());
        assert_eq!(&gz[gz.len() - 5..], &hex!("710101 FE00"));
        assert_eq!(certificate_from_object(&gz).unwrap(), der);
        // Deterministic: no timestamp in the gzip header.
        assert_eq!(gz, certificate_object(der, true).unwrap());

        // The committed gzip vector inflates to the same certificate.
        let mut vector = Vec::new();
        tlv::write(&mut vector, Tag(0x70), test_vectors::certs::PIV_AUTH_9A_GZIP).unwrap();
        vector.extend_from_slice(&hex!("710101 FE00"));
        assert_eq!(certificate_from_object(&vector).unwrap(), der);

        assert_eq!(certificate_from_object(&hex!("7000 710100 FE00")), None);
    }

    #[test]
    fn slot_tags() {
        assert_eq!(certificate_tag(0x9A), Some(0x5FC105));
        assert_eq!(certificate_tag(0x9C), Some(0x5FC10A));
        assert_eq!(certificate_tag(0x9D), Some(0x5FC10B));
        assert_eq!(certificate_tag(0x9E), Some(0x5FC101));
        assert_eq!(certificate_tag(0x82), Some(0x5FC10D));
        assert_eq!(certificate_tag(0x95), Some(0x5FC120));
        assert_eq!(certificate_tag(0x9B), None);
        assert!(is_pin_protected(tag::PRINTED_INFORMATION));
        assert!(!is_pin_protected(tag::CHUID));
        assert!(is_writable(0x5FFF10) && is_writable(tag::DISCOVERY) && !is_writable(0x7F68));
    }
}
