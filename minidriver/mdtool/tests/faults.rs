//! A fault at every APDU of every flow, on both card edges, through the `CARD_DATA` function
//! table (issue "Reliability and safety as tests that run in CI").
//!
//! Each flow runs once on a clean card to count its APDUs `N`. Then, for every APDU index
//! `0..N` and every kind of [`Fault::ALL`], the flow runs on a fresh card whose connection
//! injects that fault, and the test asserts:
//!
//! - no panic reaches the driver's boundary (a panic hook counts them: the driver turns a panic
//!   into `SCARD_E_UNEXPECTED`, so the hook is how one is seen);
//! - a removal is `SCARD_W_REMOVED_CARD` (or `SCARD_E_NO_SMARTCARD`) and a reset
//!   `SCARD_W_RESET_CARD` at the entry point that met it (Smart Card Minidriver Specification
//!   v7, checklist item 48), and no answer `SCARD_E_TIMEOUT`;
//! - no false success: every output a call returned with `SCARD_S_SUCCESS` is checked
//!   (signatures verify with the certificate's key, decryptions give the plaintext, files and
//!   public keys are the card's, shared secrets are a software ECDH's, a successful
//!   authentication is one the card granted);
//! - after a reset the context reports `CP_CARD_AUTHENTICATED_STATE` 0 and does not quietly
//!   authenticate the card again;
//! - the next context on the same card (fault-free connection, same CSP cache) runs the flow;
//! - after a write flow the card holds the old state or the new one, never a mix (GIDS: master
//!   file, `cmapfile`, keymap, key files and certificates agree, and `cardcf` moved whenever
//!   content did; PIV: a certificate object is for the key in its slot);
//! - the CSP's allocation balance is back to where it was.
//!
//! `cargo test -p mdtool --test faults -- --nocapture` prints the matrix of flows x faults x
//! outcomes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::type_complexity,
    reason = "tests: a failure is a panic with the code"
)]

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use card_edges::gids::keymap::KeyMap;
use card_edges::gids::masterfile::MasterFile;
use card_edges::key::PublicKey;
use card_edges::transport::memory::CardSlot;
use card_sim::fault::{Fault, FaultLog, Faulty};
use card_sim::{GidsSim, KeyAlgorithm, PivSim};
use mdtool::csp::{Code, Csp, CspCache, Padding, live_allocations};
use minidriver::abi::{code, crypt, keyspec, pin, prop};
use sha2::{Digest, Sha256};
use support::{Reconnecting, Sim};
use vfs::cmapfile::ContainerMap;

/// `SCARD_E_TIMEOUT`.
const SCARD_E_TIMEOUT: u32 = 0x8010_000A;
/// The PIV PUK's PIN id (minidriver's PIV PIN table).
const PIV_PUK: u32 = 4;
/// The PIV PIN id verified right before each use of the 9C key.
const PIV_SIGNATURE_PIN: u32 = 3;
/// Where the GIDS card keeps its files (GIDS electrical profile).
const GIDS_CARDCF: (u16, u16) = (0xA010, 0xDF22);
const GIDS_MASTER_FILE: (u16, u16) = (0xA000, 0xDF1F);
const GIDS_KEYMAP: (u16, u16) = (0xA000, 0xDF20);
const GIDS_CMAPFILE: (u16, u16) = (0xA010, 0xDF23);
/// The PINs a PIN flow sets, in order.
const PINS: [&[u8]; 3] = [b"123456", b"654321", b"246810"];

// ----- one run of a flow -----

/// Where the outputs of the clean run are kept, to compare a faulted run's with.
#[derive(Debug, Default)]
struct Golden {
    values: BTreeMap<String, Vec<u8>>,
    recording: bool,
}

/// One call through the table: its entry point, the commands sent before and after it, and
/// its code.
#[derive(Clone, Debug)]
struct Step {
    entry: &'static str,
    before: u64,
    after: u64,
    code: u32,
}

/// One run of a flow over one context.
struct Run<'a> {
    sim: Sim,
    csp: Option<Csp>,
    log: FaultLog,
    golden: &'a mut Golden,
    steps: Vec<Step>,
    /// False successes and other broken promises, with what was seen.
    issues: Vec<String>,
    /// The call that stopped the flow and its code.
    stopped: Option<(&'static str, u32)>,
    /// This run is a recovery: tolerant of the state a fault left.
    recovery: bool,
    /// The fault this run's connection injects, and whether what follows a reset was checked.
    fault: Option<Fault>,
    reset_checked: bool,
}

impl<'a> Run<'a> {
    fn new(sim: Sim, log: FaultLog, golden: &'a mut Golden, recovery: bool) -> Self {
        Self {
            sim,
            csp: None,
            log,
            golden,
            steps: Vec::new(),
            issues: Vec::new(),
            stopped: None,
            recovery,
            fault: None,
            reset_checked: false,
        }
    }

    /// Right after the call that met a reset: the context reports nobody authenticated, and
    /// its next call (a read) does not authenticate the card again behind the CSP's back.
    fn after_step(&mut self) {
        if self.fault != Some(Fault::Reset) || self.reset_checked || !self.log.fired() {
            return;
        }
        self.reset_checked = true;
        let Some(csp) = self.csp.as_ref() else { return };
        let state = csp.get_property(prop::AUTHENTICATED_STATE, 0).map(|v| v[..4].to_vec());
        if state != Ok(vec![0; 4]) {
            self.issues.push(format!("after the reset the authenticated state is {state:?}"));
        }
        let _ = csp.read_file(None, "cardcf");
        if self.sim.pin_verified() || self.sim.admin_authenticated() {
            self.issues.push("after the reset the driver authenticated the card again by itself".into());
        }
    }

