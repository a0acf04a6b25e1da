//! The master file (`A000`/`DF1F`): the GIDS card's table of logical files, mapping each
//! `directory\file` name of the Base CSP's file system to the BER-TLV EF (FI) and data object
//! (DO) that hold it.
//!
//! Layout (the `gids_mf_record_t` of OpenSC's card-gids.h, as Windows' msclmd writes it): one
//! version byte `01`, then 28-byte records, their count given by the length alone:
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | `char directory[9]` | NUL-padded ANSI; empty for the root |
//! | 9 | `char filename[9]` | NUL-padded ANSI; empty when the record describes a directory |
//! | 18 | 2 bytes | structure padding |
//! | 20 | `int32` LE | data object tag (`DF24`), 0 for a directory |
//! | 24 | `int32` LE | file identifier of the BER-TLV EF (`A010`); `A000` for a directory |
//!
//! Card data is hostile input: names must be NUL-terminated inside their 9 bytes (OpenSC
//! advisory GHSA-324p-w2mr-xmrg was an over-read on unterminated names), the length must be
//! `1 + 28n`, and the whole file at most [`MAX_LEN`] bytes. Names are kept byte for byte (OpenSC
//! writes `kxc0A` in upper case) and compared case-insensitively, as the minidriver's names are.

use vfs::Name;

use crate::error::{Error, Result};

/// The only version byte defined (OpenSC refuses a card whose master file starts otherwise).
pub const VERSION: u8 = 0x01;
/// Size of one record.
pub const RECORD_LEN: usize = 28;
/// Bytes of a name field, the terminating NUL included.
pub const NAME_FIELD_LEN: usize = 9;
/// Largest master file (OpenSC's `MAX_GIDS_FILE_SIZE`, the limit of any GIDS data object).
pub const MAX_LEN: usize = 65_000;
/// The EF that holds directories (and the master file and keymap themselves).
pub const DIRECTORY_FI: u16 = 0xA000;
/// First data object tag a new logical file may take (`DF1F` is the master file, `DF20` the
/// keymap or `cardid`).
pub const FIRST_FILE_DO: u16 = 0xDF21;
/// Last data object tag a new logical file may take.
pub const LAST_FILE_DO: u16 = 0xDFFF;

/// A file or directory name as stored: up to 8 bytes, no NUL.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EntryName {
    len: u8,
    bytes: [u8; NAME_FIELD_LEN - 1],
}

impl EntryName {
    /// The empty name (root directory, or "this record is a directory").
    pub const EMPTY: Self = Self { len: 0, bytes: [0; NAME_FIELD_LEN - 1] };

    /// A name from up to 8 bytes without NUL.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a longer name or one holding NUL.
    pub fn new(raw: &[u8]) -> Result<Self> {
        if raw.len() >= NAME_FIELD_LEN || raw.contains(&0) {
            return Err(Error::InvalidArgument("a GIDS master file name has at most 8 bytes and no NUL"));
        }
        let mut bytes = [0; NAME_FIELD_LEN - 1];
        for (slot, b) in bytes.iter_mut().zip(raw) {
            *slot = *b;
        }
        Ok(Self { len: u8::try_from(raw.len()).unwrap_or(0), bytes })
    }

    /// The stored form of a file system name (already lower-cased).
    pub fn from_name(name: &Name) -> Self {
        Self::new(name.as_bytes()).unwrap_or(Self::EMPTY)
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Whether the name is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file system name (lower-cased), or `None` for an empty name or bytes no minidriver
    /// name can hold.
    pub fn to_name(&self) -> Option<Name> {
        Name::new(self.as_bytes()).ok()
    }

    /// Whether this is `name`, ignoring ASCII case.
    pub fn matches(&self, name: &Name) -> bool {
        self.as_bytes().eq_ignore_ascii_case(name.as_bytes())
    }

    fn decode(field: &[u8]) -> Result<Self> {
        let len = field
            .iter()
            .position(|b| *b == 0)
            .ok_or(Error::Malformed { what: "master file name is not NUL-terminated" })?;
        let raw = field.get(..len).ok_or(Error::Malformed { what: "master file name" })?;
        Self::new(raw).map_err(|_| Error::Malformed { what: "master file name" })
    }
}

impl core::fmt::Debug for EntryName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One master file record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// The directory (empty for the root).
    pub directory: EntryName,
    /// The file name (empty when the record describes `directory` itself).
    pub file: EntryName,
    /// The data object tag holding the file (0 for a directory).
    pub data_object: u16,
    /// The BER-TLV EF holding the data object.
    pub file_id: u16,
}

