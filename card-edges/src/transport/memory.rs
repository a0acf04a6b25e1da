//! In-memory cards: a [`VirtualCard`] in a [`CardSlot`] (the reader), reached through
//! [`MemoryCard`] connections that see resets and removals as PC/SC clients do.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Transport;
use crate::error::{Result, TransportError};

/// The card side of a virtual card: an ATR and one response per command APDU.
pub trait VirtualCard: Send {
    /// The ATR the card answers with after power-up or reset.
    fn atr(&self) -> Vec<u8>;
    /// Processes one command APDU, returning the response APDU (data + SW1 SW2).
    fn process(&mut self, command: &[u8]) -> Vec<u8>;
    /// A warm or cold reset: security status and selected application are cleared.
    fn reset(&mut self);
}

#[derive(Default)]
struct SlotState {
    card: Option<Box<dyn VirtualCard>>,
    /// Bumped on every insertion: a connection to an earlier card sees `RemovedCard`.
    insertions: u64,
    /// Bumped on every reset: a connection that did not cause it sees `ResetCard` once.
    resets: u64,
}

/// A virtual reader slot that holds at most one card. Clones share the slot, so a test can
/// reset, remove or change the card behind a connection's back.
#[derive(Clone, Default)]
pub struct CardSlot {
    state: Arc<Mutex<SlotState>>,
}

impl core::fmt::Debug for CardSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.lock();
        f.debug_struct("CardSlot").field("present", &s.card.is_some()).field("resets", &s.resets).finish()
    }
}

impl CardSlot {
    /// A slot with `card` inserted.
    pub fn new(card: impl VirtualCard + 'static) -> Self {
        let slot = Self::default();
        slot.insert(card);
        slot
    }

    /// Inserts a card (replacing any card present, as if it was swapped).
    pub fn insert(&self, card: impl VirtualCard + 'static) {
        let mut s = self.lock();
        s.card = Some(Box::new(card));
        s.insertions += 1;
    }

    /// Removes the card, returning it.
    pub fn remove(&self) -> Option<Box<dyn VirtualCard>> {
        self.lock().card.take()
    }

    /// Whether a card is present.
    pub fn is_present(&self) -> bool {
        self.lock().card.is_some()
    }

    /// Resets the card, as another program's `SCardReconnect(SCARD_RESET_CARD)` would.
    pub fn reset(&self) {
        let mut s = self.lock();
        if let Some(card) = s.card.as_mut() {
            card.reset();
            s.resets += 1;
        }
    }

    /// Runs `f` on the card itself (to change it behind the host's back), if present.
    pub fn with_card<R>(&self, f: impl FnOnce(&mut dyn VirtualCard) -> R) -> Option<R> {
        let mut s = self.lock();
        s.card.as_mut().map(|c| f(c.as_mut()))
    }

    /// Connects to the card in the slot.
    ///
    /// # Errors
    /// [`TransportError::NoSmartcard`] when the slot is empty.
    pub fn connect(&self) -> Result<MemoryCard> {
        let s = self.lock();
        if s.card.is_none() {
            return Err(TransportError::NoSmartcard.into());
        }
        Ok(MemoryCard { slot: self.clone(), insertion: s.insertions, resets: s.resets })
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection to the card in a [`CardSlot`].
#[derive(Debug)]
pub struct MemoryCard {
    slot: CardSlot,
    insertion: u64,
    resets: u64,
}

impl MemoryCard {
    /// A new slot holding `card`, and a connection to it.
    pub fn new(card: impl VirtualCard + 'static) -> Self {
        let slot = CardSlot::new(card);
        Self { slot, insertion: 1, resets: 0 }
    }

    /// The slot this connection is in.
    pub fn slot(&self) -> &CardSlot {
        &self.slot
    }

    /// Re-establishes the connection after a reset or reinsertion, resetting the card when
    /// `reset` is true (as `SCardReconnect` with `SCARD_RESET_CARD`/`SCARD_LEAVE_CARD`).
    ///
    /// # Errors
    /// [`TransportError::NoSmartcard`] when the slot is empty.
    pub fn reconnect(&mut self, reset: bool) -> Result<()> {
        let mut s = self.slot.lock();
        let Some(card) = s.card.as_mut() else {
            return Err(TransportError::NoSmartcard.into());
        };
        if reset {
            card.reset();
            s.resets += 1;
        }
        self.insertion = s.insertions;
        self.resets = s.resets;
        Ok(())
    }

    fn check(&self, s: &SlotState) -> Result<()> {
        if s.card.is_none() || s.insertions != self.insertion {
            return Err(TransportError::RemovedCard.into());
        }
        if s.resets != self.resets {
            return Err(TransportError::ResetCard.into());
        }
        Ok(())
    }
}

impl Transport for MemoryCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        let mut s = self.slot.lock();
        self.check(&s)?;
        match s.card.as_mut() {
            Some(card) => Ok(card.process(command)),
            None => Err(TransportError::RemovedCard.into()),
        }
    }

