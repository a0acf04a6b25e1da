//! mdtool's library: the Base CSP stand-in ([`csp`]) that mdtool and the ABI integration tests
//! use to drive the minidriver through its `CARD_DATA` function table.
#![deny(unsafe_code)]

pub mod conformance;
pub mod csp;
#[doc(hidden)]
pub mod fuzzing;
