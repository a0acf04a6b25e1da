//! Command and response APDUs (ISO 7816-3/-4 cases 1 to 4, short and extended length).
//!
//! The host encodes [`Command`]s; the simulated cards decode them with [`CommandView::parse`].
//! Building an APDU never panics: lengths that do not fit are an [`Error`].

use core::fmt;

use zeroize::Zeroizing;

use super::status::StatusWord;
use crate::error::{Error, Result};

/// CLA bit that marks every command of a chain but the last (ISO 7816-4 5.4.1).
pub const CLA_CHAINING: u8 = 0x10;
/// Largest command data field of a short APDU.
pub const SHORT_MAX_LC: usize = 255;
/// Largest response data a short APDU can ask for (Le = `00`).
pub const SHORT_MAX_LE: usize = 256;
/// Largest command data field of an extended APDU.
pub const EXTENDED_MAX_LC: usize = 65_535;
/// Largest response data an extended APDU can ask for (Le = `00 00`).
pub const EXTENDED_MAX_LE: usize = 65_536;

/// INS codes used by this crate.
pub mod ins {
    /// SELECT.
    pub const SELECT: u8 = 0xA4;
    /// READ BINARY.
    pub const READ_BINARY: u8 = 0xB0;
    /// GET RESPONSE.
    pub const GET_RESPONSE: u8 = 0xC0;
    /// GET DATA (odd INS, BER-TLV data field: PIV, GIDS).
    pub const GET_DATA_ODD: u8 = 0xCB;
    /// GET DATA (even INS, tag in P1-P2).
    pub const GET_DATA: u8 = 0xCA;
    /// PUT DATA (odd INS).
    pub const PUT_DATA_ODD: u8 = 0xDB;
    /// VERIFY.
    pub const VERIFY: u8 = 0x20;
    /// CHANGE REFERENCE DATA.
    pub const CHANGE_REFERENCE_DATA: u8 = 0x24;
    /// RESET RETRY COUNTER.
    pub const RESET_RETRY_COUNTER: u8 = 0x2C;
    /// GENERAL AUTHENTICATE.
    pub const GENERAL_AUTHENTICATE: u8 = 0x87;
    /// GENERATE ASYMMETRIC KEY PAIR.
    pub const GENERATE_ASYMMETRIC_KEY_PAIR: u8 = 0x47;
    /// READ BINARY (odd INS).
    pub const READ_BINARY_ODD: u8 = 0xB1;
    /// READ RECORD.
    pub const READ_RECORD: u8 = 0xB2;

    /// Whether sending a command with this INS again changes nothing on the card (ISO 7816-4
    /// reads: SELECT, READ BINARY/RECORD, GET DATA, GET RESPONSE). Only these are re-sent for a
    /// `6Cxx` answer: a VERIFY, a key generation or a PUT DATA sent twice would act twice.
    pub const fn is_read(ins: u8) -> bool {
        matches!(ins, SELECT | READ_BINARY | READ_BINARY_ODD | READ_RECORD | GET_DATA | GET_DATA_ODD | GET_RESPONSE)
    }
}

/// A command APDU to send. The data field is zeroized on drop; a `sensitive` command (PIN,
/// key, challenge response) never shows its data in `Debug` or traces.
#[derive(Clone)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    /// Expected response length: `None` for cases 1 and 3, else 1..=65536 (256 and 65536 are
    /// the "as much as available" encodings `00` and `00 00`).
    pub le: Option<usize>,
    sensitive: bool,
    secret_response: bool,
}

impl Command {
    /// A case 1 command (no data, no Le).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self { cla, ins, p1, p2, data: Zeroizing::new(Vec::new()), le: None, sensitive: false, secret_response: false }
    }

    /// Marks the response as secret (a shared secret, a plaintext): traces show only its length.
    #[must_use]
    pub fn with_secret_response(mut self) -> Self {
        self.secret_response = true;
        self
    }

    /// Whether the response data is secret.
    pub fn has_secret_response(&self) -> bool {
        self.secret_response
    }

    /// Sets the data field.
    #[must_use]
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = Zeroizing::new(data.into());
        self
    }

    /// Sets a secret data field: zeroized on drop and redacted from `Debug` and traces.
    #[must_use]
    pub fn with_secret(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = Zeroizing::new(data.into());
        self.sensitive = true;
        self
    }

    /// Sets Le (clamped to 1..=65536; 0 means "as much as available", i.e. 65536).
    #[must_use]
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(if le == 0 { EXTENDED_MAX_LE } else { le.min(EXTENDED_MAX_LE) });
        self
    }

    /// The data field.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether the data field is secret.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }

    /// Encodes the command. Short form unless `extended` is true *and* a length needs it.
    ///
    /// # Errors
    /// [`Error::CommandTooLong`] when Lc or Le does not fit the chosen form.
    pub fn encode(&self, extended: bool) -> Result<Zeroizing<Vec<u8>>> {
        encode_parts(self.header(), &self.data, self.le, extended)
    }

    /// CLA INS P1 P2.
    pub fn header(&self) -> [u8; 4] {
        [self.cla, self.ins, self.p1, self.p2]
    }

    /// The same command with another data field and Le (used for chaining and `6Cxx`).
    pub(crate) fn part(&self, cla: u8, data: &[u8], le: Option<usize>) -> Self {
        Self {
            cla,
            ins: self.ins,
            p1: self.p1,
            p2: self.p2,
            data: Zeroizing::new(data.to_vec()),
            le,
            sensitive: self.sensitive,
            secret_response: self.secret_response,
        }
    }

    /// Hex of the encoded command with the data field replaced by `<N bytes redacted>` when
    /// sensitive: the only form in which commands are ever logged.
    pub fn redacted_hex(&self, encoded: &[u8]) -> String {
        redacted_hex(encoded, self.sensitive)
    }
}

