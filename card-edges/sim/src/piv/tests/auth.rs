//! VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER.

use hex_literal::hex;

use super::{Host, PIN, PUK};

const VERIFY: [u8; 4] = [0x00, 0x20, 0x00, 0x80];
const CHANGE_PIN: [u8; 4] = [0x00, 0x24, 0x00, 0x80];
const CHANGE_PUK: [u8; 4] = [0x00, 0x24, 0x00, 0x81];
const RESET_RETRY: [u8; 4] = [0x00, 0x2C, 0x00, 0x80];
const WRONG: [u8; 8] = *b"00000000";

#[test]
fn empty_verify_reports_without_spending_a_try() {
    let mut h = Host::default_card();
    // Both encodings of "no data": case 1, and case 2 as yubico-piv-tool sends it.
    assert_eq!(h.raw(&hex!("00200080")), hex!("63C3"));
    assert_eq!(h.raw(&hex!("0020008000")), hex!("63C3"));
    assert_eq!(h.sim.pin_tries_left(), 3);
    h.verify_pin();
    assert_eq!(h.raw(&hex!("00200080")), hex!("9000"));
    assert!(h.sim.pin_verified());
    // P1 = FF logs out.
    assert_eq!(h.raw(&hex!("0020FF80")), hex!("9000"));
    assert!(!h.sim.pin_verified());
    assert_eq!(h.raw(&hex!("00200080")), hex!("63C3"));
}

#[test]
fn wrong_pins_count_down_to_blocked_and_the_puk_unblocks() {
    let mut h = Host::default_card();
    h.verify_pin();
    assert_eq!(h.sw(VERIFY, &WRONG), 0x63C2);
    assert!(!h.sim.pin_verified(), "a wrong PIN clears the verified state");
    assert_eq!(h.sw(VERIFY, &WRONG), 0x63C1);
    assert_eq!(h.sw(VERIFY, &WRONG), 0x63C0);
    assert_eq!(h.sw(VERIFY, &PIN), 0x6983, "blocked: even the right PIN");
    assert_eq!(h.raw(&hex!("00200080")), hex!("6983"));
    assert_eq!(h.sim.pin_tries_left(), 0);
    // Malformed PINs are refused without spending a try (and without a blocked answer mix-up).
    let mut h2 = Host::default_card();
    for bad in [&hex!("3132333435FFFFFF")[..], b"12345a78", &PIN[..7], &hex!("313233343536FF37")] {
        assert_eq!(h2.sw(VERIFY, bad), 0x6A80, "{bad:02X?}");
    }
    assert_eq!(h2.sim.pin_tries_left(), 3);

    // Unblock with the PUK and a new PIN.
    let new_pin = hex!("3635343332310000");
    assert_eq!(h.sw(RESET_RETRY, &[PUK, new_pin].concat()), 0x6A80, "new PIN not digits");
    let new_pin = hex!("363534333231FFFF");
    assert_eq!(h.sw(RESET_RETRY, &[WRONG, new_pin].concat()), 0x63C2);
    assert_eq!(h.sim.puk_tries_left(), 2);
    assert_eq!(h.sw(RESET_RETRY, &[PUK, new_pin].concat()), 0x9000);
    assert_eq!((h.sim.pin_tries_left(), h.sim.puk_tries_left()), (3, 3));
    assert!(!h.sim.pin_verified(), "unblocking does not verify");
    assert_eq!(h.sw(VERIFY, &PIN), 0x63C2, "the old PIN is gone");
    assert_eq!(h.sw(VERIFY, &new_pin), 0x9000);
}

#[test]
fn a_blocked_puk_cannot_unblock() {
    let mut h = Host::default_card();
    for left in [2u16, 1, 0] {
        assert_eq!(h.sw(RESET_RETRY, &[WRONG, PIN].concat()), 0x63C0 | left);
    }
    assert_eq!(h.sw(RESET_RETRY, &[PUK, PIN].concat()), 0x6983);
    assert_eq!(h.sw(CHANGE_PUK, &[PUK, PUK].concat()), 0x6983);
}

#[test]
fn change_reference_data() {
    let mut h = Host::default_card();
    let new_pin = *b"87654321";
    assert_eq!(h.sw(CHANGE_PIN, &[WRONG, new_pin].concat()), 0x63C2);
    assert_eq!(h.sw(CHANGE_PIN, &[PIN, hex!("3132FFFFFFFFFFFF")].concat()), 0x6A80, "new PIN too short");
    assert_eq!(h.sw(CHANGE_PIN, &PIN), 0x6A80, "old PIN only");
    assert_eq!(h.sw(CHANGE_PIN, &[PIN, new_pin].concat()), 0x9000);
    assert!(h.sim.pin_verified());
    assert_eq!(h.sim.pin_tries_left(), 3, "success restores the counter");
    assert_eq!(h.sw(VERIFY, &new_pin), 0x9000);
    // PUK.
    let new_puk = *b"abcdefgh";
    assert_eq!(h.sw(CHANGE_PUK, &[PUK, new_puk].concat()), 0x9000);
    assert_eq!(h.sw(RESET_RETRY, &[PUK, new_pin].concat()), 0x63C2);
    assert_eq!(h.sw(RESET_RETRY, &[new_puk, new_pin].concat()), 0x9000);
    // Global PIN and unknown references.
    assert_eq!(h.sw([0x00, 0x20, 0x00, 0x00], &PIN), 0x6A88);
    assert_eq!(h.sw([0x00, 0x20, 0x00, 0x81], &PUK), 0x6A88);
    assert_eq!(h.sw([0x00, 0x24, 0x00, 0x9B], &[PIN, PIN].concat()), 0x6A88);
    assert_eq!(h.sw([0x00, 0x20, 0x01, 0x80], &PIN), 0x6A86);
}
