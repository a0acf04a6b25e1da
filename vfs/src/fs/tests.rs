//! The rules of seed 003 as seen through [`Vfs`], over a small in-memory card.

use std::collections::BTreeMap;

use super::*;
use crate::cmapfile::ContainerMap;
use crate::error::NameError;
use crate::well_known;

const E: Principals = Principals::EVERYONE;
const U: Principals = Principals::USER;
const A: Principals = Principals::ADMIN;
const UA: Principals = Principals::USER_AND_ADMIN;

const ERUW: AccessCondition = AccessCondition::EVERYONE_READ_USER_WRITE;
const ERAW: AccessCondition = AccessCondition::EVERYONE_READ_ADMIN_WRITE;
const UWX: AccessCondition = AccessCondition::USER_WRITE_EXECUTE;
const URW: AccessCondition = AccessCondition::USER_READ_WRITE;
const ARW: AccessCondition = AccessCondition::ADMIN_READ_WRITE;
const USER_DIR: DirAccessCondition = DirAccessCondition::USER_CREATE_DELETE;
const ADMIN_DIR: DirAccessCondition = DirAccessCondition::ADMIN_CREATE_DELETE;

/// A card in memory. It records every call, so tests can check that refused operations never
/// reach it, and it can be made unable to write.
#[derive(Debug, Default)]
struct Mem {
    files: BTreeMap<FilePath, (Vec<u8>, AccessCondition)>,
    dirs: BTreeMap<Name, DirAccessCondition>,
    writable: bool,
    calls: Vec<&'static str>,
}

impl Mem {
    fn has_dir(&self, dir: Option<&Name>) -> bool {
        dir.is_none_or(|d| self.dirs.contains_key(d))
    }

    fn lookup(&self, path: &FilePath) -> Result<&(Vec<u8>, AccessCondition), Error> {
        if !self.has_dir(path.dir.as_ref()) {
            return Err(Error::DirNotFound);
        }
        self.files.get(path).ok_or(Error::FileNotFound)
    }

    fn content(&self, path: &str) -> Option<&[u8]> {
        self.files.get(&p(path)).map(|(d, _)| d.as_slice())
    }
}

impl Storage for Mem {
    type Error = Error;

    fn read_file(&mut self, path: &FilePath) -> Result<Vec<u8>, Error> {
        self.calls.push("read_file");
        Ok(self.lookup(path)?.0.clone())
    }

    fn write_file(&mut self, path: &FilePath, data: &[u8]) -> Result<(), Error> {
        self.calls.push("write_file");
        self.lookup(path)?;
        if let Some(entry) = self.files.get_mut(path) {
            entry.0 = data.to_vec();
        }
        Ok(())
    }

    fn create_file(
        &mut self,
        path: &FilePath,
        access_condition: AccessCondition,
        _initial_size: u32,
    ) -> Result<(), Error> {
        self.calls.push("create_file");
        if !self.has_dir(path.dir.as_ref()) {
            return Err(Error::DirNotFound);
        }
        if self.files.contains_key(path) {
            return Err(Error::FileExists);
        }
        self.files.insert(*path, (Vec::new(), access_condition));
        Ok(())
    }

    fn delete_file(&mut self, path: &FilePath) -> Result<(), Error> {
        self.calls.push("delete_file");
        self.lookup(path)?;
        self.files.remove(path);
        Ok(())
    }

    fn create_dir(&mut self, name: &Name, access_condition: DirAccessCondition) -> Result<(), Error> {
        self.calls.push("create_dir");
        self.dirs.insert(*name, access_condition);
        Ok(())
    }

    fn delete_dir(&mut self, name: &Name) -> Result<(), Error> {
        self.calls.push("delete_dir");
        if self.files.keys().any(|path| path.dir == Some(*name)) {
            return Err(Error::DirNotEmpty);
        }
        self.dirs.remove(name).map(drop).ok_or(Error::DirNotFound)
    }

    fn list(&mut self, dir: Option<&Name>) -> Result<Vec<Name>, Error> {
        self.calls.push("list");
        if !self.has_dir(dir) {
            return Err(Error::DirNotFound);
        }
        Ok(self.files.keys().filter(|path| path.dir.as_ref() == dir).map(|path| path.file).collect())
    }

