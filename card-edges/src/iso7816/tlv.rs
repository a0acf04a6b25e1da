//! Bounded BER-TLV (ISO 7816-4 / ISO 8825-1 subset) for card data objects.
//!
//! Card data is hostile input handled inside the CSP's process, so this reader is iterative,
//! borrows instead of copying, limits tags to 3 bytes, lengths to 3 bytes (16 MiB) and nesting
//! depth, and never panics. Definite lengths only: indefinite length (`80`) is rejected, as
//! ISO 7816-4 does for interindustry objects. Non-minimal lengths (`81 05`) are accepted because
//! real cards send them. `der` is the wrong tool here: it rejects them (and is used for X.509 only).

use crate::error::{Error, Result};

/// Deepest nesting [`find`] descends into: PIV and GIDS objects nest at most 4 levels.
pub const MAX_DEPTH: usize = 8;

/// A tag of 1 to 3 bytes, stored big-endian in the low bytes (`5F C1 05` is `0x5FC105`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// The encoded bytes of the tag.
    pub fn to_bytes(self) -> Vec<u8> {
        let b = self.0.to_be_bytes();
        let skip = b.iter().take(3).take_while(|x| **x == 0).count();
        b.get(skip..).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// Whether the constructed bit (b6 of the first byte) is set.
    pub fn is_constructed(self) -> bool {
        self.to_bytes().first().is_some_and(|b| b & 0x20 != 0)
    }
}

impl core::fmt::Debug for Tag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tag({})", hex::encode_upper(self.to_bytes()))
    }
}

/// One data object, borrowing its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// The value field.
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Reads one object from the front of `input`, returning it and the bytes after it.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a truncated tag, length or value, an indefinite or too-long
    /// length, or a tag longer than 3 bytes.
    pub fn read(input: &'a [u8]) -> Result<(Self, &'a [u8])> {
        let (tag, rest) = read_tag(input)?;
        let (len, rest) = read_length(rest)?;
        if len > rest.len() {
            return Err(malformed("TLV value runs past the end of the data"));
        }
        let (value, rest) = rest.split_at(len);
        Ok((Self { tag, value }, rest))
    }

    /// The children of a constructed object.
    pub fn children(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Iterates over sibling objects. Yields an error (once, then stops) on malformed input.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Starts reading `data` as a sequence of sibling objects.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data, failed: false }
    }

    /// The first object with `tag` among the siblings.
    ///
    /// # Errors
    /// [`Error::Malformed`] when a sibling before it is malformed.
    pub fn find(self, tag: Tag) -> Result<Option<&'a [u8]>> {
        for tlv in self {
            let tlv = tlv?;
            if tlv.tag == tag {
                return Ok(Some(tlv.value));
            }
        }
        Ok(None)
    }

    /// Requires every sibling to parse, returning them all.
    ///
    /// # Errors
    /// [`Error::Malformed`] on the first malformed sibling.
    pub fn collect_all(self) -> Result<Vec<Tlv<'a>>> {
        self.collect()
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Tlv::read(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Follows `path` (one tag per level) from the top of `data`; each step searches the siblings
/// at that level. Iterative, so hostile nesting cannot exhaust the stack.
///
/// # Errors
/// [`Error::Malformed`] on malformed input or a path deeper than [`MAX_DEPTH`].
pub fn find<'a>(data: &'a [u8], path: &[Tag]) -> Result<Option<&'a [u8]>> {
    if path.len() > MAX_DEPTH {
        return Err(malformed("TLV path deeper than the nesting limit"));
    }
    let mut level = data;
    for tag in path {
        match Reader::new(level).find(*tag)? {
            Some(value) => level = value,
            None => return Ok(None),
        }
    }
    Ok(Some(level))
}

/// Reads exactly one object spanning all of `data` (trailing bytes are an error).
///
/// # Errors
/// [`Error::Malformed`] when `data` is not exactly one well-formed object.
pub fn read_single(data: &[u8]) -> Result<Tlv<'_>> {
    let (tlv, rest) = Tlv::read(data)?;
    if rest.is_empty() { Ok(tlv) } else { Err(malformed("trailing bytes after a TLV object")) }
}

/// Appends `tag`, the minimal BER length of `value` and `value` to `out`.
///
/// # Errors
/// [`Error::CommandTooLong`] when the value exceeds 16 MiB - 1 (3 length bytes).
pub fn write(out: &mut Vec<u8>, tag: Tag, value: &[u8]) -> Result<()> {
    out.extend_from_slice(&tag.to_bytes());
    write_length(out, value.len())?;
    out.extend_from_slice(value);
    Ok(())
}

/// Encodes one object into a new vector.
///
/// # Errors
/// As [`write`].
pub fn encode(tag: Tag, value: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len() + 8);
    write(&mut out, tag, value)?;
    Ok(out)
}

