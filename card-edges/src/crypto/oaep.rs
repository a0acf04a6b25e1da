//! EME-OAEP (RFC 8017 §7.1) with MGF1 over the same hash as the label's: the form of CNG's
//! `BCRYPT_OAEP_PADDING_INFO` and of `CARD_PADDING_OAEP`.

use rand_core::TryCryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::HashAlg;
use super::hash::mgf1_xor;
use super::pkcs1::{MAX_BLOCK, modulus_block};
use crate::error::{Error, Result};

/// The one error of every failed decoding, whatever check failed.
const DECRYPTION_ERROR: Error = Error::Crypto("decryption error");

/// Removes EME-OAEP padding from the card's raw decryption `em` of a `k`-byte modulus and
/// returns the message. `label` is usually empty.
///
/// A block shorter than `k` is left-padded, as in
/// [`decode_encryption_block`](super::pkcs1::decode_encryption_block).
///
/// Constant time in the block's content as far as the hash allows: both masks are always
/// computed, the label hash is compared with `subtle`, the whole `DB` is scanned for the `01`
/// separator without an early exit, and only the combined verdict branches.
///
/// # Errors
/// [`Error::Unsupported`] for an MD5-based `hash_alg` (an argument, not data); otherwise
/// [`Error::Crypto`] with the same value for every failure, including `k < 2 hLen + 2`.
pub fn decode(em: &[u8], k: usize, hash_alg: HashAlg, label: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let h_len = hash_alg.sha_len()?;
    if k < 2 * h_len + 2 {
        return Err(DECRYPTION_ERROR);
    }
    let l_hash = hash_alg.hash_parts(&[label])?;
    let block = modulus_block(em, k).ok_or(DECRYPTION_ERROR)?;
    let (y, rest) = block.split_first().ok_or(DECRYPTION_ERROR)?;
    let (masked_seed, masked_db) = rest.split_at_checked(h_len).ok_or(DECRYPTION_ERROR)?;
    let mut seed = Zeroizing::new(masked_seed.to_vec());
    mgf1_xor(hash_alg, masked_db, &mut seed)?;
    let mut db = Zeroizing::new(masked_db.to_vec());
    mgf1_xor(hash_alg, &seed, &mut db)?;
    let (l_hash_2, ps_one_m) = db.split_at_checked(h_len).ok_or(DECRYPTION_ERROR)?;

    let mut valid = y.ct_eq(&0) & l_hash_2.ct_eq(&l_hash);
    let mut looking = Choice::from(1);
    let mut bad_byte = Choice::from(0);
    let mut one_at = 0u32;
    for (i, b) in (0u32..).zip(ps_one_m) {
        let zero = b.ct_eq(&0);
        let one = b.ct_eq(&1);
        one_at.conditional_assign(&i, looking & one);
        bad_byte |= looking & !zero & !one;
        looking &= !one;
    }
    valid &= !looking & !bad_byte;
    if !bool::from(valid) {
        return Err(DECRYPTION_ERROR);
    }
    let start = usize::try_from(one_at).map_err(|_| DECRYPTION_ERROR)?.saturating_add(1);
    let msg = ps_one_m.get(start..).ok_or(DECRYPTION_ERROR)?;
    Ok(Zeroizing::new(msg.to_vec()))
}

/// EME-OAEP encoding of `msg` into a `k`-byte block, with a random seed from `rng`: for a
/// simulated card and for tests.
///
/// # Errors
/// [`Error::Unsupported`] for an MD5-based `hash_alg`; [`Error::InvalidArgument`] for a message
/// longer than `k - 2 hLen - 2`; [`Error::Crypto`] when the random generator fails.
pub fn encode<R: TryCryptoRng + ?Sized>(
    msg: &[u8],
    k: usize,
    hash_alg: HashAlg,
    label: &[u8],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut seed = Zeroizing::new(vec![0; hash_alg.sha_len()?]);
    rng.try_fill_bytes(&mut seed).map_err(super::rng_error)?;
    encode_with_seed(msg, k, hash_alg, label, &seed)
}

