//! What the reliability tests (`faults.rs`, `threads.rs`) share: simulated cards behind an
//! in-memory reader, the CSP stand-in acquired through `CardAcquireContext`, a panic counter,
//! and the checks that turn an output of the function table into a verdict (a signature
//! verified with the certificate's key, a decryption compared with its plaintext).
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use card_edges::crypto::{self, HashAlg};
use card_edges::key::{KeyAlgorithm, PublicKey};
use card_edges::transport::Transport;
use card_edges::transport::memory::{CardSlot, MemoryCard};
use card_sim::{GidsSim, PivSim};
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use mdtool::csp::{AcquireOptions, Code, Csp, CspCache, Driver, Target};

/// The administrator key of both default cards (PIV `9B` management key, GIDS `B080`).
pub const ADMIN_KEY: [u8; 24] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03,
    0x04, 0x05, 0x06, 0x07, 0x08,
];

/// Serialises the tests of one binary: allocation counters, the panic counter and the context
/// registry are process-wide.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Panics seen anywhere in the process (each is still printed): the driver turns a panic into
/// `SCARD_E_UNEXPECTED` at its boundary, so the counting hook is the only way a test sees one.
pub fn panics() -> usize {
    mdtool::fuzzing::panics()
}

/// A simulated card of either edge (a handle: clones share the card).
#[derive(Clone, Debug)]
pub enum Sim {
    Piv(PivSim),
    Gids(GidsSim),
}

impl Sim {
    /// A reader slot holding this card.
    pub fn slot(&self) -> CardSlot {
        match self {
            Self::Piv(s) => CardSlot::new(s.clone()),
            Self::Gids(s) => CardSlot::new(s.clone()),
        }
    }

    /// Whether the card has the user PIN verified now.
    pub fn pin_verified(&self) -> bool {
        match self {
            Self::Piv(s) => s.pin_verified(),
            Self::Gids(s) => s.pin_verified(),
        }
    }

    /// Whether the card has the administrator authenticated now.
    pub fn admin_authenticated(&self) -> bool {
        match self {
            Self::Piv(s) => s.admin_authenticated(),
            Self::Gids(s) => s.admin_authenticated(),
        }
    }

    /// APDUs the card processed.
    pub fn apdus(&self) -> u64 {
        match self {
            Self::Piv(s) => s.counters().apdus,
            Self::Gids(s) => s.counters().apdus,
        }
    }

    /// The card name the CSP passes (`pwszCardName`).
    pub fn card_name(&self) -> &'static str {
        match self {
            Self::Piv(_) => "Identity Device (NIST SP 800-73 [PIV])",
            Self::Gids(_) => "Identity Device (Microsoft Generic Profile)",
        }
    }
}

/// A connection that, after a reset someone else caused and that was already reported to the
/// driver, reconnects before the next command (as the CSP does after `SCARD_W_RESET_CARD`).
#[derive(Debug)]
pub struct Reconnecting {
    pub card: MemoryCard,
    pub pending: Arc<AtomicBool>,
}

impl Transport for Reconnecting {
    fn transmit(&mut self, command: &[u8]) -> card_edges::Result<Vec<u8>> {
        if self.pending.swap(false, Ordering::SeqCst) {
            let _ = self.card.reconnect(false);
        }
        self.card.transmit(command)
    }

    fn atr(&mut self) -> card_edges::Result<Vec<u8>> {
        if self.pending.swap(false, Ordering::SeqCst) {
            let _ = self.card.reconnect(false);
        }
        self.card.atr()
    }
}

/// Acquire options for `sim` with a shared cache.
pub fn options(sim: &Sim, cache: &Arc<Mutex<CspCache>>) -> AcquireOptions {
    AcquireOptions { cache: Some(cache.clone()), card_name: sim.card_name().into(), ..AcquireOptions::default() }
}

/// A context over `transport`.
///
/// # Errors
/// `CardAcquireContext`'s code.
pub fn acquire(
    sim: &Sim,
    transport: impl Transport + Send + 'static,
    cache: &Arc<Mutex<CspCache>>,
) -> Result<Csp, Code> {
    Csp::acquire(&Driver::linked(), Target::Transport(Box::new(transport)), &options(sim, cache))
}

