//! The crate's one error type: why a simulated card could not be made or reached. What a
//! simulated card answers to a command is a status word, never an error.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why building, provisioning or reaching a simulated card failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A provisioning request the card cannot honour.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The card holds nothing of the kind asked for.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// Key generation, signing or encoding failed.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    /// The ISO 7816 layer or a transport refused.
    #[error(transparent)]
    Card(#[from] card_edges::Error),
}
