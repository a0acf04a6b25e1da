//! Which card mdtool talks to, and the minidriver context on it.
//!
//! `--sim piv` and `--sim gids` are the embedded simulated cards (linked minidriver, in-memory
//! transport); `--reader NAME` a PC/SC reader; with neither, the first reader holding a card, or
//! for read-only diagnostics the embedded PIV card when there is none (announced on stderr, so
//! `--json` stays clean).

use std::ffi::CString;

use card_edges::detect::CardEdge;
use card_edges::transport::Transport;
use card_edges::transport::memory::MemoryCard;
use card_edges::transport::memory::VirtualCard;
use card_edges::transport::pcsc::PcscCard;
use card_sim::gids::{ContainerKey, GidsSim};
use card_sim::{KeyAlgorithm, PivSim, TraceEntry};
use mdtool::csp::{AcquireOptions, Csp, Driver, Target};

use crate::errors::{Failure, NO_READERS, NO_SERVICE, NO_SMARTCARD, Outcome, SERVICE_STOPPED, UNKNOWN_CARD};
use crate::output::notice;
use crate::{Global, SimKind, readers};

/// Where the card is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// An embedded simulated card.
    Sim(SimKind),
    /// A PC/SC reader.
    Reader(String),
}

impl Source {
    /// For messages and output.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Sim(kind) => format!("embedded simulated {} (--sim {})", kind.card(), kind.name()),
            Self::Reader(r) => format!("reader \"{r}\""),
        }
    }

    /// The reader name, or `"(embedded simulated card)"`.
    pub(crate) fn reader_name(&self) -> String {
        match self {
            Self::Sim(_) => "(embedded simulated card)".into(),
            Self::Reader(r) => r.clone(),
        }
    }

    /// Whether this is a simulated card.
    pub(crate) fn is_sim(&self) -> bool {
        matches!(self, Self::Sim(_))
    }
}

impl SimKind {
    /// The `--sim` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Piv => "piv",
            Self::Gids => "gids",
            Self::GidsNew => "gids-new",
        }
    }

    /// What it is, for messages.
    pub(crate) fn card(self) -> &'static str {
        match self {
            Self::Piv => "PIV card",
            Self::Gids => "GIDS card",
            Self::GidsNew => "factory-new GIDS card",
        }
    }

    /// The card edge it speaks.
    pub(crate) fn edge(self) -> CardEdge {
        match self {
            Self::Piv => CardEdge::Piv,
            Self::Gids | Self::GidsNew => CardEdge::Gids,
        }
    }
}

/// An embedded simulated card of either edge.
#[derive(Clone, Debug)]
pub(crate) enum Sim {
    /// A PIV card.
    Piv(PivSim),
    /// A GIDS card.
    Gids(GidsSim),
}

impl Sim {
    /// Its ATR.
    pub(crate) fn atr(&self) -> Vec<u8> {
        match self {
            Self::Piv(s) => s.atr(),
            Self::Gids(s) => s.atr(),
        }
    }

    /// Records the APDUs it sees.
    pub(crate) fn set_trace(&self, on: bool) {
        match self {
            Self::Piv(s) => s.set_trace(on),
            Self::Gids(s) => s.set_trace(on),
        }
    }

    /// APDUs and bytes (both directions) it has processed.
    pub(crate) fn counters(&self) -> (u64, u64) {
        let c = match self {
            Self::Piv(s) => s.counters(),
            Self::Gids(s) => s.counters(),
        };
        (c.apdus, c.bytes_in + c.bytes_out)
    }

    /// The APDUs recorded.
    pub(crate) fn take_trace(&self) -> Vec<TraceEntry> {
        match self {
            Self::Piv(s) => s.take_trace(),
            Self::Gids(s) => s.take_trace(),
        }
    }
}

impl VirtualCard for Sim {
    fn atr(&self) -> Vec<u8> {
        Self::atr(self)
    }
    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        match self {
            Self::Piv(s) => s.process(command),
            Self::Gids(s) => s.process(command),
        }
    }
    fn reset(&mut self) {
        match self {
            Self::Piv(s) => VirtualCard::reset(s),
            Self::Gids(s) => VirtualCard::reset(s),
        }
    }
}

/// A connected card, before any minidriver is involved.
pub(crate) enum Connected {
    /// An embedded simulated card.
    Sim(SimKind, MemoryCard),
    /// A card in a PC/SC reader.
    Reader(String, PcscCard),
}

impl Connected {
    /// Where it is.
    pub(crate) fn source(&self) -> Source {
        match self {
            Self::Sim(kind, _) => Source::Sim(*kind),
            Self::Reader(name, _) => Source::Reader(name.clone()),
        }
    }

