//! Contexts and their handles (§2.3.1, §4.1.2): two contexts at once, one deleted without
//! affecting the other; `CardDeleteContext` releases everything, needs no card and refuses a
//! second call; no authentication outlives its context; threads sharing a context; and over
//! PC/SC, the CSP's connection left alone and new handles followed.

use std::sync::atomic::{AtomicUsize, Ordering};

use minidriver::abi::{keyspec, pin};

use super::super::Level;
use super::super::bench::hold_transaction;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::{INVALID, SECURITY};
use crate::csp::raw::Shared;
use crate::csp::{Csp, live_allocations};

pub(crate) const CHECKS: &[Check] = &[
    check("contexts.second_context", 10, "two contexts at once; deleting one leaves the other working", second),
    check("contexts.delete_releases", 33, "CardDeleteContext frees every block and clears pvVendorSpecific", releases),
    check(
        "contexts.delete_without_card",
        34,
        "CardDeleteContext works with the handles 0 and no transaction",
        without_card,
    ),
    check("contexts.delete_twice", 37, "a second CardDeleteContext is refused", twice).level(Level::Should),
    check(
        "contexts.no_authentication_carried_over",
        45,
        "a new context is not authenticated by an earlier one",
        carried,
    )
    .pin(),
    check("contexts.threads", 11, "threads sharing one context get consistent answers", threads).level(Level::Should),
    check("contexts.handles_left_alone", 36, "after CardDeleteContext the CSP's connection still works", handles)
        .reader(),
    check("contexts.handle_swap", 46, "new handles in CARD_DATA are used on the next call", swap).reader(),
];

fn new_context(run: &mut Run<'_>) -> Result<Csp, Verdict> {
    let options = run.bench.options();
    run.acquire(&options).map_err(|c| Verdict::fail(format!("CardAcquireContext returned {c}")))
}

fn second(run: &mut Run<'_>) -> Checked {
    let mut a = new_context(run)?;
    hold_transaction(&mut a, false);
    let b = new_context(run)?;
    let from_b = b.read_file(None, "cardid");
    run.expect("CardReadFile(cardid) in the second context", super::code_of(&from_b), &[0])?;
    drop(b);
    hold_transaction(&mut a, true);
    let from_a = a.read_file(Some("mscp"), "cmapfile");
    run.expect(
        "CardReadFile(mscp/cmapfile) in the first, after the second was deleted",
        super::code_of(&from_a),
        &[0],
    )?;
    Ok(Verdict::pass("both work; the first outlives the second"))
}

fn releases(run: &mut Run<'_>) -> Checked {
    let live = live_allocations();
    {
        let ctx = run.raw(7, 0, |_| {});
        run.expect("CardAcquireContext", ctx.code, &[0])?;
        let mut ctx = ctx;
        let cd = ctx.raw.data();
        let _ = crate::csp::raw::read_file_bytes(cd, Some(b"mscp"), b"cmapfile", 0);
        let _ = crate::csp::raw::enum_files_bytes(cd, Some(b"mscp"));
        let _ = crate::csp::raw::container_info_blobs(cd, 0, 0);
        let deleted = ctx.raw.delete();
        run.expect("CardDeleteContext", deleted, &[0])?;
        ensure(ctx.raw.data().pvVendorSpecific.is_null(), || "pvVendorSpecific is still set".to_owned())?;
    }
    let now = live_allocations();
    ensure(now == live, || format!("{} pfnCspAlloc blocks outlived the context", now.abs_diff(live)))?;
    Ok(Verdict::pass("nothing left"))
}

fn without_card(run: &mut Run<'_>) -> Checked {
    let live = live_allocations();
    let mut csp = new_context(run)?;
    let _ = csp.read_file(None, "cardcf");
    hold_transaction(&mut csp, false);
    csp.card_data_mut().set_handles(0, 0);
    let got = super::code_of(&csp.card_data_mut().delete_context());
    drop(csp);
    run.expect("CardDeleteContext(hSCardCtx 0, hScard 0, no transaction)", got, &[0])?;
    let now = live_allocations();
    ensure(now == live, || format!("{} pfnCspAlloc blocks outlived the context", now.abs_diff(live)))?;
    Ok(Verdict::pass("deleted, nothing left"))
}

fn twice(run: &mut Run<'_>) -> Checked {
    let mut ctx = run.raw(7, 0, |_| {});
    run.expect("CardAcquireContext", ctx.code, &[0])?;
    let first = ctx.raw.delete();
    let second = ctx.raw.delete();
    run.expect("CardDeleteContext", first, &[0])?;
    run.expect("CardDeleteContext again", second, &[INVALID])?;
    Ok(Verdict::pass("refused"))
}

