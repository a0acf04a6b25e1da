//! Key containers (spec §4.6) and container properties (§4.5.2, §4.5.3).

use core::ptr;

use card_edges::key::KeyAlgorithm;
use windows_sys::Win32::Security::Cryptography::{CARD_DATA, CONTAINER_INFO};
use windows_sys::core::PCWSTR;
use zeroize::Zeroizing;

use super::entry;
use super::util::{self, Csp, need, put};
use crate::abi::{keyspec, misc, pin, prop};
use crate::blobs;
use crate::context::Context;
use crate::edge::{Container, KeyRole, NewKey, PinId};
use crate::error::{Error, Result};

/// The public key blobs of a container in `pfnCspAlloc` buffers: (sig, key exchange).
fn container_info(csp: &Csp, c: &Container) -> Result<CONTAINER_INFO> {
    let blob = blobs::public_key_blob(&c.public_key, c.role)?;
    let len = util::dword(blob.len())?;
    let p = csp.alloc_copy(&blob)?;
    let (sig, kx) = match c.role {
        KeyRole::Signature => ((len, p), (0, ptr::null_mut())),
        KeyRole::Exchange => ((0, ptr::null_mut()), (len, p)),
    };
    Ok(CONTAINER_INFO {
        dwVersion: 1,
        dwReserved: 0,
        cbSigPublicKey: sig.0,
        pbSigPublicKey: sig.1,
        cbKeyExPublicKey: kx.0,
        pbKeyExPublicKey: kx.1,
    })
}

/// `CardGetContainerInfo`: the container's public key as a CAPI or CNG blob. No
/// authentication is needed.
pub(super) unsafe extern "system" fn card_get_container_info(
    cd: *const CARD_DATA,
    index: u8,
    flags: u32,
    info: *mut CONTAINER_INFO,
) -> u32 {
    entry("CardGetContainerInfo", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        // SAFETY: NULL or the caller's CONTAINER_INFO, which starts with dwVersion.
        unsafe { util::versioned_out(info, "pContainerInfo is NULL")? };
        let c = ctx.container(index, &mut &*csp)?;
        let out = container_info(csp, &c)?;
        // SAFETY: `info` checked non-NULL.
        unsafe { put(info, out) };
        Ok(())
    })
}

/// What `dwKeySpec`/`dwKeySize` ask to generate.
fn new_key(key_spec: u32, key_size: u32) -> Result<(KeyAlgorithm, KeyRole)> {
    let ec = |alg: KeyAlgorithm, role| {
        if key_size == 0 || key_size == u32::from(alg.bits()) {
            Ok((alg, role))
        } else {
            Err(Error::InvalidParameter("ECC keys are generated with dwKeySize 0"))
        }
    };
    match key_spec {
        keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE => {
            let bits = u16::try_from(key_size).map_err(|_| Error::InvalidParameter("dwKeySize"))?;
            let alg = KeyAlgorithm::Rsa { bits };
            let role = if key_spec == keyspec::AT_KEYEXCHANGE { KeyRole::Exchange } else { KeyRole::Signature };
            Ok((alg, role))
        }
        keyspec::AT_ECDSA_P256 => ec(KeyAlgorithm::P256, KeyRole::Signature),
        keyspec::AT_ECDSA_P384 => ec(KeyAlgorithm::P384, KeyRole::Signature),
        keyspec::AT_ECDHE_P256 => ec(KeyAlgorithm::P256, KeyRole::Exchange),
        keyspec::AT_ECDHE_P384 => ec(KeyAlgorithm::P384, KeyRole::Exchange),
        keyspec::AT_ECDSA_P521 | keyspec::AT_ECDHE_P521 => Err(Error::Unsupported("P-521")),
        _ => Err(Error::InvalidParameter("undefined dwKeySpec")),
    }
}

