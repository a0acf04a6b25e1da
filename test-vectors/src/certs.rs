//! X.509 certificates (DER) like those a PIV card holds, with their SHA-1 thumbprints.
//!
//! **Made for this project** with OpenSSL 3.0.22. A small test CA ([`CA`], RSA-2048 key
//! [`crate::keys::RSA_2048_C`]) issues one end-entity certificate per PIV slot for the keys in
//! [`crate::keys`]. Every certificate is valid from 2025-01-01 00:00:00 UTC to 2045-01-01 00:00:00
//! UTC (both `UTCTime`) and signed with sha256WithRSAEncryption (by the CA key, or for
//! [`SELF_SIGNED_RSA_2048`] by its own key). Subjects start `C=US, O=Minidriver Test Vectors`
//! (except the self-signed one); serial numbers spell the slot (`9A01` for 9A, ...).
//!
//! Because the CA key is RSA (PKCS#1 v1.5 signatures are deterministic), running the script
//! again with the committed keys gives byte-identical certificates; `gzip -n` makes the
//! compressed copy reproducible too (gzip 1.12).
//!
//! Regenerate from `test-vectors/data/certs` with `sh make-certs.sh`. The script:
#![doc = concat!("```sh\n", include_str!("../data/certs/make-certs.sh"), "```")]
//!
//! The OpenSSL configuration it uses (`data/certs/openssl.cnf`):
#![doc = concat!("```text\n", include_str!("../data/certs/openssl.cnf"), "```")]
//!
//! Thumbprints are SHA-1 over the whole DER certificate, as Windows shows them and as
//! `openssl dgst -sha1 <cert>.der` prints them.

use hex_literal::hex;

/// Test CA: self-signed, `CN=Minidriver Test PIV CA`, RSA-2048 key [`crate::keys::RSA_2048_C`],
/// serial 01, basicConstraints CA:TRUE (critical), keyUsage keyCertSign + cRLSign (critical),
/// subjectKeyIdentifier, no authorityKeyIdentifier. Issuer of every certificate below except
/// [`SELF_SIGNED_RSA_2048`].
pub const CA: &[u8] = include_bytes!("../data/certs/ca.der");
/// SHA-1 thumbprint of [`CA`].
pub const CA_SHA1: [u8; 20] = hex!("05 96 F2 8F 4D C5 36 29 43 41 03 3C C7 63 3C 49 16 9A 46 8D");

/// 9A PIV Authentication: RSA-2048 key [`crate::keys::RSA_2048_A`], serial 9A01,
/// `OU=PIV Authentication, CN=Alice Example`. keyUsage digitalSignature (critical);
/// extendedKeyUsage clientAuth + Smart Card Logon (1.3.6.1.4.1.311.20.2.2); subjectAltName
/// otherName UPN (1.3.6.1.4.1.311.20.2.3) `alice@example.com` and URI
/// `urn:uuid:44a38407-356c-45ca-b037-6bf76cb4cb07` (the card UUID). This is what Windows needs
/// for smart card logon.
pub const PIV_AUTH_9A: &[u8] = include_bytes!("../data/certs/piv_auth_9a.der");
/// SHA-1 thumbprint of [`PIV_AUTH_9A`].
pub const PIV_AUTH_9A_SHA1: [u8; 20] = hex!("A7 D7 EF E1 3F 97 6B 59 3E 7F CD DF 8B 6D CF 5D 5C 4B 54 84");

/// [`PIV_AUTH_9A`] compressed with `gzip -n -9` (no file name, time stamp 0), as a PIV card stores
/// a certificate whose CertInfo (tag 71) is `01`. Decompresses to exactly [`PIV_AUTH_9A`]; the
/// gzip trailer's ISIZE is 1042.
pub const PIV_AUTH_9A_GZIP: &[u8] = include_bytes!("../data/certs/piv_auth_9a.der.gz");

