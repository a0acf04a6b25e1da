//! The raw pcsc-lite / WinSCard calls, each behind a safe function.
//!
//! Why raw calls instead of `pcsc::Card`: the minidriver must talk through a handle the Base
//! CSP owns (the `pcsc` crate cannot wrap a foreign handle, and dropping its `Card` would
//! disconnect it), and a Rust application needs `SCardBeginTransaction`/`SCardEndTransaction`
//! on a connection stored in a struct, which `pcsc::Transaction`'s borrow cannot express.
//! pcsc-lite's `DWORD` is 8 bytes on Linux x86_64 and Windows' is 4: every length crosses
//! here through `DWORD`/`usize` conversions, never by reinterpreting memory.
#![allow(unsafe_code)]

use core::ffi::CStr;
use core::ptr;

use pcsc::ffi::{DWORD, LONG, SCARD_IO_REQUEST, SCARDCONTEXT, SCARDHANDLE};

/// A PC/SC return code that is not `SCARD_S_SUCCESS`.
pub(crate) type Code = u32;

/// Largest extended response plus status word (pcsc-lite's MAX_BUFFER_SIZE_EXTENDED).
pub(crate) const RECV_BUFFER: usize = pcsc::ffi::MAX_BUFFER_SIZE_EXTENDED;

fn check(rv: LONG) -> Result<(), Code> {
    // PC/SC codes are 32-bit values; pcsc-lite returns them in a (possibly 64-bit) LONG.
    let code = rv as u32;
    if code == 0 { Ok(()) } else { Err(code) }
}

/// Converts a handle as the CSP stores it (`CARD_DATA.hScard`, pointer-sized) to pcsc-lite's type.
pub(crate) fn handle_from_usize(h: usize) -> SCARDHANDLE {
    h as SCARDHANDLE
}

/// Converts a context as the CSP stores it to pcsc-lite's type.
pub(crate) fn context_from_usize(c: usize) -> SCARDCONTEXT {
    c as SCARDCONTEXT
}

pub(crate) fn establish_context() -> Result<SCARDCONTEXT, Code> {
    let mut ctx: SCARDCONTEXT = 0;
    // SAFETY: the reserved pointers may be NULL; `ctx` is a valid out-pointer for the call.
    check(unsafe {
        pcsc::ffi::SCardEstablishContext(pcsc::ffi::SCARD_SCOPE_USER, ptr::null(), ptr::null(), &mut ctx)
    })?;
    Ok(ctx)
}

pub(crate) fn release_context(ctx: SCARDCONTEXT) -> Result<(), Code> {
    // SAFETY: plain value argument; pcsc-lite validates the context.
    check(unsafe { pcsc::ffi::SCardReleaseContext(ctx) })
}

pub(crate) fn connect(
    ctx: SCARDCONTEXT,
    reader: &CStr,
    share: DWORD,
    protocols: DWORD,
) -> Result<(SCARDHANDLE, DWORD), Code> {
    let mut handle: SCARDHANDLE = 0;
    let mut active: DWORD = 0;
    // SAFETY: `reader` is NUL-terminated and outlives the call; both out-pointers are valid.
    check(unsafe { pcsc::ffi::SCardConnect(ctx, reader.as_ptr(), share, protocols, &mut handle, &mut active) })?;
    Ok((handle, active))
}

pub(crate) fn reconnect(handle: SCARDHANDLE, share: DWORD, protocols: DWORD, init: DWORD) -> Result<DWORD, Code> {
    let mut active: DWORD = 0;
    // SAFETY: `active` is a valid out-pointer; pcsc-lite validates the handle.
    check(unsafe { pcsc::ffi::SCardReconnect(handle, share, protocols, init, &mut active) })?;
    Ok(active)
}

pub(crate) fn disconnect(handle: SCARDHANDLE, disposition: DWORD) -> Result<(), Code> {
    // SAFETY: plain value arguments; pcsc-lite validates the handle.
    check(unsafe { pcsc::ffi::SCardDisconnect(handle, disposition) })
}

pub(crate) fn begin_transaction(handle: SCARDHANDLE) -> Result<(), Code> {
    // SAFETY: plain value argument; pcsc-lite validates the handle.
    check(unsafe { pcsc::ffi::SCardBeginTransaction(handle) })
}

pub(crate) fn end_transaction(handle: SCARDHANDLE, disposition: DWORD) -> Result<(), Code> {
    // SAFETY: plain value arguments; pcsc-lite validates the handle.
    check(unsafe { pcsc::ffi::SCardEndTransaction(handle, disposition) })
}

/// The active protocol and ATR of the card behind `handle`.
pub(crate) fn status(handle: SCARDHANDLE) -> Result<(DWORD, Vec<u8>), Code> {
    let mut state: DWORD = 0;
    let mut protocol: DWORD = 0;
    let mut atr = [0u8; pcsc::ffi::ATR_BUFFER_SIZE];
    let mut atr_len = atr.len() as DWORD;
    // The reader name is not wanted; pcsc-lite accepts a NULL buffer with a NULL length.
    // SAFETY: every out-pointer is valid for the call; `atr_len` holds `atr`'s capacity.
    check(unsafe {
        pcsc::ffi::SCardStatus(
            handle,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut state,
            &mut protocol,
            atr.as_mut_ptr(),
            &mut atr_len,
        )
    })?;
    let n = usize::try_from(atr_len).unwrap_or(0).min(atr.len());
    Ok((protocol, atr.get(..n).map(<[u8]>::to_vec).unwrap_or_default()))
}

/// Sends `command` under `protocol` and returns the response bytes.
pub(crate) fn transmit(handle: SCARDHANDLE, protocol: DWORD, command: &[u8]) -> Result<Vec<u8>, Code> {
    let send_pci = SCARD_IO_REQUEST { dwProtocol: protocol, cbPciLength: size_of::<SCARD_IO_REQUEST>() as DWORD };
    let mut recv = vec![0u8; RECV_BUFFER];
    let mut recv_len = recv.len() as DWORD;
    let send_len = DWORD::try_from(command.len()).map_err(|_| 0x8010_0004u32)?;
    // SAFETY: `send_pci` and `command` are valid for reads of their sizes; `recv` is valid for
    // writes of `recv_len` bytes; the receive PCI may be NULL.
    check(unsafe {
        pcsc::ffi::SCardTransmit(
            handle,
            &send_pci,
            command.as_ptr(),
            send_len,
            ptr::null_mut(),
            recv.as_mut_ptr(),
            &mut recv_len,
        )
    })?;
    recv.truncate(usize::try_from(recv_len).unwrap_or(0));
    Ok(recv)
}
