//! Containers: what `mscp/cmapfile`, the master file, the certificate files and the key files
//! say together, and the metadata writes that keep `cmapfile` and the keymap in step.
//!
//! Container `i` is `cmapfile` record `i`, key reference `0x81 + i`, key file `B0(81+i)` and
//! keymap record `i`; its name is the record's (the CSP's GUID). A record with a key-exchange
//! size is an exchange key (it signs too), one with only a signature size a signature key; a
//! record with both sizes or neither is not a container (OpenSC's rule). The public key comes
//! from the certificate (`mscp/kxcNN` or `mscp/kscNN`) when there is one, else from the card.

use vfs::cmapfile::{ContainerMap, ContainerRecord, FLAG_DEFAULT, FLAG_VALID};
use vfs::well_known::{self, MSCP};

use super::certificate;
use super::edge::{Cache, Freshness, GidsEdge, KEYMAP};
use super::keyfile::{MAX_CONTAINERS, key_ref, rsa_key_type};
use super::keymap::{KeyMap, KeyMapRecord};
use super::masterfile::MasterFile;
use crate::error::{Error, Result};
use crate::key::{KeyRole, PublicKey};
use crate::transport::Transport;

/// One container as the CSP sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Index in `cmapfile`.
    pub index: u8,
    /// The container name (the `cmapfile` record's, usually a GUID string).
    pub name: String,
    /// How the key is presented.
    pub role: KeyRole,
    /// The key's public half.
    pub public_key: PublicKey,
    /// The certificate as plain DER, empty when there is none.
    pub certificate: Vec<u8>,
    /// Whether this is the default container.
    pub default: bool,
    /// The key reference (`0x81 + index`).
    pub key_ref: u8,
}

/// Where `mscp/cmapfile` lives.
pub(crate) fn cmapfile_location(mf: &MasterFile) -> Option<(u16, u16)> {
    mf.file(Some(&MSCP), &well_known::CMAPFILE).map(|r| (r.file_id, r.data_object))
}

/// Reads `cmapfile` bytes from the card.
pub(crate) fn decode_cmapfile(raw: &[u8]) -> Result<ContainerMap> {
    ContainerMap::decode(raw).map_err(|e| {
        tracing::debug!(target: "gids", error = %e, "cmapfile does not decode");
        Error::Malformed { what: "cmapfile breaks the CONTAINER_MAP_RECORD format" }
    })
}

/// The role and key size a `cmapfile` record describes, `None` when it is not a container.
pub(crate) fn record_key(record: &ContainerRecord) -> Option<(KeyRole, u16)> {
    match (record.sig_key_size_bits(), record.key_exchange_key_size_bits()) {
        (0, 0) => None,
        (0, kx) => Some((KeyRole::Exchange, kx)),
        (sig, 0) => Some((KeyRole::Signature, sig)),
        _ => None,
    }
}

/// What the listing still has to read.
enum Need {
    Object(u16, u16),
    PublicKey(u8),
}

/// Builds the containers from what is cached, or names the first missing piece.
fn build(cache: &Cache, mf: &MasterFile) -> Result<core::result::Result<Vec<Container>, Need>> {
    let Some(location) = cmapfile_location(mf) else { return Ok(Ok(Vec::new())) };
    let raw = match cache.objects.get(&location) {
        None => return Ok(Err(Need::Object(location.0, location.1))),
        Some(v) => v.as_deref().unwrap_or_default(),
    };
    let map = decode_cmapfile(raw)?;
    let mut out = Vec::new();
    for (i, record) in map.valid() {
        let Some((role, _)) = record_key(record) else { continue };
        let Some((index, kref)) = u8::try_from(i).ok().and_then(|x| key_ref(x).map(|k| (x, k))) else { break };
        let mut certificate = Vec::new();
        if let Some(r) = mf.file(Some(&MSCP), &well_known::cert_file_name(role.cert_kind(), index)) {
            match cache.objects.get(&(r.file_id, r.data_object)) {
                None => return Ok(Err(Need::Object(r.file_id, r.data_object))),
                Some(Some(stored)) if !stored.is_empty() => certificate = certificate::decode_stored(stored)?,
                Some(_) => {}
            }
        }
        let public_key = if certificate.is_empty() {
            match cache.public_keys.get(&kref) {
                None => return Ok(Err(Need::PublicKey(kref))),
                // The record describes a key the card does not have: not a container.
                Some(None) => continue,
                Some(Some(key)) => key.clone(),
            }
        } else {
            PublicKey::from_certificate(&certificate)?
        };
        out.push(Container {
            index,
            name: record.name(),
            role,
            public_key,
            certificate,
            default: record.is_default(),
            key_ref: kref,
        });
    }
    Ok(Ok(out))
}

