//! SELECT, GET DATA, PUT DATA and the vendor commands.

use hex_literal::hex;

use super::{Host, tlv};
use crate::PivSim;

const APT: [u8; 69] = hex!(
    "6143"
    "4F06 000010000100"
    "500D 53696D756C61746564205049 56"
    "AC21 800103 800108 80010A 80010C 800106 800107 800105 800116 800111 800114 060100"
    "7907 4F05A000000308"
);

#[test]
fn select_by_full_truncated_and_rid_only_aid() {
    let mut h = Host::default_card();
    for aid in [&hex!("A0000003080000100001 00")[..], &hex!("A00000030800001000"), &hex!("A000000308")] {
        let rsp = h.transmit([0x00, 0xA4, 0x04, 0x00], aid);
        assert_eq!(rsp.sw.0, 0x9000, "{aid:02X?}");
        assert_eq!(rsp.data, APT);
    }
    // Without Le (case 3, as Windows and yubico-piv-tool send it) the template still comes back.
    let mut apdu = hex!("00A4040009A00000030800001000").to_vec();
    assert_eq!(h.raw(&apdu), [&APT[..], &hex!("9000")].concat());
    // "No response data".
    apdu[3] = 0x0C;
    assert_eq!(h.raw(&apdu), hex!("9000"));
}

#[test]
fn other_aids_and_files_are_not_found_and_leave_piv_selected() {
    let mut h = Host::default_card();
    h.verify_pin();
    for probe in [
        &hex!("00A404000BA000000397434944 5F0100")[..], // SC PnP
        &hex!("00A404000BA0000003974254465902 0100"),   // MS GIDS
        &hex!("00A404000AA0000003080000100002"),        // not a prefix of the PIV AID
        &hex!("00A40400 04A0000003"),                   // too short to name PIV
        &hex!("00A4000C023F00"),                        // MF
        &hex!("00A4020C022F01"),                        // EF.ATR
    ] {
        assert_eq!(h.raw(probe), hex!("6A82"), "{probe:02X?}");
    }
    assert_eq!(h.raw(&hex!("00CA7F6800")), hex!("6A88"), "even GET DATA (CardID)");
    assert_eq!(h.raw(&hex!("00B0000000")), hex!("6986"), "READ BINARY without EF");
    // PIV is still there, and the PIN is still verified (SP 800-73-4 Part 2 3.1.1).
    assert_eq!(h.raw(&hex!("0020008000")), hex!("9000"));
    assert_eq!(h.get_data(&hex!("5FC102")).sw.0, 0x9000);
    // Re-selecting PIV keeps the security status too.
    h.transmit([0x00, 0xA4, 0x04, 0x00], &hex!("A00000030800001000"));
    assert_eq!(h.raw(&hex!("0020008000")), hex!("9000"));
}

