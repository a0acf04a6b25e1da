//! Entry points for the cargo-fuzz targets in `fuzz/` that play the card against the whole
//! minidriver (each target is a one-line shim into here), and for the corpus replay test.
//! Hidden: not part of the API. Kept here, not in the minidriver library, because it needs the
//! CSP stand-in and the simulated cards.
//!
//! Every entry acquires a context through `CardAcquireContext` (the linked driver's transport
//! door) on a card whose every answer comes from the fuzz input, drives whole flows through
//! the `CARD_DATA` table, deletes the context and checks:
//!
//! - no panic, inside the driver either (its boundary turns one into `SCARD_E_UNEXPECTED`, so a
//!   panic hook counts them);
//! - no over-read (AddressSanitizer, in the fuzz build);
//! - no leak: the CSP stand-in's allocation balance is back to where it was;
//! - every output buffer came from `pfnCspAlloc` (the stand-in refuses, loudly, to free any
//!   other).
//!
//! Two ways to play the card:
//!
//! - raw ([`card_data_piv`], [`card_data_gids`]): the first byte picks the flow, then each
//!   answer is a 2-byte big-endian length and that many bytes (the `session` target's format);
//!   the ATR is the simulated card's, so the driver's discovery takes the edge's path;
//! - transcript ([`card_data_transcript`]): the real answers of the flows, recorded once
//!   against the simulated cards ([`transcripts`]), replayed in order with mutations the input
//!   chooses: first byte the transcript, then 4-byte records `(answer, kind, argument LE16)`
//!   applied to the recorded answers; bytes after the last whole record are the material that
//!   insertions and replacements take.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError};

use card_edges::transport::Transport;
use card_edges::transport::memory::{MemoryCard, VirtualCard};
use card_sim::{GidsSim, KeyAlgorithm, PivSim};

use crate::csp::{AcquireOptions, Csp, CspCache, Driver, Padding, Target, live_allocations};

/// The card edge a flow runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// PIV.
    Piv,
    /// GIDS.
    Gids,
}

impl EdgeKind {
    fn card_name(self) -> &'static str {
        match self {
            Self::Piv => "Identity Device (NIST SP 800-73 [PIV])",
            Self::Gids => "Identity Device (Microsoft Generic Profile)",
        }
    }
}

/// The flows, in the order the first input byte picks them.
pub const FLOWS: [&str; 5] = ["listing", "session", "admin+keygen+cert", "pin change+unblock", "ecdh or files"];

const PIN: &[u8] = b"123456";
const ADMIN_KEY: [u8; 24] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03,
    0x04, 0x05, 0x06, 0x07, 0x08,
];
const KEYEXCHANGE: u32 = 1;
const ECDSA_P256: u32 = 3;
const ECDHE_P256: u32 = 6;
const SHA256: u32 = 0x800C;

/// The response to an administrator challenge (3DES-ECB with the default key).
fn admin_response(challenge: &[u8]) -> Vec<u8> {
    card_edges::gids::admin::external_response(&ADMIN_KEY, challenge).map(|r| r.to_vec()).unwrap_or_default()
}

