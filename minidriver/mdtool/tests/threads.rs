//! Threads (issue "Reliability and safety as tests that run in CI"): 8 threads x 1000
//! operations on one card, both ways the Smart Card Minidriver Specification v7 allows a CSP to
//! use contexts from threads (§2: a context is used by one thread at a time, or the CSP shares
//! it and the minidriver serialises the calls): each thread with its own context over its own
//! connection, and 8 threads sharing 2 contexts. Every signature verifies, nothing deadlocks (a
//! watchdog bounds each run), nothing leaks. And a CSP callback that calls back into the context
//! it was called for gets an error, not a deadlock.
//!
//! The test plays the Base CSP's PC/SC transactions: each call runs inside a transaction on its
//! context's connection, which excludes the other connections to the card and not the threads
//! sharing that connection (PC/SC transactions are per card handle).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests: a failure is a panic with the code"
)]

mod support;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use card_edges::key::PublicKey;
use card_sim::{GidsSim, KeyAlgorithm, PivSim};
use mdtool::csp::{AcquireOptions, Csp, CspCache, Driver, Target, live_allocations, raw};
use minidriver::abi::{crypt, keyspec, pin};
use sha2::{Digest, Sha256};
use support::Sim;

const THREADS: usize = 8;
const OPS: usize = 1000;
/// One operation in this many is a signature; the others read `cardcf` or `cmapfile`.
const SIGN_EVERY: usize = 25;
/// The watchdog's bound for one run of 8000 operations.
const BOUND: Duration = Duration::from_secs(120);

/// A PC/SC transaction per connection: held by one connection at a time, re-entered by the
/// threads sharing that connection.
#[derive(Debug, Default)]
struct Transactions {
    state: Mutex<(Option<usize>, usize)>,
    free: Condvar,
}

impl Transactions {
    fn begin(&self, connection: usize) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while s.0.is_some_and(|owner| owner != connection) {
            s = self.free.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        *s = (Some(connection), s.1 + 1);
    }

    fn end(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.1 -= 1;
        if s.1 == 0 {
            s.0 = None;
            self.free.notify_all();
        }
    }
}

/// What every reader of the card must see, and the key to check signatures with.
struct Expected {
    cardcf: Vec<u8>,
    cmapfile: Vec<u8>,
    /// The signing container, its key spec and its certificate's key.
    index: u8,
    spec: u32,
    key: PublicKey,
}

fn expected(sim: &Sim, csp: &Csp) -> Expected {
    let (index, spec, file) = match sim {
        Sim::Piv(_) => (3, keyspec::AT_ECDSA_P256, "ksc03"),
        Sim::Gids(_) => (0, keyspec::AT_KEYEXCHANGE, "kxc00"),
    };
    let stored = csp.read_file(Some("mscp"), file).unwrap();
    let der = match sim {
        Sim::Piv(_) => stored,
        Sim::Gids(_) => card_sim::gids::decompress_certificate(&stored).unwrap(),
    };
    Expected {
        cardcf: csp.read_file(None, "cardcf").unwrap(),
        cmapfile: csp.read_file(Some("mscp"), "cmapfile").unwrap(),
        index,
        spec,
        key: support::cert_key(&der).unwrap(),
    }
}

/// Operation `i` of a thread on `csp`: a read compared with what the card holds, or a
/// signature checked with the certificate's key.
fn operation(csp: &mdtool::csp::CardData, e: &Expected, thread: usize, i: usize) {
    match i % SIGN_EVERY {
        0 => {
            let hash = Sha256::digest(format!("thread {thread} op {i}")).to_vec();
            let alg = if e.key.algorithm().is_rsa() { crypt::CALG_SHA_256 } else { 0 };
            let sig = csp.sign_data(e.index, e.spec, alg, 0, &hash, None).unwrap();
            assert!(support::signature_verifies(&e.key, &hash, &sig), "thread {thread} op {i}: a bad signature");
        }
        n if n % 2 == 0 => assert_eq!(csp.read_file(None, "cardcf").unwrap(), e.cardcf, "thread {thread} op {i}"),
        _ => assert_eq!(csp.read_file(Some("mscp"), "cmapfile").unwrap(), e.cmapfile, "thread {thread} op {i}"),
    }
}

fn open(sim: &Sim, slot: &card_edges::transport::memory::CardSlot, cache: &Arc<Mutex<CspCache>>) -> Csp {
    let csp = support::acquire(sim, slot.connect().unwrap(), cache).unwrap();
    if matches!(sim, Sim::Gids(_)) {
        csp.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
    }
    csp
}

/// Runs `run` on another thread and fails if it does not end within [`BOUND`].
fn watched(what: &str, run: impl FnOnce() + Send + 'static) -> Duration {
    let started = Instant::now();
    let (done, finished) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            run();
            let _ = done.send(());
        })
        .unwrap();
    match finished.recv_timeout(BOUND) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            panic!("{what}: a thread failed");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no end after {BOUND:?}: deadlock"),
    }
    started.elapsed()
}

