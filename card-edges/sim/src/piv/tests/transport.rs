//! The card's transport: chaining and `61xx` with short APDUs, extended APDUs when enabled,
//! the ATR that declares them, resets and counters.

use hex_literal::hex;

use super::{Host, tlv};
use crate::PivSim;
use card_edges::iso7816::Atr;
use card_edges::transport::memory::{CardSlot, VirtualCard};

/// A 2 KB "certificate" (the card does not parse certificates).
fn big_cert() -> Vec<u8> {
    let mut c = hex!("308207CC").to_vec();
    c.extend((0..0x7CCu32).map(|i| (i % 251) as u8));
    c
}

fn put_cert_object(cert: &[u8]) -> Vec<u8> {
    let body = [tlv(&[0x70], cert), hex!("710100 FE00").to_vec()].concat();
    [tlv(&[0x5C], &hex!("5FC10D")), tlv(&[0x53], &body)].concat()
}

#[test]
fn chaining_and_61xx_for_a_2kb_certificate_with_extended_off() {
    let sim = PivSim::builder(b"short").extended_length(false).build().unwrap();
    let mut h = Host::new(sim);
    h.admin();
    let cert = big_cert();
    let put = put_cert_object(&cert);
    assert!(put.len() > 2000);
    let before = h.sim.counters().apdus;
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &put), 0x9000);
    assert_eq!(h.sim.counters().apdus - before, put.len().div_ceil(255) as u64, "one APDU per 255 bytes");
    assert_eq!(h.sim.certificate(0x82).unwrap(), cert);

    // GET DATA: 256 bytes at a time.
    let first = h.raw(&hex!("00CB3FFF055C035FC10D00"));
    assert_eq!(first.len(), 258);
    assert_eq!(&first[..4], &hex!("538207D9"));
    assert_eq!(&first[256..], &hex!("6100"));
    let mut all = first[..256].to_vec();
    loop {
        let part = h.raw(&hex!("00C0000000"));
        let (data, sw) = part.split_at(part.len() - 2);
        all.extend_from_slice(data);
        match sw {
            [0x61, 0x00] => assert_eq!(data.len(), 256),
            [0x61, n] => assert_eq!(data.len(), 256, "then {n} more"),
            [0x90, 0x00] => break,
            other => panic!("{other:02X?}"),
        }
    }
    assert_eq!(all.len(), 4 + 0x7D9);
    assert_eq!(all, tlv(&[0x53], &[tlv(&[0x70], &cert), hex!("710100 FE00").to_vec()].concat()));

    // Extended APDUs are refused, and the ATR does not declare them.
    assert_eq!(h.raw(&hex!("00CB3FFF0000055C035FC10D0000")), hex!("6700"));
    let atr = Atr::parse(&h.sim.atr()).unwrap();
    assert!(!atr.card_capabilities().unwrap().extended_length());
    assert!(atr.card_capabilities().unwrap().command_chaining());
}

#[test]
fn extended_on_returns_the_object_at_once() {
    let mut h = Host::default_card();
    h.admin();
    let cert = big_cert();
    let put = put_cert_object(&cert);
    let mut apdu = hex!("00DB3FFF00").to_vec();
    apdu.extend_from_slice(&u16::try_from(put.len()).unwrap().to_be_bytes());
    apdu.extend_from_slice(&put);
    assert_eq!(h.raw(&apdu), hex!("9000"));
    let rsp = h.raw(&hex!("00CB3FFF0000055C035FC10D0000"));
    assert_eq!(rsp.len(), 4 + 0x7D9 + 2);
    assert_eq!(&rsp[rsp.len() - 2..], &hex!("9000"));
    // An extended Le smaller than the object still chains with 61xx.
    let rsp = h.raw(&hex!("00CB3FFF0000055C035FC10D0400"));
    assert_eq!(rsp.len(), 0x400 + 2);
    assert_eq!(&rsp[0x400..], &hex!("6100"));
    let atr = Atr::parse(&h.sim.atr()).unwrap();
    assert!(atr.card_capabilities().unwrap().extended_length());
    // Switching it off changes the ATR and the card's answer.
    h.sim.set_extended_length(false);
    assert!(!Atr::parse(&h.sim.atr()).unwrap().card_capabilities().unwrap().extended_length());
    assert_eq!(h.raw(&hex!("00CB3FFF0000055C035FC10D0000")), hex!("6700"));
}

