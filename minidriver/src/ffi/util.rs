//! Reading C arguments and writing C outputs, each in one small checked function.

use core::ffi::c_void;
use core::ptr;

use windows_sys::Win32::Security::Cryptography::{
    CARD_DATA, PFN_CSP_ALLOC, PFN_CSP_CACHE_ADD_FILE, PFN_CSP_CACHE_DELETE_FILE, PFN_CSP_CACHE_LOOKUP_FILE,
    PFN_CSP_FREE, PFN_CSP_GET_DH_AGREEMENT,
};
use zeroize::Zeroize;

use crate::abi::code;
use crate::context::CspCache;
use crate::error::{Error, Result};

/// Longest directory or file name accepted before the NUL (the spec allows 8; a longer one is
/// an error, reported after reading a little past it so the message is precise).
const MAX_NAME_SCAN: usize = 64;
/// Longest UTF-16 string read from the CSP (property names, user ids, algorithm names).
const MAX_WIDE: usize = 512;

/// The CSP's callbacks and handles, read from `CARD_DATA` on every call.
pub(crate) struct Csp {
    pub(crate) alloc: PFN_CSP_ALLOC,
    pub(crate) free: PFN_CSP_FREE,
    cache_add: PFN_CSP_CACHE_ADD_FILE,
    cache_lookup: PFN_CSP_CACHE_LOOKUP_FILE,
    cache_delete: PFN_CSP_CACHE_DELETE_FILE,
    cache_context: *mut c_void,
    pub(crate) get_dh_agreement: PFN_CSP_GET_DH_AGREEMENT,
    pub(crate) context_handle: usize,
    pub(crate) card_handle: usize,
    pub(crate) card_data: *const CARD_DATA,
}

impl Csp {
    /// Reads the callbacks of a `CARD_DATA` of negotiated `version`.
    ///
    /// # Safety
    /// `cd` must be valid for reads of the fields of `version`'s extent.
    pub(crate) unsafe fn read(cd: *const CARD_DATA, version: u32) -> Result<Self> {
        // SAFETY: all fields read here are v4 fields, within every accepted extent.
        let (alloc, free, cache_add, cache_lookup, cache_delete, cache_context, context_handle, card_handle) = unsafe {
            (
                (&raw const (*cd).pfnCspAlloc).read(),
                (&raw const (*cd).pfnCspFree).read(),
                (&raw const (*cd).pfnCspCacheAddFile).read(),
                (&raw const (*cd).pfnCspCacheLookupFile).read(),
                (&raw const (*cd).pfnCspCacheDeleteFile).read(),
                (&raw const (*cd).pvCacheContext).read(),
                (&raw const (*cd).hSCardCtx).read(),
                (&raw const (*cd).hScard).read(),
            )
        };
        let get_dh_agreement = if version >= 5 {
            // SAFETY: pfnCspGetDHAgreement exists from version 5 on.
            unsafe { (&raw const (*cd).pfnCspGetDHAgreement).read() }
        } else {
            None
        };
        if alloc.is_none() || free.is_none() {
            return Err(Error::InvalidParameter("pfnCspAlloc/pfnCspFree missing"));
        }
        Ok(Self {
            alloc,
            free,
            cache_add,
            cache_lookup,
            cache_delete,
            cache_context,
            get_dh_agreement,
            context_handle,
            card_handle,
            card_data: cd,
        })
    }

    /// Copies `data` into a new `pfnCspAlloc` buffer (at least 1 byte is allocated, so an
    /// empty result is still a valid pointer the CSP can free).
    pub(crate) fn alloc_copy(&self, data: &[u8]) -> Result<*mut u8> {
        let alloc = self.alloc.ok_or(Error::NoMemory)?;
        // SAFETY: pfnCspAlloc is the CSP's allocator: any size is a valid request.
        let p = unsafe { alloc(data.len().max(1)) }.cast::<u8>();
        if p.is_null() {
            return Err(Error::NoMemory);
        }
        // SAFETY: `p` is a fresh allocation of at least `data.len()` bytes, disjoint from `data`.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(p)
    }

