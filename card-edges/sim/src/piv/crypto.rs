//! GENERAL AUTHENTICATE (`87`) and GENERATE ASYMMETRIC KEY PAIR (`47`).

use super::keys::{KeyAlgorithm, SlotKey};
use super::mgmt::{self, Effect, Items, Pending};
use super::objects::is_key_slot;
use super::{Applet, Origin, Slot};
use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

/// The card management key reference.
const MANAGEMENT_KEY: u8 = 0x9B;

impl Applet {
    /// GENERAL AUTHENTICATE: management key authentication for `9B`; for key slots, the
    /// strict request forms `7C{82 00, 81 input}` (raw RSA / ECDSA) and `7C{82 00, 85 point}`
    /// (ECDH), with P1 equal to the key's algorithm.
    pub(super) fn general_authenticate(
        &mut self,
        cmd: &CommandView<'_>,
        pin_always: bool,
        pending: Option<Pending>,
    ) -> Response {
        let template = match tlv::read_single(cmd.data) {
            Ok(t) if t.tag == Tag(0x7C) => t.value,
            _ => return Response::status(StatusWord::INCORRECT_DATA),
        };
        if cmd.p2 == MANAGEMENT_KEY {
            let (rsp, effect) = mgmt::authenticate(&self.mgmt, cmd.p1, template, pending, &mut self.rng);
            match effect {
                Effect::None(next) => self.security.pending = next,
                Effect::Authenticated => self.security.admin = true,
                Effect::Failed => self.security.admin = false,
            }
            return rsp;
        }
        if !is_key_slot(cmd.p2) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let Some(slot) = self.keys.get(&cmd.p2) else {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if slot.key.algorithm().id() != cmd.p1 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let allowed = match cmd.p2 {
            0x9E => true,
            0x9C => pin_always,
            _ => self.security.pin_verified,
        };
        if !allowed {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let Some(items) = Items::parse(template) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        if items.response != Some(&[]) || items.witness.is_some() {
            return Response::status(StatusWord::INCORRECT_DATA);
        }
        let result = match (items.challenge, items.exponentiation) {
            (Some(input), None) => slot.key.sign(input),
            (None, Some(point)) => slot.key.ecdh(point),
            _ => Err(StatusWord::INCORRECT_DATA),
        };
        match result.map(|value| wrap_response(&value)) {
            Ok(Ok(data)) => Response::ok(data),
            Ok(Err(_)) => Response::status(StatusWord::NO_PRECISE_DIAGNOSIS),
            Err(sw) => Response::status(sw),
        }
    }

    /// GENERATE ASYMMETRIC KEY PAIR `00 47 00 <slot> {AC{80 alg, [AA pin policy], [AB touch]}}`:
    /// replaces the slot's key (the certificate object is left alone, as on real tokens) and
    /// answers the public key in `7F49`.
    pub(super) fn generate(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x00 || !is_key_slot(cmd.p2) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if !self.security.admin {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let Some(alg) = requested_algorithm(cmd.data) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        let Ok(key) = SlotKey::generate(alg, &mut self.rng) else {
            return Response::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        let Ok(data) = key.public_template().and_then(|t| Ok(tlv::encode(Tag(0x7F49), &t)?)) else {
            return Response::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        self.keys.insert(cmd.p2, Slot { key, origin: Origin::Generated });
        Response::ok(data)
    }
}

/// `7C{82 value}`.
fn wrap_response(value: &[u8]) -> crate::Result<Vec<u8>> {
    let mut inner = Vec::with_capacity(value.len() + 4);
    tlv::write(&mut inner, Tag(0x82), value)?;
    Ok(tlv::encode(Tag(0x7C), &inner)?)
}

/// The algorithm of a GENERATE control template; the Yubico policy tags are accepted and
/// anything else is refused.
fn requested_algorithm(data: &[u8]) -> Option<KeyAlgorithm> {
    let template = tlv::read_single(data).ok().filter(|t| t.tag == Tag(0xAC))?;
    let mut alg = None;
    for item in tlv::Reader::new(template.value) {
        let item = item.ok()?;
        match (item.tag.0, item.value) {
            (0x80, [id]) if alg.is_none() => alg = Some(KeyAlgorithm::from_id(*id)?),
            (0xAA | 0xAB, [_]) => {}
            _ => return None,
        }
    }
    alg
}
