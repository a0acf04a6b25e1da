//! Fixed private keys, so that no test generates an RSA key at run time.
//!
//! **Made for this project.** These are random keys with no other use, generated once with
//! OpenSSL 3.0.22 and committed under `data/keys/`. They protect nothing; never use them outside
//! tests. The certificates in [`crate::certs`] are issued for them.
//!
//! Each private key is an unencrypted PKCS#8 `PrivateKeyInfo` in DER (`*.pk8.der`). RSA keys have
//! the public exponent 65537. EC keys use named curves; their inner `ECPrivateKey` (SEC 1) holds
//! the public key and no curve parameters. Each `*_SPKI` constant is the matching DER
//! `SubjectPublicKeyInfo` (`*.spki.der`).
//!
//! Commands (run in `test-vectors/data/keys`; `genpkey` writes PKCS#8 PEM, `pkcs8 -topk8` turns
//! it into PKCS#8 DER):
//!
//! ```sh
//! rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$1 \
//!           | openssl pkcs8 -topk8 -nocrypt -outform DER -out $2.pk8.der; }
//! ec()  { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$1 \
//!           -pkeyopt ec_param_enc:named_curve \
//!           | openssl pkcs8 -topk8 -nocrypt -outform DER -out $2.pk8.der; }
//! rsa 1024 rsa1024
//! rsa 2048 rsa2048_a
//! rsa 2048 rsa2048_b
//! rsa 2048 rsa2048_c
//! rsa 3072 rsa3072
//! rsa 4096 rsa4096
//! ec P-256 p256_a
//! ec P-256 p256_b
//! ec P-256 p256_c
//! ec P-384 p384_a
//! ec P-384 p384_b
//! for f in *.pk8.der; do
//!   openssl pkey -inform DER -in "$f" -pubout -outform DER -out "${f%.pk8.der}.spki.der"
//! done
//! ```
//!
//! Running the commands again gives other keys; the committed files are the vectors.

/// RSA-1024 private key (PKCS#8 DER). Certificate: [`crate::certs::RETIRED_82_RSA_1024`].
pub const RSA_1024: &[u8] = include_bytes!("../data/keys/rsa1024.pk8.der");
/// Public key of [`RSA_1024`] (SPKI DER).
pub const RSA_1024_SPKI: &[u8] = include_bytes!("../data/keys/rsa1024.spki.der");

/// RSA-2048 private key A (PKCS#8 DER). Certificates: [`crate::certs::PIV_AUTH_9A`] and
/// [`crate::certs::SELF_SIGNED_RSA_2048`] (one key, two certificates, as when a token tool
/// first makes a self-signed certificate for a new 9A key).
pub const RSA_2048_A: &[u8] = include_bytes!("../data/keys/rsa2048_a.pk8.der");
/// Public key of [`RSA_2048_A`] (SPKI DER).
pub const RSA_2048_A_SPKI: &[u8] = include_bytes!("../data/keys/rsa2048_a.spki.der");

/// RSA-2048 private key B (PKCS#8 DER). Certificate: [`crate::certs::KEY_MANAGEMENT_9D`].
pub const RSA_2048_B: &[u8] = include_bytes!("../data/keys/rsa2048_b.pk8.der");
/// Public key of [`RSA_2048_B`] (SPKI DER).
pub const RSA_2048_B_SPKI: &[u8] = include_bytes!("../data/keys/rsa2048_b.spki.der");

/// RSA-2048 private key C (PKCS#8 DER): the key of the test CA, [`crate::certs::CA`].
pub const RSA_2048_C: &[u8] = include_bytes!("../data/keys/rsa2048_c.pk8.der");
/// Public key of [`RSA_2048_C`] (SPKI DER).
pub const RSA_2048_C_SPKI: &[u8] = include_bytes!("../data/keys/rsa2048_c.spki.der");

/// RSA-3072 private key (PKCS#8 DER). Certificate: [`crate::certs::RETIRED_83_RSA_3072`].
pub const RSA_3072: &[u8] = include_bytes!("../data/keys/rsa3072.pk8.der");
/// Public key of [`RSA_3072`] (SPKI DER).
pub const RSA_3072_SPKI: &[u8] = include_bytes!("../data/keys/rsa3072.spki.der");

/// RSA-4096 private key (PKCS#8 DER). Certificate: [`crate::certs::RETIRED_84_RSA_4096`].
pub const RSA_4096: &[u8] = include_bytes!("../data/keys/rsa4096.pk8.der");
/// Public key of [`RSA_4096`] (SPKI DER).
pub const RSA_4096_SPKI: &[u8] = include_bytes!("../data/keys/rsa4096.spki.der");

/// P-256 private key A (PKCS#8 DER). Certificate: [`crate::certs::DIGITAL_SIGNATURE_9C`].
pub const P256_A: &[u8] = include_bytes!("../data/keys/p256_a.pk8.der");
/// Public key of [`P256_A`] (SPKI DER).
pub const P256_A_SPKI: &[u8] = include_bytes!("../data/keys/p256_a.spki.der");

