//! PC/SC transports: a card this process connected to, and a handle borrowed from the Base CSP.

mod ffi;

use std::ffi::{CStr, CString};

use pcsc::ffi::{DWORD, SCARDCONTEXT, SCARDHANDLE};

use super::Transport;
use crate::error::{Error, Result, TransportError};

const SHARE_SHARED: DWORD = pcsc::ffi::SCARD_SHARE_SHARED;
const PROTOCOLS_ANY: DWORD = pcsc::ffi::SCARD_PROTOCOL_T0 | pcsc::ffi::SCARD_PROTOCOL_T1;
const LEAVE_CARD: DWORD = pcsc::ffi::SCARD_LEAVE_CARD;
const RESET_CARD: DWORD = pcsc::ffi::SCARD_RESET_CARD;

fn transport_error(code: u32) -> Error {
    Error::Transport(TransportError::from_scard_code(code))
}

/// Lists the readers the PC/SC service knows, with whether a card is present (for tools).
///
/// # Errors
/// [`TransportError::NoService`] when pcscd is not running; [`TransportError::NoReader`] when
/// no reader is attached.
pub fn list_readers() -> Result<Vec<CString>> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| transport_error(e as u32))?;
    ctx.list_readers_owned().map_err(|e| transport_error(e as u32))
}

/// A connection this process owns: connects in shared mode, disconnects (leaving the card
/// as it is) when dropped, and holds a transaction between `begin`/`end_transaction`.
#[derive(Debug)]
pub struct PcscCard {
    ctx: SCARDCONTEXT,
    handle: SCARDHANDLE,
    protocol: DWORD,
    reader: CString,
    in_transaction: bool,
}

impl PcscCard {
    /// Connects to the card in `reader` (shared mode, T=0 or T=1).
    ///
    /// # Errors
    /// [`TransportError::NoService`], [`TransportError::NoReader`] or
    /// [`TransportError::NoSmartcard`] as PC/SC reports them.
    pub fn connect(reader: &CStr) -> Result<Self> {
        let ctx = ffi::establish_context().map_err(transport_error)?;
        match ffi::connect(ctx, reader, SHARE_SHARED, PROTOCOLS_ANY) {
            Ok((handle, protocol)) => {
                Ok(Self { ctx, handle, protocol, reader: reader.to_owned(), in_transaction: false })
            }
            Err(code) => {
                let _ = ffi::release_context(ctx);
                Err(transport_error(code))
            }
        }
    }

    /// Connects to the first reader that holds a card.
    ///
    /// # Errors
    /// [`TransportError::NoReader`] without readers, [`TransportError::NoSmartcard`] when no
    /// reader holds a card.
    pub fn connect_first() -> Result<Self> {
        let mut last = Error::Transport(TransportError::NoReader);
        for reader in list_readers()? {
            match Self::connect(&reader) {
                Ok(card) => return Ok(card),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The reader this card is in.
    pub fn reader(&self) -> &CStr {
        &self.reader
    }

    /// The raw context and card handles, as a CSP stores them in `CARD_DATA` (`hSCardCtx`,
    /// `hScard`): for a program playing the CSP. They stay owned by this value.
    pub fn raw_handles(&self) -> (usize, usize) {
        (self.ctx as usize, self.handle as usize)
    }

    /// Reconnects after `SCARD_W_RESET_CARD`/`SCARD_W_REMOVED_CARD`, resetting the card
    /// (cold state: no PIN verified) when `reset` is true.
    ///
    /// # Errors
    /// [`TransportError`] as PC/SC reports it.
    pub fn reconnect(&mut self, reset: bool) -> Result<()> {
        let init = if reset { RESET_CARD } else { LEAVE_CARD };
        self.protocol = ffi::reconnect(self.handle, SHARE_SHARED, PROTOCOLS_ANY, init).map_err(transport_error)?;
        self.in_transaction = false;
        Ok(())
    }
}

impl Transport for PcscCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        ffi::transmit(self.handle, self.protocol, command).map_err(transport_error)
    }

    fn atr(&mut self) -> Result<Vec<u8>> {
        ffi::status(self.handle).map(|(_, atr)| atr).map_err(transport_error)
    }

    fn begin_transaction(&mut self) -> Result<()> {
        if !self.in_transaction {
            ffi::begin_transaction(self.handle).map_err(transport_error)?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn end_transaction(&mut self) -> Result<()> {
        if self.in_transaction {
            self.in_transaction = false;
            ffi::end_transaction(self.handle, LEAVE_CARD).map_err(transport_error)?;
        }
        Ok(())
    }
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        if self.in_transaction {
            let _ = ffi::end_transaction(self.handle, LEAVE_CARD);
        }
        let _ = ffi::disconnect(self.handle, LEAVE_CARD);
        let _ = ffi::release_context(self.ctx);
    }
}

/// A card handle owned by someone else (the Base CSP's `CARD_DATA.hScard`). It never
/// connects, reconnects, disconnects, or begins or ends a transaction: the owner does.
#[derive(Debug)]
pub struct BorrowedCard {
    handle: SCARDHANDLE,
    context: SCARDCONTEXT,
    protocol: Option<DWORD>,
}

impl BorrowedCard {
    /// Borrows the handles as `CARD_DATA` stores them (`hSCardCtx`, `hScard`).
    pub fn new(context: usize, handle: usize) -> Self {
        Self { handle: ffi::handle_from_usize(handle), context: ffi::context_from_usize(context), protocol: None }
    }

    /// The borrowed context handle (kept only to report it; never released here).
    pub fn context(&self) -> SCARDCONTEXT {
        self.context
    }

    fn protocol(&mut self) -> Result<DWORD> {
        if let Some(p) = self.protocol {
            return Ok(p);
        }
        let (p, _) = ffi::status(self.handle).map_err(transport_error)?;
        self.protocol = Some(p);
        Ok(p)
    }
}

impl Transport for BorrowedCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        let protocol = self.protocol()?;
        let result = ffi::transmit(self.handle, protocol, command).map_err(transport_error);
        if result.is_err() {
            // The owner may reconnect (and renegotiate the protocol) before the next call.
            self.protocol = None;
        }
        result
    }

    fn atr(&mut self) -> Result<Vec<u8>> {
        ffi::status(self.handle).map(|(_, atr)| atr).map_err(transport_error)
    }
}
