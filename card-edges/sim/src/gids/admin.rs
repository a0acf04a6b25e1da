//! Administrator authentication with the 3-key 3DES key of key file `B080` (GIDS v2.0, and
//! the Microsoft minidriver's "card admin key"): GENERAL AUTHENTICATE `87` in its two forms.
//!
//! - External: `7C { 81 00 }` asks for an 8-byte challenge; `7C { 82 08 <3DES(challenge)> }`
//!   proves the key.
//! - Mutual, as Windows' GIDS minidriver and OpenSC's `gids_authenticate_admin` perform it:
//!   `7C { 81 10 <R1> }` gets `7C { 81 10 <R2> }`; the host sends `7C { 82 28 <C> }` with
//!   `C = 3DES-CBC(IV = 0)(R2 || R1 || Z1 || 80)` (Z1: 7 bytes) and receives
//!   `7C { 82 28 3DES-CBC(R1 || R2 || Z2 || 80) }`. (CBC, not ECB, and 7-byte halves padded
//!   with `80`: what Windows does, not what GIDS v2.0 prints.)
//!
//! MSE SET `C1 A4` or `81 A4` with `83 01 80` names the key first. A challenge is good for the
//! next command only: any other command in between, or a replayed answer, gets `69 85`.

use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::access::{LifeCycle, op};
use super::fs::FileSystem;
use super::keys::{CRT_AUTHENTICATION, TDES_3KEY, TDES_KEY_LEN};
use super::{Applet, sw};

/// The first step of an authentication, waiting for the host's answer.
pub(super) enum Challenge {
    /// External authentication: the card's 8-byte challenge.
    External(Zeroizing<[u8; 8]>),
    /// Mutual authentication: the card's R2 and the host's R1.
    Mutual { card: Zeroizing<[u8; 16]>, host: Zeroizing<[u8; 16]> },
}

/// 3DES-EDE3 in CBC mode with a zero IV and no padding, over whole blocks.
fn tdes_cbc(key: &[u8; TDES_KEY_LEN], data: &[u8], encrypt: bool) -> Option<Zeroizing<Vec<u8>>> {
    if !data.len().is_multiple_of(8) {
        return None;
    }
    let cipher = TdesEde3::new_from_slice(key).ok()?;
    let mut chain = [0u8; 8];
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    for block in data.chunks_exact(8) {
        let mut b = cipher::Block::<TdesEde3>::try_from(block).ok()?;
        if encrypt {
            b.iter_mut().zip(chain.iter()).for_each(|(x, c)| *x ^= c);
            cipher.encrypt_block(&mut b);
            chain.copy_from_slice(&b);
            out.extend_from_slice(&b);
        } else {
            cipher.decrypt_block(&mut b);
            b.iter_mut().zip(chain.iter()).for_each(|(x, c)| *x ^= c);
            chain.copy_from_slice(block);
            out.extend_from_slice(&b);
        }
        b.as_mut_slice().zeroize();
    }
    Some(out)
}

impl Applet {
    /// MSE SET for authentication (`C1 A4` / `81 A4`): `83 01 <kref>` names a key file with a
    /// 3DES authentication template, whose MSE condition must be met.
    pub(super) fn set_authentication_key(&mut self, data: &[u8]) -> Response {
        let kref = match tlv::read_single(data) {
            Ok(t) if t.tag == Tag(0x83) => match t.value {
                [k] => *k,
                _ => return Response::status(sw::DATA_INVALID),
            },
            _ => return Response::status(sw::DATA_INVALID),
        };
        let usable = self.fs.key_file(kref).is_some_and(|k| k.is_tdes() && k.allows(CRT_AUTHENTICATION, TDES_3KEY));
        if !usable {
            return Response::status(sw::DATA_INVALID);
        }
        if let Err(sw) = self.fs.check_file(FileSystem::key_fid(kref), op::MSE, self.authority()) {
            return Response::status(sw);
        }
        self.security.auth_key = Some(kref);
        Response::ok(Vec::new())
    }