    fn csp(&self) -> &Csp {
        self.csp.as_ref().expect("acquired")
    }

    /// Acquires the context over `transport` (a step like any other).
    fn acquire(
        &mut self,
        transport: impl card_edges::transport::Transport + Send + 'static,
        cache: &Arc<Mutex<CspCache>>,
    ) -> Option<()> {
        let before = self.log.sent();
        let result = support::acquire(&self.sim, transport, cache);
        let after = self.log.sent();
        match result {
            Ok(csp) => {
                self.steps.push(Step { entry: "CardAcquireContext", before, after, code: 0 });
                self.csp = Some(csp);
                self.after_step();
                Some(())
            }
            Err(c) => {
                self.steps.push(Step { entry: "CardAcquireContext", before, after, code: c.0 });
                self.stopped = Some(("CardAcquireContext", c.0));
                None
            }
        }
    }

    /// One call; `None` (and the flow stops) when it fails.
    fn call<T>(&mut self, entry: &'static str, f: impl FnOnce(&Csp) -> Result<T, Code>) -> Option<T> {
        let before = self.log.sent();
        let result = f(self.csp());
        let after = self.log.sent();
        let c = result.as_ref().err().map_or(0, |c| c.0);
        self.steps.push(Step { entry, before, after, code: c });
        self.after_step();
        match result {
            Ok(v) => Some(v),
            Err(c) => {
                self.stopped = Some((entry, c.0));
                None
            }
        }
    }

    /// A call for which `allowed` also does (a recovery meeting what the faulted run left):
    /// `Some(None)` for it.
    fn call_allowing<T>(
        &mut self,
        entry: &'static str,
        allowed: u32,
        f: impl FnOnce(&Csp) -> Result<T, Code>,
    ) -> Option<Option<T>> {
        match self.call(entry, f) {
            Some(v) => Some(Some(v)),
            None if self.stopped.is_some_and(|(_, c)| c == allowed) => {
                self.stopped = None;
                if let Some(s) = self.steps.last_mut() {
                    s.code = 0;
                }
                Some(None)
            }
            None => None,
        }
    }

    /// A call that must fail with `expected`; `None` when it failed otherwise. A success is a
    /// broken promise, noted, and the flow goes on.
    fn expect<T>(&mut self, entry: &'static str, expected: u32, f: impl FnOnce(&Csp) -> Result<T, Code>) -> Option<()> {
        let before = self.log.sent();
        let result = f(self.csp());
        let after = self.log.sent();
        match result {
            Err(c) if c.0 == expected => {
                self.steps.push(Step { entry, before, after, code: 0 });
                Some(())
            }
            Err(c) => {
                self.steps.push(Step { entry, before, after, code: c.0 });
                self.stopped = Some((entry, c.0));
                None
            }
            Ok(_) => {
                self.steps.push(Step { entry, before, after, code: 0 });
                self.issue(format!("{entry} succeeded where {} was due", Code(expected)));
                Some(())
            }
        }
    }

    fn issue(&mut self, what: String) {
        self.issues.push(what);
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            self.issue(format!("false success: {what}"));
        }
    }

    /// Records (clean run) or compares (faulted run) an output that does not depend on the run.
    fn same(&mut self, label: &str, value: &[u8]) {
        if self.golden.recording {
            self.golden.values.insert(label.to_owned(), value.to_vec());
        } else if let Some(g) = self.golden.values.get(label)
            && g.as_slice() != value
        {
            self.issue(format!("false success: {label} is {} bytes, not the card's {}", value.len(), g.len()));
        }
    }

    fn authenticate(&mut self, id: u32, secret: &[u8]) -> Option<()> {
        self.call("CardAuthenticateEx", |c| c.authenticate_ex(id, 0, secret).map(|_| ()).map_err(|(c, _)| c))?;
        let sim = self.sim.clone();
        if id == pin::ROLE_ADMIN {
            self.check(sim.admin_authenticated(), || "the administrator is not authenticated on the card".into());
        } else {
            self.check(sim.pin_verified(), || format!("PIN {id} is not verified on the card"));
        }
        Some(())
    }

    fn admin(&mut self) -> Option<()> {
        let challenge = self.call("CardGetChallengeEx", |c| c.get_challenge_ex(pin::ROLE_ADMIN))?;
        self.authenticate(pin::ROLE_ADMIN, &support::admin_response(&challenge))?;
        let state = self.auth_state()?;
        self.check(state & pin::set_of(pin::ROLE_ADMIN) != 0, || {
            format!("authenticated state {state:#x} lacks the administrator")
        });
        Some(())
    }

    fn auth_state(&mut self) -> Option<u32> {
        let v = self.call("CardGetProperty", |c| c.get_property(prop::AUTHENTICATED_STATE, 0))?;
        Some(v.get(..4).map_or(u32::MAX, |b| u32::from_le_bytes(b.try_into().unwrap())))
    }
}

// ----- flows -----

