//! Management key (9B) authentication, external and mutual, 3DES and AES, computed host-side
//! with the cipher crates directly.

use aes::{Aes128, Aes192, Aes256};
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use hex_literal::hex;

use super::{Host, MGMT, tlv};
use crate::{MgmtAlgorithm, PivSim};
use card_edges::iso7816::tlv as ber;

#[derive(Clone, Copy, Debug)]
pub(in crate::piv) enum Cipher {
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
}

impl Cipher {
    fn id(self) -> u8 {
        match self {
            Self::TripleDes => 0x03,
            Self::Aes128 => 0x08,
            Self::Aes192 => 0x0A,
            Self::Aes256 => 0x0C,
        }
    }

    fn block(self) -> usize {
        if matches!(self, Self::TripleDes) { 8 } else { 16 }
    }

    fn run<C: BlockCipherEncrypt + BlockCipherDecrypt + KeyInit>(key: &[u8], data: &[u8], enc: bool) -> Vec<u8> {
        let c = C::new_from_slice(key).unwrap();
        let mut b = cipher::Block::<C>::try_from(data).unwrap();
        if enc {
            c.encrypt_block(&mut b);
        } else {
            c.decrypt_block(&mut b);
        }
        b.to_vec()
    }

    fn crypt(self, key: &[u8], data: &[u8], enc: bool) -> Vec<u8> {
        match self {
            Self::TripleDes => Self::run::<TdesEde3>(key, data, enc),
            Self::Aes128 => Self::run::<Aes128>(key, data, enc),
            Self::Aes192 => Self::run::<Aes192>(key, data, enc),
            Self::Aes256 => Self::run::<Aes256>(key, data, enc),
        }
    }
}

fn value(data: &[u8], tag: u32) -> Vec<u8> {
    ber::find(data, &[ber::Tag(0x7C), ber::Tag(tag)]).unwrap().unwrap().to_vec()
}

/// External authentication; `Err(sw)` when the card refuses the cryptogram.
pub(in crate::piv) fn external_auth(h: &mut Host, c: Cipher, key: &[u8]) -> Result<(), u16> {
    let header = [0x00, 0x87, c.id(), 0x9B];
    let rsp = h.transmit(header, &hex!("7C02 8100"));
    assert_eq!(rsp.sw.0, 0x9000);
    let challenge = value(&rsp.data, 0x81);
    assert_eq!(challenge.len(), c.block());
    assert_eq!(rsp.data.len(), 4 + c.block(), "7C L 81 L challenge");
    let answer = tlv(&[0x7C], &tlv(&[0x82], &c.crypt(key, &challenge, true)));
    match h.sw(header, &answer) {
        0x9000 => Ok(()),
        sw => Err(sw),
    }
}

/// Mutual authentication; checks the card's proof too.
fn mutual_auth(h: &mut Host, c: Cipher, key: &[u8]) -> Result<(), u16> {
    let header = [0x00, 0x87, c.id(), 0x9B];
    let rsp = h.transmit(header, &hex!("7C02 8000"));
    assert_eq!(rsp.sw.0, 0x9000);
    let witness = c.crypt(key, &value(&rsp.data, 0x80), false);
    let challenge: Vec<u8> = (0..c.block()).map(|i| u8::try_from(i * 7 + 1).unwrap()).collect();
    let msg = tlv(&[0x7C], &[tlv(&[0x80], &witness), tlv(&[0x81], &challenge)].concat());
    let rsp = h.transmit(header, &msg);
    if rsp.sw.0 != 0x9000 {
        return Err(rsp.sw.0);
    }
    assert_eq!(value(&rsp.data, 0x82), c.crypt(key, &challenge, true), "the card proves the key back");
    Ok(())
}

fn card(c: Cipher, key: &[u8]) -> Host {
    let alg = match c {
        Cipher::TripleDes => MgmtAlgorithm::TripleDes,
        Cipher::Aes128 => MgmtAlgorithm::Aes128,
        Cipher::Aes192 => MgmtAlgorithm::Aes192,
        Cipher::Aes256 => MgmtAlgorithm::Aes256,
    };
    Host::new(PivSim::builder(b"mgmt").management_key(alg, key).build().unwrap())
}

const KEY32: [u8; 32] = hex!("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");

