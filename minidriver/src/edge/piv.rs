//! The PIV edge as the minidriver presents it: roles, key specs and policies on top of
//! `card_edges::piv::PivEdge`.
//!
//! PINs:
//!
//! | id | what | type | purpose | change by | unblock by |
//! |---|---|---|---|---|---|
//! | 0 `ROLE_EVERYONE` | nothing (the 9E key needs no PIN) | Empty | Authentication | - | - |
//! | 1 `ROLE_USER` | PIV application PIN `80` | AlphaNumeric | PrimaryCard | 1 | 4 |
//! | 2 `ROLE_ADMIN` | card management key `9B` | ChallengeResponse | Administrator | - | - |
//! | 3 | the same PIN `80`, for the 9C key, verified right before each use | AlphaNumeric, AlwaysPrompt | DigitalSignature | 3 | 4 |
//! | 4 | PUK `81` | AlphaNumeric | UnblockOnly | 4 | - |
//!
//! The card management key can be neither changed nor used to unblock through PIV's standard
//! commands, so those requests are `SCARD_E_UNSUPPORTED_FEATURE`.
//!
//! Writes (key generation, certificates, `cmapfile`, `msroots`, deletion) need the management
//! key. Where the card keeps it PIN-protected (Yubico's convention) or still has the factory
//! default, a verified ROLE_USER is enough: the edge authenticates the key for the write (see
//! `card_edges::piv::ManagementKeyAccess`), and `CP_SUPPORTS_WIN_X509_ENROLLMENT` is TRUE. That
//! authentication is the user's, not an administrator's: it gives no ROLE_ADMIN, and it lasts
//! on the card until a reset, so deauthenticating the user asks the CSP for one.

use std::collections::BTreeMap;

use card_edges::iso7816::Counters;
use card_edges::key::KeyAlgorithm;
use card_edges::piv::{PivEdge, Slot};
use vfs::{Principals, Vfs};
use zeroize::Zeroizing;

use super::{
    CacheEntry, Capabilities, Container, DecryptPadding, Edge, FileSystem, KeyRole, KeySizes, NewKey, PinId, PinInfo,
    PinSet, SignRequest,
};
use crate::abi::{keyspec, pin, prop};
use crate::error::{Error, Result};
use crate::link::Link;

/// The PIN verified right before every use of the 9C key.
pub(crate) const SIGNATURE_PIN: PinId = 3;
/// The PUK.
pub(crate) const PUK: PinId = 4;

/// The PIV edge behind one context.
pub(crate) struct PivCard {
    vfs: Vfs<PivEdge<Link>>,
    /// `CCP_ASSOCIATED_ECDH_KEY` values the CSP set.
    associations: BTreeMap<u8, u8>,
}

impl PivCard {
    /// Wraps an edge whose application is already selected (or not: it selects on demand).
    pub(crate) fn new(edge: PivEdge<Link>) -> Self {
        Self { vfs: Vfs::with_write_simulation(edge), associations: BTreeMap::new() }
    }

    fn piv(&mut self) -> &mut PivEdge<Link> {
        self.vfs.storage_mut()
    }

    fn slot(index: u8) -> Result<Slot> {
        Slot::from_container_index(usize::from(index)).ok_or(Error::NoKeyContainer)
    }

    fn pin_of(slot: Slot) -> PinId {
        if slot.pin_always() {
            SIGNATURE_PIN
        } else if slot.needs_pin() {
            pin::ROLE_USER
        } else {
            pin::ROLE_EVERYONE
        }
    }

    fn to_container(&self, c: card_edges::piv::Container, all: &[card_edges::piv::Container]) -> Result<Container> {
        let index = u8::try_from(c.index).map_err(|_| Error::NoKeyContainer)?;
        let role = c.role;
        let associated_ecdh = match self.associations.get(&index) {
            Some(i) => Some(*i),
            None if role == KeyRole::Signature && !c.content.public_key.algorithm().is_rsa() => all
                .iter()
                .find(|o| {
                    o.role == KeyRole::Exchange && o.content.public_key.algorithm() == c.content.public_key.algorithm()
                })
                .and_then(|o| u8::try_from(o.index).ok()),
            None => None,
        };
        Ok(Container {
            index,
            name: c.name,
            role,
            public_key: c.content.public_key,
            certificate: c.content.certificate,
            pin: Self::pin_of(c.slot),
            default: c.default,
            associated_ecdh,
        })
    }