/// A container name for a new key when the CSP reserved none: a GUID string (lower case, as
/// Windows writes them) derived from the public key, so it is unique per key and reproducible.
pub(crate) fn generated_name(spki: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::new().chain_update(b"gids container").chain_update(spki).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    // RFC 9562 version 4 and variant bits, as random GUIDs have.
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex::encode(b);
    let part = |r: core::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

/// The keymap record implied by `cmapfile` record `i` (to pad a lagging keymap).
fn implied_keymap_record(map: &ContainerMap, i: usize) -> KeyMapRecord {
    let key = map.get(i).filter(|r| r.is_valid()).and_then(record_key);
    let kref = u8::try_from(i).ok().and_then(key_ref);
    match (key, kref) {
        (Some((role, bits)), Some(kref)) => match rsa_key_type(bits) {
            Some(t) => KeyMapRecord::in_use(t, role, kref),
            None => KeyMapRecord::deleted(),
        },
        _ => KeyMapRecord::deleted(),
    }
}

/// `cmapfile` and the keymap, as read, with where `cmapfile` lives.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    pub(crate) location: (u16, u16),
    pub(crate) map: ContainerMap,
    pub(crate) keymap: KeyMap,
}

impl Metadata {
    /// Whether anything says container `index` holds a key.
    pub(crate) fn holds_key(&self, index: u8) -> bool {
        let i = usize::from(index);
        self.keymap.get(i).is_some_and(KeyMapRecord::is_in_use)
            || self.map.get(i).is_some_and(|r| r.is_valid() && record_key(r).is_some())
    }

    /// Pads the shorter of the two to the other's record count (OpenSC refuses key changes
    /// when they differ).
    fn align(&mut self) -> Result<()> {
        let map = self.map.clone();
        self.keymap.pad_to(map.len(), |i| implied_keymap_record(&map, i));
        while self.map.len() < self.keymap.len() {
            self.map.set(self.map.len(), ContainerRecord::empty()).map_err(|_| cmap_error())?;
        }
        Ok(())
    }
}

fn cmap_error() -> Error {
    Error::Malformed { what: "cmapfile breaks the CONTAINER_MAP_RECORD format" }
}

impl<T: Transport> GidsEdge<T> {
    /// Every container, in index order, read at most once per insertion.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a malformed master file, `cmapfile`, certificate or public
    /// key; transport failures.
    pub fn containers(&mut self) -> Result<Vec<Container>> {
        self.ensure_current()?;
        if let Some(c) = &self.cache.containers {
            return Ok(c.clone());
        }
        let mf = self.master_file()?;
        // Each round reads one missing piece: at most cmapfile, a certificate and a key per
        // container.
        for _ in 0..=2 * MAX_CONTAINERS + 1 {
            match build(&self.cache, &mf)? {
                Ok(list) => {
                    self.cache.containers = Some(list.clone());
                    return Ok(list);
                }
                Err(Need::Object(fi, tag)) => {
                    self.object(fi, tag)?;
                }
                Err(Need::PublicKey(kref)) => {
                    self.read_public_key(kref)?;
                }
            }
        }
        Err(Error::Malformed { what: "container listing does not converge" })
    }

    /// The container at `index`, `None` when it holds no key.
    ///
    /// # Errors
    /// As [`GidsEdge::containers`].
    pub fn container(&mut self, index: u8) -> Result<Option<Container>> {
        Ok(self.containers()?.into_iter().find(|c| c.index == index))
    }

    /// The containers if they can be built from what is cached, without card I/O.
    pub(crate) fn cached_containers(&self) -> Option<Vec<Container>> {
        if let Some(c) = &self.cache.containers {
            return Some(c.clone());
        }
        let mf = self.cache.master_file.as_ref()?;
        build(&self.cache, mf).ok()?.ok()
    }

    /// `cmapfile` and the keymap, read (once per insertion) before any change, so a malformed
    /// one stops a key change before it starts.
    pub(crate) fn metadata(&mut self) -> Result<Metadata> {
        let mf = self.master_file()?;
        let location =
            cmapfile_location(&mf).ok_or(Error::Malformed { what: "the master file has no mscp/cmapfile" })?;
        let raw = self.object(location.0, location.1)?.unwrap_or_default();
        let map = decode_cmapfile(&raw)?;
        let keymap = self.keymap()?;
        Ok(Metadata { location, map, keymap })
    }

