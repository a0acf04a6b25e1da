//! The specification-conformance tests: one test per checklist item (Smart Card Minidriver
//! Specification v7 MUST/SHOULD items; `minidriver/CHECKLIST.md` maps every item to its tests),
//! on both card edges the driver serves: PIV and GIDS.
//!
//! The driver is linked in and reached only through `CardAcquireContext` and the `CARD_DATA`
//! table it fills: the CSP stand-in (`mdtool::csp`) plays the Base CSP over an in-memory
//! simulated card ([`SimCard`]: a `PivSim` or a `GidsSim`), and [`ffi`] makes the calls the
//! stand-in's safe methods cannot express (NULL and hostile arguments, sentinels, a CSP
//! allocator of our own). A test written once over `S: SimCard` runs on both cards
//! (`on_both_edges`); where the edges differ by design (PIN table, administrator, write
//! simulation, ECDH, key import) a `*_gids_*` test proves the item on GIDS. Every test takes one
//! process-wide lock: allocation counters, the context registry and the test CSP's cache are
//! process-wide.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::type_complexity,
    reason = "tests: a failure is a panic with the code"
)]

mod cdylib;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use card_edges::crypto::{self, HashAlg};
use card_edges::transport::Transport;
use card_edges::transport::memory::{CardSlot, MemoryCard, ScriptedCard, VirtualCard};
use card_edges::{Error as EdgeError, TransportError};
use card_sim::{ContainerKey, GidsSim, KeyAlgorithm, PivSim, SimCounters, TraceEntry};
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use mdtool::csp::{AcquireOptions, Code, Csp, CspCache, Driver, Padding, Target, live_allocations, raw};
use minidriver::abi::{code, crypt, keyspec, misc, pin, prop};
use sha2::{Digest, Sha256};
use windows_sys::Win32::Security::Cryptography::CARD_DATA;

// ----- harness -----

/// Serialises the tests of this binary (allocation counters and the context registry are
/// process-wide).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a test needs from a simulated card, whichever card edge it speaks: its counters and
/// security state as the card itself sees them, a reset behind the driver's back, and what its
/// keys and secrets are. A test written once over `S: SimCard` runs on a [`PivSim`] and on a
/// [`GidsSim`]; what differs between the edges is a constant or method here, and the few
/// assertions only PIV can make go through [`SimCard::as_piv`].
trait SimCard: VirtualCard + Clone + 'static {
    /// The edge's name, for failure messages.
    const EDGE: &'static str;
    /// `CP_CARD_LIST_PINS` of [`SimCard::standard`].
    const LIST_PINS: u32;
    /// `CP_CARD_AUTHENTICATED_STATE` after the user PIN is verified (PIV: PIN 3 is the same PIN).
    const USER_STATE: u32;
    /// A container with an RSA-2048 key-exchange key guarded by the user PIN: signs and
    /// decrypts (PIV: 9D is the key-management key; GIDS: container 0).
    const RSA_DECRYPT: u8;
    /// A container with an RSA-2048 key guarded by the user PIN that signs (PIV: 9A).
    const RSA_SIGN: u8;
    /// `CardEnumFiles("mscp")` of [`SimCard::standard`], as the multi-string.
    const MSCP_FILES: &'static [u8];
    /// `CP_CARD_SERIAL_NO`'s length (PIV: the FASC-N; GIDS: the cardid).
    const SERIAL_LEN: usize;
    /// `CP_CARD_CAPABILITIES` as (fCertificateCompression, fKeyGen).
    const CAPABILITIES: (bool, bool);
    /// Whether the card has ECDH keys, so the table has the three DH agreement entry points
    /// (Minidriver Specification 4.7.2-4.7.4: NULL for RSA-only cards).
    const ECDH: bool;
    /// The card most tests use (`default_card`).
    fn standard() -> Self;
    /// Another card, of another identity (other cardid, other keys).
    fn other() -> Self;
    /// A card provisioned from a fixed seed: two calls give identical cards (same cardid, same
    /// keys), and its container [`SimCard::TWIN_KEY`] signs.
    fn twin() -> Self;
    /// The signing container of [`SimCard::twin`].
    const TWIN_KEY: u8;
    /// A card with a key-exchange-only and a signature-only container, for the calls that
    /// return `pfnCspAlloc` buffers (items 38, 40), which [`SimCard::OUTPUTS`] names.
    fn outputs_card() -> Self;
    /// The containers of [`SimCard::outputs_card`] (its signature key is usable once the user
    /// PIN is verified).
    const OUTPUTS: raw::Outputs;
    /// `CardEnumFiles("mscp")` of [`SimCard::outputs_card`].
    const OUTPUTS_MSCP: &'static [u8];
    /// APDUs and bytes the card processed.
    fn sim_counters(&self) -> SimCounters;
    /// Starts recording exchanges.
    fn trace_on(&self);
    /// The exchanges recorded since the last call.
    fn trace(&self) -> Vec<TraceEntry>;
    /// A reset of the card behind the driver's back (the CSP resetting through its own handle).
    fn power_cycle(&self);
    /// Whether the card has the user PIN verified.
    fn user_verified(&self) -> bool;
    /// Whether the card has the administrator authenticated.
    fn admin_proven(&self) -> bool;
    /// User PIN tries left.
    fn user_tries(&self) -> u8;
    /// The administrator's 3-key 3DES key (PIV: the 9B management key).
    fn admin_key(&self) -> [u8; 24];
    /// The card's `cardid`, as the card stores it.
    fn cardid(&self) -> [u8; 16];
    /// The SubjectPublicKeyInfo of container `index`'s key, read from the card itself.
    fn container_spki(&self, index: u8) -> Option<Vec<u8>>;
    /// What `mscp/kxcNN` / `kscNN` of container `index` must read as (PIV: the DER certificate,
    /// virtualised; GIDS: the Base CSP's compressed file, as stored on the card).
    fn certificate_file(&self, index: u8) -> Option<Vec<u8>>;
    /// The PIV card, for assertions only PIV can make.
    fn as_piv(&self) -> Option<&PivSim> {
        None
    }
}

/// PIV container index to key reference: the four standard slots, then the retired ones.
fn piv_slot(index: u8) -> u8 {
    match index {
        0 => 0x9A,
        1 => 0x9C,
        2 => 0x9D,
        3 => 0x9E,
        i => 0x82 + (i - 4),
    }
}

/// The default simulated PIV card: 9A (key exchange), 9E and 9C (signature); the signature
/// is 9E's, a key that needs no PIN.
const PIV_OUTPUTS: raw::Outputs = raw::Outputs {
    kx: Some(0),
    sig: Some(3),
    sig_property: Some(1),
    sign: Some((3, keyspec::AT_ECDSA_P256, 0)),
    challenge: true,
};

impl SimCard for PivSim {
    const EDGE: &'static str = "PIV";
    const LIST_PINS: u32 = 0x1E;
    const USER_STATE: u32 = 0x0A;
    const RSA_DECRYPT: u8 = 2;
    const RSA_SIGN: u8 = 0;
    const MSCP_FILES: &'static [u8] = b"cmapfile\0kxc00\0ksc01\0kxc02\0ksc03\0\0";
    const SERIAL_LEN: usize = 25;
    const CAPABILITIES: (bool, bool) = (true, true);
    const ECDH: bool = true;
    fn standard() -> Self {
        Self::default_card().unwrap()
    }
    fn other() -> Self {
        Self::builder(b"checklist-other").generate(0x9A, KeyAlgorithm::EccP256).build().unwrap()
    }
    fn twin() -> Self {
        Self::builder(b"checklist-twin").generate(0x9E, KeyAlgorithm::EccP256).build().unwrap()
    }
    const TWIN_KEY: u8 = 3;
    fn outputs_card() -> Self {
        Self::standard()
    }
    const OUTPUTS: raw::Outputs = PIV_OUTPUTS;
    const OUTPUTS_MSCP: &'static [u8] = Self::MSCP_FILES;
    fn sim_counters(&self) -> SimCounters {
        self.counters()
    }
    fn trace_on(&self) {
        self.set_trace(true);
    }
    fn trace(&self) -> Vec<TraceEntry> {
        self.take_trace()
    }
    fn power_cycle(&self) {
        Self::reset(self);
    }
    fn user_verified(&self) -> bool {
        self.pin_verified()
    }
    fn admin_proven(&self) -> bool {
        self.admin_authenticated()
    }
    fn user_tries(&self) -> u8 {
        self.pin_tries_left()
    }
    fn admin_key(&self) -> [u8; 24] {
        card_edges::piv::DEFAULT_MANAGEMENT_KEY
    }
    fn cardid(&self) -> [u8; 16] {
        self.guid().unwrap()
    }
    fn container_spki(&self, index: u8) -> Option<Vec<u8>> {
        self.public_key(piv_slot(index))
    }
    fn certificate_file(&self, index: u8) -> Option<Vec<u8>> {
        self.certificate(piv_slot(index))
    }
    fn as_piv(&self) -> Option<&PivSim> {
        Some(self)
    }
}

/// The GIDS administrator key of [`GidsSim::default_card`] (GIDS electrical profile default).
const GIDS_ADMIN_KEY: [u8; 24] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03,
    0x04, 0x05, 0x06, 0x07, 0x08,
];
/// GIDS: `cardid` and `cardcf` data objects (GIDS electrical profile: A012/DF20, A010/DF22).
const GIDS_CARDID: (u16, u16) = (0xA012, 0xDF20);
const GIDS_CARDCF: (u16, u16) = (0xA010, 0xDF22);
/// GIDS: container `i`'s key reference (key file `B0 || 81 + i`).
fn gids_kref(index: u8) -> u8 {
    0x81 + index
}

impl SimCard for GidsSim {
    const EDGE: &'static str = "GIDS";
    const LIST_PINS: u32 = 0x06;
    const USER_STATE: u32 = 0x02;
    const RSA_DECRYPT: u8 = 0;
    const RSA_SIGN: u8 = 0;
    const MSCP_FILES: &'static [u8] = b"cmapfile\0kxc00\0kxc01\0\0";
    const SERIAL_LEN: usize = 16;
    const CAPABILITIES: (bool, bool) = (false, true);
    const ECDH: bool = false;
    fn standard() -> Self {
        Self::default_card().unwrap()
    }
    fn other() -> Self {
        Self::builder(b"checklist-other")
            .container(ContainerKey::Fixed(test_vectors::keys::RSA_1024.to_vec()), true)
            .build()
            .unwrap()
    }
    fn twin() -> Self {
        Self::builder(b"checklist-twin")
            .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_C.to_vec()), true)
            .build()
            .unwrap()
    }
    const TWIN_KEY: u8 = 0;
    fn outputs_card() -> Self {
        Self::builder(b"checklist-outputs")
            .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_B.to_vec()), true)
            .signature_container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_C.to_vec()), true)
            .build()
            .unwrap()
    }
    const OUTPUTS: raw::Outputs = raw::Outputs {
        kx: Some(0),
        sig: Some(1),
        sig_property: Some(1),
        sign: Some((1, keyspec::AT_SIGNATURE, crypt::CALG_SHA_256)),
        challenge: true,
    };
    const OUTPUTS_MSCP: &'static [u8] = b"cmapfile\0kxc00\0ksc01\0\0";
    fn sim_counters(&self) -> SimCounters {
        self.counters()
    }
    fn trace_on(&self) {
        self.set_trace(true);
    }
    fn trace(&self) -> Vec<TraceEntry> {
        self.take_trace()
    }
    fn power_cycle(&self) {
        Self::reset(self);
    }
    fn user_verified(&self) -> bool {
        self.pin_verified()
    }
    fn admin_proven(&self) -> bool {
        self.admin_authenticated()
    }
    fn user_tries(&self) -> u8 {
        self.pin_tries_left().unwrap()
    }
    fn admin_key(&self) -> [u8; 24] {
        GIDS_ADMIN_KEY
    }
    fn cardid(&self) -> [u8; 16] {
        self.data_object(GIDS_CARDID.0, GIDS_CARDID.1).unwrap().try_into().unwrap()
    }
    fn container_spki(&self, index: u8) -> Option<Vec<u8>> {
        self.public_key(gids_kref(index))
    }
    fn certificate_file(&self, index: u8) -> Option<Vec<u8>> {
        // The compressed file whose certificate is for this container's key, wherever the
        // master file put it.
        let spki = self.container_spki(index)?;
        (0xDF21..=0xDF40).filter_map(|tag| self.data_object(0xA010, tag)).find(|file| {
            card_sim::gids::decompress_certificate(file)
                .is_some_and(|der| card_edges::key::PublicKey::from_certificate(&der).is_ok_and(|k| k.spki() == spki))
        })
    }
}

/// Runs a card-neutral test body on the PIV card and then on the GIDS card (the same body,
/// instantiated for each: `on_both_edges(body::<PivSim>, body::<GidsSim>)`).
fn on_both_edges(piv: fn(), gids: fn()) {
    run_on(PivSim::EDGE, piv);
    run_on(GidsSim::EDGE, gids);
}

/// Runs `f`, saying which edge failed if it panics.
fn run_on(edge: &str, f: impl FnOnce()) {
    struct Named<'a>(&'a str);
    impl Drop for Named<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("--- this failure is on the {} card edge ---", self.0);
            }
        }
    }
    let _named = Named(edge);
    f();
}

/// What a test can do to the card's connection behind the driver's back.
#[derive(Debug, Default)]
struct Control {
    /// The next `transmit` panics.
    panic: AtomicBool,
    /// After reporting a reset or removal, reconnect (as the CSP does before its next call).
    reconnect: AtomicBool,
    /// `begin_transaction` / `end_transaction` calls the driver made.
    begins: AtomicUsize,
    ends: AtomicUsize,
    /// The next command that starts with these bytes does not reach the card: it is answered
    /// with this status word (a card that refuses it).
    refuse: Mutex<Option<(Vec<u8>, [u8; 2])>>,
}

/// A connection to a simulated card, as the driver's transport, with [`Control`].
struct TestCard {
    card: MemoryCard,
    control: Arc<Control>,
}

impl Transport for TestCard {
    fn transmit(&mut self, command: &[u8]) -> card_edges::Result<Vec<u8>> {
        if self.control.panic.swap(false, Ordering::SeqCst) {
            panic!("the transport panics (checklist item 6)");
        }
        {
            let mut refuse = self.control.refuse.lock().unwrap();
            if let Some((prefix, sw)) = refuse.as_ref()
                && command.starts_with(prefix)
            {
                let sw = sw.to_vec();
                *refuse = None;
                return Ok(sw);
            }
        }
        match self.card.transmit(command) {
            Err(e @ EdgeError::Transport(TransportError::ResetCard | TransportError::RemovedCard))
                if self.control.reconnect.load(Ordering::SeqCst) =>
            {
                let _ = self.card.reconnect(false);
                Err(e)
            }
            other => other,
        }
    }

    fn atr(&mut self) -> card_edges::Result<Vec<u8>> {
        self.card.atr()
    }

    fn begin_transaction(&mut self) -> card_edges::Result<()> {
        self.control.begins.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn end_transaction(&mut self) -> card_edges::Result<()> {
        self.control.ends.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// One acquired context over a simulated card.
struct Ctx<S: SimCard = PivSim> {
    csp: Csp,
    sim: S,
    slot: CardSlot,
    control: Arc<Control>,
}

impl<S: SimCard> Ctx<S> {
    fn cd(&self) -> &CARD_DATA {
        self.csp.raw()
    }

    fn apdus(&self) -> u64 {
        self.sim.sim_counters().apdus
    }

    fn auth_state(&self) -> u32 {
        dword(&self.csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap())
    }

    fn user(&self) {
        self.csp.authenticate_pin("user", b"123456").unwrap();
    }

    fn admin(&self) {
        admin_login_with(&self.csp, &self.sim.admin_key());
    }

    /// The administrator's response to `challenge`.
    fn response(&self, challenge: &[u8]) -> Vec<u8> {
        response_with(&self.sim.admin_key(), challenge)
    }

    /// Container `index`'s RSA public key, from the card.
    fn rsa(&self, index: u8) -> rsa::RsaPublicKey {
        crypto::public_key_from_spki(&self.sim.container_spki(index).unwrap()).unwrap()
    }

    /// A second context on the same card (another connection to the slot).
    fn another(&self, options: &AcquireOptions) -> Self {
        let control = Arc::new(Control::default());
        let card = TestCard { card: self.slot.connect().unwrap(), control: control.clone() };
        let csp = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(card)), options).unwrap();
        Self { csp, sim: self.sim.clone(), slot: self.slot.clone(), control }
    }
}

fn open_with<S: SimCard>(sim: S, options: &AcquireOptions) -> Result<Ctx<S>, Code> {
    let card = MemoryCard::new(sim.clone());
    let slot = card.slot().clone();
    let control = Arc::new(Control::default());
    let transport = TestCard { card, control: control.clone() };
    let csp = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(transport)), options)?;
    Ok(Ctx { csp, sim, slot, control })
}

fn open_sim<S: SimCard>(sim: S) -> Ctx<S> {
    open_with(sim, &AcquireOptions::default()).unwrap()
}

/// A context on the standard PIV card.
fn open() -> Ctx {
    open_sim(PivSim::default_card().unwrap())
}

/// A context on `S`'s standard card.
fn open_std<S: SimCard>() -> Ctx<S> {
    open_sim(S::standard())
}

/// A context on the standard GIDS card.
fn open_gids() -> Ctx<GidsSim> {
    open_std()
}

/// The management key of [`holder_only_card`].
const HOLDER_KEY: [u8; 24] = [0x42; 24];

/// The default card's keys, with a management key that is neither the factory default nor
/// stored PIN-protected: only its holder writes.
fn holder_only_card() -> PivSim {
    use test_vectors::{certs, keys};
    PivSim::builder(b"checklist-holder-only")
        .key(0x9A, keys::RSA_2048_A, Some(certs::PIV_AUTH_9A))
        .key(0x9C, keys::P256_A, Some(certs::DIGITAL_SIGNATURE_9C))
        .key(0x9D, keys::RSA_2048_B, Some(certs::KEY_MANAGEMENT_9D))
        .key(0x9E, keys::P256_B, Some(certs::CARD_AUTH_9E))
        .management_key(card_sim::MgmtAlgorithm::TripleDes, &HOLDER_KEY)
        .build()
        .unwrap()
}

fn ecdh_card() -> PivSim {
    PivSim::builder(b"checklist-ecdh").generate(0x9D, KeyAlgorithm::EccP256).build().unwrap()
}

fn dword(v: &[u8]) -> u32 {
    u32::from_le_bytes(v[..4].try_into().unwrap())
}

fn err<T: core::fmt::Debug>(r: Result<T, Code>) -> u32 {
    r.unwrap_err().0
}

fn tries_err<T: core::fmt::Debug>(r: Result<T, (Code, u32)>) -> (u32, u32) {
    let (c, t) = r.unwrap_err();
    (c.0, t)
}

/// 3DES-EDE3 of one 8-byte block under `key` (ECB on one block, which equals CBC with a zero
/// IV: Minidriver Specification §7.6).
fn response_with(key: &[u8; 24], challenge: &[u8]) -> Vec<u8> {
    let tdes = des::TdesEde3::new_from_slice(key).unwrap();
    let mut block = Array::try_from(challenge).unwrap();
    tdes.encrypt_block(&mut block);
    block.to_vec()
}

fn admin_response(challenge: &[u8]) -> Vec<u8> {
    response_with(&card_edges::piv::DEFAULT_MANAGEMENT_KEY, challenge)
}

fn admin_login_with(csp: &Csp, key: &[u8; 24]) {
    let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
    csp.authenticate_ex(pin::ROLE_ADMIN, 0, &response_with(key, &challenge)).unwrap();
}

fn le(mut v: Vec<u8>) -> Vec<u8> {
    v.reverse();
    v
}

fn rsa_key(sim: &PivSim, slot: u8) -> rsa::RsaPublicKey {
    let cert = sim.certificate(slot).unwrap();
    crypto::public_key_from_spki(card_edges::key::PublicKey::from_certificate(&cert).unwrap().spki()).unwrap()
}

fn p256_key(sim: &PivSim, slot: u8) -> p256::ecdsa::VerifyingKey {
    let spki = card_edges::key::PublicKey::from_certificate(&sim.certificate(slot).unwrap()).unwrap().spki().to_vec();
    <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap()
}

fn verify_p256(key: &p256::ecdsa::VerifyingKey, hash: &[u8], rs: &[u8]) {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    key.verify_prehash(hash, &p256::ecdsa::Signature::from_slice(rs).unwrap()).unwrap();
}

/// Signs `hash` (SHA-256, PKCS#1 v1.5) with container `index` through the table and verifies
/// the (little-endian) signature with the public key the card itself holds.
fn sign_and_verify<S: SimCard>(ctx: &Ctx<S>, index: u8, hash: &[u8]) {
    let sig = ctx.csp.sign_data(index, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, hash, None).unwrap();
    crypto::verify_pkcs1(&ctx.rsa(index), Some(HashAlg::Sha256), hash, &le(sig)).unwrap();
}

/// Signs `hash` with whatever key container `index` holds (RSA PKCS#1 v1.5 with SHA-256's
/// DigestInfo, or ECDSA) and verifies the signature with the public key the card itself holds.
fn sign_verified<S: SimCard>(ctx: &Ctx<S>, index: u8, hash: &[u8]) {
    use card_edges::key::KeyAlgorithm as Alg;
    let spki = ctx.sim.container_spki(index).unwrap();
    let key = card_edges::key::PublicKey::from_spki(&spki).unwrap();
    let (sig_blob, _) = ctx.csp.container_info(index).unwrap();
    match key.algorithm() {
        Alg::Rsa { .. } => {
            let spec = if sig_blob.is_empty() { keyspec::AT_KEYEXCHANGE } else { keyspec::AT_SIGNATURE };
            let sig = ctx.csp.sign_data(index, spec, crypt::CALG_SHA_256, 0, hash, None).unwrap();
            let public = crypto::public_key_from_spki(&spki).unwrap();
            crypto::verify_pkcs1(&public, Some(HashAlg::Sha256), hash, &le(sig)).unwrap();
        }
        Alg::P256 => {
            let rs = ctx.csp.sign_data(index, keyspec::AT_ECDSA_P256, 0, 0, hash, None).unwrap();
            let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
            verify_p256(&vk, hash, &rs);
        }
        Alg::P384 => {
            use p384::ecdsa::signature::hazmat::PrehashVerifier;
            let rs = ctx.csp.sign_data(index, keyspec::AT_ECDSA_P384, 0, 0, hash, None).unwrap();
            let vk = <p384::ecdsa::VerifyingKey as p384::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
            vk.verify_prehash(hash, &p384::ecdsa::Signature::from_slice(&rs).unwrap()).unwrap();
        }
    }
}

/// The peer's public key for ECDH as a `BCRYPT_ECCKEY_BLOB`, and the secret it agrees with the
/// card's 9D key of [`ecdh_card`].
fn peer_blob(sim: &PivSim) -> (Vec<u8>, Vec<u8>) {
    let ours = p256::SecretKey::from_slice(&[0x21; 32]).unwrap();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    let mut blob = crypt::ECDH_PUBLIC_P256_MAGIC.to_le_bytes().to_vec();
    blob.extend_from_slice(&32u32.to_le_bytes());
    blob.extend_from_slice(&point.as_bytes()[1..]);
    let card_pub = card_edges::key::PublicKey::from_certificate(&sim.certificate(0x9D).unwrap()).unwrap();
    let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(card_pub.spki()).unwrap();
    let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine()).raw_secret_bytes().to_vec();
    (blob, z)
}

fn utf16_bytes(s: &str) -> Vec<u8> {
    s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect()
}

const SCARD_CODES: u32 = 0x8010_0000;

// ===== A. Binary interface and general conventions =====

/// Items: 1
#[test]
fn item_01_card_acquire_context_is_exported_undecorated_with_the_system_abi() {
    let _g = serial();
    // The ABI: the export has exactly PFN_CARD_ACQUIRE_CONTEXT's type (extern "system").
    let typed: windows_sys::Win32::Security::Cryptography::PFN_CARD_ACQUIRE_CONTEXT =
        Some(minidriver::ffi::CardAcquireContext);
    assert!(typed.is_some());
    // The name: the built library is loaded as a CSP loads it, resolving "CardAcquireContext".
    let path = cdylib::path();
    Driver::load(&path).unwrap_or_else(|e| panic!("CardAcquireContext is not exported: {e}"));
}

/// Items: 2
#[test]
fn item_02_card_data_and_its_structures_have_the_cpdk_x64_layout() {
    use core::mem::{offset_of, size_of};
    use windows_sys::Win32::Security::Cryptography as w;
    let _g = serial();
    let offsets = [
        offset_of!(CARD_DATA, dwVersion),
        offset_of!(CARD_DATA, pbAtr),
        offset_of!(CARD_DATA, cbAtr),
        offset_of!(CARD_DATA, pwszCardName),
        offset_of!(CARD_DATA, pfnCspAlloc),
        offset_of!(CARD_DATA, pfnCspReAlloc),
        offset_of!(CARD_DATA, pfnCspFree),
        offset_of!(CARD_DATA, pfnCspCacheAddFile),
        offset_of!(CARD_DATA, pfnCspCacheLookupFile),
        offset_of!(CARD_DATA, pfnCspCacheDeleteFile),
        offset_of!(CARD_DATA, pvCacheContext),
        offset_of!(CARD_DATA, pfnCspPadData),
        offset_of!(CARD_DATA, hSCardCtx),
        offset_of!(CARD_DATA, hScard),
        offset_of!(CARD_DATA, pvVendorSpecific),
        offset_of!(CARD_DATA, pfnCardDeleteContext),
        offset_of!(CARD_DATA, pfnCardQueryCapabilities),
        offset_of!(CARD_DATA, pfnCardDeleteContainer),
        offset_of!(CARD_DATA, pfnCardCreateContainer),
        offset_of!(CARD_DATA, pfnCardGetContainerInfo),
        offset_of!(CARD_DATA, pfnCardAuthenticatePin),
        offset_of!(CARD_DATA, pfnCardGetChallenge),
        offset_of!(CARD_DATA, pfnCardAuthenticateChallenge),
        offset_of!(CARD_DATA, pfnCardUnblockPin),
        offset_of!(CARD_DATA, pfnCardChangeAuthenticator),
        offset_of!(CARD_DATA, pfnCardDeauthenticate),
        offset_of!(CARD_DATA, pfnCardCreateDirectory),
        offset_of!(CARD_DATA, pfnCardDeleteDirectory),
        offset_of!(CARD_DATA, pvUnused3),
        offset_of!(CARD_DATA, pvUnused4),
        offset_of!(CARD_DATA, pfnCardCreateFile),
        offset_of!(CARD_DATA, pfnCardReadFile),
        offset_of!(CARD_DATA, pfnCardWriteFile),
        offset_of!(CARD_DATA, pfnCardDeleteFile),
        offset_of!(CARD_DATA, pfnCardEnumFiles),
        offset_of!(CARD_DATA, pfnCardGetFileInfo),
        offset_of!(CARD_DATA, pfnCardQueryFreeSpace),
        offset_of!(CARD_DATA, pfnCardQueryKeySizes),
        offset_of!(CARD_DATA, pfnCardSignData),
        offset_of!(CARD_DATA, pfnCardRSADecrypt),
        offset_of!(CARD_DATA, pfnCardConstructDHAgreement),
        offset_of!(CARD_DATA, pfnCardDeriveKey),
        offset_of!(CARD_DATA, pfnCardDestroyDHAgreement),
        offset_of!(CARD_DATA, pfnCspGetDHAgreement),
        offset_of!(CARD_DATA, pfnCardGetChallengeEx),
        offset_of!(CARD_DATA, pfnCardAuthenticateEx),
        offset_of!(CARD_DATA, pfnCardChangeAuthenticatorEx),
        offset_of!(CARD_DATA, pfnCardDeauthenticateEx),
        offset_of!(CARD_DATA, pfnCardGetContainerProperty),
        offset_of!(CARD_DATA, pfnCardSetContainerProperty),
        offset_of!(CARD_DATA, pfnCardGetProperty),
        offset_of!(CARD_DATA, pfnCardSetProperty),
        offset_of!(CARD_DATA, pfnCspUnpadData),
        offset_of!(CARD_DATA, pfnMDImportSessionKey),
        offset_of!(CARD_DATA, pfnMDEncryptData),
        offset_of!(CARD_DATA, pfnCardImportSessionKey),
        offset_of!(CARD_DATA, pfnCardGetSharedKeyHandle),
        offset_of!(CARD_DATA, pfnCardGetAlgorithmProperty),
        offset_of!(CARD_DATA, pfnCardGetKeyProperty),
        offset_of!(CARD_DATA, pfnCardSetKeyProperty),
        offset_of!(CARD_DATA, pfnCardDestroyKey),
        offset_of!(CARD_DATA, pfnCardProcessEncryptedData),
        offset_of!(CARD_DATA, pfnCardCreateContainerEx),
    ];
    // cardmod-layout.txt §2: 0, 8, 16, 24, then one pointer every 8 bytes up to 496.
    let mut expected = vec![0, 8, 16];
    expected.extend((24..=496).step_by(8));
    assert_eq!(offsets.to_vec(), expected);
    assert_eq!(size_of::<CARD_DATA>(), 504);
    for (v, extent) in [(4, 328), (5, 352), (6, 416), (7, 504)] {
        assert_eq!(minidriver::abi::version::card_data_extent(v), extent);
    }
    assert_eq!(offset_of!(CARD_DATA, pfnCardConstructDHAgreement) + 8, 328, "v4 ends after ConstructDHAgreement");
    assert_eq!(offset_of!(CARD_DATA, pfnCspGetDHAgreement) + 8, 352, "v5 ends after CspGetDHAgreement");
    assert_eq!(offset_of!(CARD_DATA, pfnCardSetProperty) + 8, 416, "v6 ends after CardSetProperty");
    // The structures the driver reads or fills.
    assert_eq!(
        [
            size_of::<w::CARD_CAPABILITIES>(),
            size_of::<w::CARD_FREE_SPACE_INFO>(),
            size_of::<w::CARD_KEY_SIZES>(),
            size_of::<w::CARD_RSA_DECRYPT_INFO>(),
            size_of::<w::CARD_SIGNING_INFO>(),
            size_of::<w::CARD_DH_AGREEMENT_INFO>(),
            size_of::<w::CARD_DERIVE_KEY>(),
            size_of::<w::CARD_FILE_INFO>(),
            size_of::<w::CONTAINER_INFO>(),
            size_of::<w::PIN_INFO>(),
            size_of::<w::BCryptBufferDesc>(),
        ],
        [12, 16, 20, 48, 72, 40, 72, 12, 40, 36, 16]
    );
    assert_eq!(offset_of!(w::CARD_KEY_SIZES, dwDefaultBitlen), 8, "the CPDK field mingw 10 lacks");
    assert_eq!(offset_of!(w::CARD_SIGNING_INFO, pPaddingInfo), 56);
    assert_eq!(offset_of!(w::CARD_RSA_DECRYPT_INFO, dwPaddingType), 40);
    assert_eq!(offset_of!(w::CARD_DERIVE_KEY, hKey), 64);
    assert_eq!(offset_of!(w::CARD_DH_AGREEMENT_INFO, bSecretAgreementIndex), 36);
    // Constants with the CPDK values, not mingw-w64 10's (CARD_PADDING_NONE/PKCS1 = 1/2).
    assert_eq!([crypt::PADDING_NONE, crypt::PADDING_PKCS1, crypt::PADDING_PSS, crypt::PADDING_OAEP], [1, 2, 4, 8]);
    assert_eq!([crypt::PADDING_INFO_PRESENT, crypt::BUFFER_SIZE_ONLY], [0x4000_0000, 0x2000_0000]);
    assert_eq!(
        [keyspec::AT_ECDSA_P256, keyspec::AT_ECDSA_P384, keyspec::AT_ECDSA_P521, keyspec::AT_ECDHE_P256],
        [3, 4, 5, 6]
    );
    assert_eq!([pin::GENERATE_SESSION_PIN, pin::SESSION_PIN, pin::SILENT_CONTEXT], [0x1000_0000, 0x2000_0000, 0x40]);
    assert_eq!([pin::MAX_PINS, pin::PIN_SET_ALL_ROLES, pin::PIN_INFO_VERSION], [8, 0xFF, 6]);
    assert_eq!(w::CARD_PADDING_PKCS1, crypt::PADDING_PKCS1);
    assert_eq!(w::CARD_BUFFER_SIZE_ONLY, crypt::BUFFER_SIZE_ONLY);
}

/// Items: 3, 4, 7, 9, 15, 37, 40, 63, 67, 70, 92, 111, 134, 143, 150
///
/// Every entry point: `pCardData` NULL, then each pointer argument NULL in turn, is
/// `SCARD_E_INVALID_PARAMETER` (the SCARD code, not Win32's 0x57), with no card I/O, nothing
/// allocated and every output left NULL/0. On both edges (GIDS has no DH agreement entry
/// points: its table has 41 functions, item 28).
#[test]
fn items_03_04_07_09_null_pointers_are_invalid_parameters_without_card_io_or_allocation() {
    let _g = serial();
    on_both_edges(null_pointers::<PivSim>, null_pointers::<GidsSim>);
}

fn null_pointers<S: SimCard>() {
    let ctx = open_std::<S>();
    let live = live_allocations();
    let apdus = ctx.apdus();
    let null_cd = raw::null_card_data_codes(ctx.cd());
    assert_eq!(null_cd.len(), if S::ECDH { 44 } else { 41 }, "every function of the v7 table");
    for (what, c) in &null_cd {
        assert_eq!(*c, code::SCARD_E_INVALID_PARAMETER, "{what} with pCardData NULL");
    }
    assert_eq!(raw::acquire_null(), code::SCARD_E_INVALID_PARAMETER, "CardAcquireContext(NULL)");
    let cases = raw::null_argument_codes(ctx.cd(), &|| ctx.apdus(), Some(b"123456"), true, None);
    assert!(cases.len() >= if S::ECDH { 50 } else { 46 }, "{} cases", cases.len());
    for case in &cases {
        assert_eq!(case.code, code::SCARD_E_INVALID_PARAMETER, "{}", case.what);
        assert_ne!(case.code, 0x57, "not ERROR_INVALID_PARAMETER");
        assert!(case.outputs_clean, "{}: an output was written", case.what);
        assert_eq!(case.apdus, 0, "{}: checked before card I/O", case.what);
    }
    assert_eq!(ctx.apdus(), apdus, "no NULL argument reached the card");
    assert_eq!(live_allocations(), live, "nothing allocated");
    // The context is intact.
    assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
    assert_eq!(ctx.sim.user_tries(), 3);
}

/// Items: 4, 9, 16, 79, 80, 81, 92, 99, 100, 101, 102, 109, 114, 119, 120, 121, 129, 130, 151, 152
///
/// Every `dwFlags` (and `dwReserved`) the specification requires to be 0 refuses a set bit
/// with `SCARD_E_INVALID_PARAMETER`, before any card I/O. On both edges (GIDS: no DH
/// agreement entry points to call, item 28).
#[test]
fn items_04_09_nonzero_flags_are_invalid_parameters_before_card_io() {
    let _g = serial();
    on_both_edges(nonzero_flags::<PivSim>, nonzero_flags::<GidsSim>);
}

