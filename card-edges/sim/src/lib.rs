//! Simulated cards that behave like real tokens, for tests, demos and `mdtool serve`.
//!
//! - [`piv`]: the card side of NIST SP 800-73-4 (a YubiKey-compatible PIV token): data objects,
//!   PIN/PUK, the `9B` management key, key generation and private-key operations, with factory
//!   defaults and deterministic provisioning from a seed.
//! - [`gids`]: the card side of Microsoft's GIDS v2.0 (GidsApplet-compatible): data object
//!   files with compact security attributes and life cycle, user PIN and optional PUK, the 3DES
//!   administrator key (external and mutual authentication), RSA key files with MSE/PSO,
//!   on-card generation and import; factory-new, or provisioned as Windows and OpenSC write it.
//! - [`vpcd`]: serves a [`CardSlot`](card_edges::transport::memory::CardSlot) to vsmartcard's vpcd
//!   reader driver, so that any PC/SC program (OpenSC, yubico-piv-tool, Windows-style hosts over
//!   pcsc-lite) can use the same card that in-process code reaches through
//!   [`MemoryCard`](card_edges::transport::memory::MemoryCard).
//! - [`fault`]: a transport wrapper that injects one fault (removal, reset, no answer, a
//!   corrupted answer) at a chosen APDU.
//! - [`stack`] (feature `stack`, Linux): test support that runs a private pcscd with its own
//!   vpcd reader.
//!
//! The card side is written independently of the host edges in `card-edges` (it shares only
//! the APDU decoder and the TLV codec), so that a host bug is not mirrored by the simulator.
//! Nothing here is linked into the minidriver library: it holds published test keys.

#![deny(unsafe_code)]

mod chain;
mod counters;
mod error;
pub mod fault;
pub mod gids;
pub mod piv;
mod rng;
mod rsa_key;
#[cfg(all(feature = "stack", target_os = "linux"))]
pub mod stack;
pub mod vpcd;
mod x509;

pub use x509::issue_certificate;

pub use error::{Error, Result};

pub use counters::{SimCounters, TraceEntry};
pub use gids::{ContainerKey, GidsSim, GidsSimBuilder};
pub use piv::{KeyAlgorithm, MgmtAlgorithm, PivSim, PivSimBuilder};
pub use vpcd::{VpcdServer, serve};

/// A certificate for the public key `spki_der` (DER SubjectPublicKeyInfo) with `subject` (an
/// RFC 4514 string), issued by the test-vector CA as the simulated cards' own certificates are:
/// what a host writes after generating a key on a card. Deterministic for one key.
///
/// # Errors
/// [`Error::Crypto`] for a public key or subject the certificate builder refuses.
pub fn test_certificate(subject: &str, spki_der: &[u8]) -> Result<Vec<u8>> {
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
    x509::issue(subject, spki_der, KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment))
}
