//! PIV data objects as the card returns them (SP 800-73-4 Part 1 Appendix A), parsed with the
//! bounded TLV reader. Vendors differ (see research/piv.md §4): parsing is lenient where real
//! cards are, strict where a mistake would be silent.

use std::io::Read;

use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};

/// Tags of the data objects this edge reads.
pub mod tag {
    /// Card Holder Unique Identifier.
    pub const CHUID: u32 = 0x5FC102;
    /// Card Capability Container.
    pub const CCC: u32 = 0x5FC107;
    /// Discovery object (answered as `7E`, not wrapped in `53`).
    pub const DISCOVERY: u32 = 0x7E;
    /// Key History object.
    pub const KEY_HISTORY: u32 = 0x5FC10C;
    /// Printed Information (PIN-protected).
    pub const PRINTED_INFO: u32 = 0x5FC109;
}

/// Largest certificate accepted after gzip inflation: PIV objects are a few KiB; a hostile
/// card must not make the host inflate a bomb.
pub const MAX_CERTIFICATE: usize = 64 * 1024;

/// The value of a `53`-wrapped object (or the whole `7E`/`7F61` object), from a GET DATA response.
///
/// # Errors
/// [`Error::Malformed`] when the response is not one TLV object.
pub fn unwrap_data(response: &[u8]) -> Result<&[u8]> {
    Ok(tlv::read_single(response)?.value)
}

/// The CHUID fields a minidriver needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chuid {
    /// FASC-N (tag `30`), usually 25 bytes.
    pub fasc_n: Option<Vec<u8>>,
    /// Card UUID (tag `34`), 16 bytes.
    pub guid: Option<[u8; 16]>,
    /// Expiration date "YYYYMMDD" (tag `35`).
    pub expiration: Option<Vec<u8>>,
}

impl Chuid {
    /// Parses the content of the `53` wrapper.
    ///
    /// # Errors
    /// [`Error::Malformed`] for malformed TLV or a GUID that is not 16 bytes.
    pub fn parse(value: &[u8]) -> Result<Self> {
        let mut chuid = Self::default();
        for obj in tlv::Reader::new(value) {
            let obj = obj?;
            match obj.tag.0 {
                0x30 => chuid.fasc_n = Some(obj.value.to_vec()),
                0x34 => {
                    let guid: [u8; 16] =
                        obj.value.try_into().map_err(|_| Error::Malformed { what: "CHUID GUID is not 16 bytes" })?;
                    chuid.guid = Some(guid);
                }
                0x35 => chuid.expiration = Some(obj.value.to_vec()),
                _ => {}
            }
        }
        Ok(chuid)
    }

    /// The GUID when present and not all zero.
    pub fn usable_guid(&self) -> Option<[u8; 16]> {
        self.guid.filter(|g| g.iter().any(|b| *b != 0))
    }

    /// The FASC-N when present and not all zero.
    pub fn usable_fasc_n(&self) -> Option<&[u8]> {
        self.fasc_n.as_deref().filter(|f| f.iter().any(|b| *b != 0))
    }
}

/// PIN usage policy from the Discovery object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// First byte of the PIN usage policy (`40` PIV PIN, `20` global PIN, ...).
    pub policy_first: u8,
    /// Second byte (`10` PIV PIN primary, `20` global PIN primary).
    pub policy_second: u8,
}

impl Discovery {
    /// Parses a `7E` object (the whole GET DATA response).
    ///
    /// # Errors
    /// [`Error::Malformed`] for malformed TLV.
    pub fn parse(response: &[u8]) -> Result<Self> {
        let value = unwrap_data(response)?;
        let policy = tlv::Reader::new(value).find(Tag(0x5F2F))?.unwrap_or_default();
        let mut it = policy.iter().copied();
        Ok(Self { policy_first: it.next().unwrap_or(0x40), policy_second: it.next().unwrap_or(0) })
    }

    /// Whether the global PIN (`00`) is the user PIN: both PINs present and global primary.
    pub fn global_pin_primary(&self) -> bool {
        self.policy_first & 0x60 == 0x60 && self.policy_second == 0x20
    }
}

/// The Key History object: how many retired keys have on-card certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyHistory {
    /// `C1`: keys with on-card certificates (retired slots 82.. in order).
    pub on_card: u8,
    /// `C2`: keys with off-card certificates.
    pub off_card: u8,
}

