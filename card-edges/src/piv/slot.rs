//! PIV key references and the data objects that hold their certificates (SP 800-73-4 Part 1
//! tables 3 and 4), in the order containers are presented to the Base CSP.

use core::fmt;

use crate::key::{KeyAlgorithm, KeyRole};

/// A PIV key slot that can hold an asymmetric key and a certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(u8);

impl Slot {
    /// PIV Authentication (PIN once per session).
    pub const AUTHENTICATION: Self = Self(0x9A);
    /// Digital Signature (PIN immediately before every use).
    pub const SIGNATURE: Self = Self(0x9C);
    /// Key Management (decryption, key agreement).
    pub const KEY_MANAGEMENT: Self = Self(0x9D);
    /// Card Authentication (no PIN).
    pub const CARD_AUTHENTICATION: Self = Self(0x9E);
    /// Number of retired key management slots (`82`..`95`).
    pub const RETIRED_COUNT: u8 = 20;

    /// Every slot in container order: 9A, 9C, 9D, 9E, then retired 82..95. A slot's position
    /// here is its container index, fixed so that a certificate appearing in one slot never
    /// renumbers the others.
    pub fn all() -> impl Iterator<Item = Self> {
        [0x9A, 0x9C, 0x9D, 0x9E].into_iter().chain(0x82..=0x95).map(Self)
    }

    /// The four standard slots.
    pub const STANDARD: [Self; 4] = [Self(0x9A), Self(0x9C), Self(0x9D), Self(0x9E)];

    /// A slot from its key reference.
    pub fn from_key_ref(key_ref: u8) -> Option<Self> {
        matches!(key_ref, 0x9A | 0x9C | 0x9D | 0x9E | 0x82..=0x95).then_some(Self(key_ref))
    }

    /// The slot at container index `index`.
    pub fn from_container_index(index: usize) -> Option<Self> {
        Self::all().nth(index)
    }

    /// The key reference (P2 of GENERAL AUTHENTICATE / GENERATE).
    pub const fn key_ref(self) -> u8 {
        self.0
    }

    /// This slot's container index.
    pub fn container_index(self) -> usize {
        Self::all().position(|s| s == self).unwrap_or(usize::MAX)
    }

    /// The BER tag of the certificate data object for this slot.
    pub const fn certificate_tag(self) -> u32 {
        match self.0 {
            0x9A => 0x5FC105,
            0x9C => 0x5FC10A,
            0x9D => 0x5FC10B,
            0x9E => 0x5FC101,
            // Retired 82..95 map to 5FC10D..5FC120.
            n => 0x5FC10D + (n as u32 - 0x82),
        }
    }

    /// Whether this is a retired key management slot.
    pub const fn is_retired(self) -> bool {
        matches!(self.0, 0x82..=0x95)
    }

    /// Whether the card requires the PIN for this slot's private key at all (9E does not).
    pub const fn needs_pin(self) -> bool {
        self.0 != 0x9E
    }

    /// Whether the PIN must be verified immediately before every use (9C, "PIN always").
    pub const fn pin_always(self) -> bool {
        self.0 == 0x9C
    }

    /// Whether EC keys in this slot are for key agreement (9D and retired) rather than signing.
    pub const fn ec_is_key_agreement(self) -> bool {
        matches!(self.0, 0x9D | 0x82..=0x95)
    }

    /// How a key of `algorithm` in this slot is presented: RSA keys are key exchange keys
    /// (they sign too); EC keys are ECDH in 9D and the retired slots, ECDSA elsewhere.
    pub fn role_of(self, algorithm: KeyAlgorithm) -> KeyRole {
        match algorithm {
            KeyAlgorithm::Rsa { .. } => KeyRole::Exchange,
            _ if self.ec_is_key_agreement() => KeyRole::Exchange,
            _ => KeyRole::Signature,
        }
    }

    /// A human name for tools.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x9A => "PIV Authentication",
            0x9C => "Digital Signature",
            0x9D => "Key Management",
            0x9E => "Card Authentication",
            _ => "Retired Key Management",
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({:02X})", self.0)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_tags() {
        let all: Vec<Slot> = Slot::all().collect();
        assert_eq!(all.len(), 24);
        assert_eq!(all[0], Slot::AUTHENTICATION);
        assert_eq!(all[3], Slot::CARD_AUTHENTICATION);
        assert_eq!(all[4].key_ref(), 0x82);
        assert_eq!(all[23].key_ref(), 0x95);
        assert_eq!(Slot(0x82).certificate_tag(), 0x5FC10D);
        assert_eq!(Slot(0x95).certificate_tag(), 0x5FC120);
        assert_eq!(Slot::SIGNATURE.certificate_tag(), 0x5FC10A);
        assert_eq!(Slot::KEY_MANAGEMENT.container_index(), 2);
        assert_eq!(Slot::from_container_index(4), Slot::from_key_ref(0x82));
        assert_eq!(Slot::from_key_ref(0x9B), None);
        assert_eq!(Slot::from_key_ref(0x96), None);
    }
}
