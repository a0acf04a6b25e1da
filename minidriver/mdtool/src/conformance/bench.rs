//! Where the runner's checks reach the driver and the card: the driver library (linked or
//! loaded), new connections to the one card as a CSP makes them (a PC/SC reader, or the
//! embedded simulated card's in-memory slot), and the simulator's APDU counters, which only
//! the report reads (no check decides anything from them).

use std::ffi::CString;
use std::fmt;

use card_edges::transport::Transport;
use card_edges::transport::memory::CardSlot;
use card_edges::transport::pcsc::PcscCard;
use windows_sys::Win32::Security::Cryptography::CARD_DATA;

use crate::csp::raw::RawCsp;
use crate::csp::{AcquireOptions, Code, Csp, Driver, Target};

/// APDUs and bytes (both directions) a simulated card has processed so far.
pub type Counters = Box<dyn Fn() -> (u64, u64) + Send + Sync>;

/// How the card is reached.
enum Card {
    /// The embedded simulated card, in an in-memory reader slot, reached by the linked driver
    /// through its Rust-level entry (`minidriver::ffi::acquire_with_transport`).
    Simulated { slot: CardSlot, counters: Counters },
    /// A PC/SC reader: each connection is `SCardConnect` + `SCardBeginTransaction`, and the
    /// handles go into `CARD_DATA` as the Base CSP puts them there.
    Reader { name: CString },
}

/// The driver and the card under test.
pub struct Bench {
    driver: Driver,
    card: Card,
    card_name: String,
    atr: Vec<u8>,
    describe: String,
}

impl fmt::Debug for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bench").field("card", &self.describe).field("card_name", &self.card_name).finish()
    }
}

/// A connection for a raw acquisition: the transport the linked driver takes, or a PC/SC
/// connection in a transaction whose handles go into `CARD_DATA`.
enum Connection {
    Memory(Box<dyn Transport + Send>),
    Pcsc(PcscCard),
}

/// A `CARD_DATA` acquired (or refused) by [`Bench::raw`], with the connection it was given.
/// Dropping it deletes the context first, then closes the connection.
#[derive(Debug)]
pub struct RawContext {
    /// The structure, to inspect after the call and to call through.
    pub raw: RawCsp,
    /// `CardAcquireContext`'s code.
    pub code: u32,
    _connection: Option<PcscCard>,
}

impl Bench {
    /// The linked driver on an embedded simulated card in `slot`; `counters` gives the card's
    /// APDU and byte counts for the report.
    ///
    /// # Errors
    /// The card cannot be reached.
    pub fn simulated(slot: CardSlot, counters: Counters, card_name: &str) -> Result<Self, String> {
        let atr = slot.connect().and_then(|mut c| c.atr()).map_err(|e| format!("the simulated card: {e}"))?;
        Ok(Self {
            driver: Driver::linked(),
            card: Card::Simulated { slot, counters },
            card_name: card_name.to_owned(),
            atr,
            describe: "the embedded simulated card".to_owned(),
        })
    }

    /// `driver` on the card in the PC/SC reader `reader`, registered as `card_name`.
    ///
    /// # Errors
    /// The reader or its card cannot be reached.
    pub fn reader(driver: Driver, reader: &str, card_name: &str) -> Result<Self, String> {
        let name = CString::new(reader).map_err(|_| "a reader name cannot contain NUL".to_owned())?;
        let atr =
            PcscCard::connect(&name).and_then(|mut c| c.atr()).map_err(|e| format!("reader \"{reader}\": {e}"))?;
        Ok(Self {
            driver,
            card: Card::Reader { name },
            card_name: card_name.to_owned(),
            atr,
            describe: format!("reader \"{reader}\""),
        })
    }

    /// The driver.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The card's ATR (as the CSP passes it in `pbAtr`).
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// The card name the CSP passes (`pwszCardName`).
    pub fn card_name(&self) -> &str {
        &self.card_name
    }

    /// Where the card is, for the report.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Whether the card is reached through PC/SC (so the CSP owns real handles).
    pub fn is_reader(&self) -> bool {
        matches!(self.card, Card::Reader { .. })
    }