/// EME-OAEP encoding with the given `seed` (`hLen` bytes; deterministic, for known answers).
///
/// # Errors
/// As [`encode`]; [`Error::InvalidArgument`] for a seed that is not `hLen` bytes.
pub fn encode_with_seed(
    msg: &[u8],
    k: usize,
    hash_alg: HashAlg,
    label: &[u8],
    seed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let h_len = hash_alg.sha_len()?;
    if seed.len() != h_len {
        return Err(Error::InvalidArgument("OAEP seed is not the hash's length"));
    }
    if k > MAX_BLOCK || k < msg.len().saturating_add(2 * h_len + 2) {
        return Err(Error::InvalidArgument("message too long for the key"));
    }
    // DB = lHash || PS || 01 || M
    let mut db = Zeroizing::new(Vec::with_capacity(k - h_len - 1));
    db.extend_from_slice(&hash_alg.hash_parts(&[label])?);
    db.resize(k - msg.len() - h_len - 2, 0);
    db.push(0x01);
    db.extend_from_slice(msg);
    mgf1_xor(hash_alg, seed, &mut db)?;
    let mut masked_seed = Zeroizing::new(seed.to_vec());
    mgf1_xor(hash_alg, &db, &mut masked_seed)?;
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.push(0x00);
    em.extend_from_slice(&masked_seed);
    em.extend_from_slice(&db);
    Ok(em)
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use proptest::prelude::*;
    use rsa::Oaep;
    use rsa::traits::PublicKeyParts;

    use super::*;
    use crate::crypto::rsa_pub::raw_public;
    use crate::crypto::testutil::{private_op, rng, rsa_keys};

    const SHA: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    fn scheme<D>(label: &[u8]) -> Oaep<D>
    where
        D: digest::Digest + digest::FixedOutputReset,
    {
        if label.is_empty() { Oaep::<D>::new() } else { Oaep::<D>::new_with_label(label.to_vec()) }
    }

    fn rsa_encrypt(key: &rsa::RsaPublicKey, alg: HashAlg, label: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut rng = rng();
        match alg {
            HashAlg::Sha1 => key.encrypt(&mut rng, scheme::<sha1::Sha1>(label), msg),
            HashAlg::Sha256 => key.encrypt(&mut rng, scheme::<sha2::Sha256>(label), msg),
            HashAlg::Sha384 => key.encrypt(&mut rng, scheme::<sha2::Sha384>(label), msg),
            HashAlg::Sha512 => key.encrypt(&mut rng, scheme::<sha2::Sha512>(label), msg),
            HashAlg::Md5 | HashAlg::Md5Sha1 => unreachable!(),
        }
        .unwrap()
    }

    fn rsa_decrypt(key: &rsa::RsaPrivateKey, alg: HashAlg, label: &[u8], ct: &[u8]) -> Vec<u8> {
        match alg {
            HashAlg::Sha1 => key.decrypt(scheme::<sha1::Sha1>(label), ct),
            HashAlg::Sha256 => key.decrypt(scheme::<sha2::Sha256>(label), ct),
            HashAlg::Sha384 => key.decrypt(scheme::<sha2::Sha384>(label), ct),
            HashAlg::Sha512 => key.decrypt(scheme::<sha2::Sha512>(label), ct),
            HashAlg::Md5 | HashAlg::Md5Sha1 => unreachable!(),
        }
        .unwrap()
    }

    /// Ciphertexts from the `rsa` crate, decrypted by the bare private operation, unpadded here.
    #[test]
    fn decrypts_rsa_crate_ciphertexts() {
        for (name, key) in rsa_keys() {
            let public = key.to_public_key();
            let k = key.size();
            for alg in SHA {
                // RSA-1024 is too short for OAEP with SHA-512 (k < 2 hLen + 2).
                let Some(max) = k.checked_sub(2 * alg.output_len() + 2) else {
                    assert!(decode(&[0; 128], k, alg, b"").is_err());
                    continue;
                };
                for label in [&b""[..], b"a label"] {
                    for msg in [&b""[..], b"an AES-256 key, 32 bytes long!!!", &vec![0xA5; max]] {
                        if msg.len() > max {
                            continue;
                        }
                        let ct = rsa_encrypt(&public, alg, label, msg);
                        let block = private_op(&key, &ct);
                        let out = decode(&block, k, alg, label).unwrap();
                        assert_eq!(&*out, msg, "{name} {alg:?}");
                        assert_eq!(decode(&block, k, alg, b"other label").unwrap_err(), DECRYPTION_ERROR);
                    }
                }
            }
        }
    }

    /// Padded here, encrypted with the bare public operation, decrypted by the `rsa` crate.
    #[test]
    fn rsa_crate_decrypts_our_blocks() {
        let mut rng = rng();
        for (name, key) in rsa_keys() {
            let k = key.size();
            for alg in SHA {
                let Some(max) = k.checked_sub(2 * alg.output_len() + 2) else {
                    assert!(encode(b"", k, alg, b"", &mut rng).is_err());
                    continue;
                };
                for (label, msg) in [(&b""[..], &b"m"[..]), (b"label", &vec![7; max])] {
                    let block = encode(msg, k, alg, label, &mut rng).unwrap();
                    let ct = raw_public(&key, &block).unwrap();
                    assert_eq!(rsa_decrypt(&key, alg, label, &ct), msg, "{name} {alg:?}");
                }
                assert!(encode(&vec![7; max + 1], k, alg, b"", &mut rng).is_err());
            }
        }
    }

    /// RSA Laboratories' PKCS #1 v2.0 test vector (`oaep-int.txt`; pycrypto, nettle and others
    /// use it): 1024-bit key with e = 17, SHA-1, empty label.
    #[test]
    fn known_answer() {
        let n = hex!(
            "bbf82f090682ce9c2338ac2b9da871f7368d07eed41043a440d6b6f07454f51f"
            "b8dfbaaf035c02ab61ea48ceeb6fcd4876ed520d60e1ec4619719d8a5b8b807f"
            "afb8e0a3dfc737723ee6b4b7d93a2584ee6a649d060953748834b2454598394e"
            "e0aab12d7b61a51f527a9a41f6c1687fe2537298ca2a8f5946f8e5fd091dbdcb"
        );
        let msg = hex!("d436e99569fd32a7c8a05bbc90d32c49");
        let seed = hex!("aafd12f659cae63489b479e5076ddec2f06cb58f");
        let em = hex!(
            "00eb7a19ace9e3006350e329504b45e2ca82310b26dcd87d5c68f1eea8f55267"
            "c31b2e8bb4251f84d7e0b2c04626f5aff93edcfb25c9c2b3ff8ae10e839a2ddb"
            "4cdcfe4ff47728b4a1b7c1362baad29ab48d2869d5024121435811591be392f9"
            "82fb3e87d095aeb40448db972f3ac14f7bc275195281ce32d2f1b76d4d353e2d"
        );
        let ct = hex!(
            "1253e04dc0a5397bb44a7ab87e9bf2a039a33d1e996fc82a94ccd30074c95df7"
            "63722017069e5268da5d1c0b4f872cf653c11df82314a67968dfeae28def04bb"
            "6d84b1c31d654a1970e5783bd6eb96a024c2ca2f4a90fe9f2ef5c9c140e5bb48"
            "da9536ad8700c84fc9130adea74e558d51a74ddf85d8b50de96838d6063e0955"
        );
        assert_eq!(*encode_with_seed(&msg, 128, HashAlg::Sha1, b"", &seed).unwrap(), em);
        assert_eq!(*decode(&em, 128, HashAlg::Sha1, b"").unwrap(), msg);
        let key = crate::crypto::public_key_from_components(&n, &[0x11]).unwrap();
        assert_eq!(raw_public(&key, &em).unwrap(), ct);
    }

    #[test]
    fn bad_blocks_all_give_the_same_error() {
        let k = 128;
        let good = encode_with_seed(b"msg", k, HashAlg::Sha256, b"", &[9; 32]).unwrap();
        assert_eq!(&*decode(&good, k, HashAlg::Sha256, b"").unwrap(), b"msg");
        // Flip every byte in turn: each fails with the one error (the leading byte, the seed
        // and the whole DB are covered).
        for i in 0..k {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert_eq!(decode(&bad, k, HashAlg::Sha256, b"").unwrap_err(), DECRYPTION_ERROR, "byte {i}");
        }
        assert_eq!(decode(&good, k - 1, HashAlg::Sha256, b"").unwrap_err(), DECRYPTION_ERROR);
        assert_eq!(decode(&good, 65, HashAlg::Sha256, b"").unwrap_err(), DECRYPTION_ERROR);
        assert_eq!(decode(&[], 0, HashAlg::Sha256, b"").unwrap_err(), DECRYPTION_ERROR);
        assert!(matches!(decode(&good, k, HashAlg::Md5, b""), Err(Error::Unsupported(_))));
        // Wrong hash: also the one error.
        assert_eq!(decode(&good, k, HashAlg::Sha1, b"").unwrap_err(), DECRYPTION_ERROR);
    }

    /// A DB whose separator is missing (only zeros after lHash) or preceded by a nonzero byte.
    #[test]
    fn separator_faults() {
        let k = 100;
        let h = HashAlg::Sha1;
        let seed = [3u8; 20];
        // Build raw DBs, then mask them as the encoder does.
        let mask_em = |db: &[u8]| {
            let mut db = db.to_vec();
            mgf1_xor(h, &seed, &mut db).unwrap();
            let mut masked_seed = seed.to_vec();
            mgf1_xor(h, &db, &mut masked_seed).unwrap();
            [&[0u8][..], &masked_seed, &db].concat()
        };
        let l_hash = h.hash(b"").unwrap();
        let mut db = l_hash.clone();
        db.resize(k - 21, 0);
        assert_eq!(decode(&mask_em(&db), k, h, b"").unwrap_err(), DECRYPTION_ERROR, "no separator");
        db[40] = 0x02;
        db[50] = 0x01;
        assert_eq!(decode(&mask_em(&db), k, h, b"").unwrap_err(), DECRYPTION_ERROR, "02 before 01");
        db[40] = 0x00;
        assert_eq!(decode(&mask_em(&db), k, h, b"").unwrap().len(), k - 21 - 51);
        // Separator as the last byte: empty message.
        let mut db = l_hash.clone();
        db.resize(k - 22, 0);
        db.push(0x01);
        assert!(decode(&mask_em(&db), k, h, b"").unwrap().is_empty());
        // Separator right after lHash, and a 0x01 inside the message stays in the message.
        let mut db = l_hash;
        db.push(0x01);
        db.resize(k - 21, 0x01);
        assert_eq!(decode(&mask_em(&db), k, h, b"").unwrap().as_slice(), vec![0x01; k - 42].as_slice());
    }

    proptest! {
        #[test]
        fn decode_never_panics(alg in prop::sample::select(SHA.to_vec()), em in prop::collection::vec(any::<u8>(), 0..300), k in 0usize..300, label in prop::collection::vec(any::<u8>(), 0..4)) {
            let _ = decode(&em, k, alg, &label);
        }

        #[test]
        fn round_trip(alg in prop::sample::select(SHA.to_vec()), msg in prop::collection::vec(any::<u8>(), 0..100), extra in 0usize..100, label in prop::collection::vec(any::<u8>(), 0..20)) {
            let k = msg.len() + 2 * alg.output_len() + 2 + extra;
            let em = encode(&msg, k, alg, &label, &mut rng()).unwrap();
            prop_assert_eq!(em.len(), k);
            prop_assert_eq!(em[0], 0);
            prop_assert_eq!(&*decode(&em, k, alg, &label).unwrap(), msg.as_slice());
            // The card dropping a leading zero byte changes nothing.
            prop_assert_eq!(&*decode(&em[1..], k, alg, &label).unwrap(), msg.as_slice());
        }
    }
}
