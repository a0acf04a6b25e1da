//! `mscp/cmapfile` contents: 86-byte `CONTAINER_MAP_RECORD`s.
//!
//! Each record is laid out as `WCHAR wszGuid[40]` (UTF-16LE name, NUL, zero padding), `bFlags`
//! (0x01 valid, 0x03 valid + default), `bReserved`, then `wSigKeySizeBits` and
//! `wKeyExchangeKeySizeBits` as little-endian WORDs. Below, each record is written as two lines
//! of name bytes and one line `flags reserved sig kx`.

use hex_literal::hex;

/// An empty container map: the `cmapfile` of a card on which no container was ever created.
///
/// Source: GidsApplet's `MinidriverTest.java`, test `readEmptyCard` (github.com/vletoux/GidsApplet
/// @a4b10b2): GET DATA of the cmapfile data object `DF23` on a freshly initialised GIDS card
/// answers `DF 23 00`, a zero-length object.
pub const EMPTY: &[u8] = &[];

/// A container slot reserved by the Base CSP before the key exists: flags 0x01, no key sizes.
/// Name `257f0362-2ee7-44f5-9885-36fa490f30c1` (a CAPI-assigned GUID string, no braces).
///
/// Source: GidsApplet's `MinidriverTest.java`, test `importOneRSA2048Key`
/// (github.com/vletoux/GidsApplet @a4b10b2): the data of the first `PUT DATA` to `DF23`
/// (`00 DB A0 10 59 DF 23 56 …`). The test replays the APDUs that Windows sends to a GIDS card
/// while importing an RSA-2048 key: the record is first written with flags 0x01, then 0x03,
/// then with the key-exchange size set (the next two vectors), with `cardcf` bumped in between.
pub const GIDS_SLOT_RESERVED: &[u8] = &hex!(
    "320035003700660030003300360032002d0032006500650037002d0034003400660035002d003900"
    "3800380035002d003300360066006100340039003000660033003000630031000000000000000000"
    "01 00 0000 0000"
);

/// The same slot marked default (flags 0x03), still without key sizes.
///
/// Source: as [`GIDS_SLOT_RESERVED`], the second `PUT DATA` to `DF23`.
pub const GIDS_SLOT_DEFAULT: &[u8] = &hex!(
    "320035003700660030003300360032002d0032006500650037002d0034003400660035002d003900"
    "3800380035002d003300360066006100340039003000660033003000630031000000000000000000"
    "03 00 0000 0000"
);

/// The finished record: default container (0x03) holding an RSA-2048 key-exchange key
/// (`wKeyExchangeKeySizeBits` = `00 08` = 2048), no signature key.
///
/// Source: as [`GIDS_SLOT_RESERVED`], the third `PUT DATA` to `DF23`, sent after the key import.
pub const GIDS_RSA2048_DEFAULT: &[u8] = &hex!(
    "320035003700660030003300360032002d0032006500650037002d0034003400660035002d003900"
    "3800380035002d003300360066006100340039003000660033003000630031000000000000000000"
    "03 00 0000 0008"
);

/// A record as OpenSC's minidriver builds it for a PIV card (PivApplet) with an EC P-256 key in
/// slot 9A: name `00000000000000010000000000000000` (OpenSC's hex container id, not a GUID
/// string), flags 0x03, `wSigKeySizeBits` = `00 01` = 256, no key-exchange key.
///
/// Source: the OpenSC minidriver log in github.com/arekinath/PivApplet issue #64 ("Windows
/// login"): `CardReadFile` of `mscp/cmapfile` returned 1032 bytes (12 records); this is the first
/// record, bytes 0x00–0x55 of that dump. The other records are not included because the log as
/// stored is cut off after offset 0x100.
pub const OPENSC_PIV_EC256_SIGNATURE: &[u8] = &hex!(
    "30003000300030003000300030003000300030003000300030003000300031003000300030003000"
    "30003000300030003000300030003000300030003000300000000000000000000000000000000000"
    "03 00 0001 0000"
);

/// Three slots: a valid default container, a deleted one (86 zero bytes, kept in place so that
/// container 2 keeps its index), and a valid non-default container.
///
/// Made for this project from the real records above, following seed 003's rule that a deleted
/// record is zeroed and the file is never packed: record 0 is [`GIDS_RSA2048_DEFAULT`], record 1
/// is all zeros, record 2 is [`OPENSC_PIV_EC256_SIGNATURE`] with its flags changed from 0x03 to
/// 0x01 so that only one container is the default.
pub const DELETED_BETWEEN_TWO_VALID: &[u8] = &hex!(
    "320035003700660030003300360032002d0032006500650037002d0034003400660035002d003900"
    "3800380035002d003300360066006100340039003000660033003000630031000000000000000000"
    "03 00 0000 0008"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00 00 0000 0000"
    "30003000300030003000300030003000300030003000300030003000300031003000300030003000"
    "30003000300030003000300030003000300030003000300000000000000000000000000000000000"
    "01 00 0001 0000"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_whole_records() {
        for v in [GIDS_SLOT_RESERVED, GIDS_SLOT_DEFAULT, GIDS_RSA2048_DEFAULT, OPENSC_PIV_EC256_SIGNATURE] {
            assert_eq!(v.len(), 86);
        }
        assert_eq!(DELETED_BETWEEN_TWO_VALID.len(), 3 * 86);
        assert!(EMPTY.is_empty());
    }
}
