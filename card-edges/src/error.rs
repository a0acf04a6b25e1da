//! The crate's one error type.

use core::fmt;

use crate::iso7816::status::StatusWord;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why the link to the card failed (PC/SC's `SCARD_E_*`/`SCARD_W_*` family, or the same events
/// on an in-memory card). The minidriver maps these one to one back to SCARD codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// The card was reset by someone else; authentication state is gone (`SCARD_W_RESET_CARD`).
    ResetCard,
    /// The card was removed (`SCARD_W_REMOVED_CARD`).
    RemovedCard,
    /// No card is in the reader (`SCARD_E_NO_SMARTCARD`).
    NoSmartcard,
    /// The resource manager is not running (`SCARD_E_NO_SERVICE` / `SCARD_E_SERVICE_STOPPED`).
    NoService,
    /// No reader by that name, or none at all (`SCARD_E_UNKNOWN_READER` / `SCARD_E_NO_READERS_AVAILABLE`).
    NoReader,
    /// The handle is not (or no longer) valid (`SCARD_E_INVALID_HANDLE`).
    InvalidHandle,
    /// The card did not answer in time (`SCARD_E_TIMEOUT`).
    Timeout,
    /// The card is unusable or mute (`SCARD_W_UNRESPONSIVE_CARD`, `SCARD_W_UNPOWERED_CARD`, ...).
    Unresponsive,
    /// The operation was cancelled (`SCARD_E_CANCELLED` / `SCARD_E_SYSTEM_CANCELLED`).
    Cancelled,
    /// The card is in use exclusively by someone else (`SCARD_E_SHARING_VIOLATION`).
    SharingViolation,
    /// Any other PC/SC code, kept as is.
    Other(u32),
}

impl TransportError {
    /// The PC/SC code for this failure.
    pub fn scard_code(self) -> u32 {
        match self {
            Self::ResetCard => 0x8010_0068,
            Self::RemovedCard => 0x8010_0069,
            Self::NoSmartcard => 0x8010_000C,
            Self::NoService => 0x8010_001D,
            Self::NoReader => 0x8010_0009,
            Self::InvalidHandle => 0x8010_0003,
            Self::Timeout => 0x8010_000A,
            Self::Unresponsive => 0x8010_0066,
            Self::Cancelled => 0x8010_0002,
            Self::SharingViolation => 0x8010_000B,
            Self::Other(code) => code,
        }
    }

    /// Classifies a PC/SC return code (0 is not an error and maps to `Other(0)`).
    pub fn from_scard_code(code: u32) -> Self {
        match code {
            0x8010_0068 => Self::ResetCard,
            0x8010_0069 => Self::RemovedCard,
            0x8010_000C => Self::NoSmartcard,
            0x8010_001D | 0x8010_001E => Self::NoService,
            0x8010_0009 | 0x8010_002E | 0x8010_0017 => Self::NoReader,
            0x8010_0003 => Self::InvalidHandle,
            0x8010_000A => Self::Timeout,
            0x8010_0065..=0x8010_0067 => Self::Unresponsive,
            0x8010_0002 | 0x8010_0012 => Self::Cancelled,
            0x8010_000B => Self::SharingViolation,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ResetCard => f.write_str("the card was reset"),
            Self::RemovedCard => f.write_str("the card was removed"),
            Self::NoSmartcard => f.write_str("no card in the reader"),
            Self::NoService => f.write_str("the PC/SC service is not running"),
            Self::NoReader => f.write_str("no such reader"),
            Self::InvalidHandle => f.write_str("invalid card handle"),
            Self::Timeout => f.write_str("the card did not answer in time"),
            Self::Unresponsive => f.write_str("the card does not respond"),
            Self::Cancelled => f.write_str("the operation was cancelled"),
            Self::SharingViolation => f.write_str("the card is in exclusive use by another program"),
            Self::Other(code) => write!(f, "PC/SC error 0x{code:08X}"),
        }
    }
}

/// Everything that can go wrong between the host and a card.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The link to the card failed.
    Transport(TransportError),
    /// The card answered with a status word the operation cannot accept.
    Status(StatusWord),
    /// A PIN (or PUK, or key response) was wrong; this many tries are left (`None` when the
    /// card does not say).
    WrongPin {
        /// Tries left.
        tries_left: Option<u8>,
    },
    /// The PIN (or key) is blocked.
    PinBlocked,
    /// The operation needs an authentication that has not happened (`69 82`).
    SecurityStatusNotSatisfied,
    /// The card or its data broke the format the operation expects.
    Malformed {
        /// What was malformed.
        what: &'static str,
    },
    /// A command does not fit the APDU form the card accepts.
    CommandTooLong {
        /// Data length.
        lc: usize,
        /// Expected response length.
        le: usize,
    },
    /// The card (or this edge) cannot do this; the minidriver reports `SCARD_E_UNSUPPORTED_FEATURE`.
    Unsupported(&'static str),
    /// A caller-supplied argument is invalid for this card (wrong PIN format, key size, ...).
    InvalidArgument(&'static str),
    /// No such key, container or object on the card.
    NotFound(&'static str),
    /// A logical file system rule refused the operation.
    Vfs(vfs::Error),
    /// A host-side cryptographic step failed (bad padding, point not on curve, ...).
    Crypto(&'static str),
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

impl From<vfs::Error> for Error {
    fn from(e: vfs::Error) -> Self {
        Self::Vfs(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => e.fmt(f),
            Self::Status(sw) => write!(f, "the card answered {sw}"),
            Self::WrongPin { tries_left: Some(n) } => write!(f, "wrong PIN, {n} tries left"),
            Self::WrongPin { tries_left: None } => f.write_str("wrong PIN"),
            Self::PinBlocked => f.write_str("the PIN is blocked"),
            Self::SecurityStatusNotSatisfied => f.write_str("the card requires authentication first"),
            Self::Malformed { what } => write!(f, "malformed card data: {what}"),
            Self::CommandTooLong { lc, le } => {
                write!(f, "command too long for the card (Lc {lc}, Le {le})")
            }
            Self::Unsupported(what) => write!(f, "not supported: {what}"),
            Self::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Self::NotFound(what) => write!(f, "not found: {what}"),
            Self::Vfs(e) => e.fmt(f),
            Self::Crypto(what) => write!(f, "cryptographic failure: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Vfs(e) => Some(e),
            _ => None,
        }
    }
}
