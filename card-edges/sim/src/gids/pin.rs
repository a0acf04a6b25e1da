//! The user PIN (`80`) and the optional PUK (`81`): VERIFY, the deauthentication command
//! (`00 20 00 82`), CHANGE REFERENCE DATA, RESET RETRY COUNTER and the PIN status objects
//! `7F71`/`7F72`/`7F73`, with GidsApplet's rules (4 to 16 bytes, a wrong-length PIN answers
//! `63 Cx` without spending a try, `69 83` once blocked).

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;

use super::Applet;
use super::access::LifeCycle;

/// PIN lengths GidsApplet accepts (`GidsPINManager`: 4 to 16 bytes).
pub(super) const MIN_LEN: usize = 4;
pub(super) const MAX_LEN: usize = 16;

/// Tries a reference created on the card gets (GidsApplet: 3).
pub(super) const CREATED_LIMIT: u8 = 3;

/// The user PIN reference (`00` is accepted as the same PIN).
const USER_PIN: u8 = 0x80;
/// The PUK reference.
const PUK: u8 = 0x81;
/// VERIFY with this P2 deauthenticates everything (GIDS v2.0; OpenSC `gids_logout`).
const DEAUTHENTICATE: u8 = 0x82;

/// A PIN or PUK: its value and retry counter.
pub(super) struct Pin {
    value: Zeroizing<Vec<u8>>,
    limit: u8,
    left: u8,
}

impl Pin {
    /// A PIN of `value` (4 to 16 bytes) with `limit` tries (1 to 15).
    pub(super) fn new(value: &[u8], limit: u8) -> Option<Self> {
        (well_formed(value) && (1..=15).contains(&limit)).then(|| Self {
            value: Zeroizing::new(value.to_vec()),
            limit,
            left: limit,
        })
    }

    pub(super) fn tries_left(&self) -> u8 {
        self.left
    }

    fn blocked(&self) -> bool {
        self.left == 0
    }

    /// Checks `candidate`, spending a try if it is wrong and restoring the counter if right.
    fn check(&mut self, candidate: &[u8]) -> bool {
        let ok = candidate.len() == self.value.len() && bool::from(candidate.ct_eq(&self.value));
        self.left = if ok { self.limit } else { self.left.saturating_sub(1) };
        ok
    }

    /// Sets a new value and restores the counter (Java Card `OwnerPIN.update`).
    fn set(&mut self, value: &[u8]) {
        self.value = Zeroizing::new(value.to_vec());
        self.left = self.limit;
    }

    /// The status object: `97` tries left, `93` the try limit.
    fn status(&self, tag: u16) -> Vec<u8> {
        let [hi, lo] = tag.to_be_bytes();
        vec![hi, lo, 0x06, 0x97, 0x01, self.left, 0x93, 0x01, self.limit]
    }
}

fn well_formed(value: &[u8]) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&value.len())
}

/// `63 Cx`.
fn tries_left(n: u8) -> Response {
    Response::status(StatusWord::from_bytes(0x63, 0xC0 | n.min(0x0F)))
}

