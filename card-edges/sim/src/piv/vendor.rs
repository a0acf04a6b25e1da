//! The Yubico extension commands that PIV hosts probe (yubico-piv-tool needs `FD` and `F8`;
//! OpenSC asks unknown PIV cards for `FD`; newer tools read the `9B` algorithm with `F7`), and
//! `FF`, the only way a host can change the management key.

use super::mgmt::{ManagementKey, MgmtAlgorithm};
use super::objects::is_key_slot;
use super::{Applet, Origin, VERSION};
use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

/// GET VERSION.
pub(super) const GET_VERSION: u8 = 0xFD;
/// GET SERIAL.
pub(super) const GET_SERIAL: u8 = 0xF8;
/// GET METADATA (YubiKey 5.3+).
pub(super) const GET_METADATA: u8 = 0xF7;
/// SET MANAGEMENT KEY.
pub(super) const SET_MANAGEMENT_KEY: u8 = 0xFF;

/// YubiKey PIN policies reported by metadata.
const PIN_POLICY_NEVER: u8 = 0x01;
const PIN_POLICY_ONCE: u8 = 0x02;
const PIN_POLICY_ALWAYS: u8 = 0x03;
/// YubiKey touch policy "never".
const TOUCH_NEVER: u8 = 0x01;

impl Applet {
    /// `00 FD`: major, minor, patch.
    pub(super) fn version(&self) -> Response {
        Response::ok(VERSION.to_vec())
    }

    /// `00 F8`: the serial number, big-endian.
    pub(super) fn serial_number(&self) -> Response {
        Response::ok(self.serial.to_be_bytes().to_vec())
    }

    /// `00 F7 00 <ref>`: algorithm (`01`), policies (`02`), origin (`03`), public key (`04`),
    /// default flag (`05`), retries (`06`), as YubiKey 5.3+ reports them.
    pub(super) fn metadata(&self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x00 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let built = match cmd.p2 {
            0x9B => self.mgmt_metadata(),
            0x80 | 0x81 => {
                let r = if cmd.p2 == 0x80 { &self.pin } else { &self.puk };
                metadata(&[
                    (0x01, &[0xFF]),
                    (0x05, &[u8::from(r.is_default())]),
                    (0x06, &[r.max_tries(), r.tries_left()]),
                ])
            }
            slot if is_key_slot(slot) => match self.keys.get(&slot) {
                Some(s) => {
                    let pin_policy = match slot {
                        0x9C => PIN_POLICY_ALWAYS,
                        0x9E => PIN_POLICY_NEVER,
                        _ => PIN_POLICY_ONCE,
                    };
                    let origin = match s.origin {
                        Origin::Generated => 0x01,
                        Origin::Imported => 0x02,
                    };
                    match s.key.public_template() {
                        Ok(public) => metadata(&[
                            (0x01, &[s.key.algorithm().id()]),
                            (0x02, &[pin_policy, TOUCH_NEVER]),
                            (0x03, &[origin]),
                            (0x04, &public),
                        ]),
                        Err(e) => Err(e),
                    }
                }
                None => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
            },
            _ => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        match built {
            Ok(data) => Response::ok(data),
            Err(_) => Response::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    fn mgmt_metadata(&self) -> crate::Result<Vec<u8>> {
        metadata(&[
            (0x01, &[self.mgmt.algorithm().id()]),
            (0x02, &[0x00, TOUCH_NEVER]),
            (0x05, &[u8::from(self.mgmt.is_default())]),
        ])
    }

    /// `00 FF FF FF {alg 9B len key}` (P2 `FE`: "touch required", not simulated): replaces the
    /// management key, after the current one was proven.
    pub(super) fn set_management_key(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0xFF || !matches!(cmd.p2, 0xFF | 0xFE) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if !self.security.admin {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let new_key = match cmd.data {
            [alg, 0x9B, len, key @ ..] if usize::from(*len) == key.len() => {
                MgmtAlgorithm::from_id(*alg).and_then(|a| ManagementKey::new(a, key, false))
            }
            _ => None,
        };
        match new_key {
            Some(k) => {
                self.mgmt = k;
                Response::ok(Vec::new())
            }
            None => Response::status(StatusWord::INCORRECT_DATA),
        }
    }
}

fn metadata(items: &[(u32, &[u8])]) -> crate::Result<Vec<u8>> {
    let mut out = Vec::new();
    for (tag, value) in items {
        tlv::write(&mut out, Tag(*tag), value)?;
    }
    Ok(out)
}