/// Flow `flow` on `csp`: every call is made whatever the previous ones returned (the fuzzer
/// wants the driver's reaction to each answer), outputs are dropped (their buffers are taken
/// from the stand-in's allocator, which checks them).
fn drive(csp: &Csp, edge: EdgeKind, flow: usize) {
    let containers: &[u8] = match edge {
        EdgeKind::Piv => &[0, 1, 2, 3],
        EdgeKind::Gids => &[0, 1],
    };
    match flow % FLOWS.len() {
        0 => {
            for (dir, file) in [(None, "cardcf"), (None, "cardid"), (None, "cardapps"), (Some("mscp"), "cmapfile")] {
                let _ = csp.read_file(dir, file);
            }
            for &i in containers {
                let _ = csp.container_info(i);
                let _ = csp.read_file(Some("mscp"), &format!("kxc{i:02}"));
                let _ = csp.read_file(Some("mscp"), &format!("ksc{i:02}"));
            }
            let _ = csp.enum_files(Some("mscp"));
            let _ = csp.query_free_space();
        }
        1 => {
            let _ = csp.read_file(Some("mscp"), "cmapfile");
            let _ = csp.authenticate_ex(1, 0, PIN);
            for &i in containers {
                let hash = [i; 32];
                let _ = csp.sign_data(i, KEYEXCHANGE, SHA256, 0, &hash, None);
                let _ = csp.sign_data(i, ECDSA_P256, 0, 0, &hash, None);
            }
            let _ = csp.rsa_decrypt(0, &[0x42; 256], 2, &Padding::Pkcs1(None));
            let _ = csp.rsa_decrypt(0, &[0x42; 256], 2, &Padding::None);
            let _ = csp.deauthenticate_ex(0x02);
            let _ = csp.get_property(minidriver::abi::prop::AUTHENTICATED_STATE, 0);
        }
        2 => {
            if let Ok(challenge) = csp.get_challenge_ex(2) {
                let _ = csp.authenticate_ex(2, 0, &admin_response(&challenge));
            }
            let _ = csp.authenticate_ex(1, 0, PIN);
            let (index, spec, bits) = match edge {
                EdgeKind::Piv => (4, ECDHE_P256, 0),
                EdgeKind::Gids => (2, KEYEXCHANGE, 1024),
            };
            let _ = csp.create_container(index, 1, spec, bits, None);
            let _ = csp.container_info(index);
            let file = format!("kxc{index:02}");
            let _ = csp.create_file(Some("mscp"), &file, 0, 1);
            let _ = csp.write_file(Some("mscp"), &file, &[0x30, 0x03, 0x02, 0x01, 0x00]);
            let _ = csp.delete_container(index);
        }
        3 => {
            let _ = csp.change_authenticator_ex(2, 1, PIN, 1, b"654321");
            let _ = csp.authenticate_ex(1, 0, b"654321");
            match edge {
                EdgeKind::Piv => {
                    let _ = csp.change_authenticator_ex(1, 4, b"12345678", 1, PIN);
                }
                EdgeKind::Gids => {
                    if let Ok(challenge) = csp.get_challenge_ex(2) {
                        let _ = csp.change_authenticator_ex(1, 2, &admin_response(&challenge), 1, PIN);
                    }
                }
            }
        }
        _ => match edge {
            EdgeKind::Piv => {
                let _ = csp.authenticate_ex(1, 0, PIN);
                let mut blob = minidriver::abi::crypt::ECDH_PUBLIC_P256_MAGIC.to_le_bytes().to_vec();
                blob.extend_from_slice(&32u32.to_le_bytes());
                blob.extend_from_slice(&P256_GENERATOR);
                if let Ok(agreement) = csp.construct_dh_agreement(2, &blob) {
                    let _ = csp.derive_key(agreement, "TRUNCATE", &[], 0, 32);
                    let _ = csp.derive_key(agreement, "HASH", &[], 0, 20);
                    let _ = csp.destroy_dh_agreement(agreement);
                }
            }
            EdgeKind::Gids => {
                let _ = csp.authenticate_ex(1, 0, PIN);
                let _ = csp.create_file(Some("mscp"), "fzt", 0, 1);
                let _ = csp.write_file(Some("mscp"), "fzt", &[0x5A; 300]);
                let _ = csp.read_file(Some("mscp"), "fzt");
                let _ = csp.delete_file(Some("mscp"), "fzt");
            }
        },
    }
}

/// The P-256 base point (x || y): a valid peer public key.
const P256_GENERATOR: [u8; 64] = [
    0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5, 0x63, 0xA4, 0x40, 0xF2, 0x77, 0x03, 0x7D,
    0x81, 0x2D, 0xEB, 0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98, 0xC2, 0x96, 0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A,
    0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A, 0x7C, 0x0F, 0x9E, 0x16, 0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE, 0xCB,
    0xB6, 0x40, 0x68, 0x37, 0xBF, 0x51, 0xF5,
];

// ----- the checks around one execution -----

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Panics seen anywhere in the process since the first call (each is still printed by the
/// default hook). The driver turns a panic into `SCARD_E_UNEXPECTED` at its boundary, so a
/// counting hook is the only way a harness or test sees one.
pub fn panics() -> usize {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

/// One execution at a time (allocation balance and panic counts are process-wide), with the
/// panic hook installed.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    panics();
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Acquires a context on `card`, drives `flow`, deletes the context, and checks the
/// invariants.
fn execute(card: impl VirtualCard + 'static, edge: EdgeKind, flow: usize) {
    let _g = exclusive();
    let live = live_allocations();
    let panics = panics();
    let options = AcquireOptions {
        card_name: edge.card_name().into(),
        cache: Some(Arc::new(Mutex::new(CspCache::default()))),
        ..AcquireOptions::default()
    };
    if let Ok(csp) = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(MemoryCard::new(card))), &options) {
        drive(&csp, edge, flow);
    }
    assert_eq!(self::panics(), panics, "a panic inside the driver (it answered SCARD_E_UNEXPECTED)");
    assert_eq!(live_allocations(), live, "CSP allocations leaked");
}

