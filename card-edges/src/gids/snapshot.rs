//! What the edge read from a card, as bytes for the Base CSP's cache (`pfnCspCacheAddFile`):
//! the next context on an unchanged card then reads no master file, `cmapfile`, certificate or
//! public key.
//!
//! Layout (little-endian): `01` | `cardid` (16) | `cardcf` length (u8) and bytes | master file
//! length (u32) and bytes | object count (u16), each EF (u16), DO (u16), present (u8), length
//! (u32), bytes | key count (u16), each key reference (u8), present (u8), SPKI length (u32),
//! SPKI. A snapshot is accepted only for the card's current `cardid` and `cardcf`, so it can
//! never be stale for a card that changed.

use super::edge::GidsEdge;
use super::masterfile::MasterFile;
use crate::error::Result;
use crate::key::PublicKey;
use crate::transport::Transport;

const VERSION: u8 = 1;

/// A data object by (EF, DO), `None` when the card has none.
type Object = ((u16, u16), Option<Vec<u8>>);

/// A parsed snapshot.
struct Snapshot {
    card_id: [u8; 16],
    cardcf: Vec<u8>,
    master_file: MasterFile,
    objects: Vec<Object>,
    keys: Vec<(u8, Option<PublicKey>)>,
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl<T: Transport> GidsEdge<T> {
    /// Whether the containers are known without reading the card (read, or loaded from a
    /// snapshot).
    pub fn contents_known(&self) -> bool {
        self.cached_containers().is_some()
    }

    /// Reads the containers (at most once per insertion) and returns the snapshot.
    ///
    /// # Errors
    /// As [`GidsEdge::containers`].
    pub fn export_contents(&mut self) -> Result<Vec<u8>> {
        self.containers()?;
        let card_id = self.card_id()?;
        let cardcf = self.cardcf_bytes()?;
        let mf = self.master_file()?;
        let mut out = vec![VERSION];
        out.extend_from_slice(&card_id);
        out.push(u8::try_from(cardcf.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&cardcf);
        put_bytes(&mut out, &mf.encode());
        let files: Vec<(u16, u16)> =
            mf.records().iter().filter(|r| !r.is_directory()).map(|r| (r.file_id, r.data_object)).collect();
        let objects: Vec<_> = self.cache.objects.iter().filter(|(k, _)| files.contains(k)).collect();
        out.extend_from_slice(&u16::try_from(objects.len()).unwrap_or(0).to_le_bytes());
        for ((fi, tag), value) in objects {
            out.extend_from_slice(&fi.to_le_bytes());
            out.extend_from_slice(&tag.to_le_bytes());
            out.push(u8::from(value.is_some()));
            put_bytes(&mut out, value.as_deref().unwrap_or_default());
        }
        out.extend_from_slice(&u16::try_from(self.cache.public_keys.len()).unwrap_or(0).to_le_bytes());
        for (kref, key) in &self.cache.public_keys {
            out.push(*kref);
            out.push(u8::from(key.is_some()));
            put_bytes(&mut out, key.as_ref().map(|k| k.spki()).unwrap_or_default());
        }
        Ok(out)
    }

    /// Loads a snapshot taken under the card's current `cardid` and `cardcf`. Returns false
    /// (keeping nothing) when it was taken under others, does not parse, or does not describe
    /// every container.
    ///
    /// # Errors
    /// Transport failures while reading `cardcf` and `cardid`.
    pub fn import_contents(&mut self, snapshot: &[u8]) -> Result<bool> {
        let Some(s) = parse(snapshot) else { return Ok(false) };
        if s.card_id != self.card_id()? || self.cardcf_bytes().ok().as_deref() != Some(&s.cardcf[..]) {
            return Ok(false);
        }
        let before = self.cache.clone();
        self.cache.master_file = Some(s.master_file);
        self.cache.containers = None;
        for (k, v) in s.objects {
            self.cache.objects.insert(k, v);
        }
        for (k, v) in s.keys {
            self.cache.public_keys.insert(k, v);
        }
        match self.cached_containers() {
            Some(list) => {
                self.cache.containers = Some(list);
                Ok(true)
            }
            None => {
                self.cache = before;
                Ok(false)
            }
        }
    }

    /// The tag the minidriver stores the snapshot under: `gids-contents-<cardid hex>`.
    ///
    /// # Errors
    /// As [`GidsEdge::card_id`].
    pub fn contents_tag(&mut self) -> Result<String> {
        Ok(format!("gids-contents-{}", hex::encode(self.card_id()?)))
    }
}

/// A bounded reader over the snapshot.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(u32::from_le_bytes(self.take(4)?.try_into().ok()?)).ok()?;
        self.take(len)
    }
}