    /// Frees a `pfnCspAlloc` buffer after zeroing `len` bytes of it.
    ///
    /// # Safety
    /// `p` must be NULL or a live `pfnCspAlloc` allocation of at least `len` bytes.
    pub(crate) unsafe fn free_zeroed(&self, p: *mut u8, len: usize) {
        if p.is_null() {
            return;
        }
        // SAFETY: per the contract, `p` is valid for `len` bytes of writes.
        unsafe { core::slice::from_raw_parts_mut(p, len) }.zeroize();
        if let Some(free) = self.free {
            // SAFETY: `p` came from pfnCspAlloc and is freed once.
            unsafe { free(p.cast()) };
        }
    }
}

/// The CSP's data cache through its callbacks (`dwFlags` = 0, tags as UTF-16).
impl CspCache for &Csp {
    fn lookup(&mut self, tag: &str) -> Option<Vec<u8>> {
        let lookup = self.cache_lookup?;
        let wtag = wide_z(tag);
        let mut data: *mut u8 = ptr::null_mut();
        let mut len: u32 = 0;
        // SAFETY: the tag is NUL-terminated and outlives the call; the out-pointers are valid.
        let rv = unsafe { lookup(self.cache_context, wtag.as_ptr(), 0, &mut data, &mut len) };
        if rv != code::SUCCESS || data.is_null() {
            return None;
        }
        let n = usize::try_from(len).unwrap_or(0);
        // SAFETY: on success the CSP returns a buffer of `len` bytes that we must free.
        let copy = unsafe { core::slice::from_raw_parts(data, n) }.to_vec();
        // SAFETY: the buffer came from the CSP's allocator and is freed once.
        unsafe { self.free_zeroed(data, n) };
        Some(copy)
    }

    fn add(&mut self, tag: &str, data: &[u8]) {
        let (Some(add), Ok(len)) = (self.cache_add, u32::try_from(data.len())) else { return };
        let wtag = wide_z(tag);
        // SAFETY: tag and data are valid for the call; the CSP copies the data.
        let _ = unsafe { add(self.cache_context, wtag.as_ptr(), 0, data.as_ptr(), len) };
    }

    fn delete(&mut self, tag: &str) {
        let Some(delete) = self.cache_delete else { return };
        let wtag = wide_z(tag);
        // SAFETY: the tag is NUL-terminated and outlives the call.
        let _ = unsafe { delete(self.cache_context, wtag.as_ptr(), 0) };
    }
}

/// A NUL-terminated UTF-16 copy of `s`.
pub(crate) fn wide_z(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(core::iter::once(0)).collect()
}

/// An ANSI name (`LPSTR`): `None` for NULL, else its bytes without the NUL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn ansi(p: *const u8) -> Result<Option<Vec<u8>>> {
    if p.is_null() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for i in 0..=MAX_NAME_SCAN {
        // SAFETY: the string is NUL-terminated and we stop at the NUL.
        let b = unsafe { p.add(i).read() };
        if b == 0 {
            return Ok(Some(out));
        }
        out.push(b);
    }
    Err(Error::InvalidParameter("file or directory name longer than 8 characters"))
}

/// A UTF-16 string (`LPCWSTR`) as Rust text, `None` for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated UTF-16 string.
pub(crate) unsafe fn wide(p: *const u16) -> Result<Option<String>> {
    // SAFETY: forwarded contract.
    Ok(match unsafe { wide_units(p)? } {
        Some(units) => Some(String::from_utf16(&units).map_err(|_| Error::InvalidParameter("invalid UTF-16"))?),
        None => None,
    })
}

/// The UTF-16 units of a NUL-terminated string, `None` for NULL.
///
/// # Safety
/// As [`wide`].
pub(crate) unsafe fn wide_units(p: *const u16) -> Result<Option<Vec<u16>>> {
    if p.is_null() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for i in 0..MAX_WIDE {
        // SAFETY: the string is NUL-terminated and we stop at the NUL.
        let u = unsafe { p.add(i).read_unaligned() };
        if u == 0 {
            return Ok(Some(out));
        }
        out.push(u);
    }
    Err(Error::InvalidParameter("string too long"))
}

/// A required UTF-16 string.
///
/// # Safety
/// As [`wide`].
pub(crate) unsafe fn required_wide(p: *const u16, what: &'static str) -> Result<String> {
    // SAFETY: forwarded contract.
    unsafe { wide(p)? }.ok_or(Error::InvalidParameter(what))
}