/// Appends a minimal BER definite length.
///
/// # Errors
/// [`Error::CommandTooLong`] for lengths of 2^24 or more.
pub fn write_length(out: &mut Vec<u8>, len: usize) -> Result<()> {
    let too_long = Error::CommandTooLong { lc: len, le: 0 };
    let [b0, b1, b2, b3] = u32::try_from(len).map_err(|_| too_long.clone())?.to_be_bytes();
    match (b0, b1, b2, b3) {
        (0, 0, 0, 0..=0x7F) => out.push(b3),
        (0, 0, 0, _) => out.extend_from_slice(&[0x81, b3]),
        (0, 0, _, _) => out.extend_from_slice(&[0x82, b2, b3]),
        (0, _, _, _) => out.extend_from_slice(&[0x83, b1, b2, b3]),
        _ => return Err(too_long),
    }
    Ok(())
}

fn read_tag(input: &[u8]) -> Result<(Tag, &[u8])> {
    let (&first, mut rest) = input.split_first().ok_or_else(|| malformed("TLV tag missing"))?;
    if first == 0x00 || first == 0xFF {
        return Err(malformed("TLV tag 00/FF (padding) where an object was expected"));
    }
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        // Subsequent bytes: b8 set means another byte follows. At most two more (3-byte tags).
        for n in 0.. {
            let (&b, r) = rest.split_first().ok_or_else(|| malformed("TLV tag truncated"))?;
            rest = r;
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
            if n >= 1 {
                return Err(malformed("TLV tag longer than 3 bytes"));
            }
        }
    }
    Ok((Tag(tag), rest))
}

fn read_length(input: &[u8]) -> Result<(usize, &[u8])> {
    let (&first, rest) = input.split_first().ok_or_else(|| malformed("TLV length missing"))?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), rest)),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7F);
            if rest.len() < n {
                return Err(malformed("TLV length truncated"));
            }
            let (bytes, rest) = rest.split_at(n);
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            Ok((len, rest))
        }
        0x80 => Err(malformed("indefinite TLV length")),
        _ => Err(malformed("TLV length of more than 3 bytes")),
    }
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn piv_certificate_object() {
        // GET DATA response: 53 { 70 cert, 71 CertInfo, FE LRC }
        let obj = hex!("530A 7003 300100 7101 00 FE00");
        let inner = find(&obj, &[Tag(0x53), Tag(0x70)]).unwrap().unwrap();
        assert_eq!(inner, hex!("300100"));
        assert_eq!(find(&obj, &[Tag(0x53), Tag(0x71)]).unwrap(), Some(&[0u8][..]));
        assert_eq!(find(&obj, &[Tag(0x53), Tag(0x72)]).unwrap(), None);
    }

    #[test]
    fn multi_byte_tags_and_lengths() {
        let (t, rest) = Tlv::read(&hex!("5FC10581020102AA")).unwrap();
        assert_eq!(t.tag, Tag(0x5FC105));
        assert_eq!(t.value, hex!("0102"));
        assert_eq!(rest, hex!("AA"));
        assert_eq!(Tag(0x5FC105).to_bytes(), hex!("5FC105"));
        assert_eq!(Tag(0x7F49).to_bytes(), hex!("7F49"));
        assert_eq!(Tag(0x53).to_bytes(), hex!("53"));
        assert!(Tag(0x7F49).is_constructed());
        assert!(!Tag(0x53).is_constructed());
    }

    #[test]
    fn rejects_hostile_input() {
        for bad in [
            &hex!("53")[..],
            &hex!("5305010203"),
            &hex!("5380"),
            &hex!("5384000000010000"),
            &hex!("5FFFFFFF0100"),
            &hex!("5F"),
            &hex!("5382FF"),
            &hex!("00"),
        ] {
            assert!(Tlv::read(bad).is_err(), "{bad:02X?}");
        }
        assert!(read_single(&hex!("530100FF")).is_err());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        // 100 000 nested 7F61 templates: reading the outer object is O(1) in stack.
        let mut data = vec![];
        for _ in 0..10_000 {
            let mut outer = Vec::new();
            write(&mut outer, Tag(0x61), &data).unwrap();
            data = outer;
        }
        let path = [Tag(0x61); MAX_DEPTH];
        assert!(find(&data, &path).unwrap().is_some());
        assert!(find(&data, &[Tag(0x61); MAX_DEPTH + 1]).is_err());
    }

    proptest! {
        #[test]
        fn write_then_read_round_trips(
            tag in prop_oneof![Just(0x53u32), Just(0x7E), Just(0x5FC105), Just(0x7F49), Just(0x9F7F)],
            value in proptest::collection::vec(any::<u8>(), 0..70_000),
        ) {
            let enc = encode(Tag(tag), &value).unwrap();
            let tlv = read_single(&enc).unwrap();
            prop_assert_eq!(tlv.tag, Tag(tag));
            prop_assert_eq!(tlv.value, &value[..]);
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for tlv in Reader::new(&data) {
                if tlv.is_err() { break; }
            }
            let _ = find(&data, &[Tag(0x53), Tag(0x70)]);
        }
    }
}
