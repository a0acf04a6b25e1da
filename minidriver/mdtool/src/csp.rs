//! A Base CSP stand-in: it fills `CARD_DATA` as the CSP does (its own allocator with a count of
//! live allocations, cache callbacks that really cache, the PC/SC handles and a transaction it
//! owns), calls `CardAcquireContext`, and then reaches the minidriver only through the function
//! table. mdtool and the ABI integration tests both drive the minidriver through it.

mod ffi;
pub mod raw;
pub mod session;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use card_edges::transport::Transport;
use card_edges::transport::pcsc::PcscCard;

pub use ffi::{
    CardData, Padding, cache_misuse, driver_frees, free_output, install_callbacks, is_csp_allocation, live_allocations,
};

/// A minidriver return code.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u32);

impl Code {
    /// The code's name, for messages.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "SCARD_S_SUCCESS",
            0x8010_0003 => "SCARD_E_INVALID_HANDLE",
            0x8010_0004 => "SCARD_E_INVALID_PARAMETER",
            0x8010_0006 => "SCARD_E_NO_MEMORY",
            0x8010_0001 => "SCARD_F_INTERNAL_ERROR",
            0x8010_0008 => "SCARD_E_INSUFFICIENT_BUFFER",
            0x8010_0009 => "SCARD_E_UNKNOWN_READER",
            0x8010_000C => "SCARD_E_NO_SMARTCARD",
            0x8010_000A => "SCARD_E_TIMEOUT",
            0x8010_000B => "SCARD_E_SHARING_VIOLATION",
            0x8010_000D => "SCARD_E_UNKNOWN_CARD",
            0x8010_001D => "SCARD_E_NO_SERVICE",
            0x8010_001E => "SCARD_E_SERVICE_STOPPED",
            0x8010_001F => "SCARD_E_UNEXPECTED",
            0x8010_0022 => "SCARD_E_UNSUPPORTED_FEATURE",
            0x8010_0023 => "SCARD_E_DIR_NOT_FOUND",
            0x8010_0024 => "SCARD_E_FILE_NOT_FOUND",
            0x8010_0028 => "SCARD_E_WRITE_TOO_MANY",
            0x8010_002E => "SCARD_E_NO_READERS_AVAILABLE",
            0x8010_0030 => "SCARD_E_NO_KEY_CONTAINER",
            0x8010_0068 => "SCARD_W_RESET_CARD",
            0x8010_0069 => "SCARD_W_REMOVED_CARD",
            0x8010_006A => "SCARD_W_SECURITY_VIOLATION",
            0x8010_006B => "SCARD_W_WRONG_CHV",
            0x8010_006C => "SCARD_W_CHV_BLOCKED",
            0x8010_006E => "SCARD_W_CANCELLED_BY_USER",
            0x8 => "ERROR_NOT_ENOUGH_MEMORY",
            0x18 => "ERROR_BAD_LENGTH",
            0x490 => "ERROR_NOT_FOUND",
            0x7A => "ERROR_INSUFFICIENT_BUFFER",
            0x50 => "ERROR_FILE_EXISTS",
            0x91 => "ERROR_DIR_NOT_EMPTY",
            0x51A => "ERROR_REVISION_MISMATCH",
            0x8009_0005 => "NTE_BAD_DATA",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:08X})", self.name(), self.0)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Code {}

/// Result of a call through the table.
pub type Result<T> = core::result::Result<T, Code>;

/// How to reach `CardAcquireContext`.
pub struct Driver {
    acquire: ffi::AcquireFn,
    linked: bool,
    library: Option<Arc<libloading::Library>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").field("linked", &self.linked).finish_non_exhaustive()
    }
}

impl Driver {
    /// The minidriver linked into this program (its exported C function).
    pub fn linked() -> Self {
        Self { acquire: minidriver::ffi::CardAcquireContext, linked: true, library: None }
    }

    /// A minidriver shared library (`libminidriver.so` / `minidriver.dll`), loaded as a CSP does.
    ///
    /// # Errors
    /// The loader's message when the library or its export cannot be found.
    pub fn load(path: &Path) -> core::result::Result<Self, String> {
        let (library, acquire) = ffi::load(path)?;
        Ok(Self { acquire, linked: false, library: Some(Arc::new(library)) })
    }
}

/// Where the card is.
pub enum Target {
    /// A PC/SC reader: the CSP connects, begins a transaction and hands the handles over.
    Pcsc(PcscCard),
    /// A transport given to the linked driver's Rust-level entry (the embedded simulated card).
    Transport(Box<dyn Transport + Send>),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pcsc(c) => write!(f, "Target::Pcsc({:?})", c.reader()),
            Self::Transport(_) => f.write_str("Target::Transport"),
        }
    }
}