fn nonzero_flags<S: SimCard>() {
    let ctx = open_std::<S>();
    let live = live_allocations();
    for flag in [1, 0x8000_0000] {
        let apdus = ctx.apdus();
        let codes = raw::nonzero_flag_codes(ctx.cd(), flag, true);
        assert_eq!(codes.len(), if S::ECDH { 21 } else { 19 });
        for (what, c) in codes {
            assert_eq!(c, code::SCARD_E_INVALID_PARAMETER, "{what} with flags {flag:#x}");
        }
        assert_eq!(ctx.apdus(), apdus, "flags are checked before card I/O");
    }
    // CardAcquireContext: any bit but NO_CARD_MODE (item 16).
    for flags in [2, 0x10, 0x8000_0000] {
        let e = open_with(S::standard(), &AcquireOptions { flags, ..AcquireOptions::default() });
        assert_eq!(err(e.map(|_| ())), code::SCARD_E_INVALID_PARAMETER, "CardAcquireContext flags {flags:#x}");
    }
    // CardDeriveKey's and CardSignData's flags fields (items 137, 151).
    if S::ECDH {
        let out = raw::derive(
            ctx.cd(),
            &raw::DeriveCall { version: 2, flags: 0x4, kdf: "HASH".into(), capacity: 32, ..Default::default() },
        );
        assert_eq!(out.code, code::SCARD_E_INVALID_PARAMETER);
    } else {
        assert!(ctx.cd().pfnCardDeriveKey.is_none(), "an RSA-only card has no CardDeriveKey");
    }
    let (index, key_spec) = if S::ECDH { (3, keyspec::AT_ECDSA_P256) } else { (0, keyspec::AT_KEYEXCHANGE) };
    let apdus = ctx.apdus();
    let sign = raw::sign(
        ctx.cd(),
        &raw::SignCall { version: 2, index, key_spec, flags: 0x2, alg_id: 0, data: vec![0; 32], padding: None },
    );
    assert_eq!(sign.code, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(ctx.apdus(), apdus, "CardSignData's flags are checked before card I/O");
    assert_eq!(live_allocations(), live);
}

/// Items: 5, 61, 62, 64
///
/// Wrong PINs and responses are `SCARD_W_WRONG_CHV` with the tries left, then
/// `SCARD_W_CHV_BLOCKED` with 0, through every function that takes a secret, even with
/// `pcAttemptsRemaining` NULL; a PIN the card's format cannot hold is refused without sending
/// it (no try spent).
#[test]
fn items_05_61_62_64_wrong_secrets_are_wrong_chv_with_the_tries_left() {
    let _g = serial();
    let ctx = open();
    // A malformed PIN (too short, too long) is never sent: no VERIFY, no try spent (item 61).
    ctx.sim.set_trace(true);
    for bad in [&b"12345"[..], b"123456789"] {
        let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", bad);
        assert_eq!((c, tries), (code::SCARD_W_WRONG_CHV, 3));
    }
    // (`00 20 00 80` without data only asks for the retry counter: it spends nothing.)
    let trace = ctx.sim.take_trace();
    assert!(
        trace.iter().all(|t| !t.command.starts_with("0020") || t.command.ends_with("<0 bytes redacted>")),
        "{trace:?}"
    );
    assert_eq!(ctx.sim.pin_tries_left(), 3);
    // Opaque bytes: any byte values go to the card as they are; one the card refuses as
    // malformed (PIV PINs are digits: `6A 80`, no try counted) is a wrong PIN too.
    let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", &[0x00, b'a', b'b', 0x7F, 0x80, 0x31]);
    assert_eq!((c, tries), (code::SCARD_W_WRONG_CHV, 3));
    let trace = ctx.sim.take_trace();
    assert!(
        trace.iter().any(|t| t.command == "00200080 <9 bytes redacted>" && t.response == "6A80"),
        "it was sent: {trace:?}"
    );
    let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", b"000000");
    assert_eq!((c, tries), (code::SCARD_W_WRONG_CHV, 2));
    // User ids other than "user"/"admin" (item 62).
    for user in ["anonymous", "User", "", "everyone"] {
        assert_eq!(raw::authenticate_pin(ctx.cd(), user, b"123456").0, code::SCARD_E_INVALID_PARAMETER, "{user:?}");
    }
    // pcAttemptsRemaining NULL through every function (item 64): codes only, no crash. Two
    // tries are left: AuthenticatePin spends one, AuthenticateEx the last, then blocked.
    let codes = raw::wrong_secret_null_tries(ctx.cd());
    let names: Vec<_> = codes.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "CardAuthenticatePin",
            "CardAuthenticateEx",
            "CardChangeAuthenticator",
            "CardChangeAuthenticatorEx",
            "CardAuthenticateChallenge"
        ]
    );
    assert_eq!(codes[0].1, code::SCARD_W_WRONG_CHV);
    assert_eq!(codes[1].1, code::SCARD_W_WRONG_CHV, "the last allowed attempt is still WRONG_CHV");
    assert_eq!(codes[2].1, code::SCARD_W_CHV_BLOCKED);
    assert_eq!(codes[3].1, code::SCARD_W_CHV_BLOCKED);
    assert_eq!(codes[4].1, code::SCARD_W_WRONG_CHV, "a wrong management key response");
    assert_eq!(ctx.sim.pin_tries_left(), 0);
    // Blocked: every attempt after the last, the right PIN included, is CHV_BLOCKED with 0.
    let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", b"123456");
    assert_eq!((c, tries), (code::SCARD_W_CHV_BLOCKED, 0));
    assert_eq!(tries_err(ctx.csp.authenticate_ex(1, 0, b"123456")), (code::SCARD_W_CHV_BLOCKED, 0));
    assert_eq!(
        tries_err(ctx.csp.change_authenticator("user", b"123456", b"654321", pin::AUTH_PIN)),
        (code::SCARD_W_CHV_BLOCKED, 0)
    );
}

/// Items: 5, 61, 62, 64
///
/// GIDS: the same protocol with GIDS PINs (4 to 16 bytes of any value, GIDS v2.0): a PIN the
/// card cannot hold is refused without sending it (no VERIFY, no try spent); any other bytes
/// go to the card as they are; wrong PINs count down to `WRONG_CHV` with 0, then everything,
/// the right PIN included, is `CHV_BLOCKED` with 0; a wrong administrator response is
/// `WRONG_CHV` (the card keeps no count for its 3DES key: tries unknown).
#[test]
fn items_05_61_62_64_gids_wrong_secrets_are_wrong_chv_with_the_tries_left() {
    let _g = serial();
    let ctx = open_gids();
    ctx.sim.trace_on();
    for bad in [&b"123"[..], &[b'1'; 17], b""] {
        let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", bad);
        assert_eq!((c, tries), (code::SCARD_W_WRONG_CHV, 3), "{} bytes", bad.len());
    }
    let trace = ctx.sim.trace();
    assert!(trace.iter().all(|t| !t.command.starts_with("00200080")), "no VERIFY was sent: {trace:?}");
    assert_eq!(ctx.sim.user_tries(), 3);
    // Opaque bytes: sent as they are, and wrong.
    let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", &[0x00, b'a', 0xFF, 0x80, 0x31]);
    assert_eq!((c, tries), (code::SCARD_W_WRONG_CHV, 2));
    let trace = ctx.sim.trace();
    assert!(trace.iter().any(|t| t.command.starts_with("00200080") && t.response == "63C2"), "it was sent: {trace:?}");
    for user in ["anonymous", "User", "", "everyone"] {
        assert_eq!(raw::authenticate_pin(ctx.cd(), user, b"123456").0, code::SCARD_E_INVALID_PARAMETER, "{user:?}");
    }
    assert_eq!(ctx.sim.user_tries(), 2);
    // pcAttemptsRemaining NULL through every function: AuthenticatePin spends one try,
    // AuthenticateEx the last, then blocked.
    let codes = raw::wrong_secret_null_tries(ctx.cd());
    let names: Vec<_> = codes.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "CardAuthenticatePin",
            "CardAuthenticateEx",
            "CardChangeAuthenticator",
            "CardChangeAuthenticatorEx",
            "CardAuthenticateChallenge"
        ]
    );
    assert_eq!(codes[0].1, code::SCARD_W_WRONG_CHV);
    assert_eq!(codes[1].1, code::SCARD_W_WRONG_CHV, "the last allowed attempt is still WRONG_CHV");
    assert_eq!(codes[2].1, code::SCARD_W_CHV_BLOCKED);
    assert_eq!(codes[3].1, code::SCARD_W_CHV_BLOCKED);
    assert_eq!(codes[4].1, code::SCARD_W_WRONG_CHV, "a wrong administrator key response");
    assert_eq!(ctx.sim.user_tries(), 0);
    // The tries each function reports.
    let (c, tries) = raw::authenticate_pin(ctx.cd(), "user", b"123456");
    assert_eq!((c, tries), (code::SCARD_W_CHV_BLOCKED, 0));
    assert_eq!(tries_err(ctx.csp.authenticate_ex(1, 0, b"123456")), (code::SCARD_W_CHV_BLOCKED, 0));
    assert_eq!(
        tries_err(ctx.csp.change_authenticator("user", b"123456", b"654321", pin::AUTH_PIN)),
        (code::SCARD_W_CHV_BLOCKED, 0)
    );
    let (c, tries) = raw::change_authenticator_ex(ctx.cd(), pin::CHANGE_FLAG_CHANGEPIN, 1, b"123456", 1, b"654321", 0);
    assert_eq!((c, tries), (code::SCARD_W_CHV_BLOCKED, 0));
    let _ = ctx.csp.get_challenge().unwrap();
    assert_eq!(tries_err(ctx.csp.authenticate_challenge(&[0; 8])), (code::SCARD_W_WRONG_CHV, u32::MAX));
    assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven());
}

/// Items: 6
///
/// A panic inside the driver (here: in the card transport, under every layer of the driver)
/// comes back as `SCARD_E_UNEXPECTED` instead of unwinding into the CSP, from
/// `CardAcquireContext` as from the table's functions, and the context keeps working after it.
/// On both edges.
#[test]
fn item_06_a_panic_inside_the_driver_is_scard_e_unexpected() {
    let _g = serial();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let piv = std::panic::catch_unwind(panics::<PivSim>);
    let gids = std::panic::catch_unwind(panics::<GidsSim>);
    std::panic::set_hook(hook);
    for (edge, outcome) in [("PIV", piv), ("GIDS", gids)] {
        if let Err(p) = outcome {
            eprintln!("--- this failure is on the {edge} card edge ---");
            std::panic::resume_unwind(p);
        }
    }
}

/// The body of item 6 (the caller silences the panic hook: the transport's panics are meant).
fn panics<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.user();
    let hash = Sha256::digest(b"during the panic").to_vec();
    ctx.control.panic.store(true, Ordering::SeqCst);
    let read = ctx.csp.read_file(None, "cardcf");
    ctx.control.panic.store(true, Ordering::SeqCst);
    let sign = if S::ECDH {
        ctx.csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &[1; 32], None)
    } else {
        ctx.csp.sign_data(S::RSA_SIGN, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None)
    };
    // In CardAcquireContext (its SELECT).
    let card = MemoryCard::new(S::standard());
    let control = Arc::new(Control { panic: AtomicBool::new(true), ..Control::default() });
    let acquire = Csp::acquire(
        &Driver::linked(),
        Target::Transport(Box::new(TestCard { card, control })),
        &AcquireOptions::default(),
    );
    assert_eq!(err(read), code::SCARD_E_UNEXPECTED);
    assert_eq!(err(sign), code::SCARD_E_UNEXPECTED);
    assert_eq!(err(acquire.map(|_| ())), code::SCARD_E_UNEXPECTED);
    // The context recovers: the card is re-selected and served.
    assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
    let hash = Sha256::digest(b"after the panic").to_vec();
    if let Some(piv) = ctx.sim.as_piv() {
        let rs = ctx.csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &hash, None).unwrap();
        verify_p256(&p256_key(piv, 0x9E), &hash, &rs);
    } else {
        // A panic mid-call leaves the context's state unknown: the driver starts over with the
        // card, authentication included.
        ctx.user();
        sign_and_verify(&ctx, S::RSA_SIGN, &hash);
    }
}

/// Items: 7
///
/// The errors the driver returns are SCARD codes, except the Win32 codes a function's section
/// names: `ERROR_REVISION_MISMATCH`, `ERROR_INSUFFICIENT_BUFFER` (properties),
/// `ERROR_FILE_EXISTS`, `ERROR_DIR_NOT_EMPTY` and `ERROR_BAD_LENGTH` (`cardcf`). On both edges
/// (on GIDS the directory and its file are real, on the card).
#[test]
fn item_07_win32_codes_only_where_the_function_names_them() {
    let _g = serial();
    on_both_edges(win32_codes::<PivSim>, win32_codes::<GidsSim>);
}

fn win32_codes<S: SimCard>() {
    let ctx = open_std::<S>();
    let c = &ctx.csp;
    let h = [0u8; 32];
    let scard = [
        err(c.read_file(Some("mscp"), "msroots")),
        err(c.read_file(Some("nodir"), "x")),
        err(c.read_file(None, "toolongname")),
        err(c.container_info(9)),
        err(c.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &h, None)),
        tries_err(c.authenticate_pin("user", b"000000")).0,
        err(c.query_key_sizes(keyspec::AT_ECDSA_P521)),
        err(c.rsa_decrypt(2, &[0; 16], 2, &Padding::None)),
        err(c.write_file(None, "cardid", &[0; 16])),
        err(c.get_property("No Such Property", 0)),
    ];
    for v in scard {
        assert_eq!(v & 0xFFFF_0000, SCARD_CODES, "{v:#x} is an SCARD code");
    }
    // The named Win32 codes, each where the specification names it.
    assert_eq!(raw::file_info(ctx.cd(), None, "cardid", 2).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(c.get_property_sized(prop::CARD_GUID, 0, 4).0.0, code::ERROR_INSUFFICIENT_BUFFER);
    ctx.user();
    assert_eq!(err(c.create_directory("mscp", 1)), code::ERROR_FILE_EXISTS);
    c.create_directory("app", 1).unwrap();
    c.create_file(Some("app"), "f", 0, 1).unwrap();
    assert_eq!(err(c.delete_directory("app")), code::ERROR_DIR_NOT_EMPTY);
    assert_eq!(err(c.write_file(None, "cardcf", &[0; 7])), code::ERROR_BAD_LENGTH);
}

/// Items: 8
///
/// Directory and file names are single-byte ANSI (`LPSTR`), property names, user ids and KDF
/// names UTF-16 (`LPWSTR`), PINs raw bytes. On both edges.
#[test]
fn item_08_names_are_ansi_property_names_and_user_ids_utf16_pins_bytes() {
    let _g = serial();
    on_both_edges(string_kinds::<PivSim>, string_kinds::<GidsSim>);
}

fn string_kinds<S: SimCard>() {
    let ctx = open_std::<S>();
    let (c, cardid) = raw::read_file_bytes(ctx.cd(), None, b"cardid", 0);
    assert_eq!((c, cardid.as_slice()), (0, &ctx.sim.cardid()[..]));
    // A byte above 0x7F is a valid ANSI character, but its case folding depends on the
    // caller's code page, so the driver refuses such names instead of guessing (vfs::name).
    assert_eq!(raw::read_file_bytes(ctx.cd(), Some(b"mscp"), b"caf\xE9", 0).0, code::SCARD_E_INVALID_PARAMETER);
    // UTF-16 property names and user ids.
    assert_eq!(ctx.csp.get_property(prop::CARD_GUID, 0).unwrap(), cardid);
    ctx.csp.authenticate_pin("user", b"123456").unwrap();
    // The PIN is the bytes given: the same digits as UTF-16 are another (wrong) PIN.
    let utf16_pin: Vec<u8> = "123456".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(raw::authenticate_pin(ctx.cd(), "user", &utf16_pin).0, code::SCARD_W_WRONG_CHV);
}

/// Items: 10
///
/// Several contexts in one process, on different cards and on the same card, keep their own
/// state; deleting one leaves the others working. On both edges.
#[test]
fn item_10_several_contexts_are_independent() {
    let _g = serial();
    on_both_edges(several_contexts::<PivSim>, several_contexts::<GidsSim>);
}

fn several_contexts<S: SimCard>() {
    let before = minidriver::ffi::live_contexts();
    let a = open_std::<S>();
    let b = open_sim(S::other());
    let a2 = a.another(&AcquireOptions::default());
    assert_eq!(minidriver::ffi::live_contexts(), before + 3);
    assert_ne!(a.csp.read_file(None, "cardid").unwrap(), b.csp.read_file(None, "cardid").unwrap());
    a.user();
    assert_eq!(a.auth_state() & 0x02, 0x02);
    assert_eq!(b.auth_state(), 0, "another card's context is not authenticated");
    let (b_sig, b_kx) = b.csp.container_info(0).unwrap();
    if S::ECDH {
        assert_eq!(b_sig.len(), 8 + 64, "b's own container: P-256 in 9A");
    } else {
        assert_eq!(b_kx.len(), 20 + 128, "b's own container: RSA-1024");
    }
    assert_eq!(a.csp.container_info(0).unwrap().1.len(), 20 + 256, "a's: RSA-2048");
    drop(a);
    assert_eq!(minidriver::ffi::live_contexts(), before + 2);
    assert_eq!(b.csp.read_file(None, "cardid").unwrap(), b.sim.cardid());
    assert_eq!(a2.csp.read_file(Some("mscp"), "kxc00").unwrap(), a2.sim.certificate_file(0).unwrap());
    drop((b, a2));
    assert_eq!(minidriver::ffi::live_contexts(), before);
}

/// Items: 11
///
/// Five threads, five iterations each, share one context (as the Base CSP shares an
/// HCRYPTPROV): reads and signatures all succeed and verify. On both edges.
#[test]
fn item_11_threads_sharing_one_context() {
    let _g = serial();
    on_both_edges(threads::<PivSim>, threads::<GidsSim>);
}

fn threads<S: SimCard>() {
    let live = live_allocations();
    let ctx = open_std::<S>();
    ctx.user();
    let cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    let rsa = ctx.rsa(S::RSA_SIGN);
    let ec = ctx.sim.as_piv().map(|piv| p256_key(piv, 0x9E));
    let shared = raw::Shared(ctx.csp.card_data());
    std::thread::scope(|s| {
        for t in 0..5u8 {
            let (shared, cmap, rsa, ec) = (&shared, &cmap, &rsa, &ec);
            s.spawn(move || {
                for i in 0..5u8 {
                    let c = shared.0;
                    assert_eq!(&c.read_file(Some("mscp"), "cmapfile").unwrap(), cmap);
                    let hash = Sha256::digest([t, i]).to_vec();
                    let sig =
                        c.sign_data(S::RSA_SIGN, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
                    crypto::verify_pkcs1(rsa, Some(HashAlg::Sha256), &hash, &le(sig)).unwrap();
                    if let Some(ec) = ec {
                        let rs = c.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &hash, None).unwrap();
                        verify_p256(ec, &hash, &rs);
                    }
                    assert_eq!(c.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), S::USER_STATE.to_le_bytes());
                }
            });
        }
    });
    drop(ctx);
    assert_eq!(live_allocations(), live);
}

/// Items: 12
///
/// No UI: PIV and GIDS PINs are typed in, so even with a parent window and a context string set
/// and `CARD_PIN_SILENT_CONTEXT` clear, a missing PIN is refused at once (nothing to collect),
/// and a PIN given with `CARD_PIN_SILENT_CONTEXT` is verified silently. On both edges.
#[test]
fn item_12_no_ui_even_without_a_silent_context() {
    let _g = serial();
    on_both_edges(no_ui::<PivSim>, no_ui::<GidsSim>);
}

fn no_ui<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.csp.set_property(prop::PARENT_WINDOW, Some(&0x1234usize.to_le_bytes()), 0).unwrap();
    ctx.csp.set_property(prop::PIN_CONTEXT_STRING, Some(&utf16_bytes("Log on")), 0).unwrap();
    let apdus = ctx.apdus();
    for flags in [0, pin::SILENT_CONTEXT] {
        let (c, ..) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, flags, None);
        assert_eq!(c, code::SCARD_E_INVALID_PARAMETER, "flags {flags:#x}");
    }
    assert_eq!(ctx.apdus(), apdus);
    ctx.csp.authenticate_ex(pin::ROLE_USER, pin::SILENT_CONTEXT, b"123456").unwrap();
    assert!(ctx.sim.user_verified());
    let listed = dword(&ctx.csp.get_property(prop::LIST_PINS, 0).unwrap());
    assert_eq!(listed, S::LIST_PINS);
    let pins = listed | 1;
    for id in (0..pin::MAX_PINS).filter(|id| pins & pin::set_of(*id) != 0) {
        let info = ctx.csp.get_property(prop::PIN_INFO, id).unwrap();
        assert_ne!(dword(&info[4..8]), pin::EXTERNAL, "PIN {id} is not external: no PIN pad or dialog");
    }
}

/// Items: 13
///
/// A card that goes away, a card that is reset, a failing allocator: clean codes, no hang;
/// two identical cards in two readers work side by side. On both edges.
#[test]
fn item_13_missing_resources_fail_cleanly_and_identical_cards_coexist() {
    let _g = serial();
    on_both_edges(missing_resources::<PivSim>, missing_resources::<GidsSim>);
}

fn missing_resources<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.slot.remove();
    assert_eq!(err(ctx.csp.get_challenge()), code::SCARD_W_REMOVED_CARD);
    let signed = ctx.csp.sign_data(S::RSA_SIGN, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &[1; 32], None);
    assert_eq!(err(signed), code::SCARD_W_REMOVED_CARD);
    drop(ctx);
    // Identical cards (same provisioning seed, same cardid) in two readers.
    let (a, b) = (open_sim(S::twin()), open_sim(S::twin()));
    assert_eq!(a.csp.read_file(None, "cardid").unwrap(), b.csp.read_file(None, "cardid").unwrap());
    let hash = Sha256::digest(b"twins").to_vec();
    for ctx in [&a, &b] {
        ctx.user();
        sign_verified(ctx, S::TWIN_KEY, &hash);
    }
    // Out of memory: see item_40; the context survives it.
    let mut raw = raw::RawCsp::new(7, &a.sim.atr());
    assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(a.sim)))), 0);
    raw.data_mut().pfnCspAlloc = raw::FAILING_ALLOC;
    assert_eq!(raw::read_file_bytes(raw.data(), None, b"cardid", 0).0, code::SCARD_E_NO_MEMORY);
}

// ===== B. CardAcquireContext and version negotiation =====

/// Items: 15, 23, 24, 25, 29
///
/// `CardAcquireContext` refuses a NULL `pCardData`, an ATR length out of range and a missing
/// `pfnCspReAlloc`; a refused acquire allocates nothing and leaves `pvVendorSpecific` NULL. On
/// both edges; the unknown card (item 24) is a card with the edge's ATR that answers no SELECT.
#[test]
fn items_15_23_25_29_refused_acquires_leave_nothing_behind() {
    let _g = serial();
    on_both_edges(refused_acquires::<PivSim>, refused_acquires::<GidsSim>);
}

fn refused_acquires<S: SimCard>() {
    let sim = S::standard();
    assert_eq!(raw::acquire_null(), code::SCARD_E_INVALID_PARAMETER);
    let live = live_allocations();
    let cases: [(&str, fn(&mut CARD_DATA), u32); 7] = [
        ("cbAtr 0", |cd| cd.cbAtr = 0, code::SCARD_E_INVALID_PARAMETER),
        ("cbAtr 1", |cd| cd.cbAtr = 1, code::SCARD_E_INVALID_PARAMETER),
        ("cbAtr 34", |cd| cd.cbAtr = 34, code::SCARD_E_INVALID_PARAMETER),
        ("cbAtr 0xFFFFFFFF", |cd| cd.cbAtr = u32::MAX, code::SCARD_E_INVALID_PARAMETER),
        ("pfnCspReAlloc NULL", |cd| cd.pfnCspReAlloc = None, code::SCARD_E_INVALID_PARAMETER),
        ("pfnCspAlloc NULL", |cd| cd.pfnCspAlloc = None, code::SCARD_E_INVALID_PARAMETER),
        ("dwVersion 3", |cd| cd.dwVersion = 3, code::ERROR_REVISION_MISMATCH),
    ];
    for (what, edit, expected) in cases {
        let mut raw = raw::RawCsp::new(7, &sim.atr());
        edit(raw.data_mut());
        let rv = raw.acquire(0, Some(Box::new(MemoryCard::new(sim.clone()))));
        assert_eq!(rv, expected, "{what}");
        assert!(raw.data().pvVendorSpecific.is_null(), "{what}: pvVendorSpecific stays NULL");
        assert!(raw.data().pfnCardReadFile.is_none(), "{what}: no table filled");
        assert_eq!(live_allocations(), live, "{what}: nothing allocated");
    }
    // A card this driver does not know, and secure key injection without a card.
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    let unknown = MemoryCard::new(ScriptedCard::new(&sim.atr(), &[]));
    assert_eq!(raw.acquire(0, Some(Box::new(unknown))), code::SCARD_E_UNKNOWN_CARD);
    assert!(raw.data().pvVendorSpecific.is_null());
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(
        raw.acquire(misc::NO_CARD_MODE, Some(Box::new(MemoryCard::new(sim.clone())))),
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    assert!(raw.data().pvVendorSpecific.is_null());
    assert_eq!(live_allocations(), live);
    // Success: exactly one pfnCspAlloc block (pvVendorSpecific), freed by CardDeleteContext.
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim)))), 0);
    assert!(!raw.data().pvVendorSpecific.is_null());
    assert_eq!(live_allocations(), live + 1);
    assert_eq!(raw.delete(), 0);
    assert_eq!(live_allocations(), live);
}

/// Items: 21, 22
///
/// The driver never changes what the CSP supplies (ATR, card name, callbacks, cache context,
/// handles), neither in `CardAcquireContext` nor later; `dwVersion` is written once, in the
/// negotiation, and stays. On both edges.
#[test]
fn items_21_22_csp_supplied_members_are_never_modified() {
    let _g = serial();
    on_both_edges(csp_members_untouched::<PivSim>, csp_members_untouched::<GidsSim>);
}

fn csp_members_untouched<S: SimCard>() {
    let sim = S::standard();
    for version in [5, 7, 9] {
        let mut raw = raw::RawCsp::new(version, &sim.atr());
        raw.data_mut().hSCardCtx = 0x1111;
        raw.data_mut().hScard = 0x2222;
        let before = *raw.data();
        assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
        let check = |cd: &CARD_DATA, when: &str| {
            assert_eq!(cd.dwVersion, version.min(7), "{when}");
            assert_eq!(raw::csp_supplied(cd), raw::csp_supplied(&before), "{when}");
            assert_eq!((cd.hSCardCtx, cd.hScard), (0x1111, 0x2222), "{when}");
        };
        check(raw.data(), "after CardAcquireContext");
        // A session of calls.
        let cd = raw.data();
        assert_eq!(raw::read_file_bytes(cd, Some(b"mscp"), b"cmapfile", 0).0, 0);
        assert_eq!(raw::authenticate_pin(cd, "user", b"123456").0, 0);
        let out = raw::sign(
            cd,
            &raw::SignCall {
                version: 2,
                index: 0,
                key_spec: keyspec::AT_KEYEXCHANGE,
                flags: 0,
                alg_id: crypt::CALG_SHA_256,
                data: vec![7; 32],
                padding: None,
            },
        );
        assert_eq!(out.code, 0);
        if version >= 6 {
            assert_eq!(raw::deauthenticate_ex(cd, pin::PIN_SET_ALL_ROLES, 0), 0);
        }
        check(raw.data(), "after a session");
    }
}

/// Items: 26
///
/// Without a transport of its own, `CardAcquireContext` needs the CSP's `hSCardCtx` and
/// `hScard`: either one 0 is `SCARD_E_INVALID_HANDLE`, before any PC/SC call. On both edges.
#[test]
fn item_26_zero_handles_are_invalid_handles() {
    let _g = serial();
    on_both_edges(zero_handles::<PivSim>, zero_handles::<GidsSim>);
}

fn zero_handles<S: SimCard>() {
    let sim = S::standard();
    for (ctx, card) in [(0, 0), (0, 0x1234), (0x1234, 0)] {
        let mut raw = raw::RawCsp::new(7, &sim.atr());
        raw.data_mut().hSCardCtx = ctx;
        raw.data_mut().hScard = card;
        assert_eq!(raw.acquire(0, None), code::SCARD_E_INVALID_HANDLE, "hSCardCtx {ctx:#x} hScard {card:#x}");
        assert!(raw.data().pvVendorSpecific.is_null());
    }
}

/// Items: 27
///
/// The first command of `CardAcquireContext` SELECTs the PIV application by its AID.
#[test]
fn item_27_acquire_selects_the_piv_application() {
    let _g = serial();
    let sim = PivSim::default_card().unwrap();
    sim.set_trace(true);
    let ctx = open_sim(sim);
    let trace = ctx.sim.take_trace();
    assert!(trace[0].command.starts_with("00A4040009A00000030800001000"), "{:?}", trace[0]);
    assert!(trace[0].response.ends_with("9000"));
}

/// Items: 27
///
/// GIDS: `CardAcquireContext` runs the class minidriver's discovery (Minidriver Specification
/// Appendix D.3): SELECT PIV AID, refused, then SELECT MS GIDS AID, answered `90 00` with the
/// application's FCI, and the GIDS application is what the context uses. The only command that
/// may come first is the remembered-ATR probe (a GET DATA of `cardcf` without SELECT, which a
/// card with nothing selected refuses). A second context while the application is still
/// selected sends no SELECT (its ATR is known as GIDS, as Winscard's discovery caches it): its
/// first command is the `cardcf` read, answered. After a reset the discovery runs again.
#[test]
fn item_27_gids_acquire_selects_the_gids_application_after_piv() {
    let _g = serial();
    let sim = GidsSim::standard();
    sim.trace_on();
    let ctx = open_sim(sim);
    let trace = ctx.sim.trace();
    let select_piv = "00A4040009A00000030800001000";
    let select_gids = "00A4040009A00000039742544659";
    let piv = trace.iter().position(|t| t.command.starts_with(select_piv)).unwrap_or_else(|| panic!("{trace:?}"));
    let gids = trace.iter().position(|t| t.command.starts_with(select_gids)).unwrap_or_else(|| panic!("{trace:?}"));
    assert!(piv < gids, "PIV first, then GIDS: {trace:?}");
    assert!(!trace[piv].response.ends_with("9000"), "no PIV application: {:?}", trace[piv]);
    assert!(trace[gids].response.ends_with("9000") && trace[gids].response.len() > 4, "FCI: {:?}", trace[gids]);
    for t in &trace[..piv] {
        assert!(t.command.starts_with("00CBA010045C02DF22") && !t.response.ends_with("9000"), "{t:?}");
    }
    assert_eq!(trace.iter().filter(|t| t.command.starts_with("00A4")).count(), 2, "{trace:?}");
    // The context works on the GIDS application.
    assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
    // A second context, the application still selected.
    ctx.sim.trace();
    let second = ctx.another(&AcquireOptions::default());
    let trace = ctx.sim.trace();
    assert!(trace.iter().all(|t| !t.command.starts_with("00A4")), "no SELECT: {trace:?}");
    assert!(trace[0].command.starts_with("00CBA010045C02DF22") && trace[0].response.ends_with("9000"), "{trace:?}");
    assert_eq!(second.csp.read_file(Some("mscp"), "kxc00").unwrap(), ctx.sim.certificate_file(0).unwrap());
    // After a reset nothing is selected: the next context SELECTs again.
    ctx.sim.power_cycle();
    ctx.sim.trace();
    let third = ctx.another(&AcquireOptions::default());
    let trace = ctx.sim.trace();
    assert!(trace.iter().any(|t| t.command.starts_with(select_gids) && t.response.ends_with("9000")), "{trace:?}");
    assert_eq!(third.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
}

/// Items: 28, 30, 42, 149
///
/// Missing optional callbacks are tolerated (`pfnCspPadData` NULL, no `pfnCspUnpadData` below
/// version 7, no cache callbacks), and the driver pads and unpads itself: with counting
/// callbacks installed, none is ever called, so it never has their buffers to free. On both
/// edges (an RSA-only GIDS card has no DH agreement entry points, item 28).
#[test]
fn items_28_30_42_149_optional_callbacks_are_absent_or_never_called() {
    let _g = serial();
    on_both_edges(optional_callbacks::<PivSim>, optional_callbacks::<GidsSim>);
}

fn optional_callbacks<S: SimCard>() {
    let sim = S::standard();
    let msg = b"a 32-byte AES key for a message!";
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key = crypto::public_key_from_spki(&sim.container_spki(S::RSA_DECRYPT).unwrap()).unwrap();
    for (version, counting) in [(7, true), (7, false), (6, false), (5, true)] {
        let mut raw = raw::RawCsp::new(version, &sim.atr());
        if counting {
            raw::counting_padding_callbacks(raw.data_mut());
        } else {
            let cd = raw.data_mut();
            cd.pfnCspPadData = None;
            cd.pfnCspCacheAddFile = None;
            cd.pfnCspCacheLookupFile = None;
            cd.pfnCspCacheDeleteFile = None;
        }
        let calls = raw::padding_callback_calls();
        assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
        let cd = raw.data();
        // Item 28: the table of the negotiated version; pvUnused3/4 NULL.
        assert!(cd.pfnCardDeauthenticate.is_some() && cd.pfnCardRSADecrypt.is_some());
        // DH agreement entry points only for a card with ECDH keys (NULL for RSA-only cards).
        assert_eq!(cd.pfnCardConstructDHAgreement.is_some(), S::ECDH);
        assert_eq!(cd.pfnCardDeriveKey.is_some(), version >= 5 && S::ECDH);
        assert_eq!(cd.pfnCardDestroyDHAgreement.is_some(), version >= 5 && S::ECDH);
        assert!(cd.pvUnused3.is_null() && cd.pvUnused4.is_null());
        assert_eq!(raw::authenticate_pin(cd, "user", b"123456").0, 0);
        for padding in [None, Some((crypt::PADDING_PKCS1, Some("SHA256".to_owned())))] {
            let flags = if padding.is_some() { crypt::PADDING_INFO_PRESENT } else { 0 };
            let call = raw::SignCall {
                version: 2,
                index: S::RSA_DECRYPT,
                key_spec: keyspec::AT_KEYEXCHANGE,
                flags,
                alg_id: crypt::CALG_SHA_256,
                data: vec![9; 32],
                padding,
            };
            let out = raw::sign(cd, &call);
            assert_eq!(out.code, 0);
            crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &[9; 32], &le(out.signature.unwrap())).unwrap();
        }
        let info_version = if version == 7 { 2 } else { 1 };
        for padding in [crypt::PADDING_PKCS1, crypt::PADDING_NONE] {
            if info_version == 1 && padding != crypt::PADDING_NONE {
                continue;
            }
            let mut data = le(key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap());
            let (c, cb) =
                raw::rsa_decrypt(cd, info_version, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &mut data, padding, None);
            assert_eq!(c, 0, "version {version} padding {padding}");
            let plain = le(data[..cb as usize].to_vec());
            if padding == crypt::PADDING_PKCS1 {
                assert_eq!(plain, msg);
            } else {
                assert_eq!(&crypto::pkcs1::decode_encryption_block(&plain, 256).unwrap()[..], msg);
            }
        }
        assert_eq!(raw::padding_callback_calls(), calls, "pfnCspPadData/pfnCspUnpadData never called");
    }
}

