//! The user PIN (`80`), the PUK (`81`, when the card has one) and the administrator key
//! (`80` in its own key file, 3-key Triple DES): VERIFY, CHANGE REFERENCE DATA, RESET RETRY
//! COUNTER, the retry counters in `7F71`/`7F73`, and GENERAL AUTHENTICATE for the
//! administrator (ISO 7816-4 sections 11.5; GIDS v2.0 as OpenSC's card-gids.c and Windows'
//! msclmd use it).
//!
//! PINs are sent as they are (ASCII, no padding); the card applies its own length rules. A
//! wrong answer to the administrator challenge is [`Error::WrongPin`] with no count (the card
//! answers `69 82` and keeps none), as a wrong PIN is for the minidriver.

use zeroize::Zeroizing;

use super::admin;
use super::edge::{APPLICATION, GidsEdge, PinStatus, status_error};
use super::keyfile::ADMIN_KEY_REF;
use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Command, Status, apdu::ins};
use crate::transport::Transport;

/// The user PIN's reference.
pub const PIN_REF: u8 = 0x80;
/// The PUK's reference.
pub const PUK_REF: u8 = 0x81;
/// VERIFY P2 that deauthenticates everything (PIN and administrator), OpenSC's `gids_logout`.
const LOGOUT_REF: u8 = 0x82;
/// Longest PIN sent (a change sends two in one short APDU).
const MAX_PIN_LEN: usize = 127;
/// GET DATA tag of the PIN's retry counter.
const PIN_STATUS: u16 = 0x7F71;
/// GET DATA tag of the PUK's retry counter.
const PUK_STATUS: u16 = 0x7F73;

fn check_pin(pin: &[u8]) -> Result<()> {
    if pin.is_empty() || pin.len() > MAX_PIN_LEN {
        return Err(Error::InvalidArgument("a GIDS PIN has 1 to 127 characters"));
    }
    Ok(())
}

fn joined(old: &[u8], new: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_pin(old)?;
    check_pin(new)?;
    let mut data = Zeroizing::new(Vec::with_capacity(old.len() + new.len()));
    data.extend_from_slice(old);
    data.extend_from_slice(new);
    Ok(data)
}

/// Reads `97 tries-left` (or the legacy `9F17`) and `93 try-limit` from a `7F71`/`7F73` value.
///
/// # Errors
/// [`Error::Malformed`] when either is missing or not one byte.
pub fn parse_pin_status(value: &[u8]) -> Result<PinStatus> {
    let byte = |tags: &[u32]| -> Result<u8> {
        for tag in tags {
            if let Some(v) = tlv::Reader::new(value).find(Tag(*tag))? {
                if let [b] = v {
                    return Ok(*b);
                }
                return Err(Error::Malformed { what: "PIN retry counter is not one byte" });
            }
        }
        Err(Error::Malformed { what: "PIN status without its retry counters" })
    };
    Ok(PinStatus { tries_left: byte(&[0x97, 0x9F17])?, try_limit: byte(&[0x93])? })
}

impl<T: Transport> GidsEdge<T> {
    fn reference_command(&mut self, ins: u8, p1: u8, reference: u8, secret: &[u8]) -> Result<()> {
        let rsp = self.transmit(&Command::new(0x00, ins, p1, reference).with_secret(secret.to_vec()))?;
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }

    /// VERIFY the user PIN.
    ///
    /// # Errors
    /// [`Error::WrongPin`] with the tries left (`63 Cx`), [`Error::PinBlocked`] (`69 83`),
    /// [`Error::InvalidArgument`] for an empty PIN (not sent: an empty VERIFY is a query).
    pub fn verify_pin(&mut self, pin: &[u8]) -> Result<()> {
        check_pin(pin)?;
        let result = self.reference_command(ins::VERIFY, 0x00, PIN_REF, pin);
        self.auth.user = result.is_ok();
        result
    }

    /// The user PIN's retry counter (GET DATA `3FFF`/`7F71`); spends no try.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a malformed answer; transport failures.
    pub fn pin_status(&mut self) -> Result<PinStatus> {
        let value =
            self.get_data(APPLICATION, PIN_STATUS)?.ok_or(Error::Malformed { what: "the card has no PIN status" })?;
        parse_pin_status(&value)
    }

