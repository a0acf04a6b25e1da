//! The Base CSP's logical file system on a PIV card (seed 003 over SP 800-73-4): nothing is
//! stored as files on a PIV card, so every file is derived from data objects.
//!
//! | file | derived from |
//! |---|---|
//! | `cardid` | CHUID GUID; else a digest of the FASC-N; else of the token serial; else of the certificates |
//! | `cardcf` | a digest of the CHUID plus this edge's own writes (see [`PivEdge::cardcf`]) |
//! | `cardapps` | `mscp` |
//! | `mscp/cmapfile` | one record per slot in the order 9A, 9C, 9D, 9E, 82..95; empty slots are zero records; written into Yubico's container map `5FFF10` |
//! | `mscp/kxcNN`, `kscNN` | the slot's certificate as plain DER (gzip undone) |
//! | `mscp/msroots` | Yubico's `5FFF11`..`5FFF15`, when present |
//!
//! Container names are those the CSP wrote (Yubico's container map, see [`super::winfiles`]);
//! else they follow Windows' own PIV driver (msclmd): the CHUID GUID as a GUID string whose last
//! 6 hex digits are the certificate's tag, e.g. `...5fc105` for 9A, so certificates propagated
//! under the inbox driver keep their container.

use sha2::{Digest, Sha256};
use vfs::cmapfile::{ContainerMap, ContainerRecord, FLAG_DEFAULT, FLAG_VALID};
use vfs::well_known;
use vfs::{AccessCondition, DirAccessCondition, FileInfo, FilePath, FreeSpace, Name, Storage};

use super::edge::{PivEdge, SlotContent};
use super::slot::Slot;
use crate::error::{Error, Result};
use crate::iso7816::Command;
use crate::key::KeyRole;
use crate::transport::Transport;

/// What the CSP wrote into `cardcf`, kept as offsets from the derived counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CardcfDelta {
    pins: u8,
    containers: u16,
    files: u16,
}

/// One container as the CSP sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Index in `cmapfile` (fixed per slot).
    pub index: usize,
    /// The key slot.
    pub slot: Slot,
    /// Container name (msclmd form).
    pub name: String,
    /// How the key is presented.
    pub role: KeyRole,
    /// The key and certificate (the certificate is empty for a key generated this insertion
    /// whose certificate is not written yet).
    pub content: SlotContent,
    /// Whether this is the default container.
    pub default: bool,
}

