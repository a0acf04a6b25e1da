//! The crate's one error type.
//!
//! Each variant names one rule of seed 003, so the C layer can map it to the `SCARD_*` or Win32
//! code that the minidriver specification gives for that rule, and tests can say which rule
//! fired. Card edges wrap it in their own error type (see [`crate::Storage::Error`]).

use crate::access::{AccessCondition, DirAccessCondition, Operation, Principals};

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a file or directory name was refused (seed 003, "File naming requirements").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameError {
    /// The name has no characters.
    Empty,
    /// The name has more than 8 characters; the value is its length.
    TooLong(usize),
    /// The name holds a character that Windows forbids in file names (`" * / : < > ? \ |`).
    ReservedChar(u8),
    /// The name holds a control character (0x00–0x1F), which Windows forbids in file names.
    ControlChar(u8),
    /// The name holds a byte above 0x7F. Lower-casing such a byte depends on the ANSI code page
    /// of each process, so two processes could disagree on which file a name means.
    NotAscii(u8),
    /// The name is `.` or `..`, which Windows reserves for the current and parent directory.
    Dots,
}

impl core::fmt::Display for NameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty name"),
            Self::TooLong(len) => write!(f, "{len} characters, at most 8 allowed"),
            Self::ReservedChar(b) => write!(f, "reserved character {:?}", char::from(*b)),
            Self::ControlChar(b) => write!(f, "control character 0x{b:02x}"),
            Self::NotAscii(b) => write!(f, "non-ASCII byte 0x{b:02x}"),
            Self::Dots => f.write_str("`.` and `..` are not names"),
        }
    }
}

/// Everything that can go wrong in the logical file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory name breaks the naming rules.
    #[error("invalid name: {0}")]
    InvalidName(NameError),
    /// The file does not exist (its directory does).
    #[error("file not found")]
    FileNotFound,
    /// The directory does not exist.
    #[error("directory not found")]
    DirNotFound,
    /// A file or directory of that name already exists.
    #[error("a file or directory of that name exists")]
    FileExists,
    /// The directory still holds files.
    #[error("directory not empty")]
    DirNotEmpty,
    /// The file's access condition does not let any of the authenticated principals do this.
    #[error("{principals} may not {operation} a file with {condition}")]
    AccessDenied {
        /// Who was authenticated.
        principals: Principals,
        /// What they tried.
        operation: Operation,
        /// The file's access condition.
        condition: AccessCondition,
    },
    /// The directory's access condition does not let any of the authenticated principals
    /// create files in it, or delete it.
    #[error("{principals} may not create or delete in a directory with {condition}")]
    DirAccessDenied {
        /// Who was authenticated.
        principals: Principals,
        /// The directory's access condition.
        condition: DirAccessCondition,
    },
    /// The access condition is not one a file can be created with.
    #[error("{0} is not an access condition a file can be created with")]
    InvalidAccessCondition(AccessCondition),
    /// The access condition is not one a directory can be created with.
    #[error("{0} is not an access condition a directory can be created with")]
    InvalidDirAccessCondition(DirAccessCondition),
    /// The card (or the write-simulation overlay) has no room for this.
    #[error("out of space")]
    OutOfSpace,
    /// The card cannot write this now and write simulation is off.
    #[error("the card cannot write this file")]
    ReadOnly,
    /// A well-known file's bytes do not follow its format.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which format.
        what: &'static str,
        /// Which rule the bytes break.
        why: &'static str,
    },
}

impl From<NameError> for Error {
    fn from(e: NameError) -> Self {
        Self::InvalidName(e)
    }
}

impl Error {
    /// A [`Error::Malformed`] for `what`, breaking rule `why`.
    pub(crate) const fn malformed(what: &'static str, why: &'static str) -> Self {
        Self::Malformed { what, why }
    }
}
