//! Memory ownership (§2.3.4, §3.2.1): outputs come from `pfnCspAlloc` (one block each, which
//! one `pfnCspFree` releases), in-place outputs allocate nothing, an allocator that fails is
//! reported and leaves the outputs clear, and a failure writes no output.

use minidriver::abi::{code, keyspec, pin, prop};

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::dword;
use crate::csp::raw::{FAILING_ALLOC, Outputs, allocated_outputs, outputs_without_memory, read_file_outputs};
use crate::csp::{driver_frees, live_allocations};

pub(crate) const CHECKS: &[Check] = &[
    check(
        "memory.outputs_allocated",
        38,
        "every output buffer is one pfnCspAlloc block, freed by one pfnCspFree",
        allocated,
    ),
    check("memory.in_place", 39, "in-place outputs (properties, structures) allocate nothing", in_place),
    check("memory.out_of_memory", 40, "a failing pfnCspAlloc is out of memory, outputs left NULL and 0", out_of_memory),
    check(
        "memory.outputs_on_failure",
        40,
        "a failed CardReadFile leaves *ppbData and *pcbData as they were",
        on_failure,
    ),
];

/// The checks that look back on the whole run.
pub(crate) const LATE: &[Check] =
    &[check("memory.zeroed_frees", 43, "every buffer the driver freed was zeroed first", zeroed).level(Level::Should)];

/// What the allocating calls can use on this card (only keys that need no PIN sign).
fn outputs(run: &mut Run<'_>) -> Result<(Outputs, Option<Vec<u8>>), Verdict> {
    let pin_value = run.usable_pin().ok();
    let survey = run.survey()?.clone();
    let only = |sig: bool| {
        survey.containers.iter().find(|c| {
            c.keys.len() == 1
                && c.keys.first().is_some_and(|k| {
                    matches!(k.key_spec, keyspec::AT_SIGNATURE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384) == sig
                })
        })
    };
    let sign = survey.keys().find(|(c, k)| {
        c.pin_id == Some(pin::ROLE_EVERYONE)
            && matches!(
                k.key_spec,
                keyspec::AT_SIGNATURE | keyspec::AT_KEYEXCHANGE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384
            )
    });
    let csp = run.main()?;
    let admin_type =
        csp.get_property(prop::PIN_INFO, pin::ROLE_ADMIN).ok().and_then(|v| dword(v.get(4..).unwrap_or_default()));
    let strength =
        csp.get_property(prop::PIN_STRENGTH_VERIFY, pin::ROLE_USER).ok().as_deref().and_then(dword).unwrap_or(0);
    let outputs = Outputs {
        kx: only(false).map(|c| c.index),
        sig: only(true).map(|c| c.index),
        sig_property: only(true).map(|c| c.index),
        sign: sign.map(|(c, k)| {
            let rsa = matches!(k.key_spec, keyspec::AT_SIGNATURE | keyspec::AT_KEYEXCHANGE);
            (c.index, k.key_spec, if rsa { minidriver::abi::crypt::CALG_SHA_256 } else { 0 })
        }),
        challenge: admin_type == Some(pin::CHALLENGE_RESPONSE),
    };
    let session = (strength & pin::STRENGTH_SESSION_PIN != 0).then_some(pin_value).flatten().map(|p| p.to_vec());
    Ok((outputs, session))
}

fn allocated(run: &mut Run<'_>) -> Checked {
    let (outputs, session) = outputs(run)?;
    let csp = run.main()?;
    let results = allocated_outputs(csp.raw(), outputs, session.as_deref());
    let count = results.len();
    for o in results {
        run.expect(o.what, o.code, &[0])?;
        ensure(o.live_after_call == 1, || {
            format!("{}: {} pfnCspAlloc blocks live after the call, 1 expected", o.what, o.live_after_call)
        })?;
        ensure(o.live_after_free == 0, || format!("{}: one pfnCspFree left {} blocks", o.what, o.live_after_free))?;
    }
    Ok(Verdict::pass(format!("{count} outputs, one block each")))
}