    /// APDUs and bytes so far: exact for the simulated card, `None` for a reader (a loaded
    /// library's `SCardTransmit` calls are its own).
    pub fn counters(&self) -> Option<(u64, u64)> {
        match &self.card {
            Card::Simulated { counters, .. } => Some(counters()),
            Card::Reader { .. } => None,
        }
    }

    fn connect(&self) -> Result<Connection, Code> {
        match &self.card {
            Card::Simulated { slot, .. } => {
                slot.connect().map(|c| Connection::Memory(Box::new(c))).map_err(|e| Code(transport_code(&e)))
            }
            Card::Reader { name } => {
                let mut card = PcscCard::connect(name).map_err(|e| Code(transport_code(&e)))?;
                card.begin_transaction().map_err(|e| Code(transport_code(&e)))?;
                Ok(Connection::Pcsc(card))
            }
        }
    }

    /// Acquire options for this card: its name, version 7, no flags.
    pub fn options(&self) -> AcquireOptions {
        AcquireOptions { card_name: self.card_name.clone(), ..AcquireOptions::default() }
    }

    /// A new context on a new connection, as the CSP acquires one.
    ///
    /// # Errors
    /// `CardAcquireContext`'s code, or the connection's.
    pub fn acquire(&self, options: &AcquireOptions) -> Result<Csp, Code> {
        let target = match self.connect()? {
            Connection::Memory(t) => Target::Transport(t),
            Connection::Pcsc(c) => Target::Pcsc(c),
        };
        Csp::acquire(&self.driver, target, options)
    }

    /// A bare `CARD_DATA` of `version` (with this card's ATR and name, the stand-in's
    /// allocator and cache), changed by `edit`, given to `CardAcquireContext` with `flags` on a
    /// new connection.
    pub fn raw(&self, version: u32, flags: u32, edit: impl FnOnce(&mut CARD_DATA)) -> RawContext {
        let mut raw = RawCsp::named(version, &self.atr, &self.card_name);
        let connection = match self.connect() {
            Ok(c) => c,
            Err(code) => return RawContext { raw, code: code.0, _connection: None },
        };
        match connection {
            Connection::Memory(t) => {
                edit(raw.data_mut());
                let code = raw.acquire_with(&self.driver, flags, Some(t));
                RawContext { raw, code, _connection: None }
            }
            Connection::Pcsc(card) => {
                let (ctx, handle) = card.raw_handles();
                raw.data_mut().hSCardCtx = ctx;
                raw.data_mut().hScard = handle;
                edit(raw.data_mut());
                let code = raw.acquire_with(&self.driver, flags, None);
                RawContext { raw, code, _connection: Some(card) }
            }
        }
    }

    /// A bare `CARD_DATA` given to the exported `CardAcquireContext` with no connection at
    /// all (`hSCardCtx` and `hScard` as `edit` leaves them: 0), for calls a driver must refuse
    /// before it touches a card.
    pub fn detached(&self, flags: u32, edit: impl FnOnce(&mut CARD_DATA)) -> RawContext {
        let mut raw = RawCsp::named(7, &self.atr, &self.card_name);
        edit(raw.data_mut());
        let code = raw.acquire_with(&self.driver, flags, None);
        RawContext { raw, code, _connection: None }
    }

    /// Resets the card from another connection, as another program's
    /// `SCardReconnect(SCARD_RESET_CARD)` does: every authentication on the card ends.
    ///
    /// # Errors
    /// The connection's code.
    pub fn reset_from_elsewhere(&self) -> Result<(), Code> {
        match &self.card {
            Card::Simulated { slot, .. } => {
                slot.reset();
                Ok(())
            }
            Card::Reader { name } => {
                let mut card = PcscCard::connect(name).map_err(|e| Code(transport_code(&e)))?;
                card.reconnect(true).map_err(|e| Code(transport_code(&e)))
            }
        }
    }
}

/// Ends the PC/SC transaction a context's connection holds (so that another connection can
/// begin one), or begins it again: what the Base CSP does around each operation.
pub(crate) fn hold_transaction(csp: &mut Csp, hold: bool) {
    if let Some(card) = csp.pcsc() {
        let _ = if hold { card.begin_transaction() } else { card.end_transaction() };
    }
}

fn transport_code(e: &card_edges::Error) -> u32 {
    match e {
        card_edges::Error::Transport(t) => t.scard_code(),
        _ => 0x8010_001F,
    }
}
