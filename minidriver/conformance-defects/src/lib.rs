//! Test only: a minidriver library that loads the real built `libminidriver.so` and passes
//! every call through, except for ONE defect chosen by the environment variable `MD_DEFECT`
//! (unset or `none`: no defect). `mdtool conformance --driver` run against it must fail
//! exactly the checks of that defect (`minidriver/mdtool/tests/conformance_pcsc.rs`), which
//! proves those checks can fail.
//!
//! The real library's path comes from `MD_DEFECT_DRIVER`, else `libminidriver.so` beside the
//! running program. It cannot be linked in: its `CardAcquireContext` would clash with this
//! one's.

mod defect;
mod ffi;

pub use defect::Defect;
pub use ffi::CardAcquireContext;
