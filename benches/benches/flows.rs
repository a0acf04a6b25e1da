//! Host CPU per user-visible flow, the card's own work left out: each flow is recorded once
//! against a simulated card, then replayed from the recording (a scripted card answering the
//! recorded responses), so what is measured is the driver: the C door, the context, the edge,
//! APDU encoding and parsing, the certificate and key handling, and the checks of the card's
//! results (signature verification, re-encryption), not the simulator's RSA. Goal: well under
//! 1 ms per flow. `cargo bench -p md-benches --bench flows`.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "benchmark setup on fixed inputs")]

use std::hint::black_box;

use card_edges::transport::memory::{MemoryCard, ScriptedCard, VirtualCard};
use card_edges::transport::{Exchange, Recording, Transport};
use card_sim::PivSim;
use card_sim::gids::GidsSim;
use criterion::{Criterion, criterion_group, criterion_main};
use mdtool::csp::{AcquireOptions, Csp, CspCache, Driver, Target, session};
use minidriver::abi::{crypt, keyspec, pin};

/// A flow through the function table, on a context over `transport`.
type Flow = fn(&Csp);
/// A card's ATR and a flow's recorded exchanges with it.
type Recorded = (Vec<u8>, Vec<Exchange>);

fn listing(csp: &Csp) {
    black_box(session::list(csp).unwrap());
}

fn pin_and_sign(csp: &Csp) {
    csp.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
    black_box(csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &[0x5A; 32], None).unwrap());
}

fn acquire(transport: impl Transport + Send + 'static) -> Csp {
    let options = AcquireOptions {
        cache: Some(std::sync::Arc::new(std::sync::Mutex::new(CspCache::default()))),
        ..AcquireOptions::default()
    };
    Csp::acquire(&Driver::linked(), Target::Transport(Box::new(transport)), &options).unwrap()
}

/// Runs `flow` on a fresh context over `card` and returns what the card was sent and answered.
fn record(card: impl VirtualCard + Clone + 'static, flow: Flow) -> Recorded {
    let atr = card.atr();
    // A first run lets the process learn the card (the dispatch's ATR hint), as every later
    // run then sees it.
    flow(&acquire(MemoryCard::new(card.clone())));
    let recording = Recording::new(MemoryCard::new(card));
    let log = recording.log();
    flow(&acquire(recording));
    let exchanges = log.lock().unwrap().clone();
    (atr, exchanges)
}

fn replay(atr: &[u8], exchanges: &[Exchange]) -> MemoryCard {
    let script: Vec<(&[u8], &[u8])> =
        exchanges.iter().map(|e| (e.command.as_slice(), e.response.as_deref().unwrap_or_default())).collect();
    MemoryCard::new(ScriptedCard::new(atr, &script))
}

fn bench_flows(c: &mut Criterion) {
    let piv = PivSim::default_card().unwrap();
    let gids = GidsSim::default_card().unwrap();
    let cases: [(&str, Recorded, Flow); 4] = [
        ("PIV cold listing (4 certificates)", record(piv.clone(), listing), listing),
        ("PIV PIN + RSA-2048 sign", record(piv, pin_and_sign), pin_and_sign),
        ("GIDS cold listing (2 certificates)", record(gids.clone(), listing), listing),
        ("GIDS PIN + RSA-2048 sign", record(gids, pin_and_sign), pin_and_sign),
    ];
    let mut group = c.benchmark_group("flow, card work excluded");
    for (name, (atr, exchanges), flow) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| flow(&acquire(replay(atr, exchanges))));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_flows);
criterion_main!(benches);