    fn list_dirs(&mut self) -> Result<Vec<Name>, Error> {
        self.calls.push("list_dirs");
        Ok(self.dirs.keys().copied().collect())
    }

    fn file_info(&mut self, path: &FilePath) -> Result<FileInfo, Error> {
        self.calls.push("file_info");
        let (data, access_condition) = self.lookup(path)?;
        Ok(FileInfo { size: u32::try_from(data.len()).unwrap(), access_condition: *access_condition })
    }

    fn access_condition(&mut self, path: &FilePath) -> Result<AccessCondition, Error> {
        self.calls.push("access_condition");
        Ok(self.lookup(path)?.1)
    }

    fn dir_access_condition(&mut self, name: &Name) -> Result<DirAccessCondition, Error> {
        self.calls.push("dir_access_condition");
        self.dirs.get(name).copied().ok_or(Error::DirNotFound)
    }

    fn free_space(&mut self) -> Result<FreeSpace, Error> {
        Ok(if self.writable {
            FreeSpace { bytes_available: Some(1000), containers_available: Some(3), max_containers: Some(5) }
        } else {
            FreeSpace { bytes_available: Some(0), containers_available: Some(0), max_containers: None }
        })
    }

    fn can_write(&mut self, _path: &FilePath) -> bool {
        self.writable
    }

    fn can_write_dir(&mut self, _name: &Name) -> bool {
        self.writable
    }
}

fn p(s: &str) -> FilePath {
    FilePath::parse(s).unwrap()
}

fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn names(list: &[Name]) -> Vec<&str> {
    list.iter().map(Name::as_str).collect()
}

/// A provisioned card: the well-known files with their default conditions, a private-key file,
/// a user file, an admin file, and an admin-only directory.
fn card(writable: bool) -> Mem {
    let mut mem = Mem { writable, ..Mem::default() };
    mem.dirs.insert(well_known::MSCP, well_known::MSCP_DIR_ACCESS_CONDITION);
    mem.dirs.insert(n("admin"), ADMIN_DIR);
    for (path, data) in [
        ("cardid", [0x11; 16].to_vec()),
        ("cardcf", vec![0; 6]),
        ("cardapps", b"mscp\0\0\0\0".to_vec()),
        ("mscp/cmapfile", test_vectors::cmapfile::DELETED_BETWEEN_TWO_VALID.to_vec()),
        ("mscp/kxc00", b"cert 0".to_vec()),
        ("mscp/ksc02", b"cert 2".to_vec()),
    ] {
        let path = p(path);
        let condition = well_known::default_access_condition(&path).unwrap();
        mem.files.insert(path, (data, condition));
    }
    mem.files.insert(p("mscp/kxs00"), (b"private key".to_vec(), UWX));
    mem.files.insert(p("mscp/wallet"), (b"passwords".to_vec(), URW));
    mem.files.insert(p("admin/data"), (b"admin data".to_vec(), ARW));
    mem.files.insert(p("mscp/unknown"), (b"?".to_vec(), AccessCondition::UNKNOWN));
    mem
}

fn denied(operation: Operation, condition: AccessCondition, principals: Principals) -> Error {
    Error::AccessDenied { principals, operation, condition }
}

#[test]
fn bad_names_never_reach_the_card() {
    let mut vfs = Vfs::new(card(true));
    let too_long = Error::InvalidName(NameError::TooLong(9));
    assert_eq!(vfs.read_file(UA, None, b"123456789"), Err(too_long));
    assert_eq!(vfs.write_file(UA, Some(b"mscp"), b"123456789", b""), Err(too_long));
    assert_eq!(vfs.create_file(UA, Some(b"123456789"), b"a", ERUW, 0), Err(too_long));
    assert_eq!(vfs.delete_file(UA, None, b"123456789"), Err(too_long));
    assert_eq!(vfs.file_info(UA, None, b"123456789"), Err(too_long));
    assert_eq!(vfs.enum_files(Some(b"123456789")), Err(too_long));
    assert_eq!(vfs.create_dir(UA, b"123456789", USER_DIR), Err(too_long));
    assert_eq!(vfs.delete_dir(UA, b"123456789"), Err(too_long));
    assert_eq!(vfs.read_file(UA, Some(b"ms*p"), b"cmapfile"), Err(Error::InvalidName(NameError::ReservedChar(b'*'))));
    assert_eq!(vfs.read_file(UA, None, b""), Err(Error::InvalidName(NameError::Empty)));
    assert_eq!(vfs.create_dir(UA, b"", USER_DIR), Err(Error::InvalidName(NameError::Empty)));
    assert!(vfs.storage().calls.is_empty());
}

