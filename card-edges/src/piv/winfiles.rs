//! The Base CSP files a PIV card has no standard object for, kept where Yubico's minidriver
//! keeps them (see [`super::yubico`]): the container map Windows writes during enrolment
//! (`mscp/cmapfile`: its container names and default flag) in `5FFF10`, and `mscp/msroots`
//! in `5FFF11`..`5FFF15`. A card without them keeps the names this edge derives.
//!
//! Reading costs nothing in a listing of a card that was never enrolled this way: the map is
//! read only when a certificate object carries a container name in its MSCUID (`72`, which
//! this edge writes with every certificate whose container the map names), so the listing's
//! certificate reads already say whether there is a map to read.

use sha1::{Digest, Sha1};
use vfs::cmapfile::{ContainerMap, FLAG_DEFAULT, FLAG_VALID};

use super::edge::{PivEdge, SlotContent};
use super::slot::Slot;
use super::yubico::{self, MapRecord};
use crate::error::{Error, Result};
use crate::key::{KeyAlgorithm, KeyRole};
use crate::transport::Transport;

/// `dwKeySpec` values of the Smart Card Minidriver Specification (`AT_KEYEXCHANGE` 1,
/// `AT_SIGNATURE` 2, `AT_ECDSA_P256` 3, `AT_ECDSA_P384` 4, `AT_ECDHE_P256` 6, `AT_ECDHE_P384`
/// 7), as the map records them.
fn key_spec(algorithm: KeyAlgorithm, role: KeyRole) -> u8 {
    match (algorithm, role) {
        (KeyAlgorithm::Rsa { .. }, KeyRole::Exchange) => 1,
        (KeyAlgorithm::Rsa { .. }, KeyRole::Signature) => 2,
        (KeyAlgorithm::P256, KeyRole::Signature) => 3,
        (KeyAlgorithm::P384, KeyRole::Signature) => 4,
        (KeyAlgorithm::P256, KeyRole::Exchange) => 6,
        (KeyAlgorithm::P384, KeyRole::Exchange) => 7,
    }
}

/// The minidriver's PIN for a slot's key (its PIN table: `ROLE_EVERYONE` 0 for 9E, the
/// PIN-always PIN 3 for 9C, `ROLE_USER` 1 otherwise).
fn pin_id(slot: Slot) -> u8 {
    if slot.pin_always() {
        3
    } else if slot.needs_pin() {
        1
    } else {
        0
    }
}

/// SHA-1 of a certificate, as the map records it (zeros: no certificate yet).
pub(crate) fn fingerprint(certificate: &[u8]) -> [u8; 20] {
    if certificate.is_empty() { [0; 20] } else { Sha1::digest(certificate).into() }
}

impl<T: Transport> PivEdge<T> {
    /// The container map's record for `slot` holding `content`, if the map (read or written
    /// this insertion) has a valid one whose certificate fingerprint fits (zeros fit any: the
    /// record was written before the certificate). A certificate another tool replaced makes
    /// the record stale, and it is not used.
    pub(crate) fn map_record(&self, slot: Slot, content: &SlotContent) -> Option<&MapRecord> {
        let fp = fingerprint(&content.certificate);
        self.cache.container_map.as_ref()?.iter().find(|r| {
            r.slot == slot.key_ref()
                && r.flags & FLAG_VALID != 0
                && !r.name.is_empty()
                && (r.cert_fingerprint == [0; 20] || r.cert_fingerprint == fp)
        })
    }

    /// Reads the container map when a listing's certificates say there is one (see the
    /// module documentation).
    pub(crate) fn resolve_container_map(&mut self, populated: &[(Slot, SlotContent)]) -> Result<()> {
        if self.cache.container_map.is_none() && populated.iter().any(|(s, _)| self.cache.mscuid.contains_key(s)) {
            self.read_container_map()?;
        }
        Ok(())
    }

