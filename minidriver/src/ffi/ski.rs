//! Secure key injection (spec §4.8, version 7). Neither card edge has a standard way to import
//! a key under a card-held key (PIV: none; GIDS v2: none that Windows' own class minidriver
//! implements), so `CP_KEY_IMPORT_SUPPORT` is 0 and every entry point here reports
//! `SCARD_E_UNSUPPORTED_FEATURE`, the code the specification gives for it, checked before
//! any other parameter as §4.8.4 asks.

use core::ffi::c_void;

use windows_sys::Win32::Security::Cryptography::{CARD_DATA, CARD_ENCRYPTED_DATA};
use windows_sys::core::PCWSTR;

use super::entry;
use crate::error::Error;

const UNSUPPORTED: Error = Error::Unsupported("secure key injection (CP_KEY_IMPORT_SUPPORT is 0)");

pub(super) unsafe extern "system" fn md_import_session_key(
    cd: *const CARD_DATA,
    _blob_type: PCWSTR,
    _alg_id: PCWSTR,
    _key: *mut usize,
    _input: *const u8,
    _input_len: u32,
) -> u32 {
    entry("MDImportSessionKey", cd, |_, _| Err(UNSUPPORTED))
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn md_encrypt_data(
    cd: *const CARD_DATA,
    _key: usize,
    _function: PCWSTR,
    _input: *const u8,
    _input_len: u32,
    _flags: u32,
    _out: *mut *mut CARD_ENCRYPTED_DATA,
    _out_count: *mut u32,
) -> u32 {
    entry("MDEncryptData", cd, |_, _| Err(UNSUPPORTED))
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_import_session_key(
    cd: *const CARD_DATA,
    _index: u8,
    _padding: *const c_void,
    _blob_type: PCWSTR,
    _alg_id: PCWSTR,
    _key: *mut usize,
    _input: *const u8,
    _input_len: u32,
    _flags: u32,
) -> u32 {
    entry("CardImportSessionKey", cd, |_, _| Err(UNSUPPORTED))
}

pub(super) unsafe extern "system" fn card_get_shared_key_handle(
    cd: *const CARD_DATA,
    _input: *const u8,
    _input_len: u32,
    _out: *mut *mut u8,
    _out_len: *mut u32,
    _key: *mut usize,
) -> u32 {
    entry("CardGetSharedKeyHandle", cd, |_, _| Err(UNSUPPORTED))
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_get_algorithm_property(
    cd: *const CARD_DATA,
    _alg_id: PCWSTR,
    _property: PCWSTR,
    _data: *mut u8,
    _data_len: u32,
    _needed: *mut u32,
    _flags: u32,
) -> u32 {
    entry("CardGetAlgorithmProperty", cd, |_, _| Err(UNSUPPORTED))
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_get_key_property(
    cd: *const CARD_DATA,
    _key: usize,
    _property: PCWSTR,
    _data: *mut u8,
    _data_len: u32,
    _needed: *mut u32,
    _flags: u32,
) -> u32 {
    entry("CardGetKeyProperty", cd, |_, _| Err(UNSUPPORTED))
}

pub(super) unsafe extern "system" fn card_set_key_property(
    cd: *const CARD_DATA,
    _key: usize,
    _property: PCWSTR,
    _input: *const u8,
    _input_len: u32,
    _flags: u32,
) -> u32 {
    entry("CardSetKeyProperty", cd, |_, _| Err(UNSUPPORTED))
}

pub(super) unsafe extern "system" fn card_destroy_key(cd: *const CARD_DATA, _key: usize) -> u32 {
    entry("CardDestroyKey", cd, |_, _| Err(UNSUPPORTED))
}

#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_process_encrypted_data(
    cd: *const CARD_DATA,
    _key: usize,
    _function: PCWSTR,
    _data: *const CARD_ENCRYPTED_DATA,
    _count: u32,
    _out: *mut u8,
    _out_len: u32,
    _needed: *mut u32,
    _flags: u32,
) -> u32 {
    entry("CardProcessEncryptedData", cd, |_, _| Err(UNSUPPORTED))
}
