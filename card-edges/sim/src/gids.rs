//! A simulated GIDS card (Microsoft's Generic Identity Device Specification v2.0), shaped like
//! GidsApplet on a Java Card and like the Microsoft minidriver's "electrical profile" for GIDS:
//! the application `A0 00 00 03 97 42 54 46 59 02 01`, BER-TLV data object files `A000`..`A014`
//! with compact security attributes, key files `B080` (the 3-key 3DES administrator key) and
//! `B081`.. (RSA 1024-4096), user PIN `80`, an optional PUK `81`, external and mutual
//! administrator authentication, MSE/PSO signing and deciphering, on-card key generation and
//! key import.
//!
//! The card interprets none of the minidriver's files (master file, keymap, cmapfile, cardcf,
//! certificates): to it they are data objects. Provisioning writes them as Windows' GIDS
//! minidriver and OpenSC's `card-gids.c` do, so that host drivers read what they would on a
//! card they had initialised.
//!
//! Transport: short APDUs only (the ATR declares no extended length, extended APDUs answer
//! `67 00`), command chaining, responses over 256 bytes through `61xx` and GET RESPONSE.
//!
//! [`GidsSim`] is a handle: clones share one card, so a test can insert one clone into a
//! [`CardSlot`](card_edges::transport::memory::CardSlot) (or serve it on vpcd) and keep another to
//! inspect or change it behind the host's back. A reset clears the security status and the
//! selection: after it nothing is selected until the host SELECTs the application.

mod access;
mod admin;
mod application;
mod crypto;
mod data;
mod fs;
mod keys;
mod pin;
mod provision;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chain::{Application, Link};
use crate::counters::{SimCounters, TraceEntry};
use crate::rng::SimRng;
use crate::{Error, Result};
use card_edges::iso7816::apdu::{self, CommandView, Response, ins};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::Tag;
use card_edges::transport::memory::VirtualCard;

pub use provision::{ContainerKey, GidsSimBuilder};

use access::{Authority, LifeCycle};
use admin::Challenge;
use crypto::Environment;
use fs::FileSystem;
use pin::Pin;

/// The GIDS application identifier GidsApplet registers: Microsoft's RID `A0 00 00 03 97`, PIX
/// `42 54 46 59` ("BTFY"), specification version `02`, `01` for the card application.
pub const AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01];
/// The part of [`AID`] that Windows and OpenSC select with (a partial DF name).
pub const PARTIAL_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59];

/// The ATR's card issuer data (compact-TLV tag 5): names the card without claiming to be one
/// that host drivers know by its ATR.
const ATR_NAME: &[u8] = b"SimGIDS";

/// Most trace entries kept: a long-running served card must not grow without bound.
const MAX_TRACE: usize = 4096;

/// Status words GIDS cards answer that ISO 7816-4 names differently or `card_edges` has no
/// constant for.
mod sw {
    use card_edges::iso7816::status::StatusWord;

    /// `69 84`: Java Card's `SW_DATA_INVALID`, what GidsApplet answers to malformed command
    /// data, unknown key references and mechanisms a key may not use.
    pub(super) const DATA_INVALID: StatusWord = StatusWord(0x6984);
    /// `69 81`: command incompatible with file structure (GET/PUT DATA on a key file).
    pub(super) const INCOMPATIBLE_FILE: StatusWord = StatusWord(0x6981);
    /// `62 85`: selected file in termination state.
    pub(super) const TERMINATED: StatusWord = StatusWord(0x6285);
}

/// What the card currently grants. All of it is cleared by a reset, a re-selection of the
/// application and the deauthentication command (`00 20 00 82`).
#[derive(Default)]
struct Security {
    /// User PIN `80` verified.
    pin: bool,
    /// PUK `81` verified.
    puk: bool,
    /// Administrator key proven (external or mutual authentication).
    admin: bool,
    /// The key MSE SET (`C1 A4`/`81 A4`) chose for GENERAL AUTHENTICATE.
    auth_key: Option<u8>,
    /// The first step of an administrator authentication, valid for the next command only.
    challenge: Option<Challenge>,
    /// The key and mechanism MSE SET (`41 B6`/`41 B8`) chose for PSO.
    env: Option<Environment>,
}

