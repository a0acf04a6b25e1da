//! The APDU session: one logical command in, one logical response out, whatever the card's
//! transport limits. Command chaining (CLA bit `10`) when the data exceeds what one APDU may
//! carry, `61xx` drained with GET RESPONSE, `6Cxx` answered by re-sending a read with the right
//! Le (never a command that acts: its `6Cxx` goes up as the answer), and extended length only
//! when the card declared it.

use zeroize::Zeroizing;

use super::apdu::{self, CLA_CHAINING, Command, EXTENDED_MAX_LC, Response, SHORT_MAX_LC, SHORT_MAX_LE};
use super::atr::{Atr, CardCapabilities};
use super::status::Status;
use super::tlv::{self, Tag};
use crate::error::{Error, Result};
use crate::transport::Transport;

/// Largest logical response the session assembles from `61xx` parts: hostile cards cannot make
/// the host loop or allocate without bound. PIV objects are at most a few KiB.
pub const MAX_RESPONSE: usize = 1 << 20;

/// What the card accepts on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Whether extended Lc/Le may be sent.
    pub extended: bool,
    /// Largest data field of one command APDU (chaining splits bigger ones).
    pub max_command_data: usize,
    /// Largest Le to ask for in one APDU.
    pub max_response_data: usize,
}

impl Limits {
    /// Short APDUs only: every ISO 7816 card accepts these.
    pub const SHORT: Self = Self { extended: false, max_command_data: SHORT_MAX_LC, max_response_data: SHORT_MAX_LE };

    /// Extended APDUs with the largest lengths ISO 7816 allows.
    pub const EXTENDED: Self =
        Self { extended: true, max_command_data: EXTENDED_MAX_LC, max_response_data: apdu::EXTENDED_MAX_LE };

    /// What the ATR's card capabilities declare (short unless extended length is declared).
    pub fn from_capabilities(caps: Option<CardCapabilities>) -> Self {
        if caps.is_some_and(|c| c.extended_length()) { Self::EXTENDED } else { Self::SHORT }
    }

    /// Refines extended limits with EF.ATR/INFO's extended length information (`7F66`:
    /// two INTEGERs, the largest command and response APDU sizes), or card capabilities
    /// (`47`) in BER form. Unparseable content leaves the limits as they were.
    pub fn with_ef_atr(self, ef_atr: &[u8]) -> Self {
        let mut limits = self;
        if let Ok(Some(caps)) = tlv::Reader::new(ef_atr).find(Tag(0x47))
            && CardCapabilities::from_bytes(caps).extended_length()
            && !limits.extended
        {
            limits = Self::EXTENDED;
        }
        if let Ok(Some(info)) = tlv::Reader::new(ef_atr).find(Tag(0x7F66)) {
            let ints: Vec<usize> = tlv::Reader::new(info)
                .filter_map(core::result::Result::ok)
                .filter(|t| t.tag == Tag(0x02) && t.value.len() <= 3)
                .map(|t| t.value.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
                .collect();
            if let [cmd, rsp, ..] = ints[..] {
                limits = Self {
                    extended: cmd > SHORT_MAX_LC + 5 || rsp > SHORT_MAX_LE + 2,
                    // Header (4) + Lc (3) + Le (2) overhead inside the declared APDU size.
                    max_command_data: cmd.saturating_sub(9).clamp(1, EXTENDED_MAX_LC),
                    max_response_data: rsp.saturating_sub(2).clamp(1, apdu::EXTENDED_MAX_LE),
                };
            }
        }
        limits
    }
}

/// APDUs and bytes exchanged so far: the cost measure of every user-visible flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Command APDUs sent (GET RESPONSE and chained parts each count).
    pub apdus: u64,
    /// Command bytes sent.
    pub bytes_sent: u64,
    /// Response bytes received, status words included.
    pub bytes_received: u64,
}