/// Hex of an encoded command, with the data field hidden when `sensitive`.
pub fn redacted_hex(encoded: &[u8], sensitive: bool) -> String {
    if !sensitive {
        return hex::encode_upper(encoded);
    }
    let head = encoded.get(..4).unwrap_or(encoded);
    format!("{} <{} bytes redacted>", hex::encode_upper(head), encoded.len().saturating_sub(4))
}

fn encode_parts(header: [u8; 4], data: &[u8], le: Option<usize>, extended: bool) -> Result<Zeroizing<Vec<u8>>> {
    let lc = data.len();
    let needs_extended = lc > SHORT_MAX_LC || le.is_some_and(|n| n > SHORT_MAX_LE);
    if lc > EXTENDED_MAX_LC || le.is_some_and(|n| n == 0 || n > EXTENDED_MAX_LE) {
        return Err(Error::CommandTooLong { lc, le: le.unwrap_or(0) });
    }
    if needs_extended && !extended {
        return Err(Error::CommandTooLong { lc, le: le.unwrap_or(0) });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(4 + 3 + lc + 3));
    out.extend_from_slice(&header);
    if needs_extended {
        if lc > 0 {
            out.push(0);
            out.extend_from_slice(&u16_bytes(lc));
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            if lc == 0 {
                out.push(0);
            }
            // 65536 is encoded as 00 00.
            out.extend_from_slice(&u16_bytes(n % EXTENDED_MAX_LE));
        }
    } else {
        if lc > 0 {
            out.push(low_byte(lc));
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            // 256 is encoded as 00.
            out.push(low_byte(n % SHORT_MAX_LE));
        }
    }
    Ok(out)
}

fn u16_bytes(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

fn low_byte(n: usize) -> u8 {
    u8::try_from(n & 0xFF).unwrap_or(0)
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Command");
        s.field("header", &hex::encode_upper(self.header()));
        if self.sensitive {
            s.field("data", &format_args!("<{} bytes redacted>", self.data.len()));
        } else {
            s.field("data", &hex::encode_upper(&*self.data));
        }
        s.field("le", &self.le).finish()
    }
}

/// A response APDU: data then SW1 SW2.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (may be empty).
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw response bytes into data and status word.
    ///
    /// # Errors
    /// [`Error::Malformed`] when fewer than two bytes arrived.
    pub fn parse(raw: &[u8]) -> Result<Self> {
        match raw {
            [data @ .., sw1, sw2] => Ok(Self { data: data.to_vec(), sw: StatusWord::from_bytes(*sw1, *sw2) }),
            _ => Err(Error::Malformed { what: "response APDU shorter than its status word" }),
        }
    }

    /// A response with only a status word.
    pub fn status(sw: StatusWord) -> Self {
        Self { data: Vec::new(), sw }
    }

    /// A `90 00` response carrying `data`.
    pub fn ok(data: Vec<u8>) -> Self {
        Self { data, sw: StatusWord::SUCCESS }
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }

    /// Ok(data) on `90 00`, else the status word as an error.
    ///
    /// # Errors
    /// [`Error::Status`] for any status word but `90 00`.
    pub fn into_success(self) -> Result<Vec<u8>> {
        if self.sw.is_success() { Ok(self.data) } else { Err(Error::Status(self.sw)) }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} {})", hex::encode_upper(&self.data), self.sw)
    }
}

/// A command APDU decoded on the card side, borrowing the received bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommandView<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Data field (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// Le as a number of bytes (`00` decoded as 256, `00 00` as 65536), `None` for cases 1 and 3.
    pub le: Option<usize>,
    /// Whether the extended length form was used.
    pub extended: bool,
}

