//! Card properties, capabilities and key sizes (§4.4, §4.5.4, §4.5.5, §4.7.6): each
//! property's type and size (read into a poisoned buffer, so that what the driver wrote past
//! `*pdwDataLen` shows), short buffers, unknown names, and what `CardSetProperty` must refuse.

use minidriver::abi::{code, keyspec, pin, prop};

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::dword;
use super::{INVALID, SECURITY, UNSUPPORTED};
use crate::csp::raw::{capabilities, query_key_sizes, set_property};

/// The poison a property buffer is filled with.
const POISON: u8 = 0xA5;
/// The buffer a property is read into.
const CAPACITY: u32 = 256;

macro_rules! property_checks {
    ($(($id:literal, $cp:literal, $name:expr, $flags:expr, $size:expr, $optional:expr, $fn_name:ident)),* $(,)?) => {
        $(
            fn $fn_name(run: &mut Run<'_>) -> Checked {
                typed(run, $name, $flags, $size, $optional)
            }
        )*
        pub(crate) const CHECKS: &[Check] = &[
            $(check($id, 112, concat!($cp, ": its type and size"), $fn_name),)*
            check("properties.cache_mode", 157, "CP_CARD_CACHE_MODE is one of the three modes", cache_mode),
            check("properties.short_buffer", 111, "a buffer one byte short is ERROR_INSUFFICIENT_BUFFER, untouched", short),
            check("properties.short_buffer_length", 111, "a short buffer gets *pdwDataLen = the size needed", short_length)
                .level(Level::Should),
            check("properties.unknown", 110, "an unknown property is refused", unknown),
            check("properties.pin_info_unknown_pin", 54, "CP_CARD_PIN_INFO of a PIN the card does not list is refused", unknown_pin),
            check("properties.pin_info_version", 54, "a PIN_INFO buffer with dwVersion 5 is ERROR_REVISION_MISMATCH", pin_info_version)
                .level(Level::Should),
            check("properties.pin_strength", 60, "CP_CARD_PIN_STRENGTH_VERIFY of the user PIN includes plaintext", strength),
            check("properties.capabilities", 118, "CardQueryCapabilities equals CP_CARD_CAPABILITIES", capabilities_match),
            check("properties.capabilities_version", 118, "CARD_CAPABILITIES version 0 is taken as 1, 2 refused", capabilities_version)
                .level(Level::Should),
            check("properties.key_sizes", 119, "CardQueryKeySizes equals CP_CARD_KEYSIZES for every key spec", key_sizes),
            check("properties.key_sizes_undefined", 119, "an undefined dwKeySpec is SCARD_E_INVALID_PARAMETER", key_sizes_undefined),
            check("properties.set_read_only", 114, "setting a read-only property is refused", set_read_only),
            check("properties.set_unknown", 114, "setting an unknown property is SCARD_E_UNSUPPORTED_FEATURE", set_unknown),
            check("properties.set_needs_admin", 115, "the admin-only properties are refused without ROLE_ADMIN", set_needs_admin),
            check("properties.parent_window", 116, "CP_PARENT_WINDOW takes an 8-byte HWND, refuses 4 bytes", parent_window)
                .level(Level::Should),
            check("properties.pin_context_string", 115, "everyone may set CP_PIN_CONTEXT_STRING", context_string),
            check("properties.no_key_import", 166, "without secure key injection every SKI entry point is unsupported", ski)
                .level(Level::Should),
            check("readonly.content_rules", 164, "a read-only card has no free space, no key generation, no enrollment", read_only),
        ];
    };
}

const PIN_USER: u32 = pin::ROLE_USER;

