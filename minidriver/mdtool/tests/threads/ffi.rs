//! The raw side of the threads test: sharing a stand-in CSP context between threads, and CSP
//! callbacks that call back into the context they were called for.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use windows_sys::Win32::Security::Cryptography::CARD_DATA;

/// Lets threads share one stand-in CSP context, as the Base CSP shares an HCRYPTPROV.
pub(crate) struct Shared<'a>(pub(crate) &'a mdtool::csp::CardData);

// SAFETY: `CardData` is `!Sync` only because `CARD_DATA` holds raw pointers. Its `&self`
// methods never change the structure: they only call through its table, which the driver
// serialises per context; the stand-in's allocator (atomic counters over the global allocator)
// and cache (a `Mutex`) are thread-safe.
unsafe impl Sync for Shared<'_> {}

/// The code the re-entrant call got (`u32::MAX`: not made yet).
pub(crate) static REENTRY: AtomicU32 = AtomicU32::new(u32::MAX);
/// The `CARD_DATA` the cache callback calls back into.
static CARD_DATA_OF_CACHE: AtomicPtr<CARD_DATA> = AtomicPtr::new(ptr::null_mut());

/// `CardReadFile(cardcf)` on `cd` from inside a callback: its code (a buffer is freed).
///
/// # Safety
/// `cd` must be a `CARD_DATA` with an acquired context.
unsafe fn read_cardcf(cd: *const CARD_DATA) -> u32 {
    // SAFETY: per contract, the table is filled.
    let Some(read) = (unsafe { (*cd).pfnCardReadFile }) else { return u32::MAX - 1 };
    let (mut p, mut len) = (ptr::null_mut(), 0u32);
    // SAFETY: valid strings and out-pointers.
    let rv = unsafe { read(cd, ptr::null(), c"cardcf".as_ptr().cast(), 0, &mut p, &mut len) };
    // SAFETY: a buffer the driver allocated with the stand-in's allocator, or NULL.
    unsafe { mdtool::csp::free_output(p.cast()) };
    rv
}

/// `pfnCspGetDHAgreement` that first calls `CardReadFile` on the same context, then resolves
/// every handle to agreement 0.
unsafe extern "system" fn reentrant_get_dh_agreement(
    cd: *const CARD_DATA,
    _handle: *const c_void,
    index: *mut u8,
    _flags: u32,
) -> u32 {
    // SAFETY: the driver passes the CARD_DATA of the call it is in.
    REENTRY.store(unsafe { read_cardcf(cd) }, Ordering::SeqCst);
    if index.is_null() {
        return 0x8010_0004;
    }
    // SAFETY: checked non-NULL; the driver's out-parameter.
    unsafe { index.write(0) };
    0
}

/// `pfnCspCacheLookupFile` that calls `CardReadFile` on its context, then misses.
unsafe extern "system" fn reentrant_cache_lookup(
    _ctx: *const c_void,
    _tag: *const u16,
    _flags: u32,
    _ppb: *mut *mut u8,
    _pcb: *mut u32,
) -> u32 {
    let cd = CARD_DATA_OF_CACHE.load(Ordering::SeqCst);
    if !cd.is_null() {
        // SAFETY: the CARD_DATA the tamper hook recorded, alive for the test's context.
        REENTRY.store(unsafe { read_cardcf(cd) }, Ordering::SeqCst);
    }
    0x490
}

/// Tamper hook: a CSP whose `pfnCspGetDHAgreement` calls back into the context.
pub(crate) fn with_reentrant_dh(cd: &mut CARD_DATA) {
    cd.pfnCspGetDHAgreement = Some(reentrant_get_dh_agreement);
}

/// Tamper hook: a CSP whose cache lookup calls back into the context.
pub(crate) fn with_reentrant_cache(cd: &mut CARD_DATA) {
    CARD_DATA_OF_CACHE.store(&raw mut *cd, Ordering::SeqCst);
    cd.pfnCspCacheLookupFile = Some(reentrant_cache_lookup);
}
