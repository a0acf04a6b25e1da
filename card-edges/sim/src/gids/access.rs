//! Life cycle states and compact security attributes (ISO 7816-4 5.4.3.1, tag `8C` in an
//! FCP), evaluated as GIDS v2.0 cards do: the access mode byte says which commands have a
//! security condition byte, the condition bytes follow from the highest set bit down, and a
//! command whose bit is absent is unrestricted. Bit 8 of the access mode byte is ignored, as
//! GidsApplet (`File.java`) ignores it: the key file templates Windows writes (`8F ...`) need it so.

/// Operations named by the bits of the access mode byte. Their meaning depends on the kind of
/// file (ISO 7816-4 tables 18-20).
pub(super) mod op {
    /// DELETE FILE (of the file itself).
    pub(crate) const DELETE_SELF: u8 = 0x40;
    /// TERMINATE (CARD USAGE / DF / EF).
    pub(crate) const TERMINATE: u8 = 0x20;
    /// ACTIVATE FILE.
    pub(crate) const ACTIVATE: u8 = 0x10;
    /// On a DF: CREATE FILE (EF).
    pub(crate) const CREATE_EF: u8 = 0x02;
    /// On a DF: DELETE FILE (child).
    pub(crate) const DELETE_CHILD: u8 = 0x01;
    /// On a BER-TLV EF: PUT DATA.
    pub(crate) const PUT_DATA: u8 = 0x02;
    /// On a BER-TLV EF: GET DATA.
    pub(crate) const GET_DATA: u8 = 0x01;
    /// On a key file: GENERATE ASYMMETRIC KEY PAIR.
    pub(crate) const GENERATE: u8 = 0x08;
    /// On a key file: MANAGE SECURITY ENVIRONMENT (and so every use of the key).
    pub(crate) const MSE: u8 = 0x04;
    /// On a key file: PUT KEY (import).
    pub(crate) const PUT_KEY: u8 = 0x02;
    /// On a key file: reading the public key.
    pub(crate) const GET_PUBLIC_KEY: u8 = 0x01;
}

/// The life cycle status of the application or of a file (ISO 7816-4 5.3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LifeCycle {
    /// Just created: a file allows ACTIVATE only; the application allows everything
    /// ("initialization mode": no PIN or administrator check applies).
    Creation,
    /// Activated: security attributes are enforced.
    Operational,
    /// Terminated (application only): nothing works any more.
    Terminated,
}

/// A compact security attribute: the access mode byte and one condition byte per set bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CompactSa {
    access_mode: u8,
    conditions: Vec<u8>,
}

impl CompactSa {
    /// Decodes the value of tag `8C`; `None` unless there is exactly one condition byte for
    /// each of the bits 7..1 set in the access mode byte.
    pub(super) fn parse(value: &[u8]) -> Option<Self> {
        let (&access_mode, conditions) = value.split_first()?;
        let expected = usize::try_from((access_mode & 0x7F).count_ones()).ok()?;
        (conditions.len() == expected).then(|| Self { access_mode, conditions: conditions.to_vec() })
    }

    /// The condition byte for `operation` (one of [`op`]), `None` when it is unrestricted.
    pub(super) fn condition(&self, operation: u8) -> Option<u8> {
        if self.access_mode & operation & 0x7F == 0 || operation.count_ones() != 1 {
            return None;
        }
        // Condition bytes follow the set bits from b7 down to b1.
        let higher = self.access_mode & 0x7F & !(operation | (operation - 1));
        let index = usize::try_from(higher.count_ones()).ok()?;
        self.conditions.get(index).copied()
    }
}

/// What the card has granted the host so far.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Authority {
    /// The user PIN (`80`) is verified.
    pub(super) pin: bool,
    /// The administrator key was proven (external or mutual authentication).
    pub(super) admin: bool,
    /// The application is still in its creation state: user and administrator conditions
    /// count as met.
    pub(super) creation: bool,
}

/// Whether the condition byte `sc` is met. GIDS (and GidsApplet's `CheckACL`) read the high
/// nibble as: `9` user PIN mandatory, `1`/`3`/`5`/`7` user PIN sufficient, `A` administrator
/// mandatory, `2`/`3`/`6`/`7` administrator sufficient; `00` always, `FF` never. The low nibble
/// names the interface: `1` contact only, `2` contactless only (this card is a contact card).
pub(super) fn satisfied(sc: u8, who: Authority) -> bool {
    match sc {
        0x00 => return true,
        0xFF => return false,
        _ => {}
    }
    if sc & 0x0F == 0x02 {
        return false;
    }
    let pin = who.pin || who.creation;
    let admin = who.admin || who.creation;
    let method = sc & 0xF0;
    match method {
        0x90 => pin,
        0xA0 => admin,
        _ => (method & 0x90 == 0x10 && pin) || (method & 0xA0 == 0x20 && admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_the_access_mode_bits() {
        // A BER-TLV EF writable by user or admin, readable by everyone.
        let sa = CompactSa::parse(&[0x03, 0x30, 0x00]).unwrap();
        assert_eq!(sa.condition(op::PUT_DATA), Some(0x30));
        assert_eq!(sa.condition(op::GET_DATA), Some(0x00));
        assert_eq!(sa.condition(op::DELETE_SELF), None);
        // The key file template: b8 set and ignored, four conditions.
        let sa = CompactSa::parse(&[0x8F, 0x10, 0x10, 0x10, 0x00]).unwrap();
        assert_eq!(sa.condition(op::GENERATE), Some(0x10));
        assert_eq!(sa.condition(op::MSE), Some(0x10));
        assert_eq!(sa.condition(op::PUT_KEY), Some(0x10));
        assert_eq!(sa.condition(op::GET_PUBLIC_KEY), Some(0x00));
        // The admin key file: MSE always, PUT KEY admin, GET PUBLIC KEY never.
        let sa = CompactSa::parse(&[0x87, 0x00, 0x20, 0xFF]).unwrap();
        assert_eq!(sa.condition(op::MSE), Some(0x00));
        assert_eq!(sa.condition(op::PUT_KEY), Some(0x20));
        assert_eq!(sa.condition(op::GET_PUBLIC_KEY), Some(0xFF));
        // Wrong number of condition bytes.
        assert!(CompactSa::parse(&[0x03, 0x30]).is_none());
        assert!(CompactSa::parse(&[0x03, 0x30, 0x00, 0x00]).is_none());
        assert!(CompactSa::parse(&[]).is_none());
    }

    #[test]
    fn condition_bytes() {
        let none = Authority::default();
        let user = Authority { pin: true, ..none };
        let admin = Authority { admin: true, ..none };
        let creation = Authority { creation: true, ..none };
        for (sc, expect) in [
            (0x00, [true, true, true, true]),
            (0xFF, [false, false, false, false]),
            (0x10, [false, true, false, true]),
            (0x20, [false, false, true, true]),
            (0x30, [false, true, true, true]),
            (0x90, [false, true, false, true]),
            (0xA0, [false, false, true, true]),
            (0x11, [false, true, false, true]),
            (0x12, [false, false, false, false]),
            (0x40, [false, false, false, false]),
        ] {
            let got = [none, user, admin, creation].map(|w| satisfied(sc, w));
            assert_eq!(got, expect, "SC {sc:02X}");
        }
    }
}