#[test]
fn names_are_case_insensitive_and_empty_dir_is_root() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(vfs.read_file(E, Some(b"MSCP"), b"KXC00").unwrap(), b"cert 0");
    assert_eq!(vfs.read_file(E, Some(b""), b"CardID").unwrap(), [0x11; 16]);
}

#[test]
fn listing_needs_no_permission() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(names(&vfs.enum_files(None).unwrap()), ["cardapps", "cardcf", "cardid"]);
    assert_eq!(
        names(&vfs.enum_files(Some(b"mscp")).unwrap()),
        ["cmapfile", "ksc02", "kxc00", "kxs00", "unknown", "wallet"]
    );
    // Files only Admin may read are listed to Everyone too.
    assert_eq!(names(&vfs.enum_files(Some(b"ADMIN")).unwrap()), ["data"]);
    assert_eq!(vfs.enum_files(Some(b"nodir")), Err(Error::DirNotFound));
    assert_eq!(names(&vfs.dirs().unwrap()), ["admin", "mscp"]);
    assert_eq!(vfs.free_space().unwrap().containers_available, Some(3));
}

#[test]
fn reading_needs_read() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(vfs.read_file(E, None, b"cardid").unwrap(), [0x11; 16]);
    assert_eq!(vfs.read_file(E, None, b"cardapps").unwrap(), b"mscp\0\0\0\0");
    let cmap = vfs.read_file(E, Some(b"mscp"), b"cmapfile").unwrap();
    let map = ContainerMap::decode(&cmap).unwrap();
    assert_eq!(map.valid().count(), 2);

    // A private key is never readable, not even by its user or the admin.
    for who in [E, U, A, UA] {
        assert_eq!(vfs.read_file(who, Some(b"mscp"), b"kxs00"), Err(denied(Operation::Read, UWX, who)));
    }
    assert_eq!(vfs.read_file(E, Some(b"mscp"), b"wallet"), Err(denied(Operation::Read, URW, E)));
    assert_eq!(vfs.read_file(U, Some(b"mscp"), b"wallet").unwrap(), b"passwords");
    assert_eq!(vfs.read_file(A, Some(b"mscp"), b"wallet").unwrap(), b"passwords");
    assert_eq!(vfs.read_file(U, Some(b"admin"), b"data"), Err(denied(Operation::Read, ARW, U)));
    assert_eq!(vfs.read_file(A, Some(b"admin"), b"data").unwrap(), b"admin data");
    // UnknownAc: the vfs cannot tell what the card allows, so it grants nothing.
    assert!(matches!(vfs.read_file(UA, Some(b"mscp"), b"unknown"), Err(Error::AccessDenied { .. })));

    assert_eq!(vfs.read_file(E, None, b"nofile"), Err(Error::FileNotFound));
    assert_eq!(vfs.read_file(E, Some(b"nodir"), b"cardid"), Err(Error::DirNotFound));
    // A refused read never fetched the content.
    let reads = vfs.storage().calls.iter().filter(|c| **c == "read_file").count();
    assert_eq!(reads, 6);
}

#[test]
fn file_info_needs_read() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(vfs.file_info(E, None, b"cardid").unwrap(), FileInfo { size: 16, access_condition: ERAW });
    assert_eq!(vfs.file_info(U, Some(b"mscp"), b"kxs00"), Err(denied(Operation::Read, UWX, U)));
    assert_eq!(vfs.file_info(E, Some(b"mscp"), b"wallet"), Err(denied(Operation::Read, URW, E)));
    assert_eq!(vfs.file_info(U, Some(b"mscp"), b"wallet").unwrap().size, 9);
    assert_eq!(vfs.file_info(E, None, b"nofile"), Err(Error::FileNotFound));
    // Refused and missing files never reached the card's file_info.
    let infos = vfs.storage().calls.iter().filter(|c| **c == "file_info").count();
    assert_eq!(infos, 2);
}

