//! Writes with the user PIN alone, as Yubico's minidriver makes them: a PIV card changes its
//! objects and keys only for the card management key (9B, SP 800-73-4 Part 2 §3.2.4 and
//! Part 1 table 2), which the Base CSP never holds during enrolment. Tokens provisioned the
//! common way (ykman, yubico-piv-tool "PIN-protected management key") keep that key on the
//! card, readable after the PIN: ADMIN DATA says so (flag `02`) and PRINTED holds it (see
//! [`super::yubico`]). For a write that needs it, a verified user makes this edge read the key,
//! authenticate it (mutual authentication) and drop it: it lives in zeroized memory for that
//! one authentication and is never logged.
//!
//! A token still on the factory-default key (metadata says so) is written with that key, and
//! only when asked ([`PivEdge::set_protect_default_management_key`], or
//! [`PivEdge::protect_management_key`] directly) is it replaced by a random PIN-protected one,
//! as Yubico's minidriver does.

use zeroize::Zeroizing;

use super::DEFAULT_MANAGEMENT_KEY;
use super::auth::{MANAGEMENT_KEY_REF, ManagementAlgorithm, management_algorithm_id};
use super::edge::{PivEdge, status_error};
use super::objects::tag::PRINTED_INFO;
use super::yubico::{self, AdminData, ProtectedData};
use crate::error::{Error, Result};
use crate::iso7816::Command;
use crate::transport::Transport;

/// How a write that needs the card management key gets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagementKeyAccess {
    /// It is stored PIN-protected on the card (Yubico's ADMIN DATA flag `02`): the user PIN
    /// suffices.
    PinProtected,
    /// It is the factory default (metadata says so): the user PIN suffices too.
    FactoryDefault,
    /// Only who holds it can write (an administrator, `CardGetChallenge` and
    /// `CardAuthenticateChallenge`).
    HolderOnly,
}

impl ManagementKeyAccess {
    /// Whether the verified user can write (generate keys, write certificates and the
    /// container map): what `CP_SUPPORTS_WIN_X509_ENROLLMENT` reports.
    pub fn user_can_write(self) -> bool {
        !matches!(self, Self::HolderOnly)
    }
}

impl<T: Transport> PivEdge<T> {
    /// Replace a factory-default management key with a random PIN-protected one at the first
    /// write that needs the key (default: off, the default key is used as it is).
    pub fn set_protect_default_management_key(&mut self, on: bool) {
        self.protect_default_key = on;
    }

    /// Yubico's ADMIN DATA (`5FFF00`), read once per insertion (one APDU, only when a write or
    /// the enrolment question needs it).
    ///
    /// # Errors
    /// Transport failures; [`Error::Malformed`] for an object that does not parse.
    pub fn admin_data(&mut self) -> Result<Option<AdminData>> {
        if let Some(a) = &self.cache.admin_data {
            return Ok(a.clone());
        }
        let data = match self.get_data(yubico::tag::ADMIN_DATA) {
            Ok(Some(rsp)) => Some(AdminData::parse(super::objects::unwrap_data(&rsp)?)?),
            Ok(None) => None,
            // A card without Yubico's vendor objects may refuse the tag rather than miss it.
            Err(Error::Status(_) | Error::SecurityStatusNotSatisfied) => None,
            Err(e) => return Err(e),
        };
        self.cache.admin_data = Some(data.clone());
        Ok(data)
    }

    /// How a write gets the management key on this card: ADMIN DATA first (one APDU; a
    /// PIN-protected key needs nothing else), then the key's metadata (which the
    /// authentication needs anyway for the key's algorithm).
    ///
    /// # Errors
    /// Transport failures. A malformed ADMIN DATA is taken as absent (with a warning): the
    /// card is then written only by the key's holder.
    pub fn management_key_access(&mut self) -> Result<ManagementKeyAccess> {
        let protected = match self.admin_data() {
            Ok(a) => a.is_some_and(|a| a.mgmt_key_protected()),
            Err(Error::Malformed { what }) => {
                tracing::warn!(what, "ADMIN DATA (5FFF00) does not parse: not used");
                self.cache.admin_data = Some(None);
                false
            }
            Err(e) => return Err(e),
        };
        if protected {
            return Ok(ManagementKeyAccess::PinProtected);
        }
        self.management_algorithm()?;
        Ok(if self.mgmt_default == Some(true) {
            ManagementKeyAccess::FactoryDefault
        } else {
            ManagementKeyAccess::HolderOnly
        })
    }

    /// Whether a write needing the management key would succeed without one more
    /// authentication by the caller: the key is authenticated, or the user PIN is verified and
    /// the card gives the key to the user.
    pub fn can_write_objects(&mut self) -> bool {
        self.auth.admin
            || (self.auth.user && self.management_key_access().is_ok_and(ManagementKeyAccess::user_can_write))
    }