impl KeyHistory {
    /// Parses the content of the `53` wrapper.
    ///
    /// # Errors
    /// [`Error::Malformed`] for malformed TLV.
    pub fn parse(value: &[u8]) -> Result<Self> {
        let first = |tag| -> Result<u8> {
            Ok(tlv::Reader::new(value).find(Tag(tag))?.and_then(|v| v.first().copied()).unwrap_or(0))
        };
        Ok(Self { on_card: first(0xC1)?.min(20), off_card: first(0xC2)? })
    }
}

/// A certificate object's certificate, as plain DER.
///
/// Parses `70` (certificate), `71` (CertInfo: bit 0 or, per older drafts, bit 7 = gzip) and
/// ignores `72`/`FE`. A card that stores the bare certificate without the TLV wrapper (some
/// vendors do) is accepted when the bytes start like DER. `Ok(None)` for an empty `70`.
///
/// # Errors
/// [`Error::Malformed`] for undecodable content or a gzip stream that fails or inflates beyond
/// [`MAX_CERTIFICATE`].
pub fn certificate_der(value: &[u8]) -> Result<Option<Vec<u8>>> {
    let cert = match tlv::Reader::new(value).find(Tag(0x70)) {
        Ok(Some(cert)) => cert,
        Ok(None) | Err(_) if value.first() == Some(&0x30) => return Ok(Some(value.to_vec())),
        Ok(None) => return Err(Error::Malformed { what: "certificate object without a 70 certificate" }),
        Err(e) => return Err(e),
    };
    if cert.is_empty() {
        return Ok(None);
    }
    let info = tlv::Reader::new(value).find(Tag(0x71)).ok().flatten().and_then(|v| v.first().copied()).unwrap_or(0);
    if info & 0x81 == 0 {
        return Ok(Some(cert.to_vec()));
    }
    let mut out = Vec::new();
    let mut gz = flate2::read::GzDecoder::new(cert).take(MAX_CERTIFICATE as u64 + 1);
    gz.read_to_end(&mut out).map_err(|_| Error::Malformed { what: "gzip-compressed certificate does not inflate" })?;
    if out.len() > MAX_CERTIFICATE {
        return Err(Error::Malformed { what: "compressed certificate inflates beyond 64 KiB" });
    }
    Ok(Some(out))
}

/// Builds a certificate object (`70 cert 71 00 [72 MSCUID] FE 00`), as PUT DATA writes it.
///
/// `mscuid` is the Windows container name the certificate's key has, kept in the certificate
/// object's optional `72` element: SP 800-73's MSCUID ("Microsoft Container Unique
/// Identifier", deprecated since but still parsed and skipped by PIV readers), here as the
/// name's UTF-16LE characters as `cmapfile` holds them.
///
/// # Errors
/// [`Error::CommandTooLong`] for certificates beyond 16 MiB.
pub fn certificate_object(der: &[u8], mscuid: Option<&str>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(der.len() + 96);
    tlv::write(&mut out, Tag(0x70), der)?;
    tlv::write(&mut out, Tag(0x71), &[0])?;
    if let Some(name) = mscuid {
        let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        tlv::write(&mut out, Tag(0x72), &units)?;
    }
    tlv::write(&mut out, Tag(0xFE), &[])?;
    Ok(out)
}

/// The container name a certificate object's MSCUID (`72`, see [`certificate_object`])
/// holds: 1 to 39 printable ASCII characters in UTF-16LE. Anything else (an MSCUID of an
/// older issuance system, malformed TLV) is no name: the edge derives one as for any card.
pub fn certificate_mscuid(value: &[u8]) -> Option<String> {
    let raw = tlv::Reader::new(value).find(Tag(0x72)).ok()??;
    if raw.is_empty() || raw.len() > 2 * 39 || !raw.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = raw.chunks_exact(2).filter_map(|c| c.try_into().ok()).map(u16::from_le_bytes).collect();
    let name = String::from_utf16(&units).ok()?;
    name.bytes().all(|b| b.is_ascii_graphic()).then_some(name)
}

