//! The Base CSP's logical file system, natively on the card: every file is a data object
//! found through the master file, stored byte for byte (certificates too, in the compressed
//! form the CSP writes: `fCertificateCompression` is FALSE). `cardid` (A012/DF20) and
//! `cardcf` (A010/DF22) are at their fixed places, read before the master file is.
//!
//! The EF a file lives in is its access condition (GIDS electrical profile ACLs; the card
//! enforces them itself and answers `69 82`):
//!
//! | EF | `CARD_FILE_ACCESS_CONDITION` |
//! |---|---|
//! | `A010` (and `A000`) | `EveryoneReadUserWriteAc` |
//! | `A011` | `UserWriteExecuteAc` |
//! | `A012` | `EveryoneReadAdminWriteAc` |
//! | `A013` | `UserReadWriteAc` |
//! | `A014` | `AdminReadWriteAc` |
//!
//! A new file takes the EF of its access condition and the first data object from `DF21`
//! that no file of that EF uses; its data object exists once written (an absent one reads as
//! an empty file). A directory is a master file record with an empty file name, DO 0, FI
//! `A000`. Before each change the files counter of `cardcf` is bumped, as OpenSC does; the
//! CSP's own writes of `cardcf` are stored as they are.

use vfs::well_known::{self, CARDCF, CARDID, CMAPFILE, MSCP};
use vfs::{AccessCondition, DirAccessCondition, FileInfo, FilePath, FreeSpace, Name, Storage};

use super::containers::{cmapfile_location, decode_cmapfile};
use super::edge::{self, Freshness, GidsEdge};
use super::keyfile::MAX_CONTAINERS;
use super::masterfile::{EntryName, MasterFile, Record};
use crate::error::{Error, Result};
use crate::transport::Transport;

/// The access condition of files in EF `fi`.
pub fn access_condition_of(fi: u16) -> AccessCondition {
    match fi {
        0xA000 | 0xA010 => AccessCondition::EVERYONE_READ_USER_WRITE,
        0xA011 => AccessCondition::USER_WRITE_EXECUTE,
        0xA012 => AccessCondition::EVERYONE_READ_ADMIN_WRITE,
        0xA013 => AccessCondition::USER_READ_WRITE,
        0xA014 => AccessCondition::ADMIN_READ_WRITE,
        _ => AccessCondition::UNKNOWN,
    }
}

/// The EF that gives a new file `condition`, `None` for conditions no EF has.
pub fn file_id_for(condition: AccessCondition) -> Option<u16> {
    match condition {
        AccessCondition::EVERYONE_READ_USER_WRITE => Some(0xA010),
        AccessCondition::USER_WRITE_EXECUTE => Some(0xA011),
        AccessCondition::EVERYONE_READ_ADMIN_WRITE => Some(0xA012),
        AccessCondition::USER_READ_WRITE => Some(0xA013),
        AccessCondition::ADMIN_READ_WRITE => Some(0xA014),
        _ => None,
    }
}

/// Where a file's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    CardId,
    CardCf,
    Object(u16, u16),
}

impl<T: Transport> GidsEdge<T> {
    fn check_dir(mf: &MasterFile, dir: Option<&Name>) -> Result<()> {
        match dir {
            Some(d) if mf.directory(d).is_none() => Err(vfs::Error::DirNotFound.into()),
            _ => Ok(()),
        }
    }

    fn locate(&mut self, path: &FilePath) -> Result<(Location, AccessCondition)> {
        match (path.dir, path.file) {
            (None, f) if f == CARDID => return Ok((Location::CardId, access_condition_of(edge::CARDID.0))),
            (None, f) if f == CARDCF => return Ok((Location::CardCf, access_condition_of(edge::CARDCF.0))),
            _ => {}
        }
        let mf = self.master_file()?;
        Self::check_dir(&mf, path.dir.as_ref())?;
        let r = mf.file(path.dir.as_ref(), &path.file).ok_or(vfs::Error::FileNotFound)?;
        // `cardapps` lives in A010 (user-writable) on GIDS cards, but the Minidriver
        // Specification gives it EveryoneReadAdminWriteAc (§6.2): the stricter condition wins.
        let condition = match well_known::default_access_condition(path) {
            Some(spec) if path.dir.is_none() => spec,
            _ => access_condition_of(r.file_id),
        };
        Ok((Location::Object(r.file_id, r.data_object), condition))
    }

