//! [`Vfs`]: the file functions of the minidriver interface, with seed 003's rules applied before
//! a [`Storage`] is asked to do anything.
//!
//! Every operation runs in the same order: validate the names (so a bad name never reaches the
//! card), find the file's or directory's access condition, check it for the principals
//! authenticated now, and only then read or change anything. Changes go to the card when it can
//! make them, to the write-simulation [`Overlay`] when it cannot and simulation is on, and fail
//! with [`Error::ReadOnly`] otherwise.

use crate::access::{AccessCondition, DirAccessCondition, Operation, Principals};
use crate::error::Error;
use crate::name::Name;
use crate::overlay::{DirEntry, FileEntry, Overlay};
use crate::path::{FilePath, dir_from_bytes};
use crate::storage::{FileInfo, FreeSpace, Storage};

/// The logical file system over a card's [`Storage`].
#[derive(Debug)]
pub struct Vfs<S> {
    storage: S,
    simulate_writes: bool,
    overlay: Overlay,
}

/// Where a change goes.
enum Target {
    Card,
    Overlay,
}

impl<S: Storage> Vfs<S> {
    /// A file system whose changes go to the card only; a change the card cannot make fails
    /// with [`Error::ReadOnly`].
    pub fn new(storage: S) -> Self {
        Self { storage, simulate_writes: false, overlay: Overlay::new() }
    }

    /// A file system that simulates the changes the card cannot make (seed 003): they are kept
    /// in memory and served back until [`Vfs::reset`]. Access conditions are enforced exactly as
    /// for real changes.
    pub fn with_write_simulation(storage: S) -> Self {
        Self { simulate_writes: true, ..Self::new(storage) }
    }

    /// Whether changes the card cannot make are simulated.
    pub const fn simulates_writes(&self) -> bool {
        self.simulate_writes
    }

    /// The card's storage.
    pub const fn storage(&self) -> &S {
        &self.storage
    }

    /// The card's storage, for card operations outside the file system. Changing files through
    /// it bypasses the access checks and the overlay.
    pub const fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The storage, dropping any simulated changes.
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// The simulated changes.
    pub const fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The card was reset or removed: simulated changes are forgotten.
    pub fn reset(&mut self) {
        self.overlay.clear();
    }

    // ----- The minidriver file functions, on raw ANSI name bytes (without their NULs). -----
    //
    // A missing directory (`None`) or an empty one means the root.

    /// `CardReadFile`: the whole content of a file. Needs Read.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, `FileNotFound`, `AccessDenied`, or the storage's error.
    pub fn read_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<Vec<u8>, S::Error> {
        let path = FilePath::from_bytes(dir, file)?;
        self.read(who, &path)
    }

    /// `CardWriteFile`: replaces the content of an existing file. Needs Write.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, `FileNotFound`, `AccessDenied`, `ReadOnly`, `OutOfSpace`, or
    /// the storage's error.
    pub fn write_file(
        &mut self,
        who: Principals,
        dir: Option<&[u8]>,
        file: &[u8],
        data: &[u8],
    ) -> Result<(), S::Error> {
        let path = FilePath::from_bytes(dir, file)?;
        self.write(who, &path, data)
    }

    /// `CardCreateFile`: creates an empty file. Needs the directory's create right, and an
    /// access condition a file may be created with.
    ///
    /// # Errors
    /// `InvalidName`, `InvalidAccessCondition`, `DirNotFound`, `DirAccessDenied`, `FileExists`,
    /// `ReadOnly`, `OutOfSpace`, or the storage's error.
    pub fn create_file(
        &mut self,
        who: Principals,
        dir: Option<&[u8]>,
        file: &[u8],
        access_condition: AccessCondition,
        initial_size: u32,
    ) -> Result<(), S::Error> {
        let path = FilePath::from_bytes(dir, file)?;
        self.create(who, &path, access_condition, initial_size)
    }

    /// `CardDeleteFile`. Needs Write on the file.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, `FileNotFound`, `AccessDenied`, `ReadOnly`, or the storage's
    /// error.
    pub fn delete_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<(), S::Error> {
        let path = FilePath::from_bytes(dir, file)?;
        self.delete(who, &path)
    }