    /// Records container `index`'s new key: keymap record in use, `cmapfile` record valid with
    /// the key's size (keeping the name the CSP reserved, else a new one; default when no
    /// other container is). The containers counter was bumped before the key file changed;
    /// the files counter is bumped before `cmapfile` is written.
    pub(crate) fn commit_container(
        &mut self,
        mut md: Metadata,
        index: u8,
        role: KeyRole,
        key: &PublicKey,
    ) -> Result<()> {
        let bits = key.algorithm().bits();
        let key_type = rsa_key_type(bits).ok_or(Error::Unsupported("GIDS RSA keys are 1024 to 4096 bits"))?;
        let kref = key_ref(index).ok_or(Error::NotFound("container index beyond the 126 GIDS key references"))?;
        let i = usize::from(index);
        let reserved = md.map.get(i).filter(|r| r.is_valid() && !r.name_utf16().is_empty()).cloned();
        let name: Vec<u16> = match &reserved {
            Some(r) => r.name_utf16().to_vec(),
            None => generated_name(key.spki()).encode_utf16().collect(),
        };
        let default =
            reserved.as_ref().is_some_and(ContainerRecord::is_default) || md.map.default_index().is_none_or(|d| d == i);
        let flags = if default { FLAG_VALID | FLAG_DEFAULT } else { FLAG_VALID };
        let (sig, kx) = match role {
            KeyRole::Signature => (bits, 0),
            KeyRole::Exchange => (0, bits),
        };
        let record = ContainerRecord::from_utf16(&name, flags, sig, kx).map_err(|_| cmap_error())?;
        md.map.set(i, record).map_err(|_| cmap_error())?;
        let map = md.map.clone();
        md.keymap.set(i, KeyMapRecord::in_use(key_type, role, kref), |j| implied_keymap_record(&map, j));
        md.align()?;
        self.store(KEYMAP, &md.keymap.encode())?;
        self.bump(Freshness::Files)?;
        self.store(md.location, &md.map.encode())?;
        self.cache.public_keys.insert(kref, Some(key.clone()));
        Ok(())
    }

    /// Records that container `index` no longer has a key. `delete_record` zeroes its
    /// `cmapfile` record (a deletion); otherwise the record keeps its name and flags with both
    /// sizes 0, so the CSP's reservation survives a failed key creation that replaced a key.
    ///
    /// The `cmapfile` record goes first, the keymap record after it: readers list containers
    /// from `cmapfile`, so a card left between the two writes (removed, reset) shows the
    /// container gone, with an unlisted keymap record that the next change of the container
    /// reuses, never a listed container whose key is gone.
    pub(crate) fn uncommit_container(&mut self, mut md: Metadata, index: u8, delete_record: bool) -> Result<()> {
        let i = usize::from(index);
        if let Some(record) = md.map.get(i).filter(|r| r.is_valid()).cloned() {
            let replacement = if delete_record {
                ContainerRecord::empty()
            } else {
                ContainerRecord::from_utf16(record.name_utf16(), record.flags(), 0, 0).map_err(|_| cmap_error())?
            };
            md.map.set(i, replacement).map_err(|_| cmap_error())?;
            md.align()?;
            self.bump(Freshness::Files)?;
            self.store(md.location, &md.map.encode())?;
        }
        if md.keymap.get(i).is_some_and(KeyMapRecord::is_in_use) {
            let map = md.map.clone();
            md.keymap.set(i, KeyMapRecord::deleted(), |j| implied_keymap_record(&map, j));
            md.align()?;
            self.store(KEYMAP, &md.keymap.encode())?;
        }
        if let Some(kref) = key_ref(index) {
            self.cache.public_keys.insert(kref, None);
        }
        Ok(())
    }

    /// Deletes container `index`'s `cmapfile` and keymap records and its key (its key file), as
    /// OpenSC does; the certificate file is the CSP's to delete (Smart Card Minidriver
    /// Specification v7, 4.6.2 CardDeleteContainer). Succeeds for an empty index.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the PIN; malformed metadata.
    pub fn delete_container(&mut self, index: u8) -> Result<()> {
        let Some(kref) = key_ref(index) else { return Ok(()) };
        let md = self.metadata()?;
        if !md.holds_key(index) && !self.key_file_exists(kref)? {
            return Ok(());
        }
        // Unlisted first, the key file last: an interruption in between leaves an unlisted
        // key file (reused or deleted by the next change), never a listed container without
        // its key.
        self.bump(Freshness::Containers)?;
        self.uncommit_container(md, index, true)?;
        self.delete_key_file(kref)?;
        Ok(())
    }

