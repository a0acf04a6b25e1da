//! What the edge read from a card, as bytes: the minidriver stores it in the Base CSP's cache
//! (`pfnCspCacheAddFile`) so that the next context on an unchanged card reads no certificate.
//!
//! Layout: `01` | digest of the CHUID (32) | key history on-card count | then per slot read:
//! key reference, `00` (empty) or `01` + certificate length (u32 LE) + certificate DER.
//! A snapshot is accepted only for the CHUID it was taken under, so it can never be stale
//! for a card whose content proof changed.

use sha2::{Digest, Sha256};

use super::edge::{PivEdge, SlotContent};
use super::objects::KeyHistory;
use super::slot::Slot;
use crate::error::Result;
use crate::key::PublicKey;
use crate::transport::Transport;

const VERSION: u8 = 1;

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
        self.populated_slots()?;
        let chuid = self.chuid_raw()?;
        let mut out = vec![VERSION];
        out.extend_from_slice(&chuid_digest(chuid.as_deref()));
        out.push(self.cache.key_history.map_or(0, |h| h.on_card));
        for (slot, content) in &self.cache.slots {
            out.push(slot.key_ref());
            match content {
                None => out.push(0),
                Some(c) => {
                    out.push(1);
                    out.extend_from_slice(&u32::try_from(c.certificate.len()).unwrap_or(u32::MAX).to_le_bytes());
                    out.extend_from_slice(&c.certificate);
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
        let Some((on_card, slots)) = parse(snapshot, &chuid_digest(chuid.as_deref())) else { return Ok(false) };
        self.cache.key_history = Some(KeyHistory { on_card, off_card: 0 });
        for (slot, content) in slots {
            self.cache.slots.insert(slot, content);
        }
        Ok(true)
    }
}

type Slots = Vec<(Slot, Option<SlotContent>)>;

fn parse(snapshot: &[u8], digest: &[u8; 32]) -> Option<(u8, Slots)> {
    let (&version, rest) = snapshot.split_first()?;
    if version != VERSION {
        return None;
    }
    let (stored, rest) = rest.split_at_checked(32)?;
    if stored != digest {
        return None;
    }
    let (&on_card, mut rest) = rest.split_first()?;
    let mut slots = Vec::new();
    while let Some((&key_ref, tail)) = rest.split_first() {
        let slot = Slot::from_key_ref(key_ref)?;
        let (&present, tail) = tail.split_first()?;
        rest = match present {
            0 => {
                slots.push((slot, None));
                tail
            }
            1 => {
                let (len, tail) = tail.split_at_checked(4)?;
                let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
                let (cert, tail) = tail.split_at_checked(len)?;
                let public_key = PublicKey::from_certificate(cert).ok()?;
                slots.push((slot, Some(SlotContent { certificate: cert.to_vec(), public_key })));
                tail
            }
            _ => return None,
        };
    }
    Some((on_card.min(20), slots))
}