    fn content(&mut self, location: Location) -> Result<Vec<u8>> {
        match location {
            // A card without one (factory-new) has no such file: not a malformed card.
            Location::CardId => Ok(self.stored_card_id()?.ok_or(vfs::Error::FileNotFound)?.to_vec()),
            Location::CardCf => {
                // Validated as a cache file, returned as stored.
                self.cardcf()?;
                self.cardcf_bytes()
            }
            // A data object not written yet is an empty file.
            Location::Object(fi, tag) => Ok(self.object(fi, tag)?.unwrap_or_default()),
        }
    }

    /// Adds `record` to the master file and writes it (after the files counter).
    fn add_record(&mut self, mut mf: MasterFile, record: Record) -> Result<()> {
        mf.add(record).map_err(|_| vfs::Error::FileExists)?;
        if mf.encode().len() > edge::MAX_OBJECT_LEN {
            return Err(vfs::Error::OutOfSpace.into());
        }
        self.bump(Freshness::Files)?;
        self.store_master_file(&mf)
    }
}

impl<T: Transport> GidsEdge<T> {
    /// `CardQueryFreeSpace`: containers from the `cmapfile` slots in use and the 126 key
    /// references; bytes unknown (GIDS has no standard way to ask for free memory).
    ///
    /// # Errors
    /// Malformed master file or `cmapfile`; transport failures.
    pub fn free_space(&mut self) -> Result<FreeSpace> {
        let mf = self.master_file()?;
        let used = match cmapfile_location(&mf) {
            Some((fi, tag)) => {
                let raw = self.object(fi, tag)?.unwrap_or_default();
                decode_cmapfile(&raw)?.records().iter().take(MAX_CONTAINERS).filter(|r| r.is_valid()).count()
            }
            None => 0,
        };
        Ok(FreeSpace {
            bytes_available: None,
            containers_available: u32::try_from(MAX_CONTAINERS.saturating_sub(used)).ok(),
            max_containers: u32::try_from(MAX_CONTAINERS).ok(),
        })
    }
}

impl<T: Transport> Storage for GidsEdge<T> {
    type Error = Error;

    fn read_file(&mut self, path: &FilePath) -> Result<Vec<u8>> {
        let (location, _) = self.locate(path)?;
        self.content(location)
    }

    fn write_file(&mut self, path: &FilePath, data: &[u8]) -> Result<()> {
        let (location, _) = self.locate(path)?;
        match location {
            Location::CardCf => self.write_cardcf(data),
            Location::CardId => {
                vfs::cardid::CardId::decode(data)?;
                self.bump(Freshness::Files)?;
                self.store(edge::CARDID, data)
            }
            Location::Object(fi, tag) => {
                if path.dir == Some(MSCP) && path.file == CMAPFILE {
                    // The CSP's container map must stay readable: a broken one would hide
                    // every container.
                    vfs::cmapfile::ContainerMap::decode(data)?;
                }
                if data.len() > edge::MAX_OBJECT_LEN {
                    return Err(vfs::Error::OutOfSpace.into());
                }
                self.bump(Freshness::Files)?;
                self.store((fi, tag), data)
            }
        }
    }

    fn create_file(&mut self, path: &FilePath, access_condition: AccessCondition, _initial_size: u32) -> Result<()> {
        if path.dir.is_none() && (path.file == CARDID || path.file == CARDCF) {
            return Err(vfs::Error::FileExists.into());
        }
        let mf = self.master_file()?;
        Self::check_dir(&mf, path.dir.as_ref())?;
        let taken = mf.file(path.dir.as_ref(), &path.file).is_some()
            || (path.dir.is_none() && mf.directory(&path.file).is_some());
        if taken {
            return Err(vfs::Error::FileExists.into());
        }
        let fi = file_id_for(access_condition).ok_or(vfs::Error::InvalidAccessCondition(access_condition))?;
        let tag = mf.first_free_data_object(fi).ok_or(vfs::Error::OutOfSpace)?;
        let dir = path.dir.as_ref().map_or(EntryName::EMPTY, EntryName::from_name);
        self.add_record(mf, Record::file(dir, EntryName::from_name(&path.file), fi, tag))
    }

