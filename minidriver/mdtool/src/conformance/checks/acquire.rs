//! `CardAcquireContext` and version negotiation (Minidriver Specification §2.5.1, §4.1.1):
//! refused arguments, the versions a driver takes and what it writes back, the `CARD_DATA`
//! members it must leave alone.

use minidriver::abi::{code, misc, prop, version};

use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::{Level, survey::dword};
use super::{INVALID, REVISION, UNSUPPORTED};
use crate::csp::raw::{acquire_null_with, csp_supplied};
use crate::csp::{AcquireOptions, is_csp_allocation, live_allocations};

pub(crate) const CHECKS: &[Check] = &[
    check("acquire.null_card_data", 15, "CardAcquireContext(NULL) is SCARD_E_INVALID_PARAMETER", null_card_data),
    check("acquire.flags", 16, "dwFlags 0 is accepted, any bit but NO_CARD_MODE refused", flags),
    check("acquire.no_card_mode", 17, "NO_CARD_MODE without secure key injection is unsupported", no_card_mode),
    check("acquire.version_3_refused", 18, "dwVersion 3 (below the minimum) is ERROR_REVISION_MISMATCH", version_3),
    check("acquire.versions_4_to_7", 18, "every dwVersion from 4 to 7 is accepted", versions_4_to_7)
        .level(Level::Should),
    check("acquire.version_negotiated", 19, "dwVersion is written back as min(requested, 7)", negotiated),
    check("acquire.tail_untouched", 20, "nothing is written past the negotiated version's extent", tail),
    check("acquire.csp_members", 21, "the members the CSP supplies are never changed", csp_members),
    check("acquire.version_stays", 22, "the negotiated dwVersion stays as it is during the context", version_stays),
    check("acquire.atr_and_name", 23, "pbAtr NULL, cbAtr 0 and pwszCardName NULL are refused", atr_and_name),
    check("acquire.null_allocators", 25, "a NULL pfnCspAlloc, pfnCspReAlloc or pfnCspFree is refused", allocators),
    check("acquire.zero_handles", 26, "hSCardCtx and hScard 0 are SCARD_E_INVALID_HANDLE", zero_handles),
    check("acquire.vendor_specific", 29, "pvVendorSpecific is a pfnCspAlloc block; a refusal leaves nothing", vendor)
        .level(Level::Should),
    check("acquire.optional_callbacks", 30, "contexts work without pfnCspPadData and pfnCspUnpadData", callbacks),
];

fn null_card_data(run: &mut Run<'_>) -> Checked {
    let got = acquire_null_with(run.bench.driver());
    run.expect("CardAcquireContext(NULL, 0)", got, &[INVALID])?;
    Ok(Verdict::pass("refused"))
}

/// A refused raw acquisition: its code is `expected`, and it left no context behind.
fn refused(
    run: &mut Run<'_>,
    what: &str,
    version: u32,
    flags: u32,
    edit: fn(&mut CardDataRaw),
    expected: &[u32],
) -> Result<(), Verdict> {
    let ctx = run.raw(version, flags, edit);
    run.expect(what, ctx.code, expected)?;
    ensure(ctx.raw.data().pvVendorSpecific.is_null(), || format!("{what}: refused, but pvVendorSpecific was set"))
}

type CardDataRaw = windows_sys::Win32::Security::Cryptography::CARD_DATA;

