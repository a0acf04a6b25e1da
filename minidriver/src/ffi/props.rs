//! Capabilities, key sizes and card properties (spec §4.4, §4.5.4, §4.5.5, §4.7.6).

use windows_sys::Win32::Security::Cryptography::{CARD_CAPABILITIES, CARD_DATA, CARD_KEY_SIZES};
use windows_sys::core::PCWSTR;

use super::entry;
use super::util::{self, put};
use crate::abi::{keyspec, pin, prop};
use crate::context::{Context, CspCache, asymmetric_padding_schemes, settable_by_everyone};
use crate::error::{Error, Result};

/// Little-endian `DWORD`s, the layout of every fixed property structure (none has padding).
fn dwords(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn boolean(b: bool) -> Vec<u8> {
    dwords(&[u32::from(b)])
}

/// A `REG_MULTI_SZ`-style UTF-16 multi-string, as bytes.
fn multi_string(items: &[&str]) -> Vec<u8> {
    let mut units: Vec<u16> = Vec::new();
    for item in items {
        units.extend(item.encode_utf16());
        units.push(0);
    }
    units.push(0);
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

/// `CardQueryCapabilities` (`dwVersion` 0 or 1).
pub(super) unsafe extern "system" fn card_query_capabilities(
    cd: *const CARD_DATA,
    caps: *mut CARD_CAPABILITIES,
) -> u32 {
    entry("CardQueryCapabilities", cd, |ctx, _| {
        // SAFETY: NULL or the caller's CARD_CAPABILITIES, which starts with dwVersion.
        unsafe { util::versioned_out(caps, "pCardCapabilities is NULL")? };
        let c = ctx.capabilities();
        let out = CARD_CAPABILITIES {
            dwVersion: 1,
            fCertificateCompression: i32::from(c.certificate_compression),
            fKeyGen: i32::from(c.key_gen),
        };
        // SAFETY: checked non-NULL.
        unsafe { put(caps, out) };
        Ok(())
    })
}

/// `CardQueryKeySizes`.
pub(super) unsafe extern "system" fn card_query_key_sizes(
    cd: *const CARD_DATA,
    key_spec: u32,
    flags: u32,
    sizes: *mut CARD_KEY_SIZES,
) -> u32 {
    entry("CardQueryKeySizes", cd, |ctx, _| {
        util::flags_zero(flags)?;
        // SAFETY: NULL or the caller's CARD_KEY_SIZES, which starts with dwVersion.
        unsafe { util::versioned_out(sizes, "pKeySizes is NULL")? };
        let s = key_sizes(ctx, key_spec)?;
        // SAFETY: checked non-NULL.
        unsafe { put(sizes, s) };
        Ok(())
    })
}

fn key_sizes(ctx: &mut Context, key_spec: u32) -> Result<CARD_KEY_SIZES> {
    if !(keyspec::AT_KEYEXCHANGE..=keyspec::AT_ECDHE_P521).contains(&key_spec) {
        return Err(Error::InvalidParameter("undefined dwKeySpec"));
    }
    let s = ctx.key_sizes(key_spec)?;
    Ok(CARD_KEY_SIZES {
        dwVersion: 1,
        dwMinimumBitlen: s.minimum,
        dwDefaultBitlen: s.default,
        dwMaximumBitlen: s.maximum,
        dwIncrementalBitlen: s.increment,
    })
}

/// The value of card property `name` with `flags`.
pub(crate) fn property_value(ctx: &mut Context, name: &str, flags: u32, cache: &mut dyn CspCache) -> Result<Vec<u8>> {
    let flags_allowed = matches!(
        name,
        prop::KEY_SIZES | prop::PIN_INFO | prop::PIN_STRENGTH_VERIFY | prop::ENUM_ALGORITHMS | prop::PADDING_SCHEMES
    );
    if flags != 0 && !flags_allowed {
        return Err(Error::InvalidParameter("dwFlags must be 0 for this property"));
    }
    let unknown = |v: Option<u32>| v.unwrap_or(crate::abi::misc::VALUE_UNKNOWN);
    Ok(match name {
        prop::FREE_SPACE => {
            let fs = ctx.free_space(cache)?;
            dwords(&[1, unknown(fs.bytes_available), unknown(fs.containers_available), unknown(fs.max_containers)])
        }
        prop::CAPABILITIES => {
            let c = ctx.capabilities();
            dwords(&[1, u32::from(c.certificate_compression), u32::from(c.key_gen)])
        }
        prop::KEY_SIZES => {
            let s = key_sizes(ctx, flags)?;
            dwords(&[1, s.dwMinimumBitlen, s.dwDefaultBitlen, s.dwMaximumBitlen, s.dwIncrementalBitlen])
        }
        prop::READ_ONLY => boolean(ctx.read_only()),
        prop::CACHE_MODE => dwords(&[ctx.cache_mode()]),
        prop::X509_ENROLLMENT => boolean(ctx.supports_x509_enrollment()?),
        prop::CARD_GUID => ctx.card_guid()?.to_vec(),
        prop::SERIAL_NO => ctx.serial_number()?,
        prop::PIN_INFO => {
            let i = ctx.pin_info(flags)?;
            dwords(&[
                pin::PIN_INFO_VERSION,
                i.pin_type,
                i.purpose,
                i.change_permission,
                i.unblock_permission,
                pin::PIN_INFO_VERSION,
                i.cache_policy,
                i.cache_policy_info,
                i.flags,
            ])
        }
        prop::LIST_PINS => dwords(&[ctx.list_pins()?]),
        prop::AUTHENTICATED_STATE => dwords(&[ctx.authenticated_state()]),
        prop::PIN_STRENGTH_VERIFY => dwords(&[ctx.pin_strength_verify(flags)?]),
        prop::PARENT_WINDOW => ctx.parent_window().to_le_bytes().to_vec(),
        prop::PIN_CONTEXT_STRING => match ctx.pin_context() {
            Some(units) => units.iter().chain(core::iter::once(&0)).flat_map(|u| u.to_le_bytes()).collect(),
            None => Vec::new(),
        },
        prop::KEY_IMPORT_SUPPORT => dwords(&[0]),
        prop::ENUM_ALGORITHMS => match flags {
            prop::CIPHER_OPERATION => multi_string(&[]),
            prop::ASYMMETRIC_OPERATION => multi_string(&ctx.algorithms()),
            _ => {
                return Err(Error::InvalidParameter(
                    "dwFlags must be CARD_CIPHER_OPERATION or CARD_ASYMMETRIC_OPERATION",
                ));
            }
        },
        prop::PADDING_SCHEMES => match flags {
            prop::CIPHER_OPERATION => dwords(&[0]),
            prop::ASYMMETRIC_OPERATION => dwords(&[asymmetric_padding_schemes()]),
            _ => {
                return Err(Error::InvalidParameter(
                    "dwFlags must be CARD_CIPHER_OPERATION or CARD_ASYMMETRIC_OPERATION",
                ));
            }
        },
        prop::CHAINING_MODES => multi_string(&[]),
        prop::PIN_STRENGTH_CHANGE | prop::PIN_STRENGTH_UNBLOCK => {
            return Err(Error::Unsupported("PIN strength change/unblock properties are not used"));
        }
        _ => return Err(Error::InvalidParameter("unknown property")),
    })
}

/// `CardGetProperty`: `*pdwDataLen` always receives the needed size; a short buffer is
/// `ERROR_INSUFFICIENT_BUFFER`.
pub(super) unsafe extern "system" fn card_get_property(
    cd: *const CARD_DATA,
    name: PCWSTR,
    pb: *mut u8,
    cb: u32,
    pdw: *mut u32,
    flags: u32,
) -> u32 {
    entry("CardGetProperty", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 property name or NULL.
        let name = unsafe { util::get_property_args(name, pb, cb, pdw)? };
        if name == prop::PIN_INFO && !pb.is_null() && cb >= 4 {
            // SAFETY: the caller's buffer holds at least a DWORD.
            let v = unsafe { util::first_dword(pb) };
            if v != pin::PIN_INFO_VERSION && v != 0 {
                return Err(Error::RevisionMismatch);
            }
        }
        let value = property_value(ctx, &name, flags, &mut &*csp)?;
        // SAFETY: pb holds cb bytes (or is NULL); pdw checked.
        unsafe { util::property_out(&value, pb, cb, pdw) }
    })
}

/// `CardSetProperty`: the parent window and PIN context string for everyone; the cache mode,
/// read-only mode, enrollment support and card GUID for an authenticated administrator (kept
/// for this context and honoured by it; the GUID is written to the card's CHUID); the rest is
/// read-only (`SCARD_E_UNSUPPORTED_FEATURE`).
pub(super) unsafe extern "system" fn card_set_property(
    cd: *const CARD_DATA,
    name: PCWSTR,
    pb: *const u8,
    cb: u32,
    flags: u32,
) -> u32 {
    entry("CardSetProperty", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 property name or NULL.
        let name = unsafe { util::required_wide(name, "wszProperty is NULL")? };
        let flags_allowed = matches!(name.as_str(), prop::PIN_INFO | prop::PIN_STRENGTH_VERIFY);
        if flags != 0 && !flags_allowed {
            return Err(Error::InvalidParameter("dwFlags must be 0 for this property"));
        }
        // SAFETY: pbData holds cbDataLen bytes (or is NULL with 0).
        let data = unsafe { util::bytes(pb, cb, "pbData is NULL")? };
        // A card in read-only mode takes only the parent window and the PIN context string
        // (spec §7.4); CP_CARD_READ_ONLY itself stays the administrator's (§4.5.5).
        if ctx.read_only() && !settable_by_everyone(&name) && name != prop::READ_ONLY {
            return Err(Error::Unsupported("the card is in read-only mode"));
        }
        match name.as_str() {
            prop::PARENT_WINDOW => {
                let hwnd: [u8; size_of::<usize>()] =
                    data.try_into().map_err(|_| Error::InvalidParameter("cbDataLen must be sizeof(HWND)"))?;
                ctx.set_parent_window(usize::from_le_bytes(hwnd));
                Ok(())
            }
            prop::PIN_CONTEXT_STRING => {
                if pb.is_null() {
                    ctx.set_pin_context(None);
                    return Ok(());
                }
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
                    .take_while(|u| *u != 0)
                    .collect();
                ctx.set_pin_context(Some(units));
                Ok(())
            }
            n if settable_by_everyone(n) => Ok(()),
            prop::FREE_SPACE
            | prop::CAPABILITIES
            | prop::KEY_SIZES
            | prop::LIST_PINS
            | prop::AUTHENTICATED_STATE
            | prop::KEY_IMPORT_SUPPORT
            | prop::ENUM_ALGORITHMS
            | prop::PADDING_SCHEMES
            | prop::CHAINING_MODES => Err(Error::Unsupported("read-only property")),
            prop::CACHE_MODE
            | prop::READ_ONLY
            | prop::X509_ENROLLMENT
            | prop::CARD_GUID
            | prop::SERIAL_NO
            | prop::PIN_INFO
            | prop::PIN_STRENGTH_VERIFY => {
                if ctx.authenticated_state() & pin::set_of(pin::ROLE_ADMIN) == 0 {
                    return Err(Error::SecurityViolation);
                }
                ctx.set_admin_property(&name, data, &mut &*csp)
            }
            prop::PIN_STRENGTH_CHANGE | prop::PIN_STRENGTH_UNBLOCK => Err(Error::Unsupported("not used")),
            _ => Err(Error::Unsupported("unknown property")),
        }
    })
}