    fn delete_file(&mut self, path: &FilePath) -> Result<()> {
        let (location, _) = self.locate(path)?;
        let Location::Object(fi, tag) = location else { return Err(vfs::Error::ReadOnly.into()) };
        let mut mf = self.master_file()?;
        mf.remove_file(path.dir.as_ref(), &path.file);
        self.bump(Freshness::Files)?;
        // Empty the data object first (OpenSC's order), then drop the record.
        self.store((fi, tag), &[])?;
        self.store_master_file(&mf)
    }

    fn create_dir(&mut self, name: &Name, access_condition: DirAccessCondition) -> Result<()> {
        if access_condition != DirAccessCondition::USER_CREATE_DELETE {
            return Err(Error::Unsupported("GIDS directories are UserCreateDeleteDirAc"));
        }
        let mf = self.master_file()?;
        if mf.directory(name).is_some() || mf.file(None, name).is_some() || *name == CARDID || *name == CARDCF {
            return Err(vfs::Error::FileExists.into());
        }
        self.add_record(mf, Record::directory(EntryName::from_name(name)))
    }

    fn delete_dir(&mut self, name: &Name) -> Result<()> {
        let mut mf = self.master_file()?;
        Self::check_dir(&mf, Some(name))?;
        if mf.files_in(Some(name)).next().is_some() {
            return Err(vfs::Error::DirNotEmpty.into());
        }
        mf.remove_directory(name);
        self.bump(Freshness::Files)?;
        self.store_master_file(&mf)
    }

    fn list(&mut self, dir: Option<&Name>) -> Result<Vec<Name>> {
        let mf = self.master_file()?;
        Self::check_dir(&mf, dir)?;
        let mut names: Vec<Name> = Vec::new();
        for r in mf.files_in(dir) {
            // Bytes no minidriver name can hold cannot be asked for either.
            if let Some(n) = r.file.to_name()
                && !names.contains(&n)
            {
                names.push(n);
            }
        }
        if dir.is_none() {
            for fixed in [CARDID, CARDCF] {
                if !names.contains(&fixed) {
                    names.push(fixed);
                }
            }
        }
        Ok(names)
    }

    fn list_dirs(&mut self) -> Result<Vec<Name>> {
        let mf = self.master_file()?;
        Ok(mf.directories().filter_map(|r| r.directory.to_name()).collect())
    }

    fn file_info(&mut self, path: &FilePath) -> Result<FileInfo> {
        let (location, access_condition) = self.locate(path)?;
        let size = u32::try_from(self.content(location)?.len()).map_err(|_| Error::Malformed { what: "file size" })?;
        Ok(FileInfo { size, access_condition })
    }

    fn access_condition(&mut self, path: &FilePath) -> Result<AccessCondition> {
        Ok(self.locate(path)?.1)
    }

    fn dir_access_condition(&mut self, name: &Name) -> Result<DirAccessCondition> {
        let mf = self.master_file()?;
        Self::check_dir(&mf, Some(name))?;
        Ok(well_known::MSCP_DIR_ACCESS_CONDITION)
    }

    fn free_space(&mut self) -> Result<FreeSpace> {
        Self::free_space(self)
    }

    fn can_write(&mut self, _path: &FilePath) -> bool {
        // The card enforces its own ACLs (69 82 becomes SCARD_W_SECURITY_VIOLATION).
        true
    }

    fn can_write_dir(&mut self, _name: &Name) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;
    use crate::transport::memory::MemoryCard;

    fn path(s: &str) -> FilePath {
        FilePath::parse(s).unwrap()
    }

