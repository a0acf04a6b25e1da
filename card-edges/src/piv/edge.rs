//! The PIV edge: one card, its APDU session, what has been read from it and who is
//! authenticated. Everything here is spent in APDUs, so every object is read at most once
//! per card insertion and nothing is probed that a cache or an earlier answer already says.

use std::collections::BTreeMap;

use super::objects::{self, Chuid, KeyHistory, tag};
use super::slot::Slot;
use crate::detect::PIV_AID;
use crate::error::{Error, Result, TransportError};
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Command, Response, Session, Status, apdu::ins};
use crate::key::PublicKey;
use crate::transport::Transport;

/// A slot's certificate and key, as read from the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotContent {
    /// The certificate (plain DER; gzip undone).
    pub certificate: Vec<u8>,
    /// Its public key.
    pub public_key: PublicKey,
}

/// What has been read from the card since it was last selected after a reset or insertion.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cache {
    /// The CHUID response value (`53` content), `Some(None)` when the card has none.
    pub(crate) chuid: Option<Option<Vec<u8>>>,
    pub(crate) key_history: Option<KeyHistory>,
    /// Per slot: `Some(None)` = read, empty.
    pub(crate) slots: BTreeMap<Slot, Option<SlotContent>>,
    /// Keys generated this insertion whose certificate is not written yet.
    pub(crate) pending: BTreeMap<Slot, PublicKey>,
    /// Algorithms the application property template listed.
    pub(crate) algorithms: Vec<u8>,
    /// Whether the CHUID was read since `cardcf` was last derived (see [`PivEdge::cardcf`]).
    pub(crate) chuid_fresh: bool,
    /// Yubico's ADMIN DATA (`5FFF00`), `Some(None)` when the card has none.
    pub(crate) admin_data: Option<Option<super::yubico::AdminData>>,
    /// Yubico's container map (`5FFF10`), once read or written (empty: none on the card).
    pub(crate) container_map: Option<Vec<super::yubico::MapRecord>>,
    /// Container names kept in certificate objects (their MSCUID, `72`).
    pub(crate) mscuid: BTreeMap<Slot, String>,
    /// `mscp/msroots` (Yubico's `5FFF11`..), `Some(None)` when the card has none; and how
    /// many of its objects the card holds.
    pub(crate) msroots: Option<Option<Vec<u8>>>,
    pub(crate) msroots_objects: u32,
}

/// Who the card has authenticated, as far as this edge has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthState {
    /// The user PIN was verified.
    pub user: bool,
    /// The card management key (9B) was authenticated.
    pub admin: bool,
    /// It was authenticated by this edge for a write the verified user asked for, with the
    /// key the card keeps PIN-protected (or the factory default): the user's doing, not an
    /// administrator's.
    pub admin_for_user: bool,
}

/// The PIV card edge over a transport.
pub struct PivEdge<T> {
    pub(crate) session: Session<T>,
    pub(crate) selected: bool,
    pub(crate) cache: Cache,
    pub(crate) auth: AuthState,
    /// The PIN reference: `80` (PIV application PIN), `00` when the card only has the global PIN.
    pub(crate) pin_ref: u8,
    /// A management-key challenge handed out and not yet answered (external authentication).
    pub(crate) pending_challenge: Option<super::auth::Challenge>,
    /// Changes this edge made to the card, folded into `cardcf`.
    pub(crate) local_changes: u16,
    /// The management key's algorithm, once learned.
    pub(crate) mgmt_alg: Option<super::auth::ManagementAlgorithm>,
    /// What the CSP wrote into `cardcf`, as offsets from the derived counters.
    pub(crate) cardcf_delta: super::files::CardcfDelta,
    /// Whether the management key is the factory default, as metadata reported it with the
    /// algorithm (`None`: the card has no metadata, or it was not asked yet).
    pub(crate) mgmt_default: Option<bool>,
    /// Replace a factory-default management key with a random PIN-protected one at the first
    /// write that needs it (off unless asked: see [`PivEdge::set_protect_default_management_key`]).
    pub(crate) protect_default_key: bool,
}

impl<T> core::fmt::Debug for PivEdge<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PivEdge").field("selected", &self.selected).field("auth", &self.auth).finish_non_exhaustive()
    }
}

impl<T: Transport> PivEdge<T> {
    /// An edge over `session`; nothing is sent until the first operation.
    pub fn new(session: Session<T>) -> Self {
        Self {
            session,
            selected: false,
            cache: Cache::default(),
            auth: AuthState::default(),
            pin_ref: 0x80,
            pending_challenge: None,
            local_changes: 0,
            mgmt_alg: None,
            cardcf_delta: super::files::CardcfDelta::default(),
            mgmt_default: None,
            protect_default_key: false,
        }
    }

    /// An edge on a card whose PIV application was just selected by someone else (the class
    /// minidriver's discovery): `template` is that SELECT's response data, the application
    /// property template, so nothing is sent again.
    pub fn selected(session: Session<T>, template: &[u8]) -> Self {
        let mut edge = Self::new(session);
        edge.cache.algorithms = objects::template_algorithms(template);
        edge.selected = true;
        edge
    }