/// Items: 31
///
/// Secure key injection's NO_CARD_MODE is refused at acquire (no context in that mode exists);
/// see `item_166` in abi.rs for the SKI entry points themselves.
#[test]
fn item_31_no_card_mode_contexts_are_never_created() {
    let _g = serial();
    let sim = PivSim::default_card().unwrap();
    let mut raw = raw::RawCsp::new(7, &[]);
    raw.data_mut().pbAtr = core::ptr::null_mut();
    raw.data_mut().cbAtr = 0;
    assert_eq!(raw.acquire(misc::NO_CARD_MODE, None), code::SCARD_E_UNSUPPORTED_FEATURE);
    assert!(raw.data().pvVendorSpecific.is_null() && raw.data().pfnMDImportSessionKey.is_none());
    drop(sim);
}

// ===== C. CardDeleteContext =====

/// Items: 33, 34, 37
///
/// `CardDeleteContext` frees everything without card I/O (the card may be gone), and a second
/// call, a call on the deleted context or a NULL `pCardData` is `SCARD_E_INVALID_PARAMETER`.
/// On both edges.
#[test]
fn items_33_34_37_delete_context_without_the_card_once_and_only_once() {
    let _g = serial();
    on_both_edges(delete_context::<PivSim>, delete_context::<GidsSim>);
}

fn delete_context<S: SimCard>() {
    let live = live_allocations();
    let contexts = minidriver::ffi::live_contexts();
    let mut ctx = open_std::<S>();
    ctx.user();
    let apdus = ctx.apdus();
    ctx.slot.remove();
    ctx.csp.card_data_mut().delete_context().unwrap();
    assert_eq!(ctx.apdus(), apdus, "no card I/O");
    assert!(ctx.csp.raw().pvVendorSpecific.is_null());
    assert_eq!(live_allocations(), live);
    assert_eq!(minidriver::ffi::live_contexts(), contexts);
    drop(ctx);
    // Twice, after deletion, and NULL (RawCsp calls the table directly).
    let sim = S::standard();
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim)))), 0);
    assert_eq!(raw.delete(), 0);
    assert!(raw.data().pvVendorSpecific.is_null());
    assert_eq!(raw.delete(), code::SCARD_E_INVALID_PARAMETER, "a second CardDeleteContext");
    assert_eq!(raw::read_file_bytes(raw.data(), None, b"cardid", 0).0, code::SCARD_E_INVALID_PARAMETER);
    let null = raw::null_card_data_codes(raw.data());
    assert_eq!(null[0], ("pfnCardDeleteContext", code::SCARD_E_INVALID_PARAMETER));
}

/// Items: 35
///
/// The Linux build has no `DllMain`; the nearest state is thread teardown, when a thread's
/// locals are being destroyed. `CardDeleteContext` called from a thread-local destructor (a
/// CSP tearing down late) still frees everything and returns 0: it needs no thread-local or
/// static that teardown destroys. On both edges.
#[test]
fn item_35_delete_context_works_during_teardown() {
    let _g = serial();
    on_both_edges(late_delete::<PivSim>, late_delete::<GidsSim>);
}

fn late_delete<S: SimCard>() {
    static CODE: AtomicU32 = AtomicU32::new(0xFFFF_FFFF);
    struct LateDelete(Option<Box<dyn FnOnce()>>);
    impl Drop for LateDelete {
        fn drop(&mut self) {
            if let Some(delete) = self.0.take() {
                delete();
            }
        }
    }
    thread_local! {
        static HOLDER: std::cell::RefCell<Option<LateDelete>> = const { std::cell::RefCell::new(None) };
    }
    CODE.store(0xFFFF_FFFF, Ordering::SeqCst);
    let live = live_allocations();
    let contexts = minidriver::ffi::live_contexts();
    std::thread::spawn(|| {
        let mut ctx = open_std::<S>();
        ctx.user();
        let delete = move || {
            let rv = ctx.csp.card_data_mut().delete_context().map_or_else(|c| c.0, |()| 0);
            CODE.store(rv, Ordering::SeqCst);
        };
        HOLDER.with(|h| *h.borrow_mut() = Some(LateDelete(Some(Box::new(delete)))));
    })
    .join()
    .unwrap();
    assert_eq!(CODE.load(Ordering::SeqCst), 0);
    assert_eq!(live_allocations(), live);
    assert_eq!(minidriver::ffi::live_contexts(), contexts);
}

/// Items: 36, 44, 47
///
/// Over real PC/SC (pcscd + vpcd): the driver neither connects, reconnects, disconnects nor
/// begins or ends transactions on the CSP's handles. After a session and `CardDeleteContext`
/// the CSP's connection still transmits, still holds its transaction, and the PIN it verified
/// is still verified (an `SCardReconnect` with reset would have cleared it). The in-memory path
/// shows the same for transactions on both edges: the transport's begin/end are never called
/// (GIDS over PC/SC: `abi_gids.rs`).
#[test]
fn items_36_44_47_the_csps_connection_and_transaction_are_left_alone() {
    let _g = serial();
    let s = card_sim::stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"));
    let driver = Driver::linked();
    // Item 26 over PC/SC too: hSCardCtx 0.
    let e = Csp::acquire(
        &driver,
        Target::Pcsc(s.connect().unwrap()),
        &AcquireOptions { tamper: Some(|cd| cd.hSCardCtx = 0), ..AcquireOptions::default() },
    );
    assert_eq!(err(e.map(|_| ())), code::SCARD_E_INVALID_HANDLE);
    let mut csp = Csp::acquire(&driver, Target::Pcsc(s.connect().unwrap()), &AcquireOptions::default()).unwrap();
    csp.authenticate_pin("user", b"123456").unwrap();
    let hash = Sha256::digest(b"pcsc").to_vec();
    csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    csp.read_file(Some("mscp"), "kxc00").unwrap();
    csp.card_data_mut().delete_context().unwrap();
    assert!(s.sim().pin_verified(), "no reset, no reconnect");
    let select = [0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x00];
    let card = csp.pcsc().unwrap();
    let rsp = card.transmit(&select).unwrap();
    assert_eq!(&rsp[rsp.len() - 2..], &[0x90, 0x00], "the CSP's handle is still connected");
    card.end_transaction().unwrap();
    drop(csp);
    // In memory, on both edges: no transaction calls on the transport.
    on_both_edges(no_transaction_calls::<PivSim>, no_transaction_calls::<GidsSim>);
}

/// A session of calls makes no `begin_transaction` / `end_transaction` on the transport.
fn no_transaction_calls<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.user();
    ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    let hash = Sha256::digest(b"in memory").to_vec();
    if S::ECDH {
        ctx.csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &hash, None).unwrap();
    }
    sign_verified(&ctx, S::RSA_SIGN, &hash);
    ctx.csp.create_file(Some("mscp"), "txn", 0, 1).unwrap();
    ctx.csp.write_file(Some("mscp"), "txn", b"written").unwrap();
    ctx.csp.delete_file(Some("mscp"), "txn").unwrap();
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(ctx.control.begins.load(Ordering::SeqCst) + ctx.control.ends.load(Ordering::SeqCst), 0);
}

// ===== D. Memory ownership =====

/// Items: 38
///
/// Every output buffer is one `pfnCspAlloc` allocation that one `pfnCspFree` releases:
/// `CardReadFile`, `CardEnumFiles` (one block for the whole multi-string), both
/// `CONTAINER_INFO` blobs (from `CardGetContainerInfo` and `CCP_CONTAINER_INFO`),
/// `pbSignedData`, both challenge functions and the session PIN. (MDEncryptData and
/// CardGetSharedKeyHandle are unsupported: item 166.) On both edges.
#[test]
fn item_38_every_output_is_one_csp_alloc_buffer() {
    let _g = serial();
    on_both_edges(allocated_outputs::<PivSim>, allocated_outputs::<GidsSim>);
}

fn allocated_outputs<S: SimCard>() {
    let sim = S::outputs_card();
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim)))), 0);
    assert_eq!(raw::authenticate_pin(raw.data(), "user", b"123456").0, 0);
    let outputs = raw::allocated_outputs(raw.data(), S::OUTPUTS, Some(b"123456"));
    assert_eq!(outputs.len(), 9);
    for o in &outputs {
        assert_eq!(o.code, 0, "{}", o.what);
        assert!(o.len > 0, "{}", o.what);
        assert_eq!(o.live_after_call, 1, "{}: one buffer", o.what);
        assert_eq!(o.live_after_free, 0, "{}: released by one pfnCspFree", o.what);
    }
    let (c, block, cb) = raw::enum_files_bytes(raw.data(), Some(b"mscp"));
    assert_eq!(c, 0);
    assert_eq!(cb as usize, block.len());
    assert!(block.ends_with(&[0, 0]));
    assert_eq!(block, S::OUTPUTS_MSCP);
}

/// Items: 39
///
/// In-place outputs allocate nothing: `CardRSADecrypt` writes into `pInfo->pbData`, properties
/// into the caller's `pbData`, `CardDeriveKey` into `pbDerivedKey` (PIV: GIDS has no ECDH), and
/// the info structures are the caller's. On both edges.
#[test]
fn item_39_in_place_outputs_allocate_nothing() {
    let _g = serial();
    on_both_edges(in_place_outputs::<PivSim>, in_place_outputs::<GidsSim>);
}

fn in_place_outputs<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.user();
    let ecdh = S::ECDH.then(|| open_sim(ecdh_card()));
    if let Some(e) = &ecdh {
        e.user();
    }
    let live = live_allocations();
    let key = ctx.rsa(0);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let mut data = le(key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"secret").unwrap());
    let (c, cb) = raw::rsa_decrypt(ctx.cd(), 2, 0, keyspec::AT_KEYEXCHANGE, &mut data, crypt::PADDING_PKCS1, None);
    assert_eq!((c, cb), (0, 6));
    assert_eq!(le(data[..6].to_vec()), b"secret", "the plaintext is in the caller's buffer");
    ctx.csp.get_property(prop::PIN_INFO, 1).unwrap();
    ctx.csp.get_property(prop::FREE_SPACE, 0).unwrap();
    ctx.csp.get_container_property(0, prop::PIN_IDENTIFIER).unwrap();
    ctx.csp.query_key_sizes(if S::ECDH { keyspec::AT_ECDSA_P256 } else { keyspec::AT_KEYEXCHANGE }).unwrap();
    ctx.csp.query_capabilities().unwrap();
    ctx.csp.file_info(None, "cardid").unwrap();
    ctx.csp.query_free_space().unwrap();
    if let Some(ecdh) = &ecdh {
        let (blob, z) = peer_blob(&ecdh.sim);
        let index = ecdh.csp.construct_dh_agreement(2, &blob).unwrap();
        let out = raw::derive(
            ecdh.cd(),
            &raw::DeriveCall {
                version: 2,
                kdf: "TRUNCATE".into(),
                agreement: index,
                capacity: 32,
                ..Default::default()
            },
        );
        assert_eq!((out.code, le(out.key)), (0, z), "the key is in the caller's buffer");
    }
    assert_eq!(live_allocations(), live);
}

/// Items: 40
///
/// When `pfnCspAlloc` returns NULL, every function that would allocate fails with
/// `SCARD_E_NO_MEMORY`, leaves its outputs NULL/0 and leaks nothing (its partial result is
/// freed); the context works again once memory is back. On both edges.
#[test]
fn item_40_out_of_memory_is_reported_and_leaves_outputs_clear() {
    let _g = serial();
    on_both_edges(out_of_memory::<PivSim>, out_of_memory::<GidsSim>);
}

fn out_of_memory<S: SimCard>() {
    let sim = S::outputs_card();
    let mut raw = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
    assert_eq!(raw::authenticate_pin(raw.data(), "user", b"123456").0, 0);
    let live = live_allocations();
    let alloc = raw.data().pfnCspAlloc;
    raw.data_mut().pfnCspAlloc = raw::FAILING_ALLOC;
    let cases = raw::outputs_without_memory(raw.data(), S::OUTPUTS, Some(b"123456"));
    assert_eq!(cases.len(), 9);
    for case in &cases {
        assert_eq!(case.code, code::SCARD_E_NO_MEMORY, "{}", case.what);
        assert!(case.outputs_clean, "{}", case.what);
    }
    assert_eq!(live_allocations(), live);
    // CardAcquireContext itself.
    let mut other = raw::RawCsp::new(7, &sim.atr());
    other.data_mut().pfnCspAlloc = raw::FAILING_ALLOC;
    assert_eq!(other.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), code::SCARD_E_NO_MEMORY);
    assert!(other.data().pvVendorSpecific.is_null());
    raw.data_mut().pfnCspAlloc = alloc;
    assert_eq!(raw::read_file_bytes(raw.data(), None, b"cardid", 0), (0, sim.cardid().to_vec()));
}

/// Items: 41, 43, 158
///
/// A buffer `pfnCspCacheLookupFile` returns is freed by the driver with `pfnCspFree` (after
/// zeroing it), and every buffer the driver frees is zeroed first (the context block too). The
/// cache callbacks get `dwFlags` 0 (this CSP refuses anything else). On both edges.
#[test]
fn items_41_43_158_cache_buffers_are_freed_by_the_driver_zeroed() {
    let _g = serial();
    on_both_edges(cache_buffers::<PivSim>, cache_buffers::<GidsSim>);
}

fn cache_buffers<S: SimCard>() {
    let sim = S::standard();
    raw::clear_cache();
    let live = live_allocations();
    let (frees, dirty) = mdtool::csp::driver_frees();
    let mut first = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(first.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
    let (c, cmap) = raw::read_file_bytes(first.data(), Some(b"mscp"), b"cmapfile", 0);
    assert_eq!(c, 0);
    // As a CSP does next: the container's public key (GIDS: the containers are then known,
    // and what was read of them goes to the CSP's cache).
    assert_eq!(raw::container_info_blobs(first.data(), 0, 0).0, 0);
    assert_eq!(first.delete(), 0);
    let calls = raw::cache_calls();
    let before = sim.sim_counters().apdus;
    let mut second = raw::RawCsp::new(7, &sim.atr());
    assert_eq!(second.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
    assert_eq!(raw::read_file_bytes(second.data(), Some(b"mscp"), b"cmapfile", 0), (0, cmap));
    assert_eq!(raw::read_file_bytes(second.data(), Some(b"mscp"), b"kxc00", 0), (0, sim.certificate_file(0).unwrap()));
    assert!(raw::cache_calls() > calls, "the second context looked the contents up");
    assert!(sim.sim_counters().apdus - before <= 3, "and did not read the certificates from the card");
    assert_eq!(second.delete(), 0);
    let (frees_after, dirty_after) = mdtool::csp::driver_frees();
    assert!(frees_after >= frees + 3, "two context blocks and at least one lookup buffer");
    assert_eq!(dirty_after, dirty, "every buffer the driver freed was zeroed first");
    assert_eq!(live_allocations(), live);
}

// ===== E. Transactions, handles, reset and removal =====

/// Items: 48, 50, 150
///
/// A reset by another program: the next call that reaches the card returns
/// `SCARD_W_RESET_CARD`; PIN authentication and every DH agreement are gone (the agreement's
/// index is invalid afterwards); the next call re-SELECTs the application. A removal is
/// `SCARD_W_REMOVED_CARD`, and another card inserted afterwards is read afresh: the driver
/// keeps nothing of the old card.
#[test]
fn items_48_50_150_reset_and_removal_drop_authentication_agreements_and_caches() {
    let _g = serial();
    let ctx = open_sim(ecdh_card());
    ctx.control.reconnect.store(true, Ordering::SeqCst);
    ctx.user();
    let (blob, z) = peer_blob(&ctx.sim);
    let agreement = ctx.csp.construct_dh_agreement(2, &blob).unwrap();
    assert_eq!(le(ctx.csp.derive_key(agreement, "TRUNCATE", &[], 0, 32).unwrap()), z);
    let old_cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    ctx.slot.reset();
    assert_eq!(err(ctx.csp.get_challenge()), code::SCARD_W_RESET_CARD, "the next call that reaches the card");
    assert_eq!(ctx.auth_state(), 0, "authentication is gone");
    assert_eq!(err(ctx.csp.derive_key(agreement, "TRUNCATE", &[], 0, 32)), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(err(ctx.csp.destroy_dh_agreement(agreement)), code::SCARD_E_INVALID_PARAMETER);
    ctx.sim.set_trace(true);
    assert_eq!(ctx.csp.read_file(None, "cardcf").unwrap().len(), 6);
    let trace = ctx.sim.take_trace();
    assert!(trace[0].command.starts_with("00A40400"), "re-SELECT first: {trace:?}");
    assert_eq!(
        err(ctx.csp.construct_dh_agreement(2, &blob)),
        code::SCARD_W_SECURITY_VIOLATION,
        "the PIN is needed again"
    );
    // Removal, then another card in the same reader.
    ctx.slot.remove();
    assert_eq!(err(ctx.csp.get_challenge()), code::SCARD_W_REMOVED_CARD);
    let other = PivSim::default_card().unwrap();
    ctx.slot.insert(other.clone());
    assert_eq!(err(ctx.csp.read_file(None, "cardid")), code::SCARD_W_REMOVED_CARD, "the old card's connection");
    assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), other.guid().unwrap(), "a different card, read afresh");
    let cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_ne!(cmap, old_cmap);
    assert_eq!(ctx.csp.read_file(Some("mscp"), "kxc00").unwrap(), other.certificate(0x9A).unwrap());
}

/// Items: 48, 50
///
/// GIDS: a reset by another program: the next call that reaches the card returns
/// `SCARD_W_RESET_CARD`; PIN and administrator authentication are gone; the next call
/// re-SELECTs the GIDS application first. A removal is `SCARD_W_REMOVED_CARD`, and another
/// card inserted afterwards is read afresh: the driver keeps nothing of the old card. (DH
/// agreements, item 150, exist only on cards with ECDH keys: PIV.)
#[test]
fn items_48_50_gids_reset_and_removal_drop_authentication_and_caches() {
    let _g = serial();
    let ctx = open_gids();
    ctx.control.reconnect.store(true, Ordering::SeqCst);
    ctx.user();
    ctx.admin();
    assert_eq!(ctx.auth_state(), 0x06);
    let hash = Sha256::digest(b"before the reset").to_vec();
    sign_and_verify(&ctx, 0, &hash);
    let old_cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    ctx.slot.reset();
    assert_eq!(err(ctx.csp.get_challenge()), code::SCARD_W_RESET_CARD, "the next call that reaches the card");
    assert_eq!(ctx.auth_state(), 0, "authentication is gone");
    assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven());
    ctx.sim.trace_on();
    assert_eq!(ctx.csp.read_file(None, "cardcf").unwrap().len(), 6);
    let trace = ctx.sim.trace();
    assert!(trace[0].command.starts_with("00A4040009A00000039742544659"), "re-SELECT first: {trace:?}");
    assert_eq!(
        err(ctx.csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None)),
        code::SCARD_W_SECURITY_VIOLATION,
        "the PIN is needed again"
    );
    // Removal, then another card in the same reader.
    ctx.slot.remove();
    assert_eq!(err(ctx.csp.get_challenge()), code::SCARD_W_REMOVED_CARD);
    let other = GidsSim::other();
    ctx.slot.insert(other.clone());
    assert_eq!(err(ctx.csp.read_file(None, "cardid")), code::SCARD_W_REMOVED_CARD, "the old card's connection");
    assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), other.cardid(), "a different card, read afresh");
    let cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_ne!(cmap, old_cmap);
    assert_eq!(ctx.csp.read_file(Some("mscp"), "kxc00").unwrap(), other.certificate_file(0).unwrap());
    assert_eq!(ctx.csp.container_info(0).unwrap().1.len(), 20 + 128, "the other card's RSA-1024 key");
    assert_eq!(err(ctx.csp.container_info(1)), code::SCARD_E_NO_KEY_CONTAINER, "the old card's second container");
}

/// Items: 49
///
/// PIV cannot end the management key's authentication without a reset, so
/// `CardDeauthenticate(Ex)` for the administrator fails, and the CSP then resets the card
/// through its own handle (the driver sees no `SCARD_W_RESET_CARD`). The driver must expect
/// that: on its next call it knows no one is authenticated and re-selects the application.
#[test]
fn item_49_a_refused_deauthentication_is_followed_by_a_reset_the_driver_expects() {
    let _g = serial();
    for ex in [true, false] {
        let ctx = open();
        ctx.user();
        ctx.admin();
        assert_eq!(ctx.auth_state(), 0x0E);
        let rv = if ex {
            raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0)
        } else {
            raw::deauthenticate(ctx.cd(), "admin", 0)
        };
        assert_eq!(rv, code::SCARD_E_UNSUPPORTED_FEATURE);
        // The CSP resets the card on its own handle (EndTransaction with SCARD_RESET_CARD).
        ctx.sim.reset();
        assert_eq!(ctx.auth_state(), 0, "nothing is authenticated after the reset");
        ctx.sim.set_trace(true);
        assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.guid().unwrap());
        assert!(ctx.sim.take_trace()[0].command.starts_with("00A40400"), "re-selected");
        assert_eq!(
            err(ctx.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None)),
            code::SCARD_W_SECURITY_VIOLATION
        );
        ctx.admin();
        assert_eq!(ctx.auth_state(), 0x04);
    }
}

// ===== F. PIN model =====

/// Items: 49
///
/// GIDS ends the PIN's and the administrator's authentication with one command (`00 20 00 82`,
/// GIDS v2.0), so `CardDeauthenticate(Ex)` succeeds and the CSP has no reason to reset the
/// card. When it fails anyway (here the card refuses the logout), the driver forgets what it
/// knew, as after a reset, and expects the CSP's reset that follows (through the CSP's own
/// handle: no `SCARD_W_RESET_CARD` reaches the driver): on its next call it knows no one is
/// authenticated and re-selects the application.
#[test]
fn item_49_gids_deauthentication_succeeds_and_a_failed_one_is_followed_by_a_reset() {
    let _g = serial();
    for ex in [true, false] {
        let ctx = open_gids();
        ctx.user();
        ctx.admin();
        assert_eq!(ctx.auth_state(), 0x06);
        let rv = if ex {
            raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0)
        } else {
            raw::deauthenticate(ctx.cd(), "admin", 0)
        };
        assert_eq!(rv, 0, "no reset needed");
        assert_eq!(ctx.auth_state(), 0);
        assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven(), "the card logged out");
    }
    for ex in [true, false] {
        let ctx = open_gids();
        ctx.user();
        *ctx.control.refuse.lock().unwrap() = Some((vec![0x00, 0x20, 0x00, 0x82], [0x6F, 0x00]));
        let rv = if ex {
            raw::deauthenticate_ex(ctx.cd(), pin::set_of(pin::ROLE_USER), 0)
        } else {
            raw::deauthenticate(ctx.cd(), "user", 0)
        };
        assert_ne!(rv, 0, "the card refused the logout");
        assert!(ctx.sim.user_verified(), "the logout never reached the card");
        // The CSP resets the card on its own handle.
        ctx.sim.power_cycle();
        assert_eq!(ctx.auth_state(), 0, "nothing is authenticated after the reset");
        ctx.sim.trace_on();
        assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
        assert!(ctx.sim.trace()[0].command.starts_with("00A4040009A00000039742544659"), "re-selected");
        let hash = Sha256::digest(b"after the reset").to_vec();
        assert_eq!(
            err(ctx.csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None)),
            code::SCARD_W_SECURITY_VIOLATION
        );
        ctx.user();
        sign_and_verify(&ctx, 0, &hash);
    }
}

/// Items: 51, 53, 54, 55, 59
///
/// PIN ids 0..7 and `PIN_SET` bitmasks; several PINs authenticated at once (either one's
/// operations allowed); `PIN_INFO` for every PIN the card has (and `SCARD_E_INVALID_PARAMETER`
/// for the others, `ERROR_REVISION_MISMATCH` for a caller version other than 6); the
/// permissions; `CP_CARD_LIST_PINS` and `CP_CARD_AUTHENTICATED_STATE`.
#[test]
fn items_51_53_54_55_59_pin_ids_sets_pin_info_and_state() {
    let _g = serial();
    let ctx = open();
    let list = dword(&ctx.csp.get_property(prop::LIST_PINS, 0).unwrap());
    assert_eq!(list, 0x1E, "PINs 1 (user), 2 (admin), 3 (signature PIN), 4 (PUK)");
    assert_ne!(list & pin::set_of(pin::ROLE_USER), 0);
    assert_eq!([pin::set_of(1), pin::set_of(2), pin::set_of(8)], [0x02, 0x04, 0]);
    // PIN_INFO (item 54): version 6, type, purpose, permissions, cache policy version 6, flags.
    let expected: [(u32, [u32; 9]); 5] = [
        (0, [6, pin::EMPTY, 0, 0, 0, 6, pin::CACHE_NORMAL, 0, 0]),
        (1, [6, pin::ALPHANUMERIC, pin::PURPOSE_PRIMARY, 0x02, 0x10, 6, pin::CACHE_NORMAL, 0, 0]),
        (2, [6, pin::CHALLENGE_RESPONSE, pin::PURPOSE_ADMINISTRATOR, 0, 0, 6, pin::CACHE_NORMAL, 0, 0]),
        (3, [6, pin::ALPHANUMERIC, pin::PURPOSE_DIGITAL_SIGNATURE, 0x08, 0x10, 6, pin::CACHE_ALWAYS_PROMPT, 0, 0]),
        (4, [6, pin::ALPHANUMERIC, pin::PURPOSE_UNBLOCK_ONLY, 0x10, 0, 6, pin::CACHE_NORMAL, 0, 0]),
    ];
    for (id, fields) in expected {
        let info = ctx.csp.get_property(prop::PIN_INFO, id).unwrap();
        let got: Vec<u32> = info.chunks(4).map(dword).collect();
        assert_eq!(got, fields, "PIN_INFO of PIN {id}");
    }
    for id in [5, 6, 7, 8, 0xFF] {
        assert_eq!(err(ctx.csp.get_property(prop::PIN_INFO, id)), code::SCARD_E_INVALID_PARAMETER, "PIN {id}");
    }
    for version in [0, 6] {
        assert_eq!(raw::pin_info_with_version(ctx.cd(), 1, version).0, 0, "caller version {version}");
    }
    for version in [5, 7] {
        assert_eq!(raw::pin_info_with_version(ctx.cd(), 1, version).0, code::ERROR_REVISION_MISMATCH);
    }
    // Authenticated state (items 53, 59): user and admin at once, each one's operations allowed.
    assert_eq!(ctx.auth_state(), 0);
    ctx.user();
    assert_eq!(ctx.auth_state(), 0x0A, "user (1) and the signature PIN (3): the same PIV PIN");
    ctx.admin();
    assert_eq!(ctx.auth_state(), 0x0E);
    let hash = Sha256::digest(b"both").to_vec();
    ctx.csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    ctx.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    // A deauthentication set only uses the low 8 bits, and ROLE_EVERYONE's bit is ignored.
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), 0x100 | pin::set_of(pin::ROLE_EVERYONE), 0), 0);
    assert_eq!(ctx.auth_state(), 0x0E);
    // A wrong PIN clears the user's state (item 59 / OT).
    let (c, _) = raw::authenticate_pin(ctx.cd(), "user", b"000000");
    assert_eq!(c, code::SCARD_W_WRONG_CHV);
    assert_eq!(ctx.auth_state(), 0x04);
}

/// Items: 52, 56, 57, 58, 60
///
/// The roles and what their types, purposes and cache policies mean on PIV: EVERYONE is an
/// Empty PIN (never authenticated), USER a typed PIN, ADMIN the 9B management key
/// (challenge-response); the user PIN is unblocked with the PUK (an UnblockOnly PIN used for
/// nothing else) and not by the administrator (PIV has no command for it); PIN 3 is the same
/// PIN with AlwaysPrompt for the 9C key, which needs it right before each use; the PIN strength
/// advertises session PINs for typed PINs and plaintext always works.
#[test]
fn items_52_56_57_58_60_roles_types_purposes_and_policies() {
    let _g = serial();
    let ctx = open();
    let c = &ctx.csp;
    // Empty: nothing to authenticate (item 56).
    assert_eq!(tries_err(c.authenticate_ex(pin::ROLE_EVERYONE, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER);
    // Challenge-response: the admin (item 52) authenticates with a response, not a PIN.
    assert_eq!(tries_err(c.authenticate_ex(pin::ROLE_ADMIN, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER);
    // The PUK only unblocks (item 57).
    assert_eq!(tries_err(c.authenticate_ex(4, 0, b"12345678")).0, code::SCARD_E_UNSUPPORTED_FEATURE);
    assert_eq!(ctx.sim.puk_tries_left(), 3, "not even tried");
    // Unblocking ROLE_USER: the PUK does; the administrator's challenge-response cannot on PIV.
    for _ in 0..3 {
        let _ = c.authenticate_pin("user", b"000000");
    }
    assert_eq!(ctx.sim.pin_tries_left(), 0);
    assert_eq!(
        err(c.unblock_pin("user", &[0; 8], b"123456", 0, pin::AUTH_CHALLENGE_RESPONSE)),
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    let (code_2_1, _) = raw::change_authenticator_ex(ctx.cd(), pin::CHANGE_FLAG_UNBLOCK, 2, &[0; 8], 1, b"123456", 0);
    assert_eq!(code_2_1, code::SCARD_E_INVALID_PARAMETER, "ROLE_ADMIN is not in the user PIN's unblock set");
    c.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, 4, b"12345678", 1, b"123456").unwrap();
    assert_eq!(ctx.sim.pin_tries_left(), 3);
    // AlwaysPrompt (item 58): the 9C key needs PIN 3 right before each signature.
    let hash = Sha256::digest(b"always").to_vec();
    c.authenticate_ex(3, 0, b"123456").unwrap();
    let rs = c.sign_data(1, keyspec::AT_ECDSA_P256, 0, 0, &hash, None).unwrap();
    verify_p256(&p256_key(&ctx.sim, 0x9C), &hash, &rs);
    assert_eq!(err(c.sign_data(1, keyspec::AT_ECDSA_P256, 0, 0, &hash, None)), code::SCARD_W_SECURITY_VIOLATION);
    // PIN strength (item 60): typed PINs offer session PINs; C/R only plaintext; no such PIN.
    for (id, strength) in [(1, 3), (3, 3), (4, 3), (2, 1)] {
        assert_eq!(dword(&c.get_property(prop::PIN_STRENGTH_VERIFY, id).unwrap()), strength, "PIN {id}");
    }
    assert_eq!(err(c.get_property(prop::PIN_STRENGTH_VERIFY, 5)), code::SCARD_E_INVALID_PARAMETER);
    c.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
}

// ===== G. CardAuthenticatePin / CardAuthenticateEx =====

/// Items: 63, 65, 66, 67, 68, 69
///
/// `CardAuthenticateEx`'s arguments: PIN ids (EVERYONE, absent and out-of-range ones refused),
/// flags (unknown bits, both session flags, session flags for a PIN without session PINs),
/// silent verification, the UnblockOnly PIN; a wrong PIN deauthenticates its role only.
#[test]
fn items_63_65_66_67_68_69_authenticate_ex_arguments_and_roles() {
    let _g = serial();
    let ctx = open();
    let c = &ctx.csp;
    let apdus = ctx.apdus();
    for id in [0, 5, 6, 7, 8, 100] {
        assert_eq!(tries_err(c.authenticate_ex(id, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER, "PinId {id}");
    }
    for flags in [0x1, 0x0800_0000, 0x8000_0000, pin::GENERATE_SESSION_PIN | pin::SESSION_PIN] {
        let (rv, ..) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, flags, Some(b"123456"));
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "flags {flags:#x}");
    }
    assert_eq!(ctx.apdus(), apdus, "refused before card I/O");
    // Session PIN flags for a PIN without session PINs (the challenge-response admin).
    assert_eq!(
        tries_err(c.authenticate_ex(pin::ROLE_ADMIN, pin::GENERATE_SESSION_PIN, &[0; 8])).0,
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    assert_eq!(tries_err(c.authenticate_ex(4, 0, b"12345678")).0, code::SCARD_E_UNSUPPORTED_FEATURE, "item 68");
    // CardAuthenticatePin for "admin" is the deprecated form of the admin's authentication:
    // its data is the response to a challenge, never a PIN of the Empty/External kinds.
    let challenge = c.get_challenge().unwrap();
    c.authenticate_pin("admin", &admin_response(&challenge)).unwrap();
    // Silent verification with PIN data (item 67).
    c.authenticate_ex(pin::ROLE_USER, pin::SILENT_CONTEXT, b"123456").unwrap();
    assert_eq!(ctx.auth_state(), 0x0E);
    // A wrong PIN for the user deauthenticates the user only (item 69).
    let (rv, _, _, tries) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, 0, Some(b"000000"));
    assert_eq!((rv, tries), (code::SCARD_W_WRONG_CHV, 2));
    assert_eq!(ctx.auth_state(), 0x04, "the admin stays authenticated");
    // Success lasts until a deauthentication.
    c.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
    let hash = Sha256::digest(b"lasting").to_vec();
    for _ in 0..3 {
        c.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    }
}

/// A GIDS card with a PUK (`81`, GIDS v2.0), for the PIN model items.
fn gids_puk_card() -> GidsSim {
    GidsSim::builder(b"checklist-puk")
        .puk(b"87654321", 3)
        .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_B.to_vec()), true)
        .build()
        .unwrap()
}

/// The nine DWORDs of a `PIN_INFO`.
fn pin_info_fields<S: SimCard>(ctx: &Ctx<S>, id: u32) -> Vec<u32> {
    ctx.csp.get_property(prop::PIN_INFO, id).unwrap().chunks(4).map(dword).collect()
}

/// Items: 51, 53, 54, 55, 59
///
/// GIDS: PIN ids 1 (the user PIN `80`) and 2 (the 3DES administrator key, challenge-response),
/// and 3 (the PUK `81`) only on a card that has one; `PIN_INFO` of each (and
/// `SCARD_E_INVALID_PARAMETER` for the others, `ERROR_REVISION_MISMATCH` for a caller version
/// other than 6) with the specification's usual permissions (item 55: the user changes itself
/// and is unblocked by the administrator, and by the PUK where there is one; the administrator
/// changes itself); user and administrator authenticated at once, each one's operations
/// allowed; `CP_CARD_LIST_PINS` and `CP_CARD_AUTHENTICATED_STATE`.
#[test]
fn items_51_53_54_55_59_gids_pin_ids_sets_pin_info_and_state() {
    let _g = serial();
    let ctx = open_gids();
    let list = dword(&ctx.csp.get_property(prop::LIST_PINS, 0).unwrap());
    assert_eq!(list, 0x06, "PINs 1 (user) and 2 (administrator); no PUK on this card");
    let expected: [(u32, [u32; 9]); 3] = [
        (0, [6, pin::EMPTY, 0, 0, 0, 6, pin::CACHE_NORMAL, 0, 0]),
        (1, [6, pin::ALPHANUMERIC, pin::PURPOSE_PRIMARY, 0x02, 0x04, 6, pin::CACHE_NORMAL, 0, 0]),
        (2, [6, pin::CHALLENGE_RESPONSE, pin::PURPOSE_ADMINISTRATOR, 0x04, 0, 6, pin::CACHE_NORMAL, 0, 0]),
    ];
    for (id, fields) in expected {
        assert_eq!(pin_info_fields(&ctx, id), fields, "PIN_INFO of PIN {id}");
    }
    for id in [3, 4, 5, 6, 7, 8, 0xFF] {
        assert_eq!(err(ctx.csp.get_property(prop::PIN_INFO, id)), code::SCARD_E_INVALID_PARAMETER, "PIN {id}");
    }
    for version in [0, 6] {
        assert_eq!(raw::pin_info_with_version(ctx.cd(), 1, version).0, 0, "caller version {version}");
    }
    for version in [5, 7] {
        assert_eq!(raw::pin_info_with_version(ctx.cd(), 1, version).0, code::ERROR_REVISION_MISMATCH);
    }
    // User and administrator at once (items 53, 59), each one's operations allowed.
    assert_eq!(ctx.auth_state(), 0);
    ctx.user();
    assert_eq!(ctx.auth_state(), 0x02);
    ctx.admin();
    assert_eq!(ctx.auth_state(), 0x06);
    let hash = Sha256::digest(b"both").to_vec();
    sign_and_verify(&ctx, 0, &hash);
    ctx.csp.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 1024, None).unwrap();
    assert_eq!(ctx.csp.set_property(prop::CACHE_MODE, Some(&3u32.to_le_bytes()), 0), Ok(()), "an admin property");
    // A deauthentication set only uses the low 8 bits, and ROLE_EVERYONE's bit is ignored.
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), 0x100 | pin::set_of(pin::ROLE_EVERYONE), 0), 0);
    assert_eq!(ctx.auth_state(), 0x06);
    // A wrong PIN clears the user's state only (item 59 / OT).
    let (c, _) = raw::authenticate_pin(ctx.cd(), "user", b"000000");
    assert_eq!(c, code::SCARD_W_WRONG_CHV);
    assert_eq!(ctx.auth_state(), 0x04);
    assert!(ctx.sim.admin_proven() && !ctx.sim.user_verified());
    // A card with a PUK: PIN 3, UnblockOnly, which unblocks the user PIN too.
    let puk = open_sim(gids_puk_card());
    assert_eq!(dword(&puk.csp.get_property(prop::LIST_PINS, 0).unwrap()), 0x0E);
    assert_eq!(pin_info_fields(&puk, 1)[4], 0x0C, "the administrator and the PUK unblock the user PIN");
    assert_eq!(
        pin_info_fields(&puk, 3),
        [6, pin::ALPHANUMERIC, pin::PURPOSE_UNBLOCK_ONLY, 0x08, 0, 6, pin::CACHE_NORMAL, 0, 0]
    );
    for id in [4, 5, 6, 7] {
        assert_eq!(err(puk.csp.get_property(prop::PIN_INFO, id)), code::SCARD_E_INVALID_PARAMETER, "PIN {id}");
    }
}