/// A flow: its card and what it does over an acquired context.
struct Flow {
    name: &'static str,
    card: fn() -> Sim,
    body: fn(&mut Run<'_>) -> Option<()>,
    /// What the next context runs on the card the faulted run left (the flow itself, or a
    /// version that finishes it from whatever state it is in).
    recover: fn(&mut Run<'_>) -> Option<()>,
    /// Whether the flow writes (the card is checked for old-or-new after a fault).
    writes: bool,
}

fn piv_card() -> Sim {
    Sim::Piv(PivSim::default_card().unwrap())
}

fn piv_ecdh_card() -> Sim {
    Sim::Piv(PivSim::builder(b"fault-matrix-ecdh").generate(0x9D, KeyAlgorithm::EccP256).build().unwrap())
}

fn gids_card() -> Sim {
    Sim::Gids(GidsSim::default_card().unwrap())
}

/// The listing a CSP makes on a cold card: cardcf, cardid, cardapps, cmapfile, then every
/// container's public keys and certificate file. Returns each container's public key
/// (from its certificate) and key spec.
fn listing(run: &mut Run<'_>, containers: &[u8]) -> Option<Vec<(u8, PublicKey, u32)>> {
    let cardcf = run.call("CardReadFile", |c| c.read_file(None, "cardcf"))?;
    run.same("cardcf", &cardcf);
    let cardid = run.call("CardReadFile", |c| c.read_file(None, "cardid"))?;
    run.same("cardid", &cardid);
    let cardapps = run.call("CardReadFile", |c| c.read_file(None, "cardapps"))?;
    run.same("cardapps", &cardapps);
    let cmap = run.call("CardReadFile", |c| c.read_file(Some("mscp"), "cmapfile"))?;
    run.same("cmapfile", &cmap);
    let mut keys = Vec::new();
    for &i in containers {
        let (sig, kx) = run.call("CardGetContainerInfo", |c| c.container_info(i))?;
        run.same(&format!("container {i} signature key"), &sig);
        run.same(&format!("container {i} key exchange key"), &kx);
        let signature = !sig.is_empty();
        let (file, blob) = if signature { (format!("ksc{i:02}"), sig) } else { (format!("kxc{i:02}"), kx) };
        let stored = run.call("CardReadFile", |c| c.read_file(Some("mscp"), &file))?;
        run.same(&format!("mscp/{file}"), &stored);
        let der = match &run.sim {
            Sim::Piv(_) => stored,
            Sim::Gids(_) => card_sim::gids::decompress_certificate(&stored).unwrap_or_default(),
        };
        let Some(key) = support::cert_key(&der) else {
            run.issue(format!("false success: mscp/{file} holds no certificate"));
            return None;
        };
        run.check(support::blob_is_key(&blob, key.spki()), || {
            format!("container {i}'s public key is not its certificate's")
        });
        let spec = match (key.algorithm().is_rsa(), !signature) {
            (true, true) => keyspec::AT_KEYEXCHANGE,
            (true, false) => keyspec::AT_SIGNATURE,
            (false, _) => keyspec::AT_ECDSA_P256,
        };
        keys.push((i, key, spec));
    }
    Some(keys)
}

fn piv_listing(run: &mut Run<'_>) -> Option<()> {
    listing(run, &[0, 1, 2, 3]).map(|_| ())
}

fn gids_listing(run: &mut Run<'_>) -> Option<()> {
    listing(run, &[0, 1]).map(|_| ())
}

/// Signs a hash with container `i` and checks the signature with the certificate's key.
fn sign_and_verify(run: &mut Run<'_>, i: u8, key: &PublicKey, spec: u32) -> Option<()> {
    let hash = Sha256::digest([b"fault matrix".as_slice(), &[i]].concat()).to_vec();
    let alg = if key.algorithm().is_rsa() { crypt::CALG_SHA_256 } else { 0 };
    let sig = run.call("CardSignData", |c| c.sign_data(i, spec, alg, 0, &hash, None))?;
    run.check(support::signature_verifies(key, &hash, &sig), || format!("container {i}'s signature does not verify"));
    Some(())
}

/// Decrypts a message encrypted to container `i`'s key and compares.
fn decrypt_round_trip(run: &mut Run<'_>, i: u8, key: &PublicKey) -> Option<()> {
    let msg = format!("fault matrix secret for container {i}").into_bytes();
    let ciphertext = support::rsa_encrypt(key, &msg).expect("encrypts");
    let plain = run.call("CardRSADecrypt", |c| c.rsa_decrypt(i, &ciphertext, 2, &Padding::Pkcs1(None)))?;
    run.check(support::le(plain) == msg, || format!("container {i} decrypts to something else"));
    Some(())
}

/// Listing, PIN, a signature with every key, a decryption with every RSA key-exchange key,
/// deauthentication.
fn session(run: &mut Run<'_>, containers: &[u8]) -> Option<()> {
    let keys = listing(run, containers)?;
    run.authenticate(pin::ROLE_USER, PINS[0])?;
    for (i, key, spec) in &keys {
        if matches!(run.sim, Sim::Piv(_)) && *i == 1 {
            // 9C: the PIN right before each use.
            run.authenticate(PIV_SIGNATURE_PIN, PINS[0])?;
        }
        sign_and_verify(run, *i, key, *spec)?;
    }
    for (i, key, spec) in &keys {
        if *spec == keyspec::AT_KEYEXCHANGE {
            decrypt_round_trip(run, *i, key)?;
        }
    }
    run.call("CardDeauthenticateEx", |c| c.deauthenticate_ex(pin::set_of(pin::ROLE_USER)))?;
    let state = run.auth_state()?;
    let verified = run.sim.pin_verified();
    run.check(state == 0 && !verified, || {
        format!("after deauthentication: state {state:#x}, card verified {verified}")
    });
    Some(())
}

fn piv_session(run: &mut Run<'_>) -> Option<()> {
    session(run, &[0, 1, 2, 3])
}

fn gids_session(run: &mut Run<'_>) -> Option<()> {
    session(run, &[0, 1])
}

/// The peer's `BCRYPT_ECCKEY_BLOB` and the secret it agrees with the card's 9D key.
fn peer_blob(sim: &PivSim) -> (Vec<u8>, Vec<u8>) {
    let ours = p256::SecretKey::from_slice(&[0x21; 32]).unwrap();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    let mut blob = crypt::ECDH_PUBLIC_P256_MAGIC.to_le_bytes().to_vec();
    blob.extend_from_slice(&32u32.to_le_bytes());
    blob.extend_from_slice(&point.as_bytes()[1..]);
    let spki = sim.public_key(0x9D).unwrap();
    let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine()).raw_secret_bytes().to_vec();
    (blob, z)
}

/// PIN, ECDH with the card's P-256 key in 9D, the raw secret and a hashed one, then the
/// agreement destroyed.
fn piv_ecdh(run: &mut Run<'_>) -> Option<()> {
    let Sim::Piv(piv) = run.sim.clone() else { return None };
    let (blob, z) = peer_blob(&piv);
    run.authenticate(pin::ROLE_USER, PINS[0])?;
    let agreement = run.call("CardConstructDHAgreement", |c| c.construct_dh_agreement(2, &blob))?;
    let raw = run.call("CardDeriveKey", |c| c.derive_key(agreement, "TRUNCATE", &[], 0, 32))?;
    run.check(support::le(raw) == z, || "the raw agreement is not the software ECDH's".into());
    let hashed = run.call("CardDeriveKey", |c| c.derive_key(agreement, "HASH", &[], 0, 20))?;
    let want = {
        use sha1::Digest as _;
        sha1::Sha1::digest(&z).to_vec()
    };
    run.check(hashed == want, || "HASH(agreement) is not SHA-1 of the software ECDH's".into());
    run.call("CardDestroyDHAgreement", |c| c.destroy_dh_agreement(agreement))?;
    Some(())
}

/// Changes the PIN from `current`, then unblocks it (PIV: with the PUK; GIDS: with the
/// administrator's challenge-response), checking each new PIN.
fn pin_change_from(run: &mut Run<'_>, current: &[u8]) -> Option<()> {
    run.call("CardChangeAuthenticatorEx", |c| {
        c.change_authenticator_ex(pin::CHANGE_FLAG_CHANGEPIN, pin::ROLE_USER, current, pin::ROLE_USER, PINS[1])
            .map_err(|(c, _)| c)
    })?;
    run.authenticate(pin::ROLE_USER, PINS[1])?;
    match run.sim {
        Sim::Piv(_) => {
            run.call("CardChangeAuthenticatorEx", |c| {
                c.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, PIV_PUK, b"12345678", pin::ROLE_USER, PINS[2])
                    .map_err(|(c, _)| c)
            })?;
        }
        Sim::Gids(_) => {
            let challenge = run.call("CardGetChallengeEx", |c| c.get_challenge_ex(pin::ROLE_ADMIN))?;
            let response = support::admin_response(&challenge);
            run.call("CardChangeAuthenticatorEx", |c| {
                c.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, pin::ROLE_ADMIN, &response, pin::ROLE_USER, PINS[2])
                    .map_err(|(c, _)| c)
            })?;
        }
    }
    run.authenticate(pin::ROLE_USER, PINS[2])
}