    /// An edge whose session limits come from the ATR.
    ///
    /// # Errors
    /// Transport failures while reading the ATR.
    pub fn from_transport(transport: T) -> Result<Self> {
        Ok(Self::new(Session::from_atr(transport)?))
    }

    /// The APDU session (for its counters and limits).
    pub fn session(&self) -> &Session<T> {
        &self.session
    }

    /// The APDU session, mutably (to change limits or reach the transport).
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

    /// Forgets everything learned from the card: after a reset, a removal or a change of
    /// handle to what may be another card. Authentication is gone with it.
    pub fn forget(&mut self) {
        self.selected = false;
        self.cache = Cache::default();
        self.auth = AuthState::default();
        self.pending_challenge = None;
        self.mgmt_alg = None;
        self.mgmt_default = None;
    }

    /// Forces a SELECT before the next command (another application may have been selected
    /// between two transactions) without forgetting what was read.
    pub fn deselect(&mut self) {
        self.selected = false;
    }

    /// SELECTs the PIV application unless this edge already did since the last reset.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the card has no PIV application; transport failures.
    pub fn select(&mut self) -> Result<()> {
        if self.selected {
            return Ok(());
        }
        let cmd = Command::new(0x00, ins::SELECT, 0x04, 0x00).with_data(PIV_AID.to_vec()).with_le(256);
        let rsp = self.raw_transmit(&cmd)?;
        if !rsp.sw.is_success() {
            return Err(match rsp.sw.status() {
                Status::NotFound => Error::NotFound("PIV application"),
                _ => Error::Status(rsp.sw),
            });
        }
        self.cache.algorithms = objects::template_algorithms(&rsp.data);
        self.selected = true;
        Ok(())
    }