impl Record {
    /// A file record.
    pub fn file(directory: EntryName, file: EntryName, file_id: u16, data_object: u16) -> Self {
        Self { directory, file, data_object, file_id }
    }

    /// A directory record (GIDS: empty file name, DO 0, FI `A000`).
    pub fn directory(name: EntryName) -> Self {
        Self { directory: name, file: EntryName::EMPTY, data_object: 0, file_id: DIRECTORY_FI }
    }

    /// Whether the record describes a directory.
    pub fn is_directory(&self) -> bool {
        self.file.is_empty()
    }

    fn decode(bytes: &[u8; RECORD_LEN]) -> Result<Self> {
        let (dir, rest) = bytes.split_at(NAME_FIELD_LEN);
        let (file, rest) = rest.split_at(NAME_FIELD_LEN);
        let [_, _, d0, d1, d2, d3, f0, f1, f2, f3] = *<&[u8; 10]>::try_from(rest).map_err(|_| BUG)?;
        let data_object = u16::try_from(u32::from_le_bytes([d0, d1, d2, d3]))
            .map_err(|_| Error::Malformed { what: "master file data object tag above FFFF" })?;
        let file_id = u16::try_from(u32::from_le_bytes([f0, f1, f2, f3]))
            .map_err(|_| Error::Malformed { what: "master file file identifier above FFFF" })?;
        Ok(Self { directory: EntryName::decode(dir)?, file: EntryName::decode(file)?, data_object, file_id })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for name in [self.directory, self.file] {
            let mut field = [0u8; NAME_FIELD_LEN];
            for (slot, b) in field.iter_mut().zip(name.as_bytes()) {
                *slot = *b;
            }
            out.extend_from_slice(&field);
        }
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&u32::from(self.data_object).to_le_bytes());
        out.extend_from_slice(&u32::from(self.file_id).to_le_bytes());
    }
}

/// A split at constants inside an array of known size cannot fail; reported, never panicked on.
const BUG: Error = Error::Malformed { what: "master file record (internal size mismatch)" };

/// The master file: records in card order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MasterFile {
    records: Vec<Record>,
}

impl MasterFile {
    /// The master file GIDS personalisation writes (Microsoft's GIDS electrical profile, as
    /// OpenSC's `gids-tool --initialize` and GidsApplet's tests do): `mscp`, `cardid`, `cardapps`,
    /// `cardcf`, `mscp/cmapfile`.
    pub fn initial() -> Self {
        let root = EntryName::EMPTY;
        let mscp = EntryName::from_name(&vfs::well_known::MSCP);
        let name = |n: &Name| EntryName::from_name(n);
        Self {
            records: vec![
                Record::directory(mscp),
                Record::file(root, name(&vfs::well_known::CARDID), 0xA012, 0xDF20),
                Record::file(root, name(&vfs::well_known::CARDAPPS), 0xA010, 0xDF21),
                Record::file(root, name(&vfs::well_known::CARDCF), 0xA010, 0xDF22),
                Record::file(mscp, name(&vfs::well_known::CMAPFILE), 0xA010, 0xDF23),
            ],
        }
    }

