//! The seam card edges implement: where the logical files really live.
//!
//! A [`Storage`] maps the logical file system onto a card (PIV data objects, GIDS data objects,
//! a simulated card). It receives only valid, lower-cased names and is not asked to check access
//! conditions: [`crate::Vfs`] does that first, for the principals authenticated at that moment.
//! A card may of course refuse on its own as well.

use crate::access::{AccessCondition, DirAccessCondition};
use crate::name::Name;
use crate::path::FilePath;

/// What `CardGetFileInfo` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileInfo {
    /// The file's logical (uncompressed) size in bytes.
    pub size: u32,
    /// The file's access condition.
    pub access_condition: AccessCondition,
}

/// What `CardQueryFreeSpace` reports. `None` is `CARD_DATA_VALUE_UNKNOWN`; approximate values
/// are allowed. A read-only card reports 0 bytes and 0 containers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FreeSpace {
    /// `dwBytesAvailable`.
    pub bytes_available: Option<u32>,
    /// `dwKeyContainersAvailable`.
    pub containers_available: Option<u32>,
    /// `dwMaxKeyContainers`.
    pub max_containers: Option<u32>,
}

/// Where the files live. Every method takes `&mut self` because answering may talk to the card.
///
/// Report a missing file with `crate::Error::FileNotFound.into()`, a missing directory with
/// `crate::Error::DirNotFound.into()`, and so on, so the C layer can map them to the codes the
/// specification requires.
pub trait Storage {
    /// The edge's error; it must carry this crate's errors.
    type Error: From<crate::Error> + std::error::Error;

    /// The whole content of a file.
    ///
    /// # Errors
    /// `FileNotFound`, `DirNotFound`, or a card failure.
    fn read_file(&mut self, path: &FilePath) -> Result<Vec<u8>, Self::Error>;

    /// Replaces the whole content of an existing file, growing it as needed.
    ///
    /// # Errors
    /// `FileNotFound`, `DirNotFound`, `OutOfSpace`, or a card failure.
    fn write_file(&mut self, path: &FilePath, data: &[u8]) -> Result<(), Self::Error>;

    /// Creates an empty file (`initial_size` is a hint for cards that allocate up front).
    ///
    /// # Errors
    /// `FileExists`, `DirNotFound`, `OutOfSpace`, or a card failure.
    fn create_file(
        &mut self,
        path: &FilePath,
        access_condition: AccessCondition,
        initial_size: u32,
    ) -> Result<(), Self::Error>;

    /// Deletes a file.
    ///
    /// # Errors
    /// `FileNotFound`, `DirNotFound`, or a card failure.
    fn delete_file(&mut self, path: &FilePath) -> Result<(), Self::Error>;

    /// Creates an application directory in the root.
    ///
    /// # Errors
    /// `FileExists`, `OutOfSpace`, or a card failure.
    fn create_dir(&mut self, name: &Name, access_condition: DirAccessCondition) -> Result<(), Self::Error>;

    /// Deletes an empty application directory.
    ///
    /// # Errors
    /// `DirNotFound`, `DirNotEmpty`, or a card failure.
    fn delete_dir(&mut self, name: &Name) -> Result<(), Self::Error>;

    /// The files (not directories) in the root (`None`) or in a directory.
    ///
    /// # Errors
    /// `DirNotFound`, or a card failure.
    fn list(&mut self, dir: Option<&Name>) -> Result<Vec<Name>, Self::Error>;

    /// The application directories in the root. [`crate::Vfs`] needs them because a file and a
    /// directory in the root may not share a name.
    ///
    /// # Errors
    /// A card failure.
    fn list_dirs(&mut self) -> Result<Vec<Name>, Self::Error>;

    /// Size and access condition of a file.
    ///
    /// # Errors
    /// `FileNotFound`, `DirNotFound`, or a card failure.
    fn file_info(&mut self, path: &FilePath) -> Result<FileInfo, Self::Error>;

    /// A file's access condition. Must be cheap: [`crate::Vfs`] asks before every file operation.
    ///
    /// # Errors
    /// `FileNotFound`, `DirNotFound`, or a card failure.
    fn access_condition(&mut self, path: &FilePath) -> Result<AccessCondition, Self::Error>;

    /// An application directory's access condition.
    ///
    /// # Errors
    /// `DirNotFound`, or a card failure.
    fn dir_access_condition(&mut self, name: &Name) -> Result<DirAccessCondition, Self::Error>;

    /// Who may create files and directories in the root. Seed 003 does not say; the default
    /// treats the root like `mscp` (`UserCreateDeleteDirAc`): User and Admin may, Everyone never
    /// may. A card whose root only the admin may change returns `AdminCreateDeleteDirAc`.
    fn root_access_condition(&mut self) -> DirAccessCondition {
        DirAccessCondition::USER_CREATE_DELETE
    }

    /// Free space on the card.
    ///
    /// # Errors
    /// A card failure.
    fn free_space(&mut self) -> Result<FreeSpace, Self::Error>;

    /// Whether the card itself can write, create or delete this file right now (for example,
    /// a PIV card only with the management key authenticated, and never `cardcf`). When it
    /// cannot, [`crate::Vfs`] simulates the change or reports `ReadOnly`.
    fn can_write(&mut self, path: &FilePath) -> bool;

    /// Whether the card itself can create or delete this application directory right now.
    fn can_write_dir(&mut self, name: &Name) -> bool;
}