    /// The recorded card after key generation (cardcf 00 00 0100 0200, initial master file).
    fn generated() -> (Script, GidsEdge<MemoryCard>) {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", t::CARDCF_BEFORE_CERT_RESPONSE);
        script.expect(t::MASTER_FILE_COMMAND, t::INITIAL_MASTER_FILE_RESPONSE);
        assert_eq!(edge.list(None).unwrap().len(), 3);
        assert_eq!(script.done(), 3);
        (script, edge)
    }

    /// Creating and writing `mscp/kxc00` sends what OpenSC's `gids_save_certificate` sends
    /// (bytes recorded from GidsApplet driven by OpenSC 0.23), less its GETs of `cardcf`: files
    /// counter, master file with the new record (A010/DF24), files counter, the certificate in
    /// four chained parts.
    #[test]
    fn certificate_write_is_opensc_compatible() {
        let (script, mut edge) = generated();
        script.expect(t::CARDCF_PUT_1_COMMAND, "9000");
        script.expect(t::MASTER_FILE_PUT_COMMAND, "9000");
        script.expect(t::CARDCF_PUT_2_COMMAND, "9000");
        for part in [
            t::CERTIFICATE_PUT_1_COMMAND,
            t::CERTIFICATE_PUT_2_COMMAND,
            t::CERTIFICATE_PUT_3_COMMAND,
            t::CERTIFICATE_PUT_4_COMMAND,
        ] {
            script.expect(part, "9000");
        }
        let kxc00 = path("mscp/kxc00");
        edge.create_file(&kxc00, AccessCondition::EVERYONE_READ_USER_WRITE, 0).unwrap();
        edge.write_file(&kxc00, &t::certificate_value()).unwrap();
        assert_eq!(script.done(), 7);
        // Read back from the cache, byte for byte (stored compressed).
        assert_eq!(edge.read_file(&kxc00).unwrap(), t::certificate_value());
        let info = edge.file_info(&kxc00).unwrap();
        assert_eq!(info.size, 805);
        assert_eq!(info.access_condition, AccessCondition::EVERYONE_READ_USER_WRITE);
        assert_eq!(edge.list(Some(&MSCP)).unwrap(), [CMAPFILE, Name::parse("kxc00").unwrap()]);
        assert_eq!(
            edge.create_file(&kxc00, AccessCondition::EVERYONE_READ_USER_WRITE, 0),
            Err(vfs::Error::FileExists.into())
        );
        assert_eq!(script.done(), 0);
    }

    #[test]
    fn files_in_other_access_conditions_and_deletion() {
        let (script, mut edge) = generated();
        let secret = path("mscp/secret");
        let mut mf = MasterFile::decode(&t::initial_master_file_value()).unwrap();
        mf.add(Record::file(EntryName::from_name(&MSCP), EntryName::new(b"secret").unwrap(), 0xA014, 0xDF21)).unwrap();
        let mf_put = |mf: &MasterFile| {
            let mut data = crate::iso7816::tlv::encode(crate::iso7816::Tag(0xDF1F), &mf.encode()).unwrap();
            let mut cmd = vec![0x00, 0xDB, 0xA0, 0x00, u8::try_from(data.len()).unwrap()];
            cmd.append(&mut data);
            cmd
        };
        script.expect("00DBA01009DF2206000001000300", "9000");
        script.expect_bytes(&mf_put(&mf), &[0x90, 0x00]);
        edge.create_file(&secret, AccessCondition::ADMIN_READ_WRITE, 0).unwrap();
        assert_eq!(edge.access_condition(&secret).unwrap(), AccessCondition::ADMIN_READ_WRITE);
        // Without the admin the card refuses; the edge reports the card's answer.
        script.expect("00CBA014045C02DF2100", "6982");
        assert_eq!(edge.read_file(&secret), Err(Error::SecurityStatusNotSatisfied));
        // Deleting: files counter, empty data object, master file without the record.
        script.expect("00DBA01009DF2206000001000400", "9000");
        script.expect("00DBA01403DF2100", "9000");
        script.expect_bytes(&mf_put(&MasterFile::decode(&t::initial_master_file_value()).unwrap()), &[0x90, 0x00]);
        edge.delete_file(&secret).unwrap();
        assert_eq!(edge.read_file(&secret), Err(vfs::Error::FileNotFound.into()));
        assert_eq!(edge.read_file(&path("other/x")), Err(vfs::Error::DirNotFound.into()));
        assert!(matches!(
            edge.create_file(&path("mscp/x"), AccessCondition::UNKNOWN, 0),
            Err(Error::Vfs(vfs::Error::InvalidAccessCondition(_)))
        ));
        assert_eq!(script.done(), 6);
    }