/// P-256 private key B (PKCS#8 DER). Certificate: [`crate::certs::CARD_AUTH_9E`].
pub const P256_B: &[u8] = include_bytes!("../data/keys/p256_b.pk8.der");
/// Public key of [`P256_B`] (SPKI DER).
pub const P256_B_SPKI: &[u8] = include_bytes!("../data/keys/p256_b.spki.der");

/// P-256 private key C (PKCS#8 DER), for ECDH. Certificate:
/// [`crate::certs::KEY_MANAGEMENT_9D_EC`].
pub const P256_C: &[u8] = include_bytes!("../data/keys/p256_c.pk8.der");
/// Public key of [`P256_C`] (SPKI DER).
pub const P256_C_SPKI: &[u8] = include_bytes!("../data/keys/p256_c.spki.der");

/// P-384 private key A (PKCS#8 DER). Certificate: [`crate::certs::RETIRED_85_P384`].
pub const P384_A: &[u8] = include_bytes!("../data/keys/p384_a.pk8.der");
/// Public key of [`P384_A`] (SPKI DER).
pub const P384_A_SPKI: &[u8] = include_bytes!("../data/keys/p384_a.spki.der");

/// P-384 private key B (PKCS#8 DER), for ECDH. Certificate: [`crate::certs::RETIRED_86_P384`].
pub const P384_B: &[u8] = include_bytes!("../data/keys/p384_b.pk8.der");
/// Public key of [`P384_B`] (SPKI DER).
pub const P384_B_SPKI: &[u8] = include_bytes!("../data/keys/p384_b.spki.der");

/// Every key as `(name, PKCS#8 DER, SPKI DER)`, for loops and fuzz seeds.
pub const ALL: &[(&str, &[u8], &[u8])] = &[
    ("RSA_1024", RSA_1024, RSA_1024_SPKI),
    ("RSA_2048_A", RSA_2048_A, RSA_2048_A_SPKI),
    ("RSA_2048_B", RSA_2048_B, RSA_2048_B_SPKI),
    ("RSA_2048_C", RSA_2048_C, RSA_2048_C_SPKI),
    ("RSA_3072", RSA_3072, RSA_3072_SPKI),
    ("RSA_4096", RSA_4096, RSA_4096_SPKI),
    ("P256_A", P256_A, P256_A_SPKI),
    ("P256_B", P256_B, P256_B_SPKI),
    ("P256_C", P256_C, P256_C_SPKI),
    ("P384_A", P384_A, P384_A_SPKI),
    ("P384_B", P384_B, P384_B_SPKI),
];

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    /// rsaEncryption, 1.2.840.113549.1.1.1 (OID TLV).
    const RSA_OID: &[u8] = &hex!("06 09 2A 86 48 86 F7 0D 01 01 01");
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    const EC_OID: &[u8] = &hex!("06 07 2A 86 48 CE 3D 02 01");
    /// prime256v1, 1.2.840.10045.3.1.7.
    const P256_OID: &[u8] = &hex!("06 08 2A 86 48 CE 3D 03 01 07");
    /// secp384r1, 1.3.132.0.34.
    const P384_OID: &[u8] = &hex!("06 05 2B 81 04 00 22");

    /// Length of the outer SEQUENCE's TLV (definite, short or long form).
    fn tlv_len(der: &[u8]) -> usize {
        assert_eq!(der[0], 0x30, "not a SEQUENCE");
        let first = der[1];
        if first < 0x80 {
            2 + usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            let len = der[2..2 + n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            2 + n + len
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn der_structure() {
        for (name, pk8, spki) in ALL {
            assert_eq!(tlv_len(pk8), pk8.len(), "{name} PKCS#8 length");
            assert_eq!(tlv_len(spki), spki.len(), "{name} SPKI length");
            // PrivateKeyInfo ::= SEQUENCE { version INTEGER 0, AlgorithmIdentifier, ... }
            let body = if pk8[1] < 0x80 { 2 } else { 2 + usize::from(pk8[1] & 0x7F) };
            assert_eq!(&pk8[body..body + 3], &hex!("02 01 00"), "{name} version");
            let (alg, curve) = if name.starts_with("RSA") {
                (RSA_OID, None)
            } else if name.starts_with("P256") {
                (EC_OID, Some(P256_OID))
            } else {
                (EC_OID, Some(P384_OID))
            };
            assert!(contains(pk8, alg) && contains(spki, alg), "{name} algorithm");
            if let Some(curve) = curve {
                assert!(contains(pk8, curve) && contains(spki, curve), "{name} curve");
            }
        }
    }

    #[test]
    fn sizes_match_the_key_lengths() {
        // SPKI sizes follow from the modulus or point size alone.
        let expected = [162, 294, 294, 294, 422, 550, 91, 91, 91, 120, 120];
        for ((name, _, spki), len) in ALL.iter().zip(expected) {
            assert_eq!(spki.len(), len, "{name}");
        }
    }

    #[test]
    fn keys_are_distinct() {
        for (i, (a, pa, _)) in ALL.iter().enumerate() {
            for (b, pb, _) in &ALL[i + 1..] {
                assert_ne!(pa, pb, "{a} == {b}");
            }
        }
    }
}