/// Algorithms the application property template (`AC`) lists, if it lists any.
pub fn template_algorithms(select_response: &[u8]) -> Vec<u8> {
    let Ok(Some(ac)) = tlv::find(select_response, &[Tag(0x61), Tag(0xAC)]) else { return Vec::new() };
    tlv::Reader::new(ac)
        .filter_map(core::result::Result::ok)
        .filter(|t| t.tag == Tag(0x80))
        .filter_map(|t| t.value.first().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn yubico_template_chuid() {
        // Yubico's CHUID template (research/piv.md §1.5), GUID = 00..0F.
        let value = hex!(
            "3019 D4E739DA739CED39CE739D836858210842108421C84210C3EB"
            "3410 000102030405060708090A0B0C0D0E0F 3508 3230333030313031 3E00 FE00"
        );
        let chuid = Chuid::parse(&value).unwrap();
        assert_eq!(chuid.guid, Some(hex!("000102030405060708090A0B0C0D0E0F")));
        assert_eq!(chuid.fasc_n.as_ref().map(Vec::len), Some(25));
        assert_eq!(chuid.expiration.as_deref(), Some(&b"20300101"[..]));
        assert!(Chuid::parse(&hex!("3403 010203")).is_err());
        assert_eq!(Chuid::parse(&hex!("3410 00000000000000000000000000000000")).unwrap().usable_guid(), None);
    }

    #[test]
    fn discovery_and_history() {
        let d = Discovery::parse(&hex!("7E12 4F0B A0000003080000100001 00 5F2F02 4010")).unwrap();
        assert_eq!((d.policy_first, d.policy_second), (0x40, 0x10));
        assert!(!d.global_pin_primary());
        assert!(Discovery::parse(&hex!("7E12 4F0B A0000003080000100001 00 5F2F02 6020")).unwrap().global_pin_primary());
        let h = KeyHistory::parse(&hex!("C101 03 C201 00 FE00")).unwrap();
        assert_eq!(h, KeyHistory { on_card: 3, off_card: 0 });
    }

    #[test]
    fn certificate_objects() {
        let der = test_vectors::certs::PIV_AUTH_9A;
        let obj = certificate_object(der, None).unwrap();
        assert_eq!(certificate_der(&obj).unwrap().as_deref(), Some(der));
        assert_eq!(certificate_mscuid(&obj), None);
        // The container name in MSCUID (72): the certificate reads the same.
        let named = certificate_object(der, Some("le-User-1234")).unwrap();
        assert_eq!(certificate_der(&named).unwrap().as_deref(), Some(der));
        assert_eq!(certificate_mscuid(&named).as_deref(), Some("le-User-1234"));
        assert_eq!(&named[named.len() - 28..named.len() - 22], &hex!("7218 6C00 6500"));
        // An MSCUID that is not a printable name is no name.
        for bad in [&hex!("7000 7202 0100")[..], &hex!("7000 7201 41"), &hex!("7000 7200"), &hex!("7000 7202 00D8")] {
            assert_eq!(certificate_mscuid(bad), None, "{bad:02X?}");
        }
        // gzip (CertInfo 01), as yubico-piv-tool writes compressed certificates.
        let mut gz = Vec::new();
        tlv::write(&mut gz, Tag(0x70), test_vectors::certs::PIV_AUTH_9A_GZIP).unwrap();
        tlv::write(&mut gz, Tag(0x71), &[1]).unwrap();
        tlv::write(&mut gz, Tag(0xFE), &[]).unwrap();
        assert_eq!(certificate_der(&gz).unwrap().as_deref(), Some(der));
        // Bare DER (no 70 wrapper) is accepted; an empty 70 is "no certificate".
        assert_eq!(certificate_der(der).unwrap().as_deref(), Some(der));
        assert_eq!(certificate_der(&hex!("7000 7101 00 FE00")).unwrap(), None);
        // Broken gzip is an error, not a panic.
        assert!(certificate_der(&hex!("7003 1F8B08 7101 01 FE00")).is_err());
    }

    #[test]
    fn template() {
        let rsp = hex!("6118 4F06 000010000100 AC0C 800107 800111 800114 060100 7907 4F05 A000000308");
        assert_eq!(template_algorithms(&rsp), vec![0x07, 0x11, 0x14]);
        assert!(template_algorithms(&hex!("")).is_empty());
    }
}