impl Counters {
    /// The exchanges between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            apdus: self.apdus.saturating_sub(earlier.apdus),
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
        }
    }

    /// Bytes in both directions.
    pub fn bytes(self) -> u64 {
        self.bytes_sent + self.bytes_received
    }
}

/// An APDU session over a transport.
#[derive(Debug)]
pub struct Session<T> {
    transport: T,
    limits: Limits,
    counters: Counters,
}

impl<T: Transport> Session<T> {
    /// A session that sends short APDUs only until told otherwise.
    pub fn new(transport: T) -> Self {
        Self { transport, limits: Limits::SHORT, counters: Counters::default() }
    }

    /// A session whose limits come from the card's ATR (card capabilities).
    ///
    /// # Errors
    /// [`Error::Transport`] when the ATR cannot be read. A malformed ATR means short APDUs.
    pub fn from_atr(mut transport: T) -> Result<Self> {
        let atr = transport.atr()?;
        let caps = Atr::parse(&atr).ok().and_then(|a| a.card_capabilities());
        Ok(Self { transport, limits: Limits::from_capabilities(caps), counters: Counters::default() })
    }

    /// The current limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limits (after reading EF.ATR, or to force short APDUs).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The exchange counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport, read-only.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Sends one logical command and returns its complete response, whatever its status word.
    ///
    /// # Errors
    /// [`Error::Transport`] from the transport, [`Error::CommandTooLong`] when the command
    /// cannot be encoded, [`Error::Malformed`] for a response without status word or too long.
    pub fn transmit(&mut self, cmd: &Command) -> Result<Response> {
        // Short APDUs carry at most 255 bytes; a card may ask for less (the Microsoft TPM virtual
        // smart card chains GIDS commands in 240-byte parts, OpenSC issue #1866).
        let chunk = if self.limits.extended {
            self.limits.max_command_data.max(1)
        } else {
            self.limits.max_command_data.clamp(1, SHORT_MAX_LC)
        };
        let data = cmd.data();
        let mut parts = data.chunks(chunk).peekable();
        let mut first = true;
        let base_cla = cmd.cla & !CLA_CHAINING;
        // Every part but the last goes out with the chaining bit and no Le.
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                break;
            }
            let sub = cmd.part(base_cla | CLA_CHAINING, part, None);
            let rsp = self.exchange(&sub)?;
            first = false;
            if !rsp.sw.is_success() {
                return Ok(rsp);
            }
        }
        let last = if first { data } else { data.chunks(chunk).last().unwrap_or(&[]) };
        let le = cmd.le.map(|n| n.min(self.max_le()));
        let final_cmd = cmd.part(base_cla, last, le);
        self.exchange_draining(&final_cmd)
    }

    /// Sends `cmd`, answering `6Cxx` once for reads and draining `61xx`.
    fn exchange_draining(&mut self, cmd: &Command) -> Result<Response> {
        let mut rsp = self.exchange(cmd)?;
        if let Status::WrongLe(n) = rsp.sw.status()
            && apdu::ins::is_read(cmd.ins)
        {
            rsp = self.exchange(&cmd.part(cmd.cla, cmd.data(), Some(usize::from(n))))?;
        }
        let mut data = Zeroizing::new(std::mem::take(&mut rsp.data));
        while let Status::MoreData(n) = rsp.sw.status() {
            let get_response =
                Command::new(cmd.cla & !CLA_CHAINING, apdu::ins::GET_RESPONSE, 0, 0).with_le(usize::from(n));
            let get_response =
                if cmd.has_secret_response() { get_response.with_secret_response() } else { get_response };
            rsp = self.exchange(&get_response)?;
            if let Status::WrongLe(exact) = rsp.sw.status() {
                rsp = self.exchange(&get_response.part(get_response.cla, &[], Some(usize::from(exact))))?;
            }
            if data.len() + rsp.data.len() > MAX_RESPONSE {
                return Err(Error::Malformed { what: "response longer than 1 MiB" });
            }
            data.extend_from_slice(&rsp.data);
            rsp.data.clear();
        }
        Ok(Response { data: std::mem::take(&mut *data), sw: rsp.sw })
    }

    /// One physical APDU.
    fn exchange(&mut self, cmd: &Command) -> Result<Response> {
        let raw = cmd.encode(self.limits.extended)?;
        let result = self.transport.transmit(&raw);
        self.counters.apdus += 1;
        self.counters.bytes_sent += raw.len() as u64;
        let raw_rsp = match result {
            Ok(r) => Zeroizing::new(r),
            Err(e) => {
                tracing::debug!(target: "apdu", command = %cmd.redacted_hex(&raw), error = %e, "transmit failed");
                return Err(e);
            }
        };
        self.counters.bytes_received += raw_rsp.len() as u64;
        let rsp = Response::parse(&raw_rsp)?;
        if tracing::enabled!(target: "apdu", tracing::Level::DEBUG) {
            let shown = if cmd.has_secret_response() && !rsp.data.is_empty() {
                format!("<{} bytes redacted> {}", rsp.data.len(), rsp.sw)
            } else {
                format!("{} {}", hex::encode_upper(&rsp.data), rsp.sw)
            };
            tracing::debug!(target: "apdu", command = %cmd.redacted_hex(&raw), response = %shown, "apdu");
        }
        Ok(rsp)
    }

    fn max_le(&self) -> usize {
        if self.limits.extended { self.limits.max_response_data } else { SHORT_MAX_LE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::memory::{MemoryCard, ScriptedCard};
    use hex_literal::hex;

    fn scripted(script: &[(&[u8], &[u8])]) -> (Session<MemoryCard>, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let card = ScriptedCard::new(&hex!("3B00"), script);
        let mismatches = card.mismatches.clone();
        (Session::new(MemoryCard::new(card)), mismatches)
    }

    #[test]
    fn drains_61xx_with_get_response() {
        let (mut s, bad) =
            scripted(&[(&hex!("00CB3FFF035C017E00"), &hex!("AABB6103")), (&hex!("00C0000003"), &hex!("CCDDEE9000"))]);
        let rsp = s.transmit(&Command::new(0, 0xCB, 0x3F, 0xFF).with_data(hex!("5C017E")).with_le(256)).unwrap();
        assert_eq!(rsp.data, hex!("AABBCCDDEE"));
        assert!(rsp.sw.is_success());
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
        assert_eq!(s.counters().apdus, 2);
    }

    #[test]
    fn answers_6cxx_by_resending_with_exact_le() {
        let (mut s, bad) =
            scripted(&[(&hex!("00CA7F6800"), &hex!("6C05")), (&hex!("00CA7F6805"), &hex!("01020304059000"))]);
        let rsp = s.transmit(&Command::new(0, 0xCA, 0x7F, 0x68).with_le(256)).unwrap();
        assert_eq!(rsp.data, hex!("0102030405"));
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
    }

    #[test]
    fn never_resends_a_command_that_acts_for_6cxx() {
        for ins in [0x20, 0x24, 0x2C, 0x87, 0x47, 0xDB, 0x2A, 0x22] {
            let cmd = Command::new(0, ins, 0, 0x80).with_data(hex!("313233343536").to_vec());
            let wire = cmd.encode(false).unwrap().to_vec();
            let (mut s, bad) = scripted(&[(&wire, &hex!("6C05"))]);
            let rsp = s.transmit(&cmd).unwrap();
            assert_eq!(rsp.sw.0, 0x6C05, "INS {ins:02X}: the anomaly is the answer");
            assert_eq!(s.counters().apdus, 1, "INS {ins:02X} sent once");
            assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
        }
    }

    #[test]
    fn chains_long_commands_in_short_mode() {
        let data: Vec<u8> = (0..300u16).map(|i| (i & 0xFF) as u8).collect();
        let mut first = hex!("1087079AFF").to_vec();
        first.extend_from_slice(&data[..255]);
        let mut second = hex!("0087079A2D").to_vec();
        second.extend_from_slice(&data[255..]);
        second.push(0);
        let (mut s, bad) = scripted(&[(&first, &hex!("9000")), (&second, &hex!("01029000"))]);
        let rsp = s.transmit(&Command::new(0, 0x87, 7, 0x9A).with_data(data).with_le(256)).unwrap();
        assert_eq!(rsp.data, hex!("0102"));
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
        assert_eq!(s.counters().apdus, 2);
    }

    #[test]
    fn short_chunks_follow_a_smaller_command_limit() {
        let data = vec![0x5A; 256];
        let mut first = hex!("102A8086F0").to_vec();
        first.extend_from_slice(&data[..240]);
        let mut second = hex!("002A808610").to_vec();
        second.extend_from_slice(&data[240..]);
        second.push(0);
        let (mut s, bad) = scripted(&[(&first, &hex!("9000")), (&second, &hex!("AA9000"))]);
        s.set_limits(Limits { max_command_data: 240, ..Limits::SHORT });
        let rsp = s.transmit(&Command::new(0, 0x2A, 0x80, 0x86).with_data(data).with_le(256)).unwrap();
        assert_eq!(rsp.data, hex!("AA"));
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
    }

    #[test]
    fn stops_the_chain_on_error() {
        let mut first = hex!("1087079AFF").to_vec();
        first.extend_from_slice(&[0; 255]);
        let (mut s, _) = scripted(&[(&first, &hex!("6884"))]);
        let rsp = s.transmit(&Command::new(0, 0x87, 7, 0x9A).with_data(vec![0; 300])).unwrap();
        assert_eq!(rsp.sw.0, 0x6884);
        assert_eq!(s.counters().apdus, 1);
    }

    #[test]
    fn extended_only_when_declared() {
        let (mut s, bad) = scripted(&[(&hex!("00CB3FFF000003 5C017E 0000"), &hex!("9000"))]);
        s.set_limits(Limits::EXTENDED);
        let cmd = Command::new(0, 0xCB, 0x3F, 0xFF).with_data(hex!("5C017E")).with_le(65_536);
        s.transmit(&cmd).unwrap();
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
        // Without extended length, Le is clamped to 256.
        let (mut s, bad) = scripted(&[(&hex!("00CB3FFF035C017E00"), &hex!("9000"))]);
        s.transmit(&cmd).unwrap();
        assert!(bad.lock().unwrap().is_empty(), "{:?}", bad.lock().unwrap());
    }

    #[test]
    fn limits_from_ef_atr() {
        // 7F66 { 02 02 0800, 02 02 0800 }: 2048-byte command and response APDUs.
        let l = Limits::SHORT.with_ef_atr(&hex!("7F660802020800020208 00"));
        assert!(l.extended);
        assert_eq!(l.max_command_data, 2048 - 9);
        assert_eq!(l.max_response_data, 2046);
        assert_eq!(Limits::SHORT.with_ef_atr(&hex!("47 03 80 00 40")), Limits::EXTENDED);
        assert_eq!(Limits::SHORT.with_ef_atr(&hex!("FFFF")), Limits::SHORT);
    }

    #[test]
    fn hostile_endless_61xx_is_bounded() {
        struct Endless;
        impl crate::transport::memory::VirtualCard for Endless {
            fn atr(&self) -> Vec<u8> {
                vec![0x3B, 0]
            }
            fn process(&mut self, _: &[u8]) -> Vec<u8> {
                let mut r = vec![0u8; 256];
                r.extend_from_slice(&[0x61, 0x00]);
                r
            }
            fn reset(&mut self) {}
        }
        let mut s = Session::new(MemoryCard::new(Endless));
        let r = s.transmit(&Command::new(0, 0xCB, 0x3F, 0xFF).with_le(256));
        assert!(matches!(r, Err(Error::Malformed { .. })));
    }
}