#[test]
fn writing_needs_write() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(vfs.write_file(E, None, b"cardcf", &[0, 0, 0, 0, 1, 0]), Err(denied(Operation::Write, ERUW, E)));
    vfs.write_file(U, None, b"cardcf", &[0, 0, 0, 0, 1, 0]).unwrap();
    vfs.write_file(A, None, b"cardcf", &[0, 0, 0, 0, 2, 0]).unwrap();
    assert_eq!(vfs.storage().content("cardcf"), Some(&[0, 0, 0, 0, 2, 0][..]));

    // cardid and cardapps: only the admin writes.
    for file in [&b"cardid"[..], b"cardapps"] {
        assert!(matches!(vfs.write_file(U, None, file, b"x"), Err(Error::AccessDenied { .. })));
    }
    vfs.write_file(A, None, b"cardid", &[0x22; 16]).unwrap();
    // The user writes a private key file (U(WX)), and so does the admin (A(W)).
    vfs.write_file(U, Some(b"mscp"), b"kxs00", b"new key").unwrap();
    vfs.write_file(A, Some(b"mscp"), b"kxs00", b"newer key").unwrap();
    assert_eq!(vfs.write_file(E, Some(b"mscp"), b"kxs00", b"x"), Err(denied(Operation::Write, UWX, E)));
    assert_eq!(vfs.write_file(U, None, b"nofile", b"x"), Err(Error::FileNotFound));
    // Writing keeps the file's access condition.
    assert_eq!(vfs.file_info(U, Some(b"mscp"), b"wallet").unwrap().access_condition, URW);
    vfs.write_file(U, Some(b"mscp"), b"wallet", b"more passwords").unwrap();
    assert_eq!(vfs.file_info(U, Some(b"mscp"), b"wallet").unwrap().access_condition, URW);
}

#[test]
fn deleting_needs_write_on_the_file() {
    let mut vfs = Vfs::new(card(true));
    assert_eq!(
        vfs.delete_file(E, Some(b"mscp"), b"kxc00"),
        // Deleting is checked as Write; there is no separate delete permission.
        Err(denied(Operation::Write, ERUW, E))
    );
    vfs.delete_file(U, Some(b"mscp"), b"kxc00").unwrap();
    assert_eq!(vfs.storage().content("mscp/kxc00"), None);
    assert!(matches!(vfs.delete_file(U, None, b"cardid"), Err(Error::AccessDenied { .. })));
    vfs.delete_file(A, None, b"cardid").unwrap();
    // U(WX) A(W): both may delete a key file, nobody may read it.
    vfs.delete_file(A, Some(b"mscp"), b"kxs00").unwrap();
    assert_eq!(vfs.delete_file(U, Some(b"mscp"), b"kxc00"), Err(Error::FileNotFound));
    assert_eq!(vfs.delete_file(U, Some(b"nodir"), b"kxc00"), Err(Error::DirNotFound));
}

#[test]
fn creating_needs_the_directory_right_and_a_creatable_condition() {
    let mut vfs = Vfs::new(card(true));
    for bad in [AccessCondition::INVALID, AccessCondition::UNKNOWN, AccessCondition(7)] {
        assert_eq!(vfs.create_file(UA, Some(b"mscp"), b"new", bad, 0), Err(Error::InvalidAccessCondition(bad)));
    }
    assert_eq!(
        vfs.create_file(E, Some(b"mscp"), b"kxc01", ERUW, 0),
        Err(Error::DirAccessDenied { principals: E, condition: USER_DIR })
    );
    vfs.create_file(U, Some(b"mscp"), b"KXC01", ERUW, 100).unwrap();
    assert_eq!(vfs.file_info(E, Some(b"mscp"), b"kxc01").unwrap(), FileInfo { size: 0, access_condition: ERUW });
    // The admin-only directory.
    assert_eq!(
        vfs.create_file(U, Some(b"admin"), b"more", ARW, 0),
        Err(Error::DirAccessDenied { principals: U, condition: ADMIN_DIR })
    );
    vfs.create_file(A, Some(b"admin"), b"more", ARW, 0).unwrap();
    // The root: User and Admin, never Everyone.
    assert!(matches!(vfs.create_file(E, None, b"rootfile", ERUW, 0), Err(Error::DirAccessDenied { .. })));
    vfs.create_file(U, None, b"rootfile", ERUW, 0).unwrap();

    assert_eq!(vfs.create_file(U, Some(b"mscp"), b"kxc01", ERUW, 0), Err(Error::FileExists));
    // A root file may not take a directory's name.
    assert_eq!(vfs.create_file(U, None, b"mscp", ERUW, 0), Err(Error::FileExists));
    assert_eq!(vfs.create_file(U, Some(b"nodir"), b"f", ERUW, 0), Err(Error::DirNotFound));
}