    /// Sends `cmd` with the application selected; a transport reset or removal forgets the
    /// card's state before the error goes up.
    pub(crate) fn transmit(&mut self, cmd: &Command) -> Result<Response> {
        self.select()?;
        let rsp = self.raw_transmit(cmd)?;
        if matches!(rsp.sw.0, 0x6D00 | 0x6E00) {
            // Another application answered: someone selected it behind our back. Re-select once.
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

    /// GET DATA for `tag`: `Ok(None)` when the card says the object does not exist.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] for PIN-protected objects without the PIN; other
    /// status words as [`Error::Status`].
    pub fn get_data(&mut self, tag: u32) -> Result<Option<Vec<u8>>> {
        self.get_data_with(tag, false)
    }

    /// GET DATA whose answer is a secret (kept out of APDU logs) when `secret`.
    pub(crate) fn get_data_with(&mut self, tag: u32, secret: bool) -> Result<Option<Vec<u8>>> {
        let tag_bytes = Tag(tag).to_bytes();
        let mut data = Vec::with_capacity(tag_bytes.len() + 2);
        tlv::write(&mut data, Tag(0x5C), &tag_bytes)?;
        let mut cmd = Command::new(0x00, ins::GET_DATA_ODD, 0x3F, 0xFF).with_data(data).with_le(65_536);
        if secret {
            cmd = cmd.with_secret_response();
        }
        let rsp = self.transmit(&cmd)?;
        match rsp.sw.status() {
            Status::Success => Ok(Some(rsp.data)),
            Status::NotFound => Ok(None),
            _ => Err(status_error(rsp.sw)),
        }
    }

    /// PUT DATA of a whole object (`5C tag` then `53 value`, or the bare `7E`/`7F61` objects).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the management key.
    pub fn put_data(&mut self, tag: u32, value: &[u8]) -> Result<()> {
        self.put_data_with(tag, value, false)
    }

    /// PUT DATA of a secret (kept out of APDU logs) when `secret`.
    pub(crate) fn put_data_with(&mut self, tag: u32, value: &[u8], secret: bool) -> Result<()> {
        let mut data = zeroize::Zeroizing::new(Vec::with_capacity(value.len() + 12));
        if matches!(tag, 0x7E | 0x7F61) {
            tlv::write(&mut data, Tag(tag), value)?;
        } else {
            tlv::write(&mut data, Tag(0x5C), &Tag(tag).to_bytes())?;
            tlv::write(&mut data, Tag(0x53), value)?;
        }
        let cmd = Command::new(0x00, ins::PUT_DATA_ODD, 0x3F, 0xFF);
        let cmd = if secret { cmd.with_secret(data.to_vec()) } else { cmd.with_data(data.to_vec()) };
        let rsp = self.transmit(&cmd)?;
        if !rsp.sw.is_success() {
            return Err(status_error(rsp.sw));
        }
        self.local_changes = self.local_changes.wrapping_add(1);
        Ok(())
    }

    /// The CHUID (`53` content), read once per insertion.
    ///
    /// # Errors
    /// Transport failures and malformed responses.
    pub fn chuid_raw(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(c) = &self.cache.chuid {
            return Ok(c.clone());
        }
        let value = match self.get_data(tag::CHUID)? {
            Some(rsp) => Some(objects::unwrap_data(&rsp)?.to_vec()),
            None => None,
        };
        self.cache.chuid = Some(value.clone());
        self.cache.chuid_fresh = true;
        Ok(value)
    }

    /// Re-reads the CHUID, dropping every cached object when it changed: the CHUID is what PIV
    /// issuers change when they change a card's content, so it is this edge's freshness proof.
    ///
    /// # Errors
    /// Transport failures.
    pub fn revalidate(&mut self) -> Result<bool> {
        let before = self.cache.chuid.take();
        let now = self.chuid_raw()?;
        let changed = before.is_some_and(|b| b != now);
        if changed {
            let chuid = self.cache.chuid.take();
            let algorithms = std::mem::take(&mut self.cache.algorithms);
            self.cache = Cache { chuid, algorithms, ..Cache::default() };
        }
        Ok(changed)
    }

    /// The parsed CHUID.
    ///
    /// # Errors
    /// Transport failures and a malformed CHUID.
    pub fn chuid(&mut self) -> Result<Option<Chuid>> {
        self.chuid_raw()?.map(|v| Chuid::parse(&v)).transpose()
    }

    /// The Key History object (an absent object means no retired keys).
    ///
    /// # Errors
    /// Transport failures and malformed content.
    pub fn key_history(&mut self) -> Result<KeyHistory> {
        if let Some(h) = self.cache.key_history {
            return Ok(h);
        }
        let history = match self.get_data(tag::KEY_HISTORY)? {
            Some(rsp) => KeyHistory::parse(objects::unwrap_data(&rsp)?)?,
            None => KeyHistory::default(),
        };
        self.cache.key_history = Some(history);
        Ok(history)
    }

    /// The slots worth looking at: the four standard ones, and as many retired ones as the
    /// key history object says hold on-card certificates (never probing empty retired slots).
    ///
    /// # Errors
    /// Transport failures.
    pub fn candidate_slots(&mut self) -> Result<Vec<Slot>> {
        let retired = usize::from(self.key_history()?.on_card);
        Ok(Slot::all().take(4 + retired).collect())
    }

    /// The certificate and key in `slot`, read once per insertion; a key generated this
    /// insertion without a certificate yet shows its key and an empty certificate.
    ///
    /// # Errors
    /// Transport failures, malformed objects, unsupported key types.
    pub fn slot_content(&mut self, slot: Slot) -> Result<Option<SlotContent>> {
        if let Some(pending) = self.cache.pending.get(&slot) {
            return Ok(Some(SlotContent { certificate: Vec::new(), public_key: pending.clone() }));
        }
        if let Some(c) = self.cache.slots.get(&slot) {
            return Ok(c.clone());
        }
        self.cache.mscuid.remove(&slot);
        let content = match self.get_data(slot.certificate_tag())? {
            Some(rsp) => match objects::certificate_der(objects::unwrap_data(&rsp)?)? {
                Some(certificate) => {
                    if let Some(name) = objects::certificate_mscuid(objects::unwrap_data(&rsp)?) {
                        self.cache.mscuid.insert(slot, name);
                    }
                    let public_key = PublicKey::from_certificate(&certificate)?;
                    Some(SlotContent { certificate, public_key })
                }
                None => None,
            },
            None => None,
        };
        self.cache.slots.insert(slot, content.clone());
        Ok(content)
    }

    /// The key in `slot`, or [`Error::NotFound`].
    ///
    /// # Errors
    /// [`Error::NotFound`] for an empty slot; as [`PivEdge::slot_content`].
    pub fn public_key(&mut self, slot: Slot) -> Result<PublicKey> {
        self.slot_content(slot)?.map(|c| c.public_key).ok_or(Error::NotFound("no key in this slot"))
    }

    /// Every slot holding a key, in container order.
    ///
    /// # Errors
    /// As [`PivEdge::slot_content`].
    pub fn populated_slots(&mut self) -> Result<Vec<(Slot, SlotContent)>> {
        let mut out = Vec::new();
        for slot in self.candidate_slots()? {
            if let Some(c) = self.slot_content(slot)? {
                out.push((slot, c));
            }
        }
        for (slot, key) in &self.cache.pending {
            if !out.iter().any(|(s, _)| s == slot) {
                out.push((*slot, SlotContent { certificate: Vec::new(), public_key: key.clone() }));
            }
        }
        out.sort_by_key(|(s, _)| s.container_index());
        Ok(out)
    }

    /// The algorithm identifiers the SELECT response's property template listed (empty when
    /// the card lists none, as YubiKeys do).
    pub fn advertised_algorithms(&self) -> &[u8] {
        &self.cache.algorithms
    }
}

/// Maps a refusing status word to the error a caller acts on.
pub(crate) fn status_error(sw: crate::iso7816::StatusWord) -> Error {
    match sw.status() {
        Status::VerifyFailed { tries_left } => Error::WrongPin { tries_left: Some(tries_left) },
        Status::Blocked => Error::PinBlocked,
        Status::SecurityNotSatisfied => Error::SecurityStatusNotSatisfied,
        Status::NotFound | Status::ReferenceNotFound => Error::NotFound("object or key reference"),
        _ => Error::Status(sw),
    }
}
