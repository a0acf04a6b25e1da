//! The GIDS card edge (Microsoft Generic Identity Device Specification v2.0), host side: the
//! Base CSP's logical file system stored natively on the card ([`vfs::Storage`]), PIN, PUK
//! and administrator authentication, and the RSA key operations, with the fewest card round
//! trips.
//!
//! On the card (GIDS electrical profile, as Windows' msclmd and OpenSC's card-gids.c use it):
//!
//! | what | where |
//! |---|---|
//! | master file (logical file table) | `A000`/`DF1F`, [`masterfile`] |
//! | keymap (container ↔ key file) | `A000`/`DF20`, [`keymap`] |
//! | `cardid` | `A012`/`DF20` |
//! | `cardcf` | `A010`/`DF22` |
//! | `cardapps`, `mscp/cmapfile`, certificates, other files | through the master file (`A010`/`DF21`... ) |
//! | container `i`'s key | key reference `81 + i`, key file `B0(81+i)`, [`keyfile`] |
//! | user PIN, PUK | references `80`, `81`; retry counters in `3FFF`/`7F71`, `7F73` |
//! | administrator key | reference `80` in key file `B080`, 3-key Triple DES, [`admin`] |
//!
//! Short APDUs only (OpenSC never uses extended length for GIDS): responses come in `61xx`
//! parts, long commands are chained (CLA `10`).

pub mod admin;
mod auth;
pub mod certificate;
mod containers;
mod edge;
mod files;
pub mod keyfile;
pub mod keymap;
pub mod masterfile;
mod ops;
mod snapshot;

#[cfg(test)]
mod testcard;
#[cfg(test)]
mod transcript;

pub use auth::{PIN_REF, PUK_REF, parse_pin_status};
pub use containers::Container;
pub use edge::{AuthState, GidsEdge, PinStatus, Probe};
pub use files::{access_condition_of, file_id_for};
pub use keyfile::RsaPrivateParts;
pub use ops::DecryptPadding;

/// The GIDS AID as selected (the 9-byte prefix; the version bytes are not sent).
pub const GIDS_AID: [u8; 9] = crate::detect::GIDS_AID;