fn pin_change(run: &mut Run<'_>) -> Option<()> {
    pin_change_from(run, PINS[0])
}

/// Finds which of the flow's PINs the card holds now (wrong ones spend a try each, and the
/// right one restores them), then runs the flow from it.
fn pin_change_recover(run: &mut Run<'_>) -> Option<()> {
    for candidate in PINS {
        let ok = run.call_allowing("CardAuthenticateEx", code::SCARD_W_WRONG_CHV, |c| {
            c.authenticate_ex(pin::ROLE_USER, 0, candidate).map_err(|(c, _)| c)
        })?;
        if ok.is_some() {
            return pin_change_from(run, candidate);
        }
    }
    run.issue("the card holds none of the flow's PINs".into());
    None
}

/// The administrator's challenge-response, then (GIDS) its deauthentication.
fn admin_auth(run: &mut Run<'_>) -> Option<()> {
    run.admin()?;
    if matches!(run.sim, Sim::Gids(_)) {
        run.call("CardDeauthenticateEx", |c| c.deauthenticate_ex(pin::set_of(pin::ROLE_ADMIN)))?;
        let state = run.auth_state()?;
        let admin = run.sim.admin_authenticated();
        run.check(state == 0 && !admin, || format!("after deauthentication: state {state:#x}, card admin {admin}"));
    }
    Some(())
}

/// The card's public key for container `index`, from the simulator.
fn card_key(sim: &Sim, index: u8) -> Option<Vec<u8>> {
    match sim {
        Sim::Piv(s) => s.public_key(0x82 + index - 4),
        Sim::Gids(s) => s.public_key(0x81 + index),
    }
}