/// 9C Digital Signature: P-256 key [`crate::keys::P256_A`], serial 9C01,
/// `OU=Digital Signature, CN=Alice Example`. keyUsage digitalSignature + nonRepudiation
/// (critical); subjectAltName email `alice@example.com`; no extendedKeyUsage.
pub const DIGITAL_SIGNATURE_9C: &[u8] = include_bytes!("../data/certs/digital_signature_9c.der");
/// SHA-1 thumbprint of [`DIGITAL_SIGNATURE_9C`].
pub const DIGITAL_SIGNATURE_9C_SHA1: [u8; 20] = hex!("A6 F1 B8 35 48 5C 07 EF 05 D8 CC 48 06 FF 83 26 F6 6F 4D AA");

/// 9D Key Management, RSA: RSA-2048 key [`crate::keys::RSA_2048_B`], serial 9D01,
/// `OU=Key Management, CN=Alice Example`. keyUsage keyEncipherment only (critical), so it is a
/// decryption (key exchange) key; subjectAltName email `alice@example.com`.
pub const KEY_MANAGEMENT_9D: &[u8] = include_bytes!("../data/certs/key_management_9d.der");
/// SHA-1 thumbprint of [`KEY_MANAGEMENT_9D`].
pub const KEY_MANAGEMENT_9D_SHA1: [u8; 20] = hex!("5B 51 92 47 30 1C 2F 2C 3A 27 25 6F DA B6 56 A2 BC 62 6A 9E");

/// 9D Key Management, EC: P-256 key [`crate::keys::P256_C`], serial 9D02,
/// `OU=Key Management, CN=Alice Example`. keyUsage keyAgreement only (critical): an ECDH key,
/// not a signing key. subjectAltName email `alice@example.com`.
pub const KEY_MANAGEMENT_9D_EC: &[u8] = include_bytes!("../data/certs/key_management_9d_ec.der");
/// SHA-1 thumbprint of [`KEY_MANAGEMENT_9D_EC`].
pub const KEY_MANAGEMENT_9D_EC_SHA1: [u8; 20] = hex!("19 0E F7 9A CF CA 4E DA 00 8D 5C 43 D0 19 7D E5 74 22 62 58");

/// 9E Card Authentication: P-256 key [`crate::keys::P256_B`], serial 9E01,
/// `OU=Card Authentication, CN=44a38407-356c-45ca-b037-6bf76cb4cb07` (no person's name, as
/// FIPS 201 wants). keyUsage digitalSignature (critical); extendedKeyUsage id-PIV-cardAuth
/// (2.16.840.1.101.3.6.8); subjectAltName URI `urn:uuid:44a38407-356c-45ca-b037-6bf76cb4cb07`.
pub const CARD_AUTH_9E: &[u8] = include_bytes!("../data/certs/card_auth_9e.der");
/// SHA-1 thumbprint of [`CARD_AUTH_9E`].
pub const CARD_AUTH_9E_SHA1: [u8; 20] = hex!("BD 9F B5 85 2A C0 C7 99 D2 70 BB 92 72 1F 3A D4 F7 7C 5F 3F");

/// Retired Key Management 1 (slot 82): RSA-1024 key [`crate::keys::RSA_1024`], serial 8201,
/// keyUsage digitalSignature + keyEncipherment (critical). The old key size some cards still hold.
pub const RETIRED_82_RSA_1024: &[u8] = include_bytes!("../data/certs/retired_82_rsa1024.der");
/// SHA-1 thumbprint of [`RETIRED_82_RSA_1024`].
pub const RETIRED_82_RSA_1024_SHA1: [u8; 20] = hex!("AF 57 D7 03 1B 8D 41 0C 75 D2 9A FB 78 F4 30 CC 1A DC 95 3A");

/// Retired Key Management 2 (slot 83): RSA-3072 key [`crate::keys::RSA_3072`], serial 8301,
/// keyUsage digitalSignature + keyEncipherment (critical).
pub const RETIRED_83_RSA_3072: &[u8] = include_bytes!("../data/certs/retired_83_rsa3072.der");
/// SHA-1 thumbprint of [`RETIRED_83_RSA_3072`].
pub const RETIRED_83_RSA_3072_SHA1: [u8; 20] = hex!("4D 34 CC 7D 70 5D 1E 90 FC 9D 35 72 CC 43 CD 10 B1 3B 29 86");

