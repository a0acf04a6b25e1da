//! A scripted card for the edge's tests: it answers a list of expected commands in order and
//! records any command that differs, so a test can assert the exact APDUs of a flow.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::GidsEdge;
use crate::iso7816::Session;
use crate::transport::memory::{CardSlot, MemoryCard, VirtualCard};

#[derive(Default)]
struct State {
    expected: VecDeque<(Vec<u8>, Vec<u8>)>,
    sent: usize,
    errors: Vec<String>,
}

/// The test's handle on the card.
#[derive(Clone, Default)]
pub(crate) struct Script {
    state: Arc<Mutex<State>>,
    slot: Option<CardSlot>,
}

struct Card(Arc<Mutex<State>>);

impl VirtualCard for Card {
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x80, 0x80, 0x01, 0x01]
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let mut s = self.0.lock().unwrap();
        s.sent += 1;
        match s.expected.pop_front() {
            Some((expected, response)) if expected == command => response,
            Some((expected, _)) => {
                let e = format!("expected {}\n     got {}", hex::encode_upper(expected), hex::encode_upper(command));
                s.errors.push(e);
                vec![0x6F, 0x00]
            }
            None => {
                let e = format!("unexpected {}", hex::encode_upper(command));
                s.errors.push(e);
                vec![0x6F, 0x00]
            }
        }
    }

    fn reset(&mut self) {}
}

impl Script {
    /// A script and an edge (not yet selected) over a card that follows it.
    pub(crate) fn edge() -> (Self, GidsEdge<MemoryCard>) {
        let mut script = Self::default();
        let transport = MemoryCard::new(Card(script.state.clone()));
        script.slot = Some(transport.slot().clone());
        (script, GidsEdge::new(Session::new(transport)))
    }

    /// Expects `command` (hex) and answers `response` (hex).
    pub(crate) fn expect(&self, command: &str, response: &str) {
        self.expect_bytes(&hex::decode(command).unwrap(), &hex::decode(response).unwrap());
    }

    /// Expects `command` and answers `response`.
    pub(crate) fn expect_bytes(&self, command: &[u8], response: &[u8]) {
        self.state.lock().unwrap().expected.push_back((command.to_vec(), response.to_vec()));
    }

    /// Resets the card behind the edge's back.
    pub(crate) fn reset(&self) {
        if let Some(slot) = &self.slot {
            slot.reset();
        }
    }

    /// Asserts that every expected command came, in order, and nothing else; returns how many
    /// APDUs were sent since the last call.
    pub(crate) fn done(&self) -> usize {
        let mut s = self.state.lock().unwrap();
        let errors = core::mem::take(&mut s.errors);
        let left: Vec<String> = s.expected.drain(..).map(|(c, _)| hex::encode_upper(c)).collect();
        let sent = core::mem::take(&mut s.sent);
        drop(s);
        if !errors.is_empty() || !left.is_empty() {
            panic!("script mismatch:\n{}\nnot sent: {left:#?}", errors.join("\n"));
        }
        sent
    }
}
