//! A simulated PIV card (the card side of NIST SP 800-73-4), shaped like a YubiKey 5: the
//! same factory defaults (PIN `123456`, PUK `12345678`, 3DES management key
//! `010203040506070801020304050607080102030405060708`), the same vendor commands (`FD` version,
//! `F8` serial, `F7` metadata, `FF` set management key) and the same strictness in GENERAL
//! AUTHENTICATE (P1 must be the slot's algorithm, `82 00` must be present and empty, input
//! lengths exact).
//!
//! [`PivSim`] is a handle: clones share one card, so a test can insert one clone into a
//! [`CardSlot`](card_edges::transport::memory::CardSlot) (or serve it on vpcd) and keep another to
//! inspect it or change it behind the host's back.
//!
//! Key references and their rules: `9A` PIV authentication (PIN once), `9C` digital signature
//! (PIN immediately before each use: any other APDU in between voids it, except the GET
//! RESPONSEs and chained parts of that GENERAL AUTHENTICATE), `9D` key management and retired
//! `82`..`95` (PIN once), `9E` card authentication (no PIN), `9B` card management (proves the
//! administrator, needed by PUT DATA and GENERATE). A reset clears every security status.

mod auth;
mod crypto;
mod data;
mod keys;
mod mgmt;
mod objects;
mod pin;
mod provision;
mod vendor;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chain::{Application, Link};
use crate::rng::SimRng;
use crate::{Error, Result};
use card_edges::iso7816::apdu::{self, CommandView, Response, ins};
use card_edges::iso7816::status::StatusWord;
use card_edges::transport::memory::VirtualCard;

pub use crate::counters::{SimCounters, TraceEntry};
pub use keys::KeyAlgorithm;
pub use mgmt::MgmtAlgorithm;
pub use provision::PivSimBuilder;

use keys::SlotKey;
use mgmt::{ManagementKey, Pending};
use objects::Objects;
use pin::Reference;

/// The YubiKey firmware version the card reports (`00 FD`): 5.7 is the first with RSA-3072 and
/// RSA-4096 keys, which this card supports; tools that know YubiKeys then also use metadata
/// (`F7`, since 5.3) and AES management keys (since 5.4).
pub const VERSION: [u8; 3] = [5, 7, 1];

/// The ATR's card issuer data (compact-TLV tag 5): names the card without claiming to be a
/// YubiKey, so hosts treat it as a generic PIV card.
const ATR_NAME: &[u8] = b"SimPIV";

/// Most trace entries kept: a long-running served card must not grow without bound.
const MAX_TRACE: usize = 4096;

/// Where a slot's key came from (reported by YubiKey metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Generated,
    Imported,
}

struct Slot {
    key: SlotKey,
    origin: Origin,
}

/// What the card currently grants. All of it is cleared by a reset.
#[derive(Default)]
struct Security {
    /// PIN `80` verified.
    pin_verified: bool,
    /// The previous logical command was a successful VERIFY (the `9C` rule).
    pin_just_verified: bool,
    /// Management key `9B` proven.
    admin: bool,
    /// The first step of a management key authentication, valid for the next command only.
    pending: Option<Pending>,
}

/// The PIV application: everything but the transport.
struct Applet {
    objects: Objects,
    keys: BTreeMap<u8, Slot>,
    pin: Reference,
    puk: Reference,
    mgmt: ManagementKey,
    security: Security,
    serial: u32,
    rng: SimRng,
}