/// A refused acquisition: what, `dwVersion`, and the change to a well-filled `CARD_DATA`.
type Refusal = (&'static str, u32, fn(&mut CardDataRaw));

fn flags(run: &mut Run<'_>) -> Checked {
    let ok = run.raw(7, 0, |_| {});
    run.expect("CardAcquireContext(dwFlags 0)", ok.code, &[0])?;
    drop(ok);
    for flags in [0x2, 0x10, 0x8000_0000] {
        refused(run, &format!("CardAcquireContext(dwFlags 0x{flags:X})"), 7, flags, |_| {}, &[INVALID])?;
    }
    Ok(Verdict::pass("0 accepted; 0x2, 0x10, 0x80000000 refused"))
}

fn no_card_mode(run: &mut Run<'_>) -> Checked {
    let ski = run.main()?.get_property(prop::KEY_IMPORT_SUPPORT, 0).ok().and_then(|v| dword(&v));
    if ski.is_some_and(|v| v != 0) {
        return Err(Verdict::skip("the driver offers secure key injection (CP_KEY_IMPORT_SUPPORT is not 0)"));
    }
    let ctx = run.bench.detached(misc::NO_CARD_MODE, |_| {});
    run.expect("CardAcquireContext(CARD_SECURE_KEY_INJECTION_NO_CARD_MODE)", ctx.code, &[UNSUPPORTED])?;
    Ok(Verdict::pass("refused"))
}

fn version_3(run: &mut Run<'_>) -> Checked {
    refused(run, "CardAcquireContext(dwVersion 3)", 3, 0, |_| {}, &[REVISION])?;
    Ok(Verdict::pass("refused"))
}

fn versions_4_to_7(run: &mut Run<'_>) -> Checked {
    for v in version::MINIMUM..=version::CURRENT {
        let r = run.acquire(&AcquireOptions { version: v, ..run.bench.options() });
        run.expect(&format!("CardAcquireContext(dwVersion {v})"), super::code_of(&r), &[0])?;
    }
    Ok(Verdict::pass("4, 5, 6 and 7 accepted"))
}

fn negotiated(run: &mut Run<'_>) -> Checked {
    let mut seen = Vec::new();
    for v in [4, 5, 6, 7, 8, 100] {
        let r = run.acquire(&AcquireOptions { version: v, ..run.bench.options() });
        match r {
            Ok(csp) => {
                let got = csp.version();
                ensure(got == v.min(7), || format!("dwVersion {v} came back as {got}, expected {}", v.min(7)))?;
                seen.push(format!("{v}->{got}"));
            }
            // A driver whose minimum is above 4 refuses the low ones (item 18 allows it).
            Err(c) if v < 7 && c.0 == code::ERROR_REVISION_MISMATCH => seen.push(format!("{v} refused")),
            Err(c) => {
                let mut f = Verdict::fail(format!("CardAcquireContext(dwVersion {v}) returned {c}"));
                f.code = Some((c.0, vec![0]));
                return Err(f);
            }
        }
    }
    Ok(Verdict::pass(seen.join(", ")))
}

fn tail(run: &mut Run<'_>) -> Checked {
    for v in 4..=6 {
        let Ok(csp) = run.acquire(&AcquireOptions { version: v, ..run.bench.options() }) else { continue };
        ensure(csp.tail_untouched(), || {
            format!("a version {v} CARD_DATA ({} bytes) was written beyond its end", version::card_data_extent(v))
        })?;
        // The calls of a session must not write there either.
        let _ = csp.read_file(None, "cardid");
        let _ = csp.query_capabilities();
        ensure(csp.tail_untouched(), || format!("a call on a version {v} context wrote beyond its CARD_DATA"))?;
    }
    Ok(Verdict::pass("versions 4, 5 and 6: the bytes past the extent kept their canary"))
}

fn csp_members(run: &mut Run<'_>) -> Checked {
    for v in [5, 7] {
        let mut before = Vec::new();
        let ctx = run.raw(v, 0, |cd| before = csp_supplied(cd));
        run.expect(&format!("CardAcquireContext(dwVersion {v})"), ctx.code, &[0])?;
        ensure(csp_supplied(ctx.raw.data()) == before, || {
            format!("version {v}: CardAcquireContext changed a member the CSP supplies")
        })?;
        let cd = ctx.raw.data();
        let _ = crate::csp::raw::read_file_bytes(cd, Some(b"mscp"), b"cmapfile", 0);
        let _ = crate::csp::raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 4, 0);
        let _ = crate::csp::raw::free_space(cd, 0, 1);
        ensure(csp_supplied(ctx.raw.data()) == before, || {
            format!("version {v}: a call changed a member the CSP supplies")
        })?;
    }
    Ok(Verdict::pass("ATR, card name, callbacks, cache context and handles unchanged (versions 5 and 7)"))
}