/// The response to an administrator challenge: 3DES-ECB of the 8-byte challenge with the
/// default administrator key (PIV `9B` and GIDS external authentication alike).
pub fn admin_response(challenge: &[u8]) -> Vec<u8> {
    let Ok(tdes) = des::TdesEde3::new_from_slice(&ADMIN_KEY) else { return Vec::new() };
    let Ok(mut block) = Array::try_from(challenge) else { return Vec::new() };
    tdes.encrypt_block(&mut block);
    block.to_vec()
}

/// Reverses a byte string (CAPI little-endian to big-endian and back).
pub fn le(mut v: Vec<u8>) -> Vec<u8> {
    v.reverse();
    v
}

/// The public key of a DER certificate.
pub fn cert_key(der: &[u8]) -> Option<PublicKey> {
    PublicKey::from_certificate(der).ok()
}

/// Whether `sig` (as `CardSignData` returns it: RSA little-endian, ECDSA `r || s`) is a valid
/// signature of `hash` (SHA-256) by `key`.
pub fn signature_verifies(key: &PublicKey, hash: &[u8], sig: &[u8]) -> bool {
    match key.algorithm() {
        KeyAlgorithm::Rsa { .. } => crypto::public_key_from_spki(key.spki())
            .is_ok_and(|k| crypto::verify_pkcs1(&k, Some(HashAlg::Sha256), hash, &le(sig.to_vec())).is_ok()),
        KeyAlgorithm::P256 => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let Ok(vk) = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(key.spki())
            else {
                return false;
            };
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify_prehash(hash, &s).is_ok())
        }
        _ => false,
    }
}

/// `msg` RSA-encrypted to `key` with PKCS#1 v1.5 padding (a fixed nonzero padding string),
/// little-endian as `CardRSADecrypt` takes it.
pub fn rsa_encrypt(key: &PublicKey, msg: &[u8]) -> Option<Vec<u8>> {
    let k = crypto::public_key_from_spki(key.spki()).ok()?;
    let n = crypto::modulus_len(&k);
    let mut em = vec![0x00, 0x02];
    em.extend(std::iter::repeat_n(0x5A, n.checked_sub(msg.len() + 3)?));
    em.push(0x00);
    em.extend_from_slice(msg);
    crypto::raw_public(&k, &em).ok().map(le)
}

/// Whether a `CONTAINER_INFO` blob (CAPI `PUBLICKEYBLOB` for RSA, `BCRYPT_ECCKEY_BLOB` for
/// ECC) holds the public key `spki`.
pub fn blob_is_key(blob: &[u8], spki: &[u8]) -> bool {
    let Ok(key) = PublicKey::from_spki(spki) else { return false };
    match key.algorithm() {
        KeyAlgorithm::Rsa { .. } => {
            // BLOBHEADER (8), RSAPUBKEY (magic, bitlen, pubexp LE32), modulus little-endian.
            let Ok((n, e)) = key.rsa_components() else { return false };
            let n = le(n);
            let mut pubexp = [0u8; 4];
            for (i, b) in e.iter().rev().enumerate().take(4) {
                pubexp[i] = *b;
            }
            blob.len() >= 20 + n.len()
                && blob[8..12] == *b"RSA1"
                && blob[16..20] == pubexp
                && blob[20..20 + n.len()] == n[..]
                && blob[20 + n.len()..].iter().all(|b| *b == 0)
        }
        KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
            let Ok(point) = key.ec_point() else { return false };
            blob.len() > 8 && point.len() == blob.len() - 8 + 1 && point[1..] == blob[8..]
        }
    }
}

/// A certificate for `spki` from the test-vector CA (what a host writes after generating).
pub fn certificate_for(spki: &[u8]) -> Vec<u8> {
    card_sim::test_certificate("CN=Generated by the fault matrix,O=Minidriver Tests", spki).unwrap_or_default()
}