/// Items: 52, 56, 57, 58, 60
///
/// GIDS: EVERYONE is an Empty PIN (never authenticated), USER the typed user PIN, ADMIN the
/// 3DES administrator key (challenge-response), which unblocks the user PIN (item 52, as the
/// specification requires: GIDS v2.0 RESET RETRY COUNTER after administrator authentication);
/// the PUK (on a card that has one) is UnblockOnly: it unblocks and does nothing else; every
/// PIN's cache policy is Normal; the PIN strength advertises session PINs for typed PINs and
/// plaintext always works.
#[test]
fn items_52_56_57_58_60_gids_roles_types_purposes_and_policies() {
    let _g = serial();
    let ctx = open_gids();
    let c = &ctx.csp;
    // Empty: nothing to authenticate (item 56).
    assert_eq!(tries_err(c.authenticate_ex(pin::ROLE_EVERYONE, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER);
    // Challenge-response: the administrator authenticates with a response, not a PIN.
    assert_eq!(tries_err(c.authenticate_ex(pin::ROLE_ADMIN, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER);
    assert!(!ctx.sim.admin_proven());
    // ROLE_ADMIN unblocks ROLE_USER (item 52), both ways the CSP has.
    for round in 0..2 {
        for _ in 0..3 {
            let _ = c.authenticate_pin("user", b"000000");
        }
        assert_eq!(ctx.sim.user_tries(), 0);
        assert_eq!(tries_err(c.authenticate_pin("user", b"123456")).0, code::SCARD_W_CHV_BLOCKED);
        let response = ctx.response(&c.get_challenge().unwrap());
        if round == 0 {
            c.unblock_pin("user", &response, b"123456", 0, pin::AUTH_CHALLENGE_RESPONSE).unwrap();
        } else {
            c.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, pin::ROLE_ADMIN, &response, pin::ROLE_USER, b"123456")
                .unwrap();
        }
        assert_eq!(ctx.sim.user_tries(), 3, "round {round}");
        assert_eq!(ctx.auth_state(), 0, "an unblock leaves the card deauthenticated");
        ctx.user();
    }
    // Cache policies (item 58) and PIN strength (item 60).
    for id in [0, 1, 2] {
        assert_eq!(pin_info_fields(&ctx, id)[6], pin::CACHE_NORMAL, "PIN {id}");
    }
    for (id, strength) in [(1, 3), (2, 1)] {
        assert_eq!(dword(&c.get_property(prop::PIN_STRENGTH_VERIFY, id).unwrap()), strength, "PIN {id}");
    }
    assert_eq!(err(c.get_property(prop::PIN_STRENGTH_VERIFY, 3)), code::SCARD_E_INVALID_PARAMETER);
    c.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
    // The PUK only unblocks (item 57).
    let puk = open_sim(gids_puk_card());
    let p = &puk.csp;
    assert_eq!(tries_err(p.authenticate_ex(3, 0, b"87654321")).0, code::SCARD_E_UNSUPPORTED_FEATURE);
    assert_eq!(puk.sim.puk_tries_left(), Some(3), "not even tried");
    assert_eq!(dword(&p.get_property(prop::PIN_STRENGTH_VERIFY, 3).unwrap()), 3);
    assert_eq!(pin_info_fields(&puk, 3)[6], pin::CACHE_NORMAL);
    for round in 0..2 {
        for _ in 0..3 {
            let _ = p.authenticate_pin("user", b"000000");
        }
        assert_eq!(puk.sim.user_tries(), 0);
        if round == 0 {
            p.unblock_pin("user", b"87654321", b"123456", 0, pin::AUTH_PIN).unwrap();
        } else {
            p.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, 3, b"87654321", pin::ROLE_USER, b"123456").unwrap();
        }
        assert_eq!(puk.sim.user_tries(), 3);
        puk.user();
    }
}

/// Items: 63, 65, 66, 67, 68, 69
///
/// GIDS: `CardAuthenticateEx`'s arguments: PIN ids (EVERYONE, absent and out-of-range ones
/// refused; whether PIN 3 exists is asked of the card once), flags (unknown bits, both session
/// flags, session flags for the challenge-response administrator), silent verification, the
/// UnblockOnly PUK; a wrong PIN deauthenticates the user only, the administrator stays.
#[test]
fn items_63_65_66_67_68_69_gids_authenticate_ex_arguments_and_roles() {
    let _g = serial();
    let ctx = open_gids();
    let c = &ctx.csp;
    let apdus = ctx.apdus();
    for flags in [0x1, 0x0800_0000, 0x8000_0000, pin::GENERATE_SESSION_PIN | pin::SESSION_PIN] {
        let (rv, ..) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, flags, Some(b"123456"));
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "flags {flags:#x}");
    }
    for id in [0, 8, 100] {
        assert_eq!(tries_err(c.authenticate_ex(id, 0, b"123456")).0, code::SCARD_E_INVALID_PARAMETER, "PinId {id}");
    }
    assert_eq!(ctx.apdus(), apdus, "refused before card I/O");
    for _ in 0..2 {
        for id in [3, 4, 5, 6, 7] {
            let rv = tries_err(c.authenticate_ex(id, 0, b"123456")).0;
            assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "PinId {id}: no such PIN");
        }
    }
    assert!(ctx.apdus() - apdus <= 1, "at most the one question whether the card has a PUK");
    assert_eq!(ctx.sim.user_tries(), 3);
    // Session PIN flags for a PIN without session PINs (the challenge-response administrator).
    assert_eq!(
        tries_err(c.authenticate_ex(pin::ROLE_ADMIN, pin::GENERATE_SESSION_PIN, &[0; 8])).0,
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    // CardAuthenticatePin for "admin" is the deprecated form: the response to a challenge.
    let challenge = c.get_challenge().unwrap();
    c.authenticate_pin("admin", &ctx.response(&challenge)).unwrap();
    // Silent verification with PIN data (item 67).
    c.authenticate_ex(pin::ROLE_USER, pin::SILENT_CONTEXT, b"123456").unwrap();
    assert_eq!(ctx.auth_state(), 0x06);
    // A wrong PIN for the user deauthenticates the user only (item 69).
    let (rv, _, _, tries) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, 0, Some(b"000000"));
    assert_eq!((rv, tries), (code::SCARD_W_WRONG_CHV, 2));
    assert_eq!(ctx.auth_state(), 0x04, "the administrator stays authenticated");
    assert!(ctx.sim.admin_proven());
    // Success lasts until a deauthentication.
    c.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
    let hash = Sha256::digest(b"lasting").to_vec();
    for _ in 0..3 {
        sign_and_verify(&ctx, 0, &hash);
    }
    // The UnblockOnly PUK cannot authenticate (item 68).
    let puk = open_sim(gids_puk_card());
    assert_eq!(tries_err(puk.csp.authenticate_ex(3, 0, b"87654321")).0, code::SCARD_E_UNSUPPORTED_FEATURE);
    assert_eq!(puk.sim.puk_tries_left(), Some(3));
}

/// Items: 70, 71, 72, 74, 75, 85
///
/// Session PINs: generating one sends nothing to the card and unlocks nothing; the token is
/// not an encoding of the PIN and works from another context (another process's handle, the
/// secure-PIN-channel sequence of §7.3); after a plain authentication the session-PIN outputs
/// are NULL/0; a PIN change voids every token. On both edges (GIDS: the user PIN).
#[test]
fn items_70_72_74_75_85_session_pins() {
    let _g = serial();
    on_both_edges(session_pins::<PivSim>, session_pins::<GidsSim>);
}

fn session_pins<S: SimCard>() {
    let a = open_std::<S>();
    let strength = dword(&a.csp.get_property(prop::PIN_STRENGTH_VERIFY, pin::ROLE_USER).unwrap());
    assert_ne!(strength & pin::STRENGTH_SESSION_PIN, 0, "advertised (item 72)");
    // Application A (trusted) generates a session PIN: no VERIFY reaches the card (item 70).
    a.sim.trace_on();
    let token = a.csp.authenticate_ex(pin::ROLE_USER, pin::GENERATE_SESSION_PIN, b"123456").unwrap().unwrap();
    let trace = a.sim.trace();
    assert!(trace.iter().all(|t| !t.command.starts_with("0020")), "the PIN was not transmitted: {trace:?}");
    assert!(!a.sim.user_verified());
    assert_eq!(a.auth_state(), 0);
    assert!(!token.windows(6).any(|w| w == b"123456") && token.len() >= 16, "not an encoding of the PIN");
    let b = a.another(&AcquireOptions::default());
    drop(a);
    // Application B authenticates with it on another context.
    b.csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &token).unwrap();
    let hash = Sha256::digest(b"b").to_vec();
    sign_and_verify(&b, S::RSA_SIGN, &hash);
    b.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    // Item 75: no session PIN produced: *ppbSessionPin = NULL, *pcbSessionPin = 0.
    let (rv, nulled, cb, _) = raw::authenticate_ex_outputs(b.cd(), pin::ROLE_USER, 0, Some(b"123456"));
    assert_eq!((rv, nulled, cb), (0, true, 0));
    let (rv, nulled, cb, _) = raw::authenticate_ex_outputs(b.cd(), pin::ROLE_USER, pin::SESSION_PIN, Some(&token));
    assert_eq!((rv, nulled, cb), (0, true, 0));
    // A PIN change voids the token (item 85), in every context.
    b.csp.change_authenticator("user", b"123456", b"654321", pin::AUTH_PIN).unwrap();
    let c = b.another(&AcquireOptions::default());
    for ctx in [&b, &c] {
        let (rv, _, _, _) = raw::authenticate_ex_outputs(ctx.cd(), pin::ROLE_USER, pin::SESSION_PIN, Some(&token));
        assert_eq!(rv, code::SCARD_W_WRONG_CHV);
    }
    assert_eq!(b.sim.user_tries(), 3, "a bad session PIN spends no try of the real PIN");
    let fresh = c.csp.authenticate_ex(pin::ROLE_USER, pin::GENERATE_SESSION_PIN, b"654321").unwrap().unwrap();
    c.csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &fresh).unwrap();
}

// ===== H. Challenge/response, deauthenticate, unblock, change =====

/// Items: 76, 77, 78, 79
///
/// Challenges are 8-byte blocks that never repeat (cmck's NonRepeatingChallenge, n = 300); the
/// response is the challenge encrypted with 3DES (ECB = CBC with a zero IV on one block); a
/// wrong response is `WRONG_CHV` with unknown tries (-1) and leaves the admin
/// unauthenticated; a response without a challenge is refused without counting;
/// `CardGetChallengeEx` takes only challenge-response PINs and `dwFlags` 0.
#[test]
fn items_76_77_78_79_challenges_and_responses() {
    let _g = serial();
    let ctx = open();
    let c = &ctx.csp;
    let mut seen = std::collections::HashSet::new();
    for i in 0..300 {
        let ch = if i % 2 == 0 { c.get_challenge().unwrap() } else { c.get_challenge_ex(pin::ROLE_ADMIN).unwrap() };
        assert_eq!(ch.len(), 8);
        assert!(seen.insert(ch), "challenge {i} repeats");
    }
    // A wrong response; then no challenge is pending: refused, nothing sent, nothing counted.
    let _ = c.get_challenge().unwrap();
    assert_eq!(tries_err(c.authenticate_challenge(&[0; 8])), (code::SCARD_W_WRONG_CHV, u32::MAX));
    assert_eq!(ctx.auth_state() & 0x04, 0, "failure leaves the admin unauthenticated");
    let apdus = ctx.apdus();
    assert_eq!(tries_err(c.authenticate_challenge(&[0; 8])).0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(ctx.apdus(), apdus);
    // A challenge is void once another command reached the card.
    let ch = c.get_challenge().unwrap();
    c.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &[1; 32], None).unwrap();
    let voided = tries_err(c.authenticate_challenge(&admin_response(&ch))).0;
    assert_eq!(voided, code::SCARD_E_INVALID_PARAMETER, "the right response to a voided challenge: none pending");
    assert_eq!(ctx.auth_state() & 0x04, 0);
    // 3DES, ECB on one block (= CBC with IV 0).
    let ch = c.get_challenge().unwrap();
    let ecb = admin_response(&ch);
    let tdes = des::TdesEde3::new_from_slice(&card_edges::piv::DEFAULT_MANAGEMENT_KEY).unwrap();
    let mut cbc = Array::try_from(ch.as_slice()).unwrap();
    for (b, iv) in cbc.iter_mut().zip([0u8; 8]) {
        *b ^= iv;
    }
    tdes.encrypt_block(&mut cbc);
    assert_eq!(ecb, cbc.to_vec());
    c.authenticate_challenge(&ecb).unwrap();
    assert_eq!(ctx.auth_state(), 0x04, "success authenticates the administrator");
    // CardGetChallengeEx (item 79).
    assert_eq!(raw::get_challenge_ex(ctx.cd(), pin::ROLE_ADMIN, 1).0, code::SCARD_E_INVALID_PARAMETER);
    for id in [0, 1, 3, 4, 5, 8] {
        assert_eq!(raw::get_challenge_ex(ctx.cd(), id, 0).0, code::SCARD_E_INVALID_PARAMETER, "PinId {id}");
    }
}

/// Items: 80, 81, 159
///
/// `CardDeauthenticate` takes "user"/"admin" and `dwFlags` 0; `CardDeauthenticateEx` takes a
/// PIN set (0xFF = everything authenticated, the EVERYONE bit ignored); both succeed for the
/// user, and the cache entries the driver stored during the authenticated session are deleted
/// from the CSP's cache afterwards.
#[test]
fn items_80_81_159_deauthentication() {
    let _g = serial();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let ctx = open_with(PivSim::default_card().unwrap(), &options).unwrap();
    for user in ["anonymous", "everyone", ""] {
        assert_eq!(raw::deauthenticate(ctx.cd(), user, 0), code::SCARD_E_INVALID_PARAMETER, "{user:?}");
    }
    assert_eq!(raw::deauthenticate(ctx.cd(), "user", 1), code::SCARD_E_INVALID_PARAMETER);
    ctx.user();
    assert_eq!(raw::deauthenticate(ctx.cd(), "user", 0), 0);
    assert_eq!(ctx.auth_state(), 0);
    assert!(!ctx.sim.pin_verified(), "the card itself logged out");
    ctx.user();
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::set_of(pin::ROLE_EVERYONE), 0), 0, "nothing to do");
    assert_eq!(ctx.auth_state(), 0x0A);
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0), 0);
    assert_eq!(ctx.auth_state(), 0);
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0), 0, "already deauthenticated");
    // Item 159 is about private data: the public contents stored in the CSP's cache during an
    // authenticated session (container map, certificates) outlive the deauthentication, so the
    // next context of the process reads no certificate.
    ctx.user();
    ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert!(cache.lock().unwrap().adds >= 1);
    ctx.csp.deauthenticate("user").unwrap();
    let hits = cache.lock().unwrap().hits;
    let next = ctx.another(&options);
    next.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(cache.lock().unwrap().hits, hits + 1, "the public entry stays: the next context hits");
}

/// Items: 82, 83, 84, 86
///
/// `CardUnblockPin`, `CardChangeAuthenticator` and `CardChangeAuthenticatorEx` refuse the
/// wrong principal, flags, retry counts, PIN ids and permissions, and a new PIN the card's
/// policy refuses; a change leaves the PIN authenticated, an unblock leaves it
/// deauthenticated; the driver leaves `cardcf`'s PIN counter to the CSP.
#[test]
fn items_82_83_84_86_change_and_unblock_arguments() {
    let _g = serial();
    let ctx = open();
    let c = &ctx.csp;
    let cardcf = c.read_file(None, "cardcf").unwrap();
    // CardUnblockPin (item 82).
    assert_eq!(err(c.unblock_pin("admin", b"12345678", b"123456", 0, pin::AUTH_PIN)), code::SCARD_E_INVALID_PARAMETER);
    for flags in [0, 3, 4] {
        assert_eq!(err(c.unblock_pin("user", b"12345678", b"123456", 0, flags)), code::SCARD_E_INVALID_PARAMETER);
    }
    assert_eq!(err(c.unblock_pin("user", b"12345678", b"123456", 5, pin::AUTH_PIN)), code::SCARD_E_INVALID_PARAMETER);
    // CardChangeAuthenticator (item 83).
    let cd = ctx.cd();
    assert_eq!(
        raw::change_authenticator(cd, "anonymous", b"123456", b"654321", 0, 2).0,
        code::SCARD_E_INVALID_PARAMETER
    );
    for (user, flags) in [("user", pin::AUTH_CHALLENGE_RESPONSE), ("admin", pin::AUTH_PIN), ("user", 0), ("user", 3)] {
        let rv = raw::change_authenticator(cd, user, b"123456", b"654321", 0, flags).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "{user} with flags {flags}");
    }
    assert_eq!(raw::change_authenticator(cd, "user", b"123456", b"654321", 3, 2).0, code::SCARD_E_INVALID_PARAMETER);
    for new in [&b"12"[..], b"123456789"] {
        let rv = raw::change_authenticator(cd, "user", b"123456", new, 0, 2).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a new PIN outside the card's policy");
    }
    assert_eq!(ctx.sim.pin_tries_left(), 3);
    assert_eq!(raw::change_authenticator(cd, "user", b"123456", b"654321", 0, 2).0, 0);
    assert_eq!(ctx.auth_state(), 0x0A, "a change leaves the PIN authenticated");
    // The management key cannot be changed through PIV's standard commands.
    let (rv, _) = raw::change_authenticator(cd, "admin", &[0; 8], &[1; 24], 0, pin::AUTH_CHALLENGE_RESPONSE);
    assert_eq!(rv, code::SCARD_E_UNSUPPORTED_FEATURE);
    // CardChangeAuthenticatorEx (item 84).
    for flags in [0, 3] {
        let rv = raw::change_authenticator_ex(cd, flags, 1, b"654321", 1, b"123456", 0).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "flags {flags}");
    }
    for (auth, target) in [(0, 1), (8, 1), (1, 0), (1, 8), (5, 1)] {
        let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, auth, b"654321", target, b"123456", 0).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "PIN ids {auth} -> {target}");
    }
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 4, b"12345678", 1, b"123456", 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "the PUK is not in the user PIN's change set");
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_UNBLOCK, 1, b"654321", 1, b"123456", 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "unblocking a PIN with itself");
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 1, b"654321", 1, b"123456", 2).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a retry count the card cannot set");
    assert_eq!(raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 1, b"654321", 1, b"123456", 0).0, 0);
    assert_eq!(ctx.auth_state(), 0x0A);
    assert_eq!(raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_UNBLOCK, 4, b"12345678", 1, b"123456", 0).0, 0);
    assert_eq!(ctx.auth_state(), 0, "an unblock leaves the card deauthenticated");
    // Item 86: the driver did not touch the PIN freshness counter; the CSP bumps it itself.
    assert_eq!(c.read_file(None, "cardcf").unwrap(), cardcf);
    c.authenticate_pin("user", b"123456").unwrap();
}

// ===== I. File system and file functions =====

/// Items: 76, 77, 78, 79
///
/// GIDS: the administrator's challenges (GENERAL AUTHENTICATE, GIDS v2.0 external
/// authentication) are 8-byte blocks that never repeat (n = 300); the response is the
/// challenge encrypted with 3-key 3DES (ECB = CBC with a zero IV on one block); a wrong response
/// is `WRONG_CHV` with unknown tries (-1: the card keeps no count for its key) and leaves the
/// administrator unauthenticated; a response without a challenge is refused without card I/O;
/// a challenge is void once another command reached the card; `CardGetChallengeEx` takes only
/// PIN 2 and `dwFlags` 0.
#[test]
fn items_76_77_78_79_gids_challenges_and_responses() {
    let _g = serial();
    let ctx = open_gids();
    let c = &ctx.csp;
    let mut seen = std::collections::HashSet::new();
    for i in 0..300 {
        let ch = if i % 2 == 0 { c.get_challenge().unwrap() } else { c.get_challenge_ex(pin::ROLE_ADMIN).unwrap() };
        assert_eq!(ch.len(), 8);
        assert!(seen.insert(ch), "challenge {i} repeats");
    }
    let _ = c.get_challenge().unwrap();
    assert_eq!(tries_err(c.authenticate_challenge(&[0; 8])), (code::SCARD_W_WRONG_CHV, u32::MAX));
    assert_eq!(ctx.auth_state() & 0x04, 0, "failure leaves the administrator unauthenticated");
    assert!(!ctx.sim.admin_proven());
    let apdus = ctx.apdus();
    assert_eq!(tries_err(c.authenticate_challenge(&[0; 8])).0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(ctx.apdus(), apdus, "no challenge pending: nothing sent");
    // A challenge is void once another command reached the card.
    ctx.user();
    let ch = c.get_challenge().unwrap();
    sign_and_verify(&ctx, 0, &Sha256::digest(b"in between"));
    let voided = tries_err(c.authenticate_challenge(&ctx.response(&ch))).0;
    assert_eq!(voided, code::SCARD_E_INVALID_PARAMETER, "the right response to a voided challenge: none pending");
    assert!(!ctx.sim.admin_proven());
    // 3DES, ECB on one block (= CBC with IV 0).
    let ch = c.get_challenge().unwrap();
    let ecb = ctx.response(&ch);
    let tdes = des::TdesEde3::new_from_slice(&GIDS_ADMIN_KEY).unwrap();
    let mut cbc = Array::try_from(ch.as_slice()).unwrap();
    for (b, iv) in cbc.iter_mut().zip([0u8; 8]) {
        *b ^= iv;
    }
    tdes.encrypt_block(&mut cbc);
    assert_eq!(ecb, cbc.to_vec());
    c.authenticate_challenge(&ecb).unwrap();
    assert_eq!(ctx.auth_state(), 0x06, "success authenticates the administrator (the user stays)");
    assert!(ctx.sim.admin_proven());
    // CardGetChallengeEx (item 79).
    assert_eq!(raw::get_challenge_ex(ctx.cd(), pin::ROLE_ADMIN, 1).0, code::SCARD_E_INVALID_PARAMETER);
    for id in [0, 1, 3, 4, 5, 8] {
        assert_eq!(raw::get_challenge_ex(ctx.cd(), id, 0).0, code::SCARD_E_INVALID_PARAMETER, "PinId {id}");
    }
    let puk = open_sim(gids_puk_card());
    assert_eq!(raw::get_challenge_ex(puk.cd(), 3, 0).0, code::SCARD_E_INVALID_PARAMETER, "the PUK is typed in");
}

/// Items: 80, 81, 159
///
/// GIDS: `CardDeauthenticate` takes "user"/"admin" and `dwFlags` 0; `CardDeauthenticateEx` a
/// PIN set (0xFF = everything authenticated, the EVERYONE bit ignored). GIDS has one command to
/// end authentication (`00 20 00 82`), which ends the PIN's and the administrator's together:
/// deauthenticating either role deauthenticates both, and the driver reports exactly what the
/// card did (the specification's alternative, failing so that the CSP resets the card, would
/// drop both as well). Public CSP cache entries outlive the deauthentication (item 159 is about
/// private data; GIDS stores none in the cache).
#[test]
fn items_80_81_159_gids_deauthentication() {
    let _g = serial();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let ctx = open_with(GidsSim::standard(), &options).unwrap();
    for user in ["anonymous", "everyone", ""] {
        assert_eq!(raw::deauthenticate(ctx.cd(), user, 0), code::SCARD_E_INVALID_PARAMETER, "{user:?}");
    }
    assert_eq!(raw::deauthenticate(ctx.cd(), "user", 1), code::SCARD_E_INVALID_PARAMETER);
    ctx.user();
    assert_eq!(raw::deauthenticate(ctx.cd(), "user", 0), 0);
    assert_eq!(ctx.auth_state(), 0);
    assert!(!ctx.sim.user_verified(), "the card itself logged out");
    for (who, set) in [("user", pin::set_of(pin::ROLE_USER)), ("admin", pin::set_of(pin::ROLE_ADMIN))] {
        ctx.user();
        ctx.admin();
        assert_eq!(raw::deauthenticate(ctx.cd(), who, 0), 0, "{who}");
        assert_eq!(ctx.auth_state(), 0, "{who}: GIDS ends both");
        assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven(), "{who}");
        ctx.user();
        ctx.admin();
        assert_eq!(raw::deauthenticate_ex(ctx.cd(), set, 0), 0, "{who}");
        assert_eq!(ctx.auth_state(), 0, "{who}");
        assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven(), "{who}");
    }
    ctx.user();
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::set_of(pin::ROLE_EVERYONE), 0), 0, "nothing to do");
    assert_eq!(ctx.auth_state(), 0x02);
    assert!(ctx.sim.user_verified());
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0), 0);
    assert_eq!(ctx.auth_state(), 0);
    assert_eq!(raw::deauthenticate_ex(ctx.cd(), pin::PIN_SET_ALL_ROLES, 0), 0, "already deauthenticated");
    // Item 159: the public contents stored in the CSP's cache during an authenticated session
    // (container map, certificates) outlive the deauthentication.
    ctx.user();
    ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    ctx.csp.container_info(0).unwrap();
    assert!(cache.lock().unwrap().adds >= 1);
    ctx.csp.deauthenticate("user").unwrap();
    assert_eq!(cache.lock().unwrap().deletes, 0, "nothing private to delete");
    let hits = cache.lock().unwrap().hits;
    let next = ctx.another(&options);
    next.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(cache.lock().unwrap().hits, hits + 1, "the public entry stays: the next context hits");
}

/// Items: 82, 83, 84, 86
///
/// GIDS: `CardUnblockPin`, `CardChangeAuthenticator` and `CardChangeAuthenticatorEx` refuse the
/// wrong principal, flags, retry counts, PIN ids and permissions, and a new PIN or key the
/// card's policy refuses (PINs 4 to 16 bytes, administrator keys 24 bytes); the user PIN is
/// unblocked by the administrator's response and changed with itself; the administrator key
/// is changed with a response to a challenge (`CHANGEPIN`, `ROLE_ADMIN` to `ROLE_ADMIN`), after
/// which only the new key authenticates; a change leaves the PIN authenticated, an unblock
/// leaves the card deauthenticated; the driver leaves `cardcf` to the CSP.
#[test]
fn items_82_83_84_86_gids_change_and_unblock_arguments() {
    let _g = serial();
    let ctx = open_gids();
    let (c, cd) = (&ctx.csp, ctx.cd());
    let cardcf = c.read_file(None, "cardcf").unwrap();
    // CardUnblockPin (item 82).
    let apdus = ctx.apdus();
    assert_eq!(
        err(c.unblock_pin("admin", &[0; 8], b"123456", 0, pin::AUTH_CHALLENGE_RESPONSE)),
        code::SCARD_E_INVALID_PARAMETER
    );
    for flags in [0, 3, 4] {
        assert_eq!(err(c.unblock_pin("user", &[0; 8], b"123456", 0, flags)), code::SCARD_E_INVALID_PARAMETER);
    }
    let rv = err(c.unblock_pin("user", &[0; 8], b"123456", 5, pin::AUTH_CHALLENGE_RESPONSE));
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a retry count the card cannot set");
    assert_eq!(ctx.apdus(), apdus, "refused without card I/O");
    assert_eq!(
        err(c.unblock_pin("user", b"12345678", b"123456", 0, pin::AUTH_PIN)),
        code::SCARD_E_UNSUPPORTED_FEATURE,
        "no PUK on this card: no typed-in PIN unblocks"
    );
    // Unblock by the administrator: the response to the last challenge (atomic: the challenge
    // is answered and the PIN reset in one call); a wrong response changes nothing.
    let _ = c.get_challenge().unwrap();
    assert_eq!(
        err(c.unblock_pin("user", &[0; 8], b"111111", 0, pin::AUTH_CHALLENGE_RESPONSE)),
        code::SCARD_W_WRONG_CHV
    );
    let response = ctx.response(&c.get_challenge().unwrap());
    let rv = err(c.unblock_pin("user", &response, b"12", 0, pin::AUTH_CHALLENGE_RESPONSE));
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a new PIN outside the card's policy");
    let response = ctx.response(&c.get_challenge().unwrap());
    c.unblock_pin("user", &response, b"111111", 0, pin::AUTH_CHALLENGE_RESPONSE).unwrap();
    assert_eq!(ctx.auth_state(), 0, "an unblock leaves the card deauthenticated");
    assert!(!ctx.sim.admin_proven() && !ctx.sim.user_verified());
    c.authenticate_pin("user", b"111111").unwrap();
    // CardChangeAuthenticator (item 83).
    assert_eq!(
        raw::change_authenticator(cd, "anonymous", b"111111", b"654321", 0, 2).0,
        code::SCARD_E_INVALID_PARAMETER
    );
    for (user, flags) in [("user", pin::AUTH_CHALLENGE_RESPONSE), ("admin", pin::AUTH_PIN), ("user", 0), ("user", 3)] {
        let rv = raw::change_authenticator(cd, user, b"111111", b"654321", 0, flags).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "{user} with flags {flags}");
    }
    assert_eq!(raw::change_authenticator(cd, "user", b"111111", b"654321", 3, 2).0, code::SCARD_E_INVALID_PARAMETER);
    for new in [&b"123"[..], &[b'7'; 17]] {
        let rv = raw::change_authenticator(cd, "user", b"111111", new, 0, 2).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a new PIN outside the card's policy");
    }
    assert_eq!(ctx.sim.user_tries(), 3);
    assert_eq!(raw::change_authenticator(cd, "user", b"111111", b"654321", 0, 2).0, 0);
    assert_eq!(ctx.auth_state(), 0x02, "a change leaves the PIN authenticated");
    assert!(ctx.sim.user_verified());
    // The administrator key: CardChangeAuthenticator with the response and the new key.
    let new_key: [u8; 24] = *b"new GIDS admin key 3DES!";
    let response = ctx.response(&c.get_challenge().unwrap());
    let (rv, _) = raw::change_authenticator(cd, "admin", &response, &new_key[..16], 0, pin::AUTH_CHALLENGE_RESPONSE);
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a 2-key 3DES key is not a GIDS administrator key");
    let response = ctx.response(&c.get_challenge().unwrap());
    let (rv, _) = raw::change_authenticator(cd, "admin", &response, &new_key, 0, pin::AUTH_CHALLENGE_RESPONSE);
    assert_eq!(rv, 0);
    assert_eq!(ctx.auth_state() & 0x04, 0x04, "a change leaves the administrator authenticated");
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    let challenge = c.get_challenge().unwrap();
    assert_eq!(
        tries_err(c.authenticate_challenge(&ctx.response(&challenge))).0,
        code::SCARD_W_WRONG_CHV,
        "the old key"
    );
    let challenge = c.get_challenge().unwrap();
    c.authenticate_challenge(&response_with(&new_key, &challenge)).unwrap();
    // CardChangeAuthenticatorEx (item 84): CHANGEPIN ROLE_ADMIN to ROLE_ADMIN changes it back.
    let response = response_with(&new_key, &c.get_challenge().unwrap());
    c.change_authenticator_ex(pin::CHANGE_FLAG_CHANGEPIN, pin::ROLE_ADMIN, &response, pin::ROLE_ADMIN, &GIDS_ADMIN_KEY)
        .unwrap();
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    ctx.admin();
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 2, &[0; 8], 2, &GIDS_ADMIN_KEY, 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a challenge-response authenticator needs a challenge first");
    for flags in [0, 3] {
        let rv = raw::change_authenticator_ex(cd, flags, 1, b"654321", 1, b"123456", 0).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "flags {flags}");
    }
    for (auth, target) in [(0, 1), (8, 1), (1, 0), (1, 8), (3, 1), (1, 3), (5, 1)] {
        let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, auth, b"654321", target, b"123456", 0).0;
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "PIN ids {auth} -> {target}");
    }
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 2, &[0; 8], 1, b"123456", 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "the administrator is not in the user PIN's change set");
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_UNBLOCK, 1, b"654321", 1, b"123456", 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "unblocking a PIN with itself");
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_UNBLOCK, 1, b"654321", 2, &GIDS_ADMIN_KEY, 0).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "nothing unblocks the administrator key");
    let rv = raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 1, b"654321", 1, b"123456", 2).0;
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a retry count the card cannot set");
    assert_eq!(raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_CHANGEPIN, 1, b"654321", 1, b"123456", 0).0, 0);
    assert_eq!(ctx.auth_state() & 0x02, 0x02, "a change leaves the PIN authenticated");
    let response = ctx.response(&c.get_challenge().unwrap());
    assert_eq!(raw::change_authenticator_ex(cd, pin::CHANGE_FLAG_UNBLOCK, 2, &response, 1, b"123456", 0).0, 0);
    assert_eq!(ctx.auth_state(), 0, "an unblock leaves the card deauthenticated");
    assert!(!ctx.sim.user_verified() && !ctx.sim.admin_proven());
    // Item 86: the driver did not touch cardcf's PIN counter (nor anything else of it).
    assert_eq!(c.read_file(None, "cardcf").unwrap(), cardcf);
    assert_eq!(ctx.sim.data_object(GIDS_CARDCF.0, GIDS_CARDCF.1).unwrap(), cardcf);
    c.authenticate_pin("user", b"123456").unwrap();
    ctx.admin();
}