    /// The PUK's retry counter (`7F73`), `None` when the card has no PUK; whether it has one
    /// is remembered for the insertion.
    ///
    /// # Errors
    /// As [`GidsEdge::pin_status`].
    pub fn puk_status(&mut self) -> Result<Option<PinStatus>> {
        if self.puk_present == Some(false) {
            return Ok(None);
        }
        let value = match self.get_data(APPLICATION, PUK_STATUS) {
            Ok(v) => v,
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        self.puk_present = Some(value.is_some());
        value.map(|v| parse_pin_status(&v)).transpose()
    }

    /// CHANGE REFERENCE DATA of the user PIN (`old || new`). Success leaves the PIN verified,
    /// with its new value (GidsApplet marks it authenticated after the update, and the
    /// Minidriver Specification v7, 4.2.11, leaves the card authenticated after a change); a
    /// wrong old PIN leaves it not verified.
    ///
    /// # Errors
    /// As [`GidsEdge::verify_pin`], for the old PIN.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        let data = joined(old, new)?;
        let result = self.reference_command(ins::CHANGE_REFERENCE_DATA, 0x00, PIN_REF, &data);
        self.auth.user = result.is_ok();
        result
    }

    /// CHANGE REFERENCE DATA of the PUK.
    ///
    /// # Errors
    /// As [`GidsEdge::verify_pin`], for the old PUK; [`Error::NotFound`] without a PUK.
    pub fn change_puk(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        let data = joined(old, new)?;
        self.reference_command(ins::CHANGE_REFERENCE_DATA, 0x00, PUK_REF, &data)
    }

    /// RESET RETRY COUNTER of the user PIN with the PUK (`P1 = 00`, `puk || new`). The PIN is
    /// not verified afterwards.
    ///
    /// # Errors
    /// [`Error::WrongPin`] (the PUK's tries), [`Error::PinBlocked`] (PUK blocked).
    pub fn unblock_pin_with_puk(&mut self, puk: &[u8], new: &[u8]) -> Result<()> {
        let data = joined(puk, new)?;
        self.auth.user = false;
        self.reference_command(ins::RESET_RETRY_COUNTER, 0x00, PIN_REF, &data)
    }

    /// RESET RETRY COUNTER of the user PIN after administrator authentication (`P1 = 02`, the
    /// new PIN only). The card ends the administrator's authentication afterwards.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without administrator authentication.
    pub fn reset_pin_as_admin(&mut self, new: &[u8]) -> Result<()> {
        check_pin(new)?;
        let result = self.reference_command(ins::RESET_RETRY_COUNTER, 0x02, PIN_REF, new);
        if result.is_ok() {
            self.auth = super::edge::AuthState::default();
        }
        result
    }

    /// Ends the PIN's and the administrator's authentication (`00 20 00 82`).
    ///
    /// # Errors
    /// Card refusals; transport failures.
    pub fn logout(&mut self) -> Result<()> {
        let rsp = self.transmit(&Command::new(0x00, ins::VERIFY, 0x00, LOGOUT_REF))?;
        self.auth = super::edge::AuthState::default();
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }

    /// MSE SET for authentication with the administrator key (`C1 A4 { 83 80 }`).
    fn select_admin_key(&mut self) -> Result<()> {
        let data = vec![0x83, 0x01, ADMIN_KEY_REF];
        self.command(&Command::new(0x00, 0x22, 0xC1, 0xA4).with_data(data))?;
        Ok(())
    }

    /// External authentication, step 1 (the Base CSP's `CardGetChallenge`): the card's 8-byte
    /// challenge. The answer, `3DES-CBC(key, IV 0)` of it, must come through
    /// [`GidsEdge::answer_admin_challenge`] before any other command.
    ///
    /// # Errors
    /// [`Error::Malformed`] for an answer without an 8-byte challenge; card refusals.
    pub fn admin_challenge(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.auth.admin = false;
        self.select_admin_key()?;
        let cmd = Command::new(0x00, ins::GENERAL_AUTHENTICATE, 0x00, 0x00)
            .with_data(vec![0x7C, 0x02, 0x81, 0x00])
            .with_le(256)
            .with_secret_response();
        let answer = Zeroizing::new(self.command(&cmd)?);
        let challenge = tlv::find(&answer, &[Tag(0x7C), Tag(0x81)])?
            .filter(|c| c.len() == admin::CHALLENGE_LEN)
            .ok_or(Error::Malformed { what: "administrator challenge is not 8 bytes in 7C/81" })?;
        let challenge = Zeroizing::new(challenge.to_vec());
        self.pending_challenge = Some(challenge.clone());
        Ok(challenge)
    }