/// Shared body of `CardCreateContainer(Ex)`.
///
/// # Safety
/// `pb_key` must be NULL or a key blob as the specification describes.
#[allow(clippy::too_many_arguments)]
unsafe fn create(
    ctx: &mut Context,
    csp: &Csp,
    index: u8,
    flags: u32,
    key_spec: u32,
    key_size: u32,
    pb_key: *const u8,
    pin_id: Option<PinId>,
) -> Result<()> {
    // What makes the call unsupported is checked first, before any parameter (spec §4.6.1).
    ctx.writable()?;
    if flags == misc::CREATE_CONTAINER_KEY_IMPORT && !ctx.imports_keys() {
        return Err(Error::Unsupported("this card does not import keys"));
    }
    if flags == misc::CREATE_CONTAINER_KEY_GEN && matches!(key_spec, keyspec::AT_ECDSA_P521 | keyspec::AT_ECDHE_P521) {
        return Err(Error::Unsupported("P-521"));
    }
    if pin_id.is_some_and(|id| id >= pin::MAX_PINS) {
        return Err(Error::InvalidParameter("PinId"));
    }
    let key = match flags {
        misc::CREATE_CONTAINER_KEY_IMPORT => {
            if pb_key.is_null() {
                return Err(Error::InvalidParameter("pbKeyData is NULL"));
            }
            // A PRIVATEKEYBLOB's size follows from its header: read that, then the whole blob.
            // SAFETY: pbKeyData points to at least a BLOBHEADER + RSAPUBKEY per the contract.
            let header = unsafe { util::bytes(pb_key, util::dword(blobs::PRIVATE_KEY_BLOB_HEADER)?, "pbKeyData")? };
            let len = util::dword(blobs::private_key_blob_len(header)?)?;
            // SAFETY: a PRIVATEKEYBLOB of this header holds `len` bytes.
            let blob = unsafe { util::bytes(pb_key, len, "pbKeyData")? };
            // The blob is validated here, before any card I/O (spec §4.6.1): an RSA key of a size
            // the card takes for `dwKeySpec`, whose aiKeyAlg is that key spec's (CALG_RSA_KEYX for
            // AT_KEYEXCHANGE, CALG_RSA_SIGN for AT_SIGNATURE). `dwKeySize` is not compared: the
            // blob's own bit length is the key's (callers pass the blob's byte count as well).
            let sizes = ctx.key_sizes(key_spec)?;
            let role = match key_spec {
                keyspec::AT_KEYEXCHANGE => KeyRole::Exchange,
                keyspec::AT_SIGNATURE => KeyRole::Signature,
                _ => return Err(Error::Unsupported("a PRIVATEKEYBLOB holds an RSA key")),
            };
            let parsed = blobs::rsa_private_key_blob(blob)?;
            if parsed.role != role {
                return Err(Error::InvalidParameter("the blob's aiKeyAlg does not fit dwKeySpec"));
            }
            if !sizes.allows(u32::from(parsed.bits)) {
                return Err(Error::InvalidParameter("a key size this card does not take"));
            }
            NewKey::Import(Zeroizing::new(blob.to_vec()))
        }
        misc::CREATE_CONTAINER_KEY_GEN => {
            let (alg, role) = new_key(key_spec, key_size)?;
            // The card's own sizes (no card I/O): a spec it lacks is unsupported, a size outside
            // its range invalid (spec §4.6.1).
            if !ctx.key_sizes(key_spec)?.allows(u32::from(alg.bits())) {
                return Err(Error::InvalidParameter("dwKeySize is not a size this card generates"));
            }
            NewKey::Generate(alg, role)
        }
        _ => return Err(Error::InvalidParameter("dwFlags must be KEY_GEN or KEY_IMPORT")),
    };
    if pin_id == Some(pin::ROLE_ADMIN) {
        return Err(Error::InvalidParameter("ROLE_ADMIN cannot guard a key"));
    }
    ctx.create_container(index, key, pin_id, &mut &*csp)
}

/// `CardCreateContainer`: key generation or import in the container, as the card's edge allows
/// (`SCARD_E_UNSUPPORTED_FEATURE` first for what it does not).
pub(super) unsafe extern "system" fn card_create_container(
    cd: *const CARD_DATA,
    index: u8,
    flags: u32,
    key_spec: u32,
    key_size: u32,
    pb_key: *const u8,
) -> u32 {
    entry("CardCreateContainer", cd, |ctx, csp| {
        // SAFETY: forwarded contract.
        unsafe { create(ctx, csp, index, flags, key_spec, key_size, pb_key, None) }
    })
}

/// `CardCreateContainerEx`: as `CardCreateContainer`, with the guarding PIN.
pub(super) unsafe extern "system" fn card_create_container_ex(
    cd: *const CARD_DATA,
    index: u8,
    flags: u32,
    key_spec: u32,
    key_size: u32,
    pb_key: *const u8,
    pin_id: u32,
) -> u32 {
    entry("CardCreateContainerEx", cd, |ctx, csp| {
        // SAFETY: forwarded contract.
        unsafe { create(ctx, csp, index, flags, key_spec, key_size, pb_key, Some(pin_id)) }
    })
}