/// A call whose outputs are the caller's memory, and whether it succeeded.
type InPlace<'a> = (&'static str, Box<dyn Fn() -> bool + 'a>);

fn in_place(run: &mut Run<'_>) -> Checked {
    let index = run.survey()?.containers.first().map(|c| c.index);
    let csp = run.main()?;
    let mut calls: Vec<InPlace<'_>> = vec![
        ("CardGetProperty(CP_CARD_FREE_SPACE)", Box::new(|| csp.get_property(prop::FREE_SPACE, 0).is_ok())),
        ("CardGetProperty(CP_CARD_PIN_INFO)", Box::new(|| csp.get_property(prop::PIN_INFO, pin::ROLE_USER).is_ok())),
        ("CardQueryCapabilities", Box::new(|| csp.query_capabilities().is_ok())),
        (
            "CardQueryKeySizes",
            Box::new(|| {
                // A key spec the card does not do is an answer too.
                let _ = csp.query_key_sizes(keyspec::AT_KEYEXCHANGE);
                true
            }),
        ),
        ("CardGetFileInfo(cardid)", Box::new(|| csp.file_info(None, "cardid").is_ok())),
        ("CardQueryFreeSpace", Box::new(|| csp.query_free_space().is_ok())),
    ];
    if let Some(i) = index {
        calls.push((
            "CardGetContainerProperty(CCP_PIN_IDENTIFIER)",
            Box::new(move || csp.get_container_property(i, prop::PIN_IDENTIFIER).is_ok()),
        ));
    }
    for (what, call) in &calls {
        let before = live_allocations();
        let ok = call();
        let after = live_allocations();
        ensure(ok, || format!("{what} failed"))?;
        ensure(after == before, || format!("{what} left {} pfnCspAlloc blocks", after.abs_diff(before)))?;
    }
    Ok(Verdict::pass(format!("{} calls, nothing allocated", calls.len())))
}

fn out_of_memory(run: &mut Run<'_>) -> Checked {
    let (outputs, session) = outputs(run)?;
    let mut ctx = run.raw(7, 0, |_| {});
    run.expect("CardAcquireContext", ctx.code, &[0])?;
    let alloc = ctx.raw.data().pfnCspAlloc;
    ctx.raw.data_mut().pfnCspAlloc = FAILING_ALLOC;
    let cases = outputs_without_memory(ctx.raw.data(), outputs, session.as_deref());
    ctx.raw.data_mut().pfnCspAlloc = alloc;
    let count = cases.len();
    for case in cases {
        run.expect(case.what, case.code, &[code::SCARD_E_NO_MEMORY, code::ERROR_NOT_ENOUGH_MEMORY])?;
        ensure(case.outputs_clean, || format!("{}: out of memory, but an output was written", case.what))?;
    }
    Ok(Verdict::pass(format!("{count} calls out of memory, outputs clear")))
}

fn on_failure(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, untouched, cb) = read_file_outputs(csp.raw(), Some(b"mscp"), b"nofile");
    let (got_dir, untouched_dir, cb_dir) = read_file_outputs(csp.raw(), Some(b"nodir"), b"cmapfile");
    run.expect("CardReadFile(mscp/nofile)", got, &[code::SCARD_E_FILE_NOT_FOUND])?;
    ensure(untouched && cb == 0, || format!("refused, but *pcbData became {cb}"))?;
    run.expect("CardReadFile(nodir/cmapfile)", got_dir, &[code::SCARD_E_DIR_NOT_FOUND])?;
    ensure(untouched_dir && cb_dir == 0, || format!("refused, but *pcbData became {cb_dir}"))?;
    Ok(Verdict::pass("outputs left NULL and 0"))
}

fn zeroed(run: &mut Run<'_>) -> Checked {
    run.close_main();
    let (frees, dirty) = driver_frees();
    ensure(dirty == 0, || format!("{dirty} of the {frees} buffers the driver freed so far were not zeroed"))?;
    Ok(Verdict::pass(format!("{frees} buffers freed, all zeroed")))
}