    /// Reads the data object's value.
    ///
    /// # Errors
    /// [`Error::Malformed`] for an empty or over-long file, a version other than 1, a length
    /// that is not `1 + 28n`, an unterminated name, or tags above `FFFF`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_LEN {
            return Err(Error::Malformed { what: "master file longer than 65000 bytes" });
        }
        let (&version, body) = bytes.split_first().ok_or(Error::Malformed { what: "master file is empty" })?;
        if version != VERSION {
            return Err(Error::Malformed { what: "master file version is not 1" });
        }
        let (records, rest) = body.as_chunks::<RECORD_LEN>();
        if !rest.is_empty() {
            return Err(Error::Malformed { what: "master file is truncated (not 1 + 28n bytes)" });
        }
        Ok(Self { records: records.iter().map(Record::decode).collect::<Result<_>>()? })
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

    /// Every record, in card order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The record of file `file` in `dir` (`None`: the root).
    pub fn file(&self, dir: Option<&Name>, file: &Name) -> Option<&Record> {
        self.records.iter().find(|r| !r.is_directory() && same_dir(r, dir) && r.file.matches(file))
    }

    /// The record of directory `name`.
    pub fn directory(&self, name: &Name) -> Option<&Record> {
        self.records.iter().find(|r| r.is_directory() && r.directory.matches(name))
    }

    /// The files of `dir` (`None`: the root), in card order.
    pub fn files_in<'a>(&'a self, dir: Option<&'a Name>) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| !r.is_directory() && same_dir(r, dir))
    }

    /// The directories, in card order.
    pub fn directories(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.is_directory() && !r.directory.is_empty())
    }

    /// Appends a record.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a record of that name exists, or a file record reuses a
    /// data object another file holds.
    pub fn add(&mut self, record: Record) -> Result<()> {
        let clash = self.records.iter().any(|r| {
            let same_name = r.directory.as_bytes().eq_ignore_ascii_case(record.directory.as_bytes())
                && r.file.as_bytes().eq_ignore_ascii_case(record.file.as_bytes());
            let same_object = !record.is_directory()
                && !r.is_directory()
                && r.file_id == record.file_id
                && r.data_object == record.data_object;
            same_name || same_object
        });
        if clash {
            return Err(Error::InvalidArgument("the master file already holds this name or data object"));
        }
        self.records.push(record);
        Ok(())
    }

    /// Removes the record of file `file` in `dir`, shifting the later ones (as OpenSC and
    /// msclmd do), and returns it.
    pub fn remove_file(&mut self, dir: Option<&Name>, file: &Name) -> Option<Record> {
        let i = self.records.iter().position(|r| !r.is_directory() && same_dir(r, dir) && r.file.matches(file))?;
        Some(self.records.remove(i))
    }

    /// Removes the record of directory `name` and returns it.
    pub fn remove_directory(&mut self, name: &Name) -> Option<Record> {
        let i = self.records.iter().position(|r| r.is_directory() && r.directory.matches(name))?;
        Some(self.records.remove(i))
    }

    /// The first data object tag from `DF21` that no file record of EF `file_id` uses: where a
    /// new file of that EF goes (OpenSC's `gids_find_available_DO`). `None` when all are taken.
    pub fn first_free_data_object(&self, file_id: u16) -> Option<u16> {
        (FIRST_FILE_DO..=LAST_FILE_DO).find(|tag| {
            !self.records.iter().any(|r| !r.is_directory() && r.file_id == file_id && r.data_object == *tag)
        })
    }
}

