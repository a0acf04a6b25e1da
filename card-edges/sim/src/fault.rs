//! A transport that breaks on purpose: one fault at a chosen APDU of a flow, so that tests can
//! put a fault at every APDU of every flow and check what the host does (no panic, the
//! specification's codes for a removed or reset card, no false success, the next context
//! recovers, writes leave the old state or the new one).

use std::sync::{Arc, Mutex, PoisonError};

use card_edges::error::{Result, TransportError};
use card_edges::transport::Transport;

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The card is pulled before the command reaches it; every later command fails too.
    Removed,
    /// Someone resets the card before the command (its security state is lost); the command
    /// fails with `SCARD_W_RESET_CARD` and later ones reach the reset card.
    Reset,
    /// The command reaches the card and acts, but no answer comes back in time.
    NoAnswer,
    /// The answer is cut to its first `n` bytes (status word included).
    Truncated(usize),
    /// One byte of the answer (counted from the start, modulo its length) is flipped.
    FlippedByte(usize),
    /// The status word is replaced.
    StatusWord(u16),
    /// `n` junk bytes are inserted before the status word.
    JunkAppended(usize),
    /// The data becomes a BER object claiming 2^31 bytes, with `90 00`.
    OversizedLength,
}

impl Fault {
    /// One of each kind, for matrices.
    pub const ALL: [Self; 9] = [
        Self::Removed,
        Self::Reset,
        Self::NoAnswer,
        Self::Truncated(1),
        Self::FlippedByte(0),
        Self::StatusWord(0x6F00),
        Self::JunkAppended(4096),
        Self::OversizedLength,
        Self::StatusWord(0x6C10),
    ];
}

/// Shared counters of a [`Faulty`] transport, readable after it moved into a session.
#[derive(Clone, Debug, Default)]
pub struct FaultLog {
    inner: Arc<Mutex<(u64, bool)>>,
}

impl FaultLog {
    /// Commands sent so far.
    pub fn sent(&self) -> u64 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Whether the fault happened.
    pub fn fired(&self) -> bool {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}

/// Wraps a transport and injects `fault` at command number `at` (0-based).
pub struct Faulty<T> {
    inner: T,
    at: u64,
    fault: Fault,
    removed: bool,
    reset: Option<Box<dyn FnMut() + Send>>,
    log: FaultLog,
}

impl<T> core::fmt::Debug for Faulty<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Faulty").field("at", &self.at).field("fault", &self.fault).finish_non_exhaustive()
    }
}

impl<T: Transport> Faulty<T> {
    /// `fault` at command `at`. A [`Fault::Reset`] needs [`Faulty::on_reset`] to reset the card.
    pub fn new(inner: T, at: u64, fault: Fault) -> Self {
        Self { inner, at, fault, removed: false, reset: None, log: FaultLog::default() }
    }

    /// How to reset the card behind this transport (for an in-memory card, its slot's reset).
    #[must_use]
    pub fn on_reset(mut self, reset: impl FnMut() + Send + 'static) -> Self {
        self.reset = Some(Box::new(reset));
        self
    }

    /// The counters, shared.
    pub fn log(&self) -> FaultLog {
        self.log.clone()
    }

    fn corrupt(&self, mut rsp: Vec<u8>) -> Vec<u8> {
        match self.fault {
            Fault::Truncated(n) => {
                rsp.truncate(n.min(rsp.len().saturating_sub(1)));
                rsp
            }
            Fault::FlippedByte(i) => {
                let len = rsp.len().max(1);
                if let Some(b) = rsp.get_mut(i % len) {
                    *b ^= 0x01;
                }
                rsp
            }
            Fault::StatusWord(sw) => {
                rsp.truncate(rsp.len().saturating_sub(2));
                rsp.extend_from_slice(&sw.to_be_bytes());
                rsp
            }
            Fault::JunkAppended(n) => {
                let at = rsp.len().saturating_sub(2);
                rsp.splice(at..at, std::iter::repeat_n(0xA5, n));
                rsp
            }
            Fault::OversizedLength => vec![0x53, 0x84, 0x80, 0x00, 0x00, 0x00, 0x01, 0x90, 0x00],
            Fault::Removed | Fault::Reset | Fault::NoAnswer => rsp,
        }
    }
}

impl<T: Transport> Transport for Faulty<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        let index = {
            let mut l = self.log.inner.lock().unwrap_or_else(PoisonError::into_inner);
            l.0 += 1;
            l.0 - 1
        };
        if self.removed {
            return Err(TransportError::RemovedCard.into());
        }
        if index != self.at {
            return self.inner.transmit(command);
        }
        self.log.inner.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        match self.fault {
            Fault::Removed => {
                self.removed = true;
                Err(TransportError::RemovedCard.into())
            }
            Fault::Reset => {
                if let Some(reset) = self.reset.as_mut() {
                    reset();
                }
                Err(TransportError::ResetCard.into())
            }
            Fault::NoAnswer => {
                self.inner.transmit(command)?;
                Err(TransportError::Timeout.into())
            }
            _ => {
                let rsp = self.inner.transmit(command)?;
                Ok(self.corrupt(rsp))
            }
        }
    }

    fn atr(&mut self) -> Result<Vec<u8>> {
        if self.removed { Err(TransportError::RemovedCard.into()) } else { self.inner.atr() }
    }

    fn begin_transaction(&mut self) -> Result<()> {
        self.inner.begin_transaction()
    }

    fn end_transaction(&mut self) -> Result<()> {
        self.inner.end_transaction()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_edges::transport::memory::{MemoryCard, VirtualCard};

    struct Echo;
    impl VirtualCard for Echo {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            let mut r = command.to_vec();
            r.extend_from_slice(&[0x90, 0x00]);
            r
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn each_fault_at_its_index_only() {
        let cmd = [0x00, 0xCA, 0x01, 0x02];
        let mut t = Faulty::new(MemoryCard::new(Echo), 1, Fault::FlippedByte(1));
        let log = t.log();
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCA, 0x01, 0x02, 0x90, 0x00]);
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCB, 0x01, 0x02, 0x90, 0x00]);
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCA, 0x01, 0x02, 0x90, 0x00]);
        assert!(log.fired());
        assert_eq!(log.sent(), 3);

        let mut t = Faulty::new(MemoryCard::new(Echo), 0, Fault::Removed);
        assert!(t.transmit(&cmd).is_err());
        assert!(t.transmit(&cmd).is_err(), "a removed card stays removed");

        let mut t = Faulty::new(MemoryCard::new(Echo), 0, Fault::JunkAppended(3));
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCA, 0x01, 0x02, 0xA5, 0xA5, 0xA5, 0x90, 0x00]);
        let mut t = Faulty::new(MemoryCard::new(Echo), 0, Fault::Truncated(2));
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCA]);
        let mut t = Faulty::new(MemoryCard::new(Echo), 0, Fault::StatusWord(0x6A82));
        assert_eq!(t.transmit(&cmd).unwrap(), [0x00, 0xCA, 0x01, 0x02, 0x6A, 0x82]);
        let mut t = Faulty::new(MemoryCard::new(Echo), 0, Fault::NoAnswer);
        assert!(matches!(t.transmit(&cmd), Err(card_edges::Error::Transport(TransportError::Timeout))));
    }
}
