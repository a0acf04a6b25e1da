//! Entry points for the cargo-fuzz targets in `fuzz/` (each target is a one-line shim into
//! here) and for the corpus replay tests. Hidden: not part of the API.
//!
//! Each function must return normally for every input; a panic is a finding.

use crate::detect::CardId;
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Atr, Command, Session};
use crate::transport::memory::{MemoryCard, VirtualCard};

/// BER-TLV: walk every object at every level reachable within the depth limit, and check
/// that a re-encoding of each object reads back identically.
pub fn tlv(data: &[u8]) {
    let mut stack = vec![(data, 0usize)];
    while let Some((level, depth)) = stack.pop() {
        for obj in tlv::Reader::new(level) {
            let Ok(obj) = obj else { break };
            if let Ok(enc) = tlv::encode(obj.tag, obj.value) {
                let back = tlv::read_single(&enc).map(|t| (t.tag, t.value));
                assert_eq!(back, Ok((obj.tag, obj.value)), "re-encoded TLV reads back differently");
            }
            // Card objects nest under primitive-looking tags (PIV `53`), so every value is tried.
            if depth < tlv::MAX_DEPTH {
                stack.push((obj.value, depth + 1));
            }
        }
    }
    let _ = tlv::find(data, &[Tag(0x53), Tag(0x70)]);
    let _ = tlv::find(data, &[Tag(0x7C), Tag(0x82)]);
}

/// CardID DER: a CardID that parses has a first GUID and vendor MSFT.
pub fn card_id(data: &[u8]) {
    if let Ok(id) = CardId::parse(data) {
        assert_eq!(id.vendor, "MSFT");
        assert!(!id.guids.is_empty());
    }
}

/// ATR parser: a parsed ATR keeps its bytes, and its historical bytes decode.
pub fn atr(data: &[u8]) {
    if let Ok(atr) = Atr::parse(data) {
        assert_eq!(atr.as_bytes(), data);
        let hb = atr.historical_bytes();
        let _ = hb.card_capabilities();
        let _ = atr.card_capabilities();
    }
}

/// A card whose responses come from the fuzz input: 2-byte big-endian length, then that many
/// response bytes; then the next response.
struct FuzzCard {
    data: Vec<u8>,
    pos: usize,
}

impl VirtualCard for FuzzCard {
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }
    fn process(&mut self, _command: &[u8]) -> Vec<u8> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => return vec![0x90, 0x00],
        };
        let start = self.pos + 2;
        let end = (start + len).min(self.data.len());
        self.pos = end;
        self.data.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
    }
    fn reset(&mut self) {}
}

/// The APDU session's response handling (`61xx`, `6Cxx`, chaining, short responses) against
/// a card answering with fuzz-chosen bytes: it must end, and never panic.
pub fn session_responses(data: &[u8]) {
    let (extended, rest) = match data.split_first() {
        Some((flag, rest)) => (flag & 1 == 1, rest),
        None => (false, data),
    };
    let mut session = Session::new(MemoryCard::new(FuzzCard { data: rest.to_vec(), pos: 0 }));
    if extended {
        session.set_limits(crate::iso7816::Limits::EXTENDED);
    }
    let commands = [
        Command::new(0x00, 0xCB, 0x3F, 0xFF).with_data([0x5C, 0x03, 0x5F, 0xC1, 0x05]).with_le(65_536),
        Command::new(0x00, 0x87, 0x07, 0x9A).with_data(vec![0xAB; 300]).with_le(256),
        Command::new(0x00, 0x20, 0x00, 0x80),
    ];
    for cmd in &commands {
        if let Ok(rsp) = session.transmit(cmd) {
            assert!(rsp.data.len() <= crate::iso7816::session::MAX_RESPONSE);
        }
    }
}