    /// Makes sure the management key is authenticated before a write: nothing to do when it
    /// is; with the user PIN verified, authenticates the key the card keeps PIN-protected (or
    /// the factory default, replaced first when [`PivEdge::set_protect_default_management_key`]
    /// asked: then PRINTED, ADMIN DATA and the key are written). Otherwise sends nothing that
    /// writes.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] when neither the key nor the user PIN is there, or
    /// the card gives the key to no user (before any write); malformed PRINTED data.
    pub fn authenticate_admin_for_user(&mut self) -> Result<()> {
        if self.auth.admin {
            return Ok(());
        }
        if !self.auth.user {
            return Err(Error::SecurityStatusNotSatisfied);
        }
        match self.management_key_access()? {
            ManagementKeyAccess::HolderOnly => Err(Error::SecurityStatusNotSatisfied),
            ManagementKeyAccess::PinProtected => {
                let key = self.stored_management_key()?;
                match self.authenticate_admin(&key) {
                    Ok(()) => {}
                    // A store interrupted before the key was changed leaves the default key.
                    Err(Error::WrongPin { .. }) if self.mgmt_default == Some(true) => {
                        self.authenticate_admin(&DEFAULT_MANAGEMENT_KEY)?;
                    }
                    Err(Error::WrongPin { .. }) => {
                        tracing::warn!("the PIN-protected management key stored on the card does not authenticate");
                        return Err(Error::SecurityStatusNotSatisfied);
                    }
                    Err(e) => return Err(e),
                }
                self.auth.admin_for_user = true;
                Ok(())
            }
            ManagementKeyAccess::FactoryDefault => {
                self.authenticate_admin(&DEFAULT_MANAGEMENT_KEY)?;
                self.auth.admin_for_user = true;
                if self.protect_default_key {
                    tracing::info!("replacing the factory-default management key with a random PIN-protected one");
                    self.protect_management_key()?;
                }
                Ok(())
            }
        }
    }

    /// The management key PRINTED holds (needs the PIN verified).
    fn stored_management_key(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let rsp = self.get_data_with(PRINTED_INFO, true)?.ok_or(Error::Malformed {
            what: "ADMIN DATA says the management key is PIN-protected, but PRINTED is absent",
        })?;
        let rsp = Zeroizing::new(rsp);
        let data = ProtectedData::parse(super::objects::unwrap_data(&rsp)?)?;
        let key = data.management_key()?;
        let alg = self.management_algorithm()?;
        if key.len() != alg.key_len() {
            return Err(Error::Malformed { what: "the stored management key's length does not fit its algorithm" });
        }
        Ok(Zeroizing::new(key.to_vec()))
    }

    /// Replaces the management key with a random one of the same algorithm, stored
    /// PIN-protected the way yubico-piv-tool and Yubico's minidriver store it: PRINTED gets
    /// `88 { 89 key }`, ADMIN DATA flag `02`, then the card the key (`FF`, Yubico's SET
    /// MANAGEMENT KEY). Needs the PIN verified (PRINTED is read first, so cardholder printed
    /// information is never overwritten) and the current key authenticated.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the PIN or the key; [`Error::Unsupported`]
    /// when PRINTED holds cardholder data or the card has no SET MANAGEMENT KEY.
    pub fn protect_management_key(&mut self) -> Result<()> {
        if !self.auth.user || !self.auth.admin {
            return Err(Error::SecurityStatusNotSatisfied);
        }
        let alg = self.management_algorithm()?;
        let old_printed = self.get_data_with(PRINTED_INFO, true)?.map(Zeroizing::new);
        let old_printed = match &old_printed {
            Some(rsp) => Some(Zeroizing::new(super::objects::unwrap_data(rsp)?.to_vec())),
            None => None,
        };
        let protected = match old_printed.as_ref().map(|p| p.as_slice()) {
            None | Some([]) => ProtectedData::default(),
            Some(content) if ProtectedData::is_yubico(content) => ProtectedData::parse(content)?,
            Some(_) => return Err(Error::Unsupported("PRINTED holds cardholder information: it is not overwritten")),
        };
        let old_admin = self.admin_data()?;
        let mut key = Zeroizing::new(vec![0u8; alg.key_len()]);
        getrandom::fill(&mut key).map_err(|_| Error::Crypto("no randomness for a management key"))?;
        let printed = protected.with_management_key(&key).encode()?;
        self.put_data_with(PRINTED_INFO, &printed, true)?;
        let admin = old_admin.clone().unwrap_or_default().with_mgmt_key_protected();
        let written =
            self.put_data(yubico::tag::ADMIN_DATA, &admin.encode()?).and_then(|()| self.set_management_key(alg, &key));
        if let Err(e) = written {
            // Put back what was there: the card still has its old key.
            let _ = self.put_data_with(PRINTED_INFO, old_printed.as_ref().map_or(&[][..], |p| p.as_slice()), true);
            let restore = old_admin.as_ref().map(AdminData::encode).transpose()?.unwrap_or_default();
            let _ = self.put_data(yubico::tag::ADMIN_DATA, &restore);
            self.cache.admin_data = None;
            return Err(e);
        }
        self.cache.admin_data = Some(Some(admin));
        self.mgmt_default = Some(false);
        Ok(())
    }

    /// Yubico's SET MANAGEMENT KEY: `00 FF FF FF { alg 9B len key }` (needs the current key).
    fn set_management_key(&mut self, alg: ManagementAlgorithm, key: &[u8]) -> Result<()> {
        let mut data = Zeroizing::new(vec![management_algorithm_id(alg), MANAGEMENT_KEY_REF]);
        data.push(u8::try_from(key.len()).map_err(|_| Error::InvalidArgument("management key too long"))?);
        data.extend_from_slice(key);
        let rsp = self.transmit(&Command::new(0x00, 0xFF, 0xFF, 0xFF).with_secret(data.to_vec()))?;
        match rsp.sw.0 {
            0x9000 => Ok(()),
            0x6D00 | 0x6E00 => Err(Error::Unsupported("the card cannot change its management key")),
            _ => Err(status_error(rsp.sw)),
        }
    }
}
