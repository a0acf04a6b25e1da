//! The GIDS edge as the minidriver presents it: roles, key specs and policies on top of
//! `card_edges::gids::GidsEdge`, which keeps the Base CSP's files natively on the card.
//!
//! PINs (GIDS v2.0 PIN and administrator key; "Smart Card Minidriver Specification" §2.4):
//!
//! | id | what | type | purpose | change by | unblock by |
//! |---|---|---|---|---|---|
//! | 0 `ROLE_EVERYONE` | nothing | Empty | - | - | - |
//! | 1 `ROLE_USER` | the user PIN `80` | AlphaNumeric | PrimaryCard | 1 | 2, and 3 where the card has a PUK |
//! | 2 `ROLE_ADMIN` | the 3-key 3DES administrator key `80`, by challenge-response | ChallengeResponse | Administrator | 2 | - |
//! | 3 | the PUK `81`, only where the card has one | AlphaNumeric | UnblockOnly | 3 | - |
//!
//! Keys are RSA 1024 to 4096 (GIDS defines ECC mechanisms, but neither Windows' class
//! minidriver nor any GIDS applet implements them, so ECC key specs are unsupported). Every key
//! is guarded by the user PIN. Certificates are stored in the Base CSP's own compressed form,
//! so `fCertificateCompression` is FALSE. Container key import (`CardCreateContainer` with
//! `CARD_CREATE_CONTAINER_KEY_IMPORT`) is supported; secure key injection is not.

use card_edges::gids::keyfile::MAX_CONTAINERS;
use card_edges::gids::{self, GidsEdge, RsaPrivateParts};
use card_edges::iso7816::Counters;
use card_edges::key::KeyAlgorithm;
use vfs::{Principals, Vfs};
use zeroize::Zeroizing;

use super::{
    CacheEntry, Capabilities, Container, DecryptPadding, Edge, FileSystem, KeyRole, KeySizes, NewKey, PinId, PinInfo,
    PinSet, SignRequest,
};
use crate::abi::{keyspec, pin, prop};
use crate::blobs;
use crate::error::{Error, Result};
use crate::link::Link;

/// The PUK, where the card has one.
pub(crate) const PUK: PinId = 3;

/// PIN lengths GIDS cards accept (GIDS v2.0 PIN policy as implemented: 4 to 16 characters).
const PIN_LENGTHS: core::ops::RangeInclusive<usize> = 4..=16;

/// The GIDS edge behind one context.
pub(crate) struct GidsCard {
    vfs: Vfs<GidsEdge<Link>>,
}

impl GidsCard {
    pub(crate) fn new(edge: GidsEdge<Link>) -> Self {
        // The card stores every file the CSP writes: no write simulation.
        Self { vfs: Vfs::new(edge) }
    }

    fn gids(&mut self) -> &mut GidsEdge<Link> {
        self.vfs.storage_mut()
    }

    /// Whether the card has a PUK (asked once, then cached by the edge).
    fn has_puk(&mut self) -> Result<bool> {
        Ok(self.gids().puk_status()?.is_some())
    }

    fn to_container(c: gids::Container) -> Container {
        Container {
            index: c.index,
            name: c.name,
            role: c.role,
            public_key: c.public_key,
            certificate: c.certificate,
            pin: pin::ROLE_USER,
            default: c.default,
            associated_ecdh: None,
        }
    }

    fn check_pin_format(new: &[u8]) -> Result<()> {
        if PIN_LENGTHS.contains(&new.len()) {
            Ok(())
        } else {
            Err(Error::InvalidParameter("a GIDS PIN has 4 to 16 characters"))
        }
    }

    /// A wrong-length PIN is not sent: it is a wrong PIN; report the tries the card still has.
    fn verify(&mut self, data: &[u8]) -> Result<()> {
        if !PIN_LENGTHS.contains(&data.len()) {
            let tries = self.gids().pin_status().ok().map(|s| u32::from(s.tries_left));
            return Err(Error::WrongPin { tries_left: tries });
        }
        Ok(self.gids().verify_pin(data)?)
    }

    fn import(&mut self, index: u8, blob: &[u8], role: KeyRole) -> Result<()> {
        let key = blobs::rsa_private_key_blob(blob)?;
        if key.role != role {
            return Err(Error::InvalidParameter("the key blob's algorithm does not fit dwKeySpec"));
        }
        let parts = RsaPrivateParts {
            n: Zeroizing::new(key.n.clone()),
            e: Zeroizing::new(trimmed(&key.e.to_be_bytes())),
            d: key.d,
            p: key.p,
            q: key.q,
            dp: key.dp,
            dq: key.dq,
            qinv: key.qinv,
        };
        if !matches!(key.bits, 1024 | 2048 | 3072 | 4096) {
            return Err(Error::InvalidParameter("GIDS keys are RSA 1024, 2048, 3072 or 4096"));
        }
        Ok(self.gids().import_key(index, &parts, role)?)
    }
}