/// The GIDS application: everything but the transport.
struct Applet {
    /// The application is selected (nothing is after a reset).
    selected: bool,
    fs: FileSystem,
    /// The user PIN; `None` until set in the creation state.
    pin: Option<Pin>,
    /// The PUK, on cards that have one.
    puk: Option<Pin>,
    security: Security,
    rng: SimRng,
    /// Bytes the data objects may occupy in all.
    capacity: usize,
    /// Private key operations performed (signatures, decipherments).
    key_operations: u64,
}

impl Applet {
    fn authority(&self) -> Authority {
        Authority { pin: self.security.pin, admin: self.security.admin, creation: self.fs.state == LifeCycle::Creation }
    }

    /// Forgets every authentication and environment: a reset, a re-selection, `00 20 00 82`.
    fn deauthenticate(&mut self) {
        self.security = Security::default();
    }
}

impl Application for Applet {
    fn process(&mut self, cmd: &CommandView<'_>) -> Response {
        // A challenge answers the next command only.
        let challenge = self.security.challenge.take();
        if !self.selected {
            // Before the application is selected, a Java Card runtime has no applet to give
            // the command to: "command not allowed".
            return match cmd.ins {
                ins::SELECT => self.select(cmd),
                _ => Response::status(StatusWord::COMMAND_NOT_ALLOWED),
            };
        }
        if self.fs.state == LifeCycle::Terminated && cmd.ins != ins::SELECT {
            return Response::status(sw::TERMINATED);
        }
        match cmd.ins {
            ins::SELECT => self.select(cmd),
            ins::GET_DATA_ODD => self.get_data(cmd),
            ins::PUT_DATA_ODD => self.put_data(cmd),
            ins::VERIFY => self.verify(cmd),
            ins::CHANGE_REFERENCE_DATA => self.change_reference_data(cmd),
            ins::RESET_RETRY_COUNTER => self.reset_retry_counter(cmd),
            ins::GENERAL_AUTHENTICATE => self.general_authenticate(cmd, challenge),
            ins::GENERATE_ASYMMETRIC_KEY_PAIR => self.generate(cmd),
            application::MANAGE_SECURITY_ENVIRONMENT => self.manage_security_environment(cmd),
            application::PERFORM_SECURITY_OPERATION => self.perform_security_operation(cmd),
            application::CREATE_FILE => self.create_file(cmd),
            application::ACTIVATE_FILE => self.activate_file(cmd),
            application::DELETE_FILE => self.delete_file(cmd),
            application::TERMINATE_DF => self.terminate_df(cmd),
            // GET RESPONSE with nothing pending.
            ins::GET_RESPONSE => Response::status(StatusWord::CONDITIONS_NOT_SATISFIED),
            // Everything else, the even GET DATA of Windows' Plug and Play CardID (`00 CA 7F 68`)
            // included: GidsApplet knows no other instruction.
            _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn interrupted(&mut self) {
        self.security.challenge = None;
    }
}

/// The whole card: transport state, application, counters and the optional trace.
struct Card {
    link: Link,
    app: Applet,
    counters: SimCounters,
    trace: Option<Vec<TraceEntry>>,
    /// The response being drained with GET RESPONSE holds a secret (kept out of traces).
    secret_pending: bool,
}

impl Card {
    fn new(app: Applet) -> Self {
        let mut link = Link::new(false);
        // GENERATE without Le: the public key waits for GET RESPONSE, as on GidsApplet.
        link.set_hold_unrequested(true);
        Self { link, app, counters: SimCounters::default(), trace: None, secret_pending: false }
    }

    fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let rsp = self.link.process(raw, &mut self.app);
        self.counters.apdus += 1;
        self.counters.bytes_in += u64::try_from(raw.len()).unwrap_or(u64::MAX);
        self.counters.bytes_out += u64::try_from(rsp.len()).unwrap_or(u64::MAX);
        let (ins, p1, p2) =
            (raw.get(1).copied().unwrap_or(0), raw.get(2).copied().unwrap_or(0), raw.get(3).copied().unwrap_or(0));
        if ins != ins::GET_RESPONSE {
            self.secret_pending = ins == application::PERFORM_SECURITY_OPERATION && (p1, p2) == (0x80, 0x86);
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
        self.app.selected = false;
        self.app.fs.current = None;
        self.app.deauthenticate();
        self.secret_pending = false;
    }
}

/// A trace entry. PINs (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER), imported keys
/// (PUT DATA to `3FFF`), administrator authentication (GENERAL AUTHENTICATE) and deciphered
/// data (PSO DECIPHER responses) are replaced by their length.
fn trace_entry(raw: &[u8], rsp: &[u8], secret_response: bool) -> TraceEntry {
    let header = (raw.get(1).copied(), raw.get(2).copied(), raw.get(3).copied());
    let secret_command = matches!(
        header,
        (Some(ins::VERIFY | ins::CHANGE_REFERENCE_DATA | ins::RESET_RETRY_COUNTER | ins::GENERAL_AUTHENTICATE), _, _)
            | (Some(ins::PUT_DATA_ODD), Some(0x3F), Some(0xFF))
    );
    let response = match rsp {
        [data @ .., sw1, sw2] if secret_response && !data.is_empty() => {
            format!("<{} bytes redacted> {sw1:02X}{sw2:02X}", data.len())
        }
        _ => hex::encode_upper(rsp),
    };
    TraceEntry { command: apdu::redacted_hex(raw, secret_command), response }
}

/// The ATR: T=1 only (the interface bytes of USB CCID tokens: TA1 = 13, TD1 = 81, TD2 = 31,
/// TA3 = FE for IFSC 254, TB3 = 15), historical bytes in compact-TLV (category `80`) with the
/// card capabilities (tag 7: selection by full and partial DF name, command chaining, no
/// extended length; ISO 7816-4 tables 117-119) and the card's name (tag 5).
fn atr() -> Vec<u8> {
    let mut historical = vec![0x80, 0x73, 0xC0, 0x21, 0x80];
    historical.push(0x50 | u8::try_from(ATR_NAME.len()).unwrap_or(0));
    historical.extend_from_slice(ATR_NAME);
    let t0 = 0xF0 | u8::try_from(historical.len()).unwrap_or(0);
    let mut out = vec![0x3B, t0, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15];
    out.extend_from_slice(&historical);
    let tck = out.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
    out.push(tck);
    out
}

/// A simulated GIDS card. Clones are handles to the same card.
#[derive(Clone)]
pub struct GidsSim {
    inner: Arc<Mutex<Card>>,
}

impl GidsSim {
    /// Starts a builder that provisions a card deterministically from `seed`.
    pub fn builder(seed: &[u8]) -> GidsSimBuilder {
        GidsSimBuilder::new(seed)
    }

    /// The default card: operational, user PIN `123456` (3 tries), no PUK, the administrator
    /// key `010203040506070801020304050607080102030405060708`, and two key-exchange
    /// containers holding fixed test-vector keys with certificates: `B081` RSA-2048
    /// (`test_vectors::keys::RSA_2048_B`, the default container) and `B082` RSA-3072
    /// (`RSA_3072`).
    ///
    /// # Errors
    /// Only if the committed test vectors were damaged.
    pub fn default_card() -> Result<Self> {
        provision::default_card()
    }

    /// A factory-new card: the application installed and in its creation state, with no
    /// files, no PIN and no administrator key, as `gids-tool --initialize` expects it.
    pub fn factory_new() -> Self {
        provision::factory_new()
    }

    fn from_applet(app: Applet) -> Self {
        Self { inner: Arc::new(Mutex::new(Card::new(app))) }
    }

    fn lock(&self) -> MutexGuard<'_, Card> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ATR.
    pub fn atr(&self) -> Vec<u8> {
        atr()
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

    /// Resets the card as a power cycle would: security status, selection, chains and pending
    /// responses are cleared. (Hosts connected through a
    /// [`CardSlot`](card_edges::transport::memory::CardSlot) should use the slot's reset, which
    /// also tells them.)
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// Whether the application is operational (activated), as opposed to factory-new or
    /// terminated.
    pub fn is_operational(&self) -> bool {
        self.lock().app.fs.state == LifeCycle::Operational
    }

    /// User PIN tries left; `None` while no PIN is set.
    pub fn pin_tries_left(&self) -> Option<u8> {
        self.lock().app.pin.as_ref().map(Pin::tries_left)
    }

    /// PUK tries left; `None` on a card without PUK.
    pub fn puk_tries_left(&self) -> Option<u8> {
        self.lock().app.puk.as_ref().map(Pin::tries_left)
    }

    /// Whether the user PIN is currently verified.
    pub fn pin_verified(&self) -> bool {
        self.lock().app.security.pin
    }

    /// Whether the administrator key is currently proven.
    pub fn admin_authenticated(&self) -> bool {
        self.lock().app.security.admin
    }

    /// The FIDs of the EFs present.
    pub fn files(&self) -> Vec<u16> {
        self.lock().app.fs.files.keys().copied().collect()
    }

    /// The value of data object `tag` in BER-TLV EF `fi` (what GET DATA returns inside the TLV).
    pub fn data_object(&self, fi: u16, tag: u16) -> Option<Vec<u8>> {
        self.lock().app.fs.data(fi).and_then(|d| d.get(Tag(u32::from(tag)))).map(<[u8]>::to_vec)
    }

    /// Writes data object `tag` in EF `fi` without any access check (a change behind the
    /// host's back); an empty value stores an empty object.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `fi` is not a BER-TLV EF; [`Error::InvalidArgument`] when the
    /// EF already holds its maximum number of objects.
    pub fn set_data_object(&self, fi: u16, tag: u16, value: &[u8]) -> Result<()> {
        let mut card = self.lock();
        let objects = card.app.fs.data_mut(fi).ok_or(Error::NotFound("no BER-TLV EF with this FID"))?;
        objects.store(Tag(u32::from(tag)), value).map_err(|_| Error::InvalidArgument("the EF is full"))
    }

    /// Deletes data object `tag` from EF `fi`, if present.
    pub fn remove_data_object(&self, fi: u16, tag: u16) {
        if let Some(objects) = self.lock().app.fs.data_mut(fi) {
            objects.remove(Tag(u32::from(tag)));
        }
    }

    /// The public key of key reference `kref` (key file `B0 || kref`) as a DER
    /// SubjectPublicKeyInfo, if it holds an RSA key.
    pub fn public_key(&self, kref: u8) -> Option<Vec<u8>> {
        self.lock().app.fs.key_file(kref).and_then(keys::KeyFile::spki_der)
    }

    /// Every data object of every BER-TLV EF, as `((EF, tag), value)` in EF order: the whole
    /// file content of the card, for tests that compare it before and after a change.
    pub fn data_objects(&self) -> Vec<((u16, u16), Vec<u8>)> {
        let card = self.lock();
        let mut out = Vec::new();
        for (fid, ef) in &card.app.fs.files {
            if let Some(objects) = ef.data() {
                for (tag, value) in objects.iter() {
                    out.push(((*fid, u16::try_from(tag.0).unwrap_or(u16::MAX)), value.to_vec()));
                }
            }
        }
        out
    }

    /// Private key operations (signatures and decipherments) performed so far.
    pub fn key_operations(&self) -> u64 {
        self.lock().app.key_operations
    }
}

impl VirtualCard for GidsSim {
    fn atr(&self) -> Vec<u8> {
        atr()
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.lock().process(command)
    }

    fn reset(&mut self) {
        Self::reset(self);
    }
}

impl core::fmt::Debug for GidsSim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let card = self.lock();
        let files: Vec<String> = card.app.fs.files.keys().map(|fid| format!("{fid:04X}")).collect();
        f.debug_struct("GidsSim")
            .field("state", &card.app.fs.state)
            .field("files", &files)
            .field("counters", &card.counters)
            .finish_non_exhaustive()
    }
}

/// A DER certificate in the Base CSP's compressed certificate file format (`01 00 | length
/// LE16 | zlib(DER)`), as a host writes `mscp\kxcNN` on a GIDS card.
///
/// # Errors
/// [`Error::InvalidArgument`] for a certificate over 64 KiB.
pub fn compress_certificate(der: &[u8]) -> Result<Vec<u8>> {
    provision::compress_certificate(der)
}

/// The DER certificate in a Base CSP compressed certificate file (`01 00 | length LE16 |
/// zlib(DER)`, the format of `mscp\kxcNN`), if `file` is one and inflates to that length.
pub fn decompress_certificate(file: &[u8]) -> Option<Vec<u8>> {
    provision::decompress_certificate(file)
}