    /// The transport, for the detection flows (which talk to the card directly).
    pub(crate) fn transport(&mut self) -> &mut dyn Transport {
        match self {
            Self::Sim(_, t) => t,
            Self::Reader(_, t) => t,
        }
    }

    /// Resets the card: every authentication on it ends.
    ///
    /// # Errors
    /// The card went away.
    pub(crate) fn reset(&mut self) -> Outcome {
        let source = self.source();
        let done = match self {
            Self::Sim(_, t) => t.reconnect(true),
            Self::Reader(_, t) => t.reconnect(true),
        };
        done.map_err(|e| transport_failure(&e, &source))
    }

    /// The card's ATR.
    ///
    /// # Errors
    /// The card went away.
    pub(crate) fn atr(&mut self) -> Outcome<Vec<u8>> {
        let source = self.source();
        self.transport().atr().map_err(|e| transport_failure(&e, &source))
    }
}

/// A minidriver context on a card.
pub(crate) struct Opened {
    /// The CSP stand-in holding the context.
    pub(crate) csp: Csp,
    /// Where the card is.
    pub(crate) source: Source,
    /// Its ATR.
    pub(crate) atr: Vec<u8>,
    /// The card name given to `CardAcquireContext`.
    pub(crate) card_name: String,
    /// Whether the linked minidriver is used (else a loaded library).
    pub(crate) linked: bool,
    /// The driver: a loaded library must outlive the context (the function table points into
    /// it), so it is dropped after `csp` (fields drop in declaration order).
    _driver: Driver,
}

/// The user PIN of every embedded simulated card (published with its keys): used for the
/// simulated card only, never offered to a card in a reader.
pub(crate) const SIM_PIN: &[u8] = b"123456";
/// The administrator key of every embedded simulated card (PIV 9B, GIDS), 3-key 3DES, published
/// likewise and used for the simulated card only.
pub(crate) const SIM_ADMIN_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

/// A simulated card of `kind`: the fixed test-vector card, or one provisioned from `seed`.
///
/// - PIV: PIN 123456, PUK 12345678, the default 3DES management key; RSA-2048 in 9A, P-256 in
///   9C and 9E, RSA-2048 (seeded: P-384) key management in 9D, each with a certificate.
/// - GIDS: PIN 123456, the administrator key 0102...08 x3 (the default of Windows' TPM virtual
///   smart cards), no PUK; RSA-2048 (the default container) and RSA-3072 key exchange
///   containers with certificates.
/// - GIDS, factory-new: an installed application nothing has initialised (`gids-tool -X`).
///
/// # Errors
/// Provisioning failed (damaged test vectors).
pub(crate) fn sim_card(kind: SimKind, seed: Option<u64>) -> Outcome<Sim> {
    let label = |seed: u64| format!("mdtool simulated card {seed}");
    let made = match (kind, seed) {
        (SimKind::Piv, None) => PivSim::default_card().map(Sim::Piv),
        (SimKind::Piv, Some(seed)) => PivSim::builder(label(seed).as_bytes())
            .generate(0x9A, KeyAlgorithm::Rsa2048)
            .generate(0x9C, KeyAlgorithm::EccP256)
            .generate(0x9D, KeyAlgorithm::EccP384)
            .generate(0x9E, KeyAlgorithm::EccP256)
            .build()
            .map(Sim::Piv),
        (SimKind::Gids, None) => GidsSim::default_card().map(Sim::Gids),
        (SimKind::Gids, Some(seed)) => GidsSim::builder(label(seed).as_bytes())
            .container(ContainerKey::Generated(2048), true)
            .container(ContainerKey::Generated(3072), true)
            .build()
            .map(Sim::Gids),
        (SimKind::GidsNew, _) => Ok(Sim::Gids(GidsSim::factory_new())),
    };
    made.map_err(|e| Failure::msg(format!("cannot make the simulated card: {e}")))
}

fn transport_failure(e: &card_edges::Error, source: &Source) -> Failure {
    let code = match e {
        card_edges::Error::Transport(t) => t.scard_code(),
        _ => 0x8010_001F,
    };
    match source {
        Source::Reader(r) => Failure::pcsc(code, Some(r)),
        Source::Sim(_) => Failure::pcsc(code, Some("embedded simulated card")),
    }
}

fn connect_reader(name: &str) -> Outcome<Connected> {
    let cname = CString::new(name).map_err(|_| Failure::usage("a reader name cannot contain NUL"))?;
    let card = PcscCard::connect(&cname).map_err(|e| transport_failure(&e, &Source::Reader(name.to_owned())))?;
    Ok(Connected::Reader(name.to_owned(), card))
}

fn connect_sim(g: &Global, kind: SimKind) -> Outcome<Connected> {
    let sim = sim_card(kind, g.seed)?;
    Ok(Connected::Sim(kind, MemoryCard::new(sim)))
}

