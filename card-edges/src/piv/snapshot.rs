//! What the edge read from a card, as bytes: the minidriver stores it in the Base CSP's cache
//! (`pfnCspCacheAddFile`) so that the next context on an unchanged card reads no certificate.
//!
//! Layout: `02` | digest of the CHUID (32) | key history on-card count | the container map:
//! `00` (not read), `01` + length (u32 LE) + `5FFF10`'s content | then per slot read: key
//! reference, `00` (empty) or `01` + certificate length (u32 LE) + certificate DER + the
//! MSCUID container name's length (one byte, 0 for none) + its UTF-8.
//! A snapshot is accepted only for the CHUID it was taken under, so it can never be stale
//! for a card whose content proof changed.

use sha2::{Digest, Sha256};

use super::edge::{PivEdge, SlotContent};
use super::objects::KeyHistory;
use super::slot::Slot;
use crate::error::Result;
use crate::key::PublicKey;
use crate::transport::Transport;

const VERSION: u8 = 2;

fn chuid_digest(chuid: Option<&[u8]>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"piv snapshot chuid");
    match chuid {
        Some(c) => {
            h.update([1]);
            h.update(c);
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

impl<T: Transport> PivEdge<T> {
    /// Whether the slots' contents are known (read from the card or loaded from a snapshot).
    pub fn contents_known(&self) -> bool {
        self.cache.key_history.is_some() && Slot::STANDARD.iter().all(|s| self.cache.slots.contains_key(s))
    }

    /// Reads every candidate slot (at most once per insertion) and returns the snapshot.
    ///
    /// # Errors
    /// Transport failures and malformed objects.
    pub fn export_contents(&mut self) -> Result<Vec<u8>> {
        let populated = self.populated_slots()?;
        self.resolve_container_map(&populated)?;
        let chuid = self.chuid_raw()?;
        let mut out = vec![VERSION];
        out.extend_from_slice(&chuid_digest(chuid.as_deref()));
        out.push(self.cache.key_history.map_or(0, |h| h.on_card));
        match &self.cache.container_map {
            None => out.push(0),
            Some(records) => {
                let content = super::yubico::encode_container_map(records)?;
                out.push(1);
                out.extend_from_slice(&u32::try_from(content.len()).unwrap_or(u32::MAX).to_le_bytes());
                out.extend_from_slice(&content);
            }
        }
        for (slot, content) in &self.cache.slots {
            out.push(slot.key_ref());
            match content {
                None => out.push(0),
                Some(c) => {
                    out.push(1);
                    out.extend_from_slice(&u32::try_from(c.certificate.len()).unwrap_or(u32::MAX).to_le_bytes());
                    out.extend_from_slice(&c.certificate);
                    // MSCUID names have at most 39 characters (see `objects::certificate_mscuid`).
                    let name = self.cache.mscuid.get(slot).map(String::as_bytes).unwrap_or_default();
                    let len = u8::try_from(name.len()).unwrap_or(0);
                    out.push(len);
                    out.extend_from_slice(name.get(..usize::from(len)).unwrap_or_default());
                }
            }
        }
        Ok(out)
    }

    /// Loads a snapshot taken under the card's current CHUID. Returns false (loading nothing)
    /// when it was taken under another CHUID or does not parse.
    ///
    /// # Errors
    /// Transport failures while reading the CHUID.
    pub fn import_contents(&mut self, snapshot: &[u8]) -> Result<bool> {
        let chuid = self.chuid_raw()?;
        let Some(parsed) = parse(snapshot, &chuid_digest(chuid.as_deref())) else { return Ok(false) };
        self.cache.key_history = Some(KeyHistory { on_card: parsed.on_card, off_card: 0 });
        if parsed.map.is_some() {
            self.cache.container_map = parsed.map;
        }
        for (slot, content, name) in parsed.slots {
            self.cache.slots.insert(slot, content);
            match name {
                Some(n) => self.cache.mscuid.insert(slot, n),
                None => self.cache.mscuid.remove(&slot),
            };
        }
        Ok(true)
    }
}

struct Parsed {
    on_card: u8,
    map: Option<Vec<super::yubico::MapRecord>>,
    slots: Vec<(Slot, Option<SlotContent>, Option<String>)>,
}

/// `len` (u32 LE) bytes from the front of `rest`.
fn sized(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, tail) = rest.split_at_checked(4)?;
    let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
    tail.split_at_checked(len)
}

fn parse(snapshot: &[u8], digest: &[u8; 32]) -> Option<Parsed> {
    let (&version, rest) = snapshot.split_first()?;
    if version != VERSION {
        return None;
    }
    let (stored, rest) = rest.split_at_checked(32)?;
    if stored != digest {
        return None;
    }
    let (&on_card, rest) = rest.split_first()?;
    let (&has_map, rest) = rest.split_first()?;
    let (map, mut rest) = match has_map {
        0 => (None, rest),
        1 => {
            let (content, tail) = sized(rest)?;
            (Some(super::yubico::parse_container_map(content).ok()?), tail)
        }
        _ => return None,
    };
    let mut slots = Vec::new();
    while let Some((&key_ref, tail)) = rest.split_first() {
        let slot = Slot::from_key_ref(key_ref)?;
        let (&present, tail) = tail.split_first()?;
        rest = match present {
            0 => {
                slots.push((slot, None, None));
                tail
            }
            1 => {
                let (cert, tail) = sized(tail)?;
                let public_key = PublicKey::from_certificate(cert).ok()?;
                let (&name_len, tail) = tail.split_first()?;
                let (name, tail) = tail.split_at_checked(usize::from(name_len))?;
                let name = (name_len > 0).then(|| String::from_utf8(name.to_vec()).ok()).flatten();
                slots.push((slot, Some(SlotContent { certificate: cert.to_vec(), public_key }), name));
                tail
            }
            _ => return None,
        };
    }
    Some(Parsed { on_card: on_card.min(20), map, slots })
}
