//! SELECT, GET DATA and PUT DATA.

use super::Applet;
use super::keys::KeyAlgorithm;
use super::mgmt::MgmtAlgorithm;
use super::objects::{self, MAX_OBJECT, PIV_AID};
use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

/// The shortest SELECT data that names PIV: the NIST RID (yubico-piv-tool selects with it).
const MIN_AID_PREFIX: usize = 5;

/// The application label in the property template.
const LABEL: &[u8] = b"Simulated PIV";

impl Applet {
    /// SELECT by DF name: the PIV AID, full or right-truncated, answers the application
    /// property template; any other AID, and selection by file identifier (there is no file
    /// system), is `6A 82` and leaves PIV selected.
    pub(super) fn select(&mut self, cmd: &CommandView<'_>) -> Response {
        if cmd.p1 != 0x04 || cmd.data.len() < MIN_AID_PREFIX || !PIV_AID.starts_with(cmd.data) {
            return Response::status(StatusWord::FILE_NOT_FOUND);
        }
        if cmd.p2 & 0x0C == 0x0C {
            // "No response data" requested.
            return Response::ok(Vec::new());
        }
        match property_template() {
            Ok(apt) => Response::ok(apt),
            Err(_) => Response::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    /// GET DATA `00 CB 3F FF {5C tag}`: the object in `53` (or `7E`/`7F61`); `6A 82` when
    /// absent, `69 82` for PIN-protected objects without the PIN.
    pub(super) fn get_data(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let Some(tag) = tag_list(cmd.data) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        if objects::is_pin_protected(tag) && !self.security.pin_verified {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match self.objects.response(tag) {
            Ok(Some(data)) => Response::ok(data),
            Ok(None) => Response::status(StatusWord::FILE_NOT_FOUND),
            Err(_) => Response::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    /// PUT DATA `00 DB 3F FF {5C tag, 53 content}` (or `{7E ...}` / `{7F61 ...}`), after the
    /// management key: an empty content deletes the object.
    pub(super) fn put_data(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if !self.security.admin {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let Some((tag, content)) = put_data_fields(cmd.data) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        if !objects::is_writable(tag) {
            return Response::status(StatusWord::INCORRECT_DATA);
        }
        if content.len() > MAX_OBJECT {
            return Response::status(StatusWord::NOT_ENOUGH_MEMORY);
        }
        if content.is_empty() {
            self.objects.remove(tag);
        } else {
            self.objects.set(tag, content.to_vec());
        }
        Response::ok(Vec::new())
    }
}

/// The application property template: PIX (with version), label, the algorithms this card
/// implements, and the coexistent tag allocation authority (the NIST RID).
fn property_template() -> crate::Result<Vec<u8>> {
    let mut algorithms = Vec::new();
    let ids = [
        MgmtAlgorithm::TripleDes.id(),
        MgmtAlgorithm::Aes128.id(),
        MgmtAlgorithm::Aes192.id(),
        MgmtAlgorithm::Aes256.id(),
        KeyAlgorithm::Rsa1024.id(),
        KeyAlgorithm::Rsa2048.id(),
        KeyAlgorithm::Rsa3072.id(),
        KeyAlgorithm::Rsa4096.id(),
        KeyAlgorithm::EccP256.id(),
        KeyAlgorithm::EccP384.id(),
    ];
    for id in ids {
        tlv::write(&mut algorithms, Tag(0x80), &[id])?;
    }
    tlv::write(&mut algorithms, Tag(0x06), &[0x00])?;
    let mut authority = Vec::new();
    tlv::write(&mut authority, Tag(0x4F), PIV_AID.get(..5).unwrap_or_default())?;
    let mut apt = Vec::new();
    tlv::write(&mut apt, Tag(0x4F), PIV_AID.get(5..).unwrap_or_default())?;
    tlv::write(&mut apt, Tag(0x50), LABEL)?;
    tlv::write(&mut apt, Tag(0xAC), &algorithms)?;
    tlv::write(&mut apt, Tag(0x79), &authority)?;
    Ok(tlv::encode(Tag(0x61), &apt)?)
}

/// The tag of a GET DATA tag list: exactly one `5C` of 1 to 3 bytes.
fn tag_list(data: &[u8]) -> Option<u32> {
    let t = tlv::read_single(data).ok()?;
    (t.tag == Tag(0x5C)).then_some(())?;
    tag_value(t.value)
}

fn tag_value(bytes: &[u8]) -> Option<u32> {
    (1..=3).contains(&bytes.len()).then(|| bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// The tag and content PUT DATA writes.
fn put_data_fields(data: &[u8]) -> Option<(u32, &[u8])> {
    let (first, rest) = tlv::Tlv::read(data).ok()?;
    match first.tag.0 {
        0x5C => {
            let tag = tag_value(first.value)?;
            let content = tlv::read_single(rest).ok()?;
            (content.tag == Tag(0x53)).then_some((tag, content.value))
        }
        tag @ (objects::tag::DISCOVERY | objects::tag::BIT_GROUP) => rest.is_empty().then_some((tag, first.value)),
        _ => None,
    }
}
