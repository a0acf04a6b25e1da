//! The registry read behind the log settings on Windows. The call is compiled (and so
//! type-checked) on every platform, but made only on Windows.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};

/// `HKEY_LOCAL_MACHINE\SOFTWARE\Minidriver`.
const KEY: &str = "SOFTWARE\\Minidriver";
/// Longest value read, in UTF-16 units.
const MAX_CHARS: usize = 1024;

/// A string value of the settings key, `None` when absent or not a string.
pub(super) fn registry_value(name: &str) -> Option<String> {
    if cfg!(windows) { read(name) } else { None }
}

fn read(name: &str) -> Option<String> {
    let key: Vec<u16> = KEY.encode_utf16().chain(Some(0)).collect();
    let value: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
    let mut buf = vec![0u16; MAX_CHARS];
    let mut size = u32::try_from(buf.len() * 2).ok()?;
    // SAFETY: `key` and `value` are NUL-terminated UTF-16 strings that outlive the call; `buf`
    // is writable for `size` bytes, which RegGetValueW updates to the bytes written (including
    // the terminating NUL, which RRF_RT_REG_SZ guarantees); the type out-pointer may be NULL.
    let rc = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ,
            core::ptr::null_mut(),
            buf.as_mut_ptr().cast(),
            &raw mut size,
        )
    };
    if rc != ERROR_SUCCESS {
        return None;
    }
    let chars = usize::try_from(size).ok()? / 2;
    let text = buf.get(..chars.saturating_sub(1))?;
    String::from_utf16(text).ok().filter(|s| !s.is_empty())
}
