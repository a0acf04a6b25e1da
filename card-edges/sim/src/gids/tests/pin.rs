//! The user PIN and the PUK: counters, lengths, deauthentication, change, unblock, status.

use hex_literal::hex;

use super::{ADMIN_KEY, Host, PIN};
use crate::GidsSim;

fn status(host: &mut Host) -> Vec<u8> {
    host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C027F71")).data
}

#[test]
fn verify_counts_down_and_blocks() {
    let mut host = Host::default_card();
    assert_eq!(status(&mut host), hex!("7F71069701039301 03").to_vec());
    assert_eq!(host.verify(b"654321"), 0x63C2);
    assert_eq!(host.verify(b"654321"), 0x63C1);
    assert_eq!(status(&mut host), hex!("7F71069701019301 03").to_vec());
    assert_eq!(host.verify(PIN), 0x9000, "a right PIN restores the counter");
    assert_eq!(host.sim.pin_tries_left(), Some(3));
    assert!(host.sim.pin_verified());
    assert_eq!(host.verify(b"654321"), 0x63C2);
    assert!(!host.sim.pin_verified(), "a wrong PIN ends the verified state");
    assert_eq!(host.verify(b"654321"), 0x63C1);
    assert_eq!(host.verify(b"654321"), 0x63C0);
    assert_eq!(host.verify(PIN), 0x6983);
    assert_eq!(host.verify(b"654321"), 0x6983);
    assert_eq!(host.sw(&hex!("0020008000")), 0x6983);
    assert_eq!(status(&mut host), hex!("7F71069701009301 03").to_vec());
}

#[test]
fn wrong_lengths_cost_nothing() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(b"123"), 0x63C3);
    assert_eq!(host.verify(&[b'1'; 17]), 0x63C3);
    assert_eq!(host.sim.pin_tries_left(), Some(3));
    // A PIN of allowed length that is wrong does cost a try.
    assert_eq!(host.verify(b"1234567"), 0x63C2);
}

#[test]
fn verify_without_data_and_deauthentication() {
    let mut host = Host::default_card();
    assert_eq!(host.sw(&hex!("00200080")), 0x63C3);
    assert_eq!(host.verify(PIN), 0x9000);
    // As GidsApplet: tries left even when verified.
    assert_eq!(host.sw(&hex!("00200080")), 0x63C3);
    assert!(host.sim.pin_verified());
    assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.sw(&hex!("00200082")), 0x9000);
    assert!(!host.sim.pin_verified() && !host.sim.admin_authenticated());
    // P2 00 is the same PIN; unknown references and P1.
    assert_eq!(host.transmit([0x00, 0x20, 0x00, 0x00], PIN).sw.0, 0x9000);
    assert_eq!(host.transmit([0x00, 0x20, 0x00, 0x79], PIN).sw.0, 0x6A88);
    assert_eq!(host.transmit([0x00, 0x20, 0x00, 0x81], PIN).sw.0, 0x6A88, "no PUK on this card");
    assert_eq!(host.transmit([0x00, 0x20, 0x01, 0x80], PIN).sw.0, 0x6A86);
    assert_eq!(host.sw(&hex!("00CB3FFF045C027F7300")), 0x6A88);
    assert_eq!(host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C027F72")).data, hex!("7F72069701039301 03").to_vec());
    assert_eq!(host.sw(&hex!("00CB3FFF045C027F6900")), 0x6984);
}

#[test]
fn change_reference_data() {
    let mut host = Host::default_card();
    assert_eq!(host.transmit([0x00, 0x24, 0x00, 0x80], b"654321987654").sw.0, 0x63C2, "wrong old PIN");
    assert_eq!(host.transmit([0x00, 0x24, 0x00, 0x80], b"1234").sw.0, 0x63C2, "too short: no try spent");
    assert_eq!(host.transmit([0x00, 0x24, 0x00, 0x80], b"123456123").sw.0, 0x6700, "new PIN too short");
    assert_eq!(host.transmit([0x00, 0x24, 0x00, 0x80], b"12345687654321").sw.0, 0x9000);
    assert!(host.sim.pin_verified());
    assert_eq!(host.sim.pin_tries_left(), Some(3));
    assert_eq!(host.verify(PIN), 0x63C2);
    assert_eq!(host.verify(b"87654321"), 0x9000);
    // P1 01 (new value only) needs the PIN verified once operational.
    assert_eq!(host.transmit([0x00, 0x24, 0x01, 0x80], b"1111").sw.0, 0x9000);
    assert!(!host.sim.pin_verified());
    assert_eq!(host.transmit([0x00, 0x24, 0x01, 0x80], b"2222").sw.0, 0x6982);
    assert_eq!(host.verify(b"1111"), 0x9000);
    assert_eq!(host.transmit([0x00, 0x24, 0x02, 0x80], b"2222").sw.0, 0x6A86);
}