    /// GENERAL AUTHENTICATE `00 87 00 00 7C{...}`: see the module documentation. Not in the
    /// creation state (`69 86`, as GidsApplet); `69 82` for a wrong key (and the
    /// authentication is over); `69 84` for malformed data.
    pub(super) fn general_authenticate(&mut self, cmd: &CommandView<'_>, challenge: Option<Challenge>) -> Response {
        if self.fs.state == LifeCycle::Creation {
            return Response::status(StatusWord::COMMAND_NOT_ALLOWED);
        }
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let Ok(template) = tlv::read_single(cmd.data).map(|t| (t.tag, t.value)) else {
            return Response::status(sw::DATA_INVALID);
        };
        let (Tag(0x7C), inner) = template else {
            return Response::status(sw::DATA_INVALID);
        };
        let Ok(items) = tlv::Reader::new(inner).collect_all() else {
            return Response::status(sw::DATA_INVALID);
        };
        match items.as_slice() {
            [item] if item.tag == Tag(0x81) => self.issue_challenge(item.value),
            [item] if item.tag == Tag(0x82) && !item.value.is_empty() && item.value.len() <= 40 => {
                self.check_answer(item.value, challenge)
            }
            _ => Response::status(sw::DATA_INVALID),
        }
    }

    fn admin_key(&self) -> Option<[u8; TDES_KEY_LEN]> {
        self.security.auth_key.and_then(|k| self.fs.key_file(k)).and_then(|f| f.tdes()).copied()
    }

    fn issue_challenge(&mut self, host: &[u8]) -> Response {
        if self.admin_key().is_none() {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        // Asking for a challenge ends any earlier administrator authentication.
        self.security.admin = false;
        let (challenge, card) = match host.len() {
            0 => {
                let c = Zeroizing::new(self.rng.array::<8>());
                let sent = c.to_vec();
                (Challenge::External(c), sent)
            }
            16 => {
                let mut r1 = Zeroizing::new([0u8; 16]);
                r1.copy_from_slice(host);
                let r2 = Zeroizing::new(self.rng.array::<16>());
                let sent = r2.to_vec();
                (Challenge::Mutual { card: r2, host: r1 }, sent)
            }
            _ => return Response::status(sw::DATA_INVALID),
        };
        self.security.challenge = Some(challenge);
        wrap(0x81, &card)
    }

    fn check_answer(&mut self, answer: &[u8], challenge: Option<Challenge>) -> Response {
        let (Some(challenge), Some(key)) = (challenge, self.admin_key()) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let key = Zeroizing::new(key);
        let denied = Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        let Some(plain) = tdes_cbc(&key, answer, false) else {
            return denied;
        };
        match challenge {
            Challenge::External(expected) => {
                if plain.len() != 8 || !bool::from(plain.ct_eq(expected.as_slice())) {
                    return denied;
                }
                self.security.admin = true;
                Response::ok(Vec::new())
            }
            Challenge::Mutual { card, host } => {
                let ok = plain.len() == 40
                    && bool::from(plain.get(..16).unwrap_or_default().ct_eq(card.as_slice()))
                    && bool::from(plain.get(16..32).unwrap_or_default().ct_eq(host.as_slice()))
                    && plain.get(39) == Some(&0x80);
                if !ok {
                    return denied;
                }
                let mut reply = Zeroizing::new(Vec::with_capacity(40));
                reply.extend_from_slice(host.as_slice());
                reply.extend_from_slice(card.as_slice());
                reply.extend_from_slice(&self.rng.array::<7>());
                reply.push(0x80);
                let Some(cryptogram) = tdes_cbc(&key, &reply, true) else {
                    return Response::status(StatusWord::NO_PRECISE_DIAGNOSIS);
                };
                self.security.admin = true;
                wrap(0x82, &cryptogram)
            }
        }
    }
}

/// `7C { <tag> <value> }`.
fn wrap(tag: u32, value: &[u8]) -> Response {
    let mut inner = Vec::with_capacity(value.len() + 2);
    match tlv::write(&mut inner, Tag(tag), value).and_then(|()| tlv::encode(Tag(0x7C), &inner)) {
        Ok(data) => Response::ok(data),
        Err(_) => Response::status(StatusWord::NO_PRECISE_DIAGNOSIS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn cbc_round_trips_and_chains() {
        let key = hex!("010203040506070801020304050607080102030405060708");
        let data = [0x11u8; 24];
        let c = tdes_cbc(&key, &data, true).unwrap();
        // Identical plaintext blocks give different ciphertext blocks in CBC.
        assert_ne!(c[..8], c[8..16]);
        assert_eq!(*tdes_cbc(&key, &c, false).unwrap(), data);
        assert!(tdes_cbc(&key, &data[..7], true).is_none());
    }
}