fn version_stays(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let v = csp.version();
    let _ = csp.read_file(None, "cardcf");
    let _ = csp.get_property(prop::LIST_PINS, 0);
    let _ = csp.query_key_sizes(1);
    let now = csp.version();
    ensure(now == v, || format!("dwVersion changed from {v} to {now} during the context"))?;
    Ok(Verdict::pass(format!("stays {v}")))
}

fn atr_and_name(run: &mut Run<'_>) -> Checked {
    refused(run, "CardAcquireContext(pbAtr NULL)", 7, 0, |cd| cd.pbAtr = core::ptr::null_mut(), &[INVALID])?;
    refused(run, "CardAcquireContext(cbAtr 0)", 7, 0, |cd| cd.cbAtr = 0, &[INVALID])?;
    refused(
        run,
        "CardAcquireContext(pwszCardName NULL)",
        7,
        0,
        |cd| cd.pwszCardName = core::ptr::null_mut(),
        &[INVALID],
    )?;
    Ok(Verdict::pass("each refused"))
}

fn allocators(run: &mut Run<'_>) -> Checked {
    refused(run, "CardAcquireContext(pfnCspAlloc NULL)", 7, 0, |cd| cd.pfnCspAlloc = None, &[INVALID])?;
    refused(run, "CardAcquireContext(pfnCspReAlloc NULL)", 7, 0, |cd| cd.pfnCspReAlloc = None, &[INVALID])?;
    refused(run, "CardAcquireContext(pfnCspFree NULL)", 7, 0, |cd| cd.pfnCspFree = None, &[INVALID])?;
    Ok(Verdict::pass("each refused"))
}

fn zero_handles(run: &mut Run<'_>) -> Checked {
    let ctx = run.bench.detached(0, |_| {});
    run.expect("CardAcquireContext(hSCardCtx 0, hScard 0)", ctx.code, &[code::SCARD_E_INVALID_HANDLE])?;
    ensure(ctx.raw.data().pvVendorSpecific.is_null(), || "refused, but pvVendorSpecific was set".to_owned())?;
    Ok(Verdict::pass("refused"))
}

fn vendor(run: &mut Run<'_>) -> Checked {
    let live = live_allocations();
    let edits: [Refusal; 4] = [
        ("dwVersion 3", 3, |_| {}),
        ("cbAtr 0", 7, |cd| cd.cbAtr = 0),
        ("pfnCspFree NULL", 7, |cd| cd.pfnCspFree = None),
        ("pwszCardName NULL", 7, |cd| cd.pwszCardName = core::ptr::null_mut()),
    ];
    for (what, v, edit) in edits {
        let ctx = run.raw(v, 0, edit);
        ensure(ctx.code != 0, || format!("CardAcquireContext({what}) succeeded"))?;
        ensure(ctx.raw.data().pvVendorSpecific.is_null(), || {
            format!("CardAcquireContext({what}) left pvVendorSpecific set")
        })?;
        drop(ctx);
        let now = live_allocations();
        ensure(now == live, || format!("CardAcquireContext({what}) left {} pfnCspAlloc buffers", now.abs_diff(live)))?;
    }
    let ctx = run.raw(7, 0, |_| {});
    run.expect("CardAcquireContext", ctx.code, &[0])?;
    let p = ctx.raw.data().pvVendorSpecific;
    ensure(!p.is_null() && is_csp_allocation(p), || "pvVendorSpecific is not a pfnCspAlloc block".to_owned())?;
    Ok(Verdict::pass("four refusals left nothing; the context's pvVendorSpecific is a pfnCspAlloc block"))
}

fn callbacks(run: &mut Run<'_>) -> Checked {
    for v in [4, 6, 7] {
        let csp = run.acquire(&AcquireOptions { version: v, ..run.bench.options() });
        run.expect(&format!("CardAcquireContext(dwVersion {v}, pfnCspPadData NULL)"), super::code_of(&csp), &[0])?;
        if let Ok(csp) = csp {
            let r = csp.query_capabilities();
            run.expect("CardQueryCapabilities", super::code_of(&r), &[0])?;
        }
    }
    Ok(Verdict::pass("versions 4, 6 and 7 with no padding callbacks work"))
}
