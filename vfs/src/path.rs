//! A file's place: the root, or one application directory below it.
//!
//! Seed 003 allows two levels only, so a path is an optional directory name plus a file name;
//! deeper paths cannot be written down.

use crate::error::Result;
use crate::name::Name;

/// A file in the root (`dir == None`) or in an application directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FilePath {
    /// The application directory, or `None` for the root.
    pub dir: Option<Name>,
    /// The file's name.
    pub file: Name,
}

impl FilePath {
    /// A file in the root directory.
    pub const fn root(file: Name) -> Self {
        Self { dir: None, file }
    }

    /// A file in an application directory.
    pub const fn in_dir(dir: Name, file: Name) -> Self {
        Self { dir: Some(dir), file }
    }

    /// Validates the raw name bytes the C interface passes (`pszDirectoryName`, `pszFileName`,
    /// without their NULs).
    ///
    /// A missing directory means the root (the specification's NULL). An empty directory name
    /// also means the root, as OpenSC's minidriver accepts it; an empty file name is an error.
    ///
    /// # Errors
    /// [`crate::Error::InvalidName`] for either name.
    pub fn from_bytes(dir: Option<&[u8]>, file: &[u8]) -> Result<Self> {
        let dir = dir_from_bytes(dir)?;
        Ok(Self { dir, file: Name::new(file)? })
    }

    /// Parses `"file"` or `"dir/file"` (also with `\`), for tests and tools.
    ///
    /// # Errors
    /// [`crate::Error::InvalidName`] when a part is not a valid name (so `"a/b/c"` fails).
    pub fn parse(s: &str) -> Result<Self> {
        match s.split_once(['/', '\\']) {
            Some((dir, file)) => Ok(Self::in_dir(Name::parse(dir)?, Name::parse(file)?)),
            None => Ok(Self::root(Name::parse(s)?)),
        }
    }
}

/// Validates an optional directory name from the C interface: `None` or empty is the root.
///
/// # Errors
/// [`crate::Error::InvalidName`] when the bytes are not a valid name.
pub fn dir_from_bytes(dir: Option<&[u8]>) -> Result<Option<Name>> {
    match dir {
        None | Some([]) => Ok(None),
        Some(raw) => Name::new(raw).map(Some),
    }
}

impl core::fmt::Display for FilePath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.dir {
            Some(dir) => write!(f, "{dir}/{}", self.file),
            None => write!(f, "{}", self.file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, NameError};

    #[test]
    fn from_bytes_root_and_dir() {
        let root = FilePath::from_bytes(None, b"CardID").unwrap();
        assert_eq!(root, FilePath::root(Name::parse("cardid").unwrap()));
        assert_eq!(FilePath::from_bytes(Some(b""), b"cardid").unwrap(), root);
        let p = FilePath::from_bytes(Some(b"MSCP"), b"CMapFile").unwrap();
        assert_eq!(p.to_string(), "mscp/cmapfile");
        assert_eq!(p, FilePath::parse("mscp\\cmapfile").unwrap());
    }

    #[test]
    fn from_bytes_rejects_bad_names() {
        assert_eq!(FilePath::from_bytes(None, b""), Err(Error::InvalidName(NameError::Empty)));
        assert_eq!(FilePath::from_bytes(Some(b"toolongdir"), b"a"), Err(Error::InvalidName(NameError::TooLong(10))));
        assert!(FilePath::parse("a/b/c").is_err());
    }
}