/// The CSP's data cache (`pfnCspCache*`), shared by every context of one process as the Base
/// CSP's is; counts lookups and hits for tests.
#[derive(Debug, Default)]
pub struct CspCache {
    pub(crate) entries: HashMap<Vec<u16>, Vec<u8>>,
    /// Lookups made.
    pub lookups: u64,
    /// Lookups answered.
    pub hits: u64,
    /// Adds made.
    pub adds: u64,
    /// Deletes made.
    pub deletes: u64,
}

impl CspCache {
    /// Forgets every entry (the counters stay).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Calls of the three callbacks so far.
    pub fn calls(&self) -> u64 {
        self.lookups + self.adds + self.deletes
    }
}

/// One acquired minidriver context. It keeps a loaded driver library loaded for as long as it
/// lives (fields drop in order: the context is deleted before the library can go).
pub struct Csp {
    data: CardData,
    card: Option<PcscCard>,
    _library: Option<Arc<libloading::Library>>,
}

impl fmt::Debug for Csp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csp").field("version", &self.data.version()).finish_non_exhaustive()
    }
}

/// What `CardAcquireContext` is given.
#[derive(Clone, Debug)]
pub struct AcquireOptions {
    /// `dwVersion` to request.
    pub version: u32,
    /// The card name (`pwszCardName`).
    pub card_name: String,
    /// The shared cache (a new one when `None`).
    pub cache: Option<Arc<Mutex<CspCache>>>,
    /// `dwFlags` of `CardAcquireContext`.
    pub flags: u32,
    /// Changes the filled `CARD_DATA` just before the call (tests of hostile CSPs).
    pub tamper: Option<fn(&mut windows_sys::Win32::Security::Cryptography::CARD_DATA)>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        Self {
            version: 7,
            card_name: "Identity Device (NIST SP 800-73 [PIV])".into(),
            cache: None,
            flags: 0,
            tamper: None,
        }
    }
}

impl Csp {
    /// Fills `CARD_DATA` and acquires a context on `target`.
    ///
    /// # Errors
    /// The code `CardAcquireContext` returned, or a PC/SC code.
    pub fn acquire(driver: &Driver, target: Target, options: &AcquireOptions) -> Result<Self> {
        let cache = options.cache.clone().unwrap_or_default();
        match target {
            Target::Pcsc(mut card) => {
                card.begin_transaction().map_err(|e| Code(transport_code(&e)))?;
                let atr = card.atr().map_err(|e| Code(transport_code(&e)))?;
                let (ctx, handle) = card.raw_handles();
                let data = CardData::acquire(driver.acquire, options, &atr, cache, ctx, handle, None)?;
                Ok(Self { data, card: Some(card), _library: driver.library.clone() })
            }
            Target::Transport(mut transport) => {
                if !driver.linked {
                    return Err(Code(0x8010_0004));
                }
                let atr = transport.atr().map_err(|e| Code(transport_code(&e)))?;
                let data = CardData::acquire(driver.acquire, options, &atr, cache, 0, 0, Some(transport))?;
                Ok(Self { data, card: None, _library: driver.library.clone() })
            }
        }
    }

    /// The `CARD_DATA` (to reach fields and function pointers directly in tests).
    pub fn card_data(&self) -> &CardData {
        &self.data
    }

    /// The `CARD_DATA`, mutably (to swap handles as a CSP may).
    pub fn card_data_mut(&mut self) -> &mut CardData {
        &mut self.data
    }

    /// The PC/SC connection this CSP owns, if any.
    pub fn pcsc(&mut self) -> Option<&mut PcscCard> {
        self.card.as_mut()
    }

    /// Reconnects the PC/SC connection after a reset or removal (as the CSP does) and gives
    /// the minidriver the (possibly new) handles.
    ///
    /// # Errors
    /// The PC/SC code of the reconnection.
    pub fn reconnect(&mut self, reset: bool) -> Result<()> {
        let Some(card) = self.card.as_mut() else { return Ok(()) };
        let _ = card.end_transaction();
        card.reconnect(reset).map_err(|e| Code(transport_code(&e)))?;
        card.begin_transaction().map_err(|e| Code(transport_code(&e)))?;
        let (ctx, handle) = card.raw_handles();
        self.data.set_handles(ctx, handle);
        Ok(())
    }
}

impl Drop for Csp {
    fn drop(&mut self) {
        let _ = self.data.delete_context();
        if let Some(card) = self.card.as_mut() {
            let _ = card.end_transaction();
        }
    }
}

fn transport_code(e: &card_edges::Error) -> u32 {
    match e {
        card_edges::Error::Transport(t) => t.scard_code(),
        _ => 0x8010_001F,
    }
}

impl std::ops::Deref for Csp {
    type Target = CardData;
    fn deref(&self) -> &CardData {
        &self.data
    }
}