fn carried(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let signer = run.survey()?.keys().find_map(|(c, k)| {
        let signs = matches!(
            k.key_spec,
            keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384
        );
        (signs && c.pin_id == Some(pin::ROLE_USER)).then(|| (c.index, k.key_spec, k.key.bits()))
    });
    let Some((index, spec, bits)) = signer else {
        return Err(Verdict::skip("no key the user PIN unlocks"));
    };
    run.close_main();
    {
        let a = new_context(run)?;
        if let Err((c, _)) = a.authenticate_ex(pin::ROLE_USER, 0, &value) {
            return Err(Verdict::fail(format!("CardAuthenticateEx(ROLE_USER) returned {c}")));
        }
        run.pin.right_pin_worked = true;
        // The CSP ends the authentication with its transaction; a card that cannot
        // deauthenticate is reset instead.
        if a.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).is_err() {
            drop(a);
            run.bench
                .reset_from_elsewhere()
                .map_err(|c| Verdict::skip(format!("the card could not be reset ({c})")))?;
        }
    }
    let b = new_context(run)?;
    let rsa = matches!(spec, keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE);
    let (alg, len) =
        if rsa { (minidriver::abi::crypt::CALG_SHA_256, 32) } else { (0, if bits == 384 { 48 } else { 32 }) };
    let signed = b.sign_data(index, spec, alg, 0, &vec![0x5A; len], None);
    run.expect(
        &format!("CardSignData(container {index}) in a new context, no PIN given"),
        super::code_of(&signed),
        &[SECURITY],
    )?;
    Ok(Verdict::pass(format!("container {index} does not sign without the PIN")))
}

fn threads(run: &mut Run<'_>) -> Checked {
    const THREADS: usize = 4;
    const READS: usize = 25;
    let csp = run.main()?;
    let cardcf =
        csp.read_file(None, "cardcf").map_err(|c| Verdict::fail(format!("CardReadFile(cardcf) returned {c}")))?;
    let cmap = csp
        .read_file(Some("mscp"), "cmapfile")
        .map_err(|c| Verdict::fail(format!("CardReadFile(cmapfile) returned {c}")))?;
    let shared = Shared(csp.card_data());
    let wrong = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (shared, wrong, cardcf, cmap) = (&shared, &wrong, &cardcf, &cmap);
            s.spawn(move || {
                for i in 0..READS {
                    let ok = if (i + t) % 2 == 0 {
                        shared.0.read_file(None, "cardcf").is_ok_and(|v| v == *cardcf)
                    } else {
                        shared.0.read_file(Some("mscp"), "cmapfile").is_ok_and(|v| v == *cmap)
                    };
                    if !ok {
                        wrong.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let wrong = wrong.load(Ordering::SeqCst);
    ensure(wrong == 0, || format!("{wrong} of {} reads failed or differed", THREADS * READS))?;
    Ok(Verdict::pass(format!("{THREADS} threads x {READS} reads, all consistent")))
}

fn handles(run: &mut Run<'_>) -> Checked {
    let mut csp = new_context(run)?;
    let _ = csp.read_file(None, "cardid");
    let got = super::code_of(&csp.card_data_mut().delete_context());
    run.expect("CardDeleteContext", got, &[0])?;
    let alive = csp.pcsc().map(|c| card_edges::transport::Transport::atr(c).is_ok());
    ensure(alive == Some(true), || {
        "the CSP's connection no longer answers SCardStatus after CardDeleteContext".to_owned()
    })?;
    Ok(Verdict::pass("SCardStatus still answers on the CSP's handle"))
}

fn swap(run: &mut Run<'_>) -> Checked {
    let mut csp = new_context(run)?;
    let _ = csp.read_file(None, "cardid");
    let reader = csp.pcsc().map(|c| c.reader().to_owned()).ok_or_else(|| Verdict::skip("no PC/SC connection"))?;
    // pcsc-lite makes SCardConnect wait while another handle holds a transaction.
    hold_transaction(&mut csp, false);
    let mut fresh = card_edges::transport::pcsc::PcscCard::connect(&reader)
        .map_err(|e| Verdict::skip(format!("a second connection: {e}")))?;
    card_edges::transport::Transport::begin_transaction(&mut fresh)
        .map_err(|e| Verdict::skip(format!("a transaction: {e}")))?;
    let (ctx, handle) = fresh.raw_handles();
    csp.card_data_mut().set_handles(ctx, handle);
    // The old connection goes away: the driver must use the new handles.
    if let Some(old) = csp.pcsc() {
        drop(std::mem::replace(old, fresh));
    }
    let got = csp.read_file(Some("mscp"), "cmapfile");
    run.expect("CardReadFile(mscp/cmapfile) on the new handles", super::code_of(&got), &[0])?;
    Ok(Verdict::pass("followed"))
}