property_checks![
    ("properties.free_space", "CP_CARD_FREE_SPACE", prop::FREE_SPACE, 0, Some(16), false, free_space),
    ("properties.capabilities_size", "CP_CARD_CAPABILITIES", prop::CAPABILITIES, 0, Some(12), false, capabilities_size),
    (
        "properties.key_sizes_size",
        "CP_CARD_KEYSIZES",
        prop::KEY_SIZES,
        keyspec::AT_KEYEXCHANGE,
        Some(20),
        true,
        key_sizes_size
    ),
    ("properties.read_only", "CP_CARD_READ_ONLY", prop::READ_ONLY, 0, Some(4), false, read_only_mode),
    ("properties.cache_mode_size", "CP_CARD_CACHE_MODE", prop::CACHE_MODE, 0, Some(4), false, cache_mode_size),
    (
        "properties.x509_enrollment",
        "CP_SUPPORTS_WIN_X509_ENROLLMENT",
        prop::X509_ENROLLMENT,
        0,
        Some(4),
        false,
        x509_enrollment
    ),
    ("properties.card_guid", "CP_CARD_GUID", prop::CARD_GUID, 0, Some(16), false, card_guid),
    ("properties.serial_number", "CP_CARD_SERIAL_NO (optional)", prop::SERIAL_NO, 0, None, true, serial_number),
    ("properties.pin_info", "CP_CARD_PIN_INFO", prop::PIN_INFO, PIN_USER, Some(36), false, pin_info),
    ("properties.list_pins", "CP_CARD_LIST_PINS", prop::LIST_PINS, 0, Some(4), false, list_pins),
    (
        "properties.authenticated_state",
        "CP_CARD_AUTHENTICATED_STATE (optional)",
        prop::AUTHENTICATED_STATE,
        0,
        Some(4),
        true,
        authenticated_state
    ),
    (
        "properties.pin_strength_size",
        "CP_CARD_PIN_STRENGTH_VERIFY",
        prop::PIN_STRENGTH_VERIFY,
        PIN_USER,
        Some(4),
        false,
        pin_strength_size
    ),
    (
        "properties.key_import_support",
        "CP_KEY_IMPORT_SUPPORT",
        prop::KEY_IMPORT_SUPPORT,
        0,
        Some(4),
        false,
        key_import_support
    ),
];

/// A property read into a poisoned buffer of [`CAPACITY`] bytes: (code, `*pdwDataLen`, buffer).
fn poisoned(run: &mut Run<'_>, name: &str, flags: u32, capacity: u32) -> Result<(u32, u32, Vec<u8>), Verdict> {
    let csp = run.main()?;
    let mut buffer = vec![POISON; capacity as usize];
    if name == prop::PIN_INFO
        && let Some(head) = buffer.get_mut(..4)
    {
        head.copy_from_slice(&pin::PIN_INFO_VERSION.to_le_bytes());
    }
    let (got, len) = csp.get_property_into(name, flags, &mut buffer);
    Ok((got, len, buffer))
}

fn typed(run: &mut Run<'_>, name: &str, flags: u32, size: Option<u32>, optional: bool) -> Checked {
    let (got, len, buffer) = poisoned(run, name, flags, CAPACITY)?;
    if optional && (got == INVALID || got == UNSUPPORTED) {
        run.expect(&format!("CardGetProperty({name})"), got, &[INVALID, UNSUPPORTED])?;
        return Ok(Verdict::pass("optional, not supported"));
    }
    // Key sizes of a key spec the card does not do: SCARD_E_UNSUPPORTED_FEATURE (item 119).
    run.expect(&format!("CardGetProperty({name})"), got, &[0])?;
    if let Some(size) = size {
        ensure(len == size, || format!("*pdwDataLen is {len}, the value is {size} bytes"))?;
    }
    ensure(len > 0 && len <= CAPACITY, || format!("*pdwDataLen is {len}"))?;
    let written = buffer.iter().rposition(|b| *b != POISON).map_or(0, |p| p + 1);
    ensure(written <= len as usize, || format!("{written} bytes written, *pdwDataLen says {len}"))?;
    let head = buffer.get(..(len as usize).min(16)).unwrap_or_default();
    Ok(Verdict::pass(format!("{len} bytes: {}", hex::encode_upper(head))))
}

fn cache_mode(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let mode = csp.get_property(prop::CACHE_MODE, 0);
    run.expect("CardGetProperty(CP_CARD_CACHE_MODE)", super::code_of(&mode), &[0])?;
    let mode = mode.ok().as_deref().and_then(dword).unwrap_or(0);
    ensure((1..=3).contains(&mode), || format!("cache mode {mode}"))?;
    Ok(Verdict::pass(format!("mode {mode}")))
}

/// The fixed-size properties, for the short-buffer checks.
const FIXED: [(&str, u32, u32); 6] = [
    (prop::FREE_SPACE, 0, 16),
    (prop::CAPABILITIES, 0, 12),
    (prop::CARD_GUID, 0, 16),
    (prop::LIST_PINS, 0, 4),
    (prop::CACHE_MODE, 0, 4),
    (prop::PIN_INFO, PIN_USER, 36),
];