/// Retired Key Management 3 (slot 84): RSA-4096 key [`crate::keys::RSA_4096`], serial 8401,
/// keyUsage digitalSignature + keyEncipherment (critical).
pub const RETIRED_84_RSA_4096: &[u8] = include_bytes!("../data/certs/retired_84_rsa4096.der");
/// SHA-1 thumbprint of [`RETIRED_84_RSA_4096`].
pub const RETIRED_84_RSA_4096_SHA1: [u8; 20] = hex!("11 B0 B5 96 FA E5 51 71 41 CA 2E 13 40 42 78 61 51 D5 DC 44");

/// Retired Key Management 4 (slot 85): P-384 key [`crate::keys::P384_A`], serial 8501,
/// keyUsage digitalSignature (critical).
pub const RETIRED_85_P384: &[u8] = include_bytes!("../data/certs/retired_85_p384.der");
/// SHA-1 thumbprint of [`RETIRED_85_P384`].
pub const RETIRED_85_P384_SHA1: [u8; 20] = hex!("0A AD D7 A4 DC BE 1F 3B 15 11 B8 5B 6B 81 53 0B 6B D2 C7 EF");

/// Retired Key Management 5 (slot 86): P-384 key [`crate::keys::P384_B`], serial 8601,
/// keyUsage keyAgreement (critical): a P-384 ECDH key.
pub const RETIRED_86_P384: &[u8] = include_bytes!("../data/certs/retired_86_p384.der");
/// SHA-1 thumbprint of [`RETIRED_86_P384`].
pub const RETIRED_86_P384_SHA1: [u8; 20] = hex!("05 FA 41 2A 92 12 D2 D4 B0 4F 1C 78 06 50 90 8E 76 82 76 6C");

/// Self-signed end-entity certificate for RSA-2048 key [`crate::keys::RSA_2048_A`] (the same key
/// as [`PIV_AUTH_9A`], as when a token tool makes a self-signed certificate for a new key):
/// subject = issuer = `CN=Alice Example (self-signed)`, serial 5E1F, basicConstraints CA:FALSE,
/// keyUsage digitalSignature + keyEncipherment (critical), extendedKeyUsage clientAuth,
/// subjectKeyIdentifier, no authorityKeyIdentifier, no subjectAltName.
pub const SELF_SIGNED_RSA_2048: &[u8] = include_bytes!("../data/certs/self_signed_rsa2048.der");
/// SHA-1 thumbprint of [`SELF_SIGNED_RSA_2048`].
pub const SELF_SIGNED_RSA_2048_SHA1: [u8; 20] = hex!("9B AF 6D F4 95 F8 0F 3E 4C C4 32 26 91 DA 28 0B 32 B9 A7 CB");

/// A certificate with what tests compare it against.
#[derive(Debug, Clone, Copy)]
pub struct CertVector {
    /// Name of the certificate's constant.
    pub name: &'static str,
    /// The DER certificate.
    pub der: &'static [u8],
    /// Its SHA-1 thumbprint.
    pub sha1: [u8; 20],
    /// The SPKI DER of its key, from [`crate::keys`].
    pub spki: &'static [u8],
}