// ----- raw mode -----

/// A card whose answers come from the fuzz input: 2-byte big-endian length, then the answer;
/// `6F 00` once the input is used up.
struct InputCard {
    atr: Vec<u8>,
    data: Vec<u8>,
    pos: usize,
}

impl VirtualCard for InputCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn process(&mut self, _command: &[u8]) -> Vec<u8> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let [a, b, ..] = rest else { return vec![0x6F, 0x00] };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        let start = self.pos + 2;
        let end = start.saturating_add(len).min(self.data.len());
        self.pos = end;
        self.data.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
    }

    fn reset(&mut self) {}
}

fn atr_of(edge: EdgeKind) -> Vec<u8> {
    static ATRS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    let (piv, gids) =
        ATRS.get_or_init(|| (piv_card().map(|c| c.atr()).unwrap_or_default(), GidsSim::factory_new().atr()));
    match edge {
        EdgeKind::Piv => piv.clone(),
        EdgeKind::Gids => gids.clone(),
    }
}

fn raw(edge: EdgeKind, data: &[u8]) {
    let (flow, rest) = data.split_first().map_or((0, data), |(f, r)| (usize::from(*f), r));
    execute(InputCard { atr: atr_of(edge), data: rest.to_vec(), pos: 0 }, edge, flow);
}

/// Raw mode on a PIV card.
pub fn card_data_piv(data: &[u8]) {
    raw(EdgeKind::Piv, data);
}

/// Raw mode on a GIDS card.
pub fn card_data_gids(data: &[u8]) {
    raw(EdgeKind::Gids, data);
}

// ----- transcript mode -----

/// The answers a flow got from a simulated card, in order.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The edge.
    pub edge: EdgeKind,
    /// The flow (index into [`FLOWS`]).
    pub flow: usize,
    /// The card's ATR.
    pub atr: Vec<u8>,
    /// Every answer, status word included.
    pub answers: Vec<Vec<u8>>,
}

