//! The test stack's one `unsafe` call: pointing this process's pcsc-lite clients at the
//! private pcscd. pcsc-lite reads `PCSCLITE_CSOCK_NAME` from the environment (once, at the
//! process's first PC/SC call); no safe API can set it.
#![allow(unsafe_code)]

use std::path::Path;

/// Sets `name` to `socket` in this process's environment.
pub(super) fn set_socket_env(name: &str, socket: &Path) {
    // SAFETY: `set_var` is unsafe because another thread could read the environment through
    // libc at the same time. It runs once, inside the shared stack's `OnceLock` initialiser,
    // before this process makes any PC/SC call: the only C code that reads this variable
    // (pcsc-lite) has not run yet, and the other tests of the process wait on the `OnceLock`.
    // Rust's own environment accesses are serialised by std's lock.
    unsafe { std::env::set_var(name, socket) }
}