fn short(run: &mut Run<'_>) -> Checked {
    for (name, flags, size) in FIXED {
        let (got, _, buffer) = poisoned(run, name, flags, size - 1)?;
        run.expect(&format!("CardGetProperty({name}, cbData {})", size - 1), got, &[code::ERROR_INSUFFICIENT_BUFFER])?;
        let skip = if name == prop::PIN_INFO { 4 } else { 0 };
        ensure(buffer.iter().skip(skip).all(|b| *b == POISON), || format!("{name}: the short buffer was written"))?;
    }
    Ok(Verdict::pass("6 properties refused one byte short, buffers untouched"))
}

fn short_length(run: &mut Run<'_>) -> Checked {
    for (name, flags, size) in FIXED {
        let (got, len, _) = poisoned(run, name, flags, size - 1)?;
        if got != code::ERROR_INSUFFICIENT_BUFFER && got != code::SCARD_E_INSUFFICIENT_BUFFER {
            return Err(Verdict::skip(format!("{name} with a short buffer was not refused (properties.short_buffer)")));
        }
        ensure(len == size, || {
            format!("{name}: *pdwDataLen is {len} after a short buffer, the value is {size} bytes")
        })?;
    }
    Ok(Verdict::pass("the size needed, each time"))
}

fn unknown(run: &mut Run<'_>) -> Checked {
    let (got, _, _) = poisoned(run, "Not A Property", 0, CAPACITY)?;
    run.expect("CardGetProperty(\"Not A Property\")", got, &[INVALID, UNSUPPORTED])?;
    Ok(Verdict::pass("refused"))
}

fn listed_pins(run: &mut Run<'_>) -> Result<u32, Verdict> {
    let csp = run.main()?;
    let list = csp.get_property(prop::LIST_PINS, 0);
    run.expect("CardGetProperty(CP_CARD_LIST_PINS)", super::code_of(&list), &[0])?;
    Ok(list.ok().as_deref().and_then(dword).unwrap_or(0))
}

fn unknown_pin(run: &mut Run<'_>) -> Checked {
    let list = listed_pins(run)?;
    let Some(id) = (3..8).find(|id| list & (1 << id) == 0) else {
        return Err(Verdict::skip("the card lists every PIN id"));
    };
    let (got, _, _) = poisoned(run, prop::PIN_INFO, id, 36)?;
    run.expect(&format!("CardGetProperty(CP_CARD_PIN_INFO, PIN {id})"), got, &[INVALID])?;
    let (got, _, _) = poisoned(run, prop::PIN_INFO, 8, 36)?;
    run.expect("CardGetProperty(CP_CARD_PIN_INFO, PIN 8)", got, &[INVALID])?;
    Ok(Verdict::pass(format!("PIN {id} (not listed) and PIN 8 refused")))
}

fn pin_info_version(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, _) = crate::csp::raw::pin_info_with_version(csp.raw(), PIN_USER, 5);
    run.expect(
        "CardGetProperty(CP_CARD_PIN_INFO) into a PIN_INFO of dwVersion 5",
        got,
        &[code::ERROR_REVISION_MISMATCH],
    )?;
    Ok(Verdict::pass("refused"))
}

fn strength(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let v = csp.get_property(prop::PIN_STRENGTH_VERIFY, PIN_USER);
    run.expect("CardGetProperty(CP_CARD_PIN_STRENGTH_VERIFY, ROLE_USER)", super::code_of(&v), &[0])?;
    let v = v.ok().as_deref().and_then(dword).unwrap_or(0);
    ensure(v & pin::STRENGTH_PLAINTEXT != 0, || format!("0x{v:X} lacks CARD_PIN_STRENGTH_PLAINTEXT"))?;
    ensure(v & !(pin::STRENGTH_PLAINTEXT | pin::STRENGTH_SESSION_PIN) == 0, || format!("0x{v:X} has undefined bits"))?;
    Ok(Verdict::pass(format!("0x{v:X}")))
}