    fn supported_algorithms(&mut self) -> Vec<KeyAlgorithm> {
        let listed: Vec<KeyAlgorithm> = self
            .piv()
            .advertised_algorithms()
            .iter()
            .filter_map(|id| card_edges::piv::algorithm::from_id(*id))
            .collect();
        if listed.is_empty() {
            // No property template list (YubiKeys send none): the SP 800-78 set.
            vec![KeyAlgorithm::Rsa { bits: 2048 }, KeyAlgorithm::P256, KeyAlgorithm::P384]
        } else {
            listed
        }
    }

    /// A wrong-format PIN is not sent, and one the card refuses as malformed (`6A 80`: PIV PINs
    /// are digits) spends no try: both are wrong PINs; report the tries the card still has.
    fn verify(&mut self, data: &[u8]) -> Result<()> {
        match self.piv().verify_pin(data) {
            Err(card_edges::Error::InvalidArgument(_))
            | Err(card_edges::Error::Status(card_edges::iso7816::StatusWord::INCORRECT_DATA)) => {
                let tries = self.piv().pin_tries().ok().flatten().map(u32::from);
                Err(Error::WrongPin { tries_left: tries })
            }
            other => Ok(other?),
        }
    }
}

impl Edge for PivCard {
    fn name(&self) -> &'static str {
        "PIV"
    }

    fn link(&mut self) -> &mut Link {
        self.piv().session_mut().transport_mut()
    }

    fn counters(&self) -> Counters {
        self.vfs.storage().session().counters()
    }

    fn forget(&mut self) {
        self.piv().forget();
        self.vfs.reset();
    }

    fn principals(&self) -> Principals {
        let auth = self.vfs.storage().auth_state();
        Principals::new(auth.user, auth.admin && !auth.admin_for_user)
    }

    fn files(&mut self) -> &mut dyn FileSystem {
        &mut self.vfs
    }

    fn card_id(&mut self) -> Result<[u8; 16]> {
        Ok(self.piv().card_id()?)
    }

    fn serial_number(&mut self) -> Result<Option<Vec<u8>>> {
        // The FASC-N is the PIV card's serial (SP 800-73-4 Part 1 §3.1.2) when present.
        Ok(self.piv().chuid()?.and_then(|c| c.usable_fasc_n().map(<[u8]>::to_vec)))
    }

    fn containers(&mut self) -> Result<Vec<Container>> {
        let all = self.piv().containers()?;
        all.iter().cloned().map(|c| self.to_container(c, &all)).collect()
    }

    fn container(&mut self, index: u8) -> Result<Container> {
        let all = self.piv().containers()?;
        let c = all.iter().find(|c| c.index == usize::from(index)).cloned().ok_or(Error::NoKeyContainer)?;
        self.to_container(c, &all)
    }

    fn create_container(&mut self, index: u8, key: NewKey, pin_id: Option<PinId>) -> Result<()> {
        let slot = Self::slot(index)?;
        let pin_id = pin_id.unwrap_or_else(|| Self::pin_of(slot));
        if pin_id == pin::ROLE_ADMIN {
            return Err(Error::SecurityViolation);
        }
        match key {
            NewKey::Import(_) => Err(Error::Unsupported("PIV has no standard key import")),
            NewKey::Generate(algorithm, role) => {
                if slot.role_of(algorithm) != role {
                    return Err(Error::Unsupported("this slot holds keys of the other key spec"));
                }
                if !self.supported_algorithms().contains(&algorithm) {
                    return Err(Error::Unsupported("the card does not list this algorithm"));
                }
                if pin_id != Self::pin_of(slot) {
                    return Err(Error::InvalidParameter("a PIV slot's PIN policy is fixed"));
                }
                self.piv().generate_key(slot, algorithm)?;
                Ok(())
            }
        }
    }

    fn delete_container(&mut self, index: u8) -> Result<()> {
        let Ok(slot) = Self::slot(index) else { return Ok(()) };
        match self.container(index) {
            Err(Error::NoKeyContainer) => Ok(()),
            Err(e) => Err(e),
            // PIV cannot delete a key; removing its certificate removes the container.
            Ok(_) => Ok(self.piv().delete_certificate(slot)?),
        }
    }

    fn set_container_pin(&mut self, index: u8, pin_id: PinId) -> Result<()> {
        let c = self.container(index)?;
        if pin_id == pin::ROLE_ADMIN {
            return Err(Error::InvalidParameter("ROLE_ADMIN cannot guard a key"));
        }
        if c.pin == pin_id { Ok(()) } else { Err(Error::Unsupported("a PIV slot's PIN policy is fixed")) }
    }

    fn set_associated_ecdh(&mut self, index: u8, ecdh: u8) -> Result<()> {
        let c = self.container(index)?;
        let other = self.container(ecdh)?;
        if other.role != KeyRole::Exchange || other.public_key.algorithm().is_rsa() || c.public_key.algorithm().is_rsa()
        {
            return Err(Error::InvalidParameter("the associated key must be an ECDH key"));
        }
        self.associations.insert(index, ecdh);
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        // Plain DER goes to the CSP (gzip undone here); the card generates keys under 9B.
        Capabilities { certificate_compression: true, key_gen: true }
    }

    fn read_only(&self) -> bool {
        false
    }

    fn imports_keys(&self) -> bool {
        // PIV has no standard key import (vendor commands aside).
        false
    }

    fn cache_mode(&self) -> u32 {
        // PIV content changes only at an issuance station (with a new CHUID): the CSP may
        // cache per process, but not across insertions.
        prop::CACHE_MODE_SESSION_ONLY
    }

    fn supports_x509_enrollment(&mut self) -> Result<bool> {
        // Key generation needs the management key, which the CSP's enrollment does not hold:
        // TRUE only where the user PIN gets it (one read of ADMIN DATA, then the metadata).
        Ok(self.piv().management_key_access()?.user_can_write())
    }

    fn key_sizes(&mut self, key_spec: u32) -> Result<KeySizes> {
        let algorithms = self.supported_algorithms();
        let ec = |alg: KeyAlgorithm, bits: u32| {
            if algorithms.contains(&alg) {
                Ok(KeySizes { minimum: bits, default: bits, maximum: bits, increment: 1 })
            } else {
                Err(Error::Unsupported("the card does not list this curve"))
            }
        };
        match key_spec {
            keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE => {
                let sizes: Vec<u32> = algorithms.iter().filter(|a| a.is_rsa()).map(|a| u32::from(a.bits())).collect();
                let (Some(min), Some(max)) = (sizes.iter().min().copied(), sizes.iter().max().copied()) else {
                    return Err(Error::Unsupported("the card does not list RSA"));
                };
                let default = if sizes.contains(&2048) { 2048 } else { max };
                Ok(KeySizes { minimum: min, default, maximum: max, increment: if min == max { 0 } else { 1024 } })
            }
            keyspec::AT_ECDSA_P256 | keyspec::AT_ECDHE_P256 => ec(KeyAlgorithm::P256, 256),
            keyspec::AT_ECDSA_P384 | keyspec::AT_ECDHE_P384 => ec(KeyAlgorithm::P384, 384),
            keyspec::AT_ECDSA_P521 | keyspec::AT_ECDHE_P521 => Err(Error::Unsupported("PIV has no P-521")),
            _ => Err(Error::InvalidParameter("unknown key spec")),
        }
    }

    fn algorithms(&mut self) -> Vec<&'static str> {
        let listed = self.supported_algorithms();
        let mut names = Vec::new();
        if listed.iter().any(|a| a.is_rsa()) {
            names.push("RSA");
        }
        for (alg, ecdsa, ecdh) in
            [(KeyAlgorithm::P256, "ECDSA_P256", "ECDH_P256"), (KeyAlgorithm::P384, "ECDSA_P384", "ECDH_P384")]
        {
            if listed.contains(&alg) {
                names.extend([ecdsa, ecdh]);
            }
        }
        names
    }

    fn list_pins(&mut self) -> Result<PinSet> {
        Ok(pin::set_of(pin::ROLE_USER) | pin::set_of(pin::ROLE_ADMIN) | pin::set_of(SIGNATURE_PIN) | pin::set_of(PUK))
    }

    fn always_prompt(&self, id: PinId) -> bool {
        id == SIGNATURE_PIN
    }

    fn pin_info(&mut self, id: PinId) -> Result<PinInfo> {
        let user_like = |purpose, cache| PinInfo {
            pin_type: pin::ALPHANUMERIC,
            purpose,
            change_permission: pin::set_of(id),
            unblock_permission: pin::set_of(PUK),
            cache_policy: cache,
            cache_policy_info: 0,
            flags: 0,
        };
        match id {
            pin::ROLE_EVERYONE => Ok(PinInfo {
                pin_type: pin::EMPTY,
                purpose: 0,
                change_permission: 0,
                unblock_permission: 0,
                cache_policy: pin::CACHE_NORMAL,
                cache_policy_info: 0,
                flags: 0,
            }),
            pin::ROLE_USER => Ok(user_like(pin::PURPOSE_PRIMARY, pin::CACHE_NORMAL)),
            SIGNATURE_PIN => Ok(user_like(pin::PURPOSE_DIGITAL_SIGNATURE, pin::CACHE_ALWAYS_PROMPT)),
            pin::ROLE_ADMIN => Ok(PinInfo {
                pin_type: pin::CHALLENGE_RESPONSE,
                purpose: pin::PURPOSE_ADMINISTRATOR,
                change_permission: 0,
                unblock_permission: 0,
                cache_policy: pin::CACHE_NORMAL,
                cache_policy_info: 0,
                flags: 0,
            }),
            PUK => Ok(PinInfo {
                pin_type: pin::ALPHANUMERIC,
                purpose: pin::PURPOSE_UNBLOCK_ONLY,
                change_permission: pin::set_of(PUK),
                unblock_permission: 0,
                cache_policy: pin::CACHE_NORMAL,
                cache_policy_info: 0,
                flags: 0,
            }),
            _ => Err(Error::InvalidParameter("the card has no such PIN")),
        }
    }

    fn authenticated(&self) -> PinSet {
        let auth = self.vfs.storage().auth_state();
        let mut set = 0;
        if auth.user {
            set |= pin::set_of(pin::ROLE_USER) | pin::set_of(SIGNATURE_PIN);
        }
        if auth.admin && !auth.admin_for_user {
            set |= pin::set_of(pin::ROLE_ADMIN);
        }
        set
    }

    fn authenticate(&mut self, id: PinId, data: &[u8]) -> Result<()> {
        match id {
            pin::ROLE_USER => self.verify(data),
            SIGNATURE_PIN => {
                // The 9C key needs the VERIFY immediately before its GENERAL AUTHENTICATE: read
                // what signing looks up first (best effort), so the next CardSignData sends
                // nothing in between.
                let _ = self.piv().containers();
                self.verify(data)
            }
            pin::ROLE_ADMIN => Ok(self.piv().answer_challenge(data)?),
            PUK => Err(Error::Unsupported("the PUK only unblocks")),
            _ => Err(Error::InvalidParameter("no such PIN to authenticate")),
        }
    }

    fn tries_left(&mut self, id: PinId) -> Result<Option<u32>> {
        let tries = match id {
            pin::ROLE_USER | SIGNATURE_PIN => self.piv().pin_tries(),
            PUK => self.piv().puk_tries(),
            _ => return Ok(None),
        };
        match tries {
            Ok(t) => Ok(t.map(u32::from)),
            Err(card_edges::Error::PinBlocked) => Ok(Some(0)),
            Err(e) => Err(e.into()),
        }
    }

    fn deauthenticate(&mut self, pins: PinSet) -> Result<()> {
        let auth = self.vfs.storage().auth_state();
        if pins & pin::set_of(pin::ROLE_ADMIN) != 0 && auth.admin && !auth.admin_for_user {
            return Err(Error::Unsupported("PIV cannot drop the management key authentication without a reset"));
        }
        let user_bits = pin::set_of(pin::ROLE_USER) | pin::set_of(SIGNATURE_PIN);
        if pins & user_bits != 0 && auth.admin_for_user {
            // The management key authenticated for the user's writes outlives a VERIFY logout.
            return Err(Error::Unsupported("the management key authenticated for the user lasts until a reset"));
        }
        if pins & user_bits != 0 && auth.user {
            self.piv().logout_pin()?;
        }
        Ok(())
    }

    fn challenge(&mut self, id: PinId) -> Result<Zeroizing<Vec<u8>>> {
        if id != pin::ROLE_ADMIN {
            return Err(Error::InvalidParameter("only ROLE_ADMIN is a challenge-response PIN"));
        }
        match self.piv().admin_challenge() {
            Err(card_edges::Error::Status(_)) => Err(Error::Unsupported("the card refuses management key challenges")),
            other => Ok(other?),
        }
    }

    fn change_pin(&mut self, id: PinId, current: &[u8], new: &[u8]) -> Result<()> {
        if id == pin::ROLE_ADMIN {
            return Err(Error::Unsupported("PIV has no standard command to change the management key"));
        }
        card_edges::piv::pad_pin(new).map_err(|_| Error::InvalidParameter("a PIV PIN has 6 to 8 characters"))?;
        match id {
            pin::ROLE_USER | SIGNATURE_PIN => Ok(self.piv().change_pin(current, new)?),
            PUK => Ok(self.piv().change_puk(current, new)?),
            pin::ROLE_ADMIN => Err(Error::Unsupported("PIV has no standard command to change the management key")),
            _ => Err(Error::InvalidParameter("no such PIN")),
        }
    }

    fn unblock(&mut self, auth_pin: PinId, auth: &[u8], target: PinId, new: &[u8]) -> Result<()> {
        if auth_pin == pin::ROLE_ADMIN {
            return Err(Error::Unsupported("PIV unblocks the PIN with the PUK, not the management key"));
        }
        card_edges::piv::pad_pin(new).map_err(|_| Error::InvalidParameter("a PIV PIN has 6 to 8 characters"))?;
        match (auth_pin, target) {
            (PUK, pin::ROLE_USER | SIGNATURE_PIN) => Ok(self.piv().unblock_pin(auth, new)?),
            (pin::ROLE_ADMIN, _) => {
                Err(Error::Unsupported("PIV unblocks the PIN with the PUK, not the management key"))
            }
            _ => Err(Error::InvalidParameter("this PIN cannot unblock that one")),
        }
    }

    fn sign(&mut self, index: u8, request: &SignRequest<'_>) -> Result<Vec<u8>> {
        let slot = Self::slot(index)?;
        let algorithm = self.container(index)?.public_key.algorithm();
        let piv = self.piv();
        let out = match (*request, algorithm.is_rsa()) {
            (SignRequest::Pkcs1 { hash_alg, hash }, true) => piv.sign_pkcs1(slot, hash_alg, hash)?,
            (SignRequest::Pss { hash_alg, hash, salt_len }, true) => piv.sign_pss(slot, hash_alg, hash, salt_len)?,
            (SignRequest::Raw { block }, true) => {
                let k = algorithm.byte_len();
                if block.len() > k {
                    return Err(Error::InvalidParameter("block longer than the modulus"));
                }
                let mut padded = Zeroizing::new(vec![0u8; k - block.len()]);
                padded.extend_from_slice(block);
                piv.private_operation(slot, &padded)?.to_vec()
            }
            (SignRequest::Ecdsa { hash }, false) => piv.sign_ecdsa(slot, hash)?,
            _ => return Err(Error::InvalidParameter("padding does not fit the key type")),
        };
        Ok(out)
    }

    fn decrypt(&mut self, index: u8, ciphertext: &[u8], padding: &DecryptPadding<'_>) -> Result<Zeroizing<Vec<u8>>> {
        let slot = Self::slot(index)?;
        if !self.container(index)?.public_key.algorithm().is_rsa() {
            return Err(Error::InvalidParameter("RSA decryption with an EC key"));
        }
        let piv = self.piv();
        Ok(match *padding {
            DecryptPadding::None => piv.decrypt_raw(slot, ciphertext)?,
            DecryptPadding::Pkcs1 => piv.decrypt_pkcs1(slot, ciphertext)?,
            DecryptPadding::Oaep { hash_alg, label } => piv.decrypt_oaep(slot, ciphertext, hash_alg, label)?,
        })
    }

    fn agree(&mut self, index: u8, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let slot = Self::slot(index)?;
        let c = self.container(index)?;
        if c.public_key.algorithm().is_rsa() || c.role != KeyRole::Exchange {
            return Err(Error::InvalidParameter("key agreement needs an ECDH key"));
        }
        Ok(self.piv().ecdh(slot, peer_point)?)
    }

    fn wants_contents(&self) -> bool {
        !self.vfs.storage().contents_known()
    }

    fn contents_snapshot(&mut self) -> Option<CacheEntry> {
        let tag = self.contents_tag().ok()??;
        let bytes = self.piv().export_contents().ok()?;
        // Certificates and the container map: readable by everyone.
        Some(CacheEntry { tag, bytes, private: false })
    }

    fn contents_tag(&mut self) -> Result<Option<String>> {
        let id = self.piv().card_id()?;
        Ok(Some(format!("piv-contents-{}", hex::encode(id))))
    }

    fn load_contents(&mut self, snapshot: &[u8]) -> bool {
        self.piv().import_contents(snapshot).unwrap_or(false)
    }
}