/// Items: 88, 89, 90
///
/// Names: more than 8 characters, a forbidden character or a control character is
/// `SCARD_E_INVALID_PARAMETER` in every file and directory function, before card I/O; 8 are
/// fine; names compare case-insensitively; a NULL or empty directory is the root; there are
/// two levels only. On both edges.
#[test]
fn items_88_89_90_names() {
    let _g = serial();
    on_both_edges(names::<PivSim>, names::<GidsSim>);
}

fn names<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.user();
    let apdus = ctx.apdus();
    let bad: [&[u8]; 12] =
        [b"toolongxx", b"a*b", b"a?b", b"a/b", b"a\\b", b"a:b", b"a<b", b"a>b", b"a|b", b"a\"b", b"a\x01b", b"\x1f"];
    for name in bad {
        for (what, c) in raw::name_codes(ctx.cd(), name, true) {
            assert_eq!(c, code::SCARD_E_INVALID_PARAMETER, "{what} with {:?}", String::from_utf8_lossy(name));
            assert_eq!(ctx.apdus(), apdus, "{what} with {:?}: card I/O", String::from_utf8_lossy(name));
        }
    }
    assert_eq!(ctx.apdus(), apdus, "names are checked before card I/O");
    for (what, c) in raw::name_codes(ctx.cd(), b"abcdefgh", true) {
        assert_ne!(c, code::SCARD_E_INVALID_PARAMETER, "{what}: 8 characters are allowed");
    }
    // Case-insensitive (item 89).
    let cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(ctx.csp.read_file(Some("MsCp"), "CMAPFILE").unwrap(), cmap);
    assert_eq!(ctx.csp.read_file(None, "CardID").unwrap(), ctx.sim.cardid());
    assert_eq!(ctx.csp.file_info(Some("MSCP"), "KXC00").unwrap(), ctx.csp.file_info(Some("mscp"), "kxc00").unwrap());
    // NULL and "" are the root (item 90).
    assert_eq!(raw::read_file_bytes(ctx.cd(), Some(b""), b"cardid", 0).1, ctx.sim.cardid());
    assert_eq!(raw::enum_files_bytes(ctx.cd(), None).1, raw::enum_files_bytes(ctx.cd(), Some(b"")).1);
    // Two levels: a directory inside an application directory does not exist.
    assert_eq!(err(ctx.csp.create_directory("mscp/sub", 1)), code::SCARD_E_INVALID_PARAMETER);
}

/// Items: 91, 93, 94
///
/// Each file call is complete on its own (a failed write leaves the old content); a transient
/// failure while reading is reported as such, never as `SCARD_E_FILE_NOT_FOUND` (which the CSP
/// would cache); `cardid`/`cardcf` reads and `CardAcquireContext` never call the CSP's cache.
/// On both edges (GIDS: the files are on the card).
#[test]
fn items_91_93_94_atomic_files_honest_errors_no_cache_for_cardid_and_cardcf() {
    let _g = serial();
    on_both_edges(atomic_files::<PivSim>, atomic_files::<GidsSim>);
}

fn atomic_files<S: SimCard>() {
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let ctx = open_with(S::standard(), &options).unwrap();
    let calls = |c: &CspCache| (c.lookups, c.adds);
    assert_eq!(calls(&cache.lock().unwrap()), (0, 0), "CardAcquireContext used no cache callback");
    for _ in 0..3 {
        ctx.csp.read_file(None, "cardid").unwrap();
        ctx.csp.read_file(None, "cardcf").unwrap();
    }
    assert_eq!(calls(&cache.lock().unwrap()), (0, 0), "cardid/cardcf reads used no cache callback");
    // Atomic writes (item 91).
    ctx.user();
    let cardcf = ctx.csp.read_file(None, "cardcf").unwrap();
    assert_eq!(err(ctx.csp.write_file(None, "cardcf", &[1, 2, 3, 4, 5, 6, 7])), code::ERROR_BAD_LENGTH);
    assert_eq!(ctx.csp.read_file(None, "cardcf").unwrap(), cardcf, "the failed write changed nothing");
    ctx.csp.create_file(Some("mscp"), "notes", 0, 1).unwrap();
    ctx.csp.write_file(Some("mscp"), "notes", b"first").unwrap();
    ctx.csp.write_file(Some("mscp"), "notes", b"2nd").unwrap();
    assert_eq!(ctx.csp.read_file(Some("mscp"), "notes").unwrap(), b"2nd", "the whole content replaced");
    // Honest errors (item 93): a card that went away is not a missing file.
    let fresh = ctx.another(&AcquireOptions::default());
    ctx.slot.remove();
    assert_eq!(err(fresh.csp.read_file(Some("mscp"), "kxc00")), code::SCARD_W_REMOVED_CARD);
    assert_eq!(
        err(fresh.csp.file_info(Some("mscp"), if S::ECDH { "kxc02" } else { "kxc01" })),
        code::SCARD_W_REMOVED_CARD
    );
}