    #[test]
    fn directories() {
        let (script, mut edge) = generated();
        let mut mf = MasterFile::decode(&t::initial_master_file_value()).unwrap();
        mf.add(Record::directory(EntryName::new(b"app").unwrap())).unwrap();
        let mut put = vec![0x00, 0xDB, 0xA0, 0x00, 0xAD];
        put.extend(crate::iso7816::tlv::encode(crate::iso7816::Tag(0xDF1F), &mf.encode()).unwrap());
        script.expect("00DBA01009DF2206000001000300", "9000");
        script.expect_bytes(&put, &[0x90, 0x00]);
        let app = Name::parse("app").unwrap();
        edge.create_dir(&app, DirAccessCondition::USER_CREATE_DELETE).unwrap();
        assert_eq!(edge.list_dirs().unwrap(), [MSCP, app]);
        assert!(edge.list(Some(&app)).unwrap().is_empty());
        assert_eq!(edge.create_dir(&app, DirAccessCondition::USER_CREATE_DELETE), Err(vfs::Error::FileExists.into()));
        assert!(matches!(
            edge.create_dir(&Name::parse("b").unwrap(), DirAccessCondition::ADMIN_CREATE_DELETE),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(edge.delete_dir(&MSCP), Err(vfs::Error::DirNotEmpty.into()));
        assert_eq!(edge.dir_access_condition(&app).unwrap(), DirAccessCondition::USER_CREATE_DELETE);
        assert_eq!(script.done(), 2);
    }

    #[test]
    fn root_listing_and_fixed_files() {
        let (script, mut edge) = generated();
        let names: Vec<String> = edge.list(None).unwrap().iter().map(|n| n.as_str().to_owned()).collect();
        assert_eq!(names, ["cardid", "cardapps", "cardcf"]);
        assert_eq!(edge.access_condition(&path("cardid")).unwrap(), AccessCondition::EVERYONE_READ_ADMIN_WRITE);
        assert_eq!(edge.access_condition(&path("cardcf")).unwrap(), AccessCondition::EVERYONE_READ_USER_WRITE);
        // cardcf is the checked copy: no APDU.
        assert_eq!(edge.read_file(&path("cardcf")).unwrap(), t::data(t::CARDCF_BEFORE_CERT_RESPONSE)[3..]);
        script.expect("00CBA010045C02DF2100", "DF21086D736370000000009000");
        assert_eq!(edge.read_file(&path("cardapps")).unwrap(), b"mscp\0\0\0\0");
        script.expect(t::CMAPFILE_COMMAND, "DF23009000");
        let free = edge.free_space().unwrap();
        assert_eq!(
            (free.containers_available, free.max_containers, free.bytes_available),
            (Some(126), Some(126), None)
        );
        assert_eq!(Storage::free_space(&mut edge).unwrap(), free);
        assert!(matches!(
            edge.write_file(&path("mscp/cmapfile"), &[0; 85]),
            Err(Error::Vfs(vfs::Error::Malformed { .. }))
        ));
        assert!(edge.can_write(&path("cardid")));
        assert_eq!(script.done(), 2);
    }

    #[test]
    fn access_condition_table() {
        for (ac, fi) in [(1, 0xA010), (2, 0xA011), (3, 0xA012), (5, 0xA013), (6, 0xA014)] {
            assert_eq!(file_id_for(AccessCondition(ac)), Some(fi));
            assert_eq!(access_condition_of(fi), AccessCondition(ac));
        }
        assert_eq!(file_id_for(AccessCondition::UNKNOWN), None);
        assert_eq!(access_condition_of(0xA000), AccessCondition::EVERYONE_READ_USER_WRITE);
        assert_eq!(access_condition_of(0xB081), AccessCondition::UNKNOWN);
    }
}