#[test]
fn access_conditions_change_only_by_delete_and_recreate() {
    let mut vfs = Vfs::new(card(true));
    vfs.create_file(A, Some(b"mscp"), b"f", ERUW, 0).unwrap();
    assert_eq!(vfs.create_file(A, Some(b"mscp"), b"f", ARW, 0), Err(Error::FileExists));
    vfs.write_file(A, Some(b"mscp"), b"f", b"data").unwrap();
    assert_eq!(vfs.file_info(A, Some(b"mscp"), b"f").unwrap().access_condition, ERUW);
    vfs.delete_file(A, Some(b"mscp"), b"f").unwrap();
    vfs.create_file(A, Some(b"mscp"), b"f", ARW, 0).unwrap();
    assert_eq!(vfs.file_info(A, Some(b"mscp"), b"f").unwrap().access_condition, ARW);
}

#[test]
fn directory_rules() {
    let mut vfs = Vfs::new(card(true));
    for bad in [DirAccessCondition::INVALID, DirAccessCondition(3)] {
        assert_eq!(vfs.create_dir(UA, b"app", bad), Err(Error::InvalidDirAccessCondition(bad)));
    }
    assert!(matches!(vfs.create_dir(E, b"app", USER_DIR), Err(Error::DirAccessDenied { .. })));
    vfs.create_dir(U, b"App", USER_DIR).unwrap();
    assert_eq!(vfs.create_dir(U, b"app", USER_DIR), Err(Error::FileExists));
    // A directory may not take a root file's name.
    assert_eq!(vfs.create_dir(A, b"cardcf", USER_DIR), Err(Error::FileExists));

    vfs.create_file(U, Some(b"app"), b"f", URW, 0).unwrap();
    assert_eq!(vfs.delete_dir(U, b"app"), Err(Error::DirNotEmpty));
    vfs.delete_file(U, Some(b"app"), b"f").unwrap();
    assert_eq!(vfs.delete_dir(E, b"app"), Err(Error::DirAccessDenied { principals: E, condition: USER_DIR }));
    vfs.delete_dir(U, b"app").unwrap();
    assert_eq!(vfs.delete_dir(U, b"app"), Err(Error::DirNotFound));

    // An admin directory: the user may neither fill nor delete it; the admin may.
    vfs.create_dir(U, b"adm2", ADMIN_DIR).unwrap();
    assert!(matches!(vfs.delete_dir(U, b"adm2"), Err(Error::DirAccessDenied { .. })));
    vfs.delete_dir(A, b"adm2").unwrap();
    assert_eq!(names(&vfs.dirs().unwrap()), ["admin", "mscp"]);
}

#[test]
fn a_card_that_cannot_write_is_read_only_without_simulation() {
    let mut vfs = Vfs::new(card(false));
    assert!(!vfs.simulates_writes());
    // The access check comes first: Everyone is refused, not told the card is read-only.
    assert_eq!(vfs.write_file(E, None, b"cardcf", &[0; 6]), Err(denied(Operation::Write, ERUW, E)));
    assert_eq!(vfs.write_file(U, None, b"cardcf", &[0; 6]), Err(Error::ReadOnly));
    assert_eq!(vfs.create_file(U, Some(b"mscp"), b"kxc01", ERUW, 0), Err(Error::ReadOnly));
    assert_eq!(vfs.delete_file(U, Some(b"mscp"), b"kxc00"), Err(Error::ReadOnly));
    assert_eq!(vfs.create_dir(U, b"app", USER_DIR), Err(Error::ReadOnly));
    assert_eq!(vfs.read_file(E, None, b"cardcf").unwrap(), [0; 6]);
    assert!(vfs.overlay().is_empty());
    assert_eq!(vfs.free_space().unwrap().bytes_available, Some(0));
}