/// Formats `id` as a GUID string (Data1-3 little-endian) whose last 3 bytes are `tag`.
pub fn container_name(id: &[u8; 16], tag: u32) -> String {
    let [_, t0, t1, t2] = tag.to_be_bytes();
    let mut b = *id;
    b[13] = t0;
    b[14] = t1;
    b[15] = t2;
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

fn truncated_digest(label: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(label);
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    out
}

impl<T: Transport> PivEdge<T> {
    /// The 16-byte card identifier: the CHUID GUID when present and not zero; else a digest
    /// of the FASC-N; else of the token's serial number; else of its certificates. Never all
    /// zero, and two cards share it only if they share that source.
    ///
    /// # Errors
    /// Transport failures and malformed objects.
    pub fn card_id(&mut self) -> Result<[u8; 16]> {
        let chuid = self.chuid()?;
        if let Some(guid) = chuid.as_ref().and_then(|c| c.usable_guid()) {
            return Ok(guid);
        }
        if let Some(fasc_n) = chuid.as_ref().and_then(|c| c.usable_fasc_n()) {
            return Ok(truncated_digest(b"piv cardid fasc-n", &[fasc_n]));
        }
        // Vendor serial number (YubiKey and compatible tokens).
        let rsp = self.transmit(&Command::new(0x00, 0xF8, 0x00, 0x00).with_le(256))?;
        if rsp.sw.is_success() && !rsp.data.is_empty() {
            return Ok(truncated_digest(b"piv cardid serial", &[&rsp.data]));
        }
        let certs: Vec<Vec<u8>> = self.populated_slots()?.into_iter().map(|(_, c)| c.certificate).collect();
        let parts: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        Ok(truncated_digest(b"piv cardid certificates", &parts))
    }

    /// `cardcf`: a digest of the CHUID in the freshness counters, plus one step for every
    /// change this edge made. PIV has no content version; the CHUID is what issuers change
    /// when they change a card (and what Windows' own PIV driver caches on), so a card changed
    /// elsewhere shows a new `cardcf` as soon as its CHUID changes.
    ///
    /// # Errors
    /// Transport failures.
    ///
    /// The CHUID is re-read unless it was read since the last `cardcf` (the CSP reads `cardcf`
    /// at the start of each transaction, so this is once per transaction), and whatever the CSP
    /// wrote into `cardcf` is kept as offsets on top of the derived counters, so it reads back
    /// exactly while a changed CHUID still changes the result.
    ///
    /// # Errors
    /// Transport failures.
    pub fn cardcf(&mut self) -> Result<vfs::cardcf::CacheFile> {
        if !self.cache.chuid_fresh {
            self.revalidate()?;
        }
        self.cache.chuid_fresh = false;
        let mut cf = self.derived_cardcf()?;
        let d = self.cardcf_delta;
        cf.pins_freshness = cf.pins_freshness.wrapping_add(d.pins);
        cf.containers_freshness = cf.containers_freshness.wrapping_add(d.containers);
        cf.files_freshness = cf.files_freshness.wrapping_add(d.files);
        Ok(cf)
    }

    fn derived_cardcf(&mut self) -> Result<vfs::cardcf::CacheFile> {
        let chuid = self.chuid_raw()?.unwrap_or_default();
        let d = truncated_digest(b"piv cardcf", &[&chuid]);
        let word = |i: usize| u16::from_le_bytes([d.get(i).copied().unwrap_or(0), d.get(i + 1).copied().unwrap_or(0)]);
        Ok(vfs::cardcf::CacheFile {
            version: 0,
            pins_freshness: d.get(4).copied().unwrap_or(0),
            containers_freshness: word(0).wrapping_add(self.local_changes),
            files_freshness: word(2).wrapping_add(self.local_changes),
            app_freshness: Vec::new(),
        })
    }

    /// Records a `cardcf` the CSP wrote, as offsets from the derived counters.
    ///
    /// # Errors
    /// [`Error::Vfs`] (`Malformed`) for anything but a 6-byte cache file.
    pub fn write_cardcf(&mut self, bytes: &[u8]) -> Result<()> {
        let written = vfs::cardcf::CacheFile::decode(bytes)?;
        if !written.app_freshness.is_empty() {
            return Err(
                vfs::Error::Malformed { what: "cardcf", why: "application counters are not kept on PIV" }.into()
            );
        }
        let base = self.derived_cardcf()?;
        self.cardcf_delta = CardcfDelta {
            pins: written.pins_freshness.wrapping_sub(base.pins_freshness),
            containers: written.containers_freshness.wrapping_sub(base.containers_freshness),
            files: written.files_freshness.wrapping_sub(base.files_freshness),
        };
        Ok(())
    }

    /// Writes a new CHUID GUID (needs the management key): `cardid` becomes `guid`. The other
    /// CHUID elements are kept, except the issuer signature, which no longer covers the
    /// content and is left empty (as token management tools do when they set a CHUID).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the management key; malformed CHUID.
    pub fn set_card_id(&mut self, guid: [u8; 16]) -> Result<()> {
        use crate::iso7816::tlv::{self, Tag};
        let mut out = Vec::new();
        match self.chuid_raw()? {
            Some(current) => {
                let mut placed = false;
                for obj in tlv::Reader::new(&current) {
                    let obj = obj?;
                    match obj.tag.0 {
                        0x34 => {
                            tlv::write(&mut out, Tag(0x34), &guid)?;
                            placed = true;
                        }
                        0x35 | 0x3E | 0xFE if !placed => {
                            tlv::write(&mut out, Tag(0x34), &guid)?;
                            placed = true;
                            tlv::write(&mut out, obj.tag, if obj.tag.0 == 0x3E { &[] } else { obj.value })?;
                        }
                        0x3E => tlv::write(&mut out, obj.tag, &[])?,
                        _ => tlv::write(&mut out, obj.tag, obj.value)?,
                    }
                }
                if !placed {
                    tlv::write(&mut out, Tag(0x34), &guid)?;
                }
            }
            None => {
                // A CHUID of a non-federal issuer (FASC-N agency code 9999), no expiry worry.
                const FASC_N: [u8; 25] = [
                    0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08,
                    0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
                ];
                tlv::write(&mut out, Tag(0x30), &FASC_N)?;
                tlv::write(&mut out, Tag(0x34), &guid)?;
                tlv::write(&mut out, Tag(0x35), b"20991231")?;
                tlv::write(&mut out, Tag(0x3E), &[])?;
                tlv::write(&mut out, Tag(0xFE), &[])?;
            }
        }
        self.put_data(super::objects::tag::CHUID, &out)?;
        self.cache.chuid = Some(Some(out));
        Ok(())
    }

    /// Every container, in index order.
    ///
    /// # Errors
    /// Transport failures and malformed objects.
    pub fn containers(&mut self) -> Result<Vec<Container>> {
        let populated = self.populated_slots()?;
        if populated.is_empty() {
            return Ok(Vec::new());
        }
        // Names and the default flag the CSP wrote (Yubico's container map, the certificates'
        // MSCUID) come first; the rest is derived, on the card identifier (the CHUID GUID when
        // there is one).
        self.resolve_container_map(&populated)?;
        let id = self.card_id()?;
        let mapped_default = populated
            .iter()
            .find(|(s, c)| self.map_record(*s, c).is_some_and(|r| r.flags & FLAG_DEFAULT != 0))
            .map(|(s, _)| *s);
        let default_slot = mapped_default.or_else(|| {
            populated.iter().find(|(s, _)| *s == Slot::AUTHENTICATION).or_else(|| populated.first()).map(|(s, _)| *s)
        });
        Ok(populated
            .into_iter()
            .map(|(slot, content)| {
                let name = match self.map_record(slot, &content) {
                    Some(r) => r.name.clone(),
                    None => self
                        .cache
                        .mscuid
                        .get(&slot)
                        .cloned()
                        .unwrap_or_else(|| container_name(&id, slot.certificate_tag())),
                };
                Container {
                    index: slot.container_index(),
                    slot,
                    name,
                    role: slot.role_of(content.public_key.algorithm()),
                    default: Some(slot) == default_slot,
                    content,
                }
            })
            .collect())
    }

    /// The container at `index`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the index holds no key.
    pub fn container(&mut self, index: usize) -> Result<Container> {
        let slot = Slot::from_container_index(index).ok_or(Error::NotFound("container"))?;
        if !self.candidate_slots()?.contains(&slot) && !self.cache.pending.contains_key(&slot) {
            return Err(Error::NotFound("container"));
        }
        self.containers()?.into_iter().find(|c| c.index == index).ok_or(Error::NotFound("container"))
    }

    /// `mscp/cmapfile`: records up to the last populated index.
    ///
    /// # Errors
    /// Transport failures and malformed objects.
    pub fn cmapfile(&mut self) -> Result<ContainerMap> {
        let mut map = ContainerMap::default();
        for c in self.containers()? {
            let bits = c.content.public_key.algorithm().bits();
            let (sig, kx) = match c.role {
                KeyRole::Signature => (bits, 0),
                KeyRole::Exchange => (0, bits),
            };
            let flags = if c.default { FLAG_VALID | FLAG_DEFAULT } else { FLAG_VALID };
            let record = ContainerRecord::new(&c.name, flags, sig, kx)?;
            map.set(c.index, record)?;
        }
        Ok(map)
    }

    fn cert_file(&mut self, name: &Name) -> Result<Option<(Slot, KeyRole)>> {
        let Some((kind, index)) = well_known::parse_cert_file_name(name) else { return Ok(None) };
        let Some(slot) = Slot::from_container_index(usize::from(index)) else { return Ok(None) };
        let Some(content) = self.slot_content_if_candidate(slot)? else { return Ok(None) };
        let role = slot.role_of(content.public_key.algorithm());
        Ok((role.cert_kind() == kind && !content.certificate.is_empty()).then_some((slot, role)))
    }

    pub(crate) fn slot_content_if_candidate(&mut self, slot: Slot) -> Result<Option<SlotContent>> {
        if self.candidate_slots()?.contains(&slot) || self.cache.pending.contains_key(&slot) {
            self.slot_content(slot)
        } else {
            Ok(None)
        }
    }

    fn file_content(&mut self, path: &FilePath) -> Result<Vec<u8>> {
        match (&path.dir, path.file) {
            (None, f) if f == well_known::CARDID => Ok(self.card_id()?.to_vec()),
            (None, f) if f == well_known::CARDCF => Ok(self.cardcf()?.encode()),
            (None, f) if f == well_known::CARDAPPS => Ok(vfs::cardapps::CardApps::with_mscp().encode()),
            (None, _) => Err(vfs::Error::FileNotFound.into()),
            (Some(d), f) if *d == well_known::MSCP => {
                if f == well_known::CMAPFILE {
                    return Ok(self.cmapfile()?.encode());
                }
                if f == well_known::MSROOTS {
                    return self.msroots()?.ok_or_else(|| vfs::Error::FileNotFound.into());
                }
                match self.cert_file(&f)? {
                    Some((slot, _)) => {
                        Ok(self.slot_content(slot)?.map(|c| c.certificate).ok_or(vfs::Error::FileNotFound)?)
                    }
                    None => Err(vfs::Error::FileNotFound.into()),
                }
            }
            (Some(_), _) => Err(vfs::Error::DirNotFound.into()),
        }
    }

    fn check_dir(dir: Option<&Name>) -> Result<()> {
        match dir {
            None => Ok(()),
            Some(d) if *d == well_known::MSCP => Ok(()),
            Some(_) => Err(vfs::Error::DirNotFound.into()),
        }
    }

    /// The slot whose certificate `path` is, when the card can write it now: a key is there
    /// of the file's kind, and the management key is authenticated or the user may have it.
    fn writable_cert_slot(&mut self, path: &FilePath) -> Option<Slot> {
        if path.dir != Some(well_known::MSCP) {
            return None;
        }
        let (kind, index) = well_known::parse_cert_file_name(&path.file)?;
        let slot = Slot::from_container_index(usize::from(index))?;
        let content = self.slot_content(slot).ok()??;
        (slot.role_of(content.public_key.algorithm()).cert_kind() == kind && self.can_write_objects()).then_some(slot)
    }

    /// Whether `path` is one of the files kept in Yubico's objects (`cmapfile`, `msroots`).
    fn is_vendor_file(path: &FilePath) -> bool {
        *path == well_known::CMAPFILE_PATH || *path == well_known::MSROOTS_PATH
    }
}

impl<T: Transport> Storage for PivEdge<T> {
    type Error = Error;

    fn read_file(&mut self, path: &FilePath) -> Result<Vec<u8>> {
        self.file_content(path)
    }

    fn write_file(&mut self, path: &FilePath, data: &[u8]) -> Result<()> {
        if *path == well_known::CARDCF_PATH {
            return self.write_cardcf(data);
        }
        if *path == well_known::CARDID_PATH && self.auth.admin {
            let guid: [u8; 16] = data.try_into().map_err(|_| Error::InvalidArgument("cardid is 16 bytes"))?;
            return self.set_card_id(guid);
        }
        if *path == well_known::CMAPFILE_PATH && self.can_write_objects() {
            return self.write_container_map(&ContainerMap::decode(data)?);
        }
        if *path == well_known::MSROOTS_PATH && self.can_write_objects() {
            return self.write_msroots(data);
        }
        match self.writable_cert_slot(path) {
            Some(slot) => self.write_certificate(slot, data),
            None => Err(vfs::Error::ReadOnly.into()),
        }
    }

    fn create_file(&mut self, path: &FilePath, _ac: AccessCondition, _initial_size: u32) -> Result<()> {
        if self.file_content(path).is_ok() {
            return Err(vfs::Error::FileExists.into());
        }
        // msroots exists once created (its objects once written).
        if *path == well_known::MSROOTS_PATH && self.can_write_objects() {
            self.cache.msroots = Some(Some(Vec::new()));
            return Ok(());
        }
        // A PIV certificate "file" exists once written; creating it is accepted for a slot
        // holding a key (the CSP creates, then writes, after generating a key).
        match self.writable_cert_slot(path) {
            Some(_) => Ok(()),
            None => Err(vfs::Error::ReadOnly.into()),
        }
    }

    fn delete_file(&mut self, path: &FilePath) -> Result<()> {
        self.file_content(path)?;
        if *path == well_known::MSROOTS_PATH && self.can_write_objects() {
            return self.delete_msroots();
        }
        match self.writable_cert_slot(path) {
            Some(slot) => self.delete_certificate(slot),
            None => Err(vfs::Error::ReadOnly.into()),
        }
    }

    fn create_dir(&mut self, name: &Name, _ac: DirAccessCondition) -> Result<()> {
        if *name == well_known::MSCP {
            return Err(vfs::Error::FileExists.into());
        }
        Err(vfs::Error::ReadOnly.into())
    }

    fn delete_dir(&mut self, name: &Name) -> Result<()> {
        Self::check_dir(Some(name))?;
        Err(vfs::Error::ReadOnly.into())
    }

    fn list(&mut self, dir: Option<&Name>) -> Result<Vec<Name>> {
        Self::check_dir(dir)?;
        if dir.is_none() {
            return Ok(vec![well_known::CARDAPPS, well_known::CARDCF, well_known::CARDID]);
        }
        let mut names = vec![well_known::CMAPFILE];
        // msroots is listed once this insertion read or wrote it: learning that the card has
        // it costs a read, which a listing does not spend (the CSP reads it by name).
        if matches!(self.cache.msroots, Some(Some(_))) {
            names.push(well_known::MSROOTS);
        }
        for c in self.containers()? {
            if !c.content.certificate.is_empty() {
                let index = u8::try_from(c.index).map_err(|_| Error::Malformed { what: "container index" })?;
                names.push(well_known::cert_file_name(c.role.cert_kind(), index));
            }
        }
        Ok(names)
    }

    fn list_dirs(&mut self) -> Result<Vec<Name>> {
        Ok(vec![well_known::MSCP])
    }

    fn file_info(&mut self, path: &FilePath) -> Result<FileInfo> {
        let access_condition = self.access_condition(path)?;
        let size = u32::try_from(self.file_content(path)?.len()).map_err(|_| Error::Malformed { what: "file size" })?;
        Ok(FileInfo { size, access_condition })
    }

    fn access_condition(&mut self, path: &FilePath) -> Result<AccessCondition> {
        Self::check_dir(path.dir.as_ref())?;
        well_known::default_access_condition(path).ok_or_else(|| vfs::Error::FileNotFound.into())
    }

    fn dir_access_condition(&mut self, name: &Name) -> Result<DirAccessCondition> {
        Self::check_dir(Some(name))?;
        Ok(well_known::MSCP_DIR_ACCESS_CONDITION)
    }

    fn free_space(&mut self) -> Result<FreeSpace> {
        let populated: Vec<Slot> = self.populated_slots()?.into_iter().map(|(s, _)| s).collect();
        let free = Slot::all().filter(|s| !populated.contains(s)).count();
        Ok(FreeSpace {
            bytes_available: None,
            containers_available: u32::try_from(free).ok(),
            max_containers: u32::try_from(Slot::all().count()).ok(),
        })
    }

    fn can_write(&mut self, path: &FilePath) -> bool {
        *path == well_known::CARDCF_PATH
            || (*path == well_known::CARDID_PATH && self.auth.admin)
            || (Self::is_vendor_file(path) && self.can_write_objects())
            || self.writable_cert_slot(path).is_some()
    }

    fn can_write_dir(&mut self, _name: &Name) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn msclmd_container_names() {
        // PIVKey token from research/piv.md §2.3: GUID A258ABAA928AE04D81D800F55D072F63, 9E.
        let id = hex!("A258ABAA928AE04D81D800F55D072F63");
        assert_eq!(
            container_name(&id, Slot::CARD_AUTHENTICATION.certificate_tag()),
            "aaab58a2-8a92-4de0-81d8-00f55d5fc101"
        );
        assert!(container_name(&id, 0x5FC105).ends_with("5fc105"));
    }
}