/// A big-endian integer without leading zero bytes.
fn trimmed(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes.get(start..).unwrap_or_default().to_vec()
}

impl Edge for GidsCard {
    fn name(&self) -> &'static str {
        "GIDS"
    }

    fn link(&mut self) -> &mut Link {
        self.gids().session_mut().transport_mut()
    }

    fn counters(&self) -> Counters {
        self.vfs.storage().session().counters()
    }

    fn forget(&mut self) {
        self.gids().forget();
        self.vfs.reset();
    }

    fn principals(&self) -> Principals {
        let auth = self.vfs.storage().auth_state();
        Principals::new(auth.user, auth.admin)
    }

    fn files(&mut self) -> &mut dyn FileSystem {
        &mut self.vfs
    }

    fn card_id(&mut self) -> Result<[u8; 16]> {
        Ok(self.gids().card_id()?)
    }

    fn serial_number(&mut self) -> Result<Option<Vec<u8>>> {
        // GIDS has no serial number object; the cardid is the card's unique identity (as OpenSC
        // reports it for GIDS cards).
        Ok(Some(self.gids().card_id()?.to_vec()))
    }

    fn containers(&mut self) -> Result<Vec<Container>> {
        Ok(self.gids().containers()?.into_iter().map(Self::to_container).collect())
    }

    fn container(&mut self, index: u8) -> Result<Container> {
        self.gids().container(index)?.map(Self::to_container).ok_or(Error::NoKeyContainer)
    }

    fn check_new_key(&self, index: u8, key: &NewKey, pin_id: Option<PinId>) -> Result<()> {
        // Container i is key reference 81 + i: 126 of them.
        if usize::from(index) >= MAX_CONTAINERS {
            return Err(Error::NoKeyContainer);
        }
        match pin_id {
            None | Some(pin::ROLE_USER) => {}
            Some(pin::ROLE_ADMIN) => return Err(Error::InvalidParameter("ROLE_ADMIN cannot guard a key")),
            Some(_) => return Err(Error::InvalidParameter("GIDS keys are guarded by the user PIN")),
        }
        match key {
            NewKey::Generate(KeyAlgorithm::Rsa { .. }, _) => Ok(()),
            NewKey::Generate(..) => Err(Error::Unsupported("GIDS keys are RSA")),
            NewKey::Import(blob) => {
                let parsed = blobs::rsa_private_key_blob(blob)?;
                if matches!(parsed.bits, 1024 | 2048 | 3072 | 4096) {
                    Ok(())
                } else {
                    Err(Error::InvalidParameter("GIDS keys are RSA 1024, 2048, 3072 or 4096"))
                }
            }
        }
    }

    fn create_container(&mut self, index: u8, key: NewKey, pin_id: Option<PinId>) -> Result<()> {
        self.check_new_key(index, &key, pin_id)?;
        // An existing key is replaced (spec §4.6.1: "If the target container already exists,
        // it is overwritten by the new one"): the edge deletes its key file first.
        match key {
            NewKey::Generate(KeyAlgorithm::Rsa { bits }, role) => {
                self.gids().generate_key(index, KeyAlgorithm::Rsa { bits }, role)?;
                Ok(())
            }
            NewKey::Generate(..) => Err(Error::Unsupported("GIDS keys are RSA")),
            NewKey::Import(blob) => {
                let role = blobs::rsa_private_key_blob(&blob)?.role;
                self.import(index, &blob, role)
            }
        }
    }

    fn delete_container(&mut self, index: u8) -> Result<()> {
        if self.gids().container(index)?.is_none() {
            return Ok(());
        }
        Ok(self.gids().delete_container(index)?)
    }

    fn set_container_pin(&mut self, index: u8, pin_id: PinId) -> Result<()> {
        self.container(index)?;
        match pin_id {
            pin::ROLE_USER => Ok(()),
            pin::ROLE_ADMIN => Err(Error::InvalidParameter("ROLE_ADMIN cannot guard a key")),
            _ => Err(Error::Unsupported("GIDS keys are guarded by the user PIN")),
        }
    }

    fn set_associated_ecdh(&mut self, index: u8, _ecdh: u8) -> Result<()> {
        self.container(index)?;
        Err(Error::InvalidParameter("GIDS containers hold RSA keys: no ECDH key to associate"))
    }

    fn capabilities(&self) -> Capabilities {
        // The CSP compresses certificates itself (they are stored in its format); the card
        // generates keys with the user PIN.
        Capabilities { certificate_compression: false, key_gen: true }
    }

    fn imports_keys(&self) -> bool {
        true
    }

    fn read_only(&self) -> bool {
        false
    }

    fn cache_mode(&self) -> u32 {
        // The card holds a real cardcf that every writer (this driver, Windows, OpenSC) bumps.
        prop::CACHE_MODE_GLOBAL
    }

    fn supports_x509_enrollment(&mut self) -> Result<bool> {
        // Key generation and certificate writes need only the user PIN.
        Ok(true)
    }

    fn key_sizes(&mut self, key_spec: u32) -> Result<KeySizes> {
        match key_spec {
            keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE => {
                Ok(KeySizes { minimum: 1024, default: 2048, maximum: 4096, increment: 1024 })
            }
            keyspec::AT_ECDSA_P256
            | keyspec::AT_ECDSA_P384
            | keyspec::AT_ECDSA_P521
            | keyspec::AT_ECDHE_P256
            | keyspec::AT_ECDHE_P384
            | keyspec::AT_ECDHE_P521 => Err(Error::Unsupported("GIDS keys are RSA")),
            _ => Err(Error::InvalidParameter("unknown key spec")),
        }
    }

    fn algorithms(&mut self) -> Vec<&'static str> {
        vec!["RSA"]
    }

    fn list_pins(&mut self) -> Result<PinSet> {
        let mut set = pin::set_of(pin::ROLE_USER) | pin::set_of(pin::ROLE_ADMIN);
        if self.has_puk()? {
            set |= pin::set_of(PUK);
        }
        Ok(set)
    }

    fn has_pin(&mut self, id: PinId) -> Result<bool> {
        match id {
            pin::ROLE_USER | pin::ROLE_ADMIN => Ok(true),
            PUK => self.has_puk(),
            _ => Ok(false),
        }
    }

    fn pin_info(&mut self, id: PinId) -> Result<PinInfo> {
        let plain = |pin_type, purpose, change_permission, unblock_permission| PinInfo {
            pin_type,
            purpose,
            change_permission,
            unblock_permission,
            cache_policy: pin::CACHE_NORMAL,
            cache_policy_info: 0,
            flags: 0,
        };
        match id {
            pin::ROLE_EVERYONE => Ok(plain(pin::EMPTY, 0, 0, 0)),
            pin::ROLE_USER => {
                let mut unblock = pin::set_of(pin::ROLE_ADMIN);
                if self.has_puk()? {
                    unblock |= pin::set_of(PUK);
                }
                Ok(plain(pin::ALPHANUMERIC, pin::PURPOSE_PRIMARY, pin::set_of(pin::ROLE_USER), unblock))
            }
            pin::ROLE_ADMIN => {
                Ok(plain(pin::CHALLENGE_RESPONSE, pin::PURPOSE_ADMINISTRATOR, pin::set_of(pin::ROLE_ADMIN), 0))
            }
            PUK if self.has_puk()? => Ok(plain(pin::ALPHANUMERIC, pin::PURPOSE_UNBLOCK_ONLY, pin::set_of(PUK), 0)),
            _ => Err(Error::InvalidParameter("the card has no such PIN")),
        }
    }

    fn authenticated(&self) -> PinSet {
        let auth = self.vfs.storage().auth_state();
        let mut set = 0;
        if auth.user {
            set |= pin::set_of(pin::ROLE_USER);
        }
        if auth.admin {
            set |= pin::set_of(pin::ROLE_ADMIN);
        }
        set
    }

    fn authenticate(&mut self, id: PinId, data: &[u8]) -> Result<()> {
        match id {
            pin::ROLE_USER => self.verify(data),
            pin::ROLE_ADMIN => Ok(self.gids().answer_admin_challenge(data)?),
            PUK => Err(Error::Unsupported("the PUK only unblocks")),
            _ => Err(Error::InvalidParameter("no such PIN to authenticate")),
        }
    }

    fn tries_left(&mut self, id: PinId) -> Result<Option<u32>> {
        let status = match id {
            pin::ROLE_USER => Some(self.gids().pin_status()?),
            PUK => self.gids().puk_status()?,
            _ => None,
        };
        Ok(status.map(|s| u32::from(s.tries_left)))
    }

    fn deauthenticate(&mut self, pins: PinSet) -> Result<()> {
        // GIDS has one command for it, which ends the PIN's and the administrator's
        // authentication together (`00 20 00 82`): asking for either ends both.
        let auth = self.vfs.storage().auth_state();
        let asked = pins & (pin::set_of(pin::ROLE_USER) | pin::set_of(pin::ROLE_ADMIN)) != 0;
        if asked && (auth.user || auth.admin) {
            self.gids().logout()?;
        }
        Ok(())
    }

    fn challenge(&mut self, id: PinId) -> Result<Zeroizing<Vec<u8>>> {
        if id != pin::ROLE_ADMIN {
            return Err(Error::InvalidParameter("only ROLE_ADMIN is a challenge-response PIN"));
        }
        // Any command between the challenge and its answer voids the challenge (GIDS v2.0
        // GENERAL AUTHENTICATE): what the answering call will look up (whether the card has a
        // PUK, for the user PIN's PIN_INFO) is asked now, before the challenge.
        self.has_puk()?;
        Ok(self.gids().admin_challenge()?)
    }

    fn change_pin(&mut self, id: PinId, current: &[u8], new: &[u8]) -> Result<()> {
        match id {
            pin::ROLE_USER => {
                Self::check_pin_format(new)?;
                Ok(self.gids().change_pin(current, new)?)
            }
            pin::ROLE_ADMIN => {
                // The current authenticator is the response to the last challenge; the new one
                // is the new 3-key 3DES key.
                if new.len() != 24 {
                    return Err(Error::InvalidParameter("a GIDS administrator key is 24 bytes (3-key 3DES)"));
                }
                self.gids().answer_admin_challenge(current)?;
                Ok(self.gids().change_admin_key(new)?)
            }
            PUK if self.has_puk()? => {
                Self::check_pin_format(new)?;
                Ok(self.gids().change_puk(current, new)?)
            }
            _ => Err(Error::InvalidParameter("no such PIN")),
        }
    }

    fn unblock(&mut self, auth_pin: PinId, auth: &[u8], target: PinId, new: &[u8]) -> Result<()> {
        if target != pin::ROLE_USER {
            return Err(Error::InvalidParameter("only the user PIN can be unblocked"));
        }
        Self::check_pin_format(new)?;
        match auth_pin {
            pin::ROLE_ADMIN => {
                self.gids().answer_admin_challenge(auth)?;
                Ok(self.gids().reset_pin_as_admin(new)?)
            }
            PUK if self.has_puk()? => Ok(self.gids().unblock_pin_with_puk(auth, new)?),
            _ => Err(Error::InvalidParameter("this PIN cannot unblock that one")),
        }
    }

    fn sign(&mut self, index: u8, request: &SignRequest<'_>) -> Result<Vec<u8>> {
        self.container(index)?;
        let g = self.gids();
        Ok(match *request {
            SignRequest::Pkcs1 { hash_alg, hash } => g.sign_pkcs1(index, hash_alg, hash)?,
            SignRequest::Pss { hash_alg, hash, salt_len } => g.sign_pss(index, hash_alg, hash, salt_len)?,
            SignRequest::Raw { block } => g.sign_raw(index, block)?,
            SignRequest::Ecdsa { .. } => return Err(Error::InvalidParameter("padding does not fit the key type")),
        })
    }

    fn decrypt(&mut self, index: u8, ciphertext: &[u8], padding: &DecryptPadding<'_>) -> Result<Zeroizing<Vec<u8>>> {
        self.container(index)?;
        let padding = match *padding {
            DecryptPadding::None => gids::DecryptPadding::Raw,
            DecryptPadding::Pkcs1 => gids::DecryptPadding::Pkcs1,
            DecryptPadding::Oaep { hash_alg, label } => gids::DecryptPadding::Oaep { hash_alg, label },
        };
        Ok(self.gids().decrypt(index, ciphertext, &padding)?)
    }

    fn agree(&mut self, index: u8, _peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.container(index)?;
        Err(Error::InvalidParameter("key agreement needs an ECDH key"))
    }

    fn wants_contents(&self) -> bool {
        !self.vfs.storage().contents_known()
    }

    fn contents_snapshot(&mut self) -> Option<CacheEntry> {
        let tag = self.gids().contents_tag().ok()?;
        let bytes = self.gids().export_contents().ok()?;
        // Certificates and the container map: readable by everyone.
        Some(CacheEntry { tag, bytes, private: false })
    }

    fn contents_tag(&mut self) -> Result<Option<String>> {
        Ok(Some(self.gids().contents_tag()?))
    }

    fn load_contents(&mut self, snapshot: &[u8]) -> bool {
        self.gids().import_contents(snapshot).unwrap_or(false)
    }
}