#[test]
fn simulated_writes_are_served_back_until_reset() {
    let mut vfs = Vfs::with_write_simulation(card(false));
    assert!(vfs.simulates_writes());

    // The CSP bumps cardcf; the card cannot store it, the overlay does.
    vfs.write_file(U, None, b"cardcf", &[0, 0, 0, 0, 1, 0]).unwrap();
    assert_eq!(vfs.read_file(E, None, b"cardcf").unwrap(), [0, 0, 0, 0, 1, 0]);
    assert_eq!(vfs.file_info(E, None, b"cardcf").unwrap(), FileInfo { size: 6, access_condition: ERUW });
    assert_eq!(vfs.storage().content("cardcf"), Some(&[0u8; 6][..]));

    // A new certificate file, created then written.
    vfs.create_file(U, Some(b"mscp"), b"kxc01", ERUW, 1200).unwrap();
    assert_eq!(vfs.file_info(E, Some(b"mscp"), b"kxc01").unwrap().size, 0);
    vfs.write_file(U, Some(b"mscp"), b"kxc01", b"cert 1").unwrap();
    assert_eq!(vfs.read_file(E, Some(b"mscp"), b"kxc01").unwrap(), b"cert 1");
    // A deleted one.
    vfs.delete_file(U, Some(b"mscp"), b"kxc00").unwrap();
    assert_eq!(vfs.read_file(E, Some(b"mscp"), b"kxc00"), Err(Error::FileNotFound));
    assert_eq!(
        names(&vfs.enum_files(Some(b"mscp")).unwrap()),
        ["cmapfile", "ksc02", "kxs00", "unknown", "wallet", "kxc01"]
    );
    // Re-created with another condition after the simulated delete.
    vfs.create_file(U, Some(b"mscp"), b"kxc00", URW, 0).unwrap();
    assert_eq!(vfs.file_info(U, Some(b"mscp"), b"kxc00").unwrap().access_condition, URW);
    // A simulated directory with a file in it.
    vfs.create_dir(U, b"app", USER_DIR).unwrap();
    vfs.create_file(U, Some(b"app"), b"f", ERUW, 0).unwrap();
    assert_eq!(names(&vfs.enum_files(Some(b"app")).unwrap()), ["f"]);
    assert_eq!(names(&vfs.dirs().unwrap()), ["admin", "mscp", "app"]);
    assert_eq!(vfs.delete_dir(U, b"app"), Err(Error::DirNotEmpty));
    assert_eq!(vfs.read_file(E, Some(b"app"), b"g"), Err(Error::FileNotFound));

    // The card itself never changed.
    assert!(
        !vfs.storage()
            .calls
            .iter()
            .any(|c| matches!(*c, "write_file" | "create_file" | "delete_file" | "create_dir" | "delete_dir"))
    );
    assert_eq!(vfs.storage().content("mscp/kxc00"), Some(&b"cert 0"[..]));

    // Card reset or removal: back to what the card holds.
    vfs.reset();
    assert!(vfs.overlay().is_empty());
    assert_eq!(vfs.read_file(E, None, b"cardcf").unwrap(), [0; 6]);
    assert_eq!(vfs.read_file(E, Some(b"mscp"), b"kxc00").unwrap(), b"cert 0");
    assert_eq!(vfs.read_file(E, Some(b"mscp"), b"kxc01"), Err(Error::FileNotFound));
    assert_eq!(vfs.enum_files(Some(b"app")), Err(Error::DirNotFound));
}

