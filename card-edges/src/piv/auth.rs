//! PIN and management-key authentication (SP 800-73-4 Part 2 §3.2, research/piv.md §1.8-1.9).

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::edge::{PivEdge, status_error};
use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Command, Status, apdu::ins};
use crate::transport::Transport;

/// The card management key's reference.
pub const MANAGEMENT_KEY_REF: u8 = 0x9B;
/// The PIN Unblocking Key's reference.
pub const PUK_REF: u8 = 0x81;

/// Algorithms the management key (9B) can have: a block cipher in ECB on one block.
pub type ManagementAlgorithm = crate::crypto::BlockCipher;

/// The PIV algorithm identifier of a management key algorithm (SP 800-78-4 table 6-1).
pub const fn management_algorithm_id(alg: ManagementAlgorithm) -> u8 {
    match alg {
        ManagementAlgorithm::TripleDes => 0x03,
        ManagementAlgorithm::Aes128 => 0x08,
        ManagementAlgorithm::Aes192 => 0x0A,
        ManagementAlgorithm::Aes256 => 0x0C,
    }
}

/// The management key algorithm a PIV identifier names (`00` is the old 3DES number).
pub const fn management_algorithm_from_id(id: u8) -> Option<ManagementAlgorithm> {
    match id {
        0x00 | 0x03 => Some(ManagementAlgorithm::TripleDes),
        0x08 => Some(ManagementAlgorithm::Aes128),
        0x0A => Some(ManagementAlgorithm::Aes192),
        0x0C => Some(ManagementAlgorithm::Aes256),
        _ => None,
    }
}

/// A challenge the card issued for external (card-to-host) management-key authentication.
#[derive(Clone)]
pub struct Challenge {
    pub(crate) algorithm: ManagementAlgorithm,
}

impl core::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Challenge").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// Formats a PIN or PUK as PIV requires: 6 to 8 bytes, right-padded with `FF` to 8.
///
/// # Errors
/// [`Error::InvalidArgument`] for other lengths (nothing is sent, so no try is spent).
pub fn pad_pin(pin: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if !(6..=8).contains(&pin.len()) {
        return Err(Error::InvalidArgument("a PIV PIN or PUK has 6 to 8 characters"));
    }
    let mut out = Zeroizing::new(vec![0xFF; 8]);
    if let Some(head) = out.get_mut(..pin.len()) {
        head.copy_from_slice(pin);
    }
    Ok(out)
}

impl<T: Transport> PivEdge<T> {
    /// The PIN reference in use (`80`, or `00` when the card only has the global PIN).
    pub fn pin_reference(&self) -> u8 {
        self.pin_ref
    }

    /// VERIFY the user PIN.
    ///
    /// # Errors
    /// [`Error::WrongPin`] with the tries left, [`Error::PinBlocked`], [`Error::InvalidArgument`]
    /// for a PIN of the wrong length (not sent).
    pub fn verify_pin(&mut self, pin: &[u8]) -> Result<()> {
        let padded = pad_pin(pin)?;
        let mut rsp =
            self.transmit(&Command::new(0x00, ins::VERIFY, 0x00, self.pin_ref).with_secret(padded.to_vec()))?;
        if matches!(rsp.sw.status(), Status::ReferenceNotFound) && self.pin_ref == 0x80 {
            // No PIV application PIN: the card uses the global PIN.
            self.pin_ref = 0x00;
            rsp = self.transmit(&Command::new(0x00, ins::VERIFY, 0x00, self.pin_ref).with_secret(padded.to_vec()))?;
        }
        self.auth.user = rsp.sw.is_success();
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }

    /// Tries left for the user PIN, without spending one (empty VERIFY). `Ok(None)` when the
    /// PIN is currently verified (cards answer `90 00` and no count).
    ///
    /// # Errors
    /// [`Error::PinBlocked`] when no try is left; transport failures.
    pub fn pin_tries(&mut self) -> Result<Option<u8>> {
        self.reference_tries(self.pin_ref)
    }

    /// Tries left for the PUK, without spending one.
    ///
    /// # Errors
    /// As [`PivEdge::pin_tries`].
    pub fn puk_tries(&mut self) -> Result<Option<u8>> {
        self.reference_tries(PUK_REF)
    }

    fn reference_tries(&mut self, reference: u8) -> Result<Option<u8>> {
        let rsp = self.transmit(&Command::new(0x00, ins::VERIFY, 0x00, reference))?;
        match rsp.sw.status() {
            Status::Success => Ok(None),
            Status::VerifyFailed { tries_left } => Ok(Some(tries_left)),
            Status::Blocked => Err(Error::PinBlocked),
            _ => Err(status_error(rsp.sw)),
        }
    }

