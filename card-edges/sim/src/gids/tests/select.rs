//! SELECT and the application's FCI, FCP and FMD; foreign applications.

use hex_literal::hex;

use super::{Host, PIN, SELECT};
use crate::GidsSim;

const FCI: [u8; 20] = hex!("61124F0BA00000039742544659020173034001C0");

#[test]
fn full_and_partial_aid() {
    let mut host = Host::new(GidsSim::default_card().unwrap());
    let r = host.send(&hex!("00A404000BA000000397425446590201 00"));
    assert_eq!((r.data.as_slice(), r.sw.0), (&FCI[..], 0x9000));
    let r = host.send(&SELECT);
    assert_eq!((r.data.as_slice(), r.sw.0), (&FCI[..], 0x9000));
    // FCP, FMD, nothing.
    let r = host.send(&hex!("00A4040409A0000003974254465900"));
    assert_eq!(r.data, hex!("62088201388C03033030").to_vec());
    let r = host.send(&hex!("00A4040809A0000003974254465900"));
    assert_eq!(r.data, hex!("64095F2F01607F65028000").to_vec());
    let r = host.send(&hex!("00A4040C09A00000039742544659"));
    assert!(r.data.is_empty());
    assert_eq!(r.sw.0, 0x9000);
    // Next occurrence and other P2 bits.
    assert_eq!(host.sw(&hex!("00A4040209A0000003974254465900")), 0x6A86);
    // Shorter than the partial AID, longer than the AID, another version.
    assert_eq!(host.sw(&hex!("00A4040005A00000039700")), 0x6A82);
    assert_eq!(host.sw(&hex!("00A404000CA00000039742544659020100 00")), 0x6A82);
    assert_eq!(host.sw(&hex!("00A404000BA000000397425446590401 00")), 0x6A82);
}

#[test]
fn foreign_applications_get_errors_and_change_nothing() {
    let mut host = Host::new(GidsSim::default_card().unwrap());
    for aid in [
        &hex!("A000000308000010000100")[..], // PIV
        &hex!("A0000003974349445F0100")[..], // Windows Plug and Play
        &hex!("A00000000101")[..],           // MUSCLE
        &hex!("627601FF000000")[..],
        &hex!("E82B0601040181C31F0201")[..],
    ] {
        let mut apdu = hex!("00A40400").to_vec();
        apdu.push(u8::try_from(aid.len()).unwrap());
        apdu.extend_from_slice(aid);
        apdu.push(0);
        assert_eq!(host.sw(&apdu), 0x6999, "before selection: {}", hex::encode(aid));
    }
    host.select();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("00A4040009A0000003080000100000")), 0x6A82);
    assert_eq!(host.sw(&hex!("00A404000BA0000003974349445F010000")), 0x6A82);
    assert!(host.sim.pin_verified(), "a failed SELECT keeps the application and its state");
    // The PKCS#15 probes OpenSC makes before its GIDS emulation.
    for apdu in [
        &hex!("00A40800022F0000")[..],
        &hex!("00A4080C025015")[..],
        &hex!("00A40800025015")[..],
        &hex!("00A4080002503100")[..],
        &hex!("00A40900025015")[..],
        &hex!("00A40800045015494600")[..],
    ] {
        assert_eq!(host.sw(apdu), 0x6A86, "{}", hex::encode(apdu));
    }
    // Windows' CardID (even GET DATA) and other instructions GIDS does not have.
    assert_eq!(host.sw(&hex!("00CA7F6800")), 0x6D00);
    assert_eq!(host.sw(&hex!("00CADF3005")), 0x6D00);
    assert_eq!(host.sw(&hex!("00B0000000")), 0x6D00);
    // The PIV discovery object through GET DATA 3FFF.
    assert_eq!(host.sw(&hex!("00CB3FFF035C017E08")), 0x6984);
    // Re-selecting the application ends the PIN's verified state (a Java Card deselect).
    host.select();
    assert!(!host.sim.pin_verified());
}

#[test]
fn select_by_fid() {
    let mut host = Host::default_card();
    assert_eq!(host.sw(&hex!("00A4000C023FFF")), 0x9000);
    let r = host.send(&hex!("00A40000023FFF00"));
    assert_eq!(r.data, FCI.to_vec());
    let r = host.send(&hex!("00A40004023FFF00"));
    assert_eq!(r.data, hex!("62088201388C03033030").to_vec());
    assert_eq!(host.sw(&hex!("00A4000C023F00")), 0x9000, "the master file is the application");
    // A key file and a DO file by FID: the FCP they were created with.
    assert_eq!(host.sw(&hex!("00A4000C02B081")), 0x9000);
    let r = host.send(&hex!("00A4000402A01000"));
    assert_eq!(r.data, hex!("620C8201398302A0108C03033000").to_vec());
    assert_eq!(host.sw(&hex!("00A4000002A01000")), 0x6A86, "an EF has no FCI");
    assert_eq!(host.sw(&hex!("00A4000C02B0FF")), 0x6A82);
    assert_eq!(host.sw(&hex!("00A4000C03B08100")), 0x6700);
    assert_eq!(host.sw(&hex!("00A4010C023FFF")), 0x6A86);
}