fn same_dir(r: &Record, dir: Option<&Name>) -> bool {
    match dir {
        None => r.directory.is_empty(),
        Some(d) => r.directory.matches(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::transcript;
    use proptest::prelude::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn recorded_master_file_has_six_records() {
        // Bytes recorded from GidsApplet driven by OpenSC 0.23 (GET DATA A000/DF1F).
        let mf = MasterFile::decode(&transcript::master_file_value()).unwrap();
        assert_eq!(mf.records().len(), 6);
        let mscp = name("mscp");
        assert!(mf.directory(&mscp).is_some());
        let cardid = mf.file(None, &name("cardid")).unwrap();
        assert_eq!((cardid.file_id, cardid.data_object), (0xA012, 0xDF20));
        let cmap = mf.file(Some(&mscp), &name("cmapfile")).unwrap();
        assert_eq!((cmap.file_id, cmap.data_object), (0xA010, 0xDF23));
        let cert = mf.file(Some(&mscp), &name("kxc00")).unwrap();
        assert_eq!((cert.file_id, cert.data_object), (0xA010, 0xDF24));
        assert!(mf.file(None, &name("kxc00")).is_none());
        assert_eq!(mf.encode(), transcript::master_file_value());
        assert_eq!(mf.first_free_data_object(0xA010), Some(0xDF25));
        assert_eq!(mf.first_free_data_object(0xA012), Some(0xDF21));
        let roots: Vec<_> = mf.files_in(None).map(|r| r.file.to_name().unwrap()).collect();
        assert_eq!(roots, [name("cardid"), name("cardapps"), name("cardcf")]);
    }

    #[test]
    fn initial_master_file_is_the_personalisation_one() {
        // The 141-byte master file of gids-tool --initialize (bytes recorded from GidsApplet
        // driven by OpenSC 0.23, PUT DATA A000/DF1F).
        let recorded = &transcript::master_file_value()[..141];
        assert_eq!(MasterFile::initial().encode(), recorded);
        assert_eq!(MasterFile::initial().first_free_data_object(0xA010), Some(0xDF24));
    }

    #[test]
    fn add_and_remove() {
        let mut mf = MasterFile::initial();
        let mscp = EntryName::from_name(&name("mscp"));
        mf.add(Record::file(mscp, EntryName::new(b"kxc0A").unwrap(), 0xA010, 0xDF24)).unwrap();
        // Upper-case hex (OpenSC's "kxc%02X") is found by the lower-cased minidriver name.
        assert!(mf.file(Some(&name("mscp")), &name("kxc0a")).is_some());
        assert!(mf.add(Record::file(mscp, EntryName::new(b"KXC0A").unwrap(), 0xA010, 0xDF25)).is_err());
        assert!(mf.add(Record::file(mscp, EntryName::new(b"other").unwrap(), 0xA010, 0xDF24)).is_err());
        assert!(mf.add(Record::directory(mscp)).is_err());
        assert_eq!(mf.first_free_data_object(0xA010), Some(0xDF25));
        assert!(mf.remove_file(Some(&name("mscp")), &name("kxc0a")).is_some());
        assert!(mf.remove_file(Some(&name("mscp")), &name("kxc0a")).is_none());
        assert_eq!(mf, MasterFile::initial());
        assert!(mf.remove_directory(&name("mscp")).is_some());
        assert_eq!(mf.directories().count(), 0);
        assert!(EntryName::new(b"123456789").is_err());
    }

    #[test]
    fn malformed_master_files() {
        let good = MasterFile::initial().encode();
        let mut unterminated = good.clone();
        // The cardid record's file name: 9 bytes without NUL.
        unterminated[1 + RECORD_LEN + 9..1 + RECORD_LEN + 18].copy_from_slice(b"cardidxyz");
        let mut wide_tag = good.clone();
        wide_tag[1 + RECORD_LEN + 22] = 1;
        for (bytes, what) in [
            (&[][..], "master file is empty"),
            (&[0x02][..], "master file version is not 1"),
            (&good[..good.len() - 1], "master file is truncated (not 1 + 28n bytes)"),
            (&unterminated[..], "master file name is not NUL-terminated"),
            (&wide_tag[..], "master file data object tag above FFFF"),
        ] {
            assert_eq!(MasterFile::decode(bytes), Err(Error::Malformed { what }), "{what}");
        }
        let mut huge = vec![VERSION];
        huge.resize(1 + RECORD_LEN * 2322, 0);
        assert_eq!(MasterFile::decode(&huge), Err(Error::Malformed { what: "master file longer than 65000 bytes" }));
        // Only the version byte: no records.
        assert!(MasterFile::decode(&[VERSION]).unwrap().records().is_empty());
    }

    fn entry() -> impl Strategy<Value = EntryName> {
        proptest::collection::vec(1u8..=255, 0..=8).prop_map(|v| EntryName::new(&v).unwrap())
    }

    proptest! {
        #[test]
        fn round_trips(records in proptest::collection::vec((entry(), entry(), any::<u16>(), any::<u16>()), 0..20)) {
            let mf = MasterFile {
                records: records.into_iter().map(|(d, f, o, i)| Record { directory: d, file: f, data_object: o, file_id: i }).collect(),
            };
            prop_assert_eq!(MasterFile::decode(&mf.encode()).unwrap(), mf);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(mf) = MasterFile::decode(&bytes) {
                prop_assert_eq!(mf.records().len(), (bytes.len() - 1) / RECORD_LEN);
            }
        }
    }
}