    /// External authentication, step 2: the caller's `3DES-CBC(key, IV 0)` of the challenge.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] without a pending challenge (nothing is sent);
    /// [`Error::WrongPin`] (no count) for a wrong answer; [`Error::PinBlocked`].
    pub fn answer_admin_challenge(&mut self, response: &[u8]) -> Result<()> {
        if self.pending_challenge.take().is_none() {
            return Err(Error::InvalidArgument("no pending administrator challenge"));
        }
        if response.len() != admin::CHALLENGE_LEN {
            return Err(Error::WrongPin { tries_left: None });
        }
        let mut data = Zeroizing::new(vec![0x7C, 0x0A, 0x82, 0x08]);
        data.extend_from_slice(response);
        let cmd = Command::new(0x00, ins::GENERAL_AUTHENTICATE, 0x00, 0x00).with_secret(data.to_vec());
        let rsp = self.transmit_in_exchange(&cmd)?;
        self.auth.admin = rsp.sw.is_success();
        admin_result(rsp.sw)
    }

    /// Mutual authentication with the administrator key itself (3-key Triple DES): the card
    /// proves it knows the key too, and a wrong proof is refused.
    ///
    /// # Errors
    /// [`Error::WrongPin`] (no count) for a wrong key; [`Error::Crypto`] when the card's proof
    /// is wrong; [`Error::InvalidArgument`] for a key other than 24 bytes.
    pub fn authenticate_admin(&mut self, key: &[u8]) -> Result<()> {
        self.authenticate_admin_with(key, &mut |buf| {
            getrandom::fill(buf).map_err(|_| Error::Crypto("no randomness for the host challenge"))
        })
    }

    /// [`GidsEdge::authenticate_admin`] with the host's random bytes (`R1`, then `Z1`) from
    /// `random`.
    pub(crate) fn authenticate_admin_with(
        &mut self,
        key: &[u8],
        random: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        if key.len() != admin::ADMIN_KEY_LEN {
            return Err(Error::InvalidArgument("a GIDS administrator key is 24 bytes (3-key Triple DES)"));
        }
        self.auth.admin = false;
        self.select_admin_key()?;
        let mut r1 = Zeroizing::new(vec![0u8; admin::RANDOM_LEN]);
        random(&mut r1)?;
        let mut data = vec![0x7C, 0x12, 0x81, 0x10];
        data.extend_from_slice(&r1);
        let cmd = Command::new(0x00, ins::GENERAL_AUTHENTICATE, 0x00, 0x00).with_data(data).with_le(256);
        let answer = self.command(&cmd)?;
        let r2 = tlv::find(&answer, &[Tag(0x7C), Tag(0x81)])?
            .filter(|r| r.len() == admin::RANDOM_LEN)
            .ok_or(Error::Malformed { what: "card random is not 16 bytes in 7C/81" })?
            .to_vec();
        let mut z1 = Zeroizing::new(vec![0u8; admin::Z_LEN]);
        random(&mut z1)?;
        let cryptogram = admin::host_cryptogram(key, &r1, &r2, &z1)?;
        let mut data = Zeroizing::new(vec![0x7C, 0x2A, 0x82, 0x28]);
        data.extend_from_slice(&cryptogram);
        let cmd = Command::new(0x00, ins::GENERAL_AUTHENTICATE, 0x00, 0x00)
            .with_secret(data.to_vec())
            .with_le(256)
            .with_secret_response();
        let rsp = self.transmit(&cmd)?;
        admin_result(rsp.sw)?;
        let answer = Zeroizing::new(rsp.data);
        let proof = tlv::find(&answer, &[Tag(0x7C), Tag(0x82)])?
            .ok_or(Error::Crypto("the card's administrator key proof is wrong"))?;
        admin::check_card_cryptogram(key, proof, &r1, &r2)?;
        self.auth.admin = true;
        Ok(())
    }

    /// PUT KEY of a new administrator key (after administrator authentication).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without administrator authentication;
    /// [`Error::InvalidArgument`] for a key other than 24 bytes.
    pub fn change_admin_key(&mut self, new_key: &[u8]) -> Result<()> {
        let data = super::keyfile::admin_key_data(new_key)?;
        let [p1, p2] = APPLICATION.to_be_bytes();
        let rsp = self.transmit(&Command::new(0x00, ins::PUT_DATA_ODD, p1, p2).with_secret(data.to_vec()))?;
        if rsp.sw.is_success() { Ok(()) } else { Err(status_error(rsp.sw)) }
    }
}

