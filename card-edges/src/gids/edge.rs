//! The GIDS edge: one card, its APDU session, what has been read from it, who is
//! authenticated, and the `cardcf` freshness rules.
//!
//! Every data object read is cached for the card insertion. The cache is trusted as long as
//! `cardcf` (A010/DF22) reads back as this edge last saw it: another program that changes the
//! card bumps it (the Base CSP, OpenSC and this edge all do), and a changed `cardcf` drops
//! everything read.
//!
//! **Transactions.** `cardcf` is compared with the card at most once per transaction, before
//! the first cached answer of that transaction; `cardid` is read at most once per insertion
//! (again after a foreign change). A transaction begins with [`GidsEdge::begin_transaction`],
//! which the minidriver calls when the Base CSP enters the card; for callers that do not, a
//! second read of the `cardcf` file also begins one (the CSP reads `cardcf` once when it
//! begins each transaction).
//!
//! **Freshness counters.** Before each change the edge bumps the `cardcf` counter that covers
//! it, as OpenSC does: files for a file created, written or deleted, containers for a key
//! created or deleted. The Base CSP bumps them itself before its own changes (Smart Card
//! Minidriver Specification v7, 5.4.3 and 7.5) by writing `cardcf`; a counter it advanced in
//! the current transaction covers the next change of that kind, so the edge does not bump a
//! second time and the CSP's own cache stays valid.

use std::collections::BTreeMap;

use vfs::cardcf::CacheFile;
use zeroize::Zeroizing;

use super::containers::Container;
use super::keymap::KeyMap;
use super::masterfile::MasterFile;
use crate::detect::GIDS_AID;
use crate::error::{Error, Result, TransportError};
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Command, Limits, Response, Session, Status, StatusWord, apdu::ins};
use crate::key::PublicKey;
use crate::transport::Transport;

/// EF and DO of `cardid`.
pub(crate) const CARDID: (u16, u16) = (0xA012, 0xDF20);
/// EF and DO of `cardcf`.
pub(crate) const CARDCF: (u16, u16) = (0xA010, 0xDF22);
/// EF and DO of the master file.
pub(crate) const MASTER_FILE: (u16, u16) = (0xA000, 0xDF1F);
/// EF and DO of the keymap.
pub(crate) const KEYMAP: (u16, u16) = (0xA000, 0xDF20);
/// P1-P2 of GET DATA / PUT DATA for the application's own objects (PIN status, keys).
pub(crate) const APPLICATION: u16 = 0x3FFF;
/// Largest data object GIDS cards store (OpenSC's `MAX_GIDS_FILE_SIZE`).
pub(crate) const MAX_OBJECT_LEN: usize = 65_000;
/// Command data per APDU the Microsoft TPM virtual smart card accepts (OpenSC issue #1866).
const VSC_MAX_COMMAND_DATA: usize = 240;

/// Who the card has authenticated, as far as this edge has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthState {
    /// The user PIN (`80`) was verified.
    pub user: bool,
    /// The administrator key (`80`, external or mutual authentication) was authenticated.
    pub admin: bool,
}

/// A PIN's retry counter, from GET DATA `7F71` (PIN) or `7F73` (PUK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinStatus {
    /// Tries left (tag `97`).
    pub tries_left: u8,
    /// Tries allowed (tag `93`).
    pub try_limit: u8,
}

/// How the GIDS application is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Application {
    /// SELECT by this DF name.
    Aid(Vec<u8>),
    /// The card's current application, never selected by name (the class minidriver marks a
    /// card GIDS when the GIDS AID is not found).
    Implicit,
}

/// What has been read from the card in this insertion.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cache {
    pub(crate) card_id: Option<[u8; 16]>,
    pub(crate) master_file: Option<MasterFile>,
    pub(crate) keymap: Option<KeyMap>,
    /// Data object values by (EF, DO); `None` when the card has no such object.
    pub(crate) objects: BTreeMap<(u16, u16), Option<Vec<u8>>>,
    /// Public keys read from key files, by key reference; `None` when the key file has none.
    pub(crate) public_keys: BTreeMap<u8, Option<PublicKey>>,
    /// The containers built from the above.
    pub(crate) containers: Option<Vec<Container>>,
}

