//! The keymap (`A000`/`DF20`): one record per container, telling which key file holds its key.
//! It is not a minidriver file; Windows' msclmd and OpenSC keep it next to `cmapfile`, and
//! OpenSC refuses to create or delete keys when the two have different record counts.
//!
//! Layout (OpenSC card-gids.h, the struct Windows writes): version byte `01`, then 12-byte
//! records, their count given by the length:
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | `uint32` LE | state: 1 in use, 0 deleted |
//! | 4 | `uint8` | cryptographic mechanism identifier of the key (`07` = RSA-2048) |
//! | 5 | `uint8` | key type: `9A` `AT_KEYEXCHANGE`, `9C` `AT_SIGNATURE` |
//! | 6 | `uint16` LE | key file identifier (`B081`), `FFFF` when deleted |
//! | 8 | `uint16` LE | unknown, always `FFFF` |
//! | 10 | 2 bytes | structure padding |

use crate::error::{Error, Result};
use crate::key::KeyRole;

/// The only version byte defined.
pub const VERSION: u8 = 0x01;
/// Size of one record.
pub const RECORD_LEN: usize = 12;
/// Largest keymap read (the limit of any GIDS data object).
pub const MAX_LEN: usize = 65_000;
/// Key type of a key-exchange key (`AT_KEYEXCHANGE`).
pub const KEY_TYPE_EXCHANGE: u8 = 0x9A;
/// Key type of a signature key (`AT_SIGNATURE`).
pub const KEY_TYPE_SIGNATURE: u8 = 0x9C;

/// One keymap record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyMapRecord {
    /// 1 when the key exists, 0 when deleted.
    pub state: u32,
    /// The key's cryptographic mechanism identifier (GIDS v2.0 12.5.3.1; `07` RSA-2048).
    pub algorithm: u8,
    /// [`KEY_TYPE_EXCHANGE`], [`KEY_TYPE_SIGNATURE`] or 0.
    pub key_type: u8,
    /// The key file (`B000 | key reference`), `FFFF` when deleted.
    pub key_file: u16,
    /// Always `FFFF` on the cards seen.
    pub unknown: u16,
}

impl KeyMapRecord {
    /// The record of a key in use.
    pub fn in_use(algorithm: u8, role: KeyRole, key_ref: u8) -> Self {
        let key_type = match role {
            KeyRole::Exchange => KEY_TYPE_EXCHANGE,
            KeyRole::Signature => KEY_TYPE_SIGNATURE,
        };
        Self { state: 1, algorithm, key_type, key_file: 0xB000 | u16::from(key_ref), unknown: 0xFFFF }
    }

    /// The record of a deleted key (as OpenSC writes it: zeros, key file and unknown `FFFF`).
    pub fn deleted() -> Self {
        Self { state: 0, algorithm: 0, key_type: 0, key_file: 0xFFFF, unknown: 0xFFFF }
    }

    /// Whether the key exists.
    pub fn is_in_use(&self) -> bool {
        self.state == 1
    }

    fn decode(b: &[u8; RECORD_LEN]) -> Self {
        let [s0, s1, s2, s3, algorithm, key_type, k0, k1, u0, u1, _, _] = *b;
        Self {
            state: u32::from_le_bytes([s0, s1, s2, s3]),
            algorithm,
            key_type,
            key_file: u16::from_le_bytes([k0, k1]),
            unknown: u16::from_le_bytes([u0, u1]),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.state.to_le_bytes());
        out.push(self.algorithm);
        out.push(self.key_type);
        out.extend_from_slice(&self.key_file.to_le_bytes());
        out.extend_from_slice(&self.unknown.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
    }
}

/// The keymap: one record per container index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyMap {
    records: Vec<KeyMapRecord>,
}