impl Application for Applet {
    fn process(&mut self, cmd: &CommandView<'_>) -> Response {
        // "Immediately preceding" state lives for one command only.
        let pin_always = core::mem::take(&mut self.security.pin_just_verified);
        let pending = self.security.pending.take();
        match cmd.ins {
            ins::SELECT => self.select(cmd),
            ins::GET_DATA_ODD => self.get_data(cmd),
            ins::PUT_DATA_ODD => self.put_data(cmd),
            ins::VERIFY => self.verify(cmd),
            ins::CHANGE_REFERENCE_DATA => self.change_reference(cmd),
            ins::RESET_RETRY_COUNTER => self.reset_retry_counter(cmd),
            ins::GENERAL_AUTHENTICATE => self.general_authenticate(cmd, pin_always, pending),
            ins::GENERATE_ASYMMETRIC_KEY_PAIR => self.generate(cmd),
            vendor::GET_VERSION => self.version(),
            vendor::GET_SERIAL => self.serial_number(),
            vendor::GET_METADATA => self.metadata(cmd),
            vendor::SET_MANAGEMENT_KEY => self.set_management_key(cmd),
            // Windows' Plug and Play asks for a CardID with the even GET DATA: PIV has none.
            ins::GET_DATA => Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
            // GET RESPONSE with nothing pending.
            ins::GET_RESPONSE => Response::status(StatusWord::CONDITIONS_NOT_SATISFIED),
            // No file system: no current EF to read.
            ins::READ_BINARY => Response::status(StatusWord::COMMAND_NOT_ALLOWED),
            _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn interrupted(&mut self) {
        self.security.pin_just_verified = false;
        self.security.pending = None;
    }
}

impl Applet {
    fn reset(&mut self) {
        self.security = Security::default();
    }
}

/// The whole card: transport state, application, counters and the optional trace.
struct Card {
    link: Link,
    app: Applet,
    counters: SimCounters,
    trace: Option<Vec<TraceEntry>>,
    /// The response being drained with GET RESPONSE is a GENERAL AUTHENTICATE's (kept out of traces).
    secret_pending: bool,
}

impl Card {
    fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let rsp = self.link.process(raw, &mut self.app);
        self.counters.apdus += 1;
        self.counters.bytes_in += u64::try_from(raw.len()).unwrap_or(u64::MAX);
        self.counters.bytes_out += u64::try_from(rsp.len()).unwrap_or(u64::MAX);
        let ins = raw.get(1).copied().unwrap_or(0);
        if ins != ins::GET_RESPONSE {
            self.secret_pending = ins == ins::GENERAL_AUTHENTICATE || names_printed(raw);
        }
        if let Some(trace) = self.trace.as_mut()
            && trace.len() < MAX_TRACE
        {
            trace.push(trace_entry(raw, &rsp, self.secret_pending));
        }
        rsp
    }

    fn reset(&mut self) {
        self.link.reset();
        self.app.reset();
        self.secret_pending = false;
    }
}

fn trace_entry(raw: &[u8], rsp: &[u8], secret_response: bool) -> TraceEntry {
    let (ins, p2) = (raw.get(1).copied().unwrap_or(0), raw.get(3).copied().unwrap_or(0));
    let secret_command =
        matches!(ins, ins::VERIFY | ins::CHANGE_REFERENCE_DATA | ins::RESET_RETRY_COUNTER | vendor::SET_MANAGEMENT_KEY)
            || (ins == ins::GENERAL_AUTHENTICATE && p2 == 0x9B)
            || (ins == ins::PUT_DATA_ODD && names_printed(raw));
    let response = match rsp {
        [data @ .., sw1, sw2] if secret_response && !data.is_empty() => {
            format!("<{} bytes redacted> {sw1:02X}{sw2:02X}", data.len())
        }
        _ => hex::encode_upper(rsp),
    };
    TraceEntry { command: apdu::redacted_hex(raw, secret_command), response }
}

/// Whether a GET DATA or PUT DATA names PRINTED (`5FC109`), which holds a PIN-protected
/// management key on cards provisioned the Yubico way: its content stays out of traces.
fn names_printed(raw: &[u8]) -> bool {
    matches!(raw.get(1), Some(&(ins::GET_DATA_ODD | ins::PUT_DATA_ODD)))
        && raw.windows(5).any(|w| w == [0x5C, 0x03, 0x5F, 0xC1, 0x09])
}

/// The ATR: T=1 only (as USB tokens), historical bytes with card capabilities (compact-TLV
/// tag 7) whose third byte declares command chaining always and extended length only when
/// enabled, and the card's name.
fn atr(extended: bool) -> Vec<u8> {
    let mut historical = vec![0x80, 0x73, 0xC0, 0x21, if extended { 0xC0 } else { 0x80 }];
    historical.push(0x50 | u8::try_from(ATR_NAME.len()).unwrap_or(0));
    historical.extend_from_slice(ATR_NAME);
    // TA1 = 13, TB1 = TC1 = 00, TD1 = 81 (T=1 follows), TD2 = 31 (TA3, TB3 for T=1),
    // TA3 = FE (IFSC 254), TB3 = 15: the interface bytes of USB CCID tokens.
    let t0 = 0xF0 | u8::try_from(historical.len()).unwrap_or(0);
    let mut out = vec![0x3B, t0, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15];
    out.extend_from_slice(&historical);
    let tck = out.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
    out.push(tck);
    out
}

/// A simulated PIV card. Clones are handles to the same card.
#[derive(Clone)]
pub struct PivSim {
    inner: Arc<Mutex<Card>>,
}

impl PivSim {
    /// Starts a builder that provisions a card deterministically from `seed`.
    pub fn builder(seed: &[u8]) -> PivSimBuilder {
        PivSimBuilder::new(seed)
    }