/// A refused administrator answer: wrong key (no count), or blocked.
fn admin_result(sw: crate::iso7816::StatusWord) -> Result<()> {
    match sw.status() {
        Status::Success => Ok(()),
        Status::Blocked => Err(Error::PinBlocked),
        Status::VerifyFailed { tries_left } => Err(Error::WrongPin { tries_left: Some(tries_left) }),
        Status::SecurityNotSatisfied | Status::CheckingError => Err(Error::WrongPin { tries_left: None }),
        _ => Err(status_error(sw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;
    use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
    use des::TdesEde3;

    const KEY: [u8; 24] = [0; 24];

    /// Triple DES CBC with a zero IV, written out here with the `des` crate (independent of
    /// the edge's own code).
    fn cbc(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
        let c = TdesEde3::new_from_slice(key).unwrap();
        let mut prev = [0u8; 8];
        let mut out = Vec::new();
        for block in data.chunks(8) {
            let mut b: [u8; 8] = block.try_into().unwrap();
            if encrypt {
                b.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
                let mut a = Array::from(b);
                c.encrypt_block(&mut a);
                prev = a.into();
                out.extend_from_slice(&prev);
            } else {
                let mut a = Array::from(b);
                c.decrypt_block(&mut a);
                let mut plain: [u8; 8] = a.into();
                plain.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
                prev = b;
                out.extend_from_slice(&plain);
            }
        }
        out
    }

    #[test]
    fn pin_status_and_verify() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect(t::PIN_STATUS_COMMAND, t::PIN_STATUS_RESPONSE);
        script.expect(t::PUK_STATUS_COMMAND, t::PUK_STATUS_RESPONSE);
        script.expect("0020008006313233343536", "63C2");
        script.expect("0020008006313233343536", "6983");
        script.expect(t::VERIFY_COMMAND, "9000");
        script.expect(t::LOGOUT_COMMAND, "9000");
        assert_eq!(edge.pin_status().unwrap(), PinStatus { tries_left: 3, try_limit: 3 });
        assert_eq!(edge.puk_status().unwrap(), None);
        assert_eq!(edge.puk_status().unwrap(), None, "PUK absence is remembered");
        assert_eq!(edge.verify_pin(b"123456"), Err(Error::WrongPin { tries_left: Some(2) }));
        assert_eq!(edge.verify_pin(b"123456"), Err(Error::PinBlocked));
        assert!(matches!(edge.verify_pin(b""), Err(Error::InvalidArgument(_))));
        edge.verify_pin(b"123456").unwrap();
        assert!(edge.auth_state().user);
        edge.logout().unwrap();
        assert_eq!(edge.auth_state(), Default::default());
        assert_eq!(script.done(), 7);
        assert_eq!(parse_pin_status(&[0x9F, 0x17, 0x01, 0x05, 0x93, 0x01, 0x08]).unwrap().tries_left, 5);
        assert!(parse_pin_status(&[0x97, 0x02, 0x01, 0x02, 0x93, 0x01, 0x03]).is_err());
        assert!(parse_pin_status(&[0x97, 0x01, 0x01]).is_err());
    }

    #[test]
    fn pin_changes() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CB3FFF045C027F7300", "7F730697010A93010A9000");
        script.expect("002400800C313233343536363534333231", "9000");
        script.expect("002400810C313233343536363534333231", "63C1");
        script.expect("002C00800C313233343536363534333231", "9000");
        script.expect("002C028006363534333231", "6A86");
        assert_eq!(edge.puk_status().unwrap(), Some(PinStatus { tries_left: 10, try_limit: 10 }));
        edge.change_pin(b"123456", b"654321").unwrap();
        assert!(edge.auth_state().user, "the changed PIN is verified");
        assert_eq!(edge.change_puk(b"123456", b"654321"), Err(Error::WrongPin { tries_left: Some(1) }));
        edge.unblock_pin_with_puk(b"123456", b"654321").unwrap();
        let _ = edge.reset_pin_as_admin(b"654321");
        assert_eq!(script.done(), 6);
    }

    #[test]
    fn external_authentication_byte_exact() {
        let (script, mut edge) = Script::edge();
        let challenge = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        let answer = cbc(&KEY, &challenge, true);
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("0022C1A403830180", "9000");
        script.expect("00870000047C02810000", "7C0A810811223344556677889000");
        script.expect(&format!("008700000C7C0A8208{}", hex::encode_upper(&answer)), "9000");
        script.expect("002C028006363534333231", "9000");
        let got = edge.admin_challenge().unwrap();
        assert_eq!(&got[..], &challenge);
        // The caller computes the answer (the CSP with the admin key).
        assert_eq!(admin::external_response(&KEY, &got).unwrap().to_vec(), answer);
        edge.answer_admin_challenge(&answer).unwrap();
        assert!(edge.auth_state().admin);
        edge.reset_pin_as_admin(b"654321").unwrap();
        assert!(!edge.auth_state().admin, "the card ends the admin's authentication");
        assert_eq!(script.done(), 5);
    }

    #[test]
    fn wrong_and_dropped_challenges() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("0022C1A403830180", "9000");
        script.expect("00870000047C02810000", "7C0A810801020304050607089000");
        script.expect("008700000C7C0A82080000000000000000", "6982");
        edge.admin_challenge().unwrap();
        assert_eq!(edge.answer_admin_challenge(&[0; 8]), Err(Error::WrongPin { tries_left: None }));
        assert!(!edge.auth_state().admin);
        // A challenge is dropped by any other command.
        script.expect("0022C1A403830180", "9000");
        script.expect("00870000047C02810000", "7C0A810801020304050607089000");
        script.expect(t::PIN_STATUS_COMMAND, t::PIN_STATUS_RESPONSE);
        edge.admin_challenge().unwrap();
        edge.pin_status().unwrap();
        assert!(matches!(edge.answer_admin_challenge(&[0; 8]), Err(Error::InvalidArgument(_))));
        assert_eq!(script.done(), 7);
    }

    #[test]
    fn mutual_authentication_byte_exact() {
        let (script, mut edge) = Script::edge();
        let key: [u8; 24] = hex_literal::hex!("0102030405060708 0102030405060708 0102030405060708");
        let r1 = [0xA1u8; 16];
        let z1 = [0x21u8; 7];
        let r2: Vec<u8> = (0..16).collect();
        let z2 = [0x5Au8; 7];
        let mut host_plain = r2.clone();
        host_plain.extend_from_slice(&r1);
        host_plain.extend_from_slice(&z1);
        host_plain.push(0x80);
        let host = cbc(&key, &host_plain, true);
        let mut card_plain = r1.to_vec();
        card_plain.extend_from_slice(&r2);
        card_plain.extend_from_slice(&z2);
        card_plain.push(0x80);
        let card = cbc(&key, &card_plain, true);
        assert_eq!(cbc(&key, &card, false), card_plain);
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("0022C1A403830180", "9000");
        script.expect(
            &format!("00870000147C128110{}00", hex::encode_upper(r1)),
            &format!("7C128110{}9000", hex::encode_upper(&r2)),
        );
        script.expect(
            &format!("008700002C7C2A8228{}00", hex::encode_upper(&host)),
            &format!("7C2A8228{}9000", hex::encode_upper(&card)),
        );
        let mut randoms = vec![r1.to_vec(), z1.to_vec()].into_iter();
        let mut random = |buf: &mut [u8]| -> Result<()> {
            buf.copy_from_slice(&randoms.next().unwrap());
            Ok(())
        };
        edge.authenticate_admin_with(&key, &mut random).unwrap();
        assert!(edge.auth_state().admin);
        assert_eq!(script.done(), 4);

        // A card that accepts but proves another key is refused.
        let mut randoms = vec![r1.to_vec(), z1.to_vec()].into_iter();
        let mut random = |buf: &mut [u8]| -> Result<()> {
            buf.copy_from_slice(&randoms.next().unwrap());
            Ok(())
        };
        script.expect("0022C1A403830180", "9000");
        script.expect(
            &format!("00870000147C128110{}00", hex::encode_upper(r1)),
            &format!("7C128110{}9000", hex::encode_upper(&r2)),
        );
        script.expect(
            &format!("008700002C7C2A8228{}00", hex::encode_upper(&host)),
            &format!("7C2A8228{}9000", hex::encode_upper(&host)),
        );
        assert!(matches!(edge.authenticate_admin_with(&key, &mut random), Err(Error::Crypto(_))));
        assert!(!edge.auth_state().admin);
        assert_eq!(script.done(), 3);
    }

    #[test]
    fn admin_key_change() {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect(
            "00DB3FFF267024840180A51F8718010203040506070801020304050607080102030405060708 8803B073DC"
                .replace(' ', "")
                .as_str(),
            "6982",
        );
        let key = hex_literal::hex!("0102030405060708 0102030405060708 0102030405060708");
        assert_eq!(edge.change_admin_key(&key), Err(Error::SecurityStatusNotSatisfied));
        assert!(matches!(edge.authenticate_admin(&[0; 8]), Err(Error::InvalidArgument(_))));
        assert_eq!(script.done(), 2);
    }
}
