//! This package only hosts the workspace's criterion benches (`benches/codecs.rs`: card data
//! and VFS file codecs); the APDU-count report will live here too. It has no library API.
#![forbid(unsafe_code)]