impl<'a> CommandView<'a> {
    /// Decodes a command APDU per ISO 7816-3 12.1.3 (case detection from the length).
    ///
    /// # Errors
    /// [`Error::Malformed`] when the bytes match no case.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let malformed = Error::Malformed { what: "command APDU matches no ISO 7816-3 case" };
        let [cla, ins, p1, p2, body @ ..] = raw else {
            return Err(malformed);
        };
        let (data, le, extended): (&[u8], Option<usize>, bool) = match body {
            [] => (&[], None, false),
            [le] => (&[], Some(short_le(*le)), false),
            [0, hi, lo] => (&[], Some(extended_le(*hi, *lo)), true),
            [0, hi, lo, rest @ ..] => {
                let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
                if lc == 0 {
                    return Err(malformed);
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => (rest, None, true),
                    Some(2) => {
                        let (data, le) = rest.split_at(lc);
                        let [hi, lo] = le else { return Err(malformed) };
                        (data, Some(extended_le(*hi, *lo)), true)
                    }
                    _ => return Err(malformed),
                }
            }
            // A leading 00 with more bytes announces the extended form, which needs 3 length bytes.
            [0, _] => return Err(malformed),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => (rest, None, false),
                    Some(1) => {
                        let (data, le) = rest.split_at(lc);
                        (data, le.first().map(|b| short_le(*b)), false)
                    }
                    _ => return Err(malformed),
                }
            }
        };
        Ok(Self { cla: *cla, ins: *ins, p1: *p1, p2: *p2, data, le, extended })
    }

    /// Whether CLA marks this command as a non-final part of a chain.
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0
    }
}

fn short_le(b: u8) -> usize {
    if b == 0 { SHORT_MAX_LE } else { usize::from(b) }
}

fn extended_le(hi: u8, lo: u8) -> usize {
    match u16::from_be_bytes([hi, lo]) {
        0 => EXTENDED_MAX_LE,
        n => usize::from(n),
    }
}

impl fmt::Debug for CommandView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CommandView({:02X}{:02X}{:02X}{:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn short_cases() {
        let c1 = Command::new(0, 0x20, 0, 0x80);
        assert_eq!(&c1.encode(false).unwrap()[..], &hex!("00200080"));
        let c2 = Command::new(0, 0xC0, 0, 0).with_le(256);
        assert_eq!(&c2.encode(false).unwrap()[..], &hex!("00C0000000"));
        let c3 = Command::new(0, 0x20, 0, 0x80).with_data(hex!("313233343536FFFF"));
        assert_eq!(&c3.encode(false).unwrap()[..], &hex!("0020008008313233343536FFFF"));
    }

    #[test]
    fn select_piv_truncated_aid() {
        let c = Command::new(0, ins::SELECT, 4, 0).with_data(hex!("A00000030800001000")).with_le(256);
        assert_eq!(&c.encode(false).unwrap()[..], &hex!("00A4040009A0000003080000100000"));
    }

    #[test]
    fn extended_cases() {
        let c2 = Command::new(0, 0xCB, 0x3F, 0xFF).with_le(65_536);
        assert_eq!(&c2.encode(true).unwrap()[..], &hex!("00CB3FFF000000"));
        let data = vec![0xAB; 300];
        let c4 = Command::new(0, 0x87, 7, 0x9A).with_data(data).with_le(65_536);
        let enc = c4.encode(true).unwrap();
        assert_eq!(&enc[..7], &hex!("0087079A00012C"));
        assert_eq!(&enc[enc.len() - 2..], &[0, 0]);
        assert!(c4.encode(false).is_err());
        // Extended is only used when needed.
        let small = Command::new(0, 0xCB, 0x3F, 0xFF).with_data([0x5C, 1, 0x7E]).with_le(256);
        assert_eq!(&small.encode(true).unwrap()[..], &hex!("00CB3FFF035C017E00"));
    }

    #[test]
    fn too_long_is_an_error() {
        let c = Command::new(0, 0xDB, 0x3F, 0xFF).with_data(vec![0; 65_536]);
        assert!(matches!(c.encode(true), Err(Error::CommandTooLong { .. })));
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Command::new(0, 0x20, 0, 0x80).with_secret(*b"123456\xff\xff");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("313233"), "{dbg}");
        let enc = c.encode(false).unwrap();
        assert_eq!(c.redacted_hex(&enc), "00200080 <9 bytes redacted>");
    }

    #[test]
    fn parse_rejects_garbage() {
        for raw in
            [&hex!("")[..], &hex!("0020"), &hex!("00A404000301"), &hex!("00CB3FFF0000"), &hex!("00A40400000001AA00")]
        {
            assert!(CommandView::parse(raw).is_err(), "{raw:02X?}");
        }
    }

    #[test]
    fn response_parse() {
        let r = Response::parse(&hex!("0102039000")).unwrap();
        assert_eq!(r.data, hex!("010203"));
        assert!(r.sw.is_success());
        assert!(Response::parse(&hex!("90")).is_err());
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(
            header in any::<[u8; 4]>(),
            data in proptest::collection::vec(any::<u8>(), 0..600),
            le in proptest::option::of(1usize..=65_536),
            extended in any::<bool>(),
        ) {
            let cmd = Command::new(header[0], header[1], header[2], header[3]).with_data(data.clone());
            let cmd = match le { Some(n) => cmd.with_le(n), None => cmd };
            match cmd.encode(extended) {
                Ok(raw) => {
                    let view = CommandView::parse(&raw).unwrap();
                    prop_assert_eq!(view.data, &data[..]);
                    prop_assert_eq!(view.le, le);
                    prop_assert_eq!([view.cla, view.ins, view.p1, view.p2], header);
                }
                Err(_) => prop_assert!(!extended && (data.len() > 255 || le.is_some_and(|n| n > 256))),
            }
        }

        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = CommandView::parse(&raw);
            let _ = Response::parse(&raw);
        }
    }
}
