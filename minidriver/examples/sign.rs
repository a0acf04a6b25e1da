//! Signs a message with a card key through the RustCrypto `signature::Signer` trait.
//!
//! `cargo run -p minidriver --example sign --features sim` uses the embedded simulated card;
//! with a reader name as argument it uses that reader's card (PIN from `MDTOOL_PIN`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "example")]

use minidriver::Card;
use signature::Signer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let card = match std::env::args().nth(1) {
        Some(reader) => Card::open(Some(&reader))?,
        None => simulated()?,
    };
    let pin = std::env::var("MDTOOL_PIN").unwrap_or_else(|_| "123456".into());
    card.verify_pin(pin.as_bytes())?;
    for c in card.containers()? {
        println!("container {} ({:?}, {:?}): {}", c.index, c.public_key.algorithm, c.role, c.name);
    }
    let key = card.key(0)?;
    let signature: rsa::pkcs1v15::Signature = key.try_sign(b"hello from a card")?;
    println!("RSA PKCS#1 v1.5 signature: {signature}");
    println!("{} APDUs", card.counters().apdus);
    Ok(())
}

#[cfg(feature = "sim")]
fn simulated() -> Result<Card, Box<dyn std::error::Error>> {
    let sim = card_edges::sim::PivSim::default_card()?;
    Ok(Card::with_transport(card_edges::transport::memory::MemoryCard::new(sim))?)
}

#[cfg(not(feature = "sim"))]
fn simulated() -> Result<Card, Box<dyn std::error::Error>> {
    Err("no reader given and the `sim` feature is off".into())
}
