//! GET DATA / PUT DATA on the data object files: the access matrix, the answer shapes, empty
//! objects, the object and capacity limits.

use hex_literal::hex;

use super::{ADMIN_KEY, Host, PIN};
use crate::GidsSim;
use card_edges::iso7816::tlv;

#[derive(Clone, Copy, Debug)]
enum Who {
    Nobody,
    User,
    Admin,
}

#[test]
fn access_matrix_every_do_file_by_every_role() {
    // (FI, PUT allowed for nobody/user/admin, GET allowed for nobody/user/admin)
    let table: [(u16, [bool; 3], [bool; 3]); 6] = [
        (0xA000, [false, true, true], [true, true, true]),
        (0xA010, [false, true, true], [true, true, true]),
        (0xA011, [false, true, true], [false, false, false]),
        (0xA012, [false, false, true], [true, true, true]),
        (0xA013, [false, true, true], [false, true, true]),
        (0xA014, [false, false, true], [false, false, true]),
    ];
    for (w, who) in [Who::Nobody, Who::User, Who::Admin].into_iter().enumerate() {
        let mut host = Host::default_card();
        match who {
            Who::Nobody => {}
            Who::User => assert_eq!(host.verify(PIN), 0x9000),
            Who::Admin => assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000),
        }
        for (fi, put, get) in table {
            host.sim.set_data_object(fi, 0xDF40, b"before").unwrap();
            let expect = |ok: bool| if ok { 0x9000 } else { 0x6982 };
            let r = host.get_do(fi, 0xDF40);
            assert_eq!(r.sw.0, expect(get[w]), "GET {fi:04X} as {who:?}");
            if get[w] {
                assert_eq!(r.data, hex!("DF4006 6265666F7265").to_vec());
            }
            assert_eq!(host.put_do(fi, 0xDF40, b"after").sw.0, expect(put[w]), "PUT {fi:04X} as {who:?}");
            let now = host.sim.data_object(fi, 0xDF40).unwrap();
            assert_eq!(now, if put[w] { b"after".to_vec() } else { b"before".to_vec() });
        }
    }
}

#[test]
fn answers_and_errors() {
    let mut host = Host::default_card();
    // One object: the whole TLV; all objects: their concatenation.
    let r = host.get_do(0xA010, 0xDF21);
    assert_eq!((r.data, r.sw.0), (hex!("DF21086D73637000000000").to_vec(), 0x9000));
    let all = host.transmit([0x00, 0xCB, 0xA0, 0x10], &hex!("5C00"));
    let tags: Vec<u32> = tlv::Reader::new(&all.data).collect_all().unwrap().into_iter().map(|t| t.tag.0).collect();
    assert_eq!(tags, [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]);
    assert_eq!(host.transmit([0x00, 0xCB, 0xA0, 0x10], &hex!("5C015C")).data, all.data);
    // The current EF (the last one GET DATA named), then none.
    let r = host.transmit([0x00, 0xCB, 0x00, 0x00], &hex!("5C02DF22"));
    assert_eq!(r.data[..3], hex!("DF2206"));
    assert_eq!(host.sw(&hex!("00CBFFFF045C02DF2200")), 0x6A86);
    // Missing object, missing EF, a key file, malformed lists.
    assert_eq!(host.get_do(0xA010, 0xDF7F).sw.0, 0x6A88);
    assert_eq!(host.get_do(0xA015, 0xDF20).sw.0, 0x6A82);
    assert_eq!(host.get_do(0xB081, 0xDF20).sw.0, 0x6981);
    assert_eq!(host.sw(&hex!("00CBA010035C01DF00")), 0x6984);
    assert_eq!(host.sw(&hex!("00CBA010024D0000")), 0x6984);
    // EF.ATR/INFO.
    let r = host.send(&hex!("00CB2F01025C0000"));
    assert_eq!(r.data, hex!("4301F4 4703080180 4607 53696D47494453").to_vec());
    assert_eq!(host.sw(&hex!("00CB2F01025C0100")), 0x6984);
    // PUT DATA: malformed TLVs, a key file, no current EF.
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("00DBA01003DF2405")), 0x6984);
    assert_eq!(host.sw(&hex!("00DBA01005DF240100FF")), 0x6984, "trailing bytes");
    assert_eq!(host.sw(&hex!("00DBB08103DF2400")), 0x6981);
    host.select();
    assert_eq!(host.sw(&hex!("00DB000003DF2400")), 0x6981);
}

#[test]
fn empty_values_empty_then_delete() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF24, &[]).sw.0, 0x9000);
    let r = host.get_do(0xA010, 0xDF24);
    assert_eq!((r.data, r.sw.0), (hex!("DF2400").to_vec(), 0x9000), "emptied, still there");
    assert_eq!(host.put_do(0xA010, 0xDF24, &[]).sw.0, 0x9000);
    assert_eq!(host.get_do(0xA010, 0xDF24).sw.0, 0x6A88, "an empty write over an empty object deletes it");
    // Replace semantics.
    assert_eq!(host.put_do(0xA010, 0xDF26, &[1; 300]).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF26, &[2; 3]).sw.0, 0x9000);
    assert_eq!(host.get_do(0xA010, 0xDF26).data, hex!("DF2603020202").to_vec());
}

#[test]
fn thirty_objects_per_file_and_a_capacity() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    for i in 0..30u16 {
        assert_eq!(host.put_do(0xA013, 0xDF00 + i, &[1]).sw.0, 0x9000, "object {i}");
    }
    assert_eq!(host.put_do(0xA013, 0xDF40, &[1]).sw.0, 0x6A84);
    assert_eq!(host.put_do(0xA013, 0xDF00, &[2; 10]).sw.0, 0x9000, "replacing is no new object");

    let sim = GidsSim::builder(b"small")
        .capacity(2000)
        .container(crate::ContainerKey::Fixed(test_vectors::keys::RSA_1024.to_vec()), false)
        .build()
        .unwrap();
    let mut host = Host::new(sim);
    host.select();
    assert_eq!(host.verify(PIN), 0x9000);
    let mut written = 0;
    loop {
        let sw = host.put_do(0xA010, 0xDF30 + written, &[0xAA; 200]).sw.0;
        if sw == 0x6A84 {
            break;
        }
        assert_eq!(sw, 0x9000);
        written += 1;
        assert!(written < 20);
    }
    assert!(written >= 5, "{written} objects before the card was full");
    // Emptying an object frees its room.
    assert_eq!(host.put_do(0xA010, 0xDF30, &[]).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF30 + written, &[0xAA; 150]).sw.0, 0x9000);
}

#[test]
fn files_not_activated_answer_6985() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &hex!("620C8201398302A0158C03033000"), false).sw.0, 0x9000);
    assert_eq!(host.get_do(0xA015, 0xDF20).sw.0, 0x6985);
    assert_eq!(host.put_do(0xA015, 0xDF20, &[1]).sw.0, 0x6985);
    assert_eq!(host.sw(&hex!("00A4000C02A015")), 0x9000);
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    assert_eq!(host.get_do(0xA015, 0xDF20).sw.0, 0x6A88);
    assert_eq!(host.put_do(0xA015, 0xDF20, &[1]).sw.0, 0x9000);
    assert_eq!(host.sim.data_object(0xA015, 0xDF20), Some(vec![1]));
}
