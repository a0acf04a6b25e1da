//! The exported `CardAcquireContext`: loads the real library, calls its `CardAcquireContext`
//! on the CSP's `CARD_DATA`, then applies the defect `MD_DEFECT` names, wrapping the one table
//! entry it concerns (the real entry is kept to call through).
#![allow(unsafe_code)]

use core::ptr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use windows_sys::Win32::Security::Cryptography::{
    CARD_DATA, CARD_FILE_INFO, CARD_FREE_SPACE_INFO, CARD_SIGNING_INFO, PFN_CARD_AUTHENTICATE_EX,
    PFN_CARD_GET_PROPERTY, PFN_CARD_READ_FILE, PFN_CARD_SIGN_DATA,
};

use crate::Defect;

type AcquireFn = unsafe extern "system" fn(*mut CARD_DATA, u32) -> u32;

const SCARD_E_UNEXPECTED: u32 = 0x8010_001F;
const SCARD_E_UNSUPPORTED_FEATURE: u32 = 0x8010_0022;
const ERROR_INSUFFICIENT_BUFFER: u32 = 0x7A;
/// `CARD_BUFFER_SIZE_ONLY` of `dwSigningFlags`.
const BUFFER_SIZE_ONLY: u32 = 0x2000_0000;
/// `CP_CARD_GUID`, NUL-terminated UTF-16 as the CSP passes it.
const CARD_GUID: &str = "Card Identifier";

/// The real library, loaded once (kept loaded for the process, as a CSP keeps it).
fn inner() -> Option<AcquireFn> {
    static INNER: OnceLock<Option<(libloading::Library, AcquireFn)>> = OnceLock::new();
    INNER
        .get_or_init(|| {
            let name = format!("{}minidriver{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
            let path = std::env::var_os("MD_DEFECT_DRIVER")
                .map(PathBuf::from)
                .or_else(|| std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(&name))))?;
            // SAFETY: loading the real minidriver runs its initialisers, which are Rust's own.
            let library = unsafe { libloading::Library::new(path) }.ok()?;
            // SAFETY: its export has the PFN_CARD_ACQUIRE_CONTEXT signature.
            let acquire: AcquireFn = unsafe { *library.get::<AcquireFn>(b"CardAcquireContext\0").ok()? };
            Some((library, acquire))
        })
        .as_ref()
        .map(|(_, f)| *f)
}

fn defect() -> Defect {
    static DEFECT: OnceLock<Defect> = OnceLock::new();
    *DEFECT.get_or_init(Defect::from_env)
}

/// The real entry points the wrappers call (the same for every context of the library).
static READ_FILE: OnceLock<PFN_CARD_READ_FILE> = OnceLock::new();
static GET_PROPERTY: OnceLock<PFN_CARD_GET_PROPERTY> = OnceLock::new();
static SIGN_DATA: OnceLock<PFN_CARD_SIGN_DATA> = OnceLock::new();
static AUTHENTICATE_EX: OnceLock<PFN_CARD_AUTHENTICATE_EX> = OnceLock::new();
/// The user PIN the `PinCached` defect remembers.
static CACHED_PIN: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// `CardAcquireContext`: the real one, then the defect.
///
/// # Safety
/// As the real `CardAcquireContext`: `card_data` NULL or a `CARD_DATA` the CSP filled.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "system" fn CardAcquireContext(card_data: *mut CARD_DATA, flags: u32) -> u32 {
    let Some(acquire) = inner() else { return SCARD_E_UNEXPECTED };
    let defect = defect();
    if card_data.is_null() {
        // SAFETY: NULL is passed on for the real driver to refuse.
        return unsafe { acquire(card_data, flags) };
    }
    // SAFETY: the CSP's CARD_DATA (per contract) of at least the version-4 fields.
    let requested = unsafe { (*card_data).dwVersion };
    if defect == Defect::AcceptVersion3 && requested == 3 {
        // SAFETY: as above.
        unsafe { (*card_data).dwVersion = 4 };
    }
    // SAFETY: as above.
    let rv = unsafe { acquire(card_data, flags) };
    if rv != 0 {
        return rv;
    }
    // SAFETY: an acquired context: the table is filled for the negotiated version. The CSP this
    // test library serves (mdtool's) always passes a whole version-7 CARD_DATA, whatever
    // dwVersion it asks for; the defects write only entries of the negotiated version, except
    // TailWrite, whose point that is (into the stand-in's canary bytes).
    unsafe { after_acquire(&mut *card_data, defect, requested) };
    0
}

