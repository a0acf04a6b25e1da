//! `mscp/cmapfile`: the container map (seed 003, "Container map file").
//!
//! Zero or more 86-byte `CONTAINER_MAP_RECORD`s, back to back:
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | `WCHAR wszGuid[40]` | container name, UTF-16LE, NUL-terminated, at most 39 characters, no `\` |
//! | 80 | `BYTE bFlags` | bit 0 VALID (1), bit 1 DEFAULT (2); bits 2–7 reserved |
//! | 81 | `BYTE bReserved` | |
//! | 82 | `WORD wSigKeySizeBits` | little-endian |
//! | 84 | `WORD wKeyExchangeKeySizeBits` | little-endian |
//!
//! A record's index is its container's index (`bContainerIndex`, and the `NN` of `kxcNN`), so
//! deleting a container writes zeros over its record and the file is never packed.
//!
//! Decoding is strict, so that decoded bytes re-encode to the same bytes and a broken file is
//! reported rather than half-read: after the name's NUL the rest of `wszGuid` must be zero (the
//! CSP zeroes the record), `bReserved` and the reserved flag bits must be zero, a record without
//! VALID must be all zeros (seed 003: "the entry is invalidated by writing zeros to the record"),
//! DEFAULT requires VALID, and at most one record is DEFAULT.

use crate::error::{Error, Result};

/// Size of one `CONTAINER_MAP_RECORD`.
pub const RECORD_LEN: usize = 86;
/// `MAX_CONTAINER_NAME_LEN`: longest container name, in UTF-16 code units, without the NUL.
pub const MAX_CONTAINER_NAME_LEN: usize = 39;
/// `CONTAINER_MAP_VALID_CONTAINER`: the record describes a container that exists.
pub const FLAG_VALID: u8 = 0x01;
/// `CONTAINER_MAP_DEFAULT_CONTAINER`: the container is the card's default. Requires VALID.
pub const FLAG_DEFAULT: u8 = 0x02;

const NAME_UNITS: usize = MAX_CONTAINER_NAME_LEN + 1;
const NAME_BYTES: usize = 2 * NAME_UNITS;
const WHAT: &str = "cmapfile";

/// One `CONTAINER_MAP_RECORD`. Fields are private so that every record can be encoded and
/// decoded again: the constructor checks the name and the flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContainerRecord {
    name: Vec<u16>,
    flags: u8,
    sig_key_size_bits: u16,
    key_exchange_key_size_bits: u16,
}

impl ContainerRecord {
    /// The all-zero record of a deleted container or an unused slot.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A record for a container named `name` (usually a GUID string).
    ///
    /// # Errors
    /// [`Error::Malformed`] when the name is longer than 39 UTF-16 units or holds `\` or NUL,
    /// when `flags` has a reserved bit or DEFAULT without VALID, or when a record without VALID
    /// is not all zeros.
    pub fn new(name: &str, flags: u8, sig_key_size_bits: u16, key_exchange_key_size_bits: u16) -> Result<Self> {
        Self::from_utf16(&name.encode_utf16().collect::<Vec<_>>(), flags, sig_key_size_bits, key_exchange_key_size_bits)
    }

    /// Like [`ContainerRecord::new`], from UTF-16 code units (names are not required to be
    /// well-formed UTF-16, and are kept as they are).
    ///
    /// # Errors
    /// As [`ContainerRecord::new`].
    pub fn from_utf16(
        name: &[u16],
        flags: u8,
        sig_key_size_bits: u16,
        key_exchange_key_size_bits: u16,
    ) -> Result<Self> {
        check_name(name)?;
        let record = Self { name: name.to_vec(), flags, sig_key_size_bits, key_exchange_key_size_bits };
        record.check_flags()?;
        Ok(record)
    }

    /// The container name's UTF-16 code units, without the NUL.
    pub fn name_utf16(&self) -> &[u16] {
        &self.name
    }

    /// The container name, with unpaired surrogates replaced by U+FFFD.
    pub fn name(&self) -> String {
        String::from_utf16_lossy(&self.name)
    }

    /// `bFlags`.
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the container exists.
    pub const fn is_valid(&self) -> bool {
        self.flags & FLAG_VALID != 0
    }

    /// Whether the container is the card's default.
    pub const fn is_default(&self) -> bool {
        self.flags & FLAG_DEFAULT != 0
    }

    /// Whether this is an unused (all-zero) slot.
    pub fn is_empty(&self) -> bool {
        *self == Self::empty()
    }

    /// `wSigKeySizeBits`: size of the signature key, 0 when there is none.
    pub const fn sig_key_size_bits(&self) -> u16 {
        self.sig_key_size_bits
    }

    /// `wKeyExchangeKeySizeBits`: size of the key-exchange key, 0 when there is none.
    pub const fn key_exchange_key_size_bits(&self) -> u16 {
        self.key_exchange_key_size_bits
    }

    /// The record's 86 bytes.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        let (name_bytes, tail) = out.split_at_mut(NAME_BYTES);
        for (slot, unit) in name_bytes.chunks_exact_mut(2).zip(&self.name) {
            slot.copy_from_slice(&unit.to_le_bytes());
        }
        let [s0, s1] = self.sig_key_size_bits.to_le_bytes();
        let [k0, k1] = self.key_exchange_key_size_bits.to_le_bytes();
        for (slot, b) in tail.iter_mut().zip([self.flags, 0, s0, s1, k0, k1]) {
            *slot = b;
        }
        out
    }

    /// Reads one record (without the map-wide "one default" rule).
    ///
    /// # Errors
    /// [`Error::Malformed`] for any rule of the module documentation the bytes break.
    pub fn decode(bytes: &[u8; RECORD_LEN]) -> Result<Self> {
        let (name_bytes, tail) = bytes.split_first_chunk::<NAME_BYTES>().ok_or(BUG)?;
        let [flags, reserved, s0, s1, k0, k1] = *<&[u8; 6]>::try_from(tail).map_err(|_| BUG)?;
        let (units, _) = name_bytes.as_chunks::<2>();
        let units: Vec<u16> = units.iter().map(|u| u16::from_le_bytes(*u)).collect();
        let len = units
            .iter()
            .position(|&u| u == 0)
            .ok_or(Error::malformed(WHAT, "container name has no NUL within 40 characters"))?;
        let (name, padding) = units.split_at(len);
        if padding.iter().any(|&u| u != 0) {
            return Err(Error::malformed(WHAT, "non-zero data after the container name"));
        }
        if reserved != 0 {
            return Err(Error::malformed(WHAT, "bReserved is not zero"));
        }
        Self::from_utf16(name, flags, u16::from_le_bytes([s0, s1]), u16::from_le_bytes([k0, k1]))
    }

    fn check_flags(&self) -> Result<()> {
        if self.flags & !(FLAG_VALID | FLAG_DEFAULT) != 0 {
            return Err(Error::malformed(WHAT, "reserved flag bits set"));
        }
        if self.is_default() && !self.is_valid() {
            return Err(Error::malformed(WHAT, "DEFAULT without VALID"));
        }
        if !self.is_valid() && !self.is_empty() {
            return Err(Error::malformed(WHAT, "record without VALID is not all zeros"));
        }
        Ok(())
    }
}

/// A slice split at a constant inside an array of known size cannot fail; reported, never
/// panicked on, should it ever.
const BUG: Error = Error::malformed(WHAT, "internal size mismatch");

fn check_name(name: &[u16]) -> Result<()> {
    if name.len() > MAX_CONTAINER_NAME_LEN {
        return Err(Error::malformed(WHAT, "container name longer than 39 characters"));
    }
    if name.contains(&u16::from(b'\\')) {
        return Err(Error::malformed(WHAT, "container name contains '\\'"));
    }
    if name.contains(&0) {
        return Err(Error::malformed(WHAT, "container name contains NUL"));
    }
    Ok(())
}

/// The content of `mscp/cmapfile`: one record per container index, unused slots included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContainerMap {
    records: Vec<ContainerRecord>,
}

impl ContainerMap {
    /// A map of `records` in index order.
    ///
    /// # Errors
    /// [`Error::Malformed`] when more than one record is DEFAULT.
    pub fn new(records: Vec<ContainerRecord>) -> Result<Self> {
        if records.iter().filter(|r| r.is_default()).count() > 1 {
            return Err(Error::malformed(WHAT, "more than one default container"));
        }
        Ok(Self { records })
    }

    /// Reads `cmapfile`'s bytes.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the size is not a multiple of 86, a record breaks a rule of the
    /// module documentation, or more than one record is DEFAULT.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (records, rest) = bytes.as_chunks::<RECORD_LEN>();
        if !rest.is_empty() {
            return Err(Error::malformed(WHAT, "size is not a multiple of 86"));
        }
        let records = records.iter().map(ContainerRecord::decode).collect::<Result<Vec<_>>>()?;
        Self::new(records)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_LEN * self.records.len());
        for record in &self.records {
            out.extend_from_slice(&record.encode());
        }
        out
    }

    /// Every slot, in index order.
    pub fn records(&self) -> &[ContainerRecord] {
        &self.records
    }

    /// The record at container index `index`.
    pub fn get(&self, index: usize) -> Option<&ContainerRecord> {
        self.records.get(index)
    }

    /// Number of slots (used or not).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the file has no records at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The existing containers with their indexes.
    pub fn valid(&self) -> impl Iterator<Item = (usize, &ContainerRecord)> {
        self.records.iter().enumerate().filter(|(_, r)| r.is_valid())
    }

    /// The default container's index.
    pub fn default_index(&self) -> Option<usize> {
        self.records.iter().position(ContainerRecord::is_default)
    }

    /// The first unused slot, or the index just past the end.
    pub fn first_free(&self) -> usize {
        self.records.iter().position(|r| !r.is_valid()).unwrap_or(self.records.len())
    }

    /// Puts `record` at `index`, growing the map with unused slots when needed.
    ///
    /// # Errors
    /// [`Error::Malformed`] when `record` is DEFAULT and another record already is.
    pub fn set(&mut self, index: usize, record: ContainerRecord) -> Result<()> {
        if record.is_default() && self.records.iter().enumerate().any(|(i, r)| i != index && r.is_default()) {
            return Err(Error::malformed(WHAT, "more than one default container"));
        }
        if index >= self.records.len() {
            self.records.resize(index + 1, ContainerRecord::empty());
        }
        if let Some(slot) = self.records.get_mut(index) {
            *slot = record;
        }
        Ok(())
    }

    /// Deletes the container at `index` by zeroing its record in place (never packing the
    /// file, so other containers keep their indexes). Returns whether a container was there.
    pub fn delete(&mut self, index: usize) -> bool {
        match self.records.get_mut(index) {
            Some(slot) if slot.is_valid() => {
                *slot = ContainerRecord::empty();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use test_vectors::cmapfile as tv;

    fn record(i: usize, bytes: &[u8]) -> &[u8; RECORD_LEN] {
        bytes[i * RECORD_LEN..(i + 1) * RECORD_LEN].try_into().unwrap()
    }

    #[test]
    fn windows_record_on_a_gids_card() {
        let r = ContainerRecord::decode(record(0, tv::GIDS_RSA2048_DEFAULT)).unwrap();
        assert_eq!(r.name(), "257f0362-2ee7-44f5-9885-36fa490f30c1");
        assert_eq!(r.flags(), FLAG_VALID | FLAG_DEFAULT);
        assert!(r.is_valid() && r.is_default());
        assert_eq!(r.sig_key_size_bits(), 0);
        assert_eq!(r.key_exchange_key_size_bits(), 2048);
        assert_eq!(&r.encode(), tv::GIDS_RSA2048_DEFAULT);

        let reserved = ContainerRecord::decode(record(0, tv::GIDS_SLOT_RESERVED)).unwrap();
        assert_eq!(reserved.flags(), FLAG_VALID);
        assert_eq!(reserved.key_exchange_key_size_bits(), 0);
        let default = ContainerRecord::decode(record(0, tv::GIDS_SLOT_DEFAULT)).unwrap();
        assert_eq!(default.flags(), FLAG_VALID | FLAG_DEFAULT);
    }

    #[test]
    fn opensc_record_for_a_piv_ec_key() {
        let map = ContainerMap::decode(tv::OPENSC_PIV_EC256_SIGNATURE).unwrap();
        let r = map.get(0).unwrap();
        assert_eq!(r.name(), "00000000000000010000000000000000");
        assert_eq!(r.sig_key_size_bits(), 256);
        assert_eq!(r.key_exchange_key_size_bits(), 0);
        assert_eq!(map.default_index(), Some(0));
        assert_eq!(map.encode(), tv::OPENSC_PIV_EC256_SIGNATURE);
    }

    #[test]
    fn deleted_record_stays_in_place() {
        let map = ContainerMap::decode(tv::DELETED_BETWEEN_TWO_VALID).unwrap();
        assert_eq!(map.len(), 3);
        assert!(map.get(1).unwrap().is_empty());
        let valid: Vec<_> = map.valid().map(|(i, _)| i).collect();
        assert_eq!(valid, [0, 2]);
        assert_eq!(map.default_index(), Some(0));
        assert_eq!(map.first_free(), 1);
        assert_eq!(map.encode(), tv::DELETED_BETWEEN_TWO_VALID);

        // Deleting the last container zeroes it; the file keeps its size.
        let mut map = map;
        assert!(map.delete(2));
        assert!(!map.delete(2));
        assert!(!map.delete(7));
        assert_eq!(map.len(), 3);
        assert_eq!(&map.encode()[RECORD_LEN..], &[0u8; 2 * RECORD_LEN][..]);
    }

    #[test]
    fn empty_file_is_no_containers() {
        let map = ContainerMap::decode(tv::EMPTY).unwrap();
        assert!(map.is_empty());
        assert_eq!(map.first_free(), 0);
        assert_eq!(map.default_index(), None);
    }

    #[test]
    fn set_grows_and_keeps_one_default() {
        let mut map = ContainerMap::default();
        let a = ContainerRecord::new("a", FLAG_VALID | FLAG_DEFAULT, 0, 2048).unwrap();
        let b = ContainerRecord::new("b", FLAG_VALID | FLAG_DEFAULT, 256, 0).unwrap();
        map.set(2, a).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map.first_free(), 0);
        assert!(matches!(map.set(0, b.clone()), Err(Error::Malformed { .. })));
        map.set(2, b).unwrap(); // replacing the default itself is fine
        assert_eq!(map.get(2).unwrap().name(), "b");
        assert_eq!(map.valid().count(), 1);
    }

    #[test]
    fn record_rules() {
        let too_long = "x".repeat(40);
        let max = "x".repeat(39);
        assert!(ContainerRecord::new(&max, FLAG_VALID, 0, 0).is_ok());
        for (name, flags) in [
            (too_long.as_str(), FLAG_VALID),
            ("a\\b", FLAG_VALID),
            ("a\0b", FLAG_VALID),
            ("a", FLAG_DEFAULT),
            ("a", FLAG_VALID | 0x04),
            ("a", 0x80 | FLAG_VALID),
            ("a", 0),
        ] {
            assert!(
                matches!(ContainerRecord::new(name, flags, 0, 0), Err(Error::Malformed { .. })),
                "{name:?} {flags:#x}"
            );
        }
        assert!(ContainerRecord::new("", 0, 0, 1).is_err());
        assert!(ContainerRecord::new("", 0, 0, 0).unwrap().is_empty());
    }

    fn valid_record() -> impl Strategy<Value = ContainerRecord> {
        (
            proptest::collection::vec(
                any::<u16>().prop_filter("no NUL or backslash", |&u| u != 0 && u != 0x5c),
                0..=MAX_CONTAINER_NAME_LEN,
            ),
            any::<u16>(),
            any::<u16>(),
        )
            .prop_map(|(name, sig, kx)| ContainerRecord::from_utf16(&name, FLAG_VALID, sig, kx).unwrap())
    }

    /// A map of valid and empty slots with at most one default.
    fn map() -> impl Strategy<Value = ContainerMap> {
        (proptest::collection::vec(proptest::option::of(valid_record()), 0..6), any::<proptest::sample::Index>())
            .prop_map(|(slots, default)| {
                let mut records: Vec<_> = slots.into_iter().map(Option::unwrap_or_default).collect();
                if !records.is_empty() {
                    let i = default.index(records.len());
                    if records[i].is_valid() {
                        records[i].flags |= FLAG_DEFAULT;
                    }
                }
                ContainerMap::new(records).unwrap()
            })
    }

    proptest! {
        #[test]
        fn round_trips(map in map()) {
            let bytes = map.encode();
            prop_assert_eq!(bytes.len(), RECORD_LEN * map.len());
            prop_assert_eq!(ContainerMap::decode(&bytes).unwrap(), map);
        }

        #[test]
        fn names_round_trip_as_strings(name in "[^\\\\\\x00]{0,39}") {
            prop_assume!(name.encode_utf16().count() <= MAX_CONTAINER_NAME_LEN);
            let r = ContainerRecord::new(&name, FLAG_VALID, 0, 2048).unwrap();
            prop_assert_eq!(ContainerRecord::decode(&r.encode()).unwrap().name(), name);
        }

        #[test]
        fn decode_then_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(map) = ContainerMap::decode(&bytes) {
                prop_assert_eq!(map.encode(), bytes);
            }
        }

        #[test]
        fn rejects_sizes_not_a_multiple_of_86(map in map(), extra in 1usize..RECORD_LEN) {
            let mut bytes = map.encode();
            bytes.extend(std::iter::repeat_n(0, extra));
            prop_assert!(ContainerMap::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_default_without_valid(r in valid_record()) {
            let mut bytes = r.encode();
            bytes[80] = FLAG_DEFAULT;
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_two_defaults(a in valid_record(), b in valid_record(), gap in 0usize..3) {
            let mut a = a;
            let mut b = b;
            a.flags |= FLAG_DEFAULT;
            b.flags |= FLAG_DEFAULT;
            let mut bytes = a.encode().to_vec();
            for _ in 0..gap {
                bytes.extend_from_slice(&[0u8; RECORD_LEN]);
            }
            bytes.extend_from_slice(&b.encode());
            prop_assert!(ContainerMap::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_a_backslash_anywhere_in_the_name(r in valid_record(), at in 0usize..MAX_CONTAINER_NAME_LEN) {
            let mut bytes = r.encode();
            let at = at.min(r.name_utf16().len().saturating_sub(1));
            bytes[2 * at..2 * at + 2].copy_from_slice(&0x5cu16.to_le_bytes());
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_a_name_without_nul(r in valid_record(), fill in 1u16..) {
            prop_assume!(fill != 0x5c);
            let mut bytes = r.encode();
            for unit in bytes[..NAME_BYTES].chunks_exact_mut(2) {
                if unit == [0, 0] {
                    unit.copy_from_slice(&fill.to_le_bytes());
                }
            }
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_non_zero_padding(
            r in valid_record(),
            offset in 0usize..NAME_BYTES,
            junk in 1u8..,
        ) {
            let mut bytes = r.encode();
            // Any byte after the NUL unit (and before offset 80) must stay zero.
            let first_padding = 2 * (r.name_utf16().len() + 1);
            prop_assume!(offset >= first_padding);
            bytes[offset] = junk;
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_reserved_byte_and_reserved_flags(r in valid_record(), junk in 1u8.., bit in 2u32..8) {
            let mut bytes = r.encode();
            bytes[81] = junk;
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
            let mut bytes = r.encode();
            bytes[80] |= 1 << bit;
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }

        #[test]
        fn rejects_an_invalid_record_that_is_not_zero(r in valid_record()) {
            prop_assume!(!r.name_utf16().is_empty() || r.sig_key_size_bits() != 0 || r.key_exchange_key_size_bits() != 0);
            let mut bytes = r.encode();
            bytes[80] = 0;
            prop_assert!(ContainerRecord::decode(&bytes).is_err());
        }
    }
}
