//! Card edges: everything between the logical file system and the card.
//!
//! - [`iso7816`]: command/response APDUs, status words, bounded BER-TLV, ATR parsing and the
//!   APDU session (chaining, `61xx`, `6Cxx`, extended length when declared).
//! - [`transport`]: PC/SC (owned and borrowed handles) and in-memory cards.
//! - [`detect`]: Windows' three card discovery flows, with their evidence.
//! - [`key`]: card-neutral key types (algorithm, public key, role) that every edge uses.
//! - [`piv`]: the PIV card edge (SP 800-73-4), host side: logical files, PINs, keys.
//! - [`gids`]: the GIDS card edge (GIDS v2.0), host side: the logical file system on the card, PINs, keys.
//! - [`crypto`]: host-side padding and format conversion around the card's raw operations.
//!
//! This crate never sees a `CARD_DATA`: the minidriver crate maps its types to the C ABI.
#![deny(unsafe_code)]

pub mod crypto;
pub mod detect;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gids;
pub mod iso7816;
pub mod key;
pub mod piv;
pub mod transport;

pub use error::{Error, Result, TransportError};