#[test]
fn simulation_enforces_access_conditions_like_the_card() {
    let mut vfs = Vfs::with_write_simulation(card(false));
    assert!(matches!(vfs.write_file(E, None, b"cardcf", &[1; 6]), Err(Error::AccessDenied { .. })));
    assert!(matches!(vfs.write_file(U, None, b"cardid", &[1; 16]), Err(Error::AccessDenied { .. })));
    assert!(matches!(vfs.create_file(E, Some(b"mscp"), b"x", ERUW, 0), Err(Error::DirAccessDenied { .. })));
    assert_eq!(
        vfs.create_file(U, Some(b"mscp"), b"x", AccessCondition::UNKNOWN, 0),
        Err(Error::InvalidAccessCondition(AccessCondition::UNKNOWN))
    );
    // A simulated file keeps the condition it was created with.
    vfs.create_file(U, Some(b"mscp"), b"secret", ARW, 0).unwrap();
    assert!(matches!(vfs.write_file(U, Some(b"mscp"), b"secret", b"x"), Err(Error::AccessDenied { .. })));
    assert!(matches!(vfs.read_file(U, Some(b"mscp"), b"secret"), Err(Error::AccessDenied { .. })));
    vfs.write_file(A, Some(b"mscp"), b"secret", b"x").unwrap();
    assert_eq!(vfs.read_file(A, Some(b"mscp"), b"secret").unwrap(), b"x");
    assert!(vfs.overlay().file(&p("cardcf")).is_none());
}

#[test]
fn writable_paths_go_to_the_card_and_simulated_ones_stay_simulated() {
    let mut vfs = Vfs::with_write_simulation(card(true));
    vfs.write_file(U, None, b"cardcf", &[0, 0, 0, 0, 1, 0]).unwrap();
    assert_eq!(vfs.storage().content("cardcf"), Some(&[0, 0, 0, 0, 1, 0][..]));
    assert!(vfs.overlay().is_empty());

    // The card stops being writable (say, the admin logged out): simulated from now on...
    vfs.storage_mut().writable = false;
    vfs.write_file(U, None, b"cardcf", &[0, 0, 0, 0, 2, 0]).unwrap();
    // ...and still simulated when it can write again, so the card never holds an older copy
    // that shadows a newer simulated one.
    vfs.storage_mut().writable = true;
    vfs.write_file(U, None, b"cardcf", &[0, 0, 0, 0, 3, 0]).unwrap();
    assert_eq!(vfs.read_file(E, None, b"cardcf").unwrap(), [0, 0, 0, 0, 3, 0]);
    assert_eq!(vfs.storage().content("cardcf"), Some(&[0, 0, 0, 0, 1, 0][..]));

    // A simulated delete in a card directory keeps the directory simulated too: the card still
    // holds the file, so deleting the directory on the card would fail.
    vfs.create_dir(U, b"app", USER_DIR).unwrap();
    vfs.create_file(U, Some(b"app"), b"f", ERUW, 0).unwrap();
    vfs.storage_mut().writable = false;
    vfs.delete_file(U, Some(b"app"), b"f").unwrap();
    vfs.storage_mut().writable = true;
    vfs.delete_dir(U, b"app").unwrap();
    assert_eq!(vfs.enum_files(Some(b"app")), Err(Error::DirNotFound));
    assert_eq!(vfs.storage().content("app/f"), Some(&b""[..]));
    vfs.reset();
    assert_eq!(names(&vfs.enum_files(Some(b"app")).unwrap()), ["f"]);
}

#[test]
fn the_card_creation_sequence() {
    // Seed 003 / spec 6.2 on a blank writable card: cardid, cardcf, cardapps, mscp, cmapfile.
    let mut vfs = Vfs::new(Mem { writable: true, ..Mem::default() });
    for (file, condition, content) in [
        (well_known::CARDID, ERAW, vec![0x5a; 16]),
        (well_known::CARDCF, ERUW, vec![0; 6]),
        (well_known::CARDAPPS, ERAW, b"mscp\0\0\0\0".to_vec()),
    ] {
        let path = FilePath::root(file);
        assert_eq!(well_known::default_access_condition(&path), Some(condition));
        vfs.create(UA, &path, condition, 0).unwrap();
        vfs.write(UA, &path, &content).unwrap();
    }
    vfs.make_dir(UA, &well_known::MSCP, well_known::MSCP_DIR_ACCESS_CONDITION).unwrap();
    vfs.create(U, &well_known::CMAPFILE_PATH, ERUW, 0).unwrap();
    assert_eq!(vfs.read(E, &well_known::CMAPFILE_PATH).unwrap(), b"");
    assert_eq!(names(&vfs.list(None).unwrap()), ["cardapps", "cardcf", "cardid"]);
    assert_eq!(names(&vfs.list(Some(&well_known::MSCP)).unwrap()), ["cmapfile"]);
}