/// The freshness state of the current transaction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Transaction {
    /// `cardcf` was compared with the card.
    pub(crate) checked: bool,
    /// The `cardcf` file was read (by the CSP).
    pub(crate) served: bool,
    /// The CSP bumped the files counter and no file change has used it yet.
    pub(crate) files_credit: bool,
    /// The CSP bumped the containers counter and no container change has used it yet.
    pub(crate) containers_credit: bool,
}

/// Which `cardcf` counter a change needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// `wContainersFreshness`: a container was created or deleted.
    Containers,
    /// `wFilesFreshness`: a file was created, written or deleted.
    Files,
}

/// What answered [`GidsEdge::probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A GIDS application with a `cardcf`.
    Provisioned,
    /// A GIDS application with nothing provisioned yet (`6A 82`, `6A 88`, `69 85`).
    Unprovisioned,
    /// Something else: another application, nothing selected, a malformed answer.
    Foreign,
}

/// The GIDS card edge over a transport.
pub struct GidsEdge<T> {
    pub(crate) session: Session<T>,
    application: Application,
    pub(crate) selected: bool,
    pub(crate) cache: Cache,
    /// `cardcf` as last read or written: `None` unknown, `Some(None)` absent from the card.
    pub(crate) cardcf: Option<Option<Vec<u8>>>,
    pub(crate) txn: Transaction,
    pub(crate) auth: AuthState,
    /// An external-authentication challenge handed out and not yet answered.
    pub(crate) pending_challenge: Option<Zeroizing<Vec<u8>>>,
    /// Whether the card has a PUK (`7F73` answered), once asked.
    pub(crate) puk_present: Option<bool>,
}

