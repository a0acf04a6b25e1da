//! Real byte strings for tests, fuzz seeds and benches.
//!
//! Every constant names its source in its doc comment. Vectors that were made for this project
//! (keys, certificates issued by a test CA) say how they were made, so anyone can make them again.
#![forbid(unsafe_code)]

pub mod atr;
pub mod cardid;
pub mod certs;
pub mod cmapfile;
pub mod corpus;
pub mod keys;
