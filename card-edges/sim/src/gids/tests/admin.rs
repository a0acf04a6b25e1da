//! Administrator authentication: external and mutual, wrong keys, replays, interruptions.

use hex_literal::hex;

use super::{ADMIN_KEY, Host, PIN, tdes_cbc_host};
use crate::GidsSim;

#[test]
fn mutual_authentication_as_opensc_performs_it() {
    let mut host = Host::default_card();
    assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000);
    assert!(host.sim.admin_authenticated());
    assert!(!host.sim.pin_verified());
}

#[test]
fn external_authentication() {
    let mut host = Host::default_card();
    assert_eq!(host.external_auth(&ADMIN_KEY), 0x9000);
    assert!(host.sim.admin_authenticated());
}

#[test]
fn wrong_keys_are_refused() {
    let mut wrong = ADMIN_KEY;
    wrong[0] ^= 0x80;
    let mut host = Host::default_card();
    assert_eq!(host.mutual_auth(&wrong), 0x6982);
    assert!(!host.sim.admin_authenticated());
    assert_eq!(host.external_auth(&wrong), 0x6982);
    assert!(!host.sim.admin_authenticated());
    // A successful authentication is lost by asking for a new challenge.
    assert_eq!(host.external_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.send(&hex!("00870000047C02810000")).sw.0, 0x9000);
    assert!(!host.sim.admin_authenticated());
}

#[test]
fn replays_and_interleaved_commands_find_no_challenge() {
    let mut host = Host::default_card();
    host.select_admin_key();
    let rsp = host.send(&hex!("00870000047C02810000"));
    let answer = [hex!("008700000C7C0A8208").to_vec(), tdes_cbc_host(&ADMIN_KEY, &rsp.data[4..12], true)].concat();
    assert_eq!(host.sw(&answer), 0x9000);
    assert_eq!(host.sw(&answer), 0x6985, "replayed");

    // Any command between the challenge and the answer voids the challenge.
    let rsp = host.send(&hex!("00870000047C02810000"));
    let answer = [hex!("008700000C7C0A8208").to_vec(), tdes_cbc_host(&ADMIN_KEY, &rsp.data[4..12], true)].concat();
    assert_eq!(host.get_do(0xA010, 0xDF21).sw.0, 0x9000);
    assert_eq!(host.sw(&answer), 0x6985);
    assert!(!host.sim.admin_authenticated());

    // So does a malformed APDU.
    let rsp = host.send(&hex!("00870000047C02810000"));
    let answer = [hex!("008700000C7C0A8208").to_vec(), tdes_cbc_host(&ADMIN_KEY, &rsp.data[4..12], true)].concat();
    assert_eq!(host.sw(&hex!("00CB3F")), 0x6700);
    assert_eq!(host.sw(&answer), 0x6985);

    // Mutual: replaying step 3.
    let r1 = [7u8; 16];
    let rsp = host.send(&[hex!("00870000147C128110").to_vec(), r1.to_vec(), vec![0]].concat());
    let plain = [rsp.data[4..20].to_vec(), r1.to_vec(), vec![0; 7], vec![0x80]].concat();
    let step3 = [hex!("008700002C7C2A8228").to_vec(), tdes_cbc_host(&ADMIN_KEY, &plain, true), vec![0]].concat();
    assert_eq!(host.sw(&step3), 0x9000);
    assert_eq!(host.sw(&step3), 0x6985);
    assert!(host.sim.admin_authenticated(), "a refused replay leaves the authentication");
}

#[test]
fn mutual_answers_are_checked_in_full() {
    let mut host = Host::default_card();
    host.select_admin_key();
    let r1 = [9u8; 16];
    for corrupt in [0usize, 20, 39] {
        let rsp = host.send(&[hex!("00870000147C128110").to_vec(), r1.to_vec(), vec![0]].concat());
        let mut plain = [rsp.data[4..20].to_vec(), r1.to_vec(), vec![0; 7], vec![0x80]].concat();
        plain[corrupt] ^= 1;
        let step3 = [hex!("008700002C7C2A8228").to_vec(), tdes_cbc_host(&ADMIN_KEY, &plain, true), vec![0]].concat();
        assert_eq!(host.sw(&step3), 0x6982, "byte {corrupt} corrupted");
    }
    // ECB instead of CBC (the printed specification's mistake) is refused too.
    let rsp = host.send(&[hex!("00870000147C128110").to_vec(), r1.to_vec(), vec![0]].concat());
    let plain = [rsp.data[4..20].to_vec(), r1.to_vec(), vec![0; 7], vec![0x80]].concat();
    let ecb: Vec<u8> = plain.chunks(8).flat_map(|b| tdes_cbc_host(&ADMIN_KEY, b, true)).collect();
    assert_eq!(host.sw(&[hex!("008700002C7C2A8228").to_vec(), ecb, vec![0]].concat()), 0x6982);
}

#[test]
fn malformed_and_out_of_place_requests() {
    let mut host = Host::default_card();
    // Without MSE SET AT no key is chosen.
    assert_eq!(host.sw(&hex!("00870000047C02810000")), 0x6985);
    host.select_admin_key();
    for apdu in [
        &hex!("0087000000")[..],
        &hex!("00870000017C")[..],
        &hex!("00870000027C00")[..],
        &hex!("00870000027C0100")[..],
        &hex!("00870000047C027900")[..],
        &hex!("00870000047C028200")[..],
        &hex!("00870000057C03810101")[..],
    ] {
        assert_eq!(host.sw(apdu), 0x6984, "{}", hex::encode(apdu));
    }
    assert_eq!(host.sw(&hex!("00870001047C02810000")), 0x6A86);
    // An answer with no challenge outstanding.
    assert_eq!(host.sw(&hex!("008700000C7C0A82080000000000000000")), 0x6985);
    // MSE SET AT naming a key that is not an authentication key.
    assert_eq!(host.sw(&hex!("0022C1A403830181")), 0x6984);
    assert_eq!(host.sw(&hex!("0022C1A403830190")), 0x6984);
    assert_eq!(host.sw(&hex!("0022C1A403840180")), 0x6984);
    assert_eq!(host.sw(&hex!("002281A403830180")), 0x9000);
    // The PIN is no substitute.
    assert_eq!(host.verify(PIN), 0x9000);
    assert!(!host.sim.admin_authenticated());
}

#[test]
fn no_administrator_authentication_in_the_creation_state() {
    let mut host = Host::new(GidsSim::factory_new());
    host.select();
    assert_eq!(host.sw(&hex!("00870000047C02810000")), 0x6986);
}
