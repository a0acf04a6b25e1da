//! PIV cryptographic algorithm identifiers (NIST SP 800-78-4 table 6-2; P1 of GENERAL
//! AUTHENTICATE, tag `80` of GENERATE ASYMMETRIC KEY PAIR), plus `16` for RSA-4096 as YubiKey
//! 5.7+ and its clones number it.

use crate::key::KeyAlgorithm;

/// One row per algorithm: the identifier and what it names.
const TABLE: [(u8, KeyAlgorithm); 6] = [
    (0x06, KeyAlgorithm::Rsa { bits: 1024 }),
    (0x07, KeyAlgorithm::Rsa { bits: 2048 }),
    (0x05, KeyAlgorithm::Rsa { bits: 3072 }),
    (0x16, KeyAlgorithm::Rsa { bits: 4096 }),
    (0x11, KeyAlgorithm::P256),
    (0x14, KeyAlgorithm::P384),
];

/// The PIV identifier of `algorithm`, `None` for a size PIV does not number.
pub fn id(algorithm: KeyAlgorithm) -> Option<u8> {
    TABLE.iter().find(|(_, a)| *a == algorithm).map(|(id, _)| *id)
}

/// The algorithm a PIV identifier names.
pub fn from_id(id: u8) -> Option<KeyAlgorithm> {
    TABLE.iter().find(|(i, _)| *i == id).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip() {
        for (i, a) in TABLE {
            assert_eq!((id(a), from_id(i)), (Some(i), Some(a)));
        }
        assert_eq!(id(KeyAlgorithm::Rsa { bits: 1536 }), None);
        assert_eq!(from_id(0x03), None, "3DES is not an asymmetric key");
    }
}
