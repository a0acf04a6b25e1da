//! The PIV card edge (NIST SP 800-73-4), host side: presents any PIV card as the Base CSP's
//! logical file system ([`vfs::Storage`]) and performs its private-key operations with the
//! fewest card round trips.
//!
//! Mapping decisions (see `ARCHITECTURE.md` and `research/piv.md`): containers are the slots
//! that hold a certificate, at fixed indexes 9A, 9C, 9D, 9E, 82..95 (retired slots found through
//! the key history object); RSA keys are key exchange keys (they sign too); EC keys in 9A, 9C
//! and 9E are ECDSA, in 9D and retired slots ECDH; the user PIN is `80` (global `00` when the
//! card has no application PIN); the administrator is the card management key `9B`.

pub mod algorithm;
pub mod auth;
mod edge;
mod enroll;
pub mod files;
pub mod objects;
mod ops;
pub mod slot;
mod snapshot;
mod winfiles;
pub mod yubico;

pub use auth::{ManagementAlgorithm, management_algorithm_from_id, management_algorithm_id, pad_pin};
pub use edge::{AuthState, PivEdge, SlotContent};
pub use enroll::ManagementKeyAccess;
pub use files::{CardcfDelta, Container, container_name};
pub use slot::Slot;

/// The factory-default card management key of PIV tokens (3DES `0102030405060708` x 3).
pub const DEFAULT_MANAGEMENT_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];
