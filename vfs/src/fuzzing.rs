//! Entry points for cargo-fuzz targets (each target is a one-line call into here).
//!
//! Each function decodes arbitrary bytes and, when the decode succeeds, re-encodes and asserts
//! that the bytes round-trip. Decoding must never panic; the assertion is the only panic allowed,
//! and it means a codec bug.

use crate::cardapps::CardApps;
use crate::cardcf::CacheFile;
use crate::cmapfile::ContainerMap;

/// `mscp/cmapfile`.
pub fn decode_cmapfile(data: &[u8]) {
    if let Ok(map) = ContainerMap::decode(data) {
        assert_eq!(map.encode(), data, "cmapfile did not round-trip");
    }
}

/// `cardcf`.
pub fn decode_cardcf(data: &[u8]) {
    if let Ok(cf) = CacheFile::decode(data) {
        assert_eq!(cf.encode(), data, "cardcf did not round-trip");
    }
}

/// `cardapps`.
pub fn decode_cardapps(data: &[u8]) {
    if let Ok(apps) = CardApps::decode(data) {
        assert_eq!(apps.encode(), data, "cardapps did not round-trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_do_not_panic() {
        use test_vectors::cmapfile as tv;
        for seed in [
            tv::EMPTY,
            tv::GIDS_SLOT_RESERVED,
            tv::GIDS_SLOT_DEFAULT,
            tv::GIDS_RSA2048_DEFAULT,
            tv::OPENSC_PIV_EC256_SIGNATURE,
            tv::DELETED_BETWEEN_TWO_VALID,
        ] {
            decode_cmapfile(seed);
            decode_cardcf(seed);
            decode_cardapps(seed);
        }
        decode_cardcf(&[0; 6]);
        decode_cardapps(b"mscp\0\0\0\0");
    }
}