impl Applet {
    /// VERIFY `00 20 00 80 <PIN>` (or P2 `00`; `81` for the PUK): `63 Cx` for a wrong PIN, `69 83`
    /// once blocked, `63 Cx` without spending a try for a PIN of the wrong length. Without data
    /// it reports `63 Cx` (even when verified, as GidsApplet does), or `90 00` in the creation
    /// state. `00 20 00 82` deauthenticates the PIN and the administrator.
    pub(super) fn verify(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x00 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if cmd.p2 == DEAUTHENTICATE {
            self.deauthenticate();
            return Response::ok(Vec::new());
        }
        let is_pin = match cmd.p2 {
            USER_PIN | 0x00 => true,
            PUK if self.puk.is_some() => false,
            _ => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        let creation = self.fs.state == LifeCycle::Creation;
        let reference = if is_pin { self.pin.as_mut() } else { self.puk.as_mut() };
        let Some(reference) = reference else {
            return Response::status(StatusWord::REFERENCE_DATA_NOT_USABLE);
        };
        if reference.blocked() {
            return Response::status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        if cmd.data.is_empty() {
            return if creation { Response::ok(Vec::new()) } else { tries_left(reference.tries_left()) };
        }
        if !well_formed(cmd.data) {
            return tries_left(reference.tries_left());
        }
        let ok = reference.check(cmd.data);
        let left = reference.tries_left();
        let flag = if is_pin { &mut self.security.pin } else { &mut self.security.puk };
        *flag = ok;
        if ok { Response::ok(Vec::new()) } else { tries_left(left) }
    }

    /// CHANGE REFERENCE DATA. P1 `00`: old value then new, split after the stored value's
    /// length; a wrong old value spends a try; success verifies the reference. P1 `01`: the new
    /// value only, which sets the PIN (or creates the PUK) in the creation state and otherwise
    /// needs the reference verified first.
    pub(super) fn change_reference_data(&mut self, cmd: &CommandView<'_>) -> Response {
        let is_pin = match cmd.p2 {
            USER_PIN | 0x00 => true,
            PUK => false,
            _ => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        match cmd.p1 {
            0x01 => self.set_reference(is_pin, cmd.data),
            0x00 => self.change_reference(is_pin, cmd.data),
            _ => Response::status(StatusWord::INCORRECT_P1P2),
        }
    }

    fn set_reference(&mut self, is_pin: bool, new: &[u8]) -> Response {
        if !well_formed(new) {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let creation = self.fs.state == LifeCycle::Creation;
        let verified = if is_pin { self.security.pin } else { self.security.puk };
        if !creation && !verified {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let slot = if is_pin { &mut self.pin } else { &mut self.puk };
        match slot {
            Some(reference) => reference.set(new),
            // Only the creation state creates a reference.
            None if creation => *slot = Pin::new(new, CREATED_LIMIT),
            None => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        }
        // Java Card's OwnerPIN.update also ends the verified state.
        if is_pin {
            self.security.pin = false;
        } else {
            self.security.puk = false;
        }
        Response::ok(Vec::new())
    }

    fn change_reference(&mut self, is_pin: bool, data: &[u8]) -> Response {
        let reference = if is_pin { self.pin.as_mut() } else { self.puk.as_mut() };
        let Some(reference) = reference else {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if !(2 * MIN_LEN..=2 * MAX_LEN).contains(&data.len()) {
            return tries_left(reference.tries_left());
        }
        if reference.blocked() {
            return Response::status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        let (old, new) = data.split_at(reference.value.len().min(data.len()));
        let ok = reference.check(old);
        let left = reference.tries_left();
        if !ok {
            self.set_verified(is_pin, false);
            return tries_left(left);
        }
        if !well_formed(new) {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        reference.set(new);
        self.set_verified(is_pin, true);
        Response::ok(Vec::new())
    }

    fn set_verified(&mut self, is_pin: bool, on: bool) {
        if is_pin {
            self.security.pin = on;
        } else {
            self.security.puk = on;
        }
    }

    /// RESET RETRY COUNTER of the user PIN. P1 `02` `00 2C 02 80 <new PIN>`: after external or
    /// mutual administrator authentication, which it then ends (GIDS v2.0; `gids-tool -U`).
    /// P1 `00` `00 2C 00 80 <PUK || new PIN>`: on cards with a PUK, split after the PUK's length;
    /// a wrong PUK spends a PUK try. Either way the PIN gets its tries back, unverified. Not
    /// in the creation state (`69 86`).
    pub(super) fn reset_retry_counter(&mut self, cmd: &CommandView<'_>) -> Response {
        if self.fs.state == LifeCycle::Creation {
            return Response::status(StatusWord::COMMAND_NOT_ALLOWED);
        }
        match cmd.p1 {
            0x02 => {}
            0x00 if self.puk.is_some() => {}
            _ => return Response::status(StatusWord::INCORRECT_P1P2),
        }
        if cmd.p2 != USER_PIN {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        }
        let new = if cmd.p1 == 0x02 {
            if !self.security.admin {
                return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
            }
            cmd.data
        } else {
            let Some(puk) = self.puk.as_mut() else {
                return Response::status(StatusWord::INCORRECT_P1P2);
            };
            if puk.blocked() {
                return Response::status(StatusWord::AUTH_METHOD_BLOCKED);
            }
            let (given, new) = cmd.data.split_at(puk.value.len().min(cmd.data.len()));
            if !puk.check(given) {
                self.security.puk = false;
                return tries_left(puk.tries_left());
            }
            new
        };
        if !well_formed(new) {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        match self.pin.as_mut() {
            Some(pin) => pin.set(new),
            None => self.pin = Pin::new(new, CREATED_LIMIT),
        }
        self.security.pin = false;
        if cmd.p1 == 0x02 {
            // The administrator is deauthenticated at the end (GidsApplet).
            self.deauthenticate();
        }
        Response::ok(Vec::new())
    }

    /// GET DATA `3FFF` of `7F71` (user PIN status; `7F72` is the same on GidsApplet) or `7F73`
    /// (PUK status, on cards with a PUK): `<tag> 06 97 01 <tries left> 93 01 <try limit>`.
    pub(super) fn pin_status(&self, tag: u16) -> Response {
        let reference = match tag {
            0x7F71 | 0x7F72 => self.pin.as_ref(),
            0x7F73 => self.puk.as_ref(),
            _ => return Response::status(super::sw::DATA_INVALID),
        };
        match reference {
            Some(r) => Response::ok(r.status(tag)),
            None => Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        }
    }
}