/// Applies `defect` to an acquired context's table.
///
/// # Safety
/// `cd` is a `CARD_DATA` the real driver just filled.
unsafe fn after_acquire(cd: &mut CARD_DATA, defect: Defect, requested: u32) {
    // The entry points from pfnCardGetChallengeEx on exist from version 6 (the CARD_DATA of
    // Microsoft's cardmod.h): a defect in one of them leaves older contexts alone, so that it
    // is not also a write past the version's extent.
    let v6 = cd.dwVersion >= 6;
    match defect {
        Defect::None | Defect::AcceptVersion3 => {}
        Defect::NullSlot => cd.pfnCardQueryFreeSpace = None,
        Defect::Leak => {
            if let Some(alloc) = cd.pfnCspAlloc {
                // SAFETY: the CSP's allocator; the block is never freed (the defect).
                let _ = unsafe { alloc(16) };
            }
        }
        Defect::WriteOnFailure | Defect::NullArgumentCode => {
            let _ = READ_FILE.set(cd.pfnCardReadFile);
            cd.pfnCardReadFile = Some(read_file);
        }
        Defect::BigEndianSignature => {
            let _ = SIGN_DATA.set(cd.pfnCardSignData);
            cd.pfnCardSignData = Some(sign_data);
        }
        Defect::PinCached if v6 => {
            let _ = AUTHENTICATE_EX.set(cd.pfnCardAuthenticateEx);
            let pin = CACHED_PIN.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if let (false, Some(authenticate)) = (pin.is_empty(), cd.pfnCardAuthenticateEx) {
                let (session, session_len, tries) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
                // SAFETY: the real entry point on the context it just made, with a remembered PIN.
                let _ = unsafe { authenticate(cd, 1, 0, pin.as_ptr(), pin.len() as u32, session, session_len, tries) };
            }
            cd.pfnCardAuthenticateEx = Some(authenticate_ex);
        }
        Defect::ShortBufferLength | Defect::CardidNotGuid if v6 => {
            let _ = GET_PROPERTY.set(cd.pfnCardGetProperty);
            cd.pfnCardGetProperty = Some(get_property);
        }
        Defect::TailWrite => {
            if requested == 4 {
                // Past the 328 bytes of a version 4 CARD_DATA.
                cd.pfnCardGetChallengeEx = Some(unsupported_challenge);
            }
        }
        Defect::PinCached | Defect::ShortBufferLength | Defect::CardidNotGuid => {}
        Defect::Hang => cd.pfnCardQueryFreeSpace = Some(query_free_space),
        Defect::Crash => cd.pfnCardGetFileInfo = Some(get_file_info),
    }
}