#[test]
fn get_data_answers_the_provisioned_objects() {
    let mut h = Host::default_card();
    let chuid = h.get_data(&hex!("5FC102"));
    assert_eq!(
        chuid.data,
        hex!(
            "533B"
            "3019 D4E739DA739CED39CE739D836858210842108421C84210C3EB"
            "3410 44A38407356C45CAB0376BF76CB4CB07"
            "3508 3230343530313031"
            "3E00 FE00"
        )
    );
    assert_eq!(h.get_data(&hex!("7E")).data, hex!("7E12 4F0BA0000003080000100001 00 5F2F024000"));
    assert_eq!(h.get_data(&hex!("5FC10C")).data, hex!("5308 C10100 C20100 FE00"));
    let ccc = h.get_data(&hex!("5FC107"));
    assert_eq!(&ccc.data[..11], &hex!("5333 F015 A000000116 FF02"));
    for (tag, cert) in [
        (hex!("5FC105"), test_vectors::certs::PIV_AUTH_9A),
        (hex!("5FC10A"), test_vectors::certs::DIGITAL_SIGNATURE_9C),
        (hex!("5FC10B"), test_vectors::certs::KEY_MANAGEMENT_9D),
        (hex!("5FC101"), test_vectors::certs::CARD_AUTH_9E),
    ] {
        let rsp = h.get_data(&tag);
        assert_eq!(rsp.sw.0, 0x9000);
        let mut body = tlv(&[0x70], cert);
        body.extend_from_slice(&hex!("710100 FE00"));
        assert_eq!(rsp.data, tlv(&[0x53], &body), "{tag:02X?}");
    }
    // Absent objects, PIN-protected objects, and malformed requests.
    assert_eq!(h.get_data(&hex!("5FC10D")).sw.0, 0x6A82);
    // PIN-protected objects do not leak whether they exist.
    assert_eq!(h.get_data(&hex!("5FC109")).sw.0, 0x6982);
    h.verify_pin();
    assert_eq!(h.get_data(&hex!("5FC109")).sw.0, 0x6A82);
    h.sim.reset();
    h.sim.set_object(0x5FC109, &hex!("0105 416C696365"));
    assert_eq!(h.get_data(&hex!("5FC109")).sw.0, 0x6982);
    h.verify_pin();
    assert_eq!(h.get_data(&hex!("5FC109")).data, hex!("5307 0105416C696365"));
    assert_eq!(h.sw([0x00, 0xCB, 0x3F, 0xFE], &hex!("5C017E")), 0x6A86);
    assert_eq!(h.sw([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C04 5FC1021A")), 0x6A80);
    assert_eq!(h.sw([0x00, 0xCB, 0x3F, 0xFF], &hex!("5D017E")), 0x6A80);
    assert_eq!(h.sw([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C017E 00")), 0x6A80);
}

#[test]
fn put_data_needs_the_management_key() {
    let mut h = Host::default_card();
    let printed = [tlv(&[0x5C], &hex!("5FC109")), tlv(&[0x53], &hex!("0105416C696365"))].concat();
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &printed), 0x6982);
    h.verify_pin();
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &printed), 0x6982, "the PIN is not enough");
    h.admin();
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &printed), 0x9000);
    assert_eq!(h.sim.object(0x5FC109).unwrap(), hex!("0105416C696365"));
    // Discovery is written in its own tag.
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("7E12 4F0BA0000003080000100001 00 5F2F024010")), 0x9000);
    assert_eq!(h.get_data(&hex!("7E")).data, hex!("7E12 4F0BA0000003080000100001 00 5F2F024010"));
    // An empty 53 deletes.
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("5C035FC109 5300")), 0x9000);
    assert_eq!(h.sim.object(0x5FC109), None);
    // Not a PIV or vendor object, malformed, too big, wrong P1-P2.
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("5C027F68 530100")), 0x6A80);
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("5C035FC109 5401AA")), 0x6A80);
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &hex!("5C035FC109")), 0x6A80);
    let big = [tlv(&[0x5C], &hex!("5FC10D")), tlv(&[0x53], &[0xAB; 3064])].concat();
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &big), 0x6A84);
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0x00], &printed), 0x6A86);
    // Vendor objects (YubiKey's Microsoft container map) are accepted.
    let cmap = [tlv(&[0x5C], &hex!("5FFF10")), tlv(&[0x53], &hex!("8100"))].concat();
    assert_eq!(h.sw([0x00, 0xDB, 0x3F, 0xFF], &cmap), 0x9000);
}

