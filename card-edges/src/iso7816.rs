//! The ISO 7816 layer: APDUs, status words, BER-TLV, ATRs and the APDU session.

pub mod apdu;
pub mod atr;
pub mod session;
pub mod status;
pub mod tlv;

pub use apdu::{Command, CommandView, Response};
pub use atr::Atr;
pub use session::{Counters, Limits, Session};
pub use status::{Status, StatusWord};
pub use tlv::Tag;
