//! ATR, short APDUs only, chaining, `61xx`, reset.

use hex_literal::hex;

use super::{Host, PIN, SELECT};
use crate::GidsSim;
use card_edges::iso7816::{Atr, Limits};

#[test]
fn the_atr_declares_t1_short_apdus_and_matches_no_known_card() {
    let atr = GidsSim::factory_new().atr();
    let parsed = Atr::parse(&atr).unwrap();
    let caps = parsed.card_capabilities().expect("card capabilities in the historical bytes");
    assert!(caps.command_chaining());
    assert!(!caps.extended_length());
    assert_eq!(Limits::from_capabilities(Some(caps)), Limits::SHORT);
    assert_eq!(atr, hex!("3BFD1300008131FE158073C021805753696D474944533E"));
    // Not the TPM virtual smart card's, nor any ATR the test vectors know.
    for (name, known) in test_vectors::atr::ALL {
        assert_ne!(atr, *known, "{name}");
    }
}

#[test]
fn extended_apdus_are_refused() {
    let mut host = Host::default_card();
    assert_eq!(host.sw(&hex!("00CB A010 000004 5C02DF23 0000")), 0x6700);
    // A short one still works.
    assert_eq!(host.get_do(0xA010, 0xDF23).sw.0, 0x9000);
}

#[test]
fn long_responses_come_in_61xx_parts() {
    let mut host = Host::default_card();
    // The 3072-bit public key template: 7F49 82 0189 { 81 82 0180 <384>, 82 03 <3> }, 398 bytes.
    let r = host.send(&hex!("00CB3FFF0A7008840182A5037F498000"));
    assert_eq!(r.data.len(), 256);
    assert_eq!(r.data[..9], hex!("7F49820189818201 80"));
    assert_eq!(r.sw.0, 0x6100 | (398 - 256));
    let rest = host.send(&[0x00, 0xC0, 0x00, 0x00, 0x8E]);
    assert_eq!(rest.data.len(), 142);
    assert_eq!(rest.sw.0, 0x9000);
    // A short Le is honoured.
    let r = host.send(&hex!("00CB3FFF0A7008840181A5037F498010"));
    assert_eq!(r.data.len(), 16);
    assert_eq!(r.sw.0, 0x61FE, "254 bytes of the 270 remain");
}

#[test]
fn chained_put_data_is_reassembled() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    let value: Vec<u8> = (0..700u32).map(|i| u8::try_from(i % 251).unwrap()).collect();
    assert_eq!(host.put_do(0xA010, 0xDF30, &value).sw.0, 0x9000);
    assert_eq!(host.sim.data_object(0xA010, 0xDF30).unwrap(), value);
    let r = host.get_do(0xA010, 0xDF30);
    assert_eq!(r.data[..5], hex!("DF3082 02BC"));
    assert_eq!(r.data[5..], value[..]);
}

#[test]
fn reset_clears_security_and_selection() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.mutual_auth(&super::ADMIN_KEY), 0x9000);
    assert!(host.sim.pin_verified() && host.sim.admin_authenticated());
    host.sim.reset();
    assert!(!host.sim.pin_verified() && !host.sim.admin_authenticated());
    // Nothing is selected: a GET DATA is refused until the application is selected again.
    assert_eq!(host.sw(&hex!("00CBA010045C02DF2300")), 0x6986);
    assert_eq!(host.sw(&hex!("00A4000C023FFF")), 0x6A82);
    assert_eq!(host.sw(&SELECT), 0x9000);
    assert_eq!(host.sw(&hex!("00CBA010045C02DF2300")), 0x9000);
}

#[test]
fn counters_and_trace() {
    let mut host = Host::default_card();
    let before = host.sim.counters();
    host.sim.set_trace(true);
    assert_eq!(host.verify(PIN), 0x9000);
    host.get_do(0xA010, 0xDF24);
    let trace = host.sim.take_trace();
    let spent = host.sim.counters().since(before);
    assert_eq!(spent.apdus, u64::try_from(trace.len()).unwrap());
    assert!(trace.len() >= 3, "VERIFY, GET DATA and its GET RESPONSEs");
    assert!(!trace[0].command.contains("313233343536"), "the PIN is redacted: {}", trace[0].command);
    assert_eq!(trace[1].command, "00CBA010045C02DF2400");
}
