//! Signs a message with a card key through the RustCrypto `signature::Signer` trait.
//!
//! `cargo run -p minidriver --example sign -- --sim` uses the simulated PIV card (and its
//! published PIN); `cargo run -p minidriver --example sign -- READER` uses the card in that
//! reader, with the PIN from `MDTOOL_PIN` (required: a real card never gets a default PIN).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "example")]

use minidriver::Card;
use signature::Signer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (card, pin) = match std::env::args().nth(1).as_deref() {
        Some("--sim") => {
            let sim = card_sim::PivSim::default_card()?;
            (Card::with_transport(card_edges::transport::memory::MemoryCard::new(sim))?, "123456".to_owned())
        }
        Some(reader) => {
            let pin = std::env::var("MDTOOL_PIN").map_err(|_| "set MDTOOL_PIN to the card's PIN")?;
            (Card::open(Some(reader))?, pin)
        }
        None => return Err("usage: sign --sim | sign READER (PIN in MDTOOL_PIN)".into()),
    };
    card.verify_pin(pin.as_bytes())?;
    for c in card.containers()? {
        println!("container {} ({:?}, {:?}): {}", c.index, c.public_key.algorithm(), c.role, c.name);
    }
    let key = card.key(0)?;
    let signature: rsa::pkcs1v15::Signature = key.try_sign(b"hello from a card")?;
    println!("RSA PKCS#1 v1.5 signature: {signature}");
    println!("{} APDUs", card.counters().apdus);
    Ok(())
}