impl KeyMap {
    /// Reads the data object's value. An empty value (a data object emptied by PUT DATA) is an
    /// empty keymap.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a version other than 1, a length that is not `1 + 12n`, or more
    /// than 65000 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_LEN {
            return Err(Error::Malformed { what: "keymap longer than 65000 bytes" });
        }
        let Some((&version, body)) = bytes.split_first() else { return Ok(Self::default()) };
        if version != VERSION {
            return Err(Error::Malformed { what: "keymap version is not 1" });
        }
        let (records, rest) = body.as_chunks::<RECORD_LEN>();
        if !rest.is_empty() {
            return Err(Error::Malformed { what: "keymap is truncated (not 1 + 12n bytes)" });
        }
        Ok(Self { records: records.iter().map(KeyMapRecord::decode).collect() })
    }

    /// The data object's value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + RECORD_LEN * self.records.len());
        out.push(VERSION);
        for r in &self.records {
            r.encode(&mut out);
        }
        out
    }

    /// Every record, in container order.
    pub fn records(&self) -> &[KeyMapRecord] {
        &self.records
    }

    /// The record of container `index`.
    pub fn get(&self, index: usize) -> Option<&KeyMapRecord> {
        self.records.get(index)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Puts `record` at `index`, growing the map with `filler(i)` records as needed.
    pub fn set(&mut self, index: usize, record: KeyMapRecord, mut filler: impl FnMut(usize) -> KeyMapRecord) {
        self.pad_to(index, &mut filler);
        match self.records.get_mut(index) {
            Some(slot) => *slot = record,
            None => self.records.push(record),
        }
    }

    /// Grows the map to `len` records with `filler(i)` records (never shrinks it).
    pub fn pad_to(&mut self, len: usize, mut filler: impl FnMut(usize) -> KeyMapRecord) {
        while self.records.len() < len {
            let i = self.records.len();
            self.records.push(filler(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn recorded_keymap() {
        // PUT DATA A000/DF20 after `pkcs11-tool --keypairgen` (bytes recorded from GidsApplet
        // driven by OpenSC 0.23); Windows writes the same record.
        let value = hex!("01 01000000 07 9A 81B0 FFFF 0000");
        let map = KeyMap::decode(&value).unwrap();
        assert_eq!(map.len(), 1);
        let r = map.get(0).unwrap();
        assert!(r.is_in_use());
        assert_eq!(*r, KeyMapRecord::in_use(0x07, KeyRole::Exchange, 0x81));
        assert_eq!(map.encode(), value);
    }

    #[test]
    fn set_grows_with_the_filler() {
        let mut map = KeyMap::default();
        map.set(2, KeyMapRecord::in_use(0x06, KeyRole::Signature, 0x83), |_| KeyMapRecord::deleted());
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(0), Some(&KeyMapRecord::deleted()));
        assert_eq!(map.get(2).unwrap().key_type, KEY_TYPE_SIGNATURE);
        assert_eq!(map.get(2).unwrap().key_file, 0xB083);
        map.pad_to(2, |_| KeyMapRecord::deleted());
        assert_eq!(map.len(), 3);
        map.pad_to(4, |_| KeyMapRecord::deleted());
        assert_eq!(map.len(), 4);
        assert_eq!(&map.encode()[1..13], &hex!("00000000 00 00 FFFF FFFF 0000"));
    }

    #[test]
    fn malformed_keymaps() {
        assert_eq!(KeyMap::decode(&[]).unwrap(), KeyMap::default());
        assert_eq!(KeyMap::decode(&[1]).unwrap().len(), 0);
        assert_eq!(KeyMap::decode(&[2]), Err(Error::Malformed { what: "keymap version is not 1" }));
        assert_eq!(
            KeyMap::decode(&hex!("01 01000000 07 9A 81B0 FFFF 00")),
            Err(Error::Malformed { what: "keymap is truncated (not 1 + 12n bytes)" })
        );
        let mut huge = vec![1u8];
        huge.resize(1 + RECORD_LEN * 5417, 0);
        assert_eq!(KeyMap::decode(&huge), Err(Error::Malformed { what: "keymap longer than 65000 bytes" }));
    }

    proptest! {
        #[test]
        fn decode_encode_is_identity_on_padding_free_input(records in proptest::collection::vec(any::<[u8; 10]>(), 0..30)) {
            let mut bytes = vec![VERSION];
            for r in &records {
                bytes.extend_from_slice(r);
                bytes.extend_from_slice(&[0, 0]);
            }
            prop_assert_eq!(KeyMap::decode(&bytes).unwrap().encode(), bytes);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = KeyMap::decode(&bytes);
        }
    }
}