    /// `CardGetFileInfo`: size and access condition. Needs Read.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, `FileNotFound`, `AccessDenied`, or the storage's error.
    pub fn file_info(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<FileInfo, S::Error> {
        let path = FilePath::from_bytes(dir, file)?;
        self.info(who, &path)
    }

    /// `CardEnumFiles`: the files in a directory. Needs no permission (seed 003: there is no
    /// list permission), so it takes no principals. An empty directory gives an empty list; the
    /// C layer turns that into `SCARD_E_FILE_NOT_FOUND` as the specification asks.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, or the storage's error.
    pub fn enum_files(&mut self, dir: Option<&[u8]>) -> Result<Vec<Name>, S::Error> {
        let dir = dir_from_bytes(dir)?;
        self.list(dir.as_ref())
    }

    /// `CardCreateDirectory`: creates an application directory in the root. Needs the root's
    /// create right ([`Storage::root_access_condition`]).
    ///
    /// # Errors
    /// `InvalidName`, `InvalidDirAccessCondition`, `DirAccessDenied`, `FileExists`, `ReadOnly`,
    /// or the storage's error.
    pub fn create_dir(
        &mut self,
        who: Principals,
        dir: &[u8],
        access_condition: DirAccessCondition,
    ) -> Result<(), S::Error> {
        let name = Name::new(dir)?;
        self.make_dir(who, &name, access_condition)
    }

    /// `CardDeleteDirectory`: deletes an empty application directory. Needs the directory's own
    /// delete right.
    ///
    /// # Errors
    /// `InvalidName`, `DirNotFound`, `DirAccessDenied`, `DirNotEmpty`, `ReadOnly`, or the
    /// storage's error.
    pub fn delete_dir(&mut self, who: Principals, dir: &[u8]) -> Result<(), S::Error> {
        let name = Name::new(dir)?;
        self.remove_dir(who, &name)
    }

    /// `CardQueryFreeSpace`, from the card. Needs no permission.
    ///
    /// # Errors
    /// The storage's error.
    pub fn free_space(&mut self) -> Result<FreeSpace, S::Error> {
        self.storage.free_space()
    }

    // ----- The same functions on validated names. -----

    /// [`Vfs::read_file`] for a validated path.
    ///
    /// # Errors
    /// As [`Vfs::read_file`].
    pub fn read(&mut self, who: Principals, path: &FilePath) -> Result<Vec<u8>, S::Error> {
        let condition = self.access_condition_of(path)?;
        require(who, condition, Operation::Read)?;
        if let Some(FileEntry::Present { data, .. }) = self.overlay.file(path) {
            return Ok(data.clone());
        }
        self.storage.read_file(path)
    }

    /// [`Vfs::write_file`] for a validated path.
    ///
    /// # Errors
    /// As [`Vfs::write_file`].
    pub fn write(&mut self, who: Principals, path: &FilePath, data: &[u8]) -> Result<(), S::Error> {
        let condition = self.access_condition_of(path)?;
        require(who, condition, Operation::Write)?;
        match self.target(path)? {
            Target::Card => self.storage.write_file(path, data),
            Target::Overlay => Ok(self.overlay.put(*path, data.to_vec(), condition)?),
        }
    }

    /// [`Vfs::create_file`] for a validated path.
    ///
    /// A simulated file starts empty whatever `initial_size` says: the size is a hint, and
    /// allocating it would let a caller reserve up to 4 GiB of memory.
    ///
    /// # Errors
    /// As [`Vfs::create_file`].
    pub fn create(
        &mut self,
        who: Principals,
        path: &FilePath,
        access_condition: AccessCondition,
        initial_size: u32,
    ) -> Result<(), S::Error> {
        if !access_condition.is_creatable() {
            return Err(Error::InvalidAccessCondition(access_condition).into());
        }
        let dir_condition = match &path.dir {
            None => self.storage.root_access_condition(),
            Some(dir) => self.dir_access_condition_of(dir)?,
        };
        require_dir(who, dir_condition)?;
        let taken = self.list(path.dir.as_ref())?.contains(&path.file)
            || (path.dir.is_none() && self.dirs()?.contains(&path.file));
        if taken {
            return Err(Error::FileExists.into());
        }
        match self.target(path)? {
            Target::Card => self.storage.create_file(path, access_condition, initial_size),
            Target::Overlay => Ok(self.overlay.put(*path, Vec::new(), access_condition)?),
        }
    }

    /// [`Vfs::delete_file`] for a validated path.
    ///
    /// # Errors
    /// As [`Vfs::delete_file`].
    pub fn delete(&mut self, who: Principals, path: &FilePath) -> Result<(), S::Error> {
        let condition = self.access_condition_of(path)?;
        require(who, condition, Operation::Write)?;
        match self.target(path)? {
            Target::Card => self.storage.delete_file(path),
            Target::Overlay => {
                self.overlay.delete(*path);
                Ok(())
            }
        }
    }

    /// [`Vfs::file_info`] for a validated path.
    ///
    /// # Errors
    /// As [`Vfs::file_info`].
    pub fn info(&mut self, who: Principals, path: &FilePath) -> Result<FileInfo, S::Error> {
        let condition = self.access_condition_of(path)?;
        require(who, condition, Operation::Read)?;
        if let Some(FileEntry::Present { data, access_condition }) = self.overlay.file(path) {
            return Ok(FileInfo {
                // `Overlay::put` refuses data longer than `u32::MAX`.
                size: u32::try_from(data.len()).unwrap_or(u32::MAX),
                access_condition: *access_condition,
            });
        }
        self.storage.file_info(path)
    }

    /// [`Vfs::enum_files`] for a validated directory (`None` is the root).
    ///
    /// # Errors
    /// As [`Vfs::enum_files`].
    pub fn list(&mut self, dir: Option<&Name>) -> Result<Vec<Name>, S::Error> {
        let card = match dir.map(|d| (d, self.overlay.dir(d))) {
            Some((_, Some(DirEntry::Deleted))) => return Err(Error::DirNotFound.into()),
            // Created by simulation: the card does not have it.
            Some((_, Some(DirEntry::Present(_)))) => Vec::new(),
            Some((d, None)) => self.storage.list(Some(d))?,
            None => self.storage.list(None)?,
        };
        Ok(self.overlay.merge_list(dir, card))
    }

    /// The application directories in the root. Needs no permission.
    ///
    /// # Errors
    /// The storage's error.
    pub fn dirs(&mut self) -> Result<Vec<Name>, S::Error> {
        let card = self.storage.list_dirs()?;
        Ok(self.overlay.merge_dirs(card))
    }

    /// [`Vfs::create_dir`] for a validated name.
    ///
    /// # Errors
    /// As [`Vfs::create_dir`].
    pub fn make_dir(
        &mut self,
        who: Principals,
        name: &Name,
        access_condition: DirAccessCondition,
    ) -> Result<(), S::Error> {
        if !access_condition.is_creatable() {
            return Err(Error::InvalidDirAccessCondition(access_condition).into());
        }
        let root = self.storage.root_access_condition();
        require_dir(who, root)?;
        if self.dirs()?.contains(name) || self.list(None)?.contains(name) {
            return Err(Error::FileExists.into());
        }
        match self.dir_target(name)? {
            Target::Card => self.storage.create_dir(name, access_condition),
            Target::Overlay => {
                self.overlay.create_dir(*name, access_condition);
                Ok(())
            }
        }
    }

    /// [`Vfs::delete_dir`] for a validated name.
    ///
    /// # Errors
    /// As [`Vfs::delete_dir`].
    pub fn remove_dir(&mut self, who: Principals, name: &Name) -> Result<(), S::Error> {
        let condition = self.dir_access_condition_of(name)?;
        require_dir(who, condition)?;
        if !self.list(Some(name))?.is_empty() {
            return Err(Error::DirNotEmpty.into());
        }
        match self.dir_target(name)? {
            Target::Card => self.storage.delete_dir(name),
            Target::Overlay => {
                self.overlay.delete_dir(*name);
                Ok(())
            }
        }
    }

    // ----- Lookups that see the overlay first. -----

    fn access_condition_of(&mut self, path: &FilePath) -> Result<AccessCondition, S::Error> {
        match self.overlay.file(path) {
            Some(FileEntry::Present { access_condition, .. }) => return Ok(*access_condition),
            Some(FileEntry::Deleted) => return Err(Error::FileNotFound.into()),
            None => {}
        }
        match path.dir.and_then(|d| self.overlay.dir(&d)) {
            Some(DirEntry::Deleted) => Err(Error::DirNotFound.into()),
            // A directory created by simulation holds only the overlay's files.
            Some(DirEntry::Present(_)) => Err(Error::FileNotFound.into()),
            None => self.storage.access_condition(path),
        }
    }

    fn dir_access_condition_of(&mut self, name: &Name) -> Result<DirAccessCondition, S::Error> {
        match self.overlay.dir(name) {
            Some(DirEntry::Present(condition)) => Ok(condition),
            Some(DirEntry::Deleted) => Err(Error::DirNotFound.into()),
            None => self.storage.dir_access_condition(name),
        }
    }

    /// Where a change to `path` goes.
    fn target(&mut self, path: &FilePath) -> Result<Target, Error> {
        let covered = self.overlay.covers(path);
        choose(covered, self.simulate_writes, || self.storage.can_write(path))
    }

    /// Where a change to directory `name` goes.
    fn dir_target(&mut self, name: &Name) -> Result<Target, Error> {
        let covered = self.overlay.covers_dir(name);
        choose(covered, self.simulate_writes, || self.storage.can_write_dir(name))
    }
}

/// The overlay keeps what it already holds (see [`Overlay`]); otherwise the card takes the change
/// when it can, the overlay when simulating, and nobody when not.
fn choose(covered: bool, simulate: bool, card_can_write: impl FnOnce() -> bool) -> Result<Target, Error> {
    if covered {
        Ok(Target::Overlay)
    } else if card_can_write() {
        Ok(Target::Card)
    } else if simulate {
        Ok(Target::Overlay)
    } else {
        Err(Error::ReadOnly)
    }
}

fn require(who: Principals, condition: AccessCondition, operation: Operation) -> Result<(), Error> {
    if who.permits(condition, operation) {
        Ok(())
    } else {
        Err(Error::AccessDenied { principals: who, operation, condition })
    }
}

fn require_dir(who: Principals, condition: DirAccessCondition) -> Result<(), Error> {
    if who.may_create_delete(condition) { Ok(()) } else { Err(Error::DirAccessDenied { principals: who, condition }) }
}

#[cfg(test)]
mod tests;
