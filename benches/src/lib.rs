//! The workspace's benchmarks: criterion benches of the parsers and codecs
//! (`benches/codecs.rs`), and the APDU report ([`report`]: every user-visible flow on every card
//! shape, in APDUs and bytes, beside its physical minimum, OpenSC's count and its budget),
//! printed by `cargo run -p md-benches --bin apdu-report` and held to its budgets by
//! `cargo test -p md-benches`.
#![forbid(unsafe_code)]

pub mod report;