/// Items: 95, 96, 97, 104
///
/// `CardCreateDirectory`, `CardDeleteDirectory` and `CardCreateFile`: names, access
/// conditions, existing names, missing directories and permissions (directories and files the
/// PIV card cannot hold are simulated, item 105).
#[test]
fn items_95_96_97_104_directories_and_file_creation() {
    let _g = serial();
    let ctx = open();
    let (c, cd) = (&ctx.csp, ctx.cd());
    // Everyone may not create (item 95).
    assert_eq!(raw::create_directory(cd, "app", 1), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(raw::create_file(cd, Some("mscp"), "f", 0, 1), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    for ac in [0, 3, 4, -1] {
        assert_eq!(raw::create_directory(cd, "app", ac), code::SCARD_E_INVALID_PARAMETER, "directory AC {ac}");
    }
    assert_eq!(raw::create_directory(cd, "mscp", 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_directory(cd, "CARDID", 1), code::ERROR_FILE_EXISTS, "a file of that name");
    assert_eq!(raw::create_directory(cd, "app", 1), 0);
    assert_eq!(raw::create_directory(cd, "app", 1), code::ERROR_FILE_EXISTS);
    // CardCreateFile (item 97).
    assert_eq!(raw::create_file(cd, Some("mscp"), "", 0, 1), code::SCARD_E_INVALID_PARAMETER);
    for ac in [0, 4, 7, -1] {
        assert_eq!(raw::create_file(cd, Some("mscp"), "f", 0, ac), code::SCARD_E_INVALID_PARAMETER, "AC {ac}");
    }
    assert_eq!(raw::create_file(cd, Some("mscp"), "cmapfile", 0, 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_file(cd, Some("mscp"), "KXC00", 0, 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_file(cd, None, "mscp", 0, 1), code::ERROR_FILE_EXISTS, "a directory of that name");
    assert_eq!(raw::create_file(cd, Some("nodir"), "f", 0, 1), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(raw::create_file(cd, Some("app"), "f", 100, 1), 0);
    assert_eq!(c.enum_files(Some("app")).unwrap(), ["f"], "it never creates directories, only the file");
    // CardDeleteDirectory (item 96).
    assert_eq!(err(c.delete_directory("nodir")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.delete_directory("app")), code::ERROR_DIR_NOT_EMPTY);
    c.delete_file(Some("app"), "f").unwrap();
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(err(c.delete_directory("app")), code::SCARD_W_SECURITY_VIOLATION, "not authenticated");
    ctx.user();
    c.delete_directory("app").unwrap();
    assert_eq!(err(c.enum_files(Some("app"))), code::SCARD_E_DIR_NOT_FOUND);
    // Directory access conditions (item 104): AdminCreateDeleteDirAc is the admin's only.
    assert_eq!(raw::create_directory(cd, "adm", 2), 0);
    assert_eq!(raw::create_file(cd, Some("adm"), "f", 0, 1), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(err(c.delete_directory("adm")), code::SCARD_W_SECURITY_VIOLATION);
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(err(c.enum_files(Some("adm"))), code::SCARD_E_FILE_NOT_FOUND, "everyone may list it (empty)");
    ctx.admin();
    assert_eq!(raw::create_file(cd, Some("adm"), "f", 0, 1), 0);
    assert_eq!(c.enum_files(Some("adm")).unwrap(), ["f"]);
}

/// Items: 98, 99, 100, 101, 102
///
/// `CardGetFileInfo` (versions, sizes, access), `CardWriteFile` (whole content, growing,
/// missing files, access), `CardDeleteFile`, `CardEnumFiles` (the multi-string, empty and
/// missing directories, everyone lists) and `CardQueryFreeSpace`.
#[test]
fn items_98_99_100_101_102_file_functions() {
    let _g = serial();
    let ctx = open();
    let (c, cd) = (&ctx.csp, ctx.cd());
    // CardGetFileInfo (item 98): version 0 is taken as 1, above 1 is a mismatch.
    assert_eq!(raw::file_info(cd, None, "cardid", 0), (0, 16, 3));
    assert_eq!(raw::file_info(cd, None, "cardid", 1), (0, 16, 3));
    assert_eq!(raw::file_info(cd, None, "cardid", 2).0, code::ERROR_REVISION_MISMATCH);
    let kxc00 = ctx.sim.certificate(0x9A).unwrap();
    assert_eq!(raw::file_info(cd, Some("mscp"), "kxc00", 1), (0, u32::try_from(kxc00.len()).unwrap(), 1));
    assert_eq!(raw::file_info(cd, Some("mscp"), "nofile", 1).0, code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(raw::file_info(cd, Some("nodir"), "f", 1).0, code::SCARD_E_DIR_NOT_FOUND);
    ctx.user();
    c.create_file(Some("mscp"), "secret", 0, 5).unwrap();
    assert_eq!(raw::file_info(cd, Some("mscp"), "secret", 1), (0, 0, 5), "a new file: size 0, its AC");
    // CardWriteFile (item 99): grows and shrinks, replaces the whole content.
    for len in [10, 1000, 3, 0, 2000] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.write_file(Some("mscp"), "secret", &data).unwrap();
        assert_eq!(c.read_file(Some("mscp"), "secret").unwrap(), data);
        assert_eq!(c.file_info(Some("mscp"), "secret").unwrap().0, u32::try_from(len).unwrap());
    }
    assert_eq!(err(c.write_file(Some("mscp"), "nofile", b"x")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.write_file(Some("nodir"), "f", b"x")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.write_file(None, "cardid", &[0; 16])), code::SCARD_W_SECURITY_VIOLATION, "admin writes cardid");
    c.create_file(Some("mscp"), "pub", 0, 1).unwrap();
    c.write_file(Some("mscp"), "pub", b"public").unwrap();
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    // Without authentication: readable files read, the rest is a security violation.
    assert_eq!(c.read_file(Some("mscp"), "pub").unwrap(), b"public");
    assert_eq!(err(c.read_file(Some("mscp"), "secret")), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(raw::file_info(cd, Some("mscp"), "secret", 1).0, code::SCARD_W_SECURITY_VIOLATION, "Read is needed");
    assert_eq!(err(c.write_file(Some("mscp"), "pub", b"x")), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(err(c.write_file(None, "cardcf", &[0; 6])), code::SCARD_W_SECURITY_VIOLATION);
    // CardDeleteFile (item 100).
    assert_eq!(err(c.delete_file(Some("mscp"), "pub")), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    assert_eq!(err(c.delete_file(Some("mscp"), "nofile")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.delete_file(Some("nodir"), "f")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.delete_file(None, "cardid")), code::SCARD_W_SECURITY_VIOLATION, "needs Write on the file");
    c.delete_file(Some("mscp"), "pub").unwrap();
    assert_eq!(err(c.read_file(Some("mscp"), "pub")), code::SCARD_E_FILE_NOT_FOUND);
    // CardEnumFiles (item 101).
    let (rv, block, cb) = raw::enum_files_bytes(cd, Some(b"mscp"));
    assert_eq!(rv, 0);
    assert_eq!(cb as usize, block.len());
    assert_eq!(block, b"cmapfile\0kxc00\0ksc01\0kxc02\0ksc03\0secret\0\0");
    c.create_directory("empty", 1).unwrap();
    assert_eq!(raw::enum_files_bytes(cd, Some(b"empty")).0, code::SCARD_E_FILE_NOT_FOUND, "an empty directory");
    assert_eq!(raw::enum_files_bytes(cd, Some(b"nodir")).0, code::SCARD_E_DIR_NOT_FOUND);
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(raw::enum_files_bytes(cd, None).1, b"cardapps\0cardcf\0cardid\0\0", "everyone lists");
    // CardQueryFreeSpace (item 102).
    assert_eq!(raw::free_space(cd, 0, 1), (0, [1, misc::VALUE_UNKNOWN, 20, 24]));
    assert_eq!(raw::free_space(cd, 0, 0), (0, [1, misc::VALUE_UNKNOWN, 20, 24]));
    assert_eq!(raw::free_space(cd, 0, 2).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(raw::free_space(cd, 1, 1).0, code::SCARD_E_INVALID_PARAMETER);
    ctx.admin();
    c.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    assert_eq!(raw::free_space(cd, 0, 1).1[2], 19, "one container fewer");
}

/// Items: 95, 96, 97, 104
///
/// GIDS: `CardCreateDirectory`, `CardDeleteDirectory` and `CardCreateFile` on the card itself
/// (master file records, GIDS electrical profile): names, access conditions, existing names,
/// missing directories and permissions; what is created is there for the next context.
/// Directories are `UserCreateDeleteDirAc` only: the profile keeps no access condition for a
/// directory, and the specification makes `AdminCreateDeleteDirAc` optional (§5.6.2, "may be
/// removed"), so it is `SCARD_E_UNSUPPORTED_FEATURE`.
#[test]
fn items_95_96_97_104_gids_directories_and_file_creation() {
    let _g = serial();
    let ctx = open_gids();
    let (c, cd) = (&ctx.csp, ctx.cd());
    // Everyone may not create (item 95).
    assert_eq!(raw::create_directory(cd, "app", 1), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(raw::create_file(cd, Some("mscp"), "f", 0, 1), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    for ac in [0, 3, 4, -1] {
        assert_eq!(raw::create_directory(cd, "app", ac), code::SCARD_E_INVALID_PARAMETER, "directory AC {ac}");
    }
    assert_eq!(raw::create_directory(cd, "mscp", 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_directory(cd, "CARDID", 1), code::ERROR_FILE_EXISTS, "a file of that name");
    assert_eq!(raw::create_directory(cd, "cardapps", 1), code::ERROR_FILE_EXISTS, "a file of that name");
    assert_eq!(raw::create_directory(cd, "app", 1), 0);
    assert_eq!(raw::create_directory(cd, "App", 1), code::ERROR_FILE_EXISTS);
    // CardCreateFile (item 97).
    assert_eq!(raw::create_file(cd, Some("mscp"), "", 0, 1), code::SCARD_E_INVALID_PARAMETER);
    for ac in [0, 4, 7, -1] {
        assert_eq!(raw::create_file(cd, Some("mscp"), "f", 0, ac), code::SCARD_E_INVALID_PARAMETER, "AC {ac}");
    }
    assert_eq!(raw::create_file(cd, Some("mscp"), "cmapfile", 0, 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_file(cd, Some("mscp"), "KXC00", 0, 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_file(cd, None, "mscp", 0, 1), code::ERROR_FILE_EXISTS, "a directory of that name");
    assert_eq!(raw::create_file(cd, None, "cardcf", 6, 1), code::ERROR_FILE_EXISTS);
    assert_eq!(raw::create_file(cd, Some("nodir"), "f", 0, 1), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(raw::create_file(cd, Some("app"), "f", 100, 1), 0);
    assert_eq!(c.enum_files(Some("app")).unwrap(), ["f"], "it never creates directories, only the file");
    // On the card: another context sees both.
    let next = ctx.another(&AcquireOptions::default());
    assert_eq!(next.csp.enum_files(Some("app")).unwrap(), ["f"]);
    assert_eq!(next.csp.file_info(Some("app"), "f").unwrap(), (0, 1));
    drop(next);
    // CardDeleteDirectory (item 96).
    assert_eq!(err(c.delete_directory("nodir")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.delete_directory("app")), code::ERROR_DIR_NOT_EMPTY);
    c.delete_file(Some("app"), "f").unwrap();
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(err(c.delete_directory("app")), code::SCARD_W_SECURITY_VIOLATION, "not authenticated");
    ctx.admin();
    c.delete_directory("app").unwrap();
    assert_eq!(err(c.enum_files(Some("app"))), code::SCARD_E_DIR_NOT_FOUND, "the administrator deleted it");
    let next = ctx.another(&AcquireOptions::default());
    assert_eq!(err(next.csp.enum_files(Some("app"))), code::SCARD_E_DIR_NOT_FOUND, "gone from the card");
    // Directory access conditions (item 104): user-created directories, everyone lists them.
    ctx.user();
    assert_eq!(raw::create_directory(cd, "adm", 2), code::SCARD_E_UNSUPPORTED_FEATURE, "AdminCreateDeleteDirAc");
    assert_eq!(raw::create_directory(cd, "usr", 1), 0);
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(err(c.enum_files(Some("usr"))), code::SCARD_E_FILE_NOT_FOUND, "everyone may list it (empty)");
    assert_eq!(raw::create_file(cd, Some("usr"), "f", 0, 1), code::SCARD_W_SECURITY_VIOLATION);
    ctx.admin();
    assert_eq!(raw::create_file(cd, Some("usr"), "f", 0, 1), 0, "the administrator creates files too");
    assert_eq!(c.enum_files(Some("usr")).unwrap(), ["f"]);
    // No room for the directory on the card (item 95): SCARD_E_NO_MEMORY, and nothing changed.
    let small = open_sim(GidsSim::builder(b"checklist-small").capacity(1200).build().unwrap());
    small.user();
    small.csp.create_file(Some("mscp"), "fill", 0, 1).unwrap();
    let filled =
        (0..1200usize).rev().step_by(4).find(|n| small.csp.write_file(Some("mscp"), "fill", &vec![7; *n]).is_ok());
    assert!(filled.is_some_and(|n| n > 500), "{filled:?}");
    assert_eq!(raw::create_directory(small.cd(), "full", 1), code::SCARD_E_NO_MEMORY);
    assert_eq!(err(small.csp.enum_files(Some("full"))), code::SCARD_E_DIR_NOT_FOUND);
    let next = small.another(&AcquireOptions::default());
    assert_eq!(err(next.csp.enum_files(Some("full"))), code::SCARD_E_DIR_NOT_FOUND);
}

/// Items: 98, 99, 100, 101, 102
///
/// GIDS: `CardGetFileInfo` (versions, sizes, the access condition of the file's EF),
/// `CardWriteFile` (whole content, growing and shrinking, missing files, access, and
/// `SCARD_E_WRITE_TOO_MANY` when the card is full), `CardDeleteFile`, `CardEnumFiles` (the
/// multi-string, empty and missing directories, everyone lists) and `CardQueryFreeSpace`
/// (containers from the 126 key references, bytes unknown), all on the card.
#[test]
fn items_98_99_100_101_102_gids_file_functions() {
    let _g = serial();
    let ctx = open_gids();
    let (c, cd) = (&ctx.csp, ctx.cd());
    // CardGetFileInfo (item 98): version 0 is taken as 1, above 1 is a mismatch.
    assert_eq!(raw::file_info(cd, None, "cardid", 0), (0, 16, 3));
    assert_eq!(raw::file_info(cd, None, "cardid", 1), (0, 16, 3));
    assert_eq!(raw::file_info(cd, None, "cardcf", 1), (0, 6, 1));
    assert_eq!(raw::file_info(cd, None, "cardid", 2).0, code::ERROR_REVISION_MISMATCH);
    let kxc00 = ctx.sim.certificate_file(0).unwrap();
    assert_eq!(raw::file_info(cd, Some("mscp"), "kxc00", 1), (0, u32::try_from(kxc00.len()).unwrap(), 1));
    assert_eq!(raw::file_info(cd, Some("mscp"), "nofile", 1).0, code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(raw::file_info(cd, Some("nodir"), "f", 1).0, code::SCARD_E_DIR_NOT_FOUND);
    ctx.user();
    c.create_file(Some("mscp"), "secret", 0, 5).unwrap();
    assert_eq!(raw::file_info(cd, Some("mscp"), "secret", 1), (0, 0, 5), "a new file: size 0, its AC");
    // CardWriteFile (item 99): grows and shrinks, replaces the whole content, on the card.
    for len in [10, 1000, 3, 0, 2000] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.write_file(Some("mscp"), "secret", &data).unwrap();
        assert_eq!(c.read_file(Some("mscp"), "secret").unwrap(), data);
        assert_eq!(c.file_info(Some("mscp"), "secret").unwrap().0, u32::try_from(len).unwrap());
        let next = ctx.another(&AcquireOptions::default());
        next.user();
        assert_eq!(next.csp.read_file(Some("mscp"), "secret").unwrap(), data, "{len} bytes on the card");
    }
    assert_eq!(err(c.write_file(Some("mscp"), "nofile", b"x")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.write_file(Some("nodir"), "f", b"x")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.write_file(None, "cardid", &[0; 16])), code::SCARD_W_SECURITY_VIOLATION, "admin writes cardid");
    c.create_file(Some("mscp"), "pub", 0, 1).unwrap();
    c.write_file(Some("mscp"), "pub", b"public").unwrap();
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    // Without authentication: readable files read, the rest is a security violation.
    assert_eq!(c.read_file(Some("mscp"), "pub").unwrap(), b"public");
    assert_eq!(err(c.read_file(Some("mscp"), "secret")), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(raw::file_info(cd, Some("mscp"), "secret", 1).0, code::SCARD_W_SECURITY_VIOLATION, "Read is needed");
    assert_eq!(err(c.write_file(Some("mscp"), "pub", b"x")), code::SCARD_W_SECURITY_VIOLATION);
    assert_eq!(err(c.write_file(None, "cardcf", &[0; 6])), code::SCARD_W_SECURITY_VIOLATION);
    // CardDeleteFile (item 100).
    assert_eq!(err(c.delete_file(Some("mscp"), "pub")), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    assert_eq!(err(c.delete_file(Some("mscp"), "nofile")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.delete_file(Some("nodir"), "f")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.delete_file(None, "cardid")), code::SCARD_W_SECURITY_VIOLATION, "needs Write on the file");
    c.delete_file(Some("mscp"), "pub").unwrap();
    assert_eq!(err(c.read_file(Some("mscp"), "pub")), code::SCARD_E_FILE_NOT_FOUND);
    let next = ctx.another(&AcquireOptions::default());
    assert_eq!(err(next.csp.read_file(Some("mscp"), "pub")), code::SCARD_E_FILE_NOT_FOUND, "gone from the card");
    drop(next);
    // CardEnumFiles (item 101).
    let (rv, block, cb) = raw::enum_files_bytes(cd, Some(b"mscp"));
    assert_eq!(rv, 0);
    assert_eq!(cb as usize, block.len());
    assert_eq!(block, b"cmapfile\0kxc00\0kxc01\0secret\0\0");
    c.create_directory("empty", 1).unwrap();
    assert_eq!(raw::enum_files_bytes(cd, Some(b"empty")).0, code::SCARD_E_FILE_NOT_FOUND, "an empty directory");
    assert_eq!(raw::enum_files_bytes(cd, Some(b"nodir")).0, code::SCARD_E_DIR_NOT_FOUND);
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    let (_, root, _) = raw::enum_files_bytes(cd, None);
    assert_eq!(root, b"cardid\0cardapps\0cardcf\0\0", "everyone lists (the master file's order)");
    // CardQueryFreeSpace (item 102): 2 of the 126 containers used, bytes unknown.
    assert_eq!(raw::free_space(cd, 0, 1), (0, [1, misc::VALUE_UNKNOWN, 124, 126]));
    assert_eq!(raw::free_space(cd, 0, 0), (0, [1, misc::VALUE_UNKNOWN, 124, 126]));
    assert_eq!(raw::free_space(cd, 0, 2).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(raw::free_space(cd, 1, 1).0, code::SCARD_E_INVALID_PARAMETER);
    ctx.user();
    c.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 1024, None).unwrap();
    assert_eq!(raw::free_space(cd, 0, 1).1[2], 123, "one container fewer");
    // A full card: the write that does not fit is SCARD_E_WRITE_TOO_MANY, and changes nothing.
    let small = open_sim(GidsSim::builder(b"checklist-small").capacity(1200).build().unwrap());
    small.user();
    small.csp.create_file(Some("mscp"), "big", 0, 1).unwrap();
    small.csp.write_file(Some("mscp"), "big", &[1; 100]).unwrap();
    assert_eq!(err(small.csp.write_file(Some("mscp"), "big", &[2; 4000])), code::SCARD_E_WRITE_TOO_MANY);
    assert_eq!(small.csp.read_file(Some("mscp"), "big").unwrap(), [1; 100]);
    let next = small.another(&AcquireOptions::default());
    assert_eq!(next.csp.read_file(Some("mscp"), "big").unwrap(), [1; 100]);
}

/// Items: 103
///
/// The file access conditions through the driver, for everyone, the user and the
/// administrator: read and write of a file of each condition a file can be created with. On
/// both edges: PIV simulates the files, GIDS enforces the conditions on the card (one EF per
/// condition, GIDS electrical profile), and the answers are the same.
#[test]
fn item_103_file_access_conditions() {
    let _g = serial();
    on_both_edges(access_conditions::<PivSim>, access_conditions::<GidsSim>);
}

fn access_conditions<S: SimCard>() {
    let ctx = open_std::<S>();
    let c = &ctx.csp;
    // (name, AC, [everyone R, W], [user R, W], [admin R, W])
    let table: [(&str, i32, [bool; 2], [bool; 2], [bool; 2]); 5] = [
        ("erurw", 1, [true, false], [true, true], [true, true]),
        ("uwx", 2, [false, false], [false, true], [false, true]),
        ("erarw", 3, [true, false], [true, false], [true, true]),
        ("urw", 5, [false, false], [true, true], [true, true]),
        ("arw", 6, [false, false], [false, false], [true, true]),
    ];
    ctx.user();
    for (name, ac, ..) in table {
        c.create_file(Some("mscp"), name, 0, ac).unwrap();
    }
    let check = |who: &str, pick: fn(&([bool; 2], [bool; 2], [bool; 2])) -> [bool; 2]| {
        for (name, ac, e, u, a) in table {
            let [read, write] = pick(&(e, u, a));
            let r = c.read_file(Some("mscp"), name);
            let w = c.write_file(Some("mscp"), name, b"data");
            assert_eq!(r.is_ok(), read, "{who} reads {name} (AC {ac}): {r:?}");
            assert_eq!(w.is_ok(), write, "{who} writes {name} (AC {ac}): {w:?}");
            if !read {
                assert_eq!(err(r), code::SCARD_W_SECURITY_VIOLATION);
            }
            if !write {
                assert_eq!(err(w), code::SCARD_W_SECURITY_VIOLATION);
            }
        }
    };
    check("the user", |t| t.1);
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    check("everyone", |t| t.0);
    ctx.admin();
    check("the administrator", |t| t.2);
}

/// Items: 105, 106, 154, 165
///
/// Write simulation: what the PIV card cannot store (files in `mscp`, a `cmapfile` the CSP
/// rewrites, directories) is kept by the driver for the card's insertion and read back exactly;
/// `cardcf` reads back what the CSP wrote. A reset clears the simulated files and directories
/// (the virtual files come back as derived from the card); the CSP's `cardcf` stays, so the
/// CSP's own cache (stamped with it) keeps what the CSP wrote.
#[test]
fn items_105_106_154_165_write_simulation_lasts_for_the_insertion() {
    let _g = serial();
    // A card the user cannot write (a card that can keeps cmapfile and msroots in Yubico's
    // objects: see abi_enroll).
    let ctx = open_sim(holder_only_card());
    ctx.control.reconnect.store(true, Ordering::SeqCst);
    let c = &ctx.csp;
    let cmap = c.read_file(Some("mscp"), "cmapfile").unwrap();
    let cardcf = c.read_file(None, "cardcf").unwrap();
    ctx.user();
    // cardcf: the CSP's write is read back exactly (item 154).
    let mut bumped = vfs::cardcf::CacheFile::decode(&cardcf).unwrap();
    bumped.bump_containers();
    bumped.bump_files();
    c.write_file(None, "cardcf", &bumped.encode()).unwrap();
    assert_eq!(c.read_file(None, "cardcf").unwrap(), bumped.encode());
    // cmapfile as the CSP rewrites it (item 106: a driver that virtualises it stores it).
    let mut map = vfs::cmapfile::ContainerMap::decode(&cmap).unwrap();
    map.delete(3);
    c.write_file(Some("mscp"), "cmapfile", &map.encode()).unwrap();
    assert_eq!(c.read_file(Some("mscp"), "cmapfile").unwrap(), map.encode());
    // A file and a directory the card cannot hold.
    c.create_file(Some("mscp"), "msroots", 0, 1).unwrap();
    c.write_file(Some("mscp"), "msroots", b"pkcs7").unwrap();
    c.create_directory("app", 1).unwrap();
    c.create_file(Some("app"), "data", 0, 5).unwrap();
    c.write_file(Some("app"), "data", b"kept").unwrap();
    // Served back for the whole insertion, to later calls and deauthentications.
    c.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(c.read_file(Some("mscp"), "msroots").unwrap(), b"pkcs7");
    assert_eq!(c.read_file(None, "cardcf").unwrap(), bumped.encode());
    ctx.user();
    assert_eq!(c.read_file(Some("app"), "data").unwrap(), b"kept");
    // A reset ends the insertion's simulated state.
    ctx.slot.reset();
    let _ = c.get_challenge();
    assert_eq!(err(c.read_file(Some("mscp"), "msroots")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.enum_files(Some("app"))), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(c.read_file(Some("mscp"), "cmapfile").unwrap(), cmap);
    assert_eq!(c.read_file(None, "cardcf").unwrap(), bumped.encode());
}

/// Items: 105, 106, 154, 165
///
/// GIDS: no write simulation (items 105 and 165 do not apply: the card stores every file
/// natively, GIDS electrical profile). Each change made as the Base CSP makes it (read
/// `cardcf`, bump the files counter, write `cardcf`, then the change; Minidriver Specification
/// §5.4.3) is stored on the card, and `cardcf` reads back exactly what the CSP wrote: the
/// driver's own freshness bump is covered by the CSP's (item 154). The CSP's `cmapfile` is
/// stored byte for byte (item 106). Everything is still there after a reset and for the next
/// context (what a write-simulating driver would lose).
#[test]
fn items_105_106_154_165_gids_no_write_simulation_every_write_is_on_the_card() {
    let _g = serial();
    let ctx = open_gids();
    ctx.control.reconnect.store(true, Ordering::SeqCst);
    let c = &ctx.csp;
    ctx.user();
    let cmap = c.read_file(Some("mscp"), "cmapfile").unwrap();
    let mut map = vfs::cmapfile::ContainerMap::decode(&cmap).unwrap();
    map.delete(1);
    let new_map = map.encode();
    let changes: [(&str, Box<dyn Fn()>); 7] = [
        ("create msroots", Box::new(|| c.create_file(Some("mscp"), "msroots", 0, 1).unwrap())),
        ("write msroots", Box::new(|| c.write_file(Some("mscp"), "msroots", b"pkcs7").unwrap())),
        ("create app", Box::new(|| c.create_directory("app", 1).unwrap())),
        ("create app/data", Box::new(|| c.create_file(Some("app"), "data", 0, 5).unwrap())),
        ("write app/data", Box::new(|| c.write_file(Some("app"), "data", b"kept").unwrap())),
        ("rewrite cmapfile", Box::new(|| c.write_file(Some("mscp"), "cmapfile", &new_map).unwrap())),
        ("create app/gone", Box::new(|| c.create_file(Some("app"), "gone", 0, 1).unwrap())),
    ];
    let mut last = Vec::new();
    for (what, change) in &changes {
        let mut cf = vfs::cardcf::CacheFile::decode(&c.read_file(None, "cardcf").unwrap()).unwrap();
        cf.bump_files();
        c.write_file(None, "cardcf", &cf.encode()).unwrap();
        change();
        assert_eq!(c.read_file(None, "cardcf").unwrap(), cf.encode(), "{what}: exactly what the CSP wrote");
        assert_eq!(ctx.sim.data_object(GIDS_CARDCF.0, GIDS_CARDCF.1).unwrap(), cf.encode(), "{what}: on the card");
        last = cf.encode();
    }
    assert_eq!(c.read_file(Some("mscp"), "cmapfile").unwrap(), new_map);
    assert_eq!(err(c.container_info(1)), code::SCARD_E_NO_KEY_CONTAINER, "the CSP's map is the card's map");
    // A reset, then the next context: everything is on the card.
    ctx.slot.reset();
    let _ = c.get_challenge();
    for ctx in [&ctx, &ctx.another(&AcquireOptions::default())] {
        let c = &ctx.csp;
        assert_eq!(c.read_file(None, "cardcf").unwrap(), last);
        assert_eq!(c.read_file(Some("mscp"), "msroots").unwrap(), b"pkcs7");
        assert_eq!(c.read_file(Some("mscp"), "cmapfile").unwrap(), new_map);
        assert_eq!(c.enum_files(Some("app")).unwrap(), ["data", "gone"]);
        ctx.user();
        assert_eq!(c.read_file(Some("app"), "data").unwrap(), b"kept");
        assert_eq!(c.file_info(Some("app"), "data").unwrap(), (4, 5));
    }
}

/// Items: 106, 107, 108, 133
///
/// `cmapfile` records (flags, zero records for empty slots, little-endian sizes that match the
/// key blobs, names of at most 39 characters without `\`, stable across insertions, one
/// default); `cardid` unique per card and equal to `CP_CARD_GUID`; an unprovisioned PIV card
/// already presents the files the card-creation sequence would make.
#[test]
fn items_106_107_108_133_cmapfile_cardid_and_the_blank_card() {
    let _g = serial();
    // A card with 9A and 9D only: record 1 (9C) is a zero record between valid ones.
    let sim = PivSim::builder(b"checklist-cmap")
        .generate(0x9A, KeyAlgorithm::EccP256)
        .generate(0x9D, KeyAlgorithm::EccP384)
        .build()
        .unwrap();
    let ctx = open_sim(sim);
    let bytes = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(bytes.len(), 3 * 86);
    let map = vfs::cmapfile::ContainerMap::decode(&bytes).unwrap();
    assert_eq!(map.records()[0].flags(), 0x03, "the default container: VALID | DEFAULT");
    assert_eq!(map.records()[2].flags(), 0x01);
    assert!(bytes[86..172].iter().all(|b| *b == 0), "an empty slot is a zero record");
    assert_eq!(map.valid().filter(|(_, r)| r.is_default()).count(), 1);
    for (i, r) in map.valid() {
        let name = r.name();
        assert!(name.len() <= 39 && !name.contains('\\'), "{name}");
        let raw = &bytes[i * 86..i * 86 + 86];
        let units: Vec<u16> = raw[..80].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(units[name.len()], 0, "NUL-terminated");
        let (sig, kx) = ctx.csp.container_info(u8::try_from(i).unwrap()).unwrap();
        let blob = if sig.is_empty() { &kx } else { &sig };
        let bits = u16::try_from(dword(&blob[4..8]) * 8).unwrap();
        let (w_sig, w_kx) = (u16::from_le_bytes([raw[82], raw[83]]), u16::from_le_bytes([raw[84], raw[85]]));
        assert_eq!((w_sig, w_kx), if sig.is_empty() { (0, bits) } else { (bits, 0) }, "record {i}");
    }
    assert_eq!(map.records()[2].key_exchange_key_size_bits(), 384, "ECDH P-384 in 9D");
    // Stable across insertions and contexts (item 133), and cardid (item 107).
    let again = ctx.another(&AcquireOptions::default());
    assert_eq!(again.csp.read_file(Some("mscp"), "cmapfile").unwrap(), bytes);
    let cardid = ctx.csp.read_file(None, "cardid").unwrap();
    assert_eq!(cardid.len(), 16);
    assert_eq!(ctx.csp.get_property(prop::CARD_GUID, 0).unwrap(), cardid);
    assert_eq!(again.csp.read_file(None, "cardid").unwrap(), cardid);
    let default = open();
    assert_ne!(default.csp.read_file(None, "cardid").unwrap(), cardid, "another card, another cardid");
    // The blank card (item 108): nothing provisioned, yet every file of card creation is there.
    let blank = open_sim(PivSim::builder(b"checklist-blank").build().unwrap());
    let b = &blank.csp;
    assert_eq!(b.read_file(None, "cardid").unwrap().len(), 16);
    assert_eq!(b.read_file(None, "cardcf").unwrap().len(), 6);
    assert_eq!(b.read_file(None, "cardapps").unwrap(), b"mscp\0\0\0\0");
    assert_eq!(b.enum_files(Some("mscp")).unwrap(), ["cmapfile"]);
    assert!(b.read_file(Some("mscp"), "cmapfile").unwrap().is_empty(), "initially empty");
    blank.admin();
    assert_eq!(err(b.create_file(None, "cardid", 16, 3)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_file(None, "cardcf", 6, 1)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_directory("mscp", 1)), code::ERROR_FILE_EXISTS);
}

// ===== J. Properties =====

/// Items: 106, 107, 108, 133
///
/// GIDS: the `cmapfile` the card stores (one 86-byte record per container, flags VALID | DEFAULT
/// for the first, little-endian sizes equal to the key blobs', GUID names of at most 39
/// characters without `\`), the same for every context; `cardid` (16 bytes, A012/DF20) equal
/// to `CP_CARD_GUID` and unique per card. Item 108 applies as on PIV: an initialised GIDS card
/// without containers already holds every file of the card-creation sequence, which ends at
/// `ERROR_FILE_EXISTS`. A factory-new GIDS card (no file system yet) is initialised with the
/// GIDS electrical profile (Minidriver Specification Appendix C: PIN, administrator key, EFs),
/// which takes commands outside the minidriver interface; the driver reports its missing
/// `cardid` and `cardcf` as missing files, not as a missing key container.
#[test]
fn items_106_107_108_133_gids_cmapfile_cardid_and_the_blank_card() {
    let _g = serial();
    let ctx = open_gids();
    let bytes = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(bytes.len(), 2 * 86);
    assert_eq!(bytes, ctx.sim.data_object(0xA010, 0xDF23).unwrap(), "the card's own cmapfile");
    let map = vfs::cmapfile::ContainerMap::decode(&bytes).unwrap();
    assert_eq!(map.records()[0].flags(), 0x03, "the default container: VALID | DEFAULT");
    assert_eq!(map.records()[1].flags(), 0x01);
    assert_eq!(map.valid().filter(|(_, r)| r.is_default()).count(), 1);
    for (i, r) in map.valid() {
        let name = r.name();
        assert!(name.len() <= 39 && !name.contains('\\'), "{name}");
        let raw = &bytes[i * 86..i * 86 + 86];
        let units: Vec<u16> = raw[..80].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(units[name.len()], 0, "NUL-terminated");
        let (sig, kx) = ctx.csp.container_info(u8::try_from(i).unwrap()).unwrap();
        assert!(sig.is_empty(), "key-exchange containers");
        let bits = u16::try_from(dword(&kx[12..16])).unwrap();
        let (w_sig, w_kx) = (u16::from_le_bytes([raw[82], raw[83]]), u16::from_le_bytes([raw[84], raw[85]]));
        assert_eq!((w_sig, w_kx), (0, bits), "record {i}");
    }
    assert_eq!(map.records()[1].key_exchange_key_size_bits(), 3072, "RSA-3072 in container 1");
    let again = ctx.another(&AcquireOptions::default());
    assert_eq!(again.csp.read_file(Some("mscp"), "cmapfile").unwrap(), bytes);
    let cardid = ctx.csp.read_file(None, "cardid").unwrap();
    assert_eq!(cardid, ctx.sim.cardid());
    assert_eq!(ctx.csp.get_property(prop::CARD_GUID, 0).unwrap(), cardid);
    assert_eq!(again.csp.read_file(None, "cardid").unwrap(), cardid);
    let other = open_sim(GidsSim::other());
    assert_ne!(other.csp.read_file(None, "cardid").unwrap(), cardid, "another card, another cardid");
    // An initialised card without containers (item 108).
    let blank = open_sim(GidsSim::builder(b"checklist-blank").build().unwrap());
    let b = &blank.csp;
    assert_eq!(b.read_file(None, "cardid").unwrap().len(), 16);
    assert_eq!(b.read_file(None, "cardcf").unwrap().len(), 6);
    assert_eq!(b.read_file(None, "cardapps").unwrap(), b"mscp\0\0\0\0");
    assert_eq!(b.enum_files(Some("mscp")).unwrap(), ["cmapfile"]);
    assert!(b.read_file(Some("mscp"), "cmapfile").unwrap().is_empty(), "initially empty");
    blank.user();
    assert_eq!(err(b.create_file(None, "cardid", 16, 3)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_file(None, "cardcf", 6, 1)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_file(None, "cardapps", 8, 1)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_directory("mscp", 1)), code::ERROR_FILE_EXISTS);
    assert_eq!(err(b.create_file(Some("mscp"), "cmapfile", 0, 1)), code::ERROR_FILE_EXISTS);
    // A factory-new card.
    let new = open_sim(GidsSim::factory_new());
    assert_eq!(err(new.csp.read_file(None, "cardid")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(new.csp.read_file(None, "cardcf")), code::SCARD_E_FILE_NOT_FOUND);
}

/// Items: 110, 111, 112
///
/// Every property's size and type; unknown and unused ones refused; buffer rules: the needed
/// size is always reported, a short buffer is `ERROR_INSUFFICIENT_BUFFER`, a NULL `pbData` with
/// a size is `SCARD_E_INVALID_PARAMETER`, and on success `*pdwDataLen` is the bytes written.
/// On both edges.
#[test]
fn items_110_111_112_property_sizes_and_buffers() {
    let _g = serial();
    on_both_edges(property_sizes::<PivSim>, property_sizes::<GidsSim>);
}

fn property_sizes<S: SimCard>() {
    let ctx = open_std::<S>();
    let c = &ctx.csp;
    c.set_property(prop::PIN_CONTEXT_STRING, Some(&utf16_bytes("ctx")), 0).unwrap();
    let sizes: [(&str, u32, usize); 16] = [
        (prop::FREE_SPACE, 0, 16),
        (prop::CAPABILITIES, 0, 12),
        (prop::KEY_SIZES, keyspec::AT_KEYEXCHANGE, 20),
        (prop::READ_ONLY, 0, 4),
        (prop::CACHE_MODE, 0, 4),
        (prop::X509_ENROLLMENT, 0, 4),
        (prop::CARD_GUID, 0, 16),
        (prop::PIN_INFO, 1, 36),
        (prop::LIST_PINS, 0, 4),
        (prop::AUTHENTICATED_STATE, 0, 4),
        (prop::PIN_STRENGTH_VERIFY, 1, 4),
        (prop::PARENT_WINDOW, 0, 8),
        (prop::PIN_CONTEXT_STRING, 0, 8),
        (prop::KEY_IMPORT_SUPPORT, 0, 4),
        (prop::PADDING_SCHEMES, prop::ASYMMETRIC_OPERATION, 4),
        (prop::SERIAL_NO, 0, S::SERIAL_LEN),
    ];
    for (name, flags, len) in sizes {
        assert_eq!(c.get_property(name, flags).unwrap().len(), len, "{name}");
        // A buffer one byte short: the needed size and ERROR_INSUFFICIENT_BUFFER.
        let cap = u32::try_from(len - 1).unwrap();
        let (rv, needed, _) = c.get_property_sized(name, flags, cap);
        assert_eq!((rv.0, needed as usize), (code::ERROR_INSUFFICIENT_BUFFER, len), "{name}");
        // A larger buffer: success and the bytes written.
        let (rv, written, _) = c.get_property_sized(name, flags, 64);
        assert_eq!((rv.0, written as usize), (0, len), "{name}");
    }
    for (name, flags) in [(prop::ENUM_ALGORITHMS, prop::ASYMMETRIC_OPERATION), (prop::CHAINING_MODES, 0)] {
        let v = c.get_property(name, flags).unwrap();
        assert!(v.len() >= 2 && v.ends_with(&[0, 0]) && v.len().is_multiple_of(2), "{name}: a UTF-16 multi-string");
    }
    assert_eq!(c.get_property(prop::ENUM_ALGORITHMS, prop::CIPHER_OPERATION).unwrap(), [0, 0], "no symmetric keys");
    assert_eq!(err(c.get_property("Card Colour", 0)), code::SCARD_E_INVALID_PARAMETER);
    for name in [prop::PIN_STRENGTH_CHANGE, prop::PIN_STRENGTH_UNBLOCK] {
        assert_eq!(err(c.get_property(name, 0)), code::SCARD_E_UNSUPPORTED_FEATURE, "{name}: not used");
    }
}

/// Items: 113, 117, 161, 162, 163, 164
///
/// `CP_CARD_READ_ONLY` is FALSE for a PIV card (it writes certificates with the management key
/// and simulates the rest) and for a GIDS card (it stores every file). An administrator can switch a context to read-only mode; the card
/// then presents itself as a read-only card: every write is `SCARD_E_UNSUPPORTED_FEATURE`
/// (not `SCARD_E_READ_ONLY_CARD`), no space and no key generation are offered, only the parent
/// window and the PIN context string can be set, and reading, signing and PINs work as before.
/// On both edges.
#[test]
fn items_113_117_161_162_163_164_read_only_mode() {
    let _g = serial();
    on_both_edges(read_only_mode::<PivSim>, read_only_mode::<GidsSim>);
}

fn read_only_mode<S: SimCard>() {
    let ctx = open_std::<S>();
    let (c, cd) = (&ctx.csp, ctx.cd());
    assert_eq!(dword(&c.get_property(prop::READ_ONLY, 0).unwrap()), 0, "neither a PIV nor a GIDS card is read-only");
    assert_eq!(c.query_capabilities().unwrap(), S::CAPABILITIES);
    let on = 1u32.to_le_bytes();
    assert_eq!(raw::set_property(cd, prop::READ_ONLY, Some(&on), 0), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    assert_eq!(raw::set_property(cd, prop::READ_ONLY, Some(&on), 0), code::SCARD_W_SECURITY_VIOLATION, "admin only");
    ctx.admin();
    assert_eq!(raw::set_property(cd, prop::READ_ONLY, Some(&on), 0), 0);
    assert_eq!(dword(&c.get_property(prop::READ_ONLY, 0).unwrap()), 1, "advertised (item 161)");
    // Item 163: the "No" entry points are SCARD_E_UNSUPPORTED_FEATURE.
    let unsupported = [
        ("CardCreateDirectory", raw::create_directory(cd, "app", 1)),
        ("CardDeleteDirectory", err(c.delete_directory("mscp"))),
        ("CardCreateFile", raw::create_file(cd, Some("mscp"), "f", 0, 1)),
        ("CardWriteFile", err(c.write_file(None, "cardcf", &[0; 6]))),
        ("CardDeleteFile", err(c.delete_file(Some("mscp"), "kxc00"))),
        ("CardCreateContainer", err(c.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None))),
        ("CardCreateContainerEx", err(c.create_container_ex(4, 1, keyspec::AT_ECDHE_P256, 0, 1))),
        ("CardDeleteContainer", err(c.delete_container(0))),
        ("CardSetContainerProperty", raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &1u32.to_le_bytes(), 0)),
    ];
    for (what, rv) in unsupported {
        assert_eq!(rv, code::SCARD_E_UNSUPPORTED_FEATURE, "{what}");
    }
    // Item 164: no space, no key generation, no enrollment.
    assert_eq!(raw::free_space(cd, 0, 1).1[1..3], [0, 0]);
    assert_eq!(dword(&c.get_property(prop::FREE_SPACE, 0).unwrap()[4..]), 0);
    assert_eq!(c.query_capabilities().unwrap(), (S::CAPABILITIES.0, false));
    assert_eq!(c.get_property(prop::CAPABILITIES, 0).unwrap()[8..], [0, 0, 0, 0]);
    assert_eq!(dword(&c.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 0);
    // Item 117: only the parent window and the PIN context string can be set.
    assert_eq!(raw::set_property(cd, prop::PARENT_WINDOW, Some(&0usize.to_le_bytes()), 0), 0);
    assert_eq!(raw::set_property(cd, prop::PIN_CONTEXT_STRING, None, 0), 0);
    for (name, value) in [
        (prop::CACHE_MODE, 3u32.to_le_bytes().to_vec()),
        (prop::X509_ENROLLMENT, 1u32.to_le_bytes().to_vec()),
        (prop::CARD_GUID, vec![7; 16]),
        (prop::SERIAL_NO, vec![1; 4]),
    ] {
        let rv = raw::set_property(cd, name, Some(&value), 0);
        assert!(rv == code::SCARD_E_UNSUPPORTED_FEATURE || rv == code::SCARD_W_SECURITY_VIOLATION, "{name}: {rv:#x}");
    }
    // Item 162: what a read-only card must still do.
    let hash = Sha256::digest(b"read-only").to_vec();
    c.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    assert_eq!(c.read_file(Some("mscp"), "kxc00").unwrap(), ctx.sim.certificate_file(0).unwrap());
    c.enum_files(Some("mscp")).unwrap();
    c.file_info(None, "cardid").unwrap();
    c.container_info(1).unwrap();
    c.get_container_property(0, prop::PIN_IDENTIFIER).unwrap();
    c.query_key_sizes(if S::ECDH { keyspec::AT_ECDSA_P256 } else { keyspec::AT_KEYEXCHANGE }).unwrap();
    c.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap();
    c.authenticate_pin("user", b"123456").unwrap();
    // CP_CARD_READ_ONLY itself stays the administrator's (§4.5.5): back to read-write. (GIDS:
    // deauthenticating the user ended the administrator's authentication too, item 80.)
    ctx.admin();
    assert_eq!(raw::set_property(cd, prop::READ_ONLY, Some(&0u32.to_le_bytes()), 0), 0);
    if S::ECDH {
        c.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    } else {
        c.create_container(4, 1, keyspec::AT_KEYEXCHANGE, 1024, None).unwrap();
    }
    assert_eq!(c.query_capabilities().unwrap(), S::CAPABILITIES);
}

/// Items: 114, 115, 116
///
/// `CardSetProperty`: flags, unsupported and read-only properties; the administrator's
/// properties need `ROLE_ADMIN`, and once set are honoured (the cache mode decides whether the
/// CSP's cache is used; the GUID is the one `cardid` shows, whether set by property or by
/// writing `cardid`, on the card); `PIN_INFO` cannot change on either edge; the parent window and
/// the context string are everyone's, checked and copied. On both edges.
#[test]
fn items_114_115_116_set_property() {
    let _g = serial();
    on_both_edges(set_property::<PivSim>, set_property::<GidsSim>);
}

fn set_property<S: SimCard>() {
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let ctx = open_with(S::standard(), &options).unwrap();
    let (c, cd) = (&ctx.csp, ctx.cd());
    let hwnd = 0x42usize.to_le_bytes();
    // Item 114.
    assert_eq!(raw::set_property(cd, prop::PARENT_WINDOW, Some(&hwnd), 1), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_property(cd, "Card Colour", Some(&[1]), 0), code::SCARD_E_UNSUPPORTED_FEATURE);
    for name in [
        prop::FREE_SPACE,
        prop::CAPABILITIES,
        prop::KEY_SIZES,
        prop::LIST_PINS,
        prop::AUTHENTICATED_STATE,
        prop::KEY_IMPORT_SUPPORT,
        prop::ENUM_ALGORITHMS,
        prop::PADDING_SCHEMES,
        prop::CHAINING_MODES,
    ] {
        let rv = raw::set_property(cd, name, Some(&[0; 20]), 0);
        assert!(rv == code::SCARD_E_UNSUPPORTED_FEATURE || rv == code::SCARD_W_SECURITY_VIOLATION, "{name}: {rv:#x}");
    }
    // Item 116: the parent window is an HWND (8 bytes; 0 allowed); the context string is copied.
    assert_eq!(raw::set_property(cd, prop::PARENT_WINDOW, Some(&hwnd[..4]), 0), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_property(cd, prop::PARENT_WINDOW, Some(&0usize.to_le_bytes()), 0), 0);
    assert_eq!(raw::set_property(cd, prop::PARENT_WINDOW, Some(&hwnd), 0), 0);
    assert_eq!(c.get_property(prop::PARENT_WINDOW, 0).unwrap(), hwnd);
    let mut text = utf16_bytes("Sign the lease");
    assert_eq!(raw::set_property(cd, prop::PIN_CONTEXT_STRING, Some(&text), 0), 0);
    text.fill(0x41);
    drop(text);
    assert_eq!(c.get_property(prop::PIN_CONTEXT_STRING, 0).unwrap(), utf16_bytes("Sign the lease"));
    assert_eq!(raw::set_property(cd, prop::PIN_CONTEXT_STRING, None, 0), 0, "pbData may be NULL");
    // Item 115: the administrator's properties.
    let admin_props: [(&str, Vec<u8>, u32); 6] = [
        (prop::CACHE_MODE, 3u32.to_le_bytes().to_vec(), 0),
        (prop::X509_ENROLLMENT, 1u32.to_le_bytes().to_vec(), 0),
        (prop::CARD_GUID, vec![0x5A; 16], 0),
        (prop::SERIAL_NO, vec![1; 25], 0),
        (prop::PIN_INFO, c.get_property(prop::PIN_INFO, 1).unwrap(), 1),
        (prop::PIN_STRENGTH_VERIFY, 1u32.to_le_bytes().to_vec(), 1),
    ];
    ctx.user();
    for (name, value, flags) in &admin_props {
        assert_eq!(raw::set_property(cd, name, Some(value), *flags), code::SCARD_W_SECURITY_VIOLATION, "{name}");
    }
    ctx.admin();
    // What PIV cannot change is unsupported (a PIN_INFO it cannot honour included).
    for (name, value, flags) in &admin_props[3..] {
        assert_eq!(raw::set_property(cd, name, Some(value), *flags), code::SCARD_E_UNSUPPORTED_FEATURE, "{name}");
    }
    // The cache mode is honoured: NO_CACHE, and the CSP's cache is no longer used.
    assert_eq!(raw::set_property(cd, prop::CACHE_MODE, Some(&3u32.to_le_bytes()), 0), 0);
    assert_eq!(dword(&c.get_property(prop::CACHE_MODE, 0).unwrap()), prop::CACHE_MODE_NO_CACHE);
    assert_eq!(raw::set_property(cd, prop::CACHE_MODE, Some(&4u32.to_le_bytes()), 0), code::SCARD_E_INVALID_PARAMETER);
    let counts = || {
        let c = cache.lock().unwrap();
        (c.lookups, c.adds)
    };
    let before = counts();
    c.read_file(Some("mscp"), "cmapfile").unwrap();
    c.read_file(Some("mscp"), "kxc00").unwrap();
    assert_eq!(counts(), before, "NO_CACHE: no cache callback");
    assert_eq!(raw::set_property(cd, prop::X509_ENROLLMENT, Some(&1u32.to_le_bytes()), 0), 0);
    assert_eq!(dword(&c.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
    // The GUID: by property, then by cardid, read back the same both ways.
    assert_eq!(raw::set_property(cd, prop::CARD_GUID, Some(&[0x5A; 16]), 0), 0);
    assert_eq!(c.read_file(None, "cardid").unwrap(), [0x5A; 16]);
    assert_eq!(c.get_property(prop::CARD_GUID, 0).unwrap(), [0x5A; 16]);
    assert_eq!(ctx.sim.cardid(), [0x5A; 16], "written to the card (PIV: its CHUID; GIDS: cardid A012/DF20)");
    c.write_file(None, "cardid", &[0xA5; 16]).unwrap();
    assert_eq!(c.get_property(prop::CARD_GUID, 0).unwrap(), [0xA5; 16]);
    assert_eq!(c.read_file(None, "cardid").unwrap(), [0xA5; 16]);
    assert_eq!(raw::set_property(cd, prop::CARD_GUID, Some(&[1; 15]), 0), code::SCARD_E_INVALID_PARAMETER);
}

/// Items: 118, 119
///
/// `CardQueryCapabilities` (version 0 or 1, equal to `CP_CARD_CAPABILITIES`) and
/// `CardQueryKeySizes` (flags, undefined and unsupported key specs, ECC sizes with increment 1,
/// equal to `CP_CARD_KEYSIZES`).
#[test]
fn items_118_119_capabilities_and_key_sizes() {
    let _g = serial();
    let ctx = open();
    let (c, cd) = (&ctx.csp, ctx.cd());
    for version in [0, 1] {
        assert_eq!(raw::capabilities(cd, version), (0, [1, 1, 1]), "version {version}");
    }
    assert_eq!(raw::capabilities(cd, 2).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(c.get_property(prop::CAPABILITIES, 0).unwrap(), [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    let expected = [
        (keyspec::AT_KEYEXCHANGE, [1, 1024, 2048, 4096, 1024]),
        (keyspec::AT_SIGNATURE, [1, 1024, 2048, 4096, 1024]),
        (keyspec::AT_ECDSA_P256, [1, 256, 256, 256, 1]),
        (keyspec::AT_ECDSA_P384, [1, 384, 384, 384, 1]),
        (keyspec::AT_ECDHE_P256, [1, 256, 256, 256, 1]),
        (keyspec::AT_ECDHE_P384, [1, 384, 384, 384, 1]),
    ];
    for (spec, sizes) in expected {
        let (rv, got) = raw::query_key_sizes(cd, spec, 0);
        assert_eq!((rv, got), (0, sizes), "key spec {spec}");
        let prop_value: Vec<u32> = c.get_property(prop::KEY_SIZES, spec).unwrap().chunks(4).map(dword).collect();
        assert_eq!(prop_value, sizes, "CP_CARD_KEYSIZES for {spec}");
    }
    for spec in [keyspec::AT_ECDSA_P521, keyspec::AT_ECDHE_P521] {
        assert_eq!(raw::query_key_sizes(cd, spec, 0).0, code::SCARD_E_UNSUPPORTED_FEATURE, "defined, unsupported");
    }
    for spec in [0, 9, 0x100] {
        assert_eq!(raw::query_key_sizes(cd, spec, 0).0, code::SCARD_E_INVALID_PARAMETER, "undefined {spec}");
    }
    assert_eq!(raw::query_key_sizes(cd, keyspec::AT_ECDSA_P256, 1).0, code::SCARD_E_INVALID_PARAMETER);
}

/// Items: 120, 121
///
/// Container properties: `CCP_CONTAINER_INFO`, `CCP_PIN_IDENTIFIER`, `CCP_ASSOCIATED_ECDH_KEY`;
/// flags, unknown properties, short buffers, missing containers; setting the PIN identifier
/// (user or admin only, never ROLE_ADMIN, fixed per PIV slot) and the associated ECDH key.
#[test]
fn items_120_121_container_properties() {
    let _g = serial();
    let sim = PivSim::builder(b"checklist-ccp")
        .generate(0x9A, KeyAlgorithm::EccP256)
        .generate(0x9D, KeyAlgorithm::EccP256)
        .generate(0x82, KeyAlgorithm::EccP256)
        .build()
        .unwrap();
    let ctx = open_sim(sim);
    let cd = ctx.cd();
    // CardGetContainerProperty (item 120).
    let (rv, needed, _) = raw::container_property(cd, 0, prop::CONTAINER_INFO, 39, 0);
    assert_eq!((rv, needed), (code::ERROR_INSUFFICIENT_BUFFER, 40));
    assert_eq!(raw::container_property(cd, 0, prop::CONTAINER_INFO, 40, 0).0, 0);
    let (rv, needed, pin_id) = raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 4, 0);
    assert_eq!((rv, needed, dword(&pin_id)), (0, 4, pin::ROLE_USER));
    let (rv, needed, _) = raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 3, 0);
    assert_eq!((rv, needed), (code::ERROR_INSUFFICIENT_BUFFER, 4));
    assert_eq!(raw::container_property(cd, 0, "Colour", 64, 0).0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 64, 1).0, code::SCARD_E_INVALID_PARAMETER);
    for index in [1, 3, 30, 255] {
        for name in [prop::CONTAINER_INFO, prop::PIN_IDENTIFIER, prop::ASSOCIATED_ECDH_KEY] {
            let rv = raw::container_property(cd, index, name, 64, 0).0;
            assert_eq!(rv, code::SCARD_E_NO_KEY_CONTAINER, "{name} of empty container {index}");
        }
    }
    let (rv, _, assoc) = raw::container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, 64, 0);
    assert_eq!((rv, assoc[0]), (0, 2), "9A's ECDSA key is paired with 9D's ECDH key");
    // CardSetContainerProperty (item 121).
    let one = pin::ROLE_USER.to_le_bytes();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 0), code::SCARD_W_SECURITY_VIOLATION);
    ctx.user();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 1), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_container_property(cd, 0, "Colour", &one, 0), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_container_property(cd, 1, prop::PIN_IDENTIFIER, &one, 0), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 0), 0, "its current PIN");
    let admin = pin::ROLE_ADMIN.to_le_bytes();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &admin, 0), code::SCARD_E_INVALID_PARAMETER);
    let three = 3u32.to_le_bytes();
    assert_eq!(
        raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &three, 0),
        code::SCARD_E_UNSUPPORTED_FEATURE,
        "a PIV slot's PIN policy is fixed"
    );
    assert_eq!(raw::set_container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, &[4], 0), 0);
    assert_eq!(raw::container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, 64, 0).2[0], 4);
    assert_eq!(
        raw::set_container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, &[0], 0),
        code::SCARD_E_INVALID_PARAMETER,
        "not an ECDH key"
    );
    assert_eq!(raw::set_container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, &[9], 0), code::SCARD_E_NO_KEY_CONTAINER);
}

// ===== K. Key containers and public-key blobs =====

/// Items: 118, 119
///
/// GIDS: `CardQueryCapabilities` (version 0 or 1, equal to `CP_CARD_CAPABILITIES`):
/// `fCertificateCompression` FALSE (the card stores the CSP's own compressed certificate
/// files, `01 00 | LE16 length | zlib(DER)`, so the CSP compresses) and `fKeyGen` TRUE;
/// `CardQueryKeySizes`: RSA 1024 to 4096 in steps of 1024 (default 2048) for both RSA key specs,
/// every ECC key spec defined but unsupported, undefined ones invalid, equal to
/// `CP_CARD_KEYSIZES`.
#[test]
fn items_118_119_gids_capabilities_and_key_sizes() {
    let _g = serial();
    let ctx = open_gids();
    let (c, cd) = (&ctx.csp, ctx.cd());
    for version in [0, 1] {
        assert_eq!(raw::capabilities(cd, version), (0, [1, 0, 1]), "version {version}");
    }
    assert_eq!(raw::capabilities(cd, 2).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(c.get_property(prop::CAPABILITIES, 0).unwrap(), [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    // The card does hold the CSP's compressed form: kxc00 decompresses to the certificate of
    // container 0's key.
    let file = c.read_file(Some("mscp"), "kxc00").unwrap();
    assert_eq!(&file[..2], &[0x01, 0x00]);
    let der = card_sim::gids::decompress_certificate(&file).unwrap();
    assert_eq!(usize::from(u16::from_le_bytes([file[2], file[3]])), der.len());
    assert_eq!(card_edges::key::PublicKey::from_certificate(&der).unwrap().spki(), ctx.sim.container_spki(0).unwrap());
    assert_eq!(compressed_certificate(&der), file, "zlib at the default level, as the card stores it");
    for spec in [keyspec::AT_KEYEXCHANGE, keyspec::AT_SIGNATURE] {
        let (rv, got) = raw::query_key_sizes(cd, spec, 0);
        assert_eq!((rv, got), (0, [1, 1024, 2048, 4096, 1024]), "key spec {spec}");
        let prop_value: Vec<u32> = c.get_property(prop::KEY_SIZES, spec).unwrap().chunks(4).map(dword).collect();
        assert_eq!(prop_value, [1, 1024, 2048, 4096, 1024], "CP_CARD_KEYSIZES for {spec}");
    }
    for spec in keyspec::AT_ECDSA_P256..=keyspec::AT_ECDHE_P521 {
        assert_eq!(
            raw::query_key_sizes(cd, spec, 0).0,
            code::SCARD_E_UNSUPPORTED_FEATURE,
            "ECC {spec}: defined, unsupported"
        );
        assert_eq!(err(c.get_property(prop::KEY_SIZES, spec)), code::SCARD_E_UNSUPPORTED_FEATURE);
    }
    for spec in [0, 9, 0x100] {
        assert_eq!(raw::query_key_sizes(cd, spec, 0).0, code::SCARD_E_INVALID_PARAMETER, "undefined {spec}");
    }
    assert_eq!(raw::query_key_sizes(cd, keyspec::AT_KEYEXCHANGE, 1).0, code::SCARD_E_INVALID_PARAMETER);
    // What the sizes say is what the card generates.
    ctx.user();
    for bits in [1024, 2048] {
        c.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_SIGNATURE, bits, None).unwrap();
        assert_eq!(dword(&c.container_info(2).unwrap().0[12..16]), bits);
    }
    assert_eq!(
        err(c.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_SIGNATURE, 5120, None)),
        code::SCARD_E_INVALID_PARAMETER
    );
}

/// Items: 120, 121
///
/// GIDS: container properties: `CCP_CONTAINER_INFO` (40 bytes, short buffers), `CCP_PIN_IDENTIFIER`
/// (every key is guarded by the user PIN), `CCP_ASSOCIATED_ECDH_KEY` (no ECDH keys: unsupported
/// to read, invalid to set); flags, unknown properties, missing containers; setting the PIN
/// identifier (user or admin authentication needed, never ROLE_ADMIN, only the user PIN).
#[test]
fn items_120_121_gids_container_properties() {
    let _g = serial();
    let ctx = open_gids();
    let cd = ctx.cd();
    // CardGetContainerProperty (item 120).
    let (rv, needed, _) = raw::container_property(cd, 0, prop::CONTAINER_INFO, 39, 0);
    assert_eq!((rv, needed), (code::ERROR_INSUFFICIENT_BUFFER, 40));
    assert_eq!(raw::container_property(cd, 0, prop::CONTAINER_INFO, 40, 0).0, 0);
    assert_eq!(ctx.csp.get_container_property(1, prop::CONTAINER_INFO).unwrap(), ctx.csp.container_info(1).unwrap().1);
    for index in [0, 1] {
        let (rv, needed, pin_id) = raw::container_property(cd, index, prop::PIN_IDENTIFIER, 4, 0);
        assert_eq!((rv, needed, dword(&pin_id)), (0, 4, pin::ROLE_USER));
    }
    let (rv, needed, _) = raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 3, 0);
    assert_eq!((rv, needed), (code::ERROR_INSUFFICIENT_BUFFER, 4));
    assert_eq!(raw::container_property(cd, 0, "Colour", 64, 0).0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::container_property(cd, 0, prop::PIN_IDENTIFIER, 64, 1).0, code::SCARD_E_INVALID_PARAMETER);
    for index in [2, 3, 125, 126, 255] {
        for name in [prop::CONTAINER_INFO, prop::PIN_IDENTIFIER, prop::ASSOCIATED_ECDH_KEY] {
            let rv = raw::container_property(cd, index, name, 64, 0).0;
            assert_eq!(rv, code::SCARD_E_NO_KEY_CONTAINER, "{name} of empty container {index}");
        }
    }
    assert_eq!(
        raw::container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, 64, 0).0,
        code::SCARD_E_UNSUPPORTED_FEATURE,
        "an RSA key has no associated ECDH key"
    );
    // CardSetContainerProperty (item 121).
    let one = pin::ROLE_USER.to_le_bytes();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 0), code::SCARD_W_SECURITY_VIOLATION);
    ctx.admin();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 0), 0, "the admin PIN may update it");
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    ctx.user();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 1), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_container_property(cd, 0, "Colour", &one, 0), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::set_container_property(cd, 2, prop::PIN_IDENTIFIER, &one, 0), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &one, 0), 0, "its current PIN");
    let admin = pin::ROLE_ADMIN.to_le_bytes();
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &admin, 0), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(
        raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &3u32.to_le_bytes(), 0),
        code::SCARD_E_UNSUPPORTED_FEATURE,
        "GIDS keys are guarded by the user PIN"
    );
    assert_eq!(raw::set_container_property(cd, 0, prop::PIN_IDENTIFIER, &[1, 0], 0), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(
        raw::set_container_property(cd, 0, prop::ASSOCIATED_ECDH_KEY, &[1], 0),
        code::SCARD_E_INVALID_PARAMETER,
        "no ECDH key to associate"
    );
    assert_eq!(raw::set_container_property(cd, 9, prop::ASSOCIATED_ECDH_KEY, &[1], 0), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(ctx.csp.get_container_property(0, prop::PIN_IDENTIFIER).unwrap(), one, "unchanged");
}

/// Items: 9, 122, 123, 124, 125, 128, 129, 130, 131, 132
///
/// Containers: the CSP's index is the PIV slot (index 4 = retired slot 82, its cmapfile record
/// and its key); key generation's key specs and sizes (undefined specs, wrong sizes, P-521 and
/// imports unsupported, checked first and without card I/O); out-of-range indexes; overwriting;
/// `CardCreateContainerEx`'s PIN id; deleting what is not there; `CardGetContainerInfo`'s
/// versions and empty containers; ECC blobs of both kinds and sizes.
#[test]
fn items_122_to_125_128_to_132_containers() {
    let _g = serial();
    let ctx = open_sim(
        PivSim::builder(b"checklist-keys")
            .generate(0x9A, KeyAlgorithm::EccP384)
            .generate(0x9D, KeyAlgorithm::EccP384)
            .build()
            .unwrap(),
    );
    let cd = ctx.cd();
    ctx.user();
    ctx.admin();
    // Checked before card I/O, unsupported conditions first (items 9, 123, 124).
    let apdus = ctx.apdus();
    let refused = [
        ("KEY_IMPORT with a blob", raw::create_container(cd, 4, 2, 1, 2048, Some(&[7, 2, 0, 0, 0, 0xA4, 0, 0]), None)),
        ("KEY_IMPORT without a blob", raw::create_container(cd, 4, 2, 1, 2048, None, None)),
        ("KEY_IMPORT, Ex, PinId 9", raw::create_container(cd, 4, 2, 1, 2048, None, Some(9))),
        ("P-521 ECDSA", raw::create_container(cd, 4, 1, keyspec::AT_ECDSA_P521, 0, None, None)),
        ("P-521 ECDH, Ex, PinId 9", raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P521, 0, None, Some(9))),
    ];
    for (what, rv) in refused {
        assert_eq!(rv, code::SCARD_E_UNSUPPORTED_FEATURE, "{what}");
    }
    let invalid = [
        ("flags 0", raw::create_container(cd, 4, 0, keyspec::AT_ECDHE_P256, 0, None, None)),
        ("flags 3", raw::create_container(cd, 4, 3, keyspec::AT_ECDHE_P256, 0, None, None)),
        ("key spec 0", raw::create_container(cd, 4, 1, 0, 0, None, None)),
        ("key spec 9", raw::create_container(cd, 4, 1, 9, 0, None, None)),
        ("ECC key size 123", raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P256, 123, None, None)),
        ("RSA key size 1000", raw::create_container(cd, 4, 1, keyspec::AT_KEYEXCHANGE, 1000, None, None)),
        ("Ex PinId 8", raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P256, 0, None, Some(8))),
        ("Ex ROLE_ADMIN", raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P256, 0, None, Some(pin::ROLE_ADMIN))),
    ];
    for (what, rv) in invalid {
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "{what}");
    }
    assert_eq!(ctx.apdus(), apdus, "no card I/O for a refused request");
    // Index = slot (item 122); out of range (item 125).
    for index in [24, 100, 255] {
        let rv = raw::create_container(cd, index, 1, keyspec::AT_ECDHE_P256, 0, None, None);
        assert_eq!(rv, code::SCARD_E_NO_KEY_CONTAINER, "index {index}");
    }
    assert_eq!(raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P256, 0, None, None), 0);
    let first = ctx.csp.container_info(4).unwrap().1;
    assert_eq!(&first[..8], &[0x45, 0x43, 0x4B, 0x31, 32, 0, 0, 0], "BCRYPT_ECDH_PUBLIC_P256_MAGIC, cbKey 32");
    let slot82 = ctx.sim.public_key(0x82).unwrap();
    assert_eq!(&slot82[slot82.len() - 64..], &first[8..], "container 4 is the key in slot 82");
    // Overwritten by a new key (item 125); Ex with the slot's own PIN (item 128).
    let rv = raw::create_container(cd, 4, 1, keyspec::AT_ECDHE_P256, 256, None, Some(pin::ROLE_USER));
    assert_eq!(rv, 0);
    let second = ctx.csp.container_info(4).unwrap().1;
    assert_ne!(second, first, "the existing container was overwritten");
    let rv = raw::create_container(cd, 5, 1, keyspec::AT_ECDHE_P256, 0, None, Some(3));
    assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "a retired slot is guarded by the user PIN, not PIN 3");
    assert_eq!(ctx.csp.get_container_property(4, prop::PIN_IDENTIFIER).unwrap(), pin::ROLE_USER.to_le_bytes());
    // CardDeleteContainer (item 129): nothing there is success.
    for index in [5, 23, 24, 255] {
        assert_eq!(raw::delete_container(cd, index, 0), 0, "index {index}");
    }
    // CardGetContainerInfo (item 130): versions, empty containers, no authentication needed.
    assert_eq!(raw::structure_version_codes(cd, 2).iter().filter(|(w, _)| w.contains("Container")).count(), 2);
    for (what, rv) in raw::structure_version_codes(cd, 2) {
        assert_eq!(rv, code::ERROR_REVISION_MISMATCH, "{what} version 2");
    }
    for (what, rv) in raw::structure_version_codes(cd, 0) {
        assert_eq!(rv, 0, "{what} version 0 is taken as 1");
    }
    ctx.csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap();
    for index in [1, 3, 5, 24, 255] {
        assert_eq!(raw::container_info_blobs(cd, index, 0).0, code::SCARD_E_NO_KEY_CONTAINER, "index {index}");
    }
    // ECC blobs (items 131, 132): ECDSA in the signature slot, ECDH in the key-exchange slot.
    let (rv, sig, kx) = raw::container_info_blobs(cd, 0, 0);
    assert_eq!(rv, 0);
    assert!(kx.is_none(), "an absent key: NULL and 0");
    let sig = sig.unwrap();
    assert_eq!((dword(&sig), dword(&sig[4..]), sig.len()), (crypt::ECDSA_PUBLIC_P384_MAGIC, 48, 8 + 96));
    let (_, sig, kx) = raw::container_info_blobs(cd, 2, 0);
    assert!(sig.is_none());
    let kx = kx.unwrap();
    assert_eq!((dword(&kx), dword(&kx[4..]), kx.len()), (crypt::ECDH_PUBLIC_P384_MAGIC, 48, 8 + 96));
    let spki = ctx.sim.public_key(0x9D).unwrap();
    assert_eq!(&spki[spki.len() - 96..], &kx[8..], "X || Y, big-endian");
}

