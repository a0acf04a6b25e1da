//! VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (SP 800-73-4 Part 2 3.2.1-3.2.3).

use super::Applet;
use super::pin::{Check, PADDED_LEN};
use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;

/// PIV application PIN.
const PIN: u8 = 0x80;
/// PIN unblocking key.
const PUK: u8 = 0x81;

impl Applet {
    /// VERIFY the PIN: with data, checks it (`63 Cx` with x tries left, `69 83` once blocked);
    /// without data, reports the status (`90 00` if verified) without spending a try;
    /// P1 = `FF` logs out.
    pub(super) fn verify(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p2 != PIN {
            // Global PIN (00), OCC (96/97) and the PUK cannot be verified on this card.
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        }
        match cmd.p1 {
            0x00 => {}
            0xFF if cmd.data.is_empty() => {
                self.security.pin_verified = false;
                return Response::ok(Vec::new());
            }
            0xFF => return Response::status(StatusWord::INCORRECT_DATA),
            _ => return Response::status(StatusWord::INCORRECT_P1P2),
        }
        if cmd.data.is_empty() {
            return if self.security.pin_verified {
                Response::ok(Vec::new())
            } else if self.pin.is_blocked() {
                Response::status(StatusWord::AUTH_METHOD_BLOCKED)
            } else {
                tries_left(self.pin.tries_left())
            };
        }
        if !self.pin.well_formed(cmd.data) {
            return Response::status(StatusWord::INCORRECT_DATA);
        }
        match self.pin.check(cmd.data) {
            Check::Ok => {
                self.security.pin_verified = true;
                self.security.pin_just_verified = true;
                Response::ok(Vec::new())
            }
            Check::Wrong(left) => {
                self.security.pin_verified = false;
                tries_left(left)
            }
            Check::Blocked => {
                self.security.pin_verified = false;
                Response::status(StatusWord::AUTH_METHOD_BLOCKED)
            }
        }
    }

    /// CHANGE REFERENCE DATA of the PIN (P2 `80`) or the PUK (`81`): old value then new value,
    /// 8 bytes each. A wrong old value spends a try.
    pub(super) fn change_reference(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x00 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let is_pin = match cmd.p2 {
            PIN => true,
            PUK => false,
            _ => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        let Some((old, new)) = split_pair(cmd.data) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        let reference = if is_pin { &mut self.pin } else { &mut self.puk };
        if !reference.well_formed(old) || !reference.well_formed(new) {
            return Response::status(StatusWord::INCORRECT_DATA);
        }
        match reference.check(old) {
            Check::Ok => {
                reference.set(new);
                if is_pin {
                    self.security.pin_verified = true;
                }
                Response::ok(Vec::new())
            }
            Check::Wrong(left) => {
                if is_pin {
                    self.security.pin_verified = false;
                }
                tries_left(left)
            }
            Check::Blocked => Response::status(StatusWord::AUTH_METHOD_BLOCKED),
        }
    }

    /// RESET RETRY COUNTER: the PUK then a new PIN; unblocks the PIN (it is not verified by
    /// this). A wrong PUK spends a PUK try.
    pub(super) fn reset_retry_counter(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x00 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if cmd.p2 != PIN {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        }
        let Some((puk, new_pin)) = split_pair(cmd.data) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        if !self.puk.well_formed(puk) || !self.pin.well_formed(new_pin) {
            return Response::status(StatusWord::INCORRECT_DATA);
        }
        match self.puk.check(puk) {
            Check::Ok => {
                self.pin.set(new_pin);
                self.pin.restore();
                self.security.pin_verified = false;
                Response::ok(Vec::new())
            }
            Check::Wrong(left) => tries_left(left),
            Check::Blocked => Response::status(StatusWord::AUTH_METHOD_BLOCKED),
        }
    }
}

/// `63 Cx`.
fn tries_left(n: u8) -> Response {
    Response::status(StatusWord::from_bytes(0x63, 0xC0 | n.min(0x0F)))
}

fn split_pair(data: &[u8]) -> Option<(&[u8], &[u8])> {
    (data.len() == 2 * PADDED_LEN).then(|| data.split_at(PADDED_LEN))
}