fn capabilities_match(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, [_, compression, keygen]) = capabilities(csp.raw(), 1);
    let property = csp.get_property(prop::CAPABILITIES, 0);
    run.expect("CardQueryCapabilities", got, &[0])?;
    run.expect("CardGetProperty(CP_CARD_CAPABILITIES)", super::code_of(&property), &[0])?;
    let p = property.unwrap_or_default();
    let (pc, pk) = (dword(p.get(4..).unwrap_or_default()), dword(p.get(8..).unwrap_or_default()));
    ensure(pc == Some(compression) && pk == Some(keygen), || {
        format!("CardQueryCapabilities ({compression}, {keygen}) and CP_CARD_CAPABILITIES ({pc:?}, {pk:?}) differ")
    })?;
    ensure(compression <= 1 && keygen <= 1, || format!("BOOLs {compression} and {keygen}"))?;
    Ok(Verdict::pass(format!("certificate compression {compression}, key generation {keygen}")))
}

fn capabilities_version(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (zero, _) = capabilities(csp.raw(), 0);
    let (two, _) = capabilities(csp.raw(), 2);
    run.expect("CardQueryCapabilities(dwVersion 0)", zero, &[0])?;
    run.expect("CardQueryCapabilities(dwVersion 2)", two, &[code::ERROR_REVISION_MISMATCH])?;
    Ok(Verdict::pass("0 taken, 2 refused"))
}

/// The defined key specs with their curve size (0 for RSA).
const KEY_SPECS: [(u32, u32); 8] = [
    (keyspec::AT_KEYEXCHANGE, 0),
    (keyspec::AT_SIGNATURE, 0),
    (keyspec::AT_ECDSA_P256, 256),
    (keyspec::AT_ECDSA_P384, 384),
    (keyspec::AT_ECDSA_P521, 521),
    (keyspec::AT_ECDHE_P256, 256),
    (keyspec::AT_ECDHE_P384, 384),
    (keyspec::AT_ECDHE_P521, 521),
];

fn key_sizes(run: &mut Run<'_>) -> Checked {
    let mut supported = Vec::new();
    for (spec, curve) in KEY_SPECS {
        let csp = run.main()?;
        let (got, [_, min, default, max, step]) = query_key_sizes(csp.raw(), spec, 0);
        let property = csp.get_property(prop::KEY_SIZES, spec);
        run.expect(&format!("CardQueryKeySizes({spec})"), got, &[0, UNSUPPORTED])?;
        let pcode = super::code_of(&property);
        ensure(pcode == got, || {
            format!("key spec {spec}: CardQueryKeySizes returned 0x{got:08X}, CP_CARD_KEYSIZES 0x{pcode:08X}")
        })?;
        if got != 0 {
            continue;
        }
        let p: Vec<u32> = property.unwrap_or_default().chunks_exact(4).map(|w| dword(w).unwrap_or(0)).collect();
        ensure(p.get(1..5) == Some(&[min, default, max, step][..]), || {
            format!("key spec {spec}: CP_CARD_KEYSIZES {p:?} differs")
        })?;
        if curve != 0 {
            ensure([min, default, max, step] == [curve, curve, curve, 1], || {
                format!("key spec {spec}: {min}/{default}/{max} step {step}, expected {curve}/{curve}/{curve} step 1")
            })?;
        } else {
            ensure(min <= default && default <= max && min > 0, || format!("key spec {spec}: {min}/{default}/{max}"))?;
        }
        supported.push(format!("{spec}: {min}-{max}"));
    }
    ensure(!supported.is_empty(), || "no key spec is supported".to_owned())?;
    Ok(Verdict::pass(supported.join(", ")))
}

fn key_sizes_undefined(run: &mut Run<'_>) -> Checked {
    for spec in [0, 9, 0x100] {
        let csp = run.main()?;
        let (got, _) = query_key_sizes(csp.raw(), spec, 0);
        run.expect(&format!("CardQueryKeySizes(dwKeySpec {spec})"), got, &[INVALID])?;
    }
    Ok(Verdict::pass("0, 9 and 0x100 refused"))
}

/// Sets `name` to the value it has now (a driver that wrongly accepts changes nothing).
fn set_same(run: &mut Run<'_>, name: &str, flags: u32) -> Result<u32, Verdict> {
    let csp = run.main()?;
    let now = csp.get_property(name, flags).unwrap_or_else(|_| vec![0; 4]);
    Ok(set_property(csp.raw(), name, Some(&now), flags))
}

