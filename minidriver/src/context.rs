//! One minidriver context: the state behind a `CARD_DATA` (or a safe [`crate::Card`]), and the
//! specification's operations on typed arguments. The C door decodes pointers and calls these;
//! nothing here touches C memory.

use card_edges::crypto::HashAlg;
use card_edges::iso7816::Counters;
use vfs::{FileInfo, FreeSpace};
use zeroize::Zeroizing;

use crate::abi::{pin, prop};
use crate::edge::{Capabilities, Container, DecryptPadding, Edge, KeySizes, NewKey, PinId, PinInfo, SignRequest};
use crate::error::{Error, Result};
use crate::kdf::{self, Kdf, Param};
use crate::session_pin;

/// The Base CSP's data cache, reached through `pfnCspCache*` (or a stand-in).
pub(crate) trait CspCache {
    /// A cached item, or `None` (`ERROR_NOT_FOUND` or any failure).
    fn lookup(&mut self, tag: &str) -> Option<Vec<u8>>;
    /// Stores an item (failures are ignored: a cache is an optimisation).
    fn add(&mut self, tag: &str, data: &[u8]);
    /// Drops an item.
    fn delete(&mut self, tag: &str);
}

/// No cache at all.
pub(crate) struct NoCache;

impl CspCache for NoCache {
    fn lookup(&mut self, _tag: &str) -> Option<Vec<u8>> {
        None
    }
    fn add(&mut self, _tag: &str, _data: &[u8]) {}
    fn delete(&mut self, _tag: &str) {}
}

/// Largest number of simultaneous DH agreements (`bSecretAgreementIndex` is a byte).
const MAX_AGREEMENTS: usize = 255;

/// A minidriver context.
pub(crate) struct Context {
    version: u32,
    edge: Box<dyn Edge>,
    parent_window: usize,
    pin_context: Option<Vec<u16>>,
    agreements: Vec<Option<Zeroizing<Vec<u8>>>>,
    /// Cache tags of private entries this context stored while authenticated, to delete after
    /// a deauthentication.
    private_tags: Vec<String>,
    /// Properties an administrator set for this context.
    overrides: Overrides,
}

/// Card properties an authenticated administrator set (`CardSetProperty`), honoured by this
/// context: the cache mode decides whether the CSP cache is used, read-only mode refuses
/// every change, enrollment support is reported.
#[derive(Clone, Copy, Debug, Default)]
struct Overrides {
    cache_mode: Option<u32>,
    read_only: Option<bool>,
    x509_enrollment: Option<bool>,
}

/// Validates a file path before anything reaches the card (spec §4.3: names first).
fn check_path(dir: Option<&[u8]>, file: &[u8]) -> Result<()> {
    vfs::FilePath::from_bytes(dir, file)?;
    Ok(())
}

fn is_name(raw: &[u8], name: &str) -> bool {
    raw.eq_ignore_ascii_case(name.as_bytes())
}

impl Context {
    pub(crate) fn new(version: u32, edge: Box<dyn Edge>) -> Self {
        Self {
            version,
            edge,
            parent_window: 0,
            pin_context: None,
            agreements: Vec::new(),
            private_tags: Vec::new(),
            overrides: Overrides::default(),
        }
    }

    /// The negotiated `CARD_DATA` version.
    pub(crate) fn version(&self) -> u32 {
        self.version
    }

