//! The crate's error type and the one place that turns errors into the specification's codes.

use core::fmt;

use card_edges::TransportError;

use crate::abi::code;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything an entry point can fail with. [`Error::code`] is the only mapping to `DWORD`s.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A NULL, out-of-range or inconsistent argument (`SCARD_E_INVALID_PARAMETER`).
    InvalidParameter(&'static str),
    /// Missing card handles (`SCARD_E_INVALID_HANDLE`).
    InvalidHandle,
    /// A structure or `CARD_DATA` version this driver does not accept (`ERROR_REVISION_MISMATCH`).
    RevisionMismatch,
    /// A valid ATR of a card this driver does not handle (`SCARD_E_UNKNOWN_CARD`).
    UnknownCard,
    /// The card or driver cannot do this (`SCARD_E_UNSUPPORTED_FEATURE`).
    Unsupported(&'static str),
    /// No key container at that index (`SCARD_E_NO_KEY_CONTAINER`).
    NoKeyContainer,
    /// `SCARD_E_FILE_NOT_FOUND`.
    FileNotFound,
    /// `SCARD_E_DIR_NOT_FOUND`.
    DirNotFound,
    /// `ERROR_FILE_EXISTS`.
    FileExists,
    /// `ERROR_DIR_NOT_EMPTY`.
    DirNotEmpty,
    /// The authenticated principals may not do this (`SCARD_W_SECURITY_VIOLATION`).
    SecurityViolation,
    /// Wrong PIN or response (`SCARD_W_WRONG_CHV`), with the tries left if known.
    WrongPin {
        /// Tries left, `None` when unknown.
        tries_left: Option<u32>,
    },
    /// The PIN is blocked (`SCARD_W_CHV_BLOCKED`).
    PinBlocked,
    /// `pfnCspAlloc` failed (`SCARD_E_NO_MEMORY`).
    NoMemory,
    /// A caller buffer is too small for a property (`ERROR_INSUFFICIENT_BUFFER`).
    BufferTooSmall,
    /// `CardRSADecrypt`'s buffer is shorter than the modulus (`SCARD_E_INSUFFICIENT_BUFFER`).
    ScardBufferTooSmall,
    /// The card is out of space (`SCARD_E_WRITE_TOO_MANY`).
    WriteTooMany,
    /// A cache file of the wrong size (`ERROR_BAD_LENGTH`).
    BadLength,
    /// Bad padding or other data the operation cannot accept (`NTE_BAD_DATA`).
    BadData,
    /// The link to the card failed (the PC/SC code is passed through).
    Transport(TransportError),
    /// Anything else that went wrong (`SCARD_E_UNEXPECTED`).
    Unexpected(&'static str),
}

/// `NTE_BAD_DATA`.
const NTE_BAD_DATA: u32 = 0x8009_0005;

impl Error {
    /// The `DWORD` an entry point returns for this error.
    pub fn code(&self) -> u32 {
        match self {
            Self::InvalidParameter(_) => code::SCARD_E_INVALID_PARAMETER,
            Self::InvalidHandle => code::SCARD_E_INVALID_HANDLE,
            Self::RevisionMismatch => code::ERROR_REVISION_MISMATCH,
            Self::UnknownCard => code::SCARD_E_UNKNOWN_CARD,
            Self::Unsupported(_) => code::SCARD_E_UNSUPPORTED_FEATURE,
            Self::NoKeyContainer => code::SCARD_E_NO_KEY_CONTAINER,
            Self::FileNotFound => code::SCARD_E_FILE_NOT_FOUND,
            Self::DirNotFound => code::SCARD_E_DIR_NOT_FOUND,
            Self::FileExists => code::ERROR_FILE_EXISTS,
            Self::DirNotEmpty => code::ERROR_DIR_NOT_EMPTY,
            Self::SecurityViolation => code::SCARD_W_SECURITY_VIOLATION,
            Self::WrongPin { .. } => code::SCARD_W_WRONG_CHV,
            Self::PinBlocked => code::SCARD_W_CHV_BLOCKED,
            Self::NoMemory => code::SCARD_E_NO_MEMORY,
            Self::BufferTooSmall => code::ERROR_INSUFFICIENT_BUFFER,
            Self::ScardBufferTooSmall => code::SCARD_E_INSUFFICIENT_BUFFER,
            Self::WriteTooMany => code::SCARD_E_WRITE_TOO_MANY,
            Self::BadLength => code::ERROR_BAD_LENGTH,
            Self::BadData => NTE_BAD_DATA,
            Self::Transport(t) => t.scard_code(),
            Self::Unexpected(_) => code::SCARD_E_UNEXPECTED,
        }
    }

    /// Tries left to report in `pcAttemptsRemaining` (`(DWORD)-1` when unknown).
    pub fn attempts_remaining(&self) -> Option<u32> {
        match self {
            Self::WrongPin { tries_left } => Some(tries_left.unwrap_or(u32::MAX)),
            Self::PinBlocked => Some(0),
            _ => None,
        }
    }

    /// Whether the card was reset or removed: authentication state is gone.
    pub fn is_card_lost(&self) -> bool {
        matches!(
            self,
            Self::Transport(TransportError::ResetCard | TransportError::RemovedCard | TransportError::NoSmartcard)
        )
    }
}

impl From<card_edges::Error> for Error {
    fn from(e: card_edges::Error) -> Self {
        use card_edges::Error as E;
        match e {
            E::Transport(t) => Self::Transport(t),
            E::WrongPin { tries_left } => Self::WrongPin { tries_left: tries_left.map(u32::from) },
            E::PinBlocked => Self::PinBlocked,
            E::SecurityStatusNotSatisfied => Self::SecurityViolation,
            E::Unsupported(what) => Self::Unsupported(what),
            E::InvalidArgument(what) => Self::InvalidParameter(what),
            E::CommandTooLong { .. } => Self::InvalidParameter("data too long for the card"),
            E::NotFound(_) => Self::NoKeyContainer,
            E::Vfs(v) => v.into(),
            E::Crypto(_) => Self::BadData,
            E::Status(_) => Self::Unexpected("the card refused the command"),
            E::Malformed { what } => Self::Unexpected(what),
            _ => Self::Unexpected("card edge failure"),
        }
    }
}

impl From<vfs::Error> for Error {
    fn from(e: vfs::Error) -> Self {
        use vfs::Error as V;
        match e {
            V::InvalidName(_) => Self::InvalidParameter("invalid file or directory name"),
            V::FileNotFound => Self::FileNotFound,
            V::DirNotFound => Self::DirNotFound,
            V::FileExists => Self::FileExists,
            V::DirNotEmpty => Self::DirNotEmpty,
            V::AccessDenied { .. } | V::DirAccessDenied { .. } => Self::SecurityViolation,
            V::InvalidAccessCondition(_) | V::InvalidDirAccessCondition(_) => {
                Self::InvalidParameter("invalid access condition")
            }
            V::OutOfSpace => Self::WriteTooMany,
            V::ReadOnly => Self::Unsupported("the card cannot write this"),
            V::Malformed { .. } => Self::BadLength,
            _ => Self::Unexpected("file system failure"),
        }
    }
}

impl From<crate::kdf::KdfError> for Error {
    fn from(e: crate::kdf::KdfError) -> Self {
        match e {
            crate::kdf::KdfError::InvalidParameter(what) => Self::InvalidParameter(what),
            crate::kdf::KdfError::Unsupported(what) => Self::Unsupported(what),
        }
    }
}

impl From<TransportError> for Error {
    fn from(t: TransportError) -> Self {
        Self::Transport(t)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter(what) => write!(f, "invalid parameter: {what}"),
            Self::Unsupported(what) => write!(f, "not supported: {what}"),
            Self::Unexpected(what) => write!(f, "unexpected failure: {what}"),
            Self::Transport(t) => t.fmt(f),
            Self::WrongPin { tries_left: Some(n) } => write!(f, "wrong PIN, {n} tries left"),
            other => write!(f, "{other:?} (0x{:08X})", other.code()),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_specs() {
        assert_eq!(Error::InvalidParameter("x").code(), 0x8010_0004);
        assert_eq!(Error::RevisionMismatch.code(), 0x51A);
        assert_eq!(Error::WrongPin { tries_left: Some(2) }.code(), 0x8010_006B);
        assert_eq!(Error::WrongPin { tries_left: None }.attempts_remaining(), Some(u32::MAX));
        assert_eq!(Error::PinBlocked.code(), 0x8010_006C);
        assert_eq!(Error::Transport(TransportError::ResetCard).code(), 0x8010_0068);
        assert_eq!(Error::Transport(TransportError::RemovedCard).code(), 0x8010_0069);
        assert_eq!(Error::from(vfs::Error::FileNotFound).code(), 0x8010_0024);
        assert_eq!(Error::from(vfs::Error::DirNotFound).code(), 0x8010_0023);
        assert_eq!(Error::from(vfs::Error::FileExists).code(), 0x50);
        assert_eq!(Error::from(vfs::Error::DirNotEmpty).code(), 0x91);
        assert_eq!(Error::from(card_edges::Error::SecurityStatusNotSatisfied).code(), 0x8010_006A);
        assert_eq!(Error::BufferTooSmall.code(), 0x7A);
        assert_eq!(Error::ScardBufferTooSmall.code(), 0x8010_0008);
        assert!(Error::Transport(TransportError::ResetCard).is_card_lost());
    }
}
