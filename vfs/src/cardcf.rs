//! `cardcf`: the cache file (`CARD_CACHE_FILE_FORMAT`, seed 003 "Cache file").
//!
//! Six bytes the Base CSP owns: `bVersion`, `bPinsFreshness`, then `wContainersFreshness` and
//! `wFilesFreshness` as little-endian WORDs; then one little-endian DWORD per application in
//! `cardapps` order (the file grows by 4 bytes per application). The CSP bumps a counter before it
//! changes what the counter covers and compares its cached copy with the card's; anyone else who
//! changes the card must bump the matching counter too, or the CSP serves stale data.

use crate::error::{Error, Result};

/// Size of the fixed part (`CARD_CACHE_FILE_FORMAT`).
pub const HEADER_LEN: usize = 6;

const WHAT: &str = "cardcf";

/// The content of `cardcf`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CacheFile {
    /// `bVersion`.
    pub version: u8,
    /// `bPinsFreshness`: bumped after a PIN change.
    pub pins_freshness: u8,
    /// `wContainersFreshness`: bumped before a container is created or deleted.
    pub containers_freshness: u16,
    /// `wFilesFreshness`: bumped before a file is created, written or deleted.
    pub files_freshness: u16,
    /// One cache counter per application, indexed like `cardapps`.
    pub app_freshness: Vec<u32>,
}

impl CacheFile {
    /// Reads `cardcf`'s bytes.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the file is shorter than 6 bytes or its tail is not whole DWORDs.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (header, apps) =
            bytes.split_first_chunk::<HEADER_LEN>().ok_or(Error::malformed(WHAT, "shorter than 6 bytes"))?;
        let [version, pins_freshness, c0, c1, f0, f1] = *header;
        let (words, rest) = apps.as_chunks::<4>();
        if !rest.is_empty() {
            return Err(Error::malformed(WHAT, "application counters are not whole DWORDs"));
        }
        Ok(Self {
            version,
            pins_freshness,
            containers_freshness: u16::from_le_bytes([c0, c1]),
            files_freshness: u16::from_le_bytes([f0, f1]),
            app_freshness: words.iter().map(|w| u32::from_le_bytes(*w)).collect(),
        })
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * self.app_freshness.len());
        out.push(self.version);
        out.push(self.pins_freshness);
        out.extend_from_slice(&self.containers_freshness.to_le_bytes());
        out.extend_from_slice(&self.files_freshness.to_le_bytes());
        for counter in &self.app_freshness {
            out.extend_from_slice(&counter.to_le_bytes());
        }
        out
    }

    /// Marks the PINs changed. Counters wrap, as the CSP's own `++` does.
    pub fn bump_pins(&mut self) {
        self.pins_freshness = self.pins_freshness.wrapping_add(1);
    }

    /// Marks the containers changed.
    pub fn bump_containers(&mut self) {
        self.containers_freshness = self.containers_freshness.wrapping_add(1);
    }

    /// Marks the files changed.
    pub fn bump_files(&mut self) {
        self.files_freshness = self.files_freshness.wrapping_add(1);
    }

    /// Marks application `index`'s data changed and returns the new counter, or `None` when the
    /// file has no counter for that application.
    pub fn bump_app(&mut self, index: usize) -> Option<u32> {
        let counter = self.app_freshness.get_mut(index)?;
        *counter = counter.wrapping_add(1);
        Some(*counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fresh_card_is_six_zero_bytes() {
        assert_eq!(CacheFile::default().encode(), [0u8; 6]);
    }

    #[test]
    fn the_csp_writes_seen_on_a_gids_card() {
        // cardcf PUT DATA payloads from GidsApplet's MinidriverTest.java (vletoux/GidsApplet
        // @a4b10b2, importOneRSA2048Key): files +1, files +1, containers +1, files +1.
        let seen: [[u8; 6]; 4] = [[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 2, 0], [0, 0, 1, 0, 2, 0], [0, 0, 1, 0, 3, 0]];
        let mut cf = CacheFile::default();
        cf.bump_files();
        assert_eq!(cf.encode(), seen[0]);
        cf.bump_files();
        assert_eq!(cf.encode(), seen[1]);
        cf.bump_containers();
        assert_eq!(cf.encode(), seen[2]);
        cf.bump_files();
        assert_eq!(cf.encode(), seen[3]);
        assert_eq!(CacheFile::decode(&seen[3]).unwrap(), cf);
    }

    #[test]
    fn counters_are_little_endian_and_wrap() {
        let cf = CacheFile::decode(&[7, 0xff, 0x34, 0x12, 0xff, 0xff, 1, 2, 3, 4]).unwrap();
        assert_eq!(cf.version, 7);
        assert_eq!(cf.containers_freshness, 0x1234);
        assert_eq!(cf.app_freshness, [0x0403_0201]);
        let mut cf = cf;
        cf.bump_pins();
        cf.bump_files();
        assert_eq!((cf.pins_freshness, cf.files_freshness), (0, 0));
        assert_eq!(cf.bump_app(0), Some(0x0403_0202));
        assert_eq!(cf.bump_app(1), None);
    }

    fn cache_file() -> impl Strategy<Value = CacheFile> {
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u32>(), 0..8)).prop_map(
            |(version, pins, containers, files, apps)| CacheFile {
                version,
                pins_freshness: pins,
                containers_freshness: containers,
                files_freshness: files,
                app_freshness: apps,
            },
        )
    }

    proptest! {
        #[test]
        fn round_trips(cf in cache_file()) {
            let bytes = cf.encode();
            prop_assert_eq!(bytes.len(), HEADER_LEN + 4 * cf.app_freshness.len());
            prop_assert_eq!(CacheFile::decode(&bytes).unwrap(), cf);
        }

        #[test]
        fn decode_then_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            match CacheFile::decode(&bytes) {
                Ok(cf) => prop_assert_eq!(cf.encode(), bytes),
                Err(e) => {
                    prop_assert!(bytes.len() < HEADER_LEN || !(bytes.len() - HEADER_LEN).is_multiple_of(4));
                    let malformed = matches!(e, Error::Malformed { what: "cardcf", .. });
                    prop_assert!(malformed);
                }
            }
        }
    }
}