/// `CardDeleteContainer`: an empty or unknown index succeeds.
pub(super) unsafe extern "system" fn card_delete_container(cd: *const CARD_DATA, index: u8, reserved: u32) -> u32 {
    entry("CardDeleteContainer", cd, |ctx, csp| {
        if reserved != 0 {
            return Err(Error::InvalidParameter("dwReserved must be 0"));
        }
        ctx.delete_container(index, &mut &*csp)
    })
}

/// `CardGetContainerProperty`.
pub(super) unsafe extern "system" fn card_get_container_property(
    cd: *const CARD_DATA,
    index: u8,
    name: PCWSTR,
    pb: *mut u8,
    cb: u32,
    pdw: *mut u32,
    flags: u32,
) -> u32 {
    entry("CardGetContainerProperty", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 name or NULL.
        let name = unsafe { util::get_property_args(name, pb, cb, pdw)? };
        util::flags_zero(flags)?;
        match name.as_str() {
            prop::CONTAINER_INFO => {
                let size = util::dword(size_of::<CONTAINER_INFO>())?;
                // SAFETY: pdw checked.
                unsafe { put(pdw, size) };
                if cb < size {
                    return Err(Error::BufferTooSmall);
                }
                need(pb, "pbData is NULL")?;
                // SAFETY: the caller's buffer holds a CONTAINER_INFO whose first field is dwVersion.
                if unsafe { util::first_dword(pb) } > 1 {
                    return Err(Error::RevisionMismatch);
                }
                let c = ctx.container(index, &mut &*csp)?;
                let out = container_info(csp, &c)?;
                // SAFETY: `pb` holds at least size_of::<CONTAINER_INFO>() bytes.
                unsafe { pb.cast::<CONTAINER_INFO>().write_unaligned(out) };
                Ok(())
            }
            prop::PIN_IDENTIFIER => {
                let c = ctx.container(index, &mut &*csp)?;
                // SAFETY: pb holds cb bytes or is NULL; pdw checked.
                unsafe { util::property_out(&c.pin.to_le_bytes(), pb, cb, pdw) }
            }
            prop::ASSOCIATED_ECDH_KEY => {
                let c = ctx.container(index, &mut &*csp)?;
                let ecdh = c.associated_ecdh.ok_or(Error::Unsupported("no associated ECDH key"))?;
                // SAFETY: as above.
                unsafe { util::property_out(&[ecdh], pb, cb, pdw) }
            }
            _ => Err(Error::InvalidParameter("unknown container property")),
        }
    })
}

/// `CardSetContainerProperty`: `CCP_PIN_IDENTIFIER` (as the edge allows: a card whose keys
/// have fixed PIN policies accepts only the current value) and `CCP_ASSOCIATED_ECDH_KEY`.
pub(super) unsafe extern "system" fn card_set_container_property(
    cd: *const CARD_DATA,
    index: u8,
    name: PCWSTR,
    pb: *const u8,
    cb: u32,
    flags: u32,
) -> u32 {
    entry("CardSetContainerProperty", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 name or NULL.
        let name = unsafe { util::required_wide(name, "wszProperty is NULL")? };
        util::flags_zero(flags)?;
        // A card in read-only mode changes no container (spec §7.4), whatever the arguments.
        ctx.writable()?;
        // SAFETY: pbData holds cbDataLen bytes.
        let data = unsafe { util::required_bytes(pb, cb, "pbData is NULL")? };
        match name.as_str() {
            prop::PIN_IDENTIFIER => {
                let id: [u8; 4] = data.try_into().map_err(|_| Error::InvalidParameter("PIN_ID is a DWORD"))?;
                let id = u32::from_le_bytes(id);
                if id >= pin::MAX_PINS || id == pin::ROLE_ADMIN {
                    return Err(Error::InvalidParameter("PIN id"));
                }
                let auth = ctx.authenticated_state();
                if auth & (pin::set_of(pin::ROLE_USER) | pin::set_of(pin::ROLE_ADMIN)) == 0 {
                    return Err(Error::SecurityViolation);
                }
                ctx.set_container_pin(index, id, &mut &*csp)
            }
            prop::ASSOCIATED_ECDH_KEY => {
                let ecdh = match data {
                    [b] => *b,
                    [b, 0, 0, 0] => *b,
                    _ => return Err(Error::InvalidParameter("a container index is one byte")),
                };
                ctx.set_associated_ecdh(index, ecdh, &mut &*csp)
            }
            prop::CONTAINER_INFO => Err(Error::Unsupported("CCP_CONTAINER_INFO is read-only")),
            _ => Err(Error::InvalidParameter("unknown container property")),
        }
    })
}
