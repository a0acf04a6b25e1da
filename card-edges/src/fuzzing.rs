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

/// GIDS master file: a master file that decodes has `(len - 1) / 28` records, re-encodes to a
/// master file that decodes the same, and answers lookups.
pub fn gids_masterfile(data: &[u8]) {
    use crate::gids::masterfile::{MasterFile, RECORD_LEN};
    if let Ok(mf) = MasterFile::decode(data) {
        assert_eq!(mf.records().len(), (data.len() - 1) / RECORD_LEN);
        let again = MasterFile::decode(&mf.encode());
        assert_eq!(again.as_ref(), Ok(&mf), "re-encoded master file reads back differently");
        for r in mf.records() {
            // A record in a directory whose stored name no minidriver name can hold (a byte
            // above 0x7F, say) is reachable by no lookup: only the others must be found.
            let dir = if r.directory.is_empty() { Some(None) } else { r.directory.to_name().map(Some) };
            if let (Some(file), Some(dir)) = (r.file.to_name(), dir) {
                assert!(mf.file(dir.as_ref(), &file).is_some() || r.is_directory());
            }
        }
        let _ = mf.first_free_data_object(0xA010);
        let _ = mf.directories().count();
    }
}

/// GIDS keymap: a keymap that decodes has `(len - 1) / 12` records and re-encodes to one that
/// decodes the same.
pub fn gids_keymap(data: &[u8]) {
    use crate::gids::keymap::{KeyMap, RECORD_LEN};
    if let Ok(map) = KeyMap::decode(data) {
        assert_eq!(map.len(), data.len().saturating_sub(1) / RECORD_LEN);
        assert_eq!(KeyMap::decode(&map.encode()).as_ref(), Ok(&map));
    }
}

/// GIDS certificate files: inflation stays within its bound, and what inflates compresses and
/// inflates back to itself.
pub fn gids_certificate(data: &[u8]) {
    use crate::gids::certificate::{MAX_CERTIFICATE_LEN, compress, decode_stored, decompress};
    if let Ok(der) = decompress(data) {
        assert!(der.len() <= MAX_CERTIFICATE_LEN);
        if let Ok(stored) = compress(&der) {
            assert_eq!(decompress(&stored).as_ref(), Ok(&der));
        }
    }
    let _ = decode_stored(data);
}

/// The GIDS edge against a card answering with fuzz-chosen responses (as [`session_responses`]):
/// listing, file reads and PIN status must end without panicking, whatever the card says.
pub fn gids_edge(data: &[u8]) {
    use vfs::Storage;
    let session = Session::new(MemoryCard::new(FuzzCard { data: data.to_vec(), pos: 0 }));
    let mut edge = crate::gids::GidsEdge::new(session);
    let _ = edge.containers();
    let _ = edge.card_id();
    for path in ["cardcf", "cardapps", "mscp/cmapfile", "mscp/kxc00"] {
        if let Ok(p) = vfs::FilePath::parse(path) {
            let _ = edge.read_file(&p);
        }
    }
    let _ = edge.list(None);
    let _ = edge.pin_status();
    let _ = edge.export_contents();
}
