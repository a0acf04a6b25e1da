//! The life cycle (creation, operational, terminated) and CREATE / ACTIVATE / DELETE FILE.

use hex_literal::hex;

use super::{ADMIN_KEY, Host, PIN, initialize, initialized};
use crate::GidsSim;

const A015: [u8; 14] = hex!("620C8201398302A0158C03033000");

#[test]
fn gids_tool_initialisation_makes_an_operational_card() {
    let mut host = Host::new(GidsSim::factory_new());
    assert!(!host.sim.is_operational());
    host.select();
    initialize(&mut host, &ADMIN_KEY, &[0x11; 16]);
    assert!(host.sim.is_operational());
    assert_eq!(host.sim.files(), [0xA000, 0xA010, 0xA011, 0xA012, 0xA013, 0xA014, 0xB080]);
    // Now the conditions apply.
    assert_eq!(host.put_do(0xA010, 0xDF22, &[0; 6]).sw.0, 0x6982);
    assert_eq!(host.get_do(0xA012, 0xDF20).data, [hex!("DF2010").to_vec(), vec![0x11; 16]].concat());
    assert_eq!(host.get_do(0xA010, 0xDF23).data, hex!("DF2300").to_vec());
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.put_do(0xA010, 0xDF22, &[0, 0, 0, 0, 1, 0]).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA012, 0xDF20, &[0x22; 16]).sw.0, 0x6982, "cardid needs the administrator");
    assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.put_do(0xA012, 0xDF20, &[0x22; 16]).sw.0, 0x9000);
}

#[test]
fn the_creation_state_lets_everything_pass_but_files_wait_for_activation() {
    let mut host = Host::new(GidsSim::factory_new());
    host.select();
    assert_eq!(host.get_do(0xA010, 0xDF23).sw.0, 0x6A82, "no files yet");
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &hex!("620C8201398302A0148C03032020"), false).sw.0, 0x9000);
    assert_eq!(host.put_do(0xA014, 0xDF20, &[1]).sw.0, 0x6985, "not activated");
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    // Admin-only, and no administrator: the creation state lets it pass.
    assert_eq!(host.put_do(0xA014, 0xDF20, &[1]).sw.0, 0x9000);
    assert_eq!(host.get_do(0xA014, 0xDF20).sw.0, 0x9000);
    // "Never" is never.
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &hex!("620C8201398302A0118C030330FF"), false).sw.0, 0x9000);
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    assert_eq!(host.get_do(0xA011, 0xDF20).sw.0, 0x6982);
    // Activating the application ends the creation state.
    assert_eq!(host.sw(&hex!("00A4000C023FFF")), 0x9000);
    assert_eq!(host.sw(&hex!("00440000")), 0x9000);
    assert_eq!(host.get_do(0xA014, 0xDF20).sw.0, 0x6982);
}

#[test]
fn create_file_rules() {
    let mut host = initialized();
    let create = |host: &mut Host, fcp: &[u8]| host.transmit_with([0x00, 0xE0, 0x00, 0x00], fcp, false).sw.0;
    assert_eq!(create(&mut host, &A015), 0x6982, "operational: PIN or administrator");
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x01], &A015, false).sw.0, 0x6A86);
    assert_eq!(create(&mut host, &hex!("620C8201398302A0108C03033000")), 0x6A89, "exists");
    assert_eq!(create(&mut host, &hex!("620A8201398302A015 8C0103")), 0x6984, "a malformed SA");
    assert_eq!(create(&mut host, &hex!("620C8201388302A0168C03033000")), 0x6984, "a DF");
    assert_eq!(create(&mut host, &A015), 0x9000);
    // Up to 30 files in all.
    let mut fid = 0xA100u16;
    loop {
        let [hi, lo] = fid.to_be_bytes();
        let sw = create(&mut host, &[0x62, 0x0C, 0x82, 0x01, 0x39, 0x83, 0x02, hi, lo, 0x8C, 0x03, 0x03, 0x30, 0x00]);
        if sw != 0x9000 {
            assert_eq!(sw, 0x6A84);
            break;
        }
        fid += 1;
    }
    assert_eq!(host.sim.files().len(), 30);
}

#[test]
fn activate_and_delete() {
    let mut host = initialized();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xE0, 0x00, 0x00], &A015, false).sw.0, 0x9000);
    assert_eq!(host.sw(&hex!("00E40000")), 0x6985, "a file in its creation state");
    assert_eq!(host.sw(&hex!("0044000102")), 0x6A86);
    assert_eq!(host.sw(&hex!("0044000001AA")), 0x6700);
    assert_eq!(host.sw(&hex!("0044000000")), 0x9000, "Le is fine");
    assert_eq!(host.sw(&hex!("00E4000002A015")), 0x6700, "deletion by FID is not supported");
    assert_eq!(host.sw(&hex!("00E40100")), 0x6A86);
    // Without the PIN the application's delete-child condition is not met.
    assert_eq!(host.sw(&hex!("00200082")), 0x9000);
    assert_eq!(host.sw(&hex!("00A4000C02A015")), 0x9000);
    assert_eq!(host.sw(&hex!("00E40000")), 0x6982);
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("00A4000C02A015")), 0x9000);
    assert_eq!(host.sw(&hex!("00E40000")), 0x9000);
    assert!(!host.sim.files().contains(&0xA015));
    // No current EF: the target would be the application.
    assert_eq!(host.sw(&hex!("00E40000")), 0x6986);
}

#[test]
fn termination_is_final() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("00E60000")), 0x6982, "the PIN cannot terminate the card");
    assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.sw(&hex!("00E60001")), 0x6A86);
    assert_eq!(host.sw(&hex!("00E60000")), 0x9000);
    assert!(!host.sim.is_operational());
    assert_eq!(host.get_do(0xA010, 0xDF21).sw.0, 0x6285);
    assert_eq!(host.verify(PIN), 0x6285);
    let r = host.send(&super::SELECT);
    assert_eq!(r.sw.0, 0x6285);
    assert_eq!(r.data[..2], hex!("6112"));
}