#[test]
fn atrs() {
    let sim = PivSim::default_card().unwrap();
    assert_eq!(sim.atr(), hex!("3BFC1300008131FE15 8073C021C0 56 53696D504956 28"));
    sim.set_extended_length(false);
    assert_eq!(sim.atr(), hex!("3BFC1300008131FE15 8073C02180 56 53696D504956 68"));
    let atr = Atr::parse(&sim.atr()).unwrap();
    assert_eq!(atr.protocols, vec![1]);
    assert_eq!(atr.historical_bytes().object(0x5), Some(&b"SimPIV"[..]));
}

#[test]
fn reset_clears_the_security_status() {
    let sim = PivSim::default_card().unwrap();
    let slot = CardSlot::new(sim.clone());
    let mut h = Host::new(sim);
    h.verify_pin();
    h.admin();
    // A response left pending and a chain left open.
    let part = h.raw(&hex!("00CB3FFF055C035FC10508"));
    assert_eq!(&part[8..], &hex!("6100"));
    slot.reset();
    assert!(!h.sim.pin_verified());
    assert!(!h.sim.admin_authenticated());
    assert_eq!(h.raw(&hex!("00200080")), hex!("63C3"));
    assert_eq!(h.raw(&hex!("00C0000000")), hex!("6985"), "nothing pending after a reset");
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("5C035FC109 530101")), 0x6982);
}

#[test]
fn counters_and_trace() {
    let mut h = Host::default_card();
    h.sim.set_trace(true);
    let c0 = h.sim.counters();
    h.verify_pin();
    h.get_data(&hex!("5FC105"));
    let c = h.sim.counters().since(c0);
    // VERIFY (with Le), GET DATA (256 + 61 xx), GET RESPONSE x 4: a 1055-byte object.
    assert_eq!(c.apdus, 1 + 1 + 4);
    assert_eq!(c.bytes_in, 14 + 11 + 4 * 5);
    assert_eq!(c.bytes_out, 2 + 1055 + 5 * 2);
    let trace = h.sim.take_trace();
    assert_eq!(trace.len(), 6);
    assert_eq!(trace[0].command, "00200080 <10 bytes redacted>");
    assert_eq!(trace[0].response, "9000");
    assert_eq!(trace[1].command, "00CB3FFF055C035FC10500");
    assert!(trace[1].response.ends_with("6100"));
    // GENERAL AUTHENTICATE answers (signatures, shared secrets) stay out of the trace.
    h.transmit([0x00, 0x87, 0x11, 0x9E], &[&hex!("7C24 8200 8120")[..], &[0; 32]].concat());
    let trace = h.sim.take_trace();
    assert!(trace[0].response.starts_with('<'), "{:?}", trace[0]);
    h.sim.set_trace(false);
    assert!(h.sim.take_trace().is_empty());
}

#[test]
fn unknown_instructions_and_classes() {
    let mut h = Host::default_card();
    assert_eq!(h.raw(&hex!("00EE000000")), hex!("6D00"));
    assert_eq!(h.raw(&hex!("80CA9F7F00")), hex!("6E00"));
    assert_eq!(h.raw(&hex!("0CCB3FFF00")), hex!("6E00"));
    assert_eq!(h.raw(&hex!("00C0000000")), hex!("6985"));
    // The card answers through a MemoryCard connection too.
    let mut conn = CardSlot::new(h.sim.clone()).connect().unwrap();
    use card_edges::transport::Transport;
    assert_eq!(conn.transmit(&hex!("00FD000000")).unwrap(), hex!("0507019000"));
    assert_eq!(conn.atr().unwrap(), h.sim.atr());
    let mut card: Box<dyn VirtualCard> = Box::new(h.sim.clone());
    assert_eq!(card.process(&hex!("00F8000000")).len(), 6);
}