    /// The card edge's name.
    pub(crate) fn edge_name(&self) -> &'static str {
        self.edge.name()
    }

    /// APDU counters of this context.
    pub(crate) fn counters(&self) -> Counters {
        self.edge.counters()
    }

    /// Follows the CSP to new handles: a changed handle may be another card, so the edge
    /// forgets what it knew (authentication included) and re-selects on the next command.
    pub(crate) fn rebind(&mut self, context: usize, card: usize) {
        if self.edge.link().rebind(context, card) {
            self.card_lost();
        }
    }

    /// Whatever was established with the card is gone (reset, removal, other card).
    pub(crate) fn card_lost(&mut self) {
        self.edge.forget();
        self.agreements.clear();
    }

    /// Records the consequences of a failed call: a reset or removed card loses every
    /// authentication and agreement, and the next call starts over.
    pub(crate) fn observe(&mut self, e: &Error) {
        if e.is_card_lost() {
            self.card_lost();
        }
    }

    /// Runs `op` with container contents loaded from the CSP cache when the card's content
    /// proof matches, and stores them there after reading them from the card.
    fn with_contents<T>(&mut self, cache: &mut dyn CspCache, op: impl FnOnce(&mut dyn Edge) -> Result<T>) -> Result<T> {
        if self.cache_mode() == prop::CACHE_MODE_NO_CACHE {
            return op(self.edge.as_mut());
        }
        let mut loaded_from_card = false;
        if self.edge.wants_contents() {
            if let Some(tag) = self.edge.contents_tag()?
                && let Some(bytes) = cache.lookup(&tag)
                && self.edge.load_contents(&bytes)
            {
                tracing::debug!(tag = %tag, "container contents from the CSP cache");
            } else {
                loaded_from_card = true;
            }
        }
        let out = op(self.edge.as_mut())?;
        if loaded_from_card
            && !self.edge.wants_contents()
            && let Some(entry) = self.edge.contents_snapshot()
        {
            cache.add(&entry.tag, &entry.bytes);
            if entry.private && self.edge.authenticated() != 0 {
                self.private_tags.push(entry.tag);
            }
        }
        Ok(out)
    }

    // ----- capabilities and properties -----

    /// The card's capabilities; a card in read-only mode generates no keys (spec §7.4).
    pub(crate) fn capabilities(&self) -> Capabilities {
        let c = self.edge.capabilities();
        Capabilities { key_gen: c.key_gen && !self.read_only(), ..c }
    }

    pub(crate) fn imports_keys(&self) -> bool {
        self.edge.imports_keys()
    }

    pub(crate) fn key_sizes(&mut self, key_spec: u32) -> Result<KeySizes> {
        self.edge.key_sizes(key_spec)
    }

    pub(crate) fn algorithms(&mut self) -> Vec<&'static str> {
        self.edge.algorithms()
    }

    /// Free space; a card in read-only mode has 0 bytes and 0 containers free (spec §7.4).
    pub(crate) fn free_space(&mut self, cache: &mut dyn CspCache) -> Result<FreeSpace> {
        let fs = self.with_contents(cache, |e| e.files().free_space())?;
        Ok(if self.read_only() {
            FreeSpace { bytes_available: Some(0), containers_available: Some(0), ..fs }
        } else {
            fs
        })
    }

    pub(crate) fn read_only(&self) -> bool {
        self.overrides.read_only.unwrap_or_else(|| self.edge.read_only())
    }

    pub(crate) fn cache_mode(&self) -> u32 {
        self.overrides.cache_mode.unwrap_or_else(|| self.edge.cache_mode())
    }

    /// Enrollment support; never on a card in read-only mode (spec §7.4).
    pub(crate) fn supports_x509_enrollment(&mut self) -> Result<bool> {
        if self.read_only() {
            return Ok(false);
        }
        match self.overrides.x509_enrollment {
            Some(set) => Ok(set),
            None => self.edge.supports_x509_enrollment(),
        }
    }

    pub(crate) fn writable(&self) -> Result<()> {
        if self.read_only() { Err(Error::Unsupported("the card is in read-only mode")) } else { Ok(()) }
    }

    /// `CardSetProperty` for the administrator's properties (the caller checked ROLE_ADMIN).
    pub(crate) fn set_admin_property(&mut self, name: &str, data: &[u8], cache: &mut dyn CspCache) -> Result<()> {
        let dword = || -> Result<u32> {
            let b: [u8; 4] = data.try_into().map_err(|_| Error::InvalidParameter("a DWORD property"))?;
            Ok(u32::from_le_bytes(b))
        };
        match name {
            prop::CACHE_MODE => {
                let mode = dword()?;
                if !(prop::CACHE_MODE_GLOBAL..=prop::CACHE_MODE_NO_CACHE).contains(&mode) {
                    return Err(Error::InvalidParameter("unknown cache mode"));
                }
                self.overrides.cache_mode = Some(mode);
                Ok(())
            }
            prop::READ_ONLY => {
                self.overrides.read_only = Some(dword()? != 0);
                Ok(())
            }
            prop::X509_ENROLLMENT => {
                self.overrides.x509_enrollment = Some(dword()? != 0);
                Ok(())
            }
            prop::CARD_GUID => {
                self.writable()?;
                let id: [u8; 16] = data.try_into().map_err(|_| Error::InvalidParameter("a card GUID is 16 bytes"))?;
                let who = self.edge.principals();
                self.with_contents(cache, |e| e.files().write_file(who, None, b"cardid", &id))
            }
            _ => Err(Error::Unsupported("this property is fixed on this card")),
        }
    }

    pub(crate) fn card_guid(&mut self) -> Result<[u8; 16]> {
        self.edge.card_id()
    }

    pub(crate) fn serial_number(&mut self) -> Result<Vec<u8>> {
        self.edge.serial_number()?.ok_or(Error::Unsupported("the card has no serial number"))
    }

    pub(crate) fn pin_info(&mut self, id: PinId) -> Result<PinInfo> {
        if id >= pin::MAX_PINS {
            return Err(Error::InvalidParameter("PIN id out of range"));
        }
        self.edge.pin_info(id)
    }

    pub(crate) fn list_pins(&mut self) -> Result<u32> {
        self.edge.list_pins()
    }

    pub(crate) fn has_pin(&mut self, id: PinId) -> Result<bool> {
        self.edge.has_pin(id)
    }

    pub(crate) fn authenticated_state(&self) -> u32 {
        self.edge.authenticated()
    }

    /// `CP_CARD_PIN_STRENGTH_VERIFY`: plaintext always; session PINs for typed-in PINs.
    pub(crate) fn pin_strength_verify(&mut self, id: PinId) -> Result<u32> {
        let info = self.pin_info(id)?;
        Ok(match info.pin_type {
            pin::ALPHANUMERIC => pin::STRENGTH_PLAINTEXT | pin::STRENGTH_SESSION_PIN,
            _ => pin::STRENGTH_PLAINTEXT,
        })
    }

    pub(crate) fn set_parent_window(&mut self, hwnd: usize) {
        self.parent_window = hwnd;
    }

    pub(crate) fn parent_window(&self) -> usize {
        self.parent_window
    }

    /// Stores a copy of the PIN context string (never the caller's pointer).
    pub(crate) fn set_pin_context(&mut self, text: Option<Vec<u16>>) {
        self.pin_context = text;
    }

    pub(crate) fn pin_context(&self) -> Option<&[u16]> {
        self.pin_context.as_deref()
    }

    // ----- files -----

    pub(crate) fn read_file(&mut self, dir: Option<&[u8]>, file: &[u8], cache: &mut dyn CspCache) -> Result<Vec<u8>> {
        check_path(dir, file)?;
        let who = self.edge.principals();
        // cardid and cardcf are how the CSP validates its cache: never served from it.
        if dir.is_none_or(<[u8]>::is_empty) && (is_name(file, "cardid") || is_name(file, "cardcf")) {
            return self.edge.files().read_file(who, dir, file);
        }
        self.with_contents(cache, |e| e.files().read_file(who, dir, file))
    }

    pub(crate) fn write_file(
        &mut self,
        dir: Option<&[u8]>,
        file: &[u8],
        data: &[u8],
        cache: &mut dyn CspCache,
    ) -> Result<()> {
        self.writable()?;
        check_path(dir, file)?;
        let who = self.edge.principals();
        self.with_contents(cache, |e| e.files().write_file(who, dir, file, data))?;
        self.changed_file(dir, cache);
        Ok(())
    }

    pub(crate) fn create_file(
        &mut self,
        dir: Option<&[u8]>,
        file: &[u8],
        size: u32,
        ac: u32,
        cache: &mut dyn CspCache,
    ) -> Result<()> {
        self.writable()?;
        check_path(dir, file)?;
        let who = self.edge.principals();
        self.with_contents(cache, |e| e.files().create_file(who, dir, file, ac, size))?;
        self.changed_file(dir, cache);
        Ok(())
    }

    pub(crate) fn delete_file(&mut self, dir: Option<&[u8]>, file: &[u8], cache: &mut dyn CspCache) -> Result<()> {
        self.writable()?;
        check_path(dir, file)?;
        let who = self.edge.principals();
        self.with_contents(cache, |e| e.files().delete_file(who, dir, file))?;
        self.changed_file(dir, cache);
        Ok(())
    }

    /// A file in an application directory (a certificate) was changed: see [`Self::changed`].
    /// Root files are not content (`cardcf` is the CSP's; a new `cardid` changes the tag).
    fn changed_file(&mut self, dir: Option<&[u8]>, cache: &mut dyn CspCache) {
        if !dir.is_none_or(<[u8]>::is_empty) {
            self.changed(cache);
        }
    }

    /// This context changed the card's content: the snapshot of it in the CSP's cache (taken
    /// before, or just now without the change) would be served stale to the next context of
    /// the process, so it is dropped; the next context reads the card and stores a new one.
    fn changed(&mut self, cache: &mut dyn CspCache) {
        if let Ok(Some(tag)) = self.edge.contents_tag() {
            cache.delete(&tag);
        }
    }

    pub(crate) fn file_info(&mut self, dir: Option<&[u8]>, file: &[u8], cache: &mut dyn CspCache) -> Result<FileInfo> {
        check_path(dir, file)?;
        let who = self.edge.principals();
        self.with_contents(cache, |e| e.files().file_info(who, dir, file))
    }

    /// The file names of a directory; an empty directory is `SCARD_E_FILE_NOT_FOUND` (spec).
    pub(crate) fn enum_files(&mut self, dir: Option<&[u8]>, cache: &mut dyn CspCache) -> Result<Vec<String>> {
        vfs::path::dir_from_bytes(dir)?;
        let names = self.with_contents(cache, |e| e.files().enum_files(dir))?;
        if names.is_empty() { Err(Error::FileNotFound) } else { Ok(names) }
    }

    /// `CardCreateDirectory`; a card without room for the directory is `SCARD_E_NO_MEMORY`
    /// (spec §4.3.1; a file write that does not fit is `SCARD_E_WRITE_TOO_MANY`, §4.3.6).
    pub(crate) fn create_dir(&mut self, dir: &[u8], ac: u32) -> Result<()> {
        self.writable()?;
        let who = self.edge.principals();
        match self.edge.files().create_dir(who, dir, ac) {
            Err(Error::WriteTooMany) => Err(Error::NoMemory),
            other => other,
        }
    }

    pub(crate) fn delete_dir(&mut self, dir: &[u8]) -> Result<()> {
        self.writable()?;
        let who = self.edge.principals();
        self.edge.files().delete_dir(who, dir)
    }

    // ----- containers -----

    pub(crate) fn container(&mut self, index: u8, cache: &mut dyn CspCache) -> Result<Container> {
        self.with_contents(cache, |e| e.container(index))
    }

    pub(crate) fn containers(&mut self, cache: &mut dyn CspCache) -> Result<Vec<Container>> {
        self.with_contents(cache, |e| e.containers())
    }

    pub(crate) fn create_container(
        &mut self,
        index: u8,
        key: NewKey,
        pin_id: Option<PinId>,
        cache: &mut dyn CspCache,
    ) -> Result<()> {
        self.writable()?;
        self.edge.check_new_key(index, &key, pin_id)?;
        self.with_contents(cache, |e| e.create_container(index, key, pin_id))?;
        self.changed(cache);
        Ok(())
    }

    pub(crate) fn delete_container(&mut self, index: u8, cache: &mut dyn CspCache) -> Result<()> {
        self.writable()?;
        self.with_contents(cache, |e| e.delete_container(index))?;
        self.changed(cache);
        Ok(())
    }

    pub(crate) fn set_container_pin(&mut self, index: u8, pin_id: PinId, cache: &mut dyn CspCache) -> Result<()> {
        self.writable()?;
        self.with_contents(cache, |e| e.set_container_pin(index, pin_id))
    }

    pub(crate) fn set_associated_ecdh(&mut self, index: u8, ecdh: u8, cache: &mut dyn CspCache) -> Result<()> {
        self.writable()?;
        self.with_contents(cache, |e| e.set_associated_ecdh(index, ecdh))
    }

    // ----- authentication -----

    /// Verifies `data` for `id`; the result carries tries left on failure.
    ///
    /// A PIN the card wants right before each use of its key (`PinCacheAlwaysPrompt`, PIV's
    /// 9C) is verified with the container contents loaded first, from the CSP's cache or the
    /// card: the key's operation that follows must find everything it looks up in memory, so
    /// that no command reaches the card between the VERIFY and the operation.
    pub(crate) fn authenticate(&mut self, id: PinId, data: &[u8], cache: &mut dyn CspCache) -> Result<()> {
        if id == pin::ROLE_EVERYONE || id >= pin::MAX_PINS || !self.edge.has_pin(id)? {
            return Err(Error::InvalidParameter("no such PIN"));
        }
        let always = self.edge.always_prompt(id);
        let result = if always {
            self.with_contents(cache, |e| e.authenticate(id, data))
        } else {
            self.edge.authenticate(id, data)
        };
        self.with_tries(id, result)
    }

    /// Fills in tries left for a wrong PIN the card did not count for us.
    fn with_tries(&mut self, id: PinId, result: Result<()>) -> Result<()> {
        match result {
            Err(Error::WrongPin { tries_left: None }) if id != pin::ROLE_ADMIN => {
                let tries = self.edge.tries_left(id).ok().flatten();
                Err(if tries == Some(0) { Error::PinBlocked } else { Error::WrongPin { tries_left: tries } })
            }
            other => other,
        }
    }

    /// `CARD_AUTHENTICATE_GENERATE_SESSION_PIN`: a token for `pin`, without unlocking the card
    /// or sending the PIN to it.
    pub(crate) fn generate_session_pin(&mut self, id: PinId, pin_bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let info = self.pin_info(id)?;
        if info.pin_type != pin::ALPHANUMERIC {
            return Err(Error::Unsupported("session PINs exist for typed-in PINs only"));
        }
        let card = self.edge.card_id()?;
        session_pin::issue(&card, id, pin_bytes).ok_or(Error::Unexpected("session PIN could not be sealed"))
    }

    /// `CARD_AUTHENTICATE_SESSION_PIN`: authenticates with a token; a bad token is a wrong PIN
    /// that spends no try on the card.
    pub(crate) fn authenticate_session_pin(&mut self, id: PinId, token: &[u8], cache: &mut dyn CspCache) -> Result<()> {
        let card = self.edge.card_id()?;
        let pin_bytes = session_pin::open(&card, id, token).ok_or(Error::WrongPin { tries_left: None })?;
        self.authenticate(id, &pin_bytes, cache)
    }

    /// The typed-in PIN (a PUK) that may unblock `target`, from the card's `PIN_INFO`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when no typed-in PIN may unblock it (a card without a PUK).
    pub(crate) fn typed_unblocker(&mut self, target: PinId) -> Result<PinId> {
        let allowed = self.pin_info(target)?.unblock_permission;
        for id in (0..pin::MAX_PINS).filter(|id| allowed & pin::set_of(*id) != 0 && *id != target) {
            if self.pin_info(id).is_ok_and(|i| i.pin_type == pin::ALPHANUMERIC) {
                return Ok(id);
            }
        }
        Err(Error::Unsupported("no PIN of this card unblocks that one"))
    }

    pub(crate) fn tries_left(&mut self, id: PinId) -> Result<Option<u32>> {
        self.edge.tries_left(id)
    }

    /// Deauthenticates `pins`, then drops the private cache entries stored while authenticated
    /// (public ones, such as certificates read before any PIN, stay for the next context). When
    /// the card cannot, the CSP resets it (through its own handle, so no `SCARD_W_RESET_CARD`
    /// tells this context): the card's state is forgotten now, as after a reset.
    pub(crate) fn deauthenticate(&mut self, pins: u32, cache: &mut dyn CspCache) -> Result<()> {
        if let Err(e) = self.edge.deauthenticate(pins & !pin::set_of(pin::ROLE_EVERYONE)) {
            self.card_lost();
            return Err(e);
        }
        for tag in self.private_tags.drain(..) {
            cache.delete(&tag);
        }
        Ok(())
    }

    pub(crate) fn challenge(&mut self, id: PinId) -> Result<Zeroizing<Vec<u8>>> {
        self.edge.challenge(id)
    }

    pub(crate) fn change_pin(&mut self, id: PinId, current: &[u8], new: &[u8]) -> Result<()> {
        self.change_reference(id, |edge| edge.change_pin(id, current, new))
    }

    pub(crate) fn unblock(&mut self, auth_pin: PinId, auth: &[u8], target: PinId, new: &[u8]) -> Result<()> {
        self.change_reference(auth_pin, |edge| edge.unblock(auth_pin, auth, target, new))
    }

    /// A PIN change or unblock authenticated by `auth_pin`, then the session PINs of the card
    /// invalidated. The card identifier they are kept under is read before the change when
    /// the authenticator is a typed-in PIN: read after it, a reset or removal met by that read
    /// would be lost behind the change's success (the context would go on as authenticated on
    /// a reset card, against spec item 48). A challenge-response authenticator answers a
    /// challenge the card voids at its next command, so nothing is read before it; a card lost
    /// on the read after it fails the call, which then reports the reset or removal.
    fn change_reference(&mut self, auth_pin: PinId, change: impl FnOnce(&mut dyn Edge) -> Result<()>) -> Result<()> {
        let before = if auth_pin == pin::ROLE_ADMIN { None } else { self.card_for_session_pins()? };
        let result = change(self.edge.as_mut());
        let result = self.with_tries(auth_pin, result);
        if result.is_ok() {
            let card = match before {
                Some(card) => Some(card),
                None => self.card_for_session_pins()?,
            };
            if let Some(card) = card {
                session_pin::invalidate(&card);
            }
        }
        result
    }

    /// The card identifier session PINs are kept under: a lost card (or one that did not
    /// answer) is an error, a card without a readable identifier has no session PINs.
    fn card_for_session_pins(&mut self) -> Result<Option<[u8; 16]>> {
        match self.edge.card_id() {
            Ok(card) => Ok(Some(card)),
            Err(e @ Error::Transport(_)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    // ----- cryptography -----

    pub(crate) fn sign(&mut self, index: u8, request: &SignRequest<'_>, cache: &mut dyn CspCache) -> Result<Vec<u8>> {
        self.with_contents(cache, |e| e.sign(index, request))
    }

    pub(crate) fn decrypt(
        &mut self,
        index: u8,
        ciphertext: &[u8],
        padding: &DecryptPadding<'_>,
        cache: &mut dyn CspCache,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.with_contents(cache, |e| e.decrypt(index, ciphertext, padding))
    }

    /// ECDH with container `index`: the raw shared secret (for the Rust API).
    pub(crate) fn agree(
        &mut self,
        index: u8,
        peer_point: &[u8],
        cache: &mut dyn CspCache,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.with_contents(cache, |e| e.agree(index, peer_point))
    }

    /// ECDH with container `index`; returns the agreement's index.
    pub(crate) fn construct_agreement(&mut self, index: u8, peer_point: &[u8], cache: &mut dyn CspCache) -> Result<u8> {
        let secret = self.with_contents(cache, |e| e.agree(index, peer_point))?;
        let slot = match self.agreements.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.agreements.len() < MAX_AGREEMENTS => {
                self.agreements.push(None);
                self.agreements.len() - 1
            }
            None => return Err(Error::NoMemory),
        };
        if let Some(entry) = self.agreements.get_mut(slot) {
            *entry = Some(secret);
        }
        u8::try_from(slot).map_err(|_| Error::NoMemory)
    }

    fn agreement(&self, index: u8) -> Result<&Zeroizing<Vec<u8>>> {
        self.agreements
            .get(usize::from(index))
            .and_then(Option::as_ref)
            .ok_or(Error::InvalidParameter("no such secret agreement"))
    }

    /// Derives key material from an agreement with a CNG KDF.
    pub(crate) fn derive(
        &self,
        index: u8,
        kdf: Kdf,
        params: &[Param],
        use_secret_as_hmac_key: bool,
        out_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let secret = self.agreement(index)?;
        kdf::derive(kdf, params, secret, use_secret_as_hmac_key, out_len).map_err(Into::into)
    }

    /// The length `derive` would produce (`CARD_BUFFER_SIZE_ONLY`).
    pub(crate) fn derive_len(
        &self,
        index: u8,
        kdf: Kdf,
        params: &[Param],
        use_secret_as_hmac_key: bool,
        out_len: Option<usize>,
    ) -> Result<usize> {
        let secret = self.agreement(index)?;
        kdf::output_len(kdf, params, secret.len(), use_secret_as_hmac_key, out_len).map_err(Into::into)
    }

    /// `L"TRUNCATE"` (`BCRYPT_KDF_RAW_SECRET`): the raw shared secret, little-endian as CNG
    /// returns it. Not in the minidriver specification's KDF list, but the Windows smart card
    /// KSP asks for it when an application wants the raw agreement.
    pub(crate) fn raw_secret(&self, index: u8) -> Result<Zeroizing<Vec<u8>>> {
        let mut secret = self.agreement(index)?.clone();
        secret.reverse();
        Ok(secret)
    }

    pub(crate) fn destroy_agreement(&mut self, index: u8) -> Result<()> {
        match self.agreements.get_mut(usize::from(index)) {
            Some(entry @ Some(_)) => {
                *entry = None;
                Ok(())
            }
            _ => Err(Error::InvalidParameter("no such secret agreement")),
        }
    }
}

/// A hash algorithm from a CAPI `ALG_ID` (`aiHashAlg`).
pub(crate) fn hash_from_alg_id(alg_id: u32) -> Result<Option<HashAlg>> {
    use crate::abi::crypt as c;
    Ok(match alg_id {
        0 => None,
        c::CALG_MD5 => Some(HashAlg::Md5),
        c::CALG_SHA1 => Some(HashAlg::Sha1),
        c::CALG_SHA_256 => Some(HashAlg::Sha256),
        c::CALG_SHA_384 => Some(HashAlg::Sha384),
        c::CALG_SHA_512 => Some(HashAlg::Sha512),
        c::CALG_SSL3_SHAMD5 => Some(HashAlg::Md5Sha1),
        // Other hash ALG_IDs (class 4 << 13): defined but not supported here.
        id if id >> 13 == 4 => return Err(Error::Unsupported("hash algorithm")),
        _ => return Err(Error::InvalidParameter("aiHashAlg is not a hash algorithm")),
    })
}

/// A hash algorithm from a CNG hash identifier (`BCRYPT_*_ALGORITHM`: padding information's
/// `pszAlgId`, a KDF's `KDF_HASH_ALGORITHM`), case-insensitively. The crate's one table of them.
pub(crate) fn hash_from_name(name: &str) -> Result<HashAlg> {
    match name.to_ascii_uppercase().as_str() {
        "MD5" => Ok(HashAlg::Md5),
        "SHA1" => Ok(HashAlg::Sha1),
        "SHA256" => Ok(HashAlg::Sha256),
        "SHA384" => Ok(HashAlg::Sha384),
        "SHA512" => Ok(HashAlg::Sha512),
        // CNG identifiers of hashes this crate does not implement.
        "MD2" | "MD4" | "SHA3-256" | "SHA3-384" | "SHA3-512" | "SHAKE128" | "SHAKE256" | "CSHAKE128" | "CSHAKE256" => {
            Err(Error::Unsupported("hash algorithm"))
        }
        _ => Err(Error::InvalidParameter("unknown hash algorithm name")),
    }
}

/// `CP_PADDING_SCHEMES` for asymmetric operations.
pub(crate) fn asymmetric_padding_schemes() -> u32 {
    use crate::abi::crypt as c;
    c::PADDING_PKCS1 | c::PADDING_PSS | c::PADDING_OAEP | c::PADDING_NONE
}

/// The settable card properties and who may set them, for `CardSetProperty`.
pub(crate) fn settable_by_everyone(name: &str) -> bool {
    name == prop::PARENT_WINDOW || name == prop::PIN_CONTEXT_STRING
}
