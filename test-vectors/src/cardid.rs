//! Windows smart card framework card identifiers (`CardID`), as GET DATA `7F68` returns them.
//!
//! Source of the structure: Microsoft, "Discovery Process", section "Windows Smart Card
//! Framework Card Identifier"
//! (<https://learn.microsoft.com/windows-hardware/drivers/smartcard/discovery-process>; repo
//! `MicrosoftDocs/windows-driver-docs`, `windows-driver-docs-pr/smartcard/discovery-process.md`):
//!
//! ```text
//! CardID ::= SEQUENCE {
//!     version Version DEFAULT v1,
//!     vendor  VENDOR,
//!     guids   GUIDS }
//! Version ::= INTEGER {v1(0), v2(1), v3(2)}
//! VENDOR  ::= IA5STRING(SIZE(0..8))
//! GUID    ::= OCTET STRING(SIZE(16))
//! GUIDS   ::= SEQUENCE OF GUID
//! ```
//!
//! The same page says: version must be 0 (v1), vendor must be `"MSFT"`, and Windows uses only the
//! first GUID (to find the minidriver on Windows Update). Windows sends `SELECT` of the plug and
//! play AID `A0 00 00 03 97 43 49 44 5F 01 00`, then `00 CA 7F 68 00`, whatever the SELECT
//! answered.
//!
//! **No real sample exists publicly.** Searching public code, issues and pages for `7F68`,
//! `CardID`, the PnP AID and the DER bytes of `"MSFT"` found only the ASN.1 above (copied into a
//! few projects) and traces in which cards *refuse* the command: `6A 81` (vsmartcard issues #153
//! and #237) and `6A 88` (AirID demo `APDUTestSourceMocked.swift`, a GIDS card driven by
//! Windows). So every vector here was **constructed by hand** from the ASN.1 and checked with
//! `openssl asn1parse` (the valid ones were produced with `openssl asn1parse -genconf`).
//!
//! **Bare SEQUENCE or wrapped in `7F68`?** Microsoft's text says the card returns "a DER-TLV
//! encoded byte array that is formatted in the following ASN.1 structure", i.e. the bare
//! `CardID` SEQUENCE (`30 ..`, [`GET_DATA_7F68_BARE`]). But `7F68` is a constructed BER-TLV tag
//! (application 104) given in P1-P2, and ISO/IEC 7816-4 cards often answer GET DATA of a
//! constructed object with the object and its tag (OpenPGP cards do for `6E`). That gives
//! `7F 68 L 30 L ..` ([`GET_DATA_7F68_WRAPPED`]) or, reading `7F68` as an implicit tag for the
//! SEQUENCE, `7F 68 L 16 ..` ([`GET_DATA_7F68_IMPLICIT`]). The sources do not settle it, so all
//! three forms are here; the only normative text supports the bare form.
//!
//! GUID byte order is not specified either; the GUIDs below are the 16 bytes of the UUID text in
//! written order (RFC 4122 / big-endian), and a parser should treat them as opaque bytes.
//! Status words are not included: a card appends `90 00` after these bytes.

use hex_literal::hex;

/// First GUID used below: `8b4715bd-0298-4344-8378-63ffed098312` (made for this project).
pub const GUID_1: [u8; 16] = hex!("8B4715BD 0298 4344 8378 63FFED098312");
/// Second GUID: `98aecd09-1da4-4a52-b142-5cc67dcf68d2` (made for this project).
pub const GUID_2: [u8; 16] = hex!("98AECD09 1DA4 4A52 B142 5CC67DCF68D2");
/// Third GUID: `bf01e768-dfc5-4c54-9f42-7dff7b178d22` (made for this project).
pub const GUID_3: [u8; 16] = hex!("BF01E768 DFC5 4C54 9F42 7DFF7B178D22");

