//! The C door: `CardAcquireContext` and every function of the `CARD_DATA` table.
//!
//! Rules kept here, and only here:
//! - every export runs inside [`entry`]: a panic becomes `SCARD_E_UNEXPECTED`, never an unwind
//!   into the CSP (LSASS, LogonUI); every `Err` becomes its code through [`Error::code`];
//! - `CARD_DATA` is never borrowed as a Rust reference: a CSP built against an older header may
//!   have allocated only the fields of its version, so fields are read through raw pointers and
//!   those past the negotiated version's extent are never touched;
//! - outputs are written only on success, and buffers handed to the CSP come from `pfnCspAlloc`;
//! - calls on one context are serialised by its mutex; contexts live in a registry keyed by the
//!   id stored in `pvVendorSpecific`, so a call racing `CardDeleteContext` finds no context
//!   instead of freed memory;
//! - a call on a context from inside a CSP callback the driver makes while serving a call on
//!   that same context (`pfnCspGetDHAgreement`, `pfnCspCache*`, the allocator) is refused with
//!   `SCARD_E_SHARING_VIOLATION` instead of waiting forever for its own lock.
#![allow(unsafe_code)]

mod acquire;
mod auth;
mod containers;
mod crypto;
mod files;
mod props;
mod ski;
mod util;

pub use acquire::{CardAcquireContext, acquire_with_transport};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use windows_sys::Win32::Security::Cryptography::CARD_DATA;

use card_edges::TransportError;

use crate::abi::code;
use crate::context::Context;
use crate::error::{Error, Result};
use util::Csp;

/// Marks a `pvVendorSpecific` block as ours ("MDRSCTX" + version 1).
const VENDOR_MAGIC: u64 = 0x4D44_5253_4354_5801;

/// What `pvVendorSpecific` points to (allocated with `pfnCspAlloc`).
#[repr(C)]
struct VendorBlock {
    magic: u64,
    id: u64,
}

type SharedContext = Arc<Mutex<Context>>;

fn registry() -> MutexGuard<'static, BTreeMap<u64, SharedContext>> {
    static REGISTRY: Mutex<BTreeMap<u64, SharedContext>> = Mutex::new(BTreeMap::new());
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn register(context: Context) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    registry().insert(id, Arc::new(Mutex::new(context)));
    id
}

/// The number of live contexts (tests assert contexts are freed).
pub fn live_contexts() -> usize {
    registry().len()
}

/// The context `pCardData` belongs to.
///
/// # Safety
/// `cd` must point to a `CARD_DATA` of at least version 4 extent.
unsafe fn context_of(cd: *const CARD_DATA) -> Result<SharedContext> {
    // SAFETY: the caller guarantees `cd` is valid for the v4 fields; pvVendorSpecific is one.
    let block = unsafe { (&raw const (*cd).pvVendorSpecific).read() }.cast::<VendorBlock>();
    if block.is_null() || !block.is_aligned() {
        return Err(Error::InvalidParameter("context not acquired or already deleted"));
    }
    // SAFETY: a non-NULL pvVendorSpecific of a context we acquired points to our VendorBlock,
    // allocated with pfnCspAlloc and freed only by CardDeleteContext (which clears the field).
    let VendorBlock { magic, id } = unsafe { block.read() };
    if magic != VENDOR_MAGIC {
        return Err(Error::InvalidParameter("pvVendorSpecific is not this driver's context"));
    }
    registry().get(&id).cloned().ok_or(Error::InvalidParameter("context already deleted"))
}

thread_local! {
    /// The contexts whose lock this thread holds (inside an entry point, possibly in a CSP
    /// callback the driver is making): a second entry on one of them would wait for itself.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// This thread's hold on a context, recorded for as long as the entry point runs (a panic
/// unwinding out of the body drops it too).
struct Held(usize);

impl Held {
    /// Records the hold, or refuses a re-entrant call on a context this thread already holds.
    fn take(shared: &SharedContext) -> Result<Self> {
        let key = Arc::as_ptr(shared) as usize;
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if held.contains(&key) {
                return Err(Error::Transport(TransportError::SharingViolation));
            }
            held.push(key);
            Ok(Self(key))
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = HELD.try_with(|held| held.borrow_mut().retain(|k| *k != self.0));
    }
}

fn lock(shared: &SharedContext) -> MutexGuard<'_, Context> {
    match shared.lock() {
        Ok(g) => g,
        Err(poisoned) => {
            // A panic left the context mid-call: start over with the card.
            let mut g = poisoned.into_inner();
            g.card_lost();
            shared.clear_poison();
            g
        }
    }
}

/// Runs one entry point: panic boundary, context lookup and lock, handle rebinding, tracing
/// span with the APDUs spent, error-to-code mapping.
fn entry(name: &'static str, cd: *const CARD_DATA, body: impl FnOnce(&mut Context, &Csp) -> Result<()>) -> u32 {
    let run = AssertUnwindSafe(|| -> Result<()> {
        if cd.is_null() {
            return Err(Error::InvalidParameter("pCardData is NULL"));
        }
        // SAFETY: `cd` is non-NULL and, per the minidriver contract, the CARD_DATA this driver
        // filled in CardAcquireContext (so at least of version-4 extent).
        let shared = unsafe { context_of(cd)? };
        let _held = Held::take(&shared)?;
        let mut ctx = lock(&shared);
        // SAFETY: as above; the callbacks read are v4 fields, the v5/v7 ones only per version.
        let csp = unsafe { Csp::read(cd, ctx.version())? };
        ctx.rebind(csp.context_handle, csp.card_handle);
        let span = tracing::debug_span!("minidriver", entry = name, edge = ctx.edge_name());
        let _guard = span.enter();
        let before = ctx.counters();
        let result = body(&mut ctx, &csp);
        let spent = ctx.counters().since(before);
        match &result {
            Ok(()) => tracing::debug!(apdus = spent.apdus, bytes = spent.bytes(), "ok"),
            Err(e) => {
                tracing::debug!(apdus = spent.apdus, bytes = spent.bytes(), code = format_args!("{:#010X}", e.code()), error = %e, "failed");
                ctx.observe(e);
            }
        }
        result
    });
    match catch_unwind(run) {
        Ok(Ok(())) => code::SUCCESS,
        Ok(Err(e)) => e.code(),
        Err(_) => code::SCARD_E_UNEXPECTED,
    }
}