fn parse(snapshot: &[u8]) -> Option<Snapshot> {
    let mut r = Reader(snapshot);
    if r.u8()? != VERSION {
        return None;
    }
    let card_id: [u8; 16] = r.take(16)?.try_into().ok()?;
    let cf_len = usize::from(r.u8()?);
    let cardcf = r.take(cf_len)?.to_vec();
    let master_file = MasterFile::decode(r.bytes()?).ok()?;
    let mut objects = Vec::new();
    for _ in 0..r.u16()? {
        let key = (r.u16()?, r.u16()?);
        let present = r.u8()?;
        let value = r.bytes()?;
        objects.push((
            key,
            match present {
                0 => None,
                1 => Some(value.to_vec()),
                _ => return None,
            },
        ));
    }
    let mut keys = Vec::new();
    for _ in 0..r.u16()? {
        let kref = r.u8()?;
        let present = r.u8()?;
        let spki = r.bytes()?;
        keys.push((
            kref,
            match present {
                0 => None,
                1 => Some(PublicKey::from_spki(spki).ok()?),
                _ => return None,
            },
        ));
    }
    r.0.is_empty().then_some(Snapshot { card_id, cardcf, master_file, objects, keys })
}

#[cfg(test)]
mod tests {
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;

    fn cold(script: &Script) {
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010004009000");
        script.expect(t::MASTER_FILE_COMMAND, t::MASTER_FILE_RESPONSE);
        script.expect(t::CMAPFILE_COMMAND, t::CMAPFILE_RESPONSE);
        script.expect(t::CERTIFICATE_COMMAND, t::CERTIFICATE_RESPONSE_1);
        script.expect(t::CERTIFICATE_GET_RESPONSE_2, t::CERTIFICATE_RESPONSE_2);
        script.expect(t::CERTIFICATE_GET_RESPONSE_3, t::CERTIFICATE_RESPONSE_3);
        script.expect(t::CERTIFICATE_GET_RESPONSE_4, t::CERTIFICATE_RESPONSE_4);
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
    }

    #[test]
    fn snapshot_round_trip_saves_the_reads() {
        let (script, mut edge) = Script::edge();
        cold(&script);
        assert!(!edge.contents_known());
        let snapshot = edge.export_contents().unwrap();
        assert!(edge.contents_known());
        let listed = edge.containers().unwrap();
        assert_eq!(edge.contents_tag().unwrap(), format!("gids-contents-{}", hex::encode(t::cardid_value())));
        assert_eq!(script.done(), 9);

        // A new context on the unchanged card: cardcf and cardid only.
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010004009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        assert!(edge.import_contents(&snapshot).unwrap());
        assert!(edge.contents_known());
        assert_eq!(edge.containers().unwrap(), listed);
        assert_eq!(script.done(), 3);

        // A changed card refuses it.
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010005009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        assert!(!edge.import_contents(&snapshot).unwrap());
        assert!(!edge.contents_known());
        assert_eq!(script.done(), 3);

        // Garbage is refused without card I/O.
        for bad in [&snapshot[..snapshot.len() - 1], &[][..], &[2], &snapshot[..40]] {
            assert!(!edge.import_contents(bad).unwrap());
        }
        let mut longer = snapshot.clone();
        longer.push(0);
        assert!(!edge.import_contents(&longer).unwrap());
        assert_eq!(script.done(), 0);
    }
}
