//! Data objects in BER-TLV EFs and the commands that reach them: GET DATA `CB` and PUT DATA
//! `DB` with P1P2 naming the EF (`0000` the current one), `5C` tag lists, whole-TLV answers in
//! DER, replace semantics and GidsApplet's rules for empty objects. P1P2 `3FFF` (keys, PIN
//! status) and `2F01` (EF.ATR) are dispatched to their modules from here.

use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

use super::access::op;
use super::{Applet, sw};

/// Most data objects in one BER-TLV EF (GidsApplet's `BerTlvFile.ELEMENT_COUNT_MAX`).
pub(super) const MAX_OBJECTS: usize = 30;

/// The data objects of one BER-TLV EF, in the order they were first written.
#[derive(Default)]
pub(super) struct DataObjects {
    items: Vec<(Tag, Vec<u8>)>,
}

impl DataObjects {
    /// The value of `tag`.
    pub(super) fn get(&self, tag: Tag) -> Option<&[u8]> {
        self.items.iter().find(|(t, _)| *t == tag).map(|(_, v)| v.as_slice())
    }

    /// What PUT DATA of `tag` with `value` would change: `Some(new)` to store (possibly empty),
    /// `None` to delete. GidsApplet stores an empty value, and deletes the object when an
    /// empty value is written over an empty one.
    fn plan(&self, tag: Tag, value: &[u8]) -> Option<Vec<u8>> {
        match self.get(tag) {
            Some([]) if value.is_empty() => None,
            _ => Some(value.to_vec()),
        }
    }

    /// Writes `tag` (replacing it), or deletes it as [`DataObjects::plan`] says.
    ///
    /// # Errors
    /// `6A 84` when a new object would exceed [`MAX_OBJECTS`].
    pub(super) fn store(&mut self, tag: Tag, value: &[u8]) -> Result<(), StatusWord> {
        let planned = self.plan(tag, value);
        match (self.items.iter_mut().find(|(t, _)| *t == tag), planned) {
            (Some(slot), Some(new)) => slot.1 = new,
            (Some(_), None) => self.remove(tag),
            (None, Some(new)) => {
                if self.items.len() >= MAX_OBJECTS {
                    return Err(StatusWord::NOT_ENOUGH_MEMORY);
                }
                self.items.push((tag, new));
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Every object, in the order first written.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Tag, &[u8])> {
        self.items.iter().map(|(t, v)| (t, v.as_slice()))
    }

    /// Deletes `tag`.
    pub(super) fn remove(&mut self, tag: Tag) {
        self.items.retain(|(t, _)| *t != tag);
    }

    /// The encoded size `tag` would have with `value` (`None`: deleted), for capacity checks.
    fn encoded_size(tag: Tag, value: Option<&[u8]>) -> usize {
        value.map_or(0, |v| tag.to_bytes().len() + length_size(v.len()) + v.len())
    }

    /// Bytes all objects occupy encoded.
    pub(super) fn encoded_len(&self) -> usize {
        self.items.iter().map(|(t, v)| Self::encoded_size(*t, Some(v))).sum()
    }

    /// One object as GET DATA returns it: the whole TLV in DER.
    fn encode(&self, tag: Tag) -> Option<Vec<u8>> {
        self.get(tag).and_then(|v| tlv::encode(tag, v).ok())
    }

    /// Every object, concatenated (GET DATA with `5C 00`).
    fn encode_all(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for (tag, value) in &self.items {
            // Values are bounded by the chaining limit, far below what a length can encode.
            let _ = tlv::write(&mut out, *tag, value);
        }
        out
    }
}

/// Bytes a DER length field takes.
fn length_size(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 4,
    }
}

/// Which objects a GET DATA asks for: `5C 02 <tag>` (or a 1- or 3-byte tag) one, `5C 00` or
/// `5C 01 5C` all of them.
enum Wanted {
    One(Tag),
    All,
}

fn wanted(data: &[u8]) -> Option<Wanted> {
    let list = tlv::read_single(data).ok().filter(|t| t.tag == Tag(0x5C))?;
    match list.value {
        [] | [0x5C] => Some(Wanted::All),
        bytes if bytes.len() <= 3 => {
            let (tag, rest) = tlv_tag(bytes)?;
            rest.is_empty().then_some(Wanted::One(tag))
        }
        _ => None,
    }
}

/// Reads one BER tag from the front of `bytes`.
fn tlv_tag(bytes: &[u8]) -> Option<(Tag, &[u8])> {
    // A tag followed by a zero length parses as a TLV: reuse the codec's tag rules.
    let mut probe = bytes.to_vec();
    probe.push(0);
    let (tlv, rest) = tlv::Tlv::read(&probe).ok()?;
    let used = bytes.len().checked_sub(rest.len())?;
    Some((tlv.tag, bytes.get(used..).unwrap_or_default()))
}

impl Applet {
    /// The EF that P1P2 names: `0000` the current EF, `FFFF` none (`6A 86`).
    fn target_ef(&self, cmd: &CommandView<'_>) -> Result<u16, StatusWord> {
        match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => self.fs.current.ok_or(sw::INCOMPATIBLE_FILE),
            (0xFF, 0xFF) => Err(StatusWord::INCORRECT_P1P2),
            (hi, lo) => Ok(u16::from_be_bytes([hi, lo])),
        }
    }

