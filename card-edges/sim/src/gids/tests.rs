//! APDU-level tests of the simulated GIDS card, through the card's own transport (chaining,
//! `61xx`), with exact bytes where GIDS fixes them and host-side cryptography (written here,
//! not shared with the card) where it does not.

mod admin;
mod crypto;
mod data;
mod files;
mod pin;
mod provision;
mod select;
mod transport;

use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use hex_literal::hex;

use super::GidsSim;
use card_edges::iso7816::apdu::Response;
use card_edges::transport::memory::VirtualCard;

/// The default user PIN.
pub(super) const PIN: &[u8] = b"123456";
/// The default administrator key.
pub(super) const ADMIN_KEY: [u8; 24] = hex!("010203040506070801020304050607080102030405060708");
/// The 9-byte partial AID SELECT hosts send.
pub(super) const SELECT: [u8; 15] = hex!("00A4040009A0000003974254465900");

/// A test's view of a card: raw exchanges, or host-style ones that chain and drain `61xx`.
pub(super) struct Host {
    pub(super) sim: GidsSim,
    card: GidsSim,
}

impl Host {
    pub(super) fn new(sim: GidsSim) -> Self {
        Self { card: sim.clone(), sim }
    }

    /// The default card, with the application selected.
    pub(super) fn default_card() -> Self {
        let mut host = Self::new(GidsSim::default_card().unwrap());
        host.select();
        host
    }

    /// One APDU, as bytes.
    pub(super) fn raw(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.card.process(apdu)
    }

    /// One APDU, split into data and status word.
    pub(super) fn send(&mut self, apdu: &[u8]) -> Response {
        Response::parse(&self.raw(apdu)).unwrap()
    }

    /// The status word of one APDU.
    pub(super) fn sw(&mut self, apdu: &[u8]) -> u16 {
        self.send(apdu).sw.0
    }

    /// A short-APDU command with `data`, chained in 255-byte parts, Le `00`, its `61xx` drained
    /// with GET RESPONSE, as OpenSC does.
    pub(super) fn transmit(&mut self, header: [u8; 4], data: &[u8]) -> Response {
        self.transmit_with(header, data, true)
    }