    fn atr(&mut self) -> Result<Vec<u8>> {
        let s = self.slot.lock();
        self.check(&s)?;
        s.card.as_ref().map(|c| c.atr()).ok_or_else(|| TransportError::RemovedCard.into())
    }
}

/// A scripted card for tests: answers each command from a list of expected exchanges and
/// fails the test (by answering `6F 00` and recording the mismatch) on anything unexpected.
#[derive(Debug, Default)]
pub struct ScriptedCard {
    /// ATR to report.
    pub atr: Vec<u8>,
    script: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Commands that did not match the script, with what was expected instead.
    pub mismatches: Arc<Mutex<Vec<String>>>,
}

impl ScriptedCard {
    /// A card with `atr` that expects exactly the `(command, response)` pairs given, in order.
    pub fn new(atr: &[u8], script: &[(&[u8], &[u8])]) -> Self {
        Self {
            atr: atr.to_vec(),
            script: script.iter().map(|(c, r)| (c.to_vec(), r.to_vec())).collect(),
            mismatches: Arc::default(),
        }
    }
}

impl VirtualCard for ScriptedCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }
    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        match self.script.pop_front() {
            Some((expected, response)) if expected == command => response,
            Some((expected, _)) => {
                self.mismatches.lock().unwrap_or_else(PoisonError::into_inner).push(format!(
                    "expected {} got {}",
                    hex::encode_upper(expected),
                    hex::encode_upper(command)
                ));
                vec![0x6F, 0x00]
            }
            None => {
                self.mismatches
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(format!("unexpected {}", hex::encode_upper(command)));
                vec![0x6F, 0x00]
            }
        }
    }
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

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
    fn reset_by_another_party_is_seen_once() {
        let slot = CardSlot::new(Echo);
        let mut a = slot.connect().unwrap();
        let mut b = slot.connect().unwrap();
        assert!(a.transmit(&[0, 1, 2, 3]).is_ok());
        b.reconnect(true).unwrap();
        assert!(b.transmit(&[0, 1, 2, 3]).is_ok(), "the resetter is not warned");
        assert_eq!(a.transmit(&[0, 1, 2, 3]), Err(Error::Transport(TransportError::ResetCard)));
        a.reconnect(false).unwrap();
        assert!(a.transmit(&[0, 1, 2, 3]).is_ok());
    }

    #[test]
    fn removal_and_reinsertion() {
        let slot = CardSlot::new(Echo);
        let mut a = slot.connect().unwrap();
        slot.remove();
        assert_eq!(a.transmit(&[0, 1, 2, 3]), Err(Error::Transport(TransportError::RemovedCard)));
        assert_eq!(a.reconnect(false), Err(Error::Transport(TransportError::NoSmartcard)));
        slot.insert(Echo);
        assert_eq!(a.transmit(&[0, 1, 2, 3]), Err(Error::Transport(TransportError::RemovedCard)));
        a.reconnect(false).unwrap();
        assert!(a.transmit(&[0, 1, 2, 3]).is_ok());
        assert!(CardSlot::default().connect().is_err());
    }
}