    /// The default simulated card: factory PIN, PUK and management key, and the fixed
    /// test-vector keys and certificates in 9A (RSA-2048), 9C (P-256), 9D (RSA-2048) and
    /// 9E (P-256); its CHUID GUID is the card UUID in the 9A certificate.
    ///
    /// # Errors
    /// Only if the committed test vectors were damaged.
    pub fn default_card() -> Result<Self> {
        provision::default_card()
    }

    fn from_applet(app: Applet, extended: bool) -> Self {
        let card = Card {
            link: Link::new(extended),
            app,
            counters: SimCounters::default(),
            trace: None,
            secret_pending: false,
        };
        Self { inner: Arc::new(Mutex::new(card)) }
    }

    fn lock(&self) -> MutexGuard<'_, Card> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ATR, which depends on whether extended length is enabled.
    pub fn atr(&self) -> Vec<u8> {
        atr(self.lock().link.extended())
    }

    /// Whether extended-length APDUs are accepted (and declared in the ATR).
    pub fn extended_length(&self) -> bool {
        self.lock().link.extended()
    }

    /// Accepts extended-length APDUs (like current tokens) or refuses them with `67 00` (like
    /// older cards). Hosts see the change in the ATR after the next reset.
    pub fn set_extended_length(&self, on: bool) {
        self.lock().link.set_extended(on);
    }

    /// APDUs and bytes processed since the card was made.
    pub fn counters(&self) -> SimCounters {
        self.lock().counters
    }

    /// Starts (or stops and discards) recording every exchange.
    pub fn set_trace(&self, on: bool) {
        self.lock().trace = on.then(Vec::new);
    }

    /// The exchanges recorded since the last call (recording continues).
    pub fn take_trace(&self) -> Vec<TraceEntry> {
        self.lock().trace.as_mut().map(core::mem::take).unwrap_or_default()
    }

    /// Resets the card as a power cycle would: security status, chains and pending responses
    /// are cleared. (Hosts connected through a [`CardSlot`](card_edges::transport::memory::CardSlot)
    /// should use the slot's reset, which also tells them.)
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// The key slots that hold a key.
    pub fn slots(&self) -> Vec<u8> {
        self.lock().app.keys.keys().copied().collect()
    }

    /// The algorithm of the key in `slot`.
    pub fn key_algorithm(&self, slot: u8) -> Option<KeyAlgorithm> {
        self.lock().app.keys.get(&slot).map(|s| s.key.algorithm())
    }

    /// The public key in `slot` as a DER SubjectPublicKeyInfo.
    pub fn public_key(&self, slot: u8) -> Option<Vec<u8>> {
        self.lock().app.keys.get(&slot).and_then(|s| s.key.spki_der().ok())
    }

    /// The DER certificate in `slot`'s certificate object (inflated if stored gzip-compressed).
    pub fn certificate(&self, slot: u8) -> Option<Vec<u8>> {
        let tag = objects::certificate_tag(slot)?;
        self.lock().app.objects.get(tag).and_then(objects::certificate_from_object)
    }

    /// Writes `der` into `slot`'s certificate object, gzip-compressed (CertInfo `01`) if asked,
    /// without any authentication: a change behind the host's back.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a slot without certificate object.
    pub fn set_certificate(&self, slot: u8, der: &[u8], gzip: bool) -> Result<()> {
        let tag = objects::certificate_tag(slot).ok_or(Error::InvalidArgument("not a key slot"))?;
        let content = objects::certificate_object(der, gzip)?;
        self.lock().app.objects.set(tag, content);
        Ok(())
    }

