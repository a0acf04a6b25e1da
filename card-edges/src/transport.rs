//! Transports: how command bytes reach a card. The APDU session sits on top of any of them.
//!
//! - [`pcsc::PcscCard`]: a card this process connected to (Rust applications, mdtool).
//! - [`pcsc::BorrowedCard`]: a handle the Base CSP owns (the C ABI); it never connects,
//!   disconnects, or begins or ends a transaction it does not own.
//! - [`memory::MemoryCard`]: an in-memory virtual card (tests, the embedded simulated card).

pub mod memory;
pub mod pcsc;
mod recording;

pub use recording::{Exchange, Recording};

use crate::error::Result;

/// Sends raw command APDUs and returns raw responses (data + SW1 SW2).
pub trait Transport {
    /// Sends one command APDU, returning the response APDU as the card sent it.
    ///
    /// # Errors
    /// [`crate::Error::Transport`] when the card is reset, removed or unreachable.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>>;

    /// The card's current ATR.
    ///
    /// # Errors
    /// [`crate::Error::Transport`] when the card is gone.
    fn atr(&mut self) -> Result<Vec<u8>>;

    /// Begins exclusive access, if this transport owns its connection (no-op otherwise).
    ///
    /// # Errors
    /// [`crate::Error::Transport`] when the card is gone.
    fn begin_transaction(&mut self) -> Result<()> {
        Ok(())
    }

    /// Ends exclusive access begun by [`Transport::begin_transaction`] (no-op otherwise).
    ///
    /// # Errors
    /// [`crate::Error::Transport`] when the card is gone.
    fn end_transaction(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit(command)
    }
    fn atr(&mut self) -> Result<Vec<u8>> {
        (**self).atr()
    }
    fn begin_transaction(&mut self) -> Result<()> {
        (**self).begin_transaction()
    }
    fn end_transaction(&mut self) -> Result<()> {
        (**self).end_transaction()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit(command)
    }
    fn atr(&mut self) -> Result<Vec<u8>> {
        (**self).atr()
    }
    fn begin_transaction(&mut self) -> Result<()> {
        (**self).begin_transaction()
    }
    fn end_transaction(&mut self) -> Result<()> {
        (**self).end_transaction()
    }
}