/// Valid, canonical DER `CardID` with one GUID ([`GUID_1`]) and the version **omitted** (DER
/// must not encode a DEFAULT value, so this is the DER form of version 0). Hand-made.
/// A parser must conclude: version 0 (v1), vendor `"MSFT"`, GUIDs = [`GUID_1`].
///
/// `30 1A` SEQUENCE, `16 04 "MSFT"` IA5String, `30 12` SEQUENCE OF, `04 10 <GUID_1>`.
pub const CARDID_1_GUID: &[u8] = &hex!("301A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// Valid DER `CardID` with three GUIDs, version omitted. Hand-made.
/// A parser must conclude: version 0, vendor `"MSFT"`, GUIDs = [`GUID_1`], [`GUID_2`],
/// [`GUID_3`] in that order; Windows would use only [`GUID_1`].
pub const CARDID_3_GUIDS: &[u8] = &hex!(
    "303E 16044D534654 3036"
    "0410 8B4715BD02984344837863FFED098312"
    "0410 98AECD091DA44A52B1425CC67DCF68D2"
    "0410 BF01E768DFC54C549F427DFF7B178D22"
);

/// `CardID` with the version **present** as `02 01 00`. Hand-made. Valid BER, but not DER
/// (X.690 11.5: a DEFAULT value must be absent). A strict DER decoder rejects it; a BER-tolerant
/// parser reads version 0, vendor `"MSFT"`, GUIDs = [`GUID_1`]. An encoder must never emit it
/// (emit [`CARDID_1_GUID`]).
pub const CARDID_EXPLICIT_VERSION_0: &[u8] =
    &hex!("301D 020100 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// GET DATA `7F68` response data as Microsoft's text describes it: the bare `CardID` SEQUENCE.
/// Same bytes as [`CARDID_1_GUID`]. A parser must conclude: GUID [`GUID_1`].
pub const GET_DATA_7F68_BARE: &[u8] = CARDID_1_GUID;

/// GET DATA `7F68` response data in the ISO 7816-4 reading: the data object `7F 68 1C` whose
/// value is the whole [`CARDID_1_GUID`] TLV. Hand-made. A parser that accepts this form must
/// strip `7F 68 1C` and then conclude as for [`CARDID_1_GUID`].
pub const GET_DATA_7F68_WRAPPED: &[u8] = &hex!(
    "7F681C"
    "301A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312"
);

/// GET DATA `7F68` response data with `7F68` as an implicit tag replacing the SEQUENCE tag:
/// `7F 68 1A` followed by the SEQUENCE's contents. Hand-made. A parser that accepts this form
/// must conclude as for [`CARDID_1_GUID`].
pub const GET_DATA_7F68_IMPLICIT: &[u8] = &hex!("7F681A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// Well-formed `CardID` whose vendor is `"ACME"`. Hand-made. A parser must conclude: decodes,
/// but vendor is not `"MSFT"`, so it is not a Windows card identifier; reject (or ignore) it.
pub const CARDID_VENDOR_NOT_MSFT: &[u8] = &hex!("301A 160441434D45 3012 0410 8B4715BD02984344837863FFED098312");

/// Well-formed `CardID` with version 1 (v2). Hand-made. A parser must conclude: decodes, but the
/// version must be 0; reject as unsupported.
pub const CARDID_VERSION_1: &[u8] = &hex!("301D 020101 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// `CardID` whose only GUID is 15 bytes (`04 0F`, [`GUID_1`] without its last byte). Hand-made.
/// The DER is well-formed; a parser must conclude: GUID violates SIZE(16); reject.
pub const CARDID_GUID_15_BYTES: &[u8] = &hex!("3019 16044D534654 3011 040F 8B4715BD02984344837863FFED0983");

/// [`CARDID_1_GUID`] cut after 20 of its 28 bytes (inside the GUID). Hand-made. A parser must
/// conclude: the SEQUENCE claims 26 bytes but 18 follow; reject as truncated.
pub const CARDID_TRUNCATED: &[u8] = &hex!("301A 16044D534654 3012 0410 8B4715BD0298");

/// [`CARDID_1_GUID`] followed by `90 00`, which is what a caller gets if it forgets to strip the
/// status word. Hand-made. A parser of one DER value must conclude: trailing data after the
/// SEQUENCE; reject.
pub const CARDID_TRAILING_GARBAGE: &[u8] = &hex!("301A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312 9000");

/// `CardID` whose vendor is the 9-character `"MSFT-CORP"`. Hand-made. A parser must conclude:
/// vendor violates SIZE(0..8); reject.
pub const CARDID_VENDOR_TOO_LONG: &[u8] =
    &hex!("301F 16094D5346542D434F5250 3012 0410 8B4715BD02984344837863FFED098312");

/// [`CARDID_1_GUID`] with an indefinite-length outer SEQUENCE (`30 80 .. 00 00`). Hand-made.
/// Valid BER, forbidden in DER; a parser must conclude: not DER; reject.
pub const CARDID_INDEFINITE_LENGTH: &[u8] = &hex!("3080 16044D534654 3012 0410 8B4715BD02984344837863FFED098312 0000");

/// [`CARDID_1_GUID`] with a SET tag (`31`) instead of SEQUENCE (`30`). Hand-made. A parser must
/// conclude: wrong outer tag; reject.
pub const CARDID_WRONG_OUTER_TAG: &[u8] = &hex!("311A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// `CardID` with an empty GUID list (`30 00`). Hand-made. ASN.1 allows an empty SEQUENCE OF, so
/// it decodes; but Windows needs the first GUID and there is none. A parser must conclude: no
/// card identifier; reject as unusable.
pub const CARDID_EMPTY_GUID_LIST: &[u8] = &hex!("3008 16044D534654 3000");

/// [`CARDID_1_GUID`] with the outer length in long form (`30 81 1A`). Hand-made. Valid BER, but
/// DER requires the shortest length form; a DER parser must reject it.
pub const CARDID_NON_MINIMAL_LENGTH: &[u8] = &hex!("30811A 16044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// `CardID` whose vendor `"MSFT"` is a UTF8String (`0C`) instead of IA5String (`16`). Hand-made.
/// A parser must conclude: wrong type for vendor; reject.
pub const CARDID_VENDOR_UTF8STRING: &[u8] = &hex!("301A 0C044D534654 3012 0410 8B4715BD02984344837863FFED098312");

/// Every vector as `(name, bytes)`, for loops and fuzz seeds.
pub const ALL: &[(&str, &[u8])] = &[
    ("CARDID_1_GUID", CARDID_1_GUID),
    ("CARDID_3_GUIDS", CARDID_3_GUIDS),
    ("CARDID_EXPLICIT_VERSION_0", CARDID_EXPLICIT_VERSION_0),
    ("GET_DATA_7F68_WRAPPED", GET_DATA_7F68_WRAPPED),
    ("GET_DATA_7F68_IMPLICIT", GET_DATA_7F68_IMPLICIT),
    ("CARDID_VENDOR_NOT_MSFT", CARDID_VENDOR_NOT_MSFT),
    ("CARDID_VERSION_1", CARDID_VERSION_1),
    ("CARDID_GUID_15_BYTES", CARDID_GUID_15_BYTES),
    ("CARDID_TRUNCATED", CARDID_TRUNCATED),
    ("CARDID_TRAILING_GARBAGE", CARDID_TRAILING_GARBAGE),
    ("CARDID_VENDOR_TOO_LONG", CARDID_VENDOR_TOO_LONG),
    ("CARDID_INDEFINITE_LENGTH", CARDID_INDEFINITE_LENGTH),
    ("CARDID_WRONG_OUTER_TAG", CARDID_WRONG_OUTER_TAG),
    ("CARDID_EMPTY_GUID_LIST", CARDID_EMPTY_GUID_LIST),
    ("CARDID_NON_MINIMAL_LENGTH", CARDID_NON_MINIMAL_LENGTH),
    ("CARDID_VENDOR_UTF8STRING", CARDID_VENDOR_UTF8STRING),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// One short-form DER TLV: (tag, value, rest). Only what these vectors need.
    fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = der.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if len >= 0x80 {
            return None;
        }
        let len = usize::from(len);
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }

    /// `(version, vendor, guids)`.
    type CardId<'a> = (u8, &'a [u8], Vec<&'a [u8]>);

    /// Reading of the CardID. Strict DER except that it accepts an
    /// encoded version (so it can check [`CARDID_EXPLICIT_VERSION_0`]'s content).
    fn parse(der: &[u8]) -> Option<CardId<'_>> {
        let (0x30, body, []) = tlv(der)? else {
            return None;
        };
        let (mut tag, mut value, mut rest) = tlv(body)?;
        let mut version = 0;
        if tag == 0x02 {
            version = *value.first()?;
            (tag, value, rest) = tlv(rest)?;
        }
        if tag != 0x16 || value.len() > 8 {
            return None;
        }
        let vendor = value;
        let (0x30, mut list, []) = tlv(rest)? else {
            return None;
        };
        let mut guids = Vec::new();
        while !list.is_empty() {
            let (0x04, guid, next) = tlv(list)? else {
                return None;
            };
            if guid.len() != 16 {
                return None;
            }
            guids.push(guid);
            list = next;
        }
        Some((version, vendor, guids))
    }

    #[test]
    fn valid_vectors() {
        let one = parse(CARDID_1_GUID).unwrap();
        assert_eq!(one, (0, &b"MSFT"[..], vec![&GUID_1[..]]));
        let three = parse(CARDID_3_GUIDS).unwrap();
        assert_eq!(three.2, vec![&GUID_1[..], &GUID_2[..], &GUID_3[..]]);
        assert_eq!(parse(CARDID_EXPLICIT_VERSION_0).unwrap(), one);
        assert_eq!(GET_DATA_7F68_BARE, CARDID_1_GUID);
        assert_eq!(&GET_DATA_7F68_WRAPPED[3..], CARDID_1_GUID);
        assert_eq!(usize::from(GET_DATA_7F68_WRAPPED[2]), CARDID_1_GUID.len());
        assert_eq!(&GET_DATA_7F68_IMPLICIT[3..], &CARDID_1_GUID[2..]);
        assert_eq!(usize::from(GET_DATA_7F68_IMPLICIT[2]), CARDID_1_GUID.len() - 2);
    }

    #[test]
    fn semantically_wrong_but_well_formed() {
        assert_eq!(parse(CARDID_VENDOR_NOT_MSFT).unwrap().1, b"ACME");
        assert_eq!(parse(CARDID_VERSION_1).unwrap().0, 1);
        assert!(parse(CARDID_EMPTY_GUID_LIST).unwrap().2.is_empty());
    }

    #[test]
    fn malformed_vectors_fail_strict_parsing() {
        for bad in [
            CARDID_GUID_15_BYTES,
            CARDID_TRUNCATED,
            CARDID_TRAILING_GARBAGE,
            CARDID_VENDOR_TOO_LONG,
            CARDID_INDEFINITE_LENGTH,
            CARDID_WRONG_OUTER_TAG,
            CARDID_NON_MINIMAL_LENGTH,
            CARDID_VENDOR_UTF8STRING,
        ] {
            assert!(parse(bad).is_none(), "{bad:02X?}");
        }
    }
}