/// Whether a command may fall back to the embedded simulated card when no reader holds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Read-only diagnostics (scinfo, detect, ls, cat): the simulated card, announced on stderr.
    Simulated,
    /// Commands that sign, decrypt, change PINs or keys: never a published test key unless
    /// `--sim` asks for it; no reader is an error.
    Never,
}

/// Connects to the card the options name (see the module documentation).
///
/// # Errors
/// PC/SC failures for an explicit `--reader`; no usable reader when `fallback` is
/// [`Fallback::Never`].
pub(crate) fn connect(g: &Global, fallback: Fallback) -> Outcome<Connected> {
    if let Some(kind) = g.sim {
        return connect_sim(g, kind);
    }
    if let Some(wanted) = g.reader.as_deref() {
        let ctx = readers::context()?;
        let reader = readers::find(&readers::list(&ctx)?, wanted)?;
        drop(ctx);
        return connect_reader(&reader.name);
    }
    let reason = match readers::context() {
        Err(f) if matches!(f.code, Some(NO_SERVICE | SERVICE_STOPPED)) => "the PC/SC service is not running",
        Err(f) => return Err(f),
        Ok(ctx) => {
            let all = readers::list(&ctx)?;
            drop(ctx);
            if let Some(r) = all.iter().find(|r| r.present && !r.mute) {
                return connect_reader(&r.name);
            }
            if all.is_empty() { "no reader" } else { "no card in any reader" }
        }
    };
    if fallback == Fallback::Never {
        let code = match reason {
            "the PC/SC service is not running" => NO_SERVICE,
            "no reader" => NO_READERS,
            _ => NO_SMARTCARD,
        };
        let mut f = Failure::pcsc(code, None);
        f.message = format!(
            "{reason}: this command uses a card's own keys or PINs, so it needs a card in a reader; \
             give --sim piv to use the simulated card (whose keys are published test keys) ({})",
            f.message
        );
        return Err(f);
    }
    notice(format!("{reason}: using the embedded simulated PIV card (--sim piv)"));
    connect_sim(g, SimKind::Piv)
}

/// The driver the options name.
///
/// # Errors
/// A library that cannot be loaded.
pub(crate) fn driver(g: &Global) -> Outcome<Driver> {
    match &g.driver {
        None => Ok(Driver::linked()),
        Some(path) => Driver::load(path)
            .map_err(|e| Failure::usage(format!("cannot load the minidriver {}: {e}", path.display()))),
    }
}

/// Acquires a minidriver context on a connected card.
///
/// # Errors
/// `CardAcquireContext` failed (unknown card, card gone, ...).
pub(crate) fn acquire(g: &Global, mut connected: Connected) -> Outcome<Opened> {
    let driver = driver(g)?;
    let source = connected.source();
    let atr = connected.atr()?;
    if source.is_sim() && g.driver.is_some() {
        return Err(Failure::usage(
            "--driver loads a minidriver library for PC/SC readers; the embedded simulated card is served by the \
             linked minidriver (serve it with `mdtool serve` to reach it through a loaded library)",
        ));
    }
    // The card name the CSP passes is the one Windows registered for the card; for class
    // minidriver cards, the edge's (Winscard's discovery has run before any CSP loads).
    let edge = match &mut connected {
        Connected::Sim(kind, _) => Some(kind.edge()),
        Connected::Reader(..) => crate::detect::winscard_edge(connected.transport()),
    };
    let target = match connected {
        Connected::Sim(_, t) => Target::Transport(Box::new(t)),
        Connected::Reader(_, c) => Target::Pcsc(c),
    };
    let mut options = AcquireOptions::default();
    if let Some(edge) = edge {
        options.card_name = edge.windows_card_name().to_owned();
    }
    let card_name = options.card_name.clone();
    let span = tracing::debug_span!("csp", entry = "CardAcquireContext");
    let acquired = span.in_scope(|| Csp::acquire(&driver, target, &options));
    let csp = acquired.map_err(|code| {
        let f = Failure::code(code, "opening the card (CardAcquireContext)");
        if code.0 == UNKNOWN_CARD {
            let found = match edge {
                Some(e) => format!("detection found {}", e.windows_card_name()),
                None => "detection found a card with no PIV or GIDS application".to_owned(),
            };
            f.context(&format!("{} (ATR {}; {found})", source.describe(), hex::encode_upper(&atr)))
        } else {
            f.context(&source.describe())
        }
    })?;
    Ok(Opened { csp, source, atr, card_name, linked: g.driver.is_none(), _driver: driver })
}

/// Connects and acquires.
///
/// # Errors
/// As [`connect`] and [`acquire`].
pub(crate) fn open(g: &Global, fallback: Fallback) -> Outcome<Opened> {
    let connected = connect(g, fallback)?;
    acquire(g, connected)
}