#[test]
fn external_and_mutual_with_every_algorithm() {
    for (c, key) in [
        (Cipher::TripleDes, &MGMT[..]),
        (Cipher::TripleDes, &KEY32[..24]),
        (Cipher::Aes128, &KEY32[..16]),
        (Cipher::Aes192, &KEY32[..24]),
        (Cipher::Aes256, &KEY32[..]),
    ] {
        let mut h = card(c, key);
        assert_eq!(external_auth(&mut h, c, key), Ok(()), "{c:?} external");
        assert!(h.sim.admin_authenticated());
        h.sim.reset();
        assert!(!h.sim.admin_authenticated());
        assert_eq!(mutual_auth(&mut h, c, key), Ok(()), "{c:?} mutual");
        assert!(h.sim.admin_authenticated());

        // A wrong key: refused, and the administrator status is gone.
        let mut wrong = key.to_vec();
        wrong[0] ^= 0x80;
        assert_eq!(external_auth(&mut h, c, &wrong), Err(0x6982), "{c:?} external, wrong key");
        assert!(!h.sim.admin_authenticated());
        assert_eq!(mutual_auth(&mut h, c, &wrong), Err(0x6982), "{c:?} mutual, wrong key");
        assert!(!h.sim.admin_authenticated());
    }
}

#[test]
fn the_default_card_has_the_factory_3des_key() {
    let mut h = Host::default_card();
    assert_eq!(external_auth(&mut h, Cipher::TripleDes, &MGMT), Ok(()));
    // P1 00 is the older alias of 3DES.
    let rsp = h.transmit([0x00, 0x87, 0x00, 0x9B], &hex!("7C02 8100"));
    assert_eq!(rsp.sw.0, 0x9000);
}

#[test]
fn protocol_errors() {
    let mut h = Host::default_card();
    // P1 is not the key's algorithm.
    assert_eq!(h.sw([0x00, 0x87, 0x08, 0x9B], &hex!("7C02 8100")), 0x6A86);
    // A response without a challenge, or after another command voided it.
    assert_eq!(h.sw([0x00, 0x87, 0x03, 0x9B], &hex!("7C0A 8208 0102030405060708")), 0x6985);
    let rsp = h.transmit([0x00, 0x87, 0x03, 0x9B], &hex!("7C02 8100"));
    let answer = tlv(&[0x7C], &tlv(&[0x82], &Cipher::TripleDes.crypt(&MGMT, &value(&rsp.data, 0x81), true)));
    h.get_data(&hex!("7E"));
    assert_eq!(h.sw([0x00, 0x87, 0x03, 0x9B], &answer), 0x6985);
    assert!(!h.sim.admin_authenticated());
    // Wrong sizes, unknown or repeated tags, missing 7C.
    for bad in [
        &hex!("7C03 810100")[..],
        &hex!("7C06 8204 01020304"),
        &hex!("7C04 8100 8100"),
        &hex!("7C02 8300"),
        &hex!("8100"),
        &hex!("7C04 8000 8100"),
    ] {
        assert_eq!(h.sw([0x00, 0x87, 0x03, 0x9B], bad), 0x6A80, "{bad:02X?}");
    }
    // Internal authentication: the card proves its key, the host is not authenticated.
    let rsp = h.transmit([0x00, 0x87, 0x03, 0x9B], &hex!("7C0C 8108 1122334455667788 8200"));
    assert_eq!(value(&rsp.data, 0x82), Cipher::TripleDes.crypt(&MGMT, &hex!("1122334455667788"), true));
    assert!(!h.sim.admin_authenticated());
}

#[test]
fn set_management_key_then_authenticate_with_it() {
    let mut h = Host::default_card();
    let msg = [&[0x0C, 0x9B, 0x20][..], &KEY32].concat();
    assert_eq!(h.sw([0x00, 0xFF, 0xFF, 0xFF], &msg), 0x6982);
    h.admin();
    assert_eq!(h.sw([0x00, 0xFF, 0xFF, 0xFF], &[&[0x0C, 0x9B, 0x18][..], &KEY32[..24]].concat()), 0x6A80);
    assert_eq!(h.sw([0x00, 0xFF, 0xFF, 0xFF], &msg), 0x9000);
    assert_eq!(h.sim.management_algorithm(), MgmtAlgorithm::Aes256);
    assert_eq!(h.raw(&hex!("00F7009B00")), hex!("01010C 02020001 050100 9000"));
    assert_eq!(mutual_auth(&mut h, Cipher::Aes256, &KEY32), Ok(()));
}