    /// CHANGE REFERENCE DATA for the user PIN; the PIN is verified afterwards.
    ///
    /// # Errors
    /// As [`PivEdge::verify_pin`].
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        let result = self.change_reference(self.pin_ref, old, new);
        self.auth.user = result.is_ok();
        result
    }

    /// CHANGE REFERENCE DATA for the PUK.
    ///
    /// # Errors
    /// As [`PivEdge::verify_pin`], for the PUK.
    pub fn change_puk(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        self.change_reference(PUK_REF, old, new)
    }

    fn change_reference(&mut self, reference: u8, old: &[u8], new: &[u8]) -> Result<()> {
        let mut data = Zeroizing::new(pad_pin(old)?.to_vec());
        data.extend_from_slice(&pad_pin(new)?);
        let rsp =
            self.transmit(&Command::new(0x00, ins::CHANGE_REFERENCE_DATA, 0x00, reference).with_secret(data.to_vec()))?;
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }

    /// RESET RETRY COUNTER: unblocks the user PIN with the PUK and sets `new_pin`. The PIN is
    /// not verified afterwards (the spec wants an unblock to leave the card deauthenticated).
    ///
    /// # Errors
    /// [`Error::WrongPin`] (tries left of the PUK), [`Error::PinBlocked`] (PUK blocked).
    pub fn unblock_pin(&mut self, puk: &[u8], new_pin: &[u8]) -> Result<()> {
        let mut data = Zeroizing::new(pad_pin(puk)?.to_vec());
        data.extend_from_slice(&pad_pin(new_pin)?);
        let rsp = self
            .transmit(&Command::new(0x00, ins::RESET_RETRY_COUNTER, 0x00, self.pin_ref).with_secret(data.to_vec()))?;
        self.auth.user = false;
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }

    /// Ends the user PIN's verified state (VERIFY with P1 = `FF`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the card cannot (the caller must then reset it).
    pub fn logout_pin(&mut self) -> Result<()> {
        let rsp = self.transmit(&Command::new(0x00, ins::VERIFY, 0xFF, self.pin_ref))?;
        if rsp.sw.is_success() {
            self.auth.user = false;
            Ok(())
        } else {
            Err(Error::Unsupported("this card cannot log out without a reset"))
        }
    }

    /// The management key's algorithm: YubiKey-style metadata (`00 F7 00 9B`) when the card
    /// offers it, else Triple DES, the PIV default. Asked once per insertion.
    ///
    /// # Errors
    /// Transport failures.
    pub fn management_algorithm(&mut self) -> Result<ManagementAlgorithm> {
        if let Some(alg) = self.mgmt_alg {
            return Ok(alg);
        }
        let rsp = self.transmit(&Command::new(0x00, 0xF7, 0x00, MANAGEMENT_KEY_REF).with_le(256))?;
        let element = |tag| tlv::Reader::new(&rsp.data).find(Tag(tag)).ok().flatten().and_then(|v| v.first().copied());
        let alg = if rsp.sw.is_success() {
            element(0x01).and_then(management_algorithm_from_id).unwrap_or(ManagementAlgorithm::TripleDes)
        } else {
            ManagementAlgorithm::TripleDes
        };
        // The same answer says whether the key is the factory default (`05`, YubiKey 5.3+).
        self.mgmt_default = if rsp.sw.is_success() { element(0x05).map(|d| d == 0x01) } else { None };
        self.mgmt_alg = Some(alg);
        Ok(alg)
    }

    /// Asks the card for a management-key challenge (external authentication, step 1): the
    /// Base CSP's `CardGetChallenge`. The answer is `E_K(challenge)` through
    /// [`PivEdge::answer_challenge`], and must be the next command to the card.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the card refuses; malformed responses.
    pub fn admin_challenge(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let alg = self.management_algorithm()?;
        let rsp =
            self.general_authenticate(management_algorithm_id(alg), MANAGEMENT_KEY_REF, &[(0x81, &[])], false, 256)?;
        let challenge = dynamic_element(&rsp, 0x81)?;
        if challenge.len() != alg.block_len() {
            return Err(Error::Malformed { what: "management key challenge of the wrong length" });
        }
        let challenge = Zeroizing::new(challenge.to_vec());
        self.pending_challenge = Some(Challenge { algorithm: alg });
        self.auth.admin = false;
        self.auth.admin_for_user = false;
        Ok(challenge)
    }

    /// Answers the outstanding challenge (external authentication, step 2).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] without an outstanding challenge (no try is spent);
    /// [`Error::WrongPin`] for a wrong response (tries unknown for 9B).
    pub fn answer_challenge(&mut self, response: &[u8]) -> Result<()> {
        let Some(challenge) = self.pending_challenge.take() else {
            return Err(Error::InvalidArgument("no outstanding management key challenge"));
        };
        if response.len() != challenge.algorithm.block_len() {
            return Err(Error::WrongPin { tries_left: None });
        }
        let rsp = self.general_authenticate_raw(
            management_algorithm_id(challenge.algorithm),
            MANAGEMENT_KEY_REF,
            &[(0x82, response)],
            true,
            256,
        )?;
        self.auth.admin = rsp.sw.is_success();
        self.auth.admin_for_user = false;
        match rsp.sw.status() {
            Status::Success => Ok(()),
            Status::SecurityNotSatisfied | Status::VerifyFailed { .. } | Status::CheckingError => {
                Err(Error::WrongPin { tries_left: None })
            }
            Status::Blocked => Err(Error::PinBlocked),
            _ => Err(status_error(rsp.sw)),
        }
    }

    /// Authenticates with the management key itself (mutual authentication: the card proves
    /// it knows the key too), for applications and tools that hold the key.
    ///
    /// # Errors
    /// [`Error::WrongPin`] for a wrong key; [`Error::Crypto`] when the card's proof is wrong.
    pub fn authenticate_admin(&mut self, key: &[u8]) -> Result<()> {
        let alg = self.management_algorithm()?;
        self.auth.admin = false;
        self.auth.admin_for_user = false;
        let rsp =
            self.general_authenticate(management_algorithm_id(alg), MANAGEMENT_KEY_REF, &[(0x80, &[])], false, 256)?;
        let witness = alg.decrypt_block(key, dynamic_element(&rsp, 0x80)?)?;
        let mut challenge = Zeroizing::new(vec![0u8; alg.block_len()]);
        getrandom::fill(&mut challenge).map_err(|_| Error::Crypto("no randomness for the host challenge"))?;
        let rsp = self.general_authenticate_raw(
            management_algorithm_id(alg),
            MANAGEMENT_KEY_REF,
            &[(0x80, &witness), (0x81, &challenge)],
            true,
            256,
        )?;
        if !rsp.sw.is_success() {
            return Err(match rsp.sw.status() {
                Status::Blocked => Error::PinBlocked,
                _ => Error::WrongPin { tries_left: None },
            });
        }
        let expected = alg.encrypt_block(key, &challenge)?;
        let proof = dynamic_element(&rsp.data, 0x82)?;
        if !bool::from(proof.ct_eq(&expected)) {
            return Err(Error::Crypto("the card's management key proof is wrong"));
        }
        self.auth.admin = true;
        Ok(())
    }

    /// GENERAL AUTHENTICATE with a dynamic authentication template of `elements`, returning
    /// the template's content on `90 00`.
    /// `le` is the largest answer expected: a short APDU is used when it fits.
    pub(crate) fn general_authenticate(
        &mut self,
        alg: u8,
        key_ref: u8,
        elements: &[(u8, &[u8])],
        secret: bool,
        le: usize,
    ) -> Result<Vec<u8>> {
        let rsp = self.general_authenticate_raw(alg, key_ref, elements, secret, le)?;
        if !rsp.sw.is_success() {
            return Err(status_error(rsp.sw));
        }
        Ok(rsp.data)
    }

    pub(crate) fn general_authenticate_raw(
        &mut self,
        alg: u8,
        key_ref: u8,
        elements: &[(u8, &[u8])],
        secret: bool,
        le: usize,
    ) -> Result<crate::iso7816::Response> {
        let mut inner = Zeroizing::new(Vec::new());
        for (tag, value) in elements {
            tlv::write(&mut inner, Tag(u32::from(*tag)), value)?;
        }
        let mut template = Zeroizing::new(Vec::with_capacity(inner.len() + 4));
        tlv::write(&mut template, Tag(0x7C), &inner)?;
        let mut cmd = Command::new(0x00, ins::GENERAL_AUTHENTICATE, alg, key_ref);
        cmd = if secret { cmd.with_secret(template.to_vec()) } else { cmd.with_data(template.to_vec()) };
        cmd = cmd.with_le(le).with_secret_response();
        self.pending_challenge = None;
        self.transmit(&cmd)
    }
}

/// The value of `tag` inside a `7C` dynamic authentication template response.
pub(crate) fn dynamic_element(response: &[u8], tag: u8) -> Result<&[u8]> {
    // The whole response is one `7C` template: bytes around it (a chained answer with junk
    // appended, a length that disagrees with the data) are a malformed answer, not ignored.
    let template = tlv::read_single(response)?;
    if template.tag != Tag(0x7C) {
        return Err(Error::Malformed { what: "response is not a dynamic authentication template" });
    }
    let mut found = None;
    for element in tlv::Reader::new(template.value) {
        let element = element?;
        if element.tag == Tag(u32::from(tag)) {
            if found.is_some() {
                return Err(Error::Malformed { what: "dynamic authentication template repeats an element" });
            }
            found = Some(element.value);
        }
    }
    found.ok_or(Error::Malformed { what: "dynamic authentication template without the expected element" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn pin_padding() {
        assert_eq!(&pad_pin(b"123456").unwrap()[..], &hex!("313233343536FFFF"));
        assert_eq!(&pad_pin(b"12345678").unwrap()[..], b"12345678");
        assert!(pad_pin(b"12345").is_err());
        assert!(pad_pin(b"123456789").is_err());
    }
}
