//! APDU-level tests of the simulated PIV card: each command family through the card's own
//! transport (chaining, `61xx`), with exact bytes where the format is fixed and host-side
//! cryptography where it is not.

mod auth;
mod crypto;
mod data;
mod discovery;
mod mgmt;
mod provision;
mod transport;

use hex_literal::hex;

use super::PivSim;
use card_edges::iso7816::apdu::Response;
use card_edges::transport::memory::VirtualCard;

/// PIN `123456`, padded.
pub(super) const PIN: [u8; 8] = hex!("313233343536FFFF");
/// PUK `12345678`.
pub(super) const PUK: [u8; 8] = *b"12345678";
/// The factory management key.
pub(super) const MGMT: [u8; 24] = hex!("010203040506070801020304050607080102030405060708");

/// A test's view of a card: raw exchanges, or host-style ones that chain and drain `61xx`.
pub(super) struct Host {
    pub(super) sim: PivSim,
    card: PivSim,
}

impl Host {
    pub(super) fn new(sim: PivSim) -> Self {
        Self { card: sim.clone(), sim }
    }

    pub(super) fn default_card() -> Self {
        Self::new(PivSim::default_card().unwrap())
    }

    /// One APDU, as bytes.
    pub(super) fn raw(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.card.process(apdu)
    }

    /// One APDU, split into data and status word.
    pub(super) fn send(&mut self, apdu: &[u8]) -> Response {
        Response::parse(&self.raw(apdu)).unwrap()
    }

    /// A short-APDU command with `data`, chained in 255-byte parts, its `61xx` drained with
    /// GET RESPONSE (Le 00), as hosts do.
    pub(super) fn transmit(&mut self, header: [u8; 4], data: &[u8]) -> Response {
        let parts: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(255).collect() };
        let mut rsp = None;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let mut apdu = header.to_vec();
            if !last {
                apdu[0] |= 0x10;
            }
            if !part.is_empty() {
                apdu.push(u8::try_from(part.len()).unwrap());
                apdu.extend_from_slice(part);
            }
            if last {
                apdu.push(0);
            }
            let r = self.send(&apdu);
            if !last {
                assert_eq!(r.sw.0, 0x9000, "chained part {i}");
            }
            rsp = Some(r);
        }
        let mut rsp = rsp.unwrap();
        while rsp.sw.sw1() == 0x61 {
            let more = self.send(&[0x00, 0xC0, 0x00, 0x00, rsp.sw.sw2()]);
            rsp.data.extend_from_slice(&more.data);
            rsp.sw = more.sw;
        }
        rsp
    }

    /// The status word of `transmit`.
    pub(super) fn sw(&mut self, header: [u8; 4], data: &[u8]) -> u16 {
        self.transmit(header, data).sw.0
    }

    pub(super) fn verify_pin(&mut self) {
        assert_eq!(self.sw([0x00, 0x20, 0x00, 0x80], &PIN), 0x9000);
    }

    /// GET DATA of `tag` (1 to 3 bytes).
    pub(super) fn get_data(&mut self, tag: &[u8]) -> Response {
        let mut data = vec![0x5C, u8::try_from(tag.len()).unwrap()];
        data.extend_from_slice(tag);
        self.transmit([0x00, 0xCB, 0x3F, 0xFF], &data)
    }

    /// Proves the factory 3DES management key with the external flow.
    pub(super) fn admin(&mut self) {
        mgmt::external_auth(self, mgmt::Cipher::TripleDes, &MGMT).unwrap();
    }
}

/// `tag len value` for short values.
pub(super) fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    match value.len() {
        n @ 0..=0x7F => out.push(u8::try_from(n).unwrap()),
        n @ 0x80..=0xFF => out.extend_from_slice(&[0x81, u8::try_from(n).unwrap()]),
        n => out.extend_from_slice(&[0x82, u8::try_from(n >> 8).unwrap(), u8::try_from(n & 0xFF).unwrap()]),
    }
    out.extend_from_slice(value);
    out
}