    /// Deletes `slot`'s certificate object (the key stays).
    pub fn remove_certificate(&self, slot: u8) {
        if let Some(tag) = objects::certificate_tag(slot) {
            self.lock().app.objects.remove(tag);
        }
    }

    /// Issues a certificate for the key now in `slot` (signed by the test-vector CA, as the
    /// provisioning does), stores it uncompressed and returns it: what a host would do after
    /// GENERATE ASYMMETRIC KEY PAIR.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an empty slot; [`Error::Crypto`] if signing fails.
    pub fn issue_certificate(&self, slot: u8) -> Result<Vec<u8>> {
        let mut card = self.lock();
        let key = card.app.keys.get(&slot).ok_or(Error::NotFound("no key in this slot"))?;
        let guid = card.app.objects.get(objects::tag::CHUID).and_then(objects::chuid_guid).unwrap_or_default();
        let der = provision::issue_certificate(slot, &key.key, &guid)?;
        let tag = objects::certificate_tag(slot).ok_or(Error::InvalidArgument("not a key slot"))?;
        card.app.objects.set(tag, objects::certificate_object(&der, false)?);
        Ok(der)
    }

    /// The content of data object `tag` (what PUT DATA wrote inside `53`).
    pub fn object(&self, tag: u32) -> Option<Vec<u8>> {
        self.lock().app.objects.get(tag).map(<[u8]>::to_vec)
    }

    /// Writes data object `tag` without any authentication (a change behind the host's back).
    pub fn set_object(&self, tag: u32, content: &[u8]) {
        self.lock().app.objects.set(tag, content.to_vec());
    }

    /// Deletes data object `tag`.
    pub fn remove_object(&self, tag: u32) {
        self.lock().app.objects.remove(tag);
    }

    /// The tags of the data objects present.
    pub fn object_tags(&self) -> Vec<u32> {
        self.lock().app.objects.tags().collect()
    }

    /// The CHUID content (`5FC102`).
    pub fn chuid(&self) -> Option<Vec<u8>> {
        self.object(objects::tag::CHUID)
    }

    /// The GUID in the CHUID.
    pub fn guid(&self) -> Option<[u8; 16]> {
        self.lock().app.objects.get(objects::tag::CHUID).and_then(objects::chuid_guid)
    }

    /// Rewrites the CHUID with another GUID, as a re-provisioning would.
    ///
    /// # Errors
    /// None in practice (encoding a CHUID cannot fail).
    pub fn set_guid(&self, guid: [u8; 16]) -> Result<()> {
        let content = objects::chuid(&guid)?;
        self.lock().app.objects.set(objects::tag::CHUID, content);
        Ok(())
    }

    /// The serial number the card reports (`00 F8`).
    pub fn serial(&self) -> u32 {
        self.lock().app.serial
    }

    /// PIN tries left.
    pub fn pin_tries_left(&self) -> u8 {
        self.lock().app.pin.tries_left()
    }

    /// PUK tries left.
    pub fn puk_tries_left(&self) -> u8 {
        self.lock().app.puk.tries_left()
    }

    /// Whether the PIN is currently verified.
    pub fn pin_verified(&self) -> bool {
        self.lock().app.security.pin_verified
    }

    /// Whether the management key is currently proven.
    pub fn admin_authenticated(&self) -> bool {
        self.lock().app.security.admin
    }

    /// The management key's algorithm.
    pub fn management_algorithm(&self) -> MgmtAlgorithm {
        self.lock().app.mgmt.algorithm()
    }

    /// Whether the management key is still the factory default.
    pub fn management_key_is_default(&self) -> bool {
        self.lock().app.mgmt.is_default()
    }
}

impl VirtualCard for PivSim {
    fn atr(&self) -> Vec<u8> {
        Self::atr(self)
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.lock().process(command)
    }

    fn reset(&mut self) {
        Self::reset(self);
    }
}

impl core::fmt::Debug for PivSim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let card = self.lock();
        let slots: Vec<String> =
            card.app.keys.iter().map(|(s, k)| format!("{s:02X}:{:?}", k.key.algorithm())).collect();
        f.debug_struct("PivSim")
            .field("slots", &slots)
            .field("serial", &card.app.serial)
            .field("extended_length", &card.link.extended())
            .field("counters", &card.counters)
            .finish_non_exhaustive()
    }
}
