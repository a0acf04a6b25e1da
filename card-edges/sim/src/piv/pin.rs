//! PIN (`80`) and PUK (`81`) reference data with their retry counters.
//!
//! Both travel as 8 bytes, right-padded with `FF`. The PIN must be 6 to 8 ASCII digits
//! (SP 800-73-4 Part 2 3.2.1 and Part 1 2.4.3); the PUK any 6 to 8 bytes, as tokens accept.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The length of a padded PIN or PUK field.
pub(crate) const PADDED_LEN: usize = 8;

/// Which reference data a value is for: the rules of its format differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The PIV application PIN: 6 to 8 digits.
    Pin,
    /// The PIN unblocking key: 6 to 8 bytes.
    Puk,
}

/// What checking a value against the reference data gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// The value matched; the counter is back at its maximum.
    Ok,
    /// The value did not match; this many tries are left (0: now blocked).
    Wrong(u8),
    /// The counter was already 0: nothing was compared.
    Blocked,
}

/// A PIN or PUK with its retry counter.
pub(crate) struct Reference {
    kind: Kind,
    /// The padded value.
    value: Zeroizing<[u8; PADDED_LEN]>,
    tries_left: u8,
    max_tries: u8,
    /// Whether the value is still the factory default (reported by YubiKey metadata).
    is_default: bool,
}

impl Reference {
    /// Reference data holding `value` (unpadded), allowing `max_tries` wrong tries.
    pub(crate) fn new(kind: Kind, value: &[u8], max_tries: u8, is_default: bool) -> Option<Self> {
        let padded = pad(value)?;
        valid(kind, padded.as_slice()).then(|| Self {
            kind,
            value: padded,
            tries_left: max_tries.clamp(1, 15),
            max_tries: max_tries.clamp(1, 15),
            is_default,
        })
    }

    /// Tries left before the reference is blocked.
    pub(crate) fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// The retry limit.
    pub(crate) fn max_tries(&self) -> u8 {
        self.max_tries
    }

    /// Whether the counter has reached 0.
    pub(crate) fn is_blocked(&self) -> bool {
        self.tries_left == 0
    }

    /// Whether the factory default value is still set.
    pub(crate) fn is_default(&self) -> bool {
        self.is_default
    }

    /// Whether `padded` is a well-formed 8-byte field for this reference.
    pub(crate) fn well_formed(&self, padded: &[u8]) -> bool {
        valid(self.kind, padded)
    }

    /// Compares `padded` (already well-formed) in constant time, counting a failure.
    pub(crate) fn check(&mut self, padded: &[u8]) -> Check {
        if self.is_blocked() {
            return Check::Blocked;
        }
        if bool::from(self.value.as_slice().ct_eq(padded)) {
            self.tries_left = self.max_tries;
            Check::Ok
        } else {
            self.tries_left = self.tries_left.saturating_sub(1);
            Check::Wrong(self.tries_left)
        }
    }

    /// Replaces the value (already well-formed) and restores the counter.
    pub(crate) fn set(&mut self, padded: &[u8]) {
        if let Ok(v) = <[u8; PADDED_LEN]>::try_from(padded) {
            *self.value = v;
            self.tries_left = self.max_tries;
            self.is_default = false;
        }
    }

    /// Restores the counter without changing the value (unblocking the PIN with the PUK).
    pub(crate) fn restore(&mut self) {
        self.tries_left = self.max_tries;
    }
}

/// Pads `value` to 8 bytes with `FF`; `None` when it is longer.
fn pad(value: &[u8]) -> Option<Zeroizing<[u8; PADDED_LEN]>> {
    let mut out = Zeroizing::new([0xFF; PADDED_LEN]);
    if value.len() > PADDED_LEN {
        return None;
    }
    for (o, v) in out.iter_mut().zip(value) {
        *o = *v;
    }
    Some(out)
}

/// 6 to 8 significant bytes followed only by `FF` padding; digits only for the PIN.
fn valid(kind: Kind, padded: &[u8]) -> bool {
    if padded.len() != PADDED_LEN {
        return false;
    }
    let len = padded.iter().position(|b| *b == 0xFF).unwrap_or(PADDED_LEN);
    let (value, padding) = padded.split_at(len);
    let value_ok = match kind {
        Kind::Pin => value.iter().all(u8::is_ascii_digit),
        Kind::Puk => true,
    };
    len >= 6 && value_ok && padding.iter().all(|b| *b == 0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn formats() {
        let pin = Reference::new(Kind::Pin, b"123456", 3, true).unwrap();
        assert!(pin.well_formed(&hex!("313233343536FFFF")));
        assert!(pin.well_formed(b"12345678"));
        assert!(!pin.well_formed(&hex!("3132333435FFFFFF")), "5 digits");
        assert!(!pin.well_formed(&hex!("31323334353641FF")), "a letter");
        assert!(!pin.well_formed(&hex!("313233343536FF37")), "digit after padding");
        assert!(!pin.well_formed(&hex!("313233343536FF")), "7 bytes");
        let puk = Reference::new(Kind::Puk, b"12345678", 3, true).unwrap();
        assert!(puk.well_formed(b"abcdefgh"));
        assert!(Reference::new(Kind::Pin, b"12a456", 3, false).is_none());
        assert!(Reference::new(Kind::Pin, b"123456789", 3, false).is_none());
    }

    #[test]
    fn counts_down_blocks_and_restores() {
        let mut pin = Reference::new(Kind::Pin, b"123456", 3, true).unwrap();
        assert_eq!(pin.check(b"00000000"), Check::Wrong(2));
        assert_eq!(pin.check(&hex!("313233343536FFFF")), Check::Ok);
        assert_eq!(pin.tries_left(), 3);
        for left in [2, 1, 0] {
            assert_eq!(pin.check(b"00000000"), Check::Wrong(left));
        }
        assert!(pin.is_blocked());
        assert_eq!(pin.check(&hex!("313233343536FFFF")), Check::Blocked);
        pin.set(&hex!("363534333231FFFF"));
        assert!(!pin.is_default());
        assert_eq!(pin.check(&hex!("363534333231FFFF")), Check::Ok);
    }
}
