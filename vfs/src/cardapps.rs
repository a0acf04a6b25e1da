//! `cardapps`: the application directory (seed 003, "Application directory").
//!
//! A list of 8-byte records, each an application (directory) name padded with zeros; a name may
//! use all 8 bytes, and then has no terminator. A record's position is the application's index
//! into `cardcf`'s per-application counters. A freshly created card holds one record,
//! `"mscp"` (the CAPI application, index 0).
//!
//! Decoding accepts only what [`CardApps::encode`] produces, so bytes round-trip exactly: zero
//! padding after the name, a valid lower-case [`Name`], and no name twice (each application maps
//! to one directory and one counter).

use crate::error::{Error, Result};
use crate::name::{MAX_LEN, Name};
use crate::well_known;

/// Size of one record.
pub const RECORD_LEN: usize = MAX_LEN;

const WHAT: &str = "cardapps";

/// The content of `cardapps`: application names in index order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CardApps {
    apps: Vec<Name>,
}

impl CardApps {
    /// The list a newly created card holds: `mscp` alone.
    pub fn with_mscp() -> Self {
        Self { apps: vec![well_known::MSCP] }
    }

    /// A list of applications in index order.
    ///
    /// # Errors
    /// [`Error::Malformed`] when a name appears twice.
    pub fn new(apps: Vec<Name>) -> Result<Self> {
        for (i, name) in apps.iter().enumerate() {
            if apps.iter().take(i).any(|earlier| earlier == name) {
                return Err(Error::malformed(WHAT, "application listed twice"));
            }
        }
        Ok(Self { apps })
    }

    /// Reads `cardapps`'s bytes.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the size is not a multiple of 8, a record is empty, holds an
    /// invalid or upper-case name, has non-zero bytes after its terminator, or repeats a name.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (records, rest) = bytes.as_chunks::<RECORD_LEN>();
        if !rest.is_empty() {
            return Err(Error::malformed(WHAT, "size is not a multiple of 8"));
        }
        let apps = records.iter().map(decode_record).collect::<Result<Vec<_>>>()?;
        Self::new(apps)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_LEN * self.apps.len());
        for name in &self.apps {
            let mut record = [0u8; RECORD_LEN];
            for (slot, &b) in record.iter_mut().zip(name.as_bytes()) {
                *slot = b;
            }
            out.extend_from_slice(&record);
        }
        out
    }

    /// The applications in index order.
    pub fn apps(&self) -> &[Name] {
        &self.apps
    }

    /// The index of `name` (its `cardcf` counter), if listed.
    pub fn index_of(&self, name: &Name) -> Option<usize> {
        self.apps.iter().position(|n| n == name)
    }

    /// Adds an application at the end and returns its index; an application already listed
    /// keeps its index.
    pub fn add(&mut self, name: Name) -> usize {
        if let Some(i) = self.index_of(&name) {
            return i;
        }
        self.apps.push(name);
        self.apps.len() - 1
    }
}

fn decode_record(record: &[u8; RECORD_LEN]) -> Result<Name> {
    let len = record.iter().position(|&b| b == 0).unwrap_or(RECORD_LEN);
    let (name, padding) = record.split_at(len);
    if padding.iter().any(|&b| b != 0) {
        return Err(Error::malformed(WHAT, "non-zero byte after the name"));
    }
    if name.is_empty() {
        return Err(Error::malformed(WHAT, "empty record"));
    }
    let parsed = Name::new(name).map_err(|_| Error::malformed(WHAT, "invalid name"))?;
    if parsed.as_bytes() != name {
        return Err(Error::malformed(WHAT, "name is not lower-case"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn created_card_content() {
        // seed 003: the content of a "created" card is {'mscp',0,0,0,0}.
        assert_eq!(CardApps::with_mscp().encode(), b"mscp\0\0\0\0");
        let apps = CardApps::decode(b"mscp\0\0\0\0").unwrap();
        assert_eq!(apps.index_of(&well_known::MSCP), Some(0));
        assert_eq!(CardApps::decode(b"").unwrap(), CardApps::default());
    }

    #[test]
    fn eight_byte_names_need_no_terminator() {
        let apps = CardApps::decode(b"mscp\0\0\0\0abcdefgh").unwrap();
        assert_eq!(apps.apps()[1].as_str(), "abcdefgh");
        assert_eq!(apps.encode(), b"mscp\0\0\0\0abcdefgh");
    }

    #[test]
    fn add_keeps_indexes() {
        let mut apps = CardApps::with_mscp();
        let other = Name::parse("other").unwrap();
        assert_eq!(apps.add(other), 1);
        assert_eq!(apps.add(well_known::MSCP), 0);
        assert_eq!(apps.apps().len(), 2);
    }

    #[test]
    fn rejects_malformed() {
        let bad: [&[u8]; 6] = [
            b"mscp\0\0\0",               // short
            b"\0\0\0\0\0\0\0\0",         // empty record
            b"mscp\0\0\0x",              // garbage after the terminator
            b"MSCP\0\0\0\0",             // not lower-case
            b"ms/p\0\0\0\0",             // invalid name
            b"mscp\0\0\0\0mscp\0\0\0\0", // twice
        ];
        for bytes in bad {
            assert!(matches!(CardApps::decode(bytes), Err(Error::Malformed { what: "cardapps", .. })), "{bytes:?}");
        }
    }

    fn names() -> impl Strategy<Value = Vec<Name>> {
        proptest::collection::btree_set("[a-z0-9_]{1,8}", 0..6)
            .prop_map(|set| set.iter().map(|s| Name::parse(s).unwrap()).collect())
    }

    proptest! {
        #[test]
        fn round_trips(apps in names()) {
            let apps = CardApps::new(apps).unwrap();
            let bytes = apps.encode();
            prop_assert_eq!(bytes.len(), RECORD_LEN * apps.apps().len());
            prop_assert_eq!(CardApps::decode(&bytes).unwrap(), apps);
        }

        #[test]
        fn decode_then_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(apps) = CardApps::decode(&bytes) {
                prop_assert_eq!(apps.encode(), bytes);
            }
        }

        #[test]
        fn rejects_sizes_not_a_multiple_of_8(apps in names(), cut in 1usize..8) {
            let mut longer = CardApps::new(apps).unwrap().encode();
            longer.extend(std::iter::repeat_n(0, cut));
            prop_assert!(CardApps::decode(&longer).is_err());
        }

        #[test]
        fn rejects_garbage_after_a_short_name(name in "[a-z]{1,7}", junk in 1u8..=255) {
            let mut record = [0u8; RECORD_LEN];
            record[..name.len()].copy_from_slice(name.as_bytes());
            record[RECORD_LEN - 1] = junk;
            if name.len() < RECORD_LEN - 1 {
                prop_assert!(CardApps::decode(&record).is_err());
            }
        }
    }
}
