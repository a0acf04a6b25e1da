//! `CardAcquireContext` (with the class minidriver's card discovery), `CardDeleteContext`, and
//! the function table, filled only up to the negotiated version.

use core::ptr;

use card_edges::transport::Transport;
use windows_sys::Win32::Security::Cryptography::CARD_DATA;

use super::util::{self, Csp};
use super::{VENDOR_MAGIC, VendorBlock, auth, containers, crypto, files, props, register, registry, ski};
use crate::abi::{code, misc, version};
use crate::context::Context;
use crate::edge::OpenOptions;
use crate::error::{Error, Result};
use crate::link::Link;

/// Longest ATR ISO 7816-3 allows.
const MAX_ATR: u32 = 33;

/// `CardAcquireContext`: validates the CSP's `CARD_DATA`, negotiates the version (4 to 7,
/// written back), opens the card over the CSP's handles with the edge the class minidriver's
/// discovery decides (cards with neither application are `SCARD_E_UNKNOWN_CARD`), and fills
/// the function table.
///
/// # Safety
/// `p_card_data` must be NULL or point to a `CARD_DATA` of the version it declares (at least the
/// fields of version 4), initialised by the CSP as the specification describes.
#[unsafe(no_mangle)]
#[allow(non_snake_case)]
pub unsafe extern "system" fn CardAcquireContext(p_card_data: *mut CARD_DATA, dw_flags: u32) -> u32 {
    let run = std::panic::AssertUnwindSafe(|| {
        // SAFETY: forwarded contract.
        unsafe { acquire(p_card_data, dw_flags, None) }
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => code::SUCCESS,
        Ok(Err(e)) => e.code(),
        Err(_) => code::SCARD_E_UNEXPECTED,
    }
}

/// The Rust-level door: `CardAcquireContext` over a transport the caller supplies instead of the
/// PC/SC handles (`hSCardCtx`/`hScard` are ignored). mdtool uses it for the embedded simulated
/// card; everything after it goes through the same function table.
///
/// # Safety
/// As [`CardAcquireContext`].
pub unsafe fn acquire_with_transport(
    p_card_data: *mut CARD_DATA,
    dw_flags: u32,
    transport: Box<dyn Transport + Send>,
) -> u32 {
    let run = std::panic::AssertUnwindSafe(move || {
        // SAFETY: forwarded contract.
        unsafe { acquire(p_card_data, dw_flags, Some(transport)) }
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => code::SUCCESS,
        Ok(Err(e)) => e.code(),
        Err(_) => code::SCARD_E_UNEXPECTED,
    }
}

/// # Safety
/// As [`CardAcquireContext`].
unsafe fn acquire(cd: *mut CARD_DATA, flags: u32, supplied: Option<Box<dyn Transport + Send>>) -> Result<()> {
    crate::log::install();
    if cd.is_null() {
        return Err(Error::InvalidParameter("pCardData is NULL"));
    }
    if flags & !misc::NO_CARD_MODE != 0 {
        return Err(Error::InvalidParameter("unknown dwFlags"));
    }
    if flags & misc::NO_CARD_MODE != 0 {
        return Err(Error::Unsupported("secure key injection without a card"));
    }
    // SAFETY: dwVersion is the first field of every version.
    let requested = unsafe { (&raw const (*cd).dwVersion).read() };
    if requested < version::MINIMUM {
        return Err(Error::RevisionMismatch);
    }
    let negotiated = requested.min(version::CURRENT);
    // SAFETY: as above; the CSP expects the negotiated version written back.
    unsafe { (&raw mut (*cd).dwVersion).write(negotiated) };

    // SAFETY: the fields read are v4 fields, present in every accepted version.
    let (atr_ptr, atr_len, card_name, realloc) = unsafe {
        (
            (&raw const (*cd).pbAtr).read(),
            (&raw const (*cd).cbAtr).read(),
            (&raw const (*cd).pwszCardName).read(),
            (&raw const (*cd).pfnCspReAlloc).read(),
        )
    };
    if atr_ptr.is_null() || !(2..=MAX_ATR).contains(&atr_len) {
        return Err(Error::InvalidParameter("pbAtr/cbAtr"));
    }
    if card_name.is_null() {
        return Err(Error::InvalidParameter("pwszCardName is NULL"));
    }
    // SAFETY: pbAtr is non-NULL and holds cbAtr bytes per the CSP's contract.
    let atr = unsafe { util::bytes(atr_ptr, atr_len, "pbAtr")? }.to_vec();
    // SAFETY: v4 fields, as above.
    let csp = unsafe { Csp::read(cd, negotiated)? };
    if realloc.is_none() {
        return Err(Error::InvalidParameter("pfnCspReAlloc is NULL"));
    }
    let link = match supplied {
        Some(t) => Link::Supplied(t),
        None => {
            if csp.context_handle == 0 || csp.card_handle == 0 {
                return Err(Error::InvalidHandle);
            }
            Link::borrowed(csp.context_handle, csp.card_handle)
        }
    };
    let edge = crate::edge::open(link, &atr, &OpenOptions::from_env())?;
    let mut context = Context::new(negotiated, edge);
    // An RSA-only card has no DH agreement entry points: "For RSA-only card minidrivers, this
    // entry point is not defined and is set to NULL in the CARD_DATA structure" (Smart Card
    // Minidriver Specification v7, 4.7.2 to 4.7.4).
    let ecdh = context.algorithms().iter().any(|a| a.starts_with("ECDH"));

    let block = csp.alloc_copy(&[0u8; size_of::<VendorBlock>()])?.cast::<VendorBlock>();
    let id = register(context);
    // SAFETY: `block` is a fresh pfnCspAlloc allocation of VendorBlock's size; CSP allocators
    // return memory aligned for any fundamental type.
    unsafe { block.write_unaligned(VendorBlock { magic: VENDOR_MAGIC, id }) };
    // SAFETY: filling the table writes only fields within the negotiated version's extent.
    unsafe {
        fill_table(cd, negotiated, ecdh);
        (&raw mut (*cd).pvVendorSpecific).write(block.cast());
    }
    tracing::debug!(version = negotiated, "context acquired");
    Ok(())
}

/// Fills the function pointers of `version`; `pvUnused3`/`pvUnused4` are set to NULL, and so are
/// the three DH agreement entry points when the card has no ECDH key type (`ecdh` false).
///
/// # Safety
/// `cd` must be valid for writes of the fields of `version`'s extent.
unsafe fn fill_table(cd: *mut CARD_DATA, version: u32, ecdh: bool) {
    // SAFETY: every field written below lies within the extent of `version` (checked per group).
    unsafe {
        (&raw mut (*cd).pfnCardDeleteContext).write(Some(CardDeleteContext));
        (&raw mut (*cd).pfnCardQueryCapabilities).write(Some(props::card_query_capabilities));
        (&raw mut (*cd).pfnCardDeleteContainer).write(Some(containers::card_delete_container));
        (&raw mut (*cd).pfnCardCreateContainer).write(Some(containers::card_create_container));
        (&raw mut (*cd).pfnCardGetContainerInfo).write(Some(containers::card_get_container_info));
        (&raw mut (*cd).pfnCardAuthenticatePin).write(Some(auth::card_authenticate_pin));
        (&raw mut (*cd).pfnCardGetChallenge).write(Some(auth::card_get_challenge));
        (&raw mut (*cd).pfnCardAuthenticateChallenge).write(Some(auth::card_authenticate_challenge));
        (&raw mut (*cd).pfnCardUnblockPin).write(Some(auth::card_unblock_pin));
        (&raw mut (*cd).pfnCardChangeAuthenticator).write(Some(auth::card_change_authenticator));
        (&raw mut (*cd).pfnCardDeauthenticate).write(Some(auth::card_deauthenticate));
        (&raw mut (*cd).pfnCardCreateDirectory).write(Some(files::card_create_directory));
        (&raw mut (*cd).pfnCardDeleteDirectory).write(Some(files::card_delete_directory));
        (&raw mut (*cd).pvUnused3).write(ptr::null_mut());
        (&raw mut (*cd).pvUnused4).write(ptr::null_mut());
        (&raw mut (*cd).pfnCardCreateFile).write(Some(files::card_create_file));
        (&raw mut (*cd).pfnCardReadFile).write(Some(files::card_read_file));
        (&raw mut (*cd).pfnCardWriteFile).write(Some(files::card_write_file));
        (&raw mut (*cd).pfnCardDeleteFile).write(Some(files::card_delete_file));
        (&raw mut (*cd).pfnCardEnumFiles).write(Some(files::card_enum_files));
        (&raw mut (*cd).pfnCardGetFileInfo).write(Some(files::card_get_file_info));
        (&raw mut (*cd).pfnCardQueryFreeSpace).write(Some(files::card_query_free_space));
        (&raw mut (*cd).pfnCardQueryKeySizes).write(Some(props::card_query_key_sizes));
        (&raw mut (*cd).pfnCardSignData).write(Some(crypto::card_sign_data));
        (&raw mut (*cd).pfnCardRSADecrypt).write(Some(crypto::card_rsa_decrypt));
        (&raw mut (*cd).pfnCardConstructDHAgreement).write(if ecdh {
            Some(crypto::card_construct_dh_agreement)
        } else {
            None
        });
        if version >= 5 {
            (&raw mut (*cd).pfnCardDeriveKey).write(if ecdh { Some(crypto::card_derive_key) } else { None });
            (&raw mut (*cd).pfnCardDestroyDHAgreement).write(if ecdh {
                Some(crypto::card_destroy_dh_agreement)
            } else {
                None
            });
        }
        if version >= 6 {
            (&raw mut (*cd).pfnCardGetChallengeEx).write(Some(auth::card_get_challenge_ex));
            (&raw mut (*cd).pfnCardAuthenticateEx).write(Some(auth::card_authenticate_ex));
            (&raw mut (*cd).pfnCardChangeAuthenticatorEx).write(Some(auth::card_change_authenticator_ex));
            (&raw mut (*cd).pfnCardDeauthenticateEx).write(Some(auth::card_deauthenticate_ex));
            (&raw mut (*cd).pfnCardGetContainerProperty).write(Some(containers::card_get_container_property));
            (&raw mut (*cd).pfnCardSetContainerProperty).write(Some(containers::card_set_container_property));
            (&raw mut (*cd).pfnCardGetProperty).write(Some(props::card_get_property));
            (&raw mut (*cd).pfnCardSetProperty).write(Some(props::card_set_property));
        }
        if version >= 7 {
            (&raw mut (*cd).pfnMDImportSessionKey).write(Some(ski::md_import_session_key));
            (&raw mut (*cd).pfnMDEncryptData).write(Some(ski::md_encrypt_data));
            (&raw mut (*cd).pfnCardImportSessionKey).write(Some(ski::card_import_session_key));
            (&raw mut (*cd).pfnCardGetSharedKeyHandle).write(Some(ski::card_get_shared_key_handle));
            (&raw mut (*cd).pfnCardGetAlgorithmProperty).write(Some(ski::card_get_algorithm_property));
            (&raw mut (*cd).pfnCardGetKeyProperty).write(Some(ski::card_get_key_property));
            (&raw mut (*cd).pfnCardSetKeyProperty).write(Some(ski::card_set_key_property));
            (&raw mut (*cd).pfnCardDestroyKey).write(Some(ski::card_destroy_key));
            (&raw mut (*cd).pfnCardProcessEncryptedData).write(Some(ski::card_process_encrypted_data));
            (&raw mut (*cd).pfnCardCreateContainerEx).write(Some(containers::card_create_container_ex));
        }
    }
}

/// `CardDeleteContext`: frees the context and `pvVendorSpecific`, without card I/O.
///
/// # Safety
/// `p_card_data` must be NULL or the `CARD_DATA` this driver filled.
#[allow(non_snake_case)]
pub(super) unsafe extern "system" fn CardDeleteContext(p_card_data: *mut CARD_DATA) -> u32 {
    let run = std::panic::AssertUnwindSafe(|| -> Result<()> {
        if p_card_data.is_null() {
            return Err(Error::InvalidParameter("pCardData is NULL"));
        }
        // SAFETY: pvVendorSpecific and pfnCspFree are v4 fields of the CARD_DATA we filled.
        let (block, free) = unsafe {
            (
                (&raw const (*p_card_data).pvVendorSpecific).read().cast::<VendorBlock>(),
                (&raw const (*p_card_data).pfnCspFree).read(),
            )
        };
        if block.is_null() || !block.is_aligned() {
            return Err(Error::InvalidParameter("context already deleted"));
        }
        // SAFETY: our VendorBlock, allocated in CardAcquireContext and not yet freed (the
        // field is cleared below when it is).
        let VendorBlock { magic, id } = unsafe { block.read() };
        if magic != VENDOR_MAGIC {
            return Err(Error::InvalidParameter("pvVendorSpecific is not this driver's context"));
        }
        let context = registry().remove(&id);
        drop(context);
        // SAFETY: clear the block before freeing so a stale copy never matches, then free it
        // with the allocator that made it, exactly once, and clear the field.
        unsafe {
            block.write_unaligned(VendorBlock { magic: 0, id: 0 });
            if let Some(free) = free {
                free(block.cast());
            }
            (&raw mut (*p_card_data).pvVendorSpecific).write(ptr::null_mut());
        }
        Ok(())
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => code::SUCCESS,
        Ok(Err(e)) => e.code(),
        Err(_) => code::SCARD_E_UNEXPECTED,
    }
}