/// Key generation and the certificate write: PIV container 4 (retired slot 82, P-256 ECDH)
/// with the management key; GIDS container 2 (RSA-1024) with the user PIN, its certificate
/// written compressed to `mscp/kxc02`. In a recovery, a container or file the faulted run
/// already made is taken as it is.
fn keygen(run: &mut Run<'_>) -> Option<()> {
    let (index, spec, bits, file) = match run.sim {
        Sim::Piv(_) => (4, keyspec::AT_ECDHE_P256, 0, "kxc04"),
        Sim::Gids(_) => (2, keyspec::AT_KEYEXCHANGE, 1024, "kxc02"),
    };
    match run.sim {
        Sim::Piv(_) => run.admin()?,
        Sim::Gids(_) => run.authenticate(pin::ROLE_USER, PINS[0])?,
    }
    let exists = run.recovery
        && run
            .call_allowing("CardGetContainerInfo", code::SCARD_E_NO_KEY_CONTAINER, |c| c.container_info(index))?
            .is_some();
    if !exists {
        run.call("CardCreateContainer", |c| c.create_container(index, 1, spec, bits, None))?;
    }
    let (_, kx) = run.call("CardGetContainerInfo", |c| c.container_info(index))?;
    let Some(spki) = card_key(&run.sim, index) else {
        run.issue(format!("false success: container {index} was created but the card has no key"));
        return None;
    };
    run.check(support::blob_is_key(&kx, &spki), || format!("container {index}'s public key is not the card's"));
    let der = support::certificate_for(&spki);
    let stored = match run.sim {
        Sim::Piv(_) => der,
        Sim::Gids(_) => card_sim::gids::compress_certificate(&der).unwrap(),
    };
    if run.recovery {
        run.call_allowing("CardCreateFile", code::ERROR_FILE_EXISTS, |c| c.create_file(Some("mscp"), file, 0, 1))?;
    } else {
        run.call("CardCreateFile", |c| c.create_file(Some("mscp"), file, 0, 1))?;
    }
    run.call("CardWriteFile", |c| c.write_file(Some("mscp"), file, &stored))?;
    let back = run.call("CardReadFile", |c| c.read_file(Some("mscp"), file))?;
    run.check(back == stored, || format!("mscp/{file} reads back otherwise"));
    if let Sim::Gids(_) = run.sim {
        let key = PublicKey::from_spki(&spki).unwrap();
        sign_and_verify(run, index, &key, spec)?;
    }
    Some(())
}

/// GIDS: a file created, written, read, deleted in `mscp`.
fn gids_files(run: &mut Run<'_>) -> Option<()> {
    let data: Vec<u8> = (0..300u16).map(|i| (i % 251) as u8).collect();
    run.authenticate(pin::ROLE_USER, PINS[0])?;
    if run.recovery {
        run.call_allowing("CardDeleteFile", code::SCARD_E_FILE_NOT_FOUND, |c| c.delete_file(Some("mscp"), "fzt"))?;
    }
    run.call("CardCreateFile", |c| c.create_file(Some("mscp"), "fzt", 0, 1))?;
    run.call("CardWriteFile", |c| c.write_file(Some("mscp"), "fzt", &data))?;
    let back = run.call("CardReadFile", |c| c.read_file(Some("mscp"), "fzt"))?;
    run.check(back == data, || "mscp/fzt reads back otherwise".into());
    run.call("CardDeleteFile", |c| c.delete_file(Some("mscp"), "fzt"))?;
    run.expect("CardReadFile", code::SCARD_E_FILE_NOT_FOUND, |c| c.read_file(Some("mscp"), "fzt"))
}

/// GIDS: container 2 created (RSA-1024 by the card), listed, deleted.
fn gids_containers(run: &mut Run<'_>) -> Option<()> {
    run.authenticate(pin::ROLE_USER, PINS[0])?;
    if run.recovery {
        run.call("CardDeleteContainer", |c| c.delete_container(2))?;
    }
    run.call("CardCreateContainer", |c| c.create_container(2, 1, keyspec::AT_KEYEXCHANGE, 1024, None))?;
    let (_, kx) = run.call("CardGetContainerInfo", |c| c.container_info(2))?;
    let spki = card_key(&run.sim, 2);
    run.check(spki.is_some_and(|k| support::blob_is_key(&kx, &k)), || "container 2's key is not the card's".into());
    run.call("CardDeleteContainer", |c| c.delete_container(2))?;
    let gone = run.sim.clone();
    run.check(card_key(&gone, 2).is_none(), || "container 2 was deleted but its key is on the card".into());
    run.expect("CardGetContainerInfo", code::SCARD_E_NO_KEY_CONTAINER, |c| c.container_info(2))
}

fn flows() -> Vec<Flow> {
    vec![
        Flow { name: "piv listing", card: piv_card, body: piv_listing, recover: piv_listing, writes: false },
        Flow { name: "piv session", card: piv_card, body: piv_session, recover: piv_session, writes: false },
        Flow { name: "piv ecdh+kdf", card: piv_ecdh_card, body: piv_ecdh, recover: piv_ecdh, writes: false },
        Flow {
            name: "piv pin change+unblock",
            card: piv_card,
            body: pin_change,
            recover: pin_change_recover,
            writes: true,
        },
        Flow { name: "piv admin auth", card: piv_card, body: admin_auth, recover: admin_auth, writes: false },
        Flow { name: "piv keygen+cert", card: piv_card, body: keygen, recover: keygen, writes: true },
        Flow { name: "gids listing", card: gids_card, body: gids_listing, recover: gids_listing, writes: false },
        Flow { name: "gids session", card: gids_card, body: gids_session, recover: gids_session, writes: false },
        Flow {
            name: "gids pin change+unblock",
            card: gids_card,
            body: pin_change,
            recover: pin_change_recover,
            writes: true,
        },
        Flow { name: "gids admin auth", card: gids_card, body: admin_auth, recover: admin_auth, writes: false },
        Flow { name: "gids keygen+cert", card: gids_card, body: keygen, recover: keygen, writes: true },
        Flow { name: "gids files", card: gids_card, body: gids_files, recover: gids_files, writes: true },
        Flow {
            name: "gids containers",
            card: gids_card,
            body: gids_containers,
            recover: gids_containers,
            writes: true,
        },
    ]
}