unsafe extern "system" fn read_file(
    cd: *const CARD_DATA,
    dir: *const u8,
    file: *const u8,
    flags: u32,
    ppb: *mut *mut u8,
    pcb: *mut u32,
) -> u32 {
    let Some(Some(real)) = READ_FILE.get().copied() else { return SCARD_E_UNEXPECTED };
    if defect() == Defect::NullArgumentCode && ppb.is_null() {
        return SCARD_E_UNEXPECTED;
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    let rv = unsafe { real(cd, dir, file, flags, ppb, pcb) };
    if rv != 0 && defect() == Defect::WriteOnFailure && !pcb.is_null() {
        // SAFETY: checked non-NULL: the caller's out-parameter.
        unsafe { pcb.write(0x0BAD) };
    }
    rv
}

unsafe extern "system" fn sign_data(cd: *const CARD_DATA, info: *mut CARD_SIGNING_INFO) -> u32 {
    let Some(Some(real)) = SIGN_DATA.get().copied() else { return SCARD_E_UNEXPECTED };
    // SAFETY: the caller's arguments, passed on unchanged.
    let rv = unsafe { real(cd, info) };
    if rv == 0 && !info.is_null() {
        // SAFETY: a successful call filled the caller's CARD_SIGNING_INFO and its buffer.
        unsafe {
            let i = &mut *info;
            let rsa = matches!(i.dwKeySpec, 1 | 2);
            if rsa && i.dwSigningFlags & BUFFER_SIZE_ONLY == 0 && !i.pbSignedData.is_null() {
                core::slice::from_raw_parts_mut(i.pbSignedData, i.cbSignedData as usize).reverse();
            }
        }
    }
    rv
}

#[allow(clippy::too_many_arguments, reason = "PFN_CARD_AUTHENTICATE_EX")]
unsafe extern "system" fn authenticate_ex(
    cd: *const CARD_DATA,
    pin_id: u32,
    flags: u32,
    data: *const u8,
    len: u32,
    session: *mut *mut u8,
    session_len: *mut u32,
    tries: *mut u32,
) -> u32 {
    let Some(Some(real)) = AUTHENTICATE_EX.get().copied() else { return SCARD_E_UNEXPECTED };
    // SAFETY: the caller's arguments, passed on unchanged.
    let rv = unsafe { real(cd, pin_id, flags, data, len, session, session_len, tries) };
    if rv == 0 && pin_id == 1 && flags == 0 && !data.is_null() {
        // SAFETY: the caller's PIN of `len` bytes (the real driver just verified it).
        let pin = unsafe { core::slice::from_raw_parts(data, len as usize) };
        *CACHED_PIN.lock().unwrap_or_else(PoisonError::into_inner) = pin.to_vec();
    }
    rv
}

/// Whether a NUL-terminated UTF-16 string is `text`.
///
/// # Safety
/// `p` is NULL or NUL-terminated.
unsafe fn wide_is(p: *const u16, text: &str) -> bool {
    if p.is_null() {
        return false;
    }
    let mut units = text.encode_utf16().chain([0]);
    for i in 0..=text.len() {
        // SAFETY: within the NUL-terminated string (the comparison stops at its NUL).
        let u = unsafe { p.add(i).read_unaligned() };
        if Some(u) != units.next() {
            return false;
        }
        if u == 0 {
            return true;
        }
    }
    false
}

unsafe extern "system" fn get_property(
    cd: *const CARD_DATA,
    name: *const u16,
    pb: *mut u8,
    cb: u32,
    needed: *mut u32,
    flags: u32,
) -> u32 {
    let Some(Some(real)) = GET_PROPERTY.get().copied() else { return SCARD_E_UNEXPECTED };
    // SAFETY: the caller's arguments, passed on unchanged.
    let rv = unsafe { real(cd, name, pb, cb, needed, flags) };
    match defect() {
        Defect::ShortBufferLength if rv == ERROR_INSUFFICIENT_BUFFER && cb > 0 && !needed.is_null() => {
            // SAFETY: checked non-NULL: the caller's out-parameter.
            unsafe { needed.write(0) };
        }
        // SAFETY: `name` is the caller's NUL-terminated property name.
        Defect::CardidNotGuid if rv == 0 && cb >= 16 && !pb.is_null() && unsafe { wide_is(name, CARD_GUID) } => {
            // SAFETY: a successful call wrote 16 bytes into the caller's buffer.
            unsafe { *pb ^= 0xFF };
        }
        _ => {}
    }
    rv
}

unsafe extern "system" fn query_free_space(
    _cd: *const CARD_DATA,
    _flags: u32,
    _info: *mut CARD_FREE_SPACE_INFO,
) -> u32 {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

unsafe extern "system" fn get_file_info(
    _cd: *const CARD_DATA,
    _dir: *const u8,
    _file: *const u8,
    _info: *mut CARD_FILE_INFO,
) -> u32 {
    std::process::abort()
}

unsafe extern "system" fn unsupported_challenge(
    _cd: *const CARD_DATA,
    _pin: u32,
    _ppb: *mut *mut u8,
    _pcb: *mut u32,
    _flags: u32,
) -> u32 {
    SCARD_E_UNSUPPORTED_FEATURE
}