    /// Writes `der` as container `index`'s certificate file (compressed as the CSP does),
    /// creating the file when needed: the order OpenSC's `gids_save_certificate` uses.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an index without a key; [`Error::InvalidArgument`] for a
    /// certificate that does not parse or is for another key.
    pub fn write_certificate(&mut self, index: u8, der: &[u8]) -> Result<()> {
        use vfs::Storage;
        let container = self.container(index)?.ok_or(Error::NotFound("container"))?;
        let key = PublicKey::from_certificate(der).map_err(|_| Error::InvalidArgument("not an X.509 certificate"))?;
        if key != container.public_key {
            return Err(Error::InvalidArgument("the certificate is not for this container's key"));
        }
        let stored = certificate::compress(der)?;
        let path = well_known::cert_file_path(container.role.cert_kind(), index);
        if self.master_file()?.file(Some(&MSCP), &path.file).is_none() {
            self.create_file(&path, vfs::AccessCondition::EVERYONE_READ_USER_WRITE, 0)?;
        }
        self.write_file(&path, &stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;

    #[test]
    fn recorded_cmapfile_record() {
        let map = decode_cmapfile(&t::cmapfile_value()).unwrap();
        let r = map.get(0).unwrap();
        assert_eq!(r.name(), "GIDS RSA-2048");
        assert_eq!(r.flags(), 0x03);
        assert_eq!(r.key_exchange_key_size_bits(), 2048);
        assert_eq!(record_key(r), Some((KeyRole::Exchange, 2048)));
        assert!(matches!(decode_cmapfile(&[0; 85]), Err(Error::Malformed { .. })));
    }

    #[test]
    fn record_shapes() {
        let r = |sig, kx| ContainerRecord::new("c", FLAG_VALID, sig, kx).unwrap();
        assert_eq!(record_key(&r(1024, 0)), Some((KeyRole::Signature, 1024)));
        assert_eq!(record_key(&r(0, 0)), None);
        assert_eq!(record_key(&r(2048, 2048)), None);
    }

    #[test]
    fn generated_names_are_guids() {
        let name = generated_name(b"key");
        assert_eq!(name.len(), 36);
        assert_eq!(name.as_bytes()[14], b'4');
        assert_eq!(name, generated_name(b"key"));
        assert_ne!(name, generated_name(b"other key"));
    }

    /// The cold listing of the recorded card: SELECT, cardcf, cardid, master file, cmapfile
    /// and the certificate in four 61xx parts; nothing twice, and nothing on a second listing.
    #[test]
    fn cold_listing() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010004009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        script.expect(t::MASTER_FILE_COMMAND, t::MASTER_FILE_RESPONSE);
        script.expect(t::CMAPFILE_COMMAND, t::CMAPFILE_RESPONSE);
        script.expect(t::CERTIFICATE_COMMAND, t::CERTIFICATE_RESPONSE_1);
        script.expect(t::CERTIFICATE_GET_RESPONSE_2, t::CERTIFICATE_RESPONSE_2);
        script.expect(t::CERTIFICATE_GET_RESPONSE_3, t::CERTIFICATE_RESPONSE_3);
        script.expect(t::CERTIFICATE_GET_RESPONSE_4, t::CERTIFICATE_RESPONSE_4);
        assert_eq!(edge.cardcf().unwrap().files_freshness, 4);
        assert_eq!(edge.card_id().unwrap().to_vec(), t::cardid_value());
        let list = edge.containers().unwrap();
        assert_eq!(script.done(), 9);
        assert_eq!(list.len(), 1);
        let c = &list[0];
        assert_eq!((c.index, c.key_ref, c.role, c.default), (0, 0x81, KeyRole::Exchange, true));
        assert_eq!(c.name, "GIDS RSA-2048");
        assert_eq!(c.certificate, certificate::decompress(&t::certificate_value()).unwrap());
        let card_key = super::super::keyfile::parse_public_key(&t::public_key_response()).unwrap();
        assert_eq!(c.public_key, card_key);
        assert_eq!(edge.containers().unwrap(), list);
        assert_eq!(edge.container(0).unwrap().as_ref(), list.first());
        assert_eq!(edge.container(1).unwrap(), None);
        assert_eq!(script.done(), 0);
    }

    /// Without a certificate the public key comes from the key file (`7F49`, in two parts).
    #[test]
    fn listing_without_certificate_reads_the_key() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010002009000");
        script.expect(t::MASTER_FILE_COMMAND, t::INITIAL_MASTER_FILE_RESPONSE);
        script.expect(t::CMAPFILE_COMMAND, t::CMAPFILE_RESPONSE);
        script.expect(t::PUBLIC_KEY_COMMAND, t::PUBLIC_KEY_RESPONSE_1);
        script.expect(t::PUBLIC_KEY_GET_RESPONSE, t::PUBLIC_KEY_RESPONSE_2);
        let list = edge.containers().unwrap();
        assert_eq!(script.done(), 6);
        assert_eq!(list.len(), 1);
        assert!(list[0].certificate.is_empty());
        assert_eq!(list[0].public_key.algorithm(), crate::key::KeyAlgorithm::Rsa { bits: 2048 });
    }
}
