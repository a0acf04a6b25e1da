//! `cardcf` and the CSP's data cache (§3.2.2, §4.3.3, §5.4.3): no cache callback for `cardid`
//! and `cardcf` nor from `CardAcquireContext`, the callbacks used with valid arguments, the
//! buffers they return freed, a second context on an unchanged card that sees what the first
//! saw, and (with `--destructive`) a `cardcf` the CSP writes read back as written.

use std::sync::{Arc, Mutex, PoisonError};

use minidriver::abi::pin;

use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::word;
use crate::csp::session::list;
use crate::csp::{AcquireOptions, CspCache, cache_misuse, live_allocations};

pub(crate) const CHECKS: &[Check] = &[
    check(
        "cache.no_callbacks_for_cardid_cardcf",
        94,
        "no cache callback in CardAcquireContext or cardid/cardcf reads",
        quiet,
    ),
    check("cache.second_context", 155, "a second context on the unchanged card sees the same card", second),
    check("cache.lookup_buffers_freed", 41, "the buffers of cache lookups are freed with pfnCspFree", lookups_freed),
    check("cache.callbacks_used_correctly", 158, "the cache callbacks get dwFlags 0 and valid pointers", misuse),
    check("cache.cardcf_written", 154, "a cardcf the CSP writes is read back as written", cardcf_written)
        .pin()
        .destructive(),
];

fn counts(cache: &Arc<Mutex<CspCache>>) -> (u64, u64, u64) {
    let c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    (c.lookups, c.hits, c.calls())
}

fn with_cache(run: &Run<'_>, cache: &Arc<Mutex<CspCache>>) -> AcquireOptions {
    AcquireOptions { cache: Some(cache.clone()), ..run.bench.options() }
}

fn quiet(run: &mut Run<'_>) -> Checked {
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = with_cache(run, &cache);
    let csp = run.acquire(&options);
    run.expect("CardAcquireContext", super::code_of(&csp), &[0])?;
    let Ok(csp) = csp else { return Err(Verdict::fail("no context")) };
    let (_, _, at_acquire) = counts(&cache);
    ensure(at_acquire == 0, || format!("CardAcquireContext made {at_acquire} cache callback calls"))?;
    for _ in 0..2 {
        let id = csp.read_file(None, "cardid");
        let cf = csp.read_file(None, "cardcf");
        run.expect("CardReadFile(cardid)", super::code_of(&id), &[0])?;
        run.expect("CardReadFile(cardcf)", super::code_of(&cf), &[0])?;
    }
    let (_, _, after) = counts(&cache);
    ensure(after == 0, || format!("reading cardid and cardcf made {after} cache callback calls"))?;
    Ok(Verdict::pass("none"))
}

fn second(run: &mut Run<'_>) -> Checked {
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = with_cache(run, &cache);
    let first = {
        let csp = run.acquire(&options).map_err(|c| Verdict::fail(format!("CardAcquireContext returned {c}")))?;
        list(&csp).map_err(|e| Verdict::fail(format!("the first context: {e}")))?
    };
    let (lookups, hits, _) = counts(&cache);
    let csp =
        run.acquire(&options).map_err(|c| Verdict::fail(format!("the second CardAcquireContext returned {c}")))?;
    let again = list(&csp).map_err(|e| Verdict::fail(format!("the second context: {e}")))?;
    let (lookups2, hits2, _) = counts(&cache);
    ensure(format!("{first:?}") == format!("{again:?}"), || {
        "the second context lists the card differently".to_owned()
    })?;
    Ok(Verdict::pass(format!(
        "the same cardcf, cardid, containers and certificates; cache lookups {} then {}, hits {} then {}",
        lookups,
        lookups2 - lookups,
        hits,
        hits2 - hits
    )))
}

fn lookups_freed(run: &mut Run<'_>) -> Checked {
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = with_cache(run, &cache);
    {
        let csp = run.acquire(&options).map_err(|c| Verdict::fail(format!("CardAcquireContext returned {c}")))?;
        list(&csp).map_err(|e| Verdict::fail(format!("listing: {e}")))?;
    }
    let live = live_allocations();
    let (_, hits_before, _) = counts(&cache);
    {
        let csp = run.acquire(&options).map_err(|c| Verdict::fail(format!("CardAcquireContext returned {c}")))?;
        list(&csp).map_err(|e| Verdict::fail(format!("listing: {e}")))?;
    }
    let (_, hits, _) = counts(&cache);
    let now = live_allocations();
    if hits == hits_before {
        return Err(Verdict::skip("the driver made no cache lookup that hit (it need not use the cache)"));
    }
    ensure(now == live, || {
        format!(
            "{} pfnCspAlloc blocks outlived the context after {} cache hits",
            now.abs_diff(live),
            hits - hits_before
        )
    })?;
    Ok(Verdict::pass(format!("{} hits, every buffer freed", hits - hits_before)))
}

fn misuse(run: &mut Run<'_>) -> Checked {
    let refused = cache_misuse();
    let _ = run.main()?;
    ensure(refused == 0, || format!("{refused} cache callback calls with nonzero dwFlags or NULL pointers so far"))?;
    Ok(Verdict::pass("every call so far was well formed"))
}

fn cardcf_written(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let cf = csp.read_file(None, "cardcf");
    let mut cf = cf.map_err(|c| Verdict::fail(format!("CardReadFile(cardcf) returned {c}")))?;
    if cf.len() < 6 {
        return Err(Verdict::skip("cardcf is not 6 bytes (files.cardcf)"));
    }
    if let Err((c, _)) = csp.authenticate_ex(pin::ROLE_USER, 0, &value) {
        return Err(Verdict::fail(format!("CardAuthenticateEx(ROLE_USER) returned {c}")));
    }
    // As the CSP does before changing a file: wFilesFreshness + 1 (little-endian, bytes 4 and 5).
    let counter = cf.get_mut(4..6).ok_or_else(|| Verdict::skip("cardcf is short"))?;
    let files = word(counter).unwrap_or(0).wrapping_add(1).to_le_bytes();
    counter.copy_from_slice(&files);
    let csp = run.main()?;
    let written = csp.write_file(None, "cardcf", &cf);
    let back = csp.read_file(None, "cardcf").unwrap_or_default();
    run.expect("CardWriteFile(cardcf)", super::code_of(&written), &[0])?;
    ensure(back == cf, || format!("wrote {}, read back {}", hex::encode_upper(&cf), hex::encode_upper(&back)))?;
    Ok(Verdict::pass(format!("files counter now {}", u16::from_le_bytes(files))))
}