    /// GET DATA `00 CB <FI> 04 5C 02 <tag> 00`: the whole TLV of one data object, or all of them.
    /// `6A 82` for a missing EF, `69 81` for a key file, `69 85` for an EF not yet activated,
    /// `69 82` when its read condition is not met, `6A 88` for a missing object. The EF
    /// becomes the current EF.
    pub(super) fn get_data(&mut self, cmd: &CommandView<'_>) -> Response {
        match (cmd.p1, cmd.p2) {
            (0x3F, 0xFF) => return self.get_card_data(cmd),
            (0x2F, 0x01) => return Self::read_ef_atr(cmd),
            _ => {}
        }
        let fid = match self.target_ef(cmd) {
            Ok(fid) => fid,
            Err(sw) => return Response::status(sw),
        };
        let Some(ef) = self.fs.files.get(&fid) else {
            return Response::status(StatusWord::FILE_NOT_FOUND);
        };
        let Some(objects) = ef.data() else {
            return Response::status(sw::INCOMPATIBLE_FILE);
        };
        if let Err(sw) = self.fs.check_file(fid, op::GET_DATA, self.authority()) {
            return Response::status(sw);
        }
        let rsp = match wanted(cmd.data) {
            Some(Wanted::All) => Response::ok(objects.encode_all()),
            Some(Wanted::One(tag)) => match objects.encode(tag) {
                Some(tlv) => Response::ok(tlv),
                None => Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
            },
            None => Response::status(sw::DATA_INVALID),
        };
        self.fs.current = Some(fid);
        rsp
    }

    /// GET DATA with P1P2 `3FFF`: the public key of a key file (`70 08 84 01 <kref> A5 03 7F 49
    /// 80`, as Windows and OpenSC send it) or a PIN status object (`5C 02 7F 71`/`7F 72`/`7F 73`).
    fn get_card_data(&mut self, cmd: &CommandView<'_>) -> Response {
        match cmd.data {
            [0x70, 0x08, 0x84, 0x01, kref, 0xA5, 0x03, 0x7F, 0x49, 0x80] => self.read_public_key(*kref),
            [0x5C, 0x02, hi, lo] => self.pin_status(u16::from_be_bytes([*hi, *lo])),
            _ => Response::status(sw::DATA_INVALID),
        }
    }