impl Transcript {
    /// This transcript as a raw-mode input (flow byte, then length-prefixed answers).
    pub fn raw_input(&self) -> Vec<u8> {
        let mut out = vec![u8::try_from(self.flow).unwrap_or(0)];
        for a in &self.answers {
            out.extend_from_slice(&u16::try_from(a.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(a);
        }
        out
    }
}

/// A transport that records what the card answered.
struct Recorder {
    card: MemoryCard,
    answers: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Transport for Recorder {
    fn transmit(&mut self, command: &[u8]) -> card_edges::Result<Vec<u8>> {
        let rsp = self.card.transmit(command)?;
        self.answers.lock().unwrap_or_else(PoisonError::into_inner).push(rsp.clone());
        Ok(rsp)
    }

    fn atr(&mut self) -> card_edges::Result<Vec<u8>> {
        self.card.atr()
    }
}

fn piv_card() -> Option<PivSim> {
    PivSim::default_card().ok()
}

fn record(edge: EdgeKind, flow: usize) -> Option<Transcript> {
    let (card, atr) = match (edge, flow) {
        (EdgeKind::Piv, 4) => {
            let sim = PivSim::builder(b"fuzz-ecdh").generate(0x9D, KeyAlgorithm::EccP256).build().ok()?;
            let atr = sim.atr();
            (MemoryCard::new(sim), atr)
        }
        (EdgeKind::Piv, _) => {
            let sim = piv_card()?;
            let atr = sim.atr();
            (MemoryCard::new(sim), atr)
        }
        (EdgeKind::Gids, _) => {
            let sim = GidsSim::default_card().ok()?;
            let atr = sim.atr();
            (MemoryCard::new(sim), atr)
        }
    };
    let answers = Arc::new(Mutex::new(Vec::new()));
    let options = AcquireOptions { card_name: edge.card_name().into(), ..AcquireOptions::default() };
    let recorder = Recorder { card, answers: answers.clone() };
    let csp = Csp::acquire(&Driver::linked(), Target::Transport(Box::new(recorder)), &options).ok()?;
    drive(&csp, edge, flow);
    drop(csp);
    let answers = answers.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Some(Transcript { edge, flow, atr, answers })
}

/// The transcripts of every flow on both edges, recorded once per process against the
/// simulated cards (PIV: the default card, and one with a P-256 key in 9D for ECDH; GIDS: the
/// default card).
pub fn transcripts() -> &'static [Transcript] {
    static ALL: OnceLock<Vec<Transcript>> = OnceLock::new();
    ALL.get_or_init(|| {
        let _g = exclusive();
        [EdgeKind::Piv, EdgeKind::Gids]
            .into_iter()
            .flat_map(|edge| (0..FLOWS.len()).filter_map(move |flow| record(edge, flow)))
            .collect()
    })
}

/// The longest answer a mutation makes: an extended-length answer's 65 536 bytes and a
/// status word, and some.
const MAX_ANSWER: usize = 70_000;

/// How one recorded answer is changed.
fn mutate(answer: &mut Vec<u8>, kind: u8, arg: u16, material: &mut &[u8]) {
    let at = usize::from(arg);
    let len = answer.len();
    let data_len = len.saturating_sub(2);
    let take = |material: &mut &[u8], n: usize| -> Vec<u8> {
        let n = n.min(material.len());
        let (head, tail) = material.split_at(n);
        *material = tail;
        head.to_vec()
    };
    match kind % 10 {
        // A bit of the answer flipped.
        0 => {
            if len > 0 {
                let i = (at >> 3) % len;
                if let Some(b) = answer.get_mut(i) {
                    *b ^= 1 << (at & 7);
                }
            }
        }
        // Cut to `arg` bytes (modulo its length + 1).
        1 => answer.truncate(at % (len + 1)),
        // Another status word.
        2 => {
            answer.truncate(data_len);
            answer.extend_from_slice(&arg.to_be_bytes());
        }
        // A byte of the data set to the argument's high byte.
        3 => {
            if data_len > 0
                && let Some(b) = answer.get_mut(at % data_len)
            {
                *b = arg.to_be_bytes()[0];
            }
        }
        // Material inserted into the data.
        4 => {
            let bytes = take(material, usize::from(arg >> 8) + 1);
            let i = usize::from(arg & 0xFF).min(data_len);
            answer.splice(i..i, bytes);
        }
        // The data replaced by material, status word kept.
        5 => {
            let sw = answer.split_off(data_len);
            *answer = take(material, at % 1024);
            answer.extend_from_slice(&sw);
        }
        // A BER length inside the data made long or huge.
        6 => {
            if data_len > 1 {
                let i = at % (data_len - 1) + 1;
                let huge: &[u8] = if arg & 0x8000 != 0 { &[0x84, 0x7F, 0xFF, 0xFF, 0xFF] } else { &[0x82, 0xFF, 0xFF] };
                answer.splice(i..=i, huge.iter().copied());
            }
        }
        // Only the status word left.
        7 => {
            answer.drain(..data_len);
        }
        // More data pending (61xx) or a wrong length (6Cxx).
        8 => {
            answer.truncate(data_len);
            answer.extend_from_slice(&[if arg & 1 == 0 { 0x61 } else { 0x6C }, arg.to_be_bytes()[0]]);
        }
        // The data doubled (up to the largest answer a card sends: doubling again and again
        // would only measure the allocator).
        _ => {
            if data_len <= MAX_ANSWER / 2 {
                let data = answer.get(..data_len).unwrap_or_default().to_vec();
                answer.splice(0..0, data);
            }
        }
    }
}

/// A card that answers the recorded answers in order (then `6F 00`).
struct ReplayCard {
    atr: Vec<u8>,
    answers: std::vec::IntoIter<Vec<u8>>,
}

impl VirtualCard for ReplayCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn process(&mut self, _command: &[u8]) -> Vec<u8> {
        self.answers.next().unwrap_or_else(|| vec![0x6F, 0x00])
    }

    fn reset(&mut self) {}
}

/// Transcript mode: a recorded flow replayed with the input's mutations.
pub fn card_data_transcript(data: &[u8]) {
    let all = transcripts();
    let Some((pick, rest)) = data.split_first() else { return };
    let Some(t) = all.get(usize::from(*pick) % all.len().max(1)) else { return };
    let whole = rest.len() / 4 * 4;
    let (records, mut material) = rest.split_at(whole.min(64 * 4));
    let mut answers = t.answers.clone();
    for r in records.chunks_exact(4) {
        let &[index, kind, lo, hi] = r else { continue };
        if let Some(a) =
            (!answers.is_empty()).then(|| usize::from(index) % answers.len()).and_then(|i| answers.get_mut(i))
        {
            mutate(a, kind, u16::from_le_bytes([lo, hi]), &mut material);
        }
    }
    execute(ReplayCard { atr: t.atr.clone(), answers: answers.into_iter() }, t.edge, t.flow);
}