#[test]
fn vendor_version_serial_and_metadata() {
    let sim = PivSim::builder(b"vendor").serial(12_345_678).generate(0x9C, crate::KeyAlgorithm::EccP256).build();
    let mut h = Host::new(sim.unwrap());
    assert_eq!(h.raw(&hex!("00FD000000")), hex!("050701 9000"));
    assert_eq!(h.raw(&hex!("00F8000000")), hex!("00BC614E 9000"));
    assert_eq!(h.raw(&hex!("00F7009B00")), hex!("010103 02020001 050101 9000"));
    assert_eq!(h.raw(&hex!("00F7008000")), hex!("0101FF 050101 06020303 9000"));
    assert_eq!(h.sw([0x00, 0x20, 0x00, 0x80], b"00000000"), 0x63C2);
    assert_eq!(h.raw(&hex!("00F7008000")), hex!("0101FF 050101 06020302 9000"));
    assert_eq!(h.raw(&hex!("00F7008100")), hex!("0101FF 050101 06020303 9000"));
    let meta = h.transmit([0x00, 0xF7, 0x00, 0x9C], &[]);
    let public = h.sim.public_key(0x9C).unwrap();
    // 01 alg, 02 policy (PIN always, touch never), 03 origin (imported), 04 public point.
    assert_eq!(&meta.data[..10], &hex!("010111 02020301 030102"));
    assert_eq!(&meta.data[10..13], &hex!("044386"));
    assert_eq!(&meta.data[14..], &public[public.len() - 65..]);
    assert_eq!(h.raw(&hex!("00F7009A00")), hex!("6A88"));
    assert_eq!(h.raw(&hex!("00F7009000")), hex!("6A88"));
    assert_eq!(h.raw(&hex!("00EE000000")), hex!("6D00"));
}

#[test]
fn default_card_is_what_the_docs_say() {
    let sim = PivSim::default_card().unwrap();
    use crate::KeyAlgorithm::{EccP256, Rsa2048};
    assert_eq!(sim.slots(), vec![0x9A, 0x9C, 0x9D, 0x9E]);
    for (slot, alg, cert, spki) in [
        (0x9A, Rsa2048, test_vectors::certs::PIV_AUTH_9A, test_vectors::keys::RSA_2048_A_SPKI),
        (0x9C, EccP256, test_vectors::certs::DIGITAL_SIGNATURE_9C, test_vectors::keys::P256_A_SPKI),
        (0x9D, Rsa2048, test_vectors::certs::KEY_MANAGEMENT_9D, test_vectors::keys::RSA_2048_B_SPKI),
        (0x9E, EccP256, test_vectors::certs::CARD_AUTH_9E, test_vectors::keys::P256_B_SPKI),
    ] {
        assert_eq!(sim.key_algorithm(slot), Some(alg));
        assert_eq!(sim.certificate(slot).unwrap(), cert);
        assert_eq!(sim.public_key(slot).unwrap(), spki);
    }
    assert_eq!(sim.guid(), Some(hex!("44A38407356C45CAB0376BF76CB4CB07")));
    assert_eq!((sim.pin_tries_left(), sim.puk_tries_left()), (3, 3));
    assert_eq!(sim.management_algorithm(), crate::MgmtAlgorithm::TripleDes);
    assert!(sim.extended_length());
    assert_eq!(sim.object_tags(), vec![0x7E, 0x5FC101, 0x5FC102, 0x5FC105, 0x5FC107, 0x5FC10A, 0x5FC10B, 0x5FC10C]);
    assert!(format!("{sim:?}").contains("9A:Rsa2048"));
}

#[test]
fn changes_behind_the_hosts_back_are_served() {
    let mut h = Host::default_card();
    h.sim.set_certificate(0x9A, test_vectors::certs::SELF_SIGNED_RSA_2048, true).unwrap();
    let rsp = h.get_data(&hex!("5FC105"));
    assert_eq!(&rsp.data[rsp.data.len() - 5..], &hex!("710101 FE00"));
    assert_eq!(h.sim.certificate(0x9A).unwrap(), test_vectors::certs::SELF_SIGNED_RSA_2048);
    h.sim.set_guid([0x11; 16]).unwrap();
    assert_eq!(&h.get_data(&hex!("5FC102")).data[29..47], &tlv(&[0x34], &[0x11; 16])[..]);
    h.sim.remove_certificate(0x9E);
    assert_eq!(h.get_data(&hex!("5FC101")).sw.0, 0x6A82);
    assert!(h.sim.set_certificate(0x9B, b"x", false).is_err());
}