// ----- the card's state, for write flows -----

/// What a card holds, to tell old from new from a mix.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Piv { certificate: Option<Vec<u8>>, key: Option<Vec<u8>> },
    Gids { objects: BTreeMap<(u16, u16), Vec<u8>>, keys: BTreeMap<u8, Vec<u8>> },
}

fn state(sim: &Sim) -> State {
    match sim {
        Sim::Piv(s) => State::Piv { certificate: s.certificate(0x82), key: s.public_key(0x82) },
        Sim::Gids(s) => State::Gids {
            objects: s.data_objects().into_iter().collect(),
            keys: (0x81..0x89).filter_map(|k| s.public_key(k).map(|p| (k, p))).collect(),
        },
    }
}

/// Whether the card's state is whole: the old one, the new one, or one of the states in
/// between that no reader can tell from either (nothing listed that is not all there).
fn whole(before: &State, now: &State, strict: bool) -> Result<(), String> {
    match now {
        State::Piv { certificate: Some(cert), key } => {
            let cert_key = support::cert_key(cert).map(|k| k.spki().to_vec());
            if cert_key.is_none() || cert_key != *key {
                return Err("slot 82 holds a certificate for another key".into());
            }
            Ok(())
        }
        State::Piv { .. } => Ok(()),
        State::Gids { objects, keys } => {
            let State::Gids { objects: old_objects, keys: old_keys } = before else { return Err("edge".into()) };
            let content = |o: &BTreeMap<(u16, u16), Vec<u8>>| {
                o.iter().filter(|(k, _)| **k != GIDS_CARDCF).map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
            };
            if (content(objects) != content(old_objects) || keys != old_keys)
                && objects.get(&GIDS_CARDCF) == old_objects.get(&GIDS_CARDCF)
            {
                return Err("the content changed but cardcf did not".into());
            }
            let get = |at| objects.get(&at).cloned().unwrap_or_default();
            let mf = MasterFile::decode(&get(GIDS_MASTER_FILE)).map_err(|e| format!("master file: {e}"))?;
            let map = ContainerMap::decode(&get(GIDS_CMAPFILE)).map_err(|e| format!("cmapfile: {e}"))?;
            let keymap = KeyMap::decode(&get(GIDS_KEYMAP)).map_err(|e| format!("keymap: {e}"))?;
            let mscp = vfs::Name::parse("mscp").unwrap();
            for i in 0..8u8 {
                let listed = map.get(usize::from(i)).is_some_and(|r| {
                    r.is_valid() && (r.key_exchange_key_size_bits() != 0 || r.sig_key_size_bits() != 0)
                });
                let mapped = keymap.get(usize::from(i)).is_some_and(|r| r.is_in_use());
                let key = keys.get(&(0x81 + i));
                // A listed container is whole: keymap record and key. One that is not listed is
                // invisible to every reader (Windows' and OpenSC's list cmapfile), so a key
                // file and keymap record written before the fault may be left over, for the
                // next change of that container to reuse; after the recovery nothing is.
                if listed && !(mapped && key.is_some()) {
                    return Err(format!("container {i} is listed, keymap {mapped}, key {}", key.is_some()));
                }
                if strict && !listed && (mapped || key.is_some()) {
                    return Err(format!("container {i} is not listed, keymap {mapped}, key {}", key.is_some()));
                }
                let cert = vfs::Name::parse(&format!("kxc{i:02}")).unwrap();
                if let Some(r) = mf.file(Some(&mscp), &cert) {
                    let stored = objects.get(&(r.file_id, r.data_object)).cloned().unwrap_or_default();
                    if stored.is_empty() {
                        continue;
                    }
                    let der = card_sim::gids::decompress_certificate(&stored)
                        .ok_or_else(|| format!("mscp/kxc{i:02} is not a whole certificate file"))?;
                    let cert_key = support::cert_key(&der).map(|k| k.spki().to_vec());
                    if !listed || cert_key.as_ref() != key {
                        return Err(format!("mscp/kxc{i:02} is not for container {i}'s key"));
                    }
                }
            }
            if let Some(r) = mf.file(Some(&mscp), &vfs::Name::parse("fzt").unwrap()) {
                let stored = objects.get(&(r.file_id, r.data_object)).cloned().unwrap_or_default();
                if !stored.is_empty() && stored.len() != 300 {
                    return Err(format!("mscp/fzt holds {} bytes, neither nothing nor what was written", stored.len()));
                }
            }
            Ok(())
        }
    }
}

fn set_trace(sim: &Sim) {
    match sim {
        Sim::Piv(s) => s.set_trace(true),
        Sim::Gids(s) => s.set_trace(true),
    }
}

fn take_trace(sim: &Sim) -> Vec<card_sim::TraceEntry> {
    match sim {
        Sim::Piv(s) => s.take_trace(),
        Sim::Gids(s) => s.take_trace(),
    }
}