    /// Yubico's container map (`5FFF10`), read once per insertion; a map that does not parse
    /// is ignored (with a warning), as an absent one.
    ///
    /// # Errors
    /// Transport failures.
    pub fn read_container_map(&mut self) -> Result<Vec<MapRecord>> {
        if let Some(m) = &self.cache.container_map {
            return Ok(m.clone());
        }
        let records = match self.get_data(yubico::tag::CONTAINER_MAP) {
            Ok(Some(rsp)) => match super::objects::unwrap_data(&rsp).and_then(yubico::parse_container_map) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "the container map (5FFF10) does not parse: names are derived");
                    Vec::new()
                }
            },
            Ok(None) | Err(Error::Status(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        self.cache.container_map = Some(records.clone());
        Ok(records)
    }

    /// Stores the `cmapfile` the CSP wrote as Yubico's container map: one record per valid
    /// container, with its slot's key spec, certificate fingerprint and PIN. A map equal to
    /// what the card already shows is not written.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a valid record at an index no PIV slot has;
    /// [`Error::SecurityStatusNotSatisfied`] without the management key (nothing is written).
    pub fn write_container_map(&mut self, map: &ContainerMap) -> Result<()> {
        let shown = self.cmapfile()?;
        if map.valid().eq(shown.valid()) {
            return Ok(());
        }
        let mut records = Vec::new();
        for (index, r) in map.valid() {
            let slot = Slot::from_container_index(index)
                .ok_or(Error::InvalidArgument("no PIV slot has this container index"))?;
            let content = self.slot_content_if_candidate(slot)?;
            let (spec, bits) = match &content {
                Some(c) => {
                    let alg = c.public_key.algorithm();
                    (key_spec(alg, slot.role_of(alg)), alg.bits())
                }
                None if r.key_exchange_key_size_bits() != 0 => (1, r.key_exchange_key_size_bits()),
                None => (2, r.sig_key_size_bits()),
            };
            records.push(MapRecord {
                name: r.name(),
                slot: slot.key_ref(),
                key_spec: spec,
                key_size_bits: bits,
                flags: r.flags() & (FLAG_VALID | FLAG_DEFAULT),
                pin_id: pin_id(slot),
                associated_ecdh: 0,
                cert_fingerprint: content.as_ref().map_or([0; 20], |c| fingerprint(&c.certificate)),
            });
        }
        let content = yubico::encode_container_map(&records)?;
        self.authenticate_admin_for_user()?;
        self.put_data(yubico::tag::CONTAINER_MAP, &content)?;
        self.cache.container_map = Some(records);
        Ok(())
    }

    /// Brings the map's record for `slot` up to date after its certificate changed (written:
    /// the new fingerprint; deleted: the record goes). Writes only when the map changes.
    pub(crate) fn update_map_for(&mut self, slot: Slot, certificate: Option<&[u8]>) -> Result<()> {
        let mut records = self.read_container_map()?;
        let before = records.clone();
        match certificate {
            Some(der) => {
                for r in records.iter_mut().filter(|r| r.slot == slot.key_ref()) {
                    r.cert_fingerprint = fingerprint(der);
                }
            }
            None => records.retain(|r| r.slot != slot.key_ref()),
        }
        if records != before {
            self.put_data(yubico::tag::CONTAINER_MAP, &yubico::encode_container_map(&records)?)?;
            self.cache.container_map = Some(records);
        }
        Ok(())
    }

    /// The container name the map gives `slot` now (to keep in its certificate's MSCUID).
    pub(crate) fn mapped_name(&self, slot: Slot) -> Option<String> {
        self.cache
            .container_map
            .as_ref()?
            .iter()
            .find(|r| r.slot == slot.key_ref() && r.flags & FLAG_VALID != 0 && !r.name.is_empty())
            .map(|r| r.name.clone())
    }

    /// `mscp/msroots` from `5FFF11`.., read once per insertion; `None` when absent (a first
    /// object missing or not a part, or parts without a last one).
    ///
    /// # Errors
    /// Transport failures.
    pub fn msroots(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(m) = &self.cache.msroots {
            return Ok(m.clone());
        }
        let mut data = Vec::new();
        let mut objects = 0;
        let mut complete = false;
        for tag in yubico::tag::MSROOTS_FIRST..=yubico::tag::MSROOTS_LAST {
            let rsp = match self.get_data(tag) {
                Ok(Some(rsp)) => rsp,
                Ok(None) | Err(Error::Status(_)) => break,
                Err(e) => return Err(e),
            };
            let Ok((part, last)) = super::objects::unwrap_data(&rsp).and_then(yubico::msroots_part) else {
                tracing::warn!(tag, "an msroots object is not a part of msroots: msroots is absent");
                break;
            };
            data.extend_from_slice(part);
            objects += 1;
            if last {
                complete = true;
                break;
            }
        }
        let value = complete.then_some(data);
        self.cache.msroots = Some(value.clone());
        self.cache.msroots_objects = objects;
        Ok(value)
    }

    /// Writes `mscp/msroots` into as many of `5FFF11`.. as it needs (and empties those a
    /// longer one used).
    ///
    /// # Errors
    /// [`Error::Vfs`] (out of space) beyond five objects; [`Error::SecurityStatusNotSatisfied`]
    /// without the management key.
    pub fn write_msroots(&mut self, data: &[u8]) -> Result<()> {
        let parts = yubico::split_msroots(data)?;
        self.msroots()?;
        self.authenticate_admin_for_user()?;
        for (tag, part) in (yubico::tag::MSROOTS_FIRST..).zip(&parts) {
            self.put_data(tag, part)?;
        }
        let used = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        for stale in used..self.cache.msroots_objects {
            self.put_data(yubico::tag::MSROOTS_FIRST + stale, &[])?;
        }
        self.cache.msroots = Some(Some(data.to_vec()));
        self.cache.msroots_objects = used;
        Ok(())
    }

    /// Deletes `mscp/msroots` (its objects).
    ///
    /// # Errors
    /// As [`PivEdge::write_msroots`].
    pub fn delete_msroots(&mut self) -> Result<()> {
        self.msroots()?;
        self.authenticate_admin_for_user()?;
        for i in 0..self.cache.msroots_objects.max(1) {
            self.put_data(yubico::tag::MSROOTS_FIRST + i, &[])?;
        }
        self.cache.msroots = Some(None);
        self.cache.msroots_objects = 0;
        Ok(())
    }
}