/// Items: 127
///
/// Deviation, by PIV's design: creating a container (key generation) needs the card
/// management key, i.e. ROLE_ADMIN, and the user PIN alone is refused by the card — the
/// opposite of the specification's "only users create containers". The driver reports
/// `CP_SUPPORTS_WIN_X509_ENROLLMENT` FALSE so the CSP does not try; keys are generated by an
/// administrator (`mdtool keygen`).
#[test]
fn item_127_container_creation_needs_the_piv_management_key() {
    let _g = serial();
    // A management key only its holder knows: the user alone is refused before any write.
    let ctx = open_sim(holder_only_card());
    ctx.user();
    assert_eq!(
        err(ctx.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None)),
        code::SCARD_W_SECURITY_VIOLATION,
        "the user alone: refused, and no GENERATE sent"
    );
    assert_eq!(ctx.sim.key_algorithm(0x82), None);
    assert_eq!(dword(&ctx.csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 0);
    let challenge = ctx.csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
    ctx.csp.authenticate_ex(pin::ROLE_ADMIN, 0, &response_with(&HOLDER_KEY, &challenge)).unwrap();
    ctx.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    // The factory-default key: the user PIN alone creates (Windows enrollment).
    let ctx = open();
    ctx.user();
    assert_eq!(dword(&ctx.csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
    ctx.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    assert_eq!(ctx.sim.key_algorithm(0x82), Some(KeyAlgorithm::EccP256));
    assert_eq!(ctx.csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0x0Au32.to_le_bytes(), "no ROLE_ADMIN");
    // Both users and admins may query and delete.
    ctx.csp.container_info(4).unwrap();
    ctx.csp.delete_container(3).unwrap();
    assert_eq!(err(ctx.csp.container_info(3)), code::SCARD_E_NO_KEY_CONTAINER);
}

// ===== L. Cryptographic operations =====

/// A CAPI `PRIVATEKEYBLOB` of an RSA key (unencrypted PKCS#8 DER): `BLOBHEADER` {7, 2, 0,
/// `alg`}, `RSAPUBKEY` {"RSA2", bitlen, pubexp}, then n, p, q, dp, dq, qinv, d, little-endian
/// (Microsoft "Base Provider Key BLOBs").
fn private_key_blob(pkcs8: &[u8], alg: u32) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let k = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8).unwrap();
    let bits = k.n().bits();
    let le = |v: &[u8], len: usize| {
        let mut x: Vec<u8> = v.iter().rev().copied().collect();
        x.resize(len, 0);
        x
    };
    let (full, half) = (bits as usize / 8, bits as usize / 16);
    let mut out = vec![7, 2, 0, 0];
    out.extend_from_slice(&alg.to_le_bytes());
    out.extend_from_slice(b"RSA2");
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&65537u32.to_le_bytes());
    let (p, q) = (&k.primes()[0], &k.primes()[1]);
    out.extend(le(&k.n().to_be_bytes_trimmed_vartime(), full));
    out.extend(le(&p.to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&q.to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.dp().unwrap().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.dq().unwrap().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.qinv().unwrap().retrieve().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.d().to_be_bytes_trimmed_vartime(), full));
    out
}

/// The Base CSP's compressed certificate file, as GIDS cards store `mscp/kxcNN`
/// (`fCertificateCompression` FALSE: the CSP compresses): `01 00 | LE16 length | zlib(DER)`.
fn compressed_certificate(der: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = vec![0x01, 0x00];
    out.extend_from_slice(&u16::try_from(der.len()).unwrap().to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
    z.write_all(der).unwrap();
    z.finish().unwrap()
}

/// The RSA modulus of a CAPI `PUBLICKEYBLOB`, big-endian, checked against the blob's header.
fn publickeyblob_modulus(blob: &[u8], alg: u32) -> Vec<u8> {
    assert_eq!(&blob[..4], &[6, 2, 0, 0], "PUBLICKEYBLOB, CUR_BLOB_VERSION");
    assert_eq!(dword(&blob[4..8]), alg);
    assert_eq!(&blob[8..12], b"RSA1");
    let bits = dword(&blob[12..16]) as usize;
    assert_eq!(blob.len(), 20 + bits / 8, "20 + n bytes");
    le(blob[20..].to_vec())
}

/// An RSA public key's modulus, big-endian, without leading zeros.
fn modulus(key: &rsa::RsaPublicKey) -> Vec<u8> {
    rsa::traits::PublicKeyParts::n(key).to_be_bytes_trimmed_vartime().to_vec()
}

/// Items: 9, 122, 123, 124, 125, 128, 129, 130, 131
///
/// GIDS containers: the CSP's index is the container (index `i` is key file `B0 || 81+i`, its
/// `cmapfile` and keymap records), up to 126; key generation's key specs and sizes (RSA 1024 to
/// 4096 in steps of 1024; every ECC key spec defined but unsupported, P-521 included; undefined
/// specs, wrong sizes and flags invalid; checked first and without card I/O); out-of-range
/// indexes; an existing container overwritten; `CardCreateContainerEx`'s PIN id (the user PIN
/// only); deleting what is not there; `CardGetContainerInfo`'s versions and empty containers;
/// the RSA `PUBLICKEYBLOB` (item 131: CALG_RSA_KEYX or CALG_RSA_SIGN by slot, "RSA1", bit
/// length, exponent, little-endian modulus equal to the card's key). Item 132 (ECC blobs) does
/// not apply: GIDS keys are RSA.
#[test]
fn items_122_to_125_128_to_131_gids_containers() {
    let _g = serial();
    let ctx = open_gids();
    let cd = ctx.cd();
    ctx.user();
    let keygen = misc::CREATE_CONTAINER_KEY_GEN;
    let apdus = ctx.apdus();
    let unsupported = [
        ("ECDSA P-256", raw::create_container(cd, 2, keygen, keyspec::AT_ECDSA_P256, 0, None, None)),
        ("ECDSA P-384", raw::create_container(cd, 2, keygen, keyspec::AT_ECDSA_P384, 0, None, None)),
        ("ECDSA P-521", raw::create_container(cd, 2, keygen, keyspec::AT_ECDSA_P521, 0, None, None)),
        ("ECDH P-256", raw::create_container(cd, 2, keygen, keyspec::AT_ECDHE_P256, 0, None, None)),
        ("ECDH P-384, Ex", raw::create_container(cd, 2, keygen, keyspec::AT_ECDHE_P384, 0, None, Some(1))),
        ("ECDH P-521, Ex, PinId 9", raw::create_container(cd, 2, keygen, keyspec::AT_ECDHE_P521, 0, None, Some(9))),
    ];
    for (what, rv) in unsupported {
        assert_eq!(rv, code::SCARD_E_UNSUPPORTED_FEATURE, "{what}");
    }
    let invalid = [
        ("flags 0", raw::create_container(cd, 2, 0, keyspec::AT_KEYEXCHANGE, 2048, None, None)),
        ("flags 3", raw::create_container(cd, 2, 3, keyspec::AT_KEYEXCHANGE, 2048, None, None)),
        ("key spec 0", raw::create_container(cd, 2, keygen, 0, 2048, None, None)),
        ("key spec 9", raw::create_container(cd, 2, keygen, 9, 2048, None, None)),
        ("RSA 1000", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 1000, None, None)),
        ("RSA 1536", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 1536, None, None)),
        ("RSA 512", raw::create_container(cd, 2, keygen, keyspec::AT_SIGNATURE, 512, None, None)),
        ("RSA 8192", raw::create_container(cd, 2, keygen, keyspec::AT_SIGNATURE, 8192, None, None)),
        ("RSA 0", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 0, None, None)),
        ("Ex PinId 8", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None, Some(8))),
        ("Ex ROLE_ADMIN", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None, Some(2))),
        ("Ex PinId 3", raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None, Some(3))),
    ];
    for (what, rv) in invalid {
        assert_eq!(rv, code::SCARD_E_INVALID_PARAMETER, "{what}");
    }
    assert_eq!(ctx.apdus(), apdus, "no card I/O for a refused request");
    // Out of range (item 125): the 126 key references 81..FE.
    for index in [126, 200, 255] {
        let rv = raw::create_container(cd, index, keygen, keyspec::AT_KEYEXCHANGE, 1024, None, None);
        assert_eq!(rv, code::SCARD_E_NO_KEY_CONTAINER, "index {index}");
    }
    assert_eq!(ctx.apdus(), apdus, "an index no key reference has is refused without card I/O");
    // Index = container (item 122): generation in container 2 (key file B083), Ex with the user PIN.
    assert_eq!(raw::create_container(cd, 2, keygen, keyspec::AT_SIGNATURE, 1024, None, Some(pin::ROLE_USER)), 0);
    let (sig, kx) = ctx.csp.container_info(2).unwrap();
    assert!(kx.is_empty(), "a signature key in the signature slot");
    let spki = ctx.sim.public_key(0x83).unwrap();
    let key = crypto::public_key_from_spki(&spki).unwrap();
    assert_eq!(publickeyblob_modulus(&sig, crypt::CALG_RSA_SIGN), modulus(&key));
    assert_eq!(dword(&sig[16..20]), 65537);
    let map = vfs::cmapfile::ContainerMap::decode(&ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    assert_eq!(map.records()[2].sig_key_size_bits(), 1024, "its cmapfile record");
    assert_eq!(ctx.csp.get_container_property(2, prop::PIN_IDENTIFIER).unwrap(), pin::ROLE_USER.to_le_bytes());
    sign_verified(&ctx, 2, &Sha256::digest(b"new key"));
    // Overwritten by a new key (item 125), of another size and kind.
    assert_eq!(raw::create_container(cd, 2, keygen, keyspec::AT_KEYEXCHANGE, 2048, None, None), 0);
    let (sig2, kx2) = ctx.csp.container_info(2).unwrap();
    assert!(sig2.is_empty() && kx2.len() == 20 + 256, "the existing container was overwritten");
    assert_ne!(ctx.sim.public_key(0x83).unwrap(), spki, "a new key on the card");
    let map = vfs::cmapfile::ContainerMap::decode(&ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    assert_eq!(map.records()[2].key_exchange_key_size_bits(), 2048);
    assert_eq!(map.valid().count(), 3);
    sign_verified(&ctx, 2, &Sha256::digest(b"overwritten"));
    // CardDeleteContainer (item 129): nothing there is success; a real one goes.
    for index in [5, 125, 126, 255] {
        assert_eq!(raw::delete_container(cd, index, 0), 0, "index {index}");
    }
    assert_eq!(raw::delete_container(cd, 2, 0), 0);
    assert_eq!(err(ctx.csp.container_info(2)), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(ctx.sim.public_key(0x83), None, "the key file is gone");
    // CardGetContainerInfo (item 130): versions, empty containers, no authentication needed.
    for (what, rv) in raw::structure_version_codes(cd, 2) {
        assert_eq!(rv, code::ERROR_REVISION_MISMATCH, "{what} version 2 (checked first)");
    }
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    for index in [2, 3, 125, 126, 255] {
        assert_eq!(raw::container_info_blobs(cd, index, 0).0, code::SCARD_E_NO_KEY_CONTAINER, "index {index}");
    }
    // RSA blobs (item 131) of the card's own keys: key exchange, 2048 and 3072 bits.
    for (index, bits) in [(0u8, 2048), (1, 3072)] {
        let (rv, sig, kx) = raw::container_info_blobs(cd, index, 0);
        assert_eq!(rv, 0);
        assert!(sig.is_none(), "an absent key: NULL and 0");
        let kx = kx.unwrap();
        assert_eq!(dword(&kx[12..16]), bits);
        let key = ctx.rsa(index);
        assert_eq!(publickeyblob_modulus(&kx, crypt::CALG_RSA_KEYX), modulus(&key));
    }
}

/// Items: 9, 123, 124, 125, 126, 127
///
/// GIDS imports keys (`CARD_CREATE_CONTAINER_KEY_IMPORT`, PUT KEY, GIDS v2.0): a CAPI
/// `PRIVATEKEYBLOB` of a test-vector key becomes the container's key (its public key reads back
/// as the test vector's, it signs and decrypts, verified with that public key), in every GIDS
/// size, over an existing container too. The blob is validated before any card I/O (item 126):
/// a wrong type, version, magic, algorithm or bit length, a size the card lacks, an
/// `aiKeyAlg` that does not fit `dwKeySpec`, an ECC key spec, a NULL blob: refused with no
/// APDU. A failed import (no user PIN, the administrator alone: item 127) leaves the card as it
/// was. `dwKeySize` is not compared with the blob: the specification asks for the bit length,
/// but the Base CSP's own card test passes the blob's byte count, and the blob's validated
/// `bitlen` is what matters.
#[test]
fn items_123_124_125_126_127_gids_key_import() {
    let _g = serial();
    let ctx = open_gids();
    let cd = ctx.cd();
    let import = misc::CREATE_CONTAINER_KEY_IMPORT;
    let keyx = private_key_blob(test_vectors::keys::RSA_2048_A, crypt::CALG_RSA_KEYX);
    let cmap = ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    // Without the user PIN, and as the administrator alone: refused by the card, nothing left.
    assert_eq!(
        raw::create_container(cd, 2, import, keyspec::AT_KEYEXCHANGE, 2048, Some(&keyx), None),
        code::SCARD_W_SECURITY_VIOLATION
    );
    ctx.admin();
    assert_eq!(
        raw::create_container(cd, 2, import, keyspec::AT_KEYEXCHANGE, 2048, Some(&keyx), None),
        code::SCARD_W_SECURITY_VIOLATION,
        "only users create containers"
    );
    assert_eq!(ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap(), cmap, "the failed imports changed nothing");
    assert_eq!(err(ctx.csp.container_info(2)), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(ctx.sim.public_key(0x83), None, "no key file left behind");
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    ctx.user();
    // Malformed blobs and mismatched arguments: refused before card I/O.
    let mut bad_type = keyx.clone();
    bad_type[0] = 6;
    let mut bad_version = keyx.clone();
    bad_version[1] = 1;
    let mut bad_magic = keyx.clone();
    bad_magic[8..12].copy_from_slice(b"RSA1");
    let mut bad_alg = keyx.clone();
    bad_alg[4..8].copy_from_slice(&crypt::CALG_SHA_256.to_le_bytes());
    let mut bad_bits = keyx.clone();
    bad_bits[12..16].copy_from_slice(&100u32.to_le_bytes());
    let small = {
        let mut b = keyx.clone();
        b[12..16].copy_from_slice(&512u32.to_le_bytes());
        b.truncate(20 + 64 * 2 + 32 * 5);
        b
    };
    let signature_blob = private_key_blob(test_vectors::keys::RSA_2048_A, crypt::CALG_RSA_SIGN);
    let apdus = ctx.apdus();
    let cases: [(&str, u32, Option<&[u8]>, u32); 10] = [
        ("PUBLICKEYBLOB type", keyspec::AT_KEYEXCHANGE, Some(&bad_type), code::SCARD_E_INVALID_PARAMETER),
        ("blob version 1", keyspec::AT_KEYEXCHANGE, Some(&bad_version), code::SCARD_E_INVALID_PARAMETER),
        ("RSA1 magic", keyspec::AT_KEYEXCHANGE, Some(&bad_magic), code::SCARD_E_INVALID_PARAMETER),
        ("aiKeyAlg not RSA", keyspec::AT_KEYEXCHANGE, Some(&bad_alg), code::SCARD_E_INVALID_PARAMETER),
        ("bitlen 100", keyspec::AT_KEYEXCHANGE, Some(&bad_bits), code::SCARD_E_INVALID_PARAMETER),
        ("RSA-512: a size GIDS lacks", keyspec::AT_KEYEXCHANGE, Some(&small), code::SCARD_E_INVALID_PARAMETER),
        (
            "CALG_RSA_SIGN for AT_KEYEXCHANGE",
            keyspec::AT_KEYEXCHANGE,
            Some(&signature_blob),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        ("CALG_RSA_KEYX for AT_SIGNATURE", keyspec::AT_SIGNATURE, Some(&keyx), code::SCARD_E_INVALID_PARAMETER),
        ("an ECC key spec", keyspec::AT_ECDSA_P256, Some(&keyx), code::SCARD_E_UNSUPPORTED_FEATURE),
        ("no blob", keyspec::AT_KEYEXCHANGE, None, code::SCARD_E_INVALID_PARAMETER),
    ];
    for (what, spec, blob, expected) in cases {
        assert_eq!(raw::create_container(cd, 2, import, spec, 2048, blob, None), expected, "{what}");
    }
    assert_eq!(
        raw::create_container(cd, 2, import, 9, 2048, Some(&keyx), None),
        code::SCARD_E_INVALID_PARAMETER,
        "key spec 9"
    );
    assert_eq!(
        raw::create_container(cd, 2, import, keyspec::AT_KEYEXCHANGE, 2048, Some(&keyx), Some(2)),
        code::SCARD_E_INVALID_PARAMETER,
        "Ex ROLE_ADMIN"
    );
    assert_eq!(
        raw::create_container(cd, 130, import, keyspec::AT_KEYEXCHANGE, 2048, Some(&keyx), None),
        code::SCARD_E_NO_KEY_CONTAINER
    );
    assert_eq!(ctx.apdus(), apdus, "validated before any card I/O");
    // The import, in every GIDS size and both slots; container 2 each time (overwritten).
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let vectors: [(&[u8], &[u8], u32, u32); 5] = [
        (
            test_vectors::keys::RSA_2048_A,
            test_vectors::keys::RSA_2048_A_SPKI,
            keyspec::AT_KEYEXCHANGE,
            crypt::CALG_RSA_KEYX,
        ),
        (
            test_vectors::keys::RSA_1024,
            test_vectors::keys::RSA_1024_SPKI,
            keyspec::AT_KEYEXCHANGE,
            crypt::CALG_RSA_KEYX,
        ),
        (test_vectors::keys::RSA_3072, test_vectors::keys::RSA_3072_SPKI, keyspec::AT_SIGNATURE, crypt::CALG_RSA_SIGN),
        (
            test_vectors::keys::RSA_4096,
            test_vectors::keys::RSA_4096_SPKI,
            keyspec::AT_KEYEXCHANGE,
            crypt::CALG_RSA_KEYX,
        ),
        (
            test_vectors::keys::RSA_2048_C,
            test_vectors::keys::RSA_2048_C_SPKI,
            keyspec::AT_KEYEXCHANGE,
            crypt::CALG_RSA_KEYX,
        ),
    ];
    for (pkcs8, spki, spec, alg) in vectors {
        let blob = private_key_blob(pkcs8, alg);
        let key = crypto::public_key_from_spki(spki).unwrap();
        let bits = u32::try_from(rsa::traits::PublicKeyParts::size(&key) * 8).unwrap();
        // dwKeySize as the Base CSP's own test passes it for an import: the blob's byte count.
        let size = u32::try_from(blob.len()).unwrap();
        assert_eq!(raw::create_container(cd, 2, import, spec, size, Some(&blob), None), 0, "RSA-{bits}");
        assert_eq!(ctx.sim.public_key(0x83).unwrap(), spki, "RSA-{bits}: the test vector's key is on the card");
        let (sig, kx) = ctx.csp.container_info(2).unwrap();
        let blob = if spec == keyspec::AT_SIGNATURE { &sig } else { &kx };
        assert_eq!(publickeyblob_modulus(blob, alg), modulus(&key));
        let hash = Sha256::digest(bits.to_le_bytes()).to_vec();
        let signed = ctx.csp.sign_data(2, spec, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
        crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &le(signed)).unwrap();
        if spec == keyspec::AT_KEYEXCHANGE {
            let ct = le(key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"imported key").unwrap());
            assert_eq!(le(ctx.csp.rsa_decrypt(2, &ct, 2, &Padding::Pkcs1(None)).unwrap()), b"imported key");
        }
    }
    let map = vfs::cmapfile::ContainerMap::decode(&ctx.csp.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    assert_eq!(map.records()[2].key_exchange_key_size_bits(), 2048, "the last import's record");
    // The next context sees the imported key.
    let next = ctx.another(&AcquireOptions::default());
    assert_eq!(next.csp.container_info(2).unwrap().1, ctx.csp.container_info(2).unwrap().1);
}

/// Items: 127
///
/// GIDS: only users create containers, as the specification says: key generation needs the
/// user PIN (the key files' security attributes), and the administrator alone is refused with
/// `SCARD_W_SECURITY_VIOLATION`; so `CP_SUPPORTS_WIN_X509_ENROLLMENT` is TRUE. Both users and
/// administrators query and delete containers.
#[test]
fn item_127_gids_only_users_create_containers() {
    let _g = serial();
    let ctx = open_gids();
    let keygen = misc::CREATE_CONTAINER_KEY_GEN;
    assert_eq!(dword(&ctx.csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
    assert_eq!(
        err(ctx.csp.create_container(2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None)),
        code::SCARD_W_SECURITY_VIOLATION,
        "no one"
    );
    ctx.admin();
    assert_eq!(
        err(ctx.csp.create_container(2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None)),
        code::SCARD_W_SECURITY_VIOLATION,
        "the administrator"
    );
    assert_eq!(err(ctx.csp.container_info(2)), code::SCARD_E_NO_KEY_CONTAINER, "nothing left behind");
    assert_eq!(ctx.sim.public_key(0x83), None);
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    ctx.user();
    ctx.csp.create_container(2, keygen, keyspec::AT_KEYEXCHANGE, 1024, None).unwrap();
    sign_verified(&ctx, 2, &Sha256::digest(b"the user's key"));
    // The administrator alone queries and deletes.
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    ctx.admin();
    ctx.csp.container_info(2).unwrap();
    ctx.csp.delete_container(2).unwrap();
    assert_eq!(err(ctx.csp.container_info(2)), code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(ctx.sim.public_key(0x83), None);
}

/// Items: 134, 135, 136, 137, 141
///
/// `CardSignData`: structure versions (1 and 2; padding information needs 2), containers, key
/// specs (undefined, defined but unsupported, not this container's), hashes and paddings the
/// card does not support, the accepted flags, and `CARD_BUFFER_SIZE_ONLY` (the size only, no
/// card I/O, `pbSignedData` untouched).
#[test]
fn items_134_135_136_137_141_sign_arguments() {
    let _g = serial();
    let ctx = open();
    ctx.user();
    let cd = ctx.cd();
    let hash = Sha256::digest(b"to sign").to_vec();
    let call = |version, index, key_spec, flags, alg_id, padding: Option<(u32, Option<&str>)>| raw::SignCall {
        version,
        index,
        key_spec,
        flags: flags | if padding.is_some() { crypt::PADDING_INFO_PRESENT } else { 0 },
        alg_id,
        data: hash.clone(),
        padding: padding.map(|(t, a)| (t, a.map(str::to_owned))),
    };
    let sign = |c: &raw::SignCall| raw::sign(cd, c);
    // Versions (item 135): 1 and 2 work without padding information.
    let rsa = rsa_key(&ctx.sim, 0x9A);
    for version in [1, 2] {
        let out = sign(&call(version, 0, keyspec::AT_KEYEXCHANGE, 0, crypt::CALG_SHA_256, None));
        assert_eq!(out.code, 0, "version {version}");
        crypto::verify_pkcs1(&rsa, Some(HashAlg::Sha256), &hash, &le(out.signature.unwrap())).unwrap();
    }
    for version in [0, 3] {
        let out = sign(&call(version, 0, keyspec::AT_KEYEXCHANGE, 0, crypt::CALG_SHA_256, None));
        assert_eq!(out.code, code::ERROR_REVISION_MISMATCH, "version {version}");
    }
    let out = sign(&call(1, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("SHA256")))));
    assert_eq!(out.code, code::ERROR_REVISION_MISMATCH, "padding information in the basic version");
    // Containers and key specs (item 136).
    let h = crypt::CALG_SHA_256;
    let cases = [
        ("no container 9", call(2, 9, keyspec::AT_KEYEXCHANGE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        ("no container 200", call(2, 200, keyspec::AT_KEYEXCHANGE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        ("key spec 0", call(2, 0, 0, 0, h, None), code::SCARD_E_INVALID_PARAMETER),
        ("key spec 9", call(2, 0, 9, 0, h, None), code::SCARD_E_INVALID_PARAMETER),
        (
            "P-521: defined, unsupported",
            call(2, 1, keyspec::AT_ECDSA_P521, 0, 0, None),
            code::SCARD_E_UNSUPPORTED_FEATURE,
        ),
        ("no signature key in 0", call(2, 0, keyspec::AT_SIGNATURE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        (
            "CALG_MD2: a hash it lacks",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0x8001, None),
            code::SCARD_E_UNSUPPORTED_FEATURE,
        ),
        (
            "CALG_RSA_SIGN: not a hash",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0x2400, None),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        (
            "PKCS1 with MD4",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("MD4")))),
            code::SCARD_E_UNSUPPORTED_FEATURE,
        ),
        (
            "PKCS1 with an unknown name",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("FOO")))),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        ("padding type 3", call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((3, None))), code::SCARD_E_INVALID_PARAMETER),
        ("flag 0x2 (item 137)", call(2, 0, keyspec::AT_KEYEXCHANGE, 0x2, h, None), code::SCARD_E_INVALID_PARAMETER),
    ];
    for (what, c, expected) in cases {
        assert_eq!(sign(&c).code, expected, "{what}");
    }
    // CRYPT_NOHASHOID is accepted (item 137).
    assert_eq!(sign(&call(2, 0, keyspec::AT_KEYEXCHANGE, crypt::NOHASHOID, h, None)).code, 0);
    // CARD_BUFFER_SIZE_ONLY (item 141).
    let p384 = open_sim(PivSim::builder(b"checklist-p384").generate(0x9E, KeyAlgorithm::EccP384).build().unwrap());
    p384.csp.container_info(3).unwrap(); // the key's size is learnt once, as a CSP does first
    let apdus = (ctx.apdus(), p384.apdus());
    for (cd, index, spec, size) in [
        (cd, 0, keyspec::AT_KEYEXCHANGE, 256),
        (cd, 3, keyspec::AT_ECDSA_P256, 64),
        (p384.cd(), 3, keyspec::AT_ECDSA_P384, 96),
    ] {
        let out = raw::sign(cd, &call(2, index, spec, crypt::BUFFER_SIZE_ONLY, h, None));
        assert_eq!((out.code, out.cb, out.pb_untouched), (0, size, true), "container {index}");
    }
    assert_eq!((ctx.apdus(), p384.apdus()), apdus, "no card I/O for the size");
}

/// Items: 134, 135, 136, 137, 141
///
/// GIDS: `CardSignData`'s arguments on RSA keys: structure versions (1 and 2; padding
/// information needs 2), containers, key specs (undefined, defined but unsupported: every ECC
/// one, not this container's), hashes and paddings the card does not support, the accepted
/// flags, and `CARD_BUFFER_SIZE_ONLY` (the modulus size, 256 and 384 bytes, no card I/O,
/// `pbSignedData` untouched).
#[test]
fn items_134_135_136_137_141_gids_sign_arguments() {
    let _g = serial();
    let ctx = open_gids();
    ctx.user();
    let cd = ctx.cd();
    let hash = Sha256::digest(b"to sign").to_vec();
    let call = |version, index, key_spec, flags, alg_id, padding: Option<(u32, Option<&str>)>| raw::SignCall {
        version,
        index,
        key_spec,
        flags: flags | if padding.is_some() { crypt::PADDING_INFO_PRESENT } else { 0 },
        alg_id,
        data: hash.clone(),
        padding: padding.map(|(t, a)| (t, a.map(str::to_owned))),
    };
    let sign = |c: &raw::SignCall| raw::sign(cd, c);
    let rsa = ctx.rsa(0);
    for version in [1, 2] {
        let out = sign(&call(version, 0, keyspec::AT_KEYEXCHANGE, 0, crypt::CALG_SHA_256, None));
        assert_eq!(out.code, 0, "version {version}");
        crypto::verify_pkcs1(&rsa, Some(HashAlg::Sha256), &hash, &le(out.signature.unwrap())).unwrap();
    }
    for version in [0, 3] {
        let out = sign(&call(version, 0, keyspec::AT_KEYEXCHANGE, 0, crypt::CALG_SHA_256, None));
        assert_eq!(out.code, code::ERROR_REVISION_MISMATCH, "version {version}");
    }
    let out = sign(&call(1, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("SHA256")))));
    assert_eq!(out.code, code::ERROR_REVISION_MISMATCH, "padding information in the basic version");
    let h = crypt::CALG_SHA_256;
    let mut cases = vec![
        ("no container 2", call(2, 2, keyspec::AT_KEYEXCHANGE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        ("no container 200", call(2, 200, keyspec::AT_KEYEXCHANGE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        ("key spec 0", call(2, 0, 0, 0, h, None), code::SCARD_E_INVALID_PARAMETER),
        ("key spec 9", call(2, 0, 9, 0, h, None), code::SCARD_E_INVALID_PARAMETER),
        ("no signature key in 0", call(2, 0, keyspec::AT_SIGNATURE, 0, h, None), code::SCARD_E_NO_KEY_CONTAINER),
        ("CALG_MD2", call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0x8001, None), code::SCARD_E_UNSUPPORTED_FEATURE),
        (
            "CALG_RSA_SIGN: not a hash",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0x2400, None),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        (
            "PKCS1 with MD4",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("MD4")))),
            code::SCARD_E_UNSUPPORTED_FEATURE,
        ),
        (
            "PKCS1 with an unknown name",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_PKCS1, Some("FOO")))),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        ("padding type 3", call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((3, None))), code::SCARD_E_INVALID_PARAMETER),
        (
            "padding OAEP",
            call(2, 0, keyspec::AT_KEYEXCHANGE, 0, 0, Some((crypt::PADDING_OAEP, None))),
            code::SCARD_E_INVALID_PARAMETER,
        ),
        ("flag 0x2 (item 137)", call(2, 0, keyspec::AT_KEYEXCHANGE, 0x2, h, None), code::SCARD_E_INVALID_PARAMETER),
    ];
    for spec in keyspec::AT_ECDSA_P256..=keyspec::AT_ECDHE_P521 {
        cases.push((
            "an ECC key spec: defined, unsupported",
            call(2, 0, spec, 0, 0, None),
            code::SCARD_E_UNSUPPORTED_FEATURE,
        ));
    }
    for (what, c, expected) in &cases {
        assert_eq!(sign(c).code, *expected, "{what} (key spec {})", c.key_spec);
    }
    assert_eq!(sign(&call(2, 0, keyspec::AT_KEYEXCHANGE, crypt::NOHASHOID, h, None)).code, 0);
    // CARD_BUFFER_SIZE_ONLY (item 141): the containers are known after the first signature.
    ctx.csp.container_info(1).unwrap();
    let apdus = ctx.apdus();
    for (index, size) in [(0, 256), (1, 384)] {
        let out = raw::sign(cd, &call(2, index, keyspec::AT_KEYEXCHANGE, crypt::BUFFER_SIZE_ONLY, h, None));
        assert_eq!((out.code, out.cb, out.pb_untouched), (0, size, true), "container {index}");
    }
    assert_eq!(ctx.apdus(), apdus, "no card I/O for the size");
}