/// A connection that keeps every command sent through it (outside the fault, so it sees the
/// faulted command and what the driver sent after it).
struct Logged<T> {
    inner: T,
    commands: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl<T: card_edges::transport::Transport> card_edges::transport::Transport for Logged<T> {
    fn transmit(&mut self, command: &[u8]) -> card_edges::Result<Vec<u8>> {
        self.commands.lock().unwrap().push(command.to_vec());
        self.inner.transmit(command)
    }

    fn atr(&mut self) -> card_edges::Result<Vec<u8>> {
        self.inner.atr()
    }
}

/// Whether `next` sends `cmd` again (same header and data; only Le may differ, as a `6Cxx`
/// re-send has it).
fn resends(cmd: &[u8], next: &[u8]) -> bool {
    let body = |c: &[u8]| -> Vec<u8> {
        match c {
            [h @ .., _le] if c.len() == 5 => h.to_vec(),
            [h0, h1, h2, h3, lc, rest @ ..] if usize::from(*lc) <= rest.len() && *lc != 0 => {
                let mut v = vec![*h0, *h1, *h2, *h3, *lc];
                v.extend_from_slice(&rest[..usize::from(*lc)]);
                v
            }
            _ => c.to_vec(),
        }
    };
    cmd.len() >= 4 && next.len() >= 4 && body(cmd) == body(next)
}

// ----- the matrix -----

/// How one faulted run ended.
#[derive(Debug, Default)]
struct Cell {
    runs: usize,
    completed: usize,
    codes: BTreeMap<String, usize>,
    recovered: usize,
}

fn fault_label(f: Fault) -> String {
    match f {
        Fault::Removed => "removed".into(),
        Fault::Reset => "reset".into(),
        Fault::NoAnswer => "no answer".into(),
        Fault::Truncated(n) => format!("truncated({n})"),
        Fault::FlippedByte(i) => format!("flipped({i})"),
        Fault::StatusWord(sw) => format!("sw {sw:04X}"),
        Fault::JunkAppended(n) => format!("junk({n})"),
        Fault::OversizedLength => "oversized BER".into(),
    }
}

fn short(c: u32) -> String {
    if c == SCARD_E_TIMEOUT {
        return "E_TIMEOUT".into();
    }
    let name = Code(c).name();
    if name == "unknown" { format!("{c:#010X}") } else { name.trim_start_matches("SCARD_").to_owned() }
}

/// Runs `flow` on `sim` over a connection that injects `fault` at command `at` (`u64::MAX`:
/// none), then the recovery on a fresh connection. Returns what happened and the issues.
fn run_once(
    flow: &Flow,
    at: u64,
    fault: Fault,
    golden: &mut Golden,
) -> (Option<(&'static str, u32)>, bool, Vec<String>, u64) {
    let live = live_allocations();
    let panics = support::panics();
    let sim = (flow.card)();
    let slot: CardSlot = sim.slot();
    let before = state(&sim);
    if std::env::var_os("FAULT_TRACE_ALL").is_some() {
        set_trace(&sim);
    }
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let pending = Arc::new(AtomicBool::new(false));
    let reconnect = pending.clone();
    let reset_slot = slot.clone();
    let transport =
        Faulty::new(Reconnecting { card: slot.connect().unwrap(), pending }, at, fault).on_reset(move || {
            reset_slot.reset();
            reconnect.store(true, Ordering::SeqCst);
        });
    let log = transport.log();
    let commands = Arc::new(Mutex::new(Vec::new()));
    let transport = Logged { inner: transport, commands: commands.clone() };
    let mut issues = Vec::new();
    let mut run = Run::new(sim.clone(), log.clone(), golden, false);
    run.fault = (at != u64::MAX).then_some(fault);
    let completed = run.acquire(transport, &cache).and_then(|()| (flow.body)(&mut run)).is_some();
    let sent = log.sent();
    let stopped = run.stopped;
    if completed != stopped.is_none() {
        issues.push(format!("the flow ended without a verdict (completed {completed}, stopped {stopped:?})"));
    }
    // The call that met the fault, and what it said.
    if log.fired() {
        let hit = run.steps.iter().find(|s| s.before <= at && at < s.after).cloned();
        let expected: &[u32] = match fault {
            Fault::Removed => &[code::SCARD_W_REMOVED_CARD, code::SCARD_E_NO_SMARTCARD],
            Fault::Reset => &[code::SCARD_W_RESET_CARD],
            Fault::NoAnswer => &[SCARD_E_TIMEOUT],
            _ => &[],
        };
        match &hit {
            Some(step) if !expected.is_empty() && !expected.contains(&step.code) => {
                issues.push(format!("{} met {} and returned {}", step.entry, fault_label(fault), short(step.code)))
            }
            None => issues.push("the fault fired outside any call".into()),
            _ => {}
        }
    }
    // Only reads are sent again after an answer that asks for it (6Cxx) or that was lost: a
    // command that acts (VERIFY, GENERATE, PSO, PUT DATA...) never twice.
    if log.fired() {
        let commands = commands.lock().unwrap();
        let at = usize::try_from(at).unwrap();
        if let (Some(cmd), Some(next)) = (commands.get(at), commands.get(at + 1))
            && resends(cmd, next)
            && !card_edges::iso7816::apdu::ins::is_read(cmd[1])
        {
            issues.push(format!("INS {:02X} was sent again after {}", cmd[1], fault_label(fault)));
        }
    }
    issues.append(&mut run.issues);
    drop(run);
    if std::env::var_os("FAULT_TRACE_ALL").is_some() {
        eprintln!("faulted run, {} at {at}:", fault_label(fault));
        for t in take_trace(&sim) {
            eprintln!("  {} -> {}", t.command, &t.response[..t.response.len().min(40)]);
        }
    }
    if flow.writes
        && at != u64::MAX
        && let Err(e) = whole(&before, &state(&sim), false)
    {
        issues.push(format!("mix after the fault: {e}"));
    }
    // The next context on the same card, fault-free, same CSP cache.
    let trace = std::env::var_os("FAULT_TRACE").is_some() && at != u64::MAX;
    if trace {
        set_trace(&sim);
    }
    let mut rec = Run::new(sim.clone(), FaultLog::default(), golden, true);
    let recovered =
        rec.acquire(Reconnecting { card: slot.connect().unwrap(), pending: Arc::default() }, &cache).is_some()
            && (flow.recover)(&mut rec).is_some()
            && rec.issues.is_empty();
    if std::env::var_os("FAULT_TRACE_ALL").is_some() {
        for t in take_trace(&sim) {
            eprintln!("  {} -> {}", t.command, &t.response[..t.response.len().min(40)]);
        }
    }
    if trace && !recovered {
        for t in take_trace(&sim) {
            eprintln!("  {} -> {}", t.command, t.response);
        }
    }
    if !recovered && at != u64::MAX {
        issues.push(format!(
            "the next context did not recover: stopped {:?}, {:?}",
            rec.stopped.map(|(e, c)| (e, short(c))),
            rec.issues
        ));
    }
    drop(rec);
    if flow.writes
        && at != u64::MAX
        && let Err(e) = whole(&before, &state(&sim), true)
    {
        issues.push(format!("mix after the recovery: {e}"));
    }
    if live_allocations() != live {
        issues.push(format!("allocation balance {} after the run", live_allocations() as i64 - live as i64));
    }
    if support::panics() != panics {
        issues.push(format!("{} panic(s) inside the driver", support::panics() - panics));
    }
    (stopped, recovered, issues, sent)
}

#[test]
fn a_fault_at_every_apdu_of_every_flow() {
    let _g = support::serial();
    let started = Instant::now();
    let only = std::env::var("FAULT_FLOW").ok();
    let mut matrix: Vec<(String, usize, Vec<(String, Cell)>)> = Vec::new();
    let mut failures = Vec::new();
    for flow in flows().iter().filter(|f| only.as_deref().is_none_or(|o| f.name.contains(o))) {
        let t = Instant::now();
        // The process remembers the GIDS ATR after its first discovery (and a faulted run may
        // make it forget, the recovery after it remember again): every run starts remembered.
        let prime = (flow.card)();
        drop(support::acquire(&prime, prime.slot().connect().unwrap(), &Arc::default()));
        let mut golden = Golden { recording: true, ..Golden::default() };
        let (stopped, recovered, issues, n) = run_once(flow, u64::MAX, Fault::Removed, &mut golden);
        assert!(
            stopped.is_none() && issues.is_empty() && recovered,
            "{}: the clean run fails: {stopped:x?} {issues:?}",
            flow.name
        );
        golden.recording = false;
        let mut cells = Vec::new();
        for fault in Fault::ALL {
            let mut cell = Cell::default();
            let only_at: Option<u64> = std::env::var("FAULT_AT").ok().and_then(|v| v.parse().ok());
            for at in (0..n).filter(|a| only_at.is_none_or(|o| o == *a)) {
                let (stopped, recovered, issues, _) = run_once(flow, at, fault, &mut golden);
                if std::env::var_os("FAULT_VERBOSE").is_some() {
                    eprintln!(
                        "{} / {} at {at}: {:?}",
                        flow.name,
                        fault_label(fault),
                        stopped.map(|(e, c)| (e, short(c)))
                    );
                }
                cell.runs += 1;
                match stopped {
                    None => cell.completed += 1,
                    Some((_, c)) => *cell.codes.entry(short(c)).or_default() += 1,
                }
                cell.recovered += usize::from(recovered);
                for i in issues {
                    failures.push(format!("{} / {} at APDU {at}: {i}", flow.name, fault_label(fault)));
                }
            }
            cells.push((fault_label(fault), cell));
        }
        eprintln!("{}: {n} APDUs, {} faulted runs in {:.1?}", flow.name, n as usize * Fault::ALL.len(), t.elapsed());
        matrix.push((flow.name.to_owned(), n as usize, cells));
    }
    let mut out = String::new();
    writeln!(out, "\nfault matrix: flow / fault: runs, ok (flow completed), error codes, recovered").unwrap();
    for (flow, n, cells) in &matrix {
        writeln!(out, "{flow} ({n} APDUs)").unwrap();
        for (fault, c) in cells {
            let codes: Vec<String> = c.codes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(
                out,
                "  {fault:<14} runs {:>3}  ok {:>3}  [{}]  recovered {}/{}",
                c.runs,
                c.completed,
                codes.join(", "),
                c.recovered,
                c.runs
            )
            .unwrap();
        }
    }
    eprintln!("{out}");
    eprintln!(
        "{} faulted runs in {:.1?}",
        matrix.iter().map(|m| m.1 * Fault::ALL.len()).sum::<usize>(),
        started.elapsed()
    );
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert!(failures.is_empty(), "{} broken promises (first: {})", failures.len(), failures[0]);
}