/// Input bytes: `len` bytes at `p` (NULL with `len` 0 is an empty slice).
///
/// # Safety
/// `p` must be NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: u32, what: &'static str) -> Result<&'a [u8]> {
    let n = usize::try_from(len).map_err(|_| Error::InvalidParameter(what))?;
    if p.is_null() {
        return if n == 0 { Ok(&[]) } else { Err(Error::InvalidParameter(what)) };
    }
    // SAFETY: forwarded contract.
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// Input bytes that must be present (non-NULL).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn required_bytes<'a>(p: *const u8, len: u32, what: &'static str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::InvalidParameter(what));
    }
    // SAFETY: forwarded contract.
    unsafe { bytes(p, len, what) }
}

/// Writes `value` through an out-pointer, if it is not NULL.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(p: *mut T, value: T) {
    if !p.is_null() {
        // SAFETY: forwarded contract.
        unsafe { p.write_unaligned(value) };
    }
}

/// `dwFlags` that must be 0.
pub(crate) fn flags_zero(flags: u32) -> Result<()> {
    if flags == 0 { Ok(()) } else { Err(Error::InvalidParameter("dwFlags must be 0")) }
}

/// Checks a caller-versioned output structure: present, and `dwVersion` 0 or 1 (0 is taken as
/// the current version, as the specification's callers do).
///
/// # Safety
/// `p` must be NULL or valid for a read of its first `u32`.
pub(crate) unsafe fn versioned_out<T>(p: *mut T, what: &'static str) -> Result<()> {
    need(p, what)?;
    // SAFETY: forwarded contract; `p` is not NULL.
    if unsafe { first_dword(p) } > 1 { Err(Error::RevisionMismatch) } else { Ok(()) }
}

/// Checks an out-pointer is present.
pub(crate) fn need<T>(p: *mut T, what: &'static str) -> Result<()> {
    if p.is_null() { Err(Error::InvalidParameter(what)) } else { Ok(()) }
}

/// The arguments every `Card*GetProperty` checks before any card I/O: the property's name,
/// `pdwDataLen`, and `pbData` unless `cbData` is 0 (a size query).
///
/// # Safety
/// As [`wide`] for `name`.
pub(crate) unsafe fn get_property_args(name: *const u16, pb: *mut u8, cb: u32, pdw: *mut u32) -> Result<String> {
    // SAFETY: forwarded contract.
    let name = unsafe { required_wide(name, "wszProperty is NULL")? };
    need(pdw, "pdwDataLen is NULL")?;
    if pb.is_null() && cb != 0 {
        return Err(Error::InvalidParameter("pbData is NULL"));
    }
    Ok(name)
}

/// A byte length as a `DWORD`.
pub(crate) fn dword(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Unexpected("length exceeds a DWORD"))
}

/// Copies a property value into the caller's buffer: `*pdwDataLen` is always the needed size;
/// a short buffer is `ERROR_INSUFFICIENT_BUFFER` (checked before touching `pbData`).
///
/// # Safety
/// `pb` must be NULL or valid for writes of `cb` bytes; `pdw` valid for a `u32` write.
pub(crate) unsafe fn property_out(value: &[u8], pb: *mut u8, cb: u32, pdw: *mut u32) -> Result<()> {
    need(pdw, "pdwDataLen is NULL")?;
    let len = dword(value.len())?;
    // SAFETY: `pdw` checked non-NULL, valid per contract.
    unsafe { put(pdw, len) };
    if cb < len {
        return Err(Error::BufferTooSmall);
    }
    if value.is_empty() {
        return Ok(());
    }
    if pb.is_null() {
        return Err(Error::InvalidParameter("pbData is NULL"));
    }
    // SAFETY: `pb` is valid for `cb >= len` bytes and does not overlap `value`.
    unsafe { ptr::copy_nonoverlapping(value.as_ptr(), pb, value.len()) };
    Ok(())
}

/// Reads a `#[repr(C)]` input struct's `dwVersion`-style first `u32`.
///
/// # Safety
/// `p` must be valid for a read of `u32`.
pub(crate) unsafe fn first_dword<T>(p: *const T) -> u32 {
    // SAFETY: forwarded contract.
    unsafe { p.cast::<u32>().read_unaligned() }
}