/// Items: 138, 139, 140, 142
///
/// GIDS: signatures with every padding and hash, each verified with the card's public key:
/// without padding information (`aiHashAlg` selects the DigestInfo: MD5, SHA-1, SHA-2, the
/// 36-byte SSL3 MD5||SHA1, none; `CRYPT_NOHASHOID`), PKCS#1 with and without an algorithm name,
/// PSS (SHA-256, SHA-384, SHA-512 on the 3072-bit key), and raw RSA on a block the caller
/// padded; the hash is used as given (not reversed), the signature comes back little-endian.
#[test]
fn items_138_139_140_142_gids_signatures_with_every_padding_and_hash() {
    let _g = serial();
    let ctx = open_gids();
    ctx.user();
    let c = &ctx.csp;
    let key = ctx.rsa(0);
    let verify = |key: &rsa::RsaPublicKey, hash_alg, hash: &[u8], sig: Vec<u8>| {
        crypto::verify_pkcs1(key, hash_alg, hash, &le(sig)).unwrap();
    };
    for (alg, hash_alg, len) in [
        (crypt::CALG_MD5, Some(HashAlg::Md5), 16),
        (crypt::CALG_SHA1, Some(HashAlg::Sha1), 20),
        (crypt::CALG_SHA_256, Some(HashAlg::Sha256), 32),
        (crypt::CALG_SHA_384, Some(HashAlg::Sha384), 48),
        (crypt::CALG_SHA_512, Some(HashAlg::Sha512), 64),
        (crypt::CALG_SSL3_SHAMD5, Some(HashAlg::Md5Sha1), 36),
        (0, None, 32),
    ] {
        let hash: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5A).collect();
        verify(&key, hash_alg, &hash, c.sign_data(0, keyspec::AT_KEYEXCHANGE, alg, 0, &hash, None).unwrap());
    }
    let h256 = Sha256::digest(b"to be signed").to_vec();
    let sig = c.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, crypt::NOHASHOID, &h256, None).unwrap();
    verify(&key, None, &h256, sig);
    let sig =
        c.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &h256, Some(&Padding::Pkcs1(Some("SHA256".into())))).unwrap();
    verify(&key, Some(HashAlg::Sha256), &h256, sig);
    let sig = c.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &h256, Some(&Padding::Pkcs1(None))).unwrap();
    verify(&key, None, &h256, sig);
    let key_3072 = ctx.rsa(1);
    for (index, name, alg, hash) in [
        (0, "SHA256", HashAlg::Sha256, h256.clone()),
        (0, "SHA384", HashAlg::Sha384, sha2::Sha384::digest(b"x").to_vec()),
        (1, "SHA512", HashAlg::Sha512, sha2::Sha512::digest(b"y").to_vec()),
    ] {
        let salt = u32::try_from(hash.len()).unwrap();
        let sig =
            c.sign_data(index, keyspec::AT_KEYEXCHANGE, 0, 0, &hash, Some(&Padding::Pss(name.into(), salt))).unwrap();
        let public = if index == 0 { &key } else { &key_3072 };
        crypto::verify_pss(public, alg, &hash, &le(sig), Some(hash.len())).unwrap();
    }
    let block = crypto::pkcs1::encode_sign(Some(HashAlg::Sha256), &h256, 384).unwrap();
    let sig = c.sign_data(1, keyspec::AT_KEYEXCHANGE, 0, 0, &block, Some(&Padding::None)).unwrap();
    assert_eq!(sig.len(), 384);
    verify(&key_3072, Some(HashAlg::Sha256), &h256, sig);
    // The signature is over the hash as given: a reversed hash does not verify.
    let mut reversed = h256.clone();
    reversed.reverse();
    let sig = c.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &h256, None).unwrap();
    assert!(crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &reversed, &le(sig.clone())).is_err());
    assert!(crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &h256, &sig).is_err(), "little-endian, not big");
}

/// Items: 143, 144, 145, 146, 147, 148
///
/// `CardRSADecrypt`: versions, key specs, containers, short buffers; the output in place,
/// little-endian: the whole block for version 1 or `CARD_PADDING_NONE`, the message (and its
/// length) for PKCS#1 and OAEP; every bad padding gives one and the same error (no oracle),
/// and without unpadding any ciphertext decrypts. On both edges (GIDS decrypts raw on the card
/// and unpads on the host in constant time).
#[test]
fn items_143_to_148_rsa_decryption_rules() {
    let _g = serial();
    on_both_edges(rsa_decryption::<PivSim>, rsa_decryption::<GidsSim>);
}

fn rsa_decryption<S: SimCard>() {
    let ctx = open_std::<S>();
    ctx.user();
    let cd = ctx.cd();
    let key = ctx.rsa(S::RSA_DECRYPT);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let msg = b"sixteen byte key";
    let ct = le(key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap());
    let run = |version, index, spec, data: &[u8], padding, oaep| {
        let mut buf = data.to_vec();
        let (rv, cb) = raw::rsa_decrypt(cd, version, index, spec, &mut buf, padding, oaep);
        buf.truncate(cb as usize);
        (rv, cb, buf)
    };
    // Versions (item 144), key specs and containers (item 145), buffer (item 146).
    for version in [0, 3] {
        assert_eq!(
            run(version, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct, crypt::PADDING_PKCS1, None).0,
            code::ERROR_REVISION_MISMATCH
        );
    }
    assert_eq!(
        run(1, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct, crypt::PADDING_NONE, None).0,
        code::ERROR_REVISION_MISMATCH
    );
    for spec in [keyspec::AT_SIGNATURE, keyspec::AT_ECDHE_P256, 0] {
        assert_eq!(
            run(2, S::RSA_DECRYPT, spec, &ct, crypt::PADDING_PKCS1, None).0,
            code::SCARD_E_INVALID_PARAMETER,
            "key spec {spec}"
        );
    }
    assert_eq!(run(2, 9, keyspec::AT_KEYEXCHANGE, &ct, crypt::PADDING_PKCS1, None).0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(
        run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct[..255], crypt::PADDING_PKCS1, None).0,
        code::SCARD_E_INSUFFICIENT_BUFFER
    );
    assert_eq!(
        run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct, 4, None).0,
        code::SCARD_E_INVALID_PARAMETER,
        "PSS is not for decryption"
    );
    // Outputs (item 147).
    let (rv, cb, plain) = run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct, crypt::PADDING_PKCS1, None);
    assert_eq!((rv, cb, le(plain)), (0, 16, msg.to_vec()));
    let ct_oaep = le(key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), msg).unwrap());
    let (rv, cb, plain) =
        run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct_oaep, crypt::PADDING_OAEP, Some(("SHA256", &[])));
    assert_eq!((rv, cb, le(plain)), (0, 16, msg.to_vec()));
    let (rv, cb, block) = run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct, crypt::PADDING_NONE, None);
    assert_eq!((rv, cb), (0, 256), "the whole block");
    assert_eq!(&crypto::pkcs1::decode_encryption_block(&le(block), 256).unwrap()[..], msg);
    let v6 = open_with(S::standard(), &AcquireOptions { version: 6, ..AcquireOptions::default() }).unwrap();
    v6.user();
    let mut buf = ct;
    let (rv, cb) = raw::rsa_decrypt(v6.cd(), 1, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &mut buf, 0, None);
    assert_eq!((rv, cb), (0, 256), "version 1: the whole block, padding left to the CSP");
    assert_eq!(&crypto::pkcs1::decode_encryption_block(&le(buf), 256).unwrap()[..], msg);
    // No padding oracle (item 148): every malformed block, the same single error.
    let raw = |block: &[u8]| le(crypto::raw_public(&key, block).unwrap());
    let mut bad_pkcs1 = Vec::new();
    let mut block = vec![0x00, 0x01];
    block.extend(vec![0xFF; 237]);
    block.push(0);
    block.extend_from_slice(msg);
    bad_pkcs1.push(raw(&block)); // block type 1
    let mut block = vec![0x00, 0x02];
    block.extend(vec![0x55; 254]);
    bad_pkcs1.push(raw(&block)); // no separator
    let mut block = vec![0x00, 0x02, 0x55, 0x00];
    block.extend(vec![0x55; 252]);
    bad_pkcs1.push(raw(&block)); // padding string too short
    let mut block = vec![0x01, 0x02];
    block.extend(vec![0x55; 237]);
    block.push(0);
    block.extend_from_slice(msg);
    bad_pkcs1.push(raw(&block)); // first byte not 0
    let mut codes = std::collections::BTreeSet::new();
    for ct in &bad_pkcs1 {
        codes.insert(run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, ct, crypt::PADDING_PKCS1, None).0);
        codes.insert(run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, ct, crypt::PADDING_OAEP, Some(("SHA256", &[]))).0);
        let (rv, cb, _) = run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, ct, crypt::PADDING_NONE, None);
        assert_eq!((rv, cb), (0, 256), "without unpadding, decryption succeeds");
    }
    let wrong_label =
        run(2, S::RSA_DECRYPT, keyspec::AT_KEYEXCHANGE, &ct_oaep, crypt::PADDING_OAEP, Some(("SHA256", b"label"))).0;
    codes.insert(wrong_label);
    assert_eq!(codes.len(), 1, "one generic error: {codes:x?}");
    assert_ne!(codes.first().copied(), Some(0));
}

/// Items: 150, 151, 152
///
/// `CardConstructDHAgreement` (version 2 only, containers, the blob) with up to 255 agreements
/// then `SCARD_E_NO_MEMORY`; `CardDeriveKey` (versions, KDF names, parameters, the SHA-1
/// default, secret handles through `pfnCspGetDHAgreement`, `CARD_BUFFER_SIZE_ONLY`, no key
/// handles without secure key injection); `CardDestroyDHAgreement` (invalid indexes).
#[test]
fn items_150_151_152_agreements_and_derivation() {
    let _g = serial();
    let ctx = open_sim(ecdh_card());
    let cd = ctx.cd();
    ctx.user();
    let (blob, z) = peer_blob(&ctx.sim);
    // Item 150.
    assert_eq!(raw::construct_agreement(cd, 1, 2, 0, &blob).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(raw::construct_agreement(cd, 3, 2, 0, &blob).0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(raw::construct_agreement(cd, 2, 9, 0, &blob).0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(raw::construct_agreement(cd, 2, 2, 0, &blob[..blob.len() - 1]).0, code::SCARD_E_INVALID_PARAMETER);
    let mut agreements = Vec::new();
    for i in 0..255 {
        let (rv, index) = raw::construct_agreement(cd, 2, 2, 0, &blob);
        assert_eq!(rv, 0, "agreement {i}");
        agreements.push(index);
    }
    agreements.sort_unstable();
    agreements.dedup();
    assert_eq!(agreements.len(), 255, "distinct indexes");
    assert_eq!(raw::construct_agreement(cd, 2, 2, 0, &blob).0, code::SCARD_E_NO_MEMORY, "no free slot");
    let index = agreements[7];
    ctx.csp.destroy_dh_agreement(index).unwrap();
    assert_eq!(raw::construct_agreement(cd, 2, 2, 0, &blob), (0, index), "a freed slot is reused");
    // Item 151.
    let derive = |c: raw::DeriveCall| raw::derive(cd, &c);
    let base = raw::DeriveCall { version: 2, kdf: "HASH".into(), agreement: index, capacity: 64, ..Default::default() };
    let sha1 = {
        use sha1::Digest as _;
        sha1::Sha1::digest(&z).to_vec()
    };
    let out = derive(base.clone());
    assert_eq!((out.code, out.key), (0, sha1.clone()), "no KDF_HASH_ALGORITHM: SHA-1");
    let out = derive(raw::DeriveCall { version: 1, ..base.clone() });
    assert_eq!((out.code, out.key), (0, sha1.clone()), "version 1");
    for version in [0, 3] {
        assert_eq!(derive(raw::DeriveCall { version, ..base.clone() }).code, code::ERROR_REVISION_MISMATCH);
    }
    for kdf in ["", "hash2", "PBKDF2", "CAPI_KDF"] {
        assert_eq!(
            derive(raw::DeriveCall { kdf: kdf.into(), ..base.clone() }).code,
            code::SCARD_E_INVALID_PARAMETER,
            "{kdf:?}"
        );
    }
    let unknown_param = raw::DeriveCall { params: vec![(99, b"x".to_vec())], ..base.clone() };
    assert_eq!(derive(unknown_param).code, code::SCARD_E_INVALID_PARAMETER);
    let tls_param_for_hash = raw::DeriveCall { params: vec![(5, vec![0; 64])], ..base.clone() };
    assert_eq!(derive(tls_param_for_hash).code, code::SCARD_E_INVALID_PARAMETER, "a parameter the KDF does not take");
    // A KDF_NCRYPT_SECRET_HANDLE parameter: the stand-in CSP's handles are index + 1.
    let by_handle = raw::DeriveCall { agreement: 255, secret_handle: Some(usize::from(index) + 1), ..base.clone() };
    assert_eq!(derive(by_handle).key, sha1);
    // CARD_BUFFER_SIZE_ONLY: only the size; the caller's buffer untouched.
    let out = derive(raw::DeriveCall { flags: crypt::BUFFER_SIZE_ONLY, ..base.clone() });
    assert_eq!((out.code, out.cb, out.untouched), (0, 20, true));
    let out = derive(raw::DeriveCall { flags: crypt::BUFFER_SIZE_ONLY, capacity: 0, ..base.clone() });
    assert_eq!((out.code, out.cb), (0, 20), "sized with no buffer at all");
    let out = derive(raw::DeriveCall { capacity: 10, ..base.clone() });
    assert_eq!((out.code, out.key.as_slice()), (0, &sha1[..10]), "a shorter buffer takes the first bytes, as CNG does");
    // Key handles need secure key injection.
    assert_eq!(
        derive(raw::DeriveCall { flags: crypt::RETURN_KEY_HANDLE, ..base }).code,
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    // Item 152.
    assert_eq!(raw::destroy_agreement(cd, 255, 0), code::SCARD_E_INVALID_PARAMETER, "no agreement 255");
    assert_eq!(raw::destroy_agreement(cd, index, 1), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(raw::destroy_agreement(cd, index, 0), 0);
    assert_eq!(raw::destroy_agreement(cd, index, 0), code::SCARD_E_INVALID_PARAMETER, "already destroyed");
    // Deviation (§4.7.4 "should"): destroying without authentication succeeds, so that the
    // secret does not stay in memory until the context ends.
    ctx.csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    assert_eq!(raw::destroy_agreement(cd, agreements[0], 0), 0);
}

// ===== M. cardcf and the CSP cache =====

/// Items: 28, 150, 151, 152
///
/// GIDS keys are RSA only, so the DH agreement items apply to GIDS as the specification's
/// rule for RSA-only cards: `CardConstructDHAgreement`, `CardDeriveKey` and
/// `CardDestroyDHAgreement` are "not defined and set to NULL in the CARD_DATA structure"
/// (§4.7.2-4.7.4), at every version. Neither `SCARD_E_UNSUPPORTED_FEATURE` nor
/// `SCARD_E_INVALID_PARAMETER` is returned for them: there is no entry point to return
/// anything. Everything else says the same: no ECDH algorithm in `CP_ENUM_ALGORITHMS`, no ECDH
/// key sizes, no ECDH container can be made, no associated ECDH key; `CardRSADecrypt` is there.
#[test]
fn items_28_150_151_152_gids_an_rsa_only_card_has_no_dh_agreement_entry_points() {
    let _g = serial();
    let sim = GidsSim::standard();
    for version in [4, 5, 6, 7] {
        let mut raw = raw::RawCsp::new(version, &sim.atr());
        assert_eq!(raw.acquire(0, Some(Box::new(MemoryCard::new(sim.clone())))), 0);
        let cd = raw.data();
        assert!(cd.pfnCardConstructDHAgreement.is_none(), "version {version}");
        assert!(cd.pfnCardDeriveKey.is_none() && cd.pfnCardDestroyDHAgreement.is_none(), "version {version}");
        assert!(cd.pfnCardRSADecrypt.is_some() && cd.pfnCardSignData.is_some(), "version {version}");
        assert!(cd.pfnCardDeauthenticate.is_some() && cd.pvUnused3.is_null() && cd.pvUnused4.is_null());
        assert_eq!(cd.pfnCardGetProperty.is_some(), version >= 6);
    }
    let ctx = open_sim(sim);
    let c = &ctx.csp;
    assert_eq!(c.get_property(prop::ENUM_ALGORITHMS, prop::ASYMMETRIC_OPERATION).unwrap(), utf16_bytes("RSA\0"));
    for spec in [keyspec::AT_ECDHE_P256, keyspec::AT_ECDHE_P384, keyspec::AT_ECDHE_P521] {
        assert_eq!(err(c.query_key_sizes(spec)), code::SCARD_E_UNSUPPORTED_FEATURE);
    }
    ctx.user();
    assert_eq!(
        err(c.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_ECDHE_P256, 0, None)),
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
    assert_eq!(err(c.get_container_property(0, prop::ASSOCIATED_ECDH_KEY)), code::SCARD_E_UNSUPPORTED_FEATURE);
    // The stand-in CSP finds no entry point to call (as the Base CSP would not call one).
    assert_eq!(err(c.construct_dh_agreement(0, &[0; 72])), code::SCARD_E_UNSUPPORTED_FEATURE);
}

/// Items: 153, 156, 157
///
/// GIDS: `cardcf` is the 6-byte `CARD_CACHE_FILE_FORMAT` stored on the card (A010/DF22); the card
/// can store and update it, so the cache mode is `CP_CACHE_MODE_GLOBAL_CACHE` (item 157) and the
/// card is not read-only. Every change the driver makes on its own (without the CSP bumping
/// `cardcf` first) bumps the counter that covers it before the change (item 156, as OpenSC does
/// for GIDS): the files counter for a file created, written or deleted and for a directory, the
/// containers counter for a key generated, imported or deleted. A change made by another
/// program, which bumps `cardcf` too, is seen at the CSP's next `cardcf` read, and what the
/// context had read is read again.
#[test]
fn items_153_156_157_gids_cardcf_and_cache_mode() {
    let _g = serial();
    let ctx = open_gids();
    let c = &ctx.csp;
    let before = c.read_file(None, "cardcf").unwrap();
    assert_eq!(before.len(), 6);
    assert_eq!(before, ctx.sim.data_object(GIDS_CARDCF.0, GIDS_CARDCF.1).unwrap(), "the card's own cardcf");
    let cf = vfs::cardcf::CacheFile::decode(&before).unwrap();
    assert_eq!(cf.encode(), before);
    assert_eq!(cf.containers_freshness, u16::from_le_bytes([before[2], before[3]]), "little-endian words");
    assert_eq!(cf.files_freshness, u16::from_le_bytes([before[4], before[5]]));
    assert_eq!(dword(&c.get_property(prop::CACHE_MODE, 0).unwrap()), prop::CACHE_MODE_GLOBAL);
    assert_eq!(dword(&c.get_property(prop::READ_ONLY, 0).unwrap()), 0);
    // The driver's own changes (item 156): (containers, files) counters moved by each.
    ctx.user();
    let blob = private_key_blob(test_vectors::keys::RSA_2048_A, crypt::CALG_RSA_KEYX);
    let changes: [(&str, Box<dyn Fn()>, (u16, u16)); 8] = [
        ("create a file", Box::new(|| c.create_file(Some("mscp"), "f", 0, 1).unwrap()), (0, 1)),
        ("write it", Box::new(|| c.write_file(Some("mscp"), "f", b"data").unwrap()), (0, 1)),
        ("delete it", Box::new(|| c.delete_file(Some("mscp"), "f").unwrap()), (0, 1)),
        ("create a directory", Box::new(|| c.create_directory("app", 1).unwrap()), (0, 1)),
        ("delete it", Box::new(|| c.delete_directory("app").unwrap()), (0, 1)),
        (
            "generate a key",
            Box::new(|| {
                c.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 1024, None).unwrap()
            }),
            (1, 1),
        ),
        (
            "import a key",
            Box::new(|| {
                c.create_container(3, misc::CREATE_CONTAINER_KEY_IMPORT, keyspec::AT_KEYEXCHANGE, 2048, Some(&blob))
                    .unwrap()
            }),
            (1, 1),
        ),
        ("delete a key", Box::new(|| c.delete_container(2).unwrap()), (1, 1)),
    ];
    for (what, change, (containers, files)) in &changes {
        let old = vfs::cardcf::CacheFile::decode(&c.read_file(None, "cardcf").unwrap()).unwrap();
        change();
        let new = vfs::cardcf::CacheFile::decode(&c.read_file(None, "cardcf").unwrap()).unwrap();
        assert_eq!(new.containers_freshness.wrapping_sub(old.containers_freshness), *containers, "{what}: containers");
        assert!(new.files_freshness.wrapping_sub(old.files_freshness) >= *files, "{what}: files");
        if *files == 0 {
            assert_eq!(new.files_freshness, old.files_freshness, "{what}: files");
        }
        assert_eq!(ctx.sim.data_object(GIDS_CARDCF.0, GIDS_CARDCF.1).unwrap(), new.encode(), "{what}: on the card");
    }
    // A change by another program (here another context, as OpenSC would: it bumps cardcf).
    let seen = c.read_file(Some("mscp"), "cmapfile").unwrap();
    let other = ctx.another(&AcquireOptions::default());
    other.user();
    other.csp.delete_container(3).unwrap();
    let mid = c.read_file(None, "cardcf").unwrap();
    assert_eq!(mid, other.csp.read_file(None, "cardcf").unwrap(), "the CSP's next read sees the other's bump");
    assert_ne!(c.read_file(Some("mscp"), "cmapfile").unwrap(), seen, "and the new container map");
    assert_eq!(err(c.container_info(3)), code::SCARD_E_NO_KEY_CONTAINER, "the other program's deletion");
}

/// Items: 155, 156, 158, 160
///
/// GIDS: what one context changes (a key imported into container 2 with its certificate written
/// in the CSP's compressed form, container 1 and its certificate deleted) is what the next
/// context of the process sees through the shared CSP cache: the driver drops the snapshot it
/// stored before the change. On an unchanged card, a second context costs two APDUs (the
/// `cardcf` probe and `cardid`, item 160: they validate the cache) and reads no certificate; a
/// card changed behind the CSP's back (another writer bumps `cardcf`) is read afresh.
#[test]
fn items_155_156_158_160_gids_a_change_through_one_context_is_seen_by_the_next() {
    let _g = serial();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache), ..AcquireOptions::default() };
    let first = open_with(GidsSim::standard(), &options).unwrap();
    let cmap = first.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    first.csp.container_info(0).unwrap();
    first.user();
    let blob = private_key_blob(test_vectors::keys::RSA_2048_A, crypt::CALG_RSA_KEYX);
    first
        .csp
        .create_container(2, misc::CREATE_CONTAINER_KEY_IMPORT, keyspec::AT_KEYEXCHANGE, 2048, Some(&blob))
        .unwrap();
    let cert = compressed_certificate(test_vectors::certs::PIV_AUTH_9A);
    first.csp.create_file(Some("mscp"), "kxc02", 0, 1).unwrap();
    first.csp.write_file(Some("mscp"), "kxc02", &cert).unwrap();
    first.csp.delete_container(1).unwrap();
    first.csp.delete_file(Some("mscp"), "kxc01").unwrap();
    let new_cmap = first.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_ne!(new_cmap, cmap);
    let second = first.another(&options);
    drop(first);
    assert_eq!(second.csp.read_file(Some("mscp"), "cmapfile").unwrap(), new_cmap);
    assert_eq!(second.csp.read_file(Some("mscp"), "kxc02").unwrap(), cert);
    assert_eq!(err(second.csp.read_file(Some("mscp"), "kxc01")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(second.csp.container_info(1)), code::SCARD_E_NO_KEY_CONTAINER);
    let kx = second.csp.container_info(2).unwrap().1;
    let key = crypto::public_key_from_spki(test_vectors::keys::RSA_2048_A_SPKI).unwrap();
    assert_eq!(
        publickeyblob_modulus(&kx, crypt::CALG_RSA_KEYX),
        modulus(&key),
        "the imported key, with its certificate"
    );
    drop(second);
    // An unchanged card: the next context validates the cache with cardcf and cardid only.
    let sim = GidsSim::standard();
    let warm = open_with(sim.clone(), &options).unwrap();
    warm.csp.read_file(None, "cardcf").unwrap();
    warm.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    warm.csp.container_info(0).unwrap();
    drop(warm);
    let before = sim.sim_counters();
    let next = open_with(sim.clone(), &options).unwrap();
    let cardcf = next.csp.read_file(None, "cardcf").unwrap();
    next.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(next.csp.read_file(Some("mscp"), "kxc00").unwrap(), sim.certificate_file(0).unwrap());
    next.csp.container_info(1).unwrap();
    let used = sim.sim_counters().since(before);
    assert!(used.apdus <= 2, "second context: {used:?}");
    drop(next);
    // Changed behind the CSP's back: a new certificate for container 0 and a bumped cardcf.
    let mut cf = vfs::cardcf::CacheFile::decode(&cardcf).unwrap();
    cf.bump_files();
    let replaced = compressed_certificate(test_vectors::certs::KEY_MANAGEMENT_9D);
    let tag = (0xDF21..=0xDF40).find(|t| sim.data_object(0xA010, *t) == sim.certificate_file(0)).unwrap();
    sim.set_data_object(0xA010, tag, &replaced).unwrap();
    sim.set_data_object(GIDS_CARDCF.0, GIDS_CARDCF.1, &cf.encode()).unwrap();
    let third = open_with(sim, &options).unwrap();
    assert_eq!(third.csp.read_file(None, "cardcf").unwrap(), cf.encode());
    assert_eq!(third.csp.read_file(Some("mscp"), "kxc00").unwrap(), replaced, "nothing stale is served");
}

/// Items: 87, 92, 101
///
/// GIDS: the logical files, stored on the card (GIDS electrical profile: the master file names
/// them): `cardid` (16 bytes, EveryoneReadAdminWriteAc), `cardcf` (6), `cardapps`
/// (`mscp` + 4 zero bytes), `mscp/cmapfile` (one record per container), `mscp/kxcNN` (the CSP's
/// compressed certificates); names case-insensitive; the specification's error codes.
#[test]
fn items_87_92_101_gids_the_logical_files_of_the_card() {
    let _g = serial();
    let ctx = open_gids();
    let c = &ctx.csp;
    assert_eq!(c.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
    assert_eq!(c.read_file(None, "cardcf").unwrap().len(), 6);
    assert_eq!(c.read_file(None, "cardapps").unwrap(), b"mscp\0\0\0\0");
    assert_eq!(c.read_file(None, "CARDAPPS").unwrap(), b"mscp\0\0\0\0", "names are case-insensitive");
    let cmap = vfs::cmapfile::ContainerMap::decode(&c.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    let valid: Vec<_> = cmap.valid().collect();
    assert_eq!(valid.len(), 2);
    assert_eq!(cmap.default_index(), Some(0));
    assert_eq!(valid[0].1.key_exchange_key_size_bits(), 2048);
    assert_eq!(valid[1].1.key_exchange_key_size_bits(), 3072);
    for (file, index) in [("kxc00", 0), ("kxc01", 1)] {
        assert_eq!(c.read_file(Some("mscp"), file).unwrap(), ctx.sim.certificate_file(index).unwrap(), "{file}");
    }
    let mut root = c.enum_files(None).unwrap();
    root.sort();
    assert_eq!(root, ["cardapps", "cardcf", "cardid"]);
    assert_eq!(c.enum_files(Some("mscp")).unwrap(), ["cmapfile", "kxc00", "kxc01"]);
    assert_eq!(c.file_info(None, "cardid").unwrap(), (16, 3), "EveryoneReadAdminWriteAc");
    assert_eq!(
        c.file_info(None, "cardapps").unwrap(),
        (8, 3),
        "EveryoneReadAdminWriteAc, though its EF lets the user write"
    );
    ctx.user();
    assert_eq!(
        err(c.write_file(None, "cardapps", b"mscp\0\0\0\0")),
        code::SCARD_W_SECURITY_VIOLATION,
        "the user may not"
    );
    assert_eq!(c.file_info(Some("mscp"), "kxc00").unwrap().1, 1, "EveryoneReadUserWriteAc");
    assert_eq!(c.file_info(Some("mscp"), "cmapfile").unwrap(), (2 * 86, 1));
    assert_eq!(err(c.read_file(Some("mscp"), "msroots")), code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(err(c.read_file(Some("nodir"), "x")), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(err(c.read_file(None, "toolongname")), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(err(c.read_file(None, "bad*name")), code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(err(c.enum_files(Some("nodir"))), code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(c.query_free_space().unwrap(), (u32::MAX, 124, 126));
}

/// Items: 16, 17, 18, 19, 20, 28
///
/// On both edges, in memory: versions 4 to 7 are negotiated (a higher request gets 7), nothing
/// is written past the negotiated version's extent, the table is filled for that version
/// (pvUnused3/4 NULL); versions 0 to 3 are `ERROR_REVISION_MISMATCH`; NO_CARD_MODE without
/// secure key injection is `SCARD_E_UNSUPPORTED_FEATURE`, another flag invalid.
#[test]
fn items_16_to_20_and_28_versions_on_both_edges() {
    let _g = serial();
    on_both_edges(versions::<PivSim>, versions::<GidsSim>);
}

fn versions<S: SimCard>() {
    let live = live_allocations();
    for (requested, negotiated) in [(4, 4), (5, 5), (6, 6), (7, 7), (8, 7), (1000, 7)] {
        let options = AcquireOptions { version: requested, ..AcquireOptions::default() };
        let ctx = open_with(S::standard(), &options).unwrap();
        assert_eq!(ctx.csp.version(), negotiated);
        assert!(ctx.csp.tail_untouched(), "nothing written past version {requested}'s extent");
        let t = ctx.cd();
        assert!(t.pfnCardReadFile.is_some() && t.pfnCardSignData.is_some() && t.pfnCardDeleteContext.is_some());
        assert!(t.pvUnused3.is_null() && t.pvUnused4.is_null());
        // (Fields past the negotiated extent are the stand-in's 0xA5 filler: not read.)
        assert_eq!(t.pfnCardConstructDHAgreement.is_some(), S::ECDH);
        if negotiated >= 5 {
            assert_eq!(t.pfnCardDeriveKey.is_some(), S::ECDH);
        }
        if negotiated >= 6 {
            assert!(t.pfnCardGetProperty.is_some() && t.pfnCardAuthenticateEx.is_some());
        }
        if negotiated >= 7 {
            assert!(t.pfnCardCreateContainerEx.is_some() && t.pfnMDImportSessionKey.is_some());
        }
        assert_eq!(ctx.csp.query_capabilities().unwrap(), S::CAPABILITIES);
        assert_eq!(ctx.csp.read_file(None, "cardid").unwrap(), ctx.sim.cardid());
    }
    for old in [0, 1, 2, 3] {
        let options = AcquireOptions { version: old, ..AcquireOptions::default() };
        assert_eq!(err(open_with(S::standard(), &options).map(|_| ())), code::ERROR_REVISION_MISMATCH, "version {old}");
    }
    for (flags, expected) in [(1, code::SCARD_E_UNSUPPORTED_FEATURE), (2, code::SCARD_E_INVALID_PARAMETER)] {
        let options = AcquireOptions { flags, ..AcquireOptions::default() };
        assert_eq!(err(open_with(S::standard(), &options).map(|_| ())), expected, "flags {flags}");
    }
    assert_eq!(live_allocations(), live);
}

/// Items: 166
///
/// On both edges: no secure key injection: `CP_KEY_IMPORT_SUPPORT` is 0 and every SKI entry
/// point is `SCARD_E_UNSUPPORTED_FEATURE` (GIDS imports container keys, item 126, but that is
/// `CardCreateContainer`, not secure key injection).
#[test]
fn item_166_secure_key_injection_is_unsupported_on_both_edges() {
    let _g = serial();
    on_both_edges(no_ski::<PivSim>, no_ski::<GidsSim>);
}

fn no_ski<S: SimCard>() {
    let ctx = open_std::<S>();
    let codes = ctx.csp.ski_codes();
    assert_eq!(codes.len(), 9);
    for (name, c) in codes {
        assert_eq!(c.0, code::SCARD_E_UNSUPPORTED_FEATURE, "{name}");
    }
    assert_eq!(ctx.csp.get_property(prop::KEY_IMPORT_SUPPORT, 0).unwrap(), 0u32.to_le_bytes());
    let mut raw = raw::RawCsp::new(7, &ctx.sim.atr());
    assert_eq!(
        raw.acquire(misc::NO_CARD_MODE, Some(Box::new(MemoryCard::new(ctx.sim.clone())))),
        code::SCARD_E_UNSUPPORTED_FEATURE
    );
}

/// Items: 153, 156, 157
///
/// `cardcf` is the 6-byte `CARD_CACHE_FILE_FORMAT`; a change the driver itself makes (a key
/// generated with the management key, a new CHUID) and a change made elsewhere (another
/// program rewrites the CHUID) both move its counters; PIV cannot store `cardcf`, so the card
/// reports `CP_CACHE_MODE_SESSION_ONLY` and is not read-only.
#[test]
fn items_153_156_157_cardcf_and_cache_mode() {
    let _g = serial();
    let ctx = open();
    let c = &ctx.csp;
    let before = c.read_file(None, "cardcf").unwrap();
    assert_eq!(before.len(), 6);
    let cf = vfs::cardcf::CacheFile::decode(&before).unwrap();
    assert_eq!(cf.encode(), before);
    assert_eq!(cf.containers_freshness, u16::from_le_bytes([before[2], before[3]]), "little-endian words");
    assert_eq!(cf.files_freshness, u16::from_le_bytes([before[4], before[5]]));
    assert_eq!(dword(&c.get_property(prop::CACHE_MODE, 0).unwrap()), prop::CACHE_MODE_SESSION_ONLY);
    assert_eq!(dword(&c.get_property(prop::READ_ONLY, 0).unwrap()), 0);
    // The driver's own change (item 156).
    ctx.admin();
    c.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    let after = vfs::cardcf::CacheFile::decode(&c.read_file(None, "cardcf").unwrap()).unwrap();
    assert_ne!(after.containers_freshness, cf.containers_freshness);
    assert_ne!(after.files_freshness, cf.files_freshness);
    // A change by another program: a new CHUID.
    let mid = c.read_file(None, "cardcf").unwrap();
    ctx.sim.set_guid([0x31; 16]).unwrap();
    assert_ne!(c.read_file(None, "cardcf").unwrap(), mid);
}

/// Items: 155, 156
///
/// A change made through one context is what the next context (same process, same CSP cache)
/// sees: the driver does not serve a stale snapshot of the card from the CSP's cache after it
/// changed the card itself.
#[test]
fn items_155_156_a_change_through_one_context_is_seen_by_the_next() {
    let _g = serial();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache), ..AcquireOptions::default() };
    let first = open_with(PivSim::default_card().unwrap(), &options).unwrap();
    let cmap = first.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    first.admin();
    first.csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
    let cert = first.sim.issue_certificate(0x82).unwrap();
    first.csp.create_file(Some("mscp"), "kxc04", 0, 1).unwrap();
    first.csp.write_file(Some("mscp"), "kxc04", &cert).unwrap();
    first.csp.delete_container(3).unwrap();
    let new_cmap = first.csp.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_ne!(new_cmap, cmap);
    let second = first.another(&options);
    drop(first);
    assert_eq!(second.csp.read_file(Some("mscp"), "cmapfile").unwrap(), new_cmap);
    assert_eq!(second.csp.read_file(Some("mscp"), "kxc04").unwrap(), cert);
    assert_eq!(err(second.csp.container_info(3)), code::SCARD_E_NO_KEY_CONTAINER);
}