/// 8 threads, each with its own context on its own connection.
fn own_contexts(sim: Sim) {
    let slot = sim.slot();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let txn = Arc::new(Transactions::default());
    let e = Arc::new({
        let csp = open(&sim, &slot, &cache);
        expected(&sim, &csp)
    });
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (sim, slot, cache, txn, e) = (&sim, &slot, &cache, &txn, &e);
            s.spawn(move || {
                txn.begin(t);
                let csp = open(sim, slot, cache);
                txn.end();
                for i in 0..OPS {
                    txn.begin(t);
                    operation(&csp, e, t, i);
                    txn.end();
                }
                txn.begin(t);
                drop(csp);
                txn.end();
            });
        }
    });
}

/// 8 threads sharing 2 contexts (4 each), each context on its own connection.
fn shared_contexts(sim: Sim) {
    let slot = sim.slot();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let txn = Arc::new(Transactions::default());
    let contexts = [open(&sim, &slot, &cache), open(&sim, &slot, &cache)];
    let e = expected(&sim, &contexts[0]);
    let shared = [raw::Shared(contexts[0].card_data()), raw::Shared(contexts[1].card_data())];
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (shared, txn, e) = (&shared, &txn, &e);
            s.spawn(move || {
                let c = t % 2;
                for i in 0..OPS {
                    txn.begin(c);
                    operation(shared[c].0, e, t, i);
                    txn.end();
                }
            });
        }
    });
    drop(contexts);
}

fn piv() -> Sim {
    Sim::Piv(PivSim::default_card().unwrap())
}

fn gids() -> Sim {
    Sim::Gids(GidsSim::default_card().unwrap())
}

#[test]
fn eight_threads_a_thousand_operations_each_on_one_card() {
    let _g = support::serial();
    let live = live_allocations();
    let panics = support::panics();
    type Card = (&'static str, fn() -> Sim);
    let cards: [Card; 2] = [("PIV", piv), ("GIDS", gids)];
    for (name, card) in cards {
        let took = watched(&format!("{name} own contexts"), move || own_contexts(card()));
        eprintln!("{name}: {THREADS} threads x {OPS} operations, a context each: {took:.1?}");
        let took = watched(&format!("{name} shared contexts"), move || shared_contexts(card()));
        eprintln!("{name}: {THREADS} threads x {OPS} operations over 2 shared contexts: {took:.1?}");
    }
    assert_eq!(live_allocations(), live, "nothing leaked");
    assert_eq!(support::panics(), panics, "no panic inside the driver");
    assert_eq!(minidriver::ffi::live_contexts(), 0, "every context deleted");
}

/// A callback the driver makes while it serves a call (`pfnCspGetDHAgreement` during
/// `CardDeriveKey`, `pfnCspCacheLookupFile` during a container read) that calls back into the
/// same context gets `SCARD_E_SHARING_VIOLATION` at once; the outer call completes.
#[test]
fn a_callback_calling_back_into_its_context_gets_an_error_not_a_deadlock() {
    let _g = support::serial();
    let live = live_allocations();
    let took = watched("re-entrant callbacks", || {
        // pfnCspGetDHAgreement, from CardDeriveKey with a KDF_NCRYPT_SECRET_HANDLE parameter.
        let sim = PivSim::builder(b"threads-ecdh").generate(0x9D, KeyAlgorithm::EccP256).build().unwrap();
        let card = card_edges::transport::memory::MemoryCard::new(sim.clone());
        let options = AcquireOptions { tamper: Some(raw::with_reentrant_dh), ..AcquireOptions::default() };
        let csp = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(card)), &options).unwrap();
        csp.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
        let spki = sim.public_key(0x9D).unwrap();
        let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
        let ours = p256::SecretKey::from_slice(&[0x33; 32]).unwrap();
        let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
        let mut blob = crypt::ECDH_PUBLIC_P256_MAGIC.to_le_bytes().to_vec();
        blob.extend_from_slice(&32u32.to_le_bytes());
        blob.extend_from_slice(&point.as_bytes()[1..]);
        let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine()).raw_secret_bytes().to_vec();
        let agreement = csp.construct_dh_agreement(2, &blob).unwrap();
        assert_eq!(agreement, 0);
        raw::REENTRY.store(u32::MAX, Ordering::SeqCst);
        let raw = csp.derive_key(255, "TRUNCATE", &[(6, vec![1])], 0, 32).unwrap();
        assert_eq!(support::le(raw), z, "the outer call completes");
        assert_eq!(raw::REENTRY.load(Ordering::SeqCst), 0x8010_000B, "the re-entrant call is refused");
        assert_eq!(csp.read_file(None, "cardid").unwrap(), sim.guid().unwrap(), "the context still works");
        drop(csp);

        // pfnCspCacheLookupFile, from the first container read.
        let gids = GidsSim::default_card().unwrap();
        let card = card_edges::transport::memory::MemoryCard::new(gids);
        let options = AcquireOptions {
            tamper: Some(raw::with_reentrant_cache),
            card_name: "Identity Device (Microsoft Generic Profile)".into(),
            ..AcquireOptions::default()
        };
        let csp = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(card)), &options).unwrap();
        raw::REENTRY.store(u32::MAX, Ordering::SeqCst);
        csp.container_info(0).unwrap();
        assert_eq!(raw::REENTRY.load(Ordering::SeqCst), 0x8010_000B, "the re-entrant call is refused");
        assert_eq!(csp.read_file(None, "cardcf").unwrap().len(), 6, "the context still works");
        drop(csp);
    });
    eprintln!("re-entrant callbacks: {took:.1?}");
    assert_eq!(live_allocations(), live);
}