mod simulation_is_indistinguishable {
    //! Until a reset, a card that cannot write but is simulated behaves exactly like a card that
    //! can write: same answers, same visible files. And the card itself never changes.
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Write(Principals, FilePath, Vec<u8>),
        Create(Principals, FilePath, AccessCondition),
        Delete(Principals, FilePath),
        MakeDir(Principals, Name, DirAccessCondition),
        RemoveDir(Principals, Name),
    }

    fn who() -> impl Strategy<Value = Principals> {
        prop_oneof![Just(E), Just(U), Just(A), Just(UA)]
    }

    fn dir() -> impl Strategy<Value = Name> {
        prop_oneof![Just("mscp"), Just("admin"), Just("app")].prop_map(n)
    }

    fn path() -> impl Strategy<Value = FilePath> {
        (
            proptest::option::of(dir()),
            prop_oneof![Just("cardcf"), Just("kxc00"), Just("kxc01"), Just("f"), Just("app")].prop_map(n),
        )
            .prop_map(|(dir, file)| FilePath { dir, file })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (who(), path(), proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(w, p, d)| Op::Write(w, p, d)),
            (who(), path(), (0u32..=7).prop_map(AccessCondition)).prop_map(|(w, p, ac)| Op::Create(w, p, ac)),
            (who(), path()).prop_map(|(w, p)| Op::Delete(w, p)),
            (who(), dir(), (0u32..=2).prop_map(DirAccessCondition)).prop_map(|(w, d, ac)| Op::MakeDir(w, d, ac)),
            (who(), dir()).prop_map(|(w, d)| Op::RemoveDir(w, d)),
        ]
    }

    fn apply(vfs: &mut Vfs<Mem>, op: &Op) -> Result<(), Error> {
        match op {
            Op::Write(w, p, d) => vfs.write(*w, p, d),
            Op::Create(w, p, ac) => vfs.create(*w, p, *ac, 0),
            Op::Delete(w, p) => vfs.delete(*w, p),
            Op::MakeDir(w, d, ac) => vfs.make_dir(*w, d, *ac),
            Op::RemoveDir(w, d) => vfs.remove_dir(*w, d),
        }
    }

    type View = Vec<(FilePath, Result<FileInfo, Error>, Result<Vec<u8>, Error>)>;

    /// Everything the admin and user together can see.
    fn view(vfs: &mut Vfs<Mem>) -> View {
        let mut dirs: Vec<Option<Name>> = vec![None];
        let mut names = vfs.dirs().unwrap();
        names.sort();
        dirs.extend(names.into_iter().map(Some));
        let mut out = Vec::new();
        for dir in dirs {
            let mut files = vfs.list(dir.as_ref()).unwrap();
            files.sort();
            for file in files {
                let path = FilePath { dir, file };
                out.push((path, vfs.info(UA, &path), vfs.read(UA, &path)));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn same_answers_and_files(ops in proptest::collection::vec(op(), 1..24)) {
            let mut real = Vfs::new(card(true));
            let mut simulated = Vfs::with_write_simulation(card(false));
            let original = view(&mut simulated);
            for op in &ops {
                let expected = apply(&mut real, op);
                prop_assert_ne!(expected, Err(Error::ReadOnly));
                prop_assert_eq!(apply(&mut simulated, op), expected, "{:?}", op);
                prop_assert_eq!(view(&mut simulated), view(&mut real));
            }
            let card = simulated.storage();
            prop_assert_eq!(&card.files, &super::card(false).files);
            prop_assert_eq!(&card.dirs, &super::card(false).dirs);
            simulated.reset();
            prop_assert_eq!(view(&mut simulated), original);
        }
    }
}