impl<T> core::fmt::Debug for GidsEdge<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GidsEdge")
            .field("implicit", &(self.application == Application::Implicit))
            .field("selected", &self.selected)
            .field("auth", &self.auth)
            .field("challenge_pending", &self.pending_challenge.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Transport> GidsEdge<T> {
    fn with_application(session: Session<T>, application: Application, selected: bool) -> Self {
        Self {
            session,
            application,
            selected,
            cache: Cache::default(),
            cardcf: None,
            txn: Transaction::default(),
            auth: AuthState::default(),
            pending_challenge: None,
            puk_present: None,
        }
    }

    /// An edge that selects the Microsoft GIDS AID on first use; sends nothing now.
    pub fn new(session: Session<T>) -> Self {
        Self::with_application(session, Application::Aid(GIDS_AID.to_vec()), false)
    }

    /// An edge for a vendor's own GIDS AID.
    pub fn with_aid(session: Session<T>, aid: Vec<u8>) -> Self {
        Self::with_application(session, Application::Aid(aid), false)
    }

    /// An edge whose application detection already selected (with the GIDS AID); `fci` is the
    /// SELECT's response data (possibly empty).
    pub fn selected(session: Session<T>, fci: &[u8]) -> Self {
        let mut edge = Self::with_application(session, Application::Aid(GIDS_AID.to_vec()), true);
        edge.note_fci(fci);
        edge
    }

    /// As [`GidsEdge::selected`] for a vendor's own GIDS AID (selected again by that AID after a
    /// reset).
    pub fn selected_with_aid(session: Session<T>, aid: Vec<u8>, fci: &[u8]) -> Self {
        let mut edge = Self::with_application(session, Application::Aid(aid), true);
        edge.note_fci(fci);
        edge
    }

    /// Asks the application answering now for its `cardcf`, with no SELECT before or after:
    /// for a caller that knows this card's kind (an ATR seen before) or that found no
    /// selectable AID. A provisioned GIDS application answers it, and the read is this
    /// transaction's freshness check, so the CSP's own read of `cardcf` that follows costs
    /// nothing.
    ///
    /// # Errors
    /// Transport failures.
    pub fn probe(&mut self) -> Result<Probe> {
        let [f0, f1] = CARDCF.0.to_be_bytes();
        let [t0, t1] = CARDCF.1.to_be_bytes();
        let cmd = Command::new(0x00, ins::GET_DATA_ODD, f0, f1).with_data(vec![0x5C, 0x02, t0, t1]).with_le(256);
        let rsp = self.raw_transmit(&cmd)?;
        match rsp.sw.status() {
            Status::Success => {}
            // GIDS's own answers for an absent EF or data object, or one not yet activated:
            // a GIDS application that nothing provisioned yet.
            Status::NotFound | Status::ReferenceNotFound => return Ok(Probe::Unprovisioned),
            _ if rsp.sw.0 == 0x6985 => return Ok(Probe::Unprovisioned),
            _ => return Ok(Probe::Foreign),
        }
        let Ok(Some(value)) = tlv::Reader::new(&rsp.data).find(Tag(u32::from(CARDCF.1))) else {
            return Ok(Probe::Foreign);
        };
        if CacheFile::decode(value).is_err() {
            return Ok(Probe::Foreign);
        }
        self.cardcf = Some(Some(value.to_vec()));
        self.txn.checked = true;
        Ok(Probe::Provisioned)
    }

    /// An edge for a card the class minidriver marked GIDS although the GIDS AID was not found:
    /// the application is the card's current (default) one and is never selected by AID.
    pub fn implicit(session: Session<T>) -> Self {
        Self::with_application(session, Application::Implicit, true)
    }

    /// The APDU session (for its counters and limits).
    pub fn session(&self) -> &Session<T> {
        &self.session
    }

    /// The APDU session, mutably.
    pub fn session_mut(&mut self) -> &mut Session<T> {
        &mut self.session
    }

    /// Gives the session back.
    pub fn into_session(self) -> Session<T> {
        self.session
    }

    /// Who is authenticated.
    pub fn auth_state(&self) -> AuthState {
        self.auth
    }

    /// Forgets everything learned from the card (reset, removal, another card behind the
    /// handle); authentication is gone with it.
    pub fn forget(&mut self) {
        self.selected = self.application == Application::Implicit;
        self.cache = Cache::default();
        self.cardcf = None;
        self.txn = Transaction::default();
        self.auth = AuthState::default();
        self.pending_challenge = None;
        self.puk_present = None;
    }

    /// Begins a transaction: the next cached answer first compares `cardcf` with the card.
    pub fn begin_transaction(&mut self) {
        self.txn = Transaction::default();
    }

    /// SELECTs the GIDS application unless it is selected since the last reset (never for an
    /// implicit application).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the card has no such application; transport failures.
    pub fn select(&mut self) -> Result<()> {
        if self.selected {
            return Ok(());
        }
        let Application::Aid(aid) = &self.application else {
            self.selected = true;
            return Ok(());
        };
        // Le 00: the FCI comes back, as OpenSC and msclmd ask for it.
        let cmd = Command::new(0x00, ins::SELECT, 0x04, 0x00).with_data(aid.clone()).with_le(256);
        let rsp = self.raw_transmit(&cmd)?;
        if !rsp.sw.is_success() {
            return Err(match rsp.sw.status() {
                Status::NotFound => Error::NotFound("GIDS application"),
                _ => Error::Status(rsp.sw),
            });
        }
        // A new selection starts a new security state on the card.
        self.auth = AuthState::default();
        self.note_fci(&rsp.data);
        self.selected = true;
        Ok(())
    }

    /// Learns what the FCI tells: the Microsoft TPM virtual smart card (AID version byte 04)
    /// takes at most 240 command bytes per APDU.
    fn note_fci(&mut self, fci: &[u8]) {
        let aid = tlv::find(fci, &[Tag(0x61), Tag(0x4F)]).ok().flatten();
        if aid.and_then(|a| a.get(9)) == Some(&0x04) {
            let limits = self.session.limits();
            if !limits.extended && limits.max_command_data > VSC_MAX_COMMAND_DATA {
                self.session.set_limits(Limits { max_command_data: VSC_MAX_COMMAND_DATA, ..limits });
            }
        }
    }

    /// Sends `cmd` to the selected application. Any command drops a pending challenge.
    pub(crate) fn transmit(&mut self, cmd: &Command) -> Result<Response> {
        self.pending_challenge = None;
        self.transmit_in_exchange(cmd)
    }

    /// Sends `cmd` without dropping a pending challenge (for the challenge's answer). A
    /// foreign application's "unknown instruction or class" means someone selected it behind
    /// this edge's back, and "command not allowed (no current EF)" that nothing is selected:
    /// the GIDS application is selected again, once.
    pub(crate) fn transmit_in_exchange(&mut self, cmd: &Command) -> Result<Response> {
        self.select()?;
        let rsp = self.raw_transmit(cmd)?;
        // `6986` (no current file): nothing is selected, as after a reset the host was not told of.
        if matches!(rsp.sw.0, 0x6D00 | 0x6E00 | 0x6986) && self.application != Application::Implicit {
            self.selected = false;
            self.select()?;
            return self.raw_transmit(cmd);
        }
        Ok(rsp)
    }

    fn raw_transmit(&mut self, cmd: &Command) -> Result<Response> {
        match self.session.transmit(cmd) {
            Err(Error::Transport(
                t @ (TransportError::ResetCard | TransportError::RemovedCard | TransportError::NoSmartcard),
            )) => {
                self.forget();
                Err(Error::Transport(t))
            }
            other => other,
        }
    }

    /// Sends `cmd` and requires `90 00`.
    pub(crate) fn command(&mut self, cmd: &Command) -> Result<Vec<u8>> {
        let rsp = self.transmit(cmd)?;
        if rsp.sw.is_success() { Ok(rsp.data) } else { Err(status_error(rsp.sw)) }
    }

    /// GET DATA of data object `tag` in EF `fi` (`00 CB fi 04 5C 02 tag 00`): its value (the
    /// card answers the whole TLV), `None` when the object does not exist (`6A 88`). Not cached.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the EF does not exist (`6A 82`);
    /// [`Error::SecurityStatusNotSatisfied`] when the EF may not be read now; [`Error::Malformed`]
    /// for an answer without the object.
    pub fn get_data(&mut self, fi: u16, tag: u16) -> Result<Option<Vec<u8>>> {
        let [f0, f1] = fi.to_be_bytes();
        let [t0, t1] = tag.to_be_bytes();
        let cmd = Command::new(0x00, ins::GET_DATA_ODD, f0, f1).with_data(vec![0x5C, 0x02, t0, t1]).with_le(256);
        let rsp = self.transmit(&cmd)?;
        match rsp.sw.status() {
            Status::Success => {
                let value = tlv::Reader::new(&rsp.data)
                    .find(Tag(u32::from(tag)))?
                    .ok_or(Error::Malformed { what: "GET DATA answer without the data object asked for" })?;
                Ok(Some(value.to_vec()))
            }
            Status::ReferenceNotFound => Ok(None),
            _ => Err(status_error(rsp.sw)),
        }
    }

    /// PUT DATA of data object `tag` in EF `fi`, replacing it (an empty `value` empties it),
    /// command-chained in the parts the session allows. What is cached is updated; no
    /// freshness counter is bumped (the file system operations do that).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] (`69 82`) when the EF may not be written now;
    /// `OutOfSpace` (`6A 84`, or a value above 65000 bytes).
    pub fn put_data(&mut self, fi: u16, tag: u16, value: &[u8]) -> Result<()> {
        if value.len() > MAX_OBJECT_LEN {
            return Err(vfs::Error::OutOfSpace.into());
        }
        let mut data = Vec::with_capacity(value.len() + 6);
        tlv::write(&mut data, Tag(u32::from(tag)), value)?;
        let [f0, f1] = fi.to_be_bytes();
        self.command(&Command::new(0x00, ins::PUT_DATA_ODD, f0, f1).with_data(data))?;
        self.note_written(fi, tag, value);
        Ok(())
    }

    /// Updates what is cached after `value` was written to (`fi`, `tag`).
    fn note_written(&mut self, fi: u16, tag: u16, value: &[u8]) {
        if (fi, tag) != CARDCF {
            self.cache.containers = None;
        }
        match (fi, tag) {
            MASTER_FILE => self.cache.master_file = MasterFile::decode(value).ok(),
            KEYMAP => self.cache.keymap = KeyMap::decode(value).ok(),
            CARDCF => self.cardcf = Some(Some(value.to_vec())),
            CARDID => self.cache.card_id = None,
            _ => {}
        }
        if !matches!((fi, tag), MASTER_FILE | KEYMAP | CARDCF) {
            self.cache.objects.insert((fi, tag), Some(value.to_vec()));
        }
    }

    /// Compares `cardcf` with the card, once per transaction; a change made elsewhere drops
    /// everything read.
    pub(crate) fn ensure_current(&mut self) -> Result<()> {
        if self.txn.checked {
            return Ok(());
        }
        let now = match self.get_data(CARDCF.0, CARDCF.1) {
            Ok(v) => v,
            // No EF A010 (a factory-new card, before the file system is created): no cardcf.
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        if self.cardcf.as_ref().is_some_and(|before| *before != now) {
            tracing::debug!(target: "gids", "cardcf changed by someone else: cache dropped");
            self.cache = Cache::default();
        }
        self.cardcf = Some(now);
        self.txn.checked = true;
        Ok(())
    }

    /// `cardcf` as the Base CSP reads it (a second read begins a new transaction).
    ///
    /// # Errors
    /// `FileNotFound` when the card has none; [`Error::Vfs`] (`Malformed`) when it is not a
    /// cache file; transport failures.
    pub fn cardcf(&mut self) -> Result<CacheFile> {
        if self.txn.served {
            self.begin_transaction();
        }
        self.ensure_current()?;
        self.txn.served = true;
        Ok(CacheFile::decode(&self.cardcf_bytes()?)?)
    }

    /// The stored `cardcf` bytes, as last checked.
    pub(crate) fn cardcf_bytes(&self) -> Result<Vec<u8>> {
        self.cardcf.clone().flatten().ok_or_else(|| vfs::Error::FileNotFound.into())
    }

    /// The CSP's own write of `cardcf`: stored as is. A counter it advanced covers the next
    /// change of that kind in this transaction, so the edge does not bump it a second time.
    ///
    /// # Errors
    /// `Malformed` for bytes that are not a cache file; card refusals.
    pub fn write_cardcf(&mut self, bytes: &[u8]) -> Result<()> {
        let written = CacheFile::decode(bytes)?;
        self.ensure_current()?;
        let before = self.cardcf.clone().flatten().and_then(|b| CacheFile::decode(&b).ok());
        self.put_data(CARDCF.0, CARDCF.1, bytes)?;
        if let Some(before) = before {
            self.txn.files_credit |= written.files_freshness != before.files_freshness;
            self.txn.containers_credit |= written.containers_freshness != before.containers_freshness;
        }
        Ok(())
    }

    /// Bumps the counter a change of `kind` needs, before the change, unless the CSP already
    /// did for it in this transaction. A card without `cardcf` has nothing to keep fresh.
    pub(crate) fn bump(&mut self, kind: Freshness) -> Result<()> {
        self.ensure_current()?;
        let credit = match kind {
            Freshness::Files => &mut self.txn.files_credit,
            Freshness::Containers => &mut self.txn.containers_credit,
        };
        if core::mem::take(credit) {
            return Ok(());
        }
        let Some(Some(current)) = &self.cardcf else { return Ok(()) };
        let mut cf = CacheFile::decode(current)?;
        match kind {
            Freshness::Files => cf.bump_files(),
            Freshness::Containers => cf.bump_containers(),
        }
        self.put_data(CARDCF.0, CARDCF.1, &cf.encode())
    }

    /// A data object's value, read once per insertion: `None` when it or its EF is absent.
    pub(crate) fn object(&mut self, fi: u16, tag: u16) -> Result<Option<Vec<u8>>> {
        self.ensure_current()?;
        if let Some(v) = self.cache.objects.get(&(fi, tag)) {
            return Ok(v.clone());
        }
        let v = match self.get_data(fi, tag) {
            Ok(v) => v,
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        self.cache.objects.insert((fi, tag), v.clone());
        Ok(v)
    }

    /// Writes a data object (no freshness bump).
    pub(crate) fn store(&mut self, (fi, tag): (u16, u16), value: &[u8]) -> Result<()> {
        self.put_data(fi, tag, value)
    }

    /// The master file, read once per insertion.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the card has none or it is malformed.
    pub fn master_file(&mut self) -> Result<MasterFile> {
        self.ensure_current()?;
        if let Some(mf) = &self.cache.master_file {
            return Ok(mf.clone());
        }
        let raw = match self.get_data(MASTER_FILE.0, MASTER_FILE.1) {
            Ok(Some(raw)) => raw,
            Ok(None) | Err(Error::NotFound(_)) => {
                return Err(Error::Malformed { what: "the card has no GIDS master file (A000/DF1F)" });
            }
            Err(e) => return Err(e),
        };
        let mf = MasterFile::decode(&raw)?;
        self.cache.master_file = Some(mf.clone());
        Ok(mf)
    }

    /// Writes the master file (no freshness bump).
    pub(crate) fn store_master_file(&mut self, mf: &MasterFile) -> Result<()> {
        self.store(MASTER_FILE, &mf.encode())
    }

    /// The keymap, read once per insertion (an absent keymap is empty).
    ///
    /// # Errors
    /// [`Error::Malformed`] for a malformed keymap.
    pub fn keymap(&mut self) -> Result<KeyMap> {
        self.ensure_current()?;
        if let Some(k) = &self.cache.keymap {
            return Ok(k.clone());
        }
        let map = match self.get_data(KEYMAP.0, KEYMAP.1)? {
            Some(raw) => KeyMap::decode(&raw)?,
            None => KeyMap::default(),
        };
        self.cache.keymap = Some(map.clone());
        Ok(map)
    }

    /// The 16-byte card identifier (A012/DF20), read at most once per insertion (and again
    /// only after `cardcf` showed a change made elsewhere). A card's identifier of another
    /// length, or all zero, is replaced by the first 16 bytes of `SHA-256("gids cardid" ||
    /// value)`: stable, never all zero, and shared only by cards that share the raw value.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the card has no `cardid`; transport failures.
    pub fn card_id(&mut self) -> Result<[u8; 16]> {
        self.stored_card_id()?.ok_or(Error::Malformed { what: "the card has no cardid (A012/DF20)" })
    }

    /// As [`GidsEdge::card_id`], `None` when the card has no `cardid` (no data object, or no
    /// EF A012 at all).
    ///
    /// # Errors
    /// Transport failures; refusing status words.
    pub(crate) fn stored_card_id(&mut self) -> Result<Option<[u8; 16]>> {
        self.ensure_current()?;
        if let Some(id) = self.cache.card_id {
            return Ok(Some(id));
        }
        let raw = match self.get_data(CARDID.0, CARDID.1) {
            Ok(Some(raw)) => raw,
            Ok(None) | Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let id = derive_card_id(&raw);
        self.cache.card_id = Some(id);
        Ok(Some(id))
    }
}

/// The card identifier the CSP sees for the card's `cardid` bytes.
pub(crate) fn derive_card_id(raw: &[u8]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    match <[u8; 16]>::try_from(raw) {
        Ok(id) if id.iter().any(|b| *b != 0) => id,
        _ => {
            let digest = Sha256::new().chain_update(b"gids cardid").chain_update(raw).finalize();
            let mut id = [0u8; 16];
            id.copy_from_slice(digest.get(..16).unwrap_or(&[1; 16]));
            id
        }
    }
}

/// Maps a refusing status word to the error a caller acts on.
pub(crate) fn status_error(sw: StatusWord) -> Error {
    match sw.status() {
        Status::VerifyFailed { tries_left } => Error::WrongPin { tries_left: Some(tries_left) },
        Status::Blocked => Error::PinBlocked,
        Status::SecurityNotSatisfied => Error::SecurityStatusNotSatisfied,
        Status::NotFound | Status::ReferenceNotFound => Error::NotFound("GIDS file, data object or key"),
        _ if sw == StatusWord::NOT_ENOUGH_MEMORY => vfs::Error::OutOfSpace.into(),
        _ => Error::Status(sw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;

    #[test]
    fn card_id_rules() {
        let id = t::cardid_value();
        assert_eq!(derive_card_id(&id).to_vec(), id);
        let zero = derive_card_id(&[0; 16]);
        assert!(zero.iter().any(|b| *b != 0));
        assert_ne!(derive_card_id(&[1; 32]), derive_card_id(&[1; 31]));
        assert_eq!(derive_card_id(&[1; 32]), derive_card_id(&[1; 32]));
    }

    #[test]
    fn status_mapping() {
        assert_eq!(status_error(StatusWord(0x6982)), Error::SecurityStatusNotSatisfied);
        assert_eq!(status_error(StatusWord(0x63C2)), Error::WrongPin { tries_left: Some(2) });
        assert_eq!(status_error(StatusWord(0x6983)), Error::PinBlocked);
        assert!(matches!(status_error(StatusWord(0x6A82)), Error::NotFound(_)));
        assert!(matches!(status_error(StatusWord(0x6A88)), Error::NotFound(_)));
        assert_eq!(status_error(StatusWord(0x6A84)), Error::Vfs(vfs::Error::OutOfSpace));
        assert_eq!(status_error(StatusWord(0x6985)), Error::Status(StatusWord(0x6985)));
    }

    #[test]
    fn select_once_and_get_data() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        script.expect("00CBA010045C02DF2500", "6A88");
        script.expect("00CBA015045C02DF2000", "6A82");
        assert_eq!(edge.get_data(0xA012, 0xDF20).unwrap(), Some(t::cardid_value()));
        assert_eq!(edge.get_data(0xA010, 0xDF25).unwrap(), None);
        assert!(matches!(edge.get_data(0xA015, 0xDF20), Err(Error::NotFound(_))));
        assert_eq!(script.done(), 4);
        // The GIDS applet's FCI (AID version 02) keeps the short limits.
        assert_eq!(edge.session().limits(), Limits::SHORT);
    }

    #[test]
    fn reselects_once_after_a_foreign_application() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect(t::CARDID_COMMAND, "6D00");
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        assert_eq!(edge.get_data(0xA012, 0xDF20).unwrap(), Some(t::cardid_value()));
        assert_eq!(script.done(), 4);
    }

    #[test]
    fn implicit_application_is_never_selected() {
        let (script, edge) = Script::edge();
        let mut edge = GidsEdge::implicit(edge.into_session());
        script.expect(t::CARDID_COMMAND, "6D00");
        assert!(matches!(edge.get_data(0xA012, 0xDF20), Err(Error::Status(_))));
        assert_eq!(script.done(), 1);
    }

    #[test]
    fn virtual_smart_card_chains_in_240_bytes() {
        let (script, edge) = Script::edge();
        let fci = t::data("61124F0BA00000039742544659040173034001C09000");
        let mut edge = GidsEdge::selected(edge.into_session(), &fci);
        assert_eq!(edge.session().limits().max_command_data, 240);
        let value = vec![0xAB; 300];
        let mut first = hex::decode("10DBA010F0DF2482012C").unwrap();
        first.extend_from_slice(&value[..235]);
        let mut second = hex::decode("00DBA01041").unwrap();
        second.extend_from_slice(&value[235..]);
        script.expect_bytes(&first, &[0x90, 0x00]);
        script.expect_bytes(&second, &[0x90, 0x00]);
        edge.put_data(0xA010, 0xDF24, &value).unwrap();
        assert_eq!(script.done(), 2);
    }

    #[test]
    fn reset_forgets() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000000000009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        edge.card_id().unwrap();
        assert_eq!(script.done(), 3);
        edge.auth.user = true;
        script.reset();
        // Cached answers need no card; the next transaction's cardcf check sees the reset.
        assert_eq!(edge.card_id().unwrap().to_vec(), t::cardid_value());
        edge.begin_transaction();
        assert_eq!(edge.card_id(), Err(Error::Transport(TransportError::ResetCard)));
        assert_eq!(edge.auth_state(), AuthState::default());
        edge.session_mut().transport_mut().reconnect(false).unwrap();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000000000009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        assert_eq!(edge.card_id().unwrap().to_vec(), t::cardid_value());
        assert_eq!(script.done(), 3);
    }

    #[test]
    fn cardcf_is_read_once_per_transaction_and_changes_drop_the_cache() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010002009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        assert_eq!(edge.cardcf().unwrap().files_freshness, 2);
        edge.card_id().unwrap();
        edge.card_id().unwrap();
        assert_eq!(script.done(), 3);
        // The CSP's next transaction reads cardcf again: unchanged, the cache stays.
        script.expect("00CBA010045C02DF2200", "DF22060000010002009000");
        edge.cardcf().unwrap();
        edge.card_id().unwrap();
        assert_eq!(script.done(), 1);
        // Changed by someone else: the cache goes, cardid is read again.
        edge.begin_transaction();
        script.expect("00CBA010045C02DF2200", "DF22060000010003009000");
        script.expect(t::CARDID_COMMAND, t::CARDID_RESPONSE);
        edge.card_id().unwrap();
        assert_eq!(edge.cardcf().unwrap().files_freshness, 3);
        assert_eq!(script.done(), 2);
    }

    #[test]
    fn csp_cardcf_writes_are_credited() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010002009000");
        script.expect("00DBA01009DF2206000001000300", "9000");
        edge.cardcf().unwrap();
        edge.write_cardcf(&[0, 0, 1, 0, 3, 0]).unwrap();
        // The CSP's bump covers the next file change; the one after needs its own.
        edge.bump(Freshness::Files).unwrap();
        script.expect("00DBA01009DF2206000001000400", "9000");
        edge.bump(Freshness::Files).unwrap();
        script.expect("00DBA01009DF2206000002000400", "9000");
        edge.bump(Freshness::Containers).unwrap();
        assert_eq!(script.done(), 5);
        assert!(edge.write_cardcf(&[0; 5]).is_err());
    }
}