    /// As [`Host::transmit`], with or without Le on the last part.
    pub(super) fn transmit_with(&mut self, header: [u8; 4], data: &[u8], le: bool) -> Response {
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
            if last && le {
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

    /// SELECT by the partial AID, expecting the FCI.
    pub(super) fn select(&mut self) {
        let r = self.send(&SELECT);
        assert_eq!(r.sw.0, 0x9000);
        assert_eq!(r.data, hex!("61124F0BA00000039742544659020173034001C0").to_vec());
    }

    /// VERIFY the user PIN.
    pub(super) fn verify(&mut self, pin: &[u8]) -> u16 {
        self.transmit([0x00, 0x20, 0x00, 0x80], pin).sw.0
    }

    /// GET DATA of one DO.
    pub(super) fn get_do(&mut self, fi: u16, tag: u16) -> Response {
        let [f1, f2] = fi.to_be_bytes();
        let [t1, t2] = tag.to_be_bytes();
        self.transmit([0x00, 0xCB, f1, f2], &[0x5C, 0x02, t1, t2])
    }

    /// PUT DATA of one DO (the whole TLV built here).
    pub(super) fn put_do(&mut self, fi: u16, tag: u16, value: &[u8]) -> Response {
        let [f1, f2] = fi.to_be_bytes();
        let tlv = card_edges::iso7816::tlv::encode(card_edges::iso7816::Tag(u32::from(tag)), value).unwrap();
        self.transmit_with([0x00, 0xDB, f1, f2], &tlv, false)
    }

    /// MSE SET AT for the administrator key.
    pub(super) fn select_admin_key(&mut self) {
        assert_eq!(self.sw(&hex!("0022C1A403830180")), 0x9000);
    }

    /// Mutual authentication with `key`, as OpenSC performs it; returns the SW of step 3, and
    /// checks the card's cryptogram on success.
    pub(super) fn mutual_auth(&mut self, key: &[u8; 24]) -> u16 {
        self.select_admin_key();
        let r1 = [0x5Au8; 16];
        let mut step2 = hex!("00870000147C128110").to_vec();
        step2.extend_from_slice(&r1);
        step2.push(0);
        let rsp = self.send(&step2);
        assert_eq!(rsp.sw.0, 0x9000);
        assert_eq!(rsp.data[..4], hex!("7C128110"));
        let r2 = rsp.data[4..20].to_vec();
        let mut plain = r2.clone();
        plain.extend_from_slice(&r1);
        plain.extend_from_slice(&[0x33; 7]);
        plain.push(0x80);
        let c = tdes_cbc_host(key, &plain, true);
        let mut step3 = hex!("008700002C7C2A8228").to_vec();
        step3.extend_from_slice(&c);
        step3.push(0);
        let rsp = self.send(&step3);
        if rsp.sw.0 == 0x9000 {
            assert_eq!(rsp.data.len(), 44);
            assert_eq!(rsp.data[..4], hex!("7C2A8228"));
            let back = tdes_cbc_host(key, &rsp.data[4..], false);
            assert_eq!(back[..16], r1);
            assert_eq!(back[16..32], r2[..]);
            assert_eq!(back[39], 0x80);
        }
        rsp.sw.0
    }

    /// External authentication with `key`; returns the SW of the answer.
    pub(super) fn external_auth(&mut self, key: &[u8; 24]) -> u16 {
        self.select_admin_key();
        let rsp = self.send(&hex!("00870000047C02810000"));
        assert_eq!(rsp.sw.0, 0x9000);
        assert_eq!(rsp.data[..4], hex!("7C0A8108"));
        let c = tdes_cbc_host(key, &rsp.data[4..12], true);
        let mut answer = hex!("008700000C7C0A8208").to_vec();
        answer.extend_from_slice(&c);
        self.sw(&answer)
    }
}

/// 3DES-CBC, IV 0, as a host computes it (independent of the card's implementation).
pub(super) fn tdes_cbc_host(key: &[u8; 24], data: &[u8], encrypt: bool) -> Vec<u8> {
    let c = des::TdesEde3::new_from_slice(key).unwrap();
    let mut prev = [0u8; 8];
    let mut out = Vec::new();
    for block in data.chunks(8) {
        let mut b: [u8; 8] = block.try_into().unwrap();
        if encrypt {
            for (x, p) in b.iter_mut().zip(prev) {
                *x ^= p;
            }
            let mut blk = cipher::Block::<des::TdesEde3>::from(b);
            c.encrypt_block(&mut blk);
            prev.copy_from_slice(&blk);
            out.extend_from_slice(&blk);
        } else {
            let mut blk = cipher::Block::<des::TdesEde3>::from(b);
            c.decrypt_block(&mut blk);
            let mut p: [u8; 8] = blk.into();
            for (x, q) in p.iter_mut().zip(prev) {
                *x ^= q;
            }
            prev = b;
            out.extend_from_slice(&p);
        }
    }
    out
}

/// The APDUs of `gids-tool --initialize` (OpenSC `gids_initialize`, the GIDS electrical
/// profile's card initialisation), after the SELECT: PIN, the six DO files, the admin key file
/// and key, the initial files, activation.
pub(super) fn initialize(host: &mut Host, admin_key: &[u8; 24], cardid: &[u8; 16]) {
    assert_eq!(host.sw(&hex!("00CBA000045C02DF1F00")), 0x6A82, "a new card has no master file");
    assert_eq!(host.sw(&hex!("0024018006313233343536")), 0x9000);
    for fcp in [
        hex!("620C8201398302A0008C03033000"),
        hex!("620C8201398302A0108C03033000"),
        hex!("620C8201398302A0118C030330FF"),
        hex!("620C8201398302A0128C03032000"),
        hex!("620C8201398302A0138C03033030"),
        hex!("620C8201398302A0148C03032020"),
    ] {
        assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &fcp, false).sw.0, 0x9000);
        assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    }
    let admin = hex!("621A8201188302B0808C04870020FFA50BA4098001028301809501C0");
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &admin, false).sw.0, 0x9000);
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    let mut put_key = hex!("7024840180A51F8718").to_vec();
    put_key.extend_from_slice(admin_key);
    put_key.extend_from_slice(&hex!("8803B073DC"));
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &put_key, false).sw.0, 0x9000);
    let masterfile = super::provision::initial_masterfile();
    assert_eq!(host.put_do(0xA000, 0xDF1F, &masterfile).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF21, b"mscp\0\0\0\0").sw.0, 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF22, &[0; 6]).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF23, &[]).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA012, 0xDF20, cardid).sw.0, 0x9000);
    assert_eq!(host.sw(&hex!("00A4000C023FFF")), 0x9000);
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
}

/// A factory-new card taken through [`initialize`] with the default admin key.
pub(super) fn initialized() -> Host {
    let mut host = Host::new(GidsSim::factory_new());
    host.select();
    initialize(&mut host, &ADMIN_KEY, &[0x11; 16]);
    host
}
