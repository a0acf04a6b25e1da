//! A Windows smart card minidriver (Smart Card Minidriver Specification v7) for PIV cards,
//! written in Rust, and a safe Rust API over the same session.
//!
//! - The C door: [`ffi::CardAcquireContext`] fills the `CARD_DATA` v7 function table (the only
//!   `unsafe` code of the crate is in [`ffi`]).
//! - [`Card`]: the same card operations for Rust programs, over PC/SC or any transport, with
//!   card keys usable through the RustCrypto `signature` traits.
//!
//! Layering: `vfs` (logical files, access conditions) <- `card-edges` (APDUs, PIV edge) <- this
//! crate. Everything between the C boundary and the card edge works on typed values
//! ([`context`]), so the specification's rules live in one place and are tested without C.
#![deny(unsafe_code)]

pub mod abi;
mod blobs;
mod card;
mod context;
mod edge;
pub mod error;
pub mod ffi;
pub mod kdf;
mod link;
pub mod log;
mod session_pin;

pub use card::{Card, CardKey, Decryption};
#[doc(hidden)]
pub use edge::forget_hints;
pub use edge::{Container, GIDS_AID_ENV, KeyRole, OpenOptions, PIV_PROTECT_DEFAULT_MGMT_KEY_ENV};
pub use error::{Error, Result};
