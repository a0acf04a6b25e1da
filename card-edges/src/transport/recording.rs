//! A transport wrapper that records every exchange, raw: the basis of transcript tests and
//! APDU/byte budgets. Never use it where secrets must not be kept (it stores PIN bytes).

use std::sync::{Arc, Mutex, PoisonError};

use super::Transport;
use crate::error::Result;

/// One command and the response it got (or the transport error, as `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Command bytes as sent.
    pub command: Vec<u8>,
    /// Response bytes as received, `None` when the transport failed.
    pub response: Option<Vec<u8>>,
}

impl Exchange {
    /// `"CMDHEX -> RSPHEX"`, the form transcript tests compare.
    pub fn to_hex_line(&self) -> String {
        match &self.response {
            Some(r) => format!("{} -> {}", hex::encode_upper(&self.command), hex::encode_upper(r)),
            None => format!("{} -> (transport error)", hex::encode_upper(&self.command)),
        }
    }
}

/// Wraps a transport and logs every exchange into a shared log.
#[derive(Debug)]
pub struct Recording<T> {
    inner: T,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl<T: Transport> Recording<T> {
    /// Wraps `inner`; [`Recording::log`] gives a handle to read the log later.
    pub fn new(inner: T) -> Self {
        Self { inner, log: Arc::default() }
    }

    /// A handle to the log that outlives moves of the transport.
    pub fn log(&self) -> Arc<Mutex<Vec<Exchange>>> {
        Arc::clone(&self.log)
    }

    /// Takes the exchanges recorded so far, leaving the log empty.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The wrapped transport.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Transport> Transport for Recording<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        let result = self.inner.transmit(command);
        let response = result.as_ref().ok().cloned();
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push(Exchange { command: command.to_vec(), response });
        result
    }
    fn atr(&mut self) -> Result<Vec<u8>> {
        self.inner.atr()
    }
    fn begin_transaction(&mut self) -> Result<()> {
        self.inner.begin_transaction()
    }
    fn end_transaction(&mut self) -> Result<()> {
        self.inner.end_transaction()
    }
}