    /// PUT DATA `00 DB <FI> <TLV>` (chained as needed): writes one data object, replacing it;
    /// a zero-length value empties it, and emptying an empty object deletes it. `6A 84` when
    /// the EF holds [`MAX_OBJECTS`] already or the card's capacity would be exceeded.
    /// P1P2 `3FFF` is PUT KEY.
    pub(super) fn put_data(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) == (0x3F, 0xFF) {
            return self.put_key(cmd);
        }
        let fid = match self.target_ef(cmd) {
            Ok(fid) => fid,
            Err(sw) => return Response::status(sw),
        };
        let Some(ef) = self.fs.files.get(&fid) else {
            return Response::status(StatusWord::FILE_NOT_FOUND);
        };
        let Some(objects) = ef.data() else {
            return Response::status(sw::INCOMPATIBLE_FILE);
        };
        if let Err(sw) = self.fs.check_file(fid, op::PUT_DATA, self.authority()) {
            return Response::status(sw);
        }
        self.fs.current = Some(fid);
        let Ok(object) = tlv::read_single(cmd.data) else {
            return Response::status(sw::DATA_INVALID);
        };
        let old = DataObjects::encoded_size(object.tag, objects.get(object.tag));
        let new = DataObjects::encoded_size(object.tag, objects.plan(object.tag, object.value).as_deref());
        if self.fs.data_bytes().saturating_sub(old).saturating_add(new) > self.capacity {
            return Response::status(StatusWord::NOT_ENOUGH_MEMORY);
        }
        match self.fs.data_mut(fid).map(|d| d.store(object.tag, object.value)) {
            Some(Ok(())) => Response::ok(Vec::new()),
            Some(Err(sw)) => Response::status(sw),
            None => Response::status(sw::INCOMPATIBLE_FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_objects_are_kept_then_deleted() {
        let mut d = DataObjects::default();
        let tag = Tag(0xDF24);
        d.store(tag, &[1, 2, 3]).unwrap();
        assert_eq!(d.get(tag), Some(&[1, 2, 3][..]));
        d.store(tag, &[]).unwrap();
        assert_eq!(d.get(tag), Some(&[][..]), "emptied, still present");
        d.store(tag, &[]).unwrap();
        assert_eq!(d.get(tag), None, "an empty write over an empty object deletes it");
        d.store(tag, &[]).unwrap();
        assert_eq!(d.get(tag), Some(&[][..]), "an empty write creates an empty object");
    }

    #[test]
    fn at_most_thirty_objects() {
        let mut d = DataObjects::default();
        for i in 0..30u32 {
            d.store(Tag(0xDF00 + i), &[1]).unwrap();
        }
        assert_eq!(d.store(Tag(0xDF40), &[1]), Err(StatusWord::NOT_ENOUGH_MEMORY));
        // Replacing still works.
        d.store(Tag(0xDF00), &[2; 300]).unwrap();
        assert_eq!(d.encode(Tag(0xDF00)).unwrap()[..4], [0xDF, 0x00, 0x82, 0x01]);
        assert_eq!(d.encoded_len(), 29 * 4 + 2 + 3 + 300);
    }

    #[test]
    fn tag_lists() {
        assert!(matches!(wanted(&[0x5C, 0x02, 0xDF, 0x1F]), Some(Wanted::One(Tag(0xDF1F)))));
        assert!(matches!(wanted(&[0x5C, 0x00]), Some(Wanted::All)));
        assert!(matches!(wanted(&[0x5C, 0x01, 0x5C]), Some(Wanted::All)));
        assert!(matches!(wanted(&[0x5C, 0x01, 0x41]), Some(Wanted::One(Tag(0x41)))));
        assert!(wanted(&[0x5C, 0x02, 0xDF]).is_none());
        assert!(wanted(&[0x5C, 0x03, 0xDF, 0x1F, 0x00]).is_none());
        assert!(wanted(&[0x4D, 0x00]).is_none());
        assert!(wanted(&[]).is_none());
    }
}