#[test]
fn unblock_after_admin_authentication() {
    let mut host = Host::default_card();
    for _ in 0..3 {
        host.verify(b"000000");
    }
    assert_eq!(host.verify(PIN), 0x6983);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x80], b"24682468").sw.0, 0x6982, "needs the administrator");
    assert_eq!(host.transmit([0x00, 0x2C, 0x00, 0x80], b"1234567824682468").sw.0, 0x6A86, "no PUK");
    assert_eq!(host.external_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x81], b"24682468").sw.0, 0x6A88);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x80], b"246").sw.0, 0x6700);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x80], b"24682468").sw.0, 0x9000);
    assert!(!host.sim.admin_authenticated(), "the administrator is deauthenticated afterwards");
    assert!(!host.sim.pin_verified());
    assert_eq!(host.sim.pin_tries_left(), Some(3));
    assert_eq!(host.verify(b"24682468"), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x80], b"13571357").sw.0, 0x6982);
}

#[test]
fn unblock_with_a_puk() {
    let sim = GidsSim::builder(b"puk").puk(b"12345678", 3).build().unwrap();
    let mut host = Host::new(sim);
    host.select();
    assert_eq!(host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C027F73")).data, hex!("7F73069701039301 03").to_vec());
    for _ in 0..3 {
        host.verify(b"000000");
    }
    assert_eq!(host.transmit([0x00, 0x2C, 0x00, 0x80], b"8765432124682468").sw.0, 0x63C2, "wrong PUK");
    assert_eq!(host.sim.puk_tries_left(), Some(2));
    assert_eq!(host.transmit([0x00, 0x2C, 0x00, 0x80], b"12345678246").sw.0, 0x6700, "new PIN too short");
    assert_eq!(host.transmit([0x00, 0x2C, 0x00, 0x80], b"1234567824682468").sw.0, 0x9000);
    assert_eq!(host.sim.puk_tries_left(), Some(3));
    assert_eq!(host.verify(b"24682468"), 0x9000);
    // The PUK can be verified and changed like the PIN.
    assert_eq!(host.transmit([0x00, 0x20, 0x00, 0x81], b"12345678").sw.0, 0x9000);
    assert_eq!(host.transmit([0x00, 0x24, 0x00, 0x81], b"1234567800001111").sw.0, 0x9000);
    assert_eq!(host.transmit([0x00, 0x20, 0x00, 0x81], b"00001111").sw.0, 0x9000);
}

#[test]
fn the_creation_state_sets_pin_and_puk() {
    let mut host = Host::new(GidsSim::factory_new());
    host.select();
    assert_eq!(host.sim.pin_tries_left(), None);
    assert_eq!(host.verify(PIN), 0x6984, "no PIN yet");
    assert_eq!(host.sw(&hex!("00CB3FFF045C027F7100")), 0x6A88);
    assert_eq!(host.transmit([0x00, 0x24, 0x01, 0x80], b"12").sw.0, 0x6700);
    assert_eq!(host.transmit([0x00, 0x24, 0x01, 0x80], b"123456").sw.0, 0x9000);
    assert_eq!(host.transmit([0x00, 0x24, 0x01, 0x81], b"87654321").sw.0, 0x9000);
    assert_eq!(host.sim.pin_tries_left(), Some(3));
    assert_eq!(host.sim.puk_tries_left(), Some(3));
    // In the creation state a VERIFY without data needs nothing; RESET RETRY COUNTER waits.
    assert_eq!(host.sw(&hex!("00200080")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2C, 0x02, 0x80], b"24682468").sw.0, 0x6986);
}