fn set_read_only(run: &mut Run<'_>) -> Checked {
    for name in
        [prop::FREE_SPACE, prop::CAPABILITIES, prop::LIST_PINS, prop::AUTHENTICATED_STATE, prop::KEY_IMPORT_SUPPORT]
    {
        let got = set_same(run, name, 0)?;
        run.expect(&format!("CardSetProperty({name})"), got, &[UNSUPPORTED, SECURITY])?;
    }
    let got = set_same(run, prop::KEY_SIZES, keyspec::AT_KEYEXCHANGE)?;
    run.expect("CardSetProperty(CP_CARD_KEYSIZES)", got, &[UNSUPPORTED, SECURITY, INVALID])?;
    Ok(Verdict::pass("6 read-only properties refused"))
}

fn set_unknown(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let got = set_property(csp.raw(), "Not A Property", Some(&[0; 4]), 0);
    run.expect("CardSetProperty(\"Not A Property\")", got, &[UNSUPPORTED])?;
    Ok(Verdict::pass("refused"))
}

fn set_needs_admin(run: &mut Run<'_>) -> Checked {
    for (name, flags) in [
        (prop::CACHE_MODE, 0),
        (prop::X509_ENROLLMENT, 0),
        (prop::CARD_GUID, 0),
        (prop::READ_ONLY, 0),
        (prop::PIN_INFO, PIN_USER),
        (prop::PIN_STRENGTH_VERIFY, PIN_USER),
    ] {
        let got = set_same(run, name, flags)?;
        run.expect(&format!("CardSetProperty({name}) without ROLE_ADMIN"), got, &[SECURITY, UNSUPPORTED])?;
    }
    Ok(Verdict::pass("6 properties refused without the administrator"))
}

fn parent_window(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let eight = set_property(csp.raw(), prop::PARENT_WINDOW, Some(&[0; 8]), 0);
    let four = set_property(csp.raw(), prop::PARENT_WINDOW, Some(&[0; 4]), 0);
    run.expect("CardSetProperty(CP_PARENT_WINDOW, 8 bytes of 0)", eight, &[0])?;
    run.expect("CardSetProperty(CP_PARENT_WINDOW, 4 bytes)", four, &[INVALID])?;
    Ok(Verdict::pass("8 bytes taken, 4 refused"))
}

fn context_string(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let text: Vec<u8> = "mdtool conformance".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
    let got = set_property(csp.raw(), prop::PIN_CONTEXT_STRING, Some(&text), 0);
    run.expect("CardSetProperty(CP_PIN_CONTEXT_STRING)", got, &[0])?;
    Ok(Verdict::pass("taken"))
}

fn ski(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let support = csp.get_property(prop::KEY_IMPORT_SUPPORT, 0).ok().as_deref().and_then(dword);
    if support.is_some_and(|v| v != 0) {
        return Err(Verdict::skip(format!(
            "CP_KEY_IMPORT_SUPPORT is 0x{:X}: the driver offers SKI",
            support.unwrap_or(0)
        )));
    }
    let codes = csp.ski_codes();
    let count = codes.len();
    for (what, got) in codes {
        run.expect(what, got.0, &[UNSUPPORTED])?;
    }
    Ok(Verdict::pass(format!("CP_KEY_IMPORT_SUPPORT 0; {count} entry points unsupported")))
}

fn read_only(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let ro = csp.get_property(prop::READ_ONLY, 0).ok().as_deref().and_then(dword).unwrap_or(0);
    if ro == 0 {
        return Err(Verdict::skip("the card is not read-only (CP_CARD_READ_ONLY is FALSE)"));
    }
    let enroll = csp.get_property(prop::X509_ENROLLMENT, 0).ok().as_deref().and_then(dword).unwrap_or(1);
    let keygen = csp.query_capabilities().map(|(_, k)| k).unwrap_or(true);
    let (bytes, free, _) = csp.query_free_space().unwrap_or((1, 1, 1));
    ensure(enroll == 0, || "CP_SUPPORTS_WIN_X509_ENROLLMENT is TRUE on a read-only card".to_owned())?;
    ensure(!keygen, || "fKeyGen is TRUE on a read-only card".to_owned())?;
    ensure(bytes == 0 && free == 0, || format!("free space {bytes} bytes, {free} containers on a read-only card"))?;
    Ok(Verdict::pass("no enrollment, no key generation, no free space"))
}