/// Every certificate, for loops and fuzz seeds.
pub const ALL: &[CertVector] = &[
    CertVector { name: "CA", der: CA, sha1: CA_SHA1, spki: crate::keys::RSA_2048_C_SPKI },
    CertVector { name: "PIV_AUTH_9A", der: PIV_AUTH_9A, sha1: PIV_AUTH_9A_SHA1, spki: crate::keys::RSA_2048_A_SPKI },
    CertVector {
        name: "DIGITAL_SIGNATURE_9C",
        der: DIGITAL_SIGNATURE_9C,
        sha1: DIGITAL_SIGNATURE_9C_SHA1,
        spki: crate::keys::P256_A_SPKI,
    },
    CertVector {
        name: "KEY_MANAGEMENT_9D",
        der: KEY_MANAGEMENT_9D,
        sha1: KEY_MANAGEMENT_9D_SHA1,
        spki: crate::keys::RSA_2048_B_SPKI,
    },
    CertVector {
        name: "KEY_MANAGEMENT_9D_EC",
        der: KEY_MANAGEMENT_9D_EC,
        sha1: KEY_MANAGEMENT_9D_EC_SHA1,
        spki: crate::keys::P256_C_SPKI,
    },
    CertVector { name: "CARD_AUTH_9E", der: CARD_AUTH_9E, sha1: CARD_AUTH_9E_SHA1, spki: crate::keys::P256_B_SPKI },
    CertVector {
        name: "RETIRED_82_RSA_1024",
        der: RETIRED_82_RSA_1024,
        sha1: RETIRED_82_RSA_1024_SHA1,
        spki: crate::keys::RSA_1024_SPKI,
    },
    CertVector {
        name: "RETIRED_83_RSA_3072",
        der: RETIRED_83_RSA_3072,
        sha1: RETIRED_83_RSA_3072_SHA1,
        spki: crate::keys::RSA_3072_SPKI,
    },
    CertVector {
        name: "RETIRED_84_RSA_4096",
        der: RETIRED_84_RSA_4096,
        sha1: RETIRED_84_RSA_4096_SHA1,
        spki: crate::keys::RSA_4096_SPKI,
    },
    CertVector {
        name: "RETIRED_85_P384",
        der: RETIRED_85_P384,
        sha1: RETIRED_85_P384_SHA1,
        spki: crate::keys::P384_A_SPKI,
    },
    CertVector {
        name: "RETIRED_86_P384",
        der: RETIRED_86_P384,
        sha1: RETIRED_86_P384_SHA1,
        spki: crate::keys::P384_B_SPKI,
    },
    CertVector {
        name: "SELF_SIGNED_RSA_2048",
        der: SELF_SIGNED_RSA_2048,
        sha1: SELF_SIGNED_RSA_2048_SHA1,
        spki: crate::keys::RSA_2048_A_SPKI,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-1 (FIPS 180-4), only to check the thumbprint constants without a dependency.
    fn sha1(msg: &[u8]) -> [u8; 20] {
        let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
        let mut data = msg.to_vec();
        data.push(0x80);
        while data.len() % 64 != 56 {
            data.push(0);
        }
        data.extend_from_slice(&(msg.len() as u64 * 8).to_be_bytes());
        for block in data.chunks_exact(64) {
            let mut w = [0u32; 80];
            for (i, word) in block.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = h;
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                    20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                    _ => (b ^ c ^ d, 0xCA62_C1D6),
                };
                let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
                e = d;
                d = c;
                c = b.rotate_left(30);
                b = a;
                a = t;
            }
            for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
                *hi = hi.wrapping_add(v);
            }
        }
        let mut out = [0u8; 20];
        for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// CRC-32 (IEEE, reflected), to tie the gzip trailer to the certificate.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn sha1_self_check() {
        // FIPS 180 example "abc".
        assert_eq!(sha1(b"abc"), hex!("A9 99 3E 36 47 06 81 6A BA 3E 25 71 78 50 C2 6C 9C D0 D8 9D"));
    }

    #[test]
    fn der_structure_and_thumbprints() {
        for CertVector { name, der, sha1: thumb, spki } in ALL {
            // SEQUENCE with a two-byte long-form length covering the whole buffer.
            assert_eq!(&der[..2], &[0x30, 0x82], "{name}");
            let len = usize::from(u16::from_be_bytes([der[2], der[3]]));
            assert_eq!(len + 4, der.len(), "{name} length");
            assert_eq!(sha1(der), *thumb, "{name} thumbprint");
            assert!(der.windows(spki.len()).any(|w| w == *spki), "{name} holds its key's SPKI");
        }
    }

    #[test]
    fn gzip_copy_matches() {
        let gz = PIV_AUTH_9A_GZIP;
        // ID1 ID2, CM = deflate, FLG = 0 (no name), MTIME = 0.
        assert_eq!(&gz[..8], &hex!("1F 8B 08 00 00 00 00 00"));
        let trailer = &gz[gz.len() - 8..];
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        assert_eq!(crc, crc32(PIV_AUTH_9A));
        assert_eq!(isize as usize, PIV_AUTH_9A.len());
    }
}
