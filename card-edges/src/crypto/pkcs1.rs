//! PKCS#1 v1.5 (RFC 8017): EMSA-PKCS1-v1_5 blocks for signing, EME-PKCS1-v1_5 blocks for
//! encryption, and their constant-time removal after the card's raw decryption.

use rand_core::TryCryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

use super::HashAlg;
use crate::error::{Error, Result};

/// The one error of every failed decryption unpadding, whatever check failed.
const DECRYPTION_ERROR: Error = Error::Crypto("decryption error");

/// Largest modulus block handled (64 KiB, far beyond any card's key).
pub(super) const MAX_BLOCK: usize = 65_536;

/// Builds the EMSA-PKCS1-v1_5 block `00 01 FF..FF 00 T` of `k` bytes for the card to sign.
///
/// `T` is the DigestInfo of `hash` for `Some(hash_alg)` (bare `hash` for [`HashAlg::Md5Sha1`]),
/// or `hash` itself for `None`: the form of `CRYPT_NOHASHOID` / `BCRYPT_PAD_PKCS1` without an
/// algorithm, where the caller has already built `T` (or wants it signed bare).
///
/// # Errors
/// [`Error::InvalidArgument`] when `hash` does not have the algorithm's length, is empty, or is
/// too long for the key (`k < len(T) + 11`).
pub fn encode_sign(hash_alg: Option<HashAlg>, hash: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    let prefix = match hash_alg {
        Some(alg) if hash.len() != alg.output_len() => {
            return Err(Error::InvalidArgument("hash length does not match the hash algorithm"));
        }
        Some(alg) => alg.digest_info_prefix().unwrap_or_default(),
        None if hash.is_empty() => return Err(Error::InvalidArgument("empty hash")),
        None => &[],
    };
    let t_len = prefix.len().saturating_add(hash.len());
    if k > MAX_BLOCK || k < t_len.saturating_add(11) {
        return Err(Error::InvalidArgument("hash too long for the key"));
    }
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(k - t_len - 1, 0xFF);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(hash);
    Ok(em)
}

/// Removes EME-PKCS1-v1_5 padding (`00 02 PS 00 M`, `PS` at least 8 nonzero bytes) from the
/// card's raw decryption `em` of a `k`-byte modulus, and returns `M`.
///
/// A block shorter than `k` is taken as the card having dropped leading zero bytes and is
/// left-padded (its length is visible on the wire anyway).
///
/// Constant time in the block's content: every byte is examined, the checks are combined with
/// `subtle`, and only the final verdict branches. The message length (the separator's position)
/// is revealed only on success, by the returned length.
///
/// # Errors
/// [`Error::Crypto`] with the same value for every failure, including a block longer than `k`.
pub fn decode_encryption_block(em: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    if k < 11 {
        return Err(DECRYPTION_ERROR);
    }
    let block = modulus_block(em, k).ok_or(DECRYPTION_ERROR)?;
    let [first, second, rest @ ..] = block.as_slice() else {
        return Err(DECRYPTION_ERROR);
    };
    let mut valid = first.ct_eq(&0x00) & second.ct_eq(&0x02);
    let mut looking = Choice::from(1);
    let mut separator = 0u32;
    for (i, b) in (2u32..).zip(rest) {
        let zero = b.ct_eq(&0);
        separator.conditional_assign(&i, looking & zero);
        looking &= !zero;
    }
    // A separator was found, after at least 8 bytes of PS (so at index 10 or later).
    valid &= !looking & separator.ct_gt(&9);
    if !bool::from(valid) {
        return Err(DECRYPTION_ERROR);
    }
    let start = usize::try_from(separator).map_err(|_| DECRYPTION_ERROR)?.saturating_add(1);
    let msg = block.get(start..).ok_or(DECRYPTION_ERROR)?;
    Ok(Zeroizing::new(msg.to_vec()))
}

/// Builds the EME-PKCS1-v1_5 block `00 02 PS 00 M` of `k` bytes, `PS` nonzero random bytes
/// from `rng`: for a card that must re-encrypt to another key, and for tests.
///
/// # Errors
/// [`Error::InvalidArgument`] for a message longer than `k - 11`; [`Error::Crypto`] when the
/// random generator fails.
pub fn encode_encryption_block<R: TryCryptoRng + ?Sized>(
    msg: &[u8],
    k: usize,
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>> {
    if k > MAX_BLOCK || k < msg.len().saturating_add(11) {
        return Err(Error::InvalidArgument("message too long for the key"));
    }
    let mut ps = Zeroizing::new(vec![0u8; k - msg.len() - 3]);
    nonzero_random(&mut ps, rng)?;
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.extend_from_slice(&[0x00, 0x02]);
    em.extend_from_slice(&ps);
    em.push(0x00);
    em.extend_from_slice(msg);
    Ok(em)
}

/// Fills `buf` with random nonzero bytes.
fn nonzero_random<R: TryCryptoRng + ?Sized>(buf: &mut [u8], rng: &mut R) -> Result<()> {
    /// Redraws per byte before giving up on a generator that keeps returning zero.
    const TRIES: usize = 64;
    rng.try_fill_bytes(buf).map_err(super::rng_error)?;
    for b in buf.iter_mut() {
        let mut tries = 0;
        while *b == 0 {
            if tries == TRIES {
                return Err(Error::Crypto("the random number generator returns only zeros"));
            }
            let mut one = [0u8];
            rng.try_fill_bytes(&mut one).map_err(super::rng_error)?;
            [*b] = one;
            tries += 1;
        }
    }
    Ok(())
}

/// `em` left-padded with zeros to `k` bytes, in a buffer zeroized on drop; `None` when `em` is
/// longer than `k` or `k` is unreasonably large.
pub(super) fn modulus_block(em: &[u8], k: usize) -> Option<Zeroizing<Vec<u8>>> {
    let pad = k.checked_sub(em.len())?;
    if k > MAX_BLOCK {
        return None;
    }
    let mut block = Zeroizing::new(Vec::with_capacity(k));
    block.resize(pad, 0);
    block.extend_from_slice(em);
    Some(block)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rsa::traits::PublicKeyParts;
    use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign};

    use super::*;
    use crate::crypto::rsa_pub::raw_public;
    use crate::crypto::testutil::{private_op, rng, rsa_2048, rsa_keys};

    fn scheme(alg: HashAlg) -> Pkcs1v15Sign {
        match alg {
            HashAlg::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
            HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlg::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlg::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
            HashAlg::Md5 | HashAlg::Md5Sha1 => Pkcs1v15Sign::new_unprefixed(),
        }
    }

    /// Encode here, sign with the bare private operation, verify with the `rsa` crate, and
    /// check the signature is the one `rsa` makes itself (PKCS#1 v1.5 is deterministic).
    #[test]
    fn signatures_verify_with_the_rsa_crate() {
        for (name, key) in rsa_keys() {
            let public = key.to_public_key();
            for alg in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
                let hash = alg.hash(name.as_bytes()).unwrap();
                let block = encode_sign(Some(alg), &hash, key.size()).unwrap();
                let sig = private_op(&key, &block);
                public.verify(scheme(alg), &hash, &sig).unwrap();
                assert_eq!(sig, key.sign(scheme(alg), &hash).unwrap(), "{name} {alg:?}");
            }
        }
    }

    /// `None` (no DigestInfo) and the SSL3 MD5‖SHA-1 hash are signed bare, which is the `rsa`
    /// crate's unprefixed scheme.
    #[test]
    fn bare_signatures_verify_with_the_rsa_crate() {
        let key = rsa_2048();
        let public = key.to_public_key();
        let md5sha1 = [0x5Au8; 36];
        for (alg, t) in [(None, &b"already a DigestInfo, or a bare hash"[..]), (Some(HashAlg::Md5Sha1), &md5sha1)] {
            let block = encode_sign(alg, t, key.size()).unwrap();
            let sig = private_op(&key, &block);
            public.verify(Pkcs1v15Sign::new_unprefixed(), t, &sig).unwrap();
            assert_eq!(sig, key.sign(Pkcs1v15Sign::new_unprefixed(), t).unwrap());
        }
        // MD5: the prefix is used even though we cannot hash MD5 ourselves.
        let md5 = [0x11u8; 16];
        let block = encode_sign(Some(HashAlg::Md5), &md5, key.size()).unwrap();
        let t = [HashAlg::Md5.digest_info_prefix().unwrap(), &md5].concat();
        public.verify(Pkcs1v15Sign::new_unprefixed(), &t, &private_op(&key, &block)).unwrap();
    }

    #[test]
    fn sign_block_layout_and_limits() {
        let hash = [0xAB; 32];
        let em = encode_sign(Some(HashAlg::Sha256), &hash, 62).unwrap();
        // 62 = 19 (prefix) + 32 + 11: exactly 8 bytes of FF.
        assert_eq!(&em[..10], &[0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(em[10], 0);
        assert_eq!(&em[11..30], HashAlg::Sha256.digest_info_prefix().unwrap());
        assert_eq!(&em[30..], &hash);
        assert!(encode_sign(Some(HashAlg::Sha256), &hash, 61).is_err());
        assert!(encode_sign(Some(HashAlg::Sha256), &hash[..31], 256).is_err());
        assert!(encode_sign(Some(HashAlg::Sha1), &hash, 256).is_err());
        assert!(encode_sign(None, &[], 256).is_err());
        assert!(encode_sign(None, &[1; 245], 256).is_ok());
        assert!(encode_sign(None, &[1; 246], 256).is_err());
        assert!(encode_sign(Some(HashAlg::Md5Sha1), &[1; 36], 47).is_ok());
        assert!(encode_sign(Some(HashAlg::Md5Sha1), &[1; 36], 46).is_err());
        assert!(encode_sign(None, &[1], usize::MAX).is_err());
    }

    /// Ciphertexts from the `rsa` crate, decrypted by the bare private operation, unpadded here.
    #[test]
    fn decrypts_rsa_crate_ciphertexts() {
        let mut rng = rng();
        for (name, key) in rsa_keys() {
            let public = key.to_public_key();
            let k = key.size();
            for msg in [&b""[..], b"x", b"a 32-byte AES key for this test", &vec![0x42; k - 11]] {
                let ct = public.encrypt(&mut rng, Pkcs1v15Encrypt, msg).unwrap();
                let block = private_op(&key, &ct);
                assert_eq!(&*decode_encryption_block(&block, k).unwrap(), msg, "{name}");
            }
        }
    }

    /// And the other way: padded here, encrypted with the bare public operation, decrypted by
    /// the `rsa` crate.
    #[test]
    fn rsa_crate_decrypts_our_blocks() {
        let mut rng = rng();
        for (name, key) in rsa_keys() {
            let k = key.size();
            for msg in [&b""[..], b"session key", &vec![0x42; k - 11]] {
                let block = encode_encryption_block(msg, k, &mut rng).unwrap();
                let ct = raw_public(&key, &block).unwrap();
                assert_eq!(key.decrypt(Pkcs1v15Encrypt, &ct).unwrap(), msg, "{name}");
            }
            assert!(encode_encryption_block(&vec![0; k - 10], k, &mut rng).is_err());
        }
    }

    #[test]
    fn bad_blocks_all_give_the_same_error() {
        let mut good = vec![0x00, 0x02];
        good.extend([0x55; 8]);
        good.push(0x00);
        good.extend(b"msg");
        let k = good.len();
        assert_eq!(&*decode_encryption_block(&good, k).unwrap(), b"msg");

        let mut cases: Vec<(&str, Vec<u8>, usize)> = Vec::new();
        let mut b = good.clone();
        b[0] = 0x01;
        cases.push(("first byte", b, k));
        let mut b = good.clone();
        b[1] = 0x01;
        cases.push(("block type 1", b, k));
        let mut b = good.clone();
        b[9] = 0x00; // PS of 7 bytes
        cases.push(("short PS", b, k));
        let mut b = good.clone();
        b[2] = 0x00; // PS of 0 bytes
        cases.push(("empty PS", b, k));
        let mut b = good.clone();
        b[10] = 0x01; // no separator at all
        cases.push(("no separator", b, k));
        cases.push(("longer than k", good.clone(), k - 1));
        cases.push(("k below 11", good[..10].to_vec(), 10));
        cases.push(("empty", Vec::new(), k));
        for (what, block, k) in cases {
            assert_eq!(decode_encryption_block(&block, k).unwrap_err(), DECRYPTION_ERROR, "{what}");
        }
    }

    #[test]
    fn empty_message_and_short_blocks() {
        // Separator as the last byte: an empty message.
        let mut b = vec![0x00, 0x02];
        b.extend([0x01; 9]);
        b.push(0x00);
        assert_eq!(decode_encryption_block(&b, 12).unwrap().len(), 0);
        // A card that drops the leading 00: left-padded back.
        assert_eq!(decode_encryption_block(&b[1..], 12).unwrap().len(), 0);
    }

    /// The zero-byte check of the padding string redraws: a generator that gives zeros first
    /// still produces a valid block, and one that gives only zeros fails instead of looping.
    #[test]
    fn nonzero_padding_redraws() {
        struct Zeros(usize);
        impl rand_core::TryRng for Zeros {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
                Ok(0)
            }
            fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Self::Error> {
                for b in dst {
                    *b = if self.0 == 0 { 7 } else { 0 };
                    self.0 = self.0.saturating_sub(1);
                }
                Ok(())
            }
        }
        impl TryCryptoRng for Zeros {}
        let block = encode_encryption_block(b"m", 20, &mut Zeros(30)).unwrap();
        assert_eq!(&block[2..18], &[7; 16]);
        assert_eq!(&*decode_encryption_block(&block, 20).unwrap(), b"m");
        assert!(encode_encryption_block(b"m", 20, &mut Zeros(usize::MAX)).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(em in prop::collection::vec(any::<u8>(), 0..300), k in 0usize..300) {
            let _ = decode_encryption_block(&em, k);
        }

        #[test]
        fn decode_never_panics_on_almost_valid(mut tail in prop::collection::vec(any::<u8>(), 0..128), sep in any::<prop::sample::Index>()) {
            let mut em = vec![0x00, 0x02];
            if !tail.is_empty() {
                let i = sep.index(tail.len());
                tail[i] = 0;
            }
            em.extend(tail);
            let k = em.len();
            if let Ok(m) = decode_encryption_block(&em, k) {
                prop_assert!(em.ends_with(&m));
                prop_assert!(em[2..k - m.len() - 1].iter().all(|&b| b != 0));
                prop_assert!(k - m.len() - 3 >= 8);
                prop_assert_eq!(em[k - m.len() - 1], 0);
            }
        }

        #[test]
        fn round_trip(msg in prop::collection::vec(any::<u8>(), 0..200), extra in 11usize..100) {
            let k = msg.len() + extra;
            let em = encode_encryption_block(&msg, k, &mut rng()).unwrap();
            prop_assert_eq!(em.len(), k);
            prop_assert_eq!(&*decode_encryption_block(&em, k).unwrap(), msg.as_slice());
        }

        #[test]
        fn sign_encoding_layout(t in prop::collection::vec(any::<u8>(), 1..100), extra in 11usize..60) {
            let k = t.len() + extra;
            let em = encode_sign(None, &t, k).unwrap();
            prop_assert_eq!(em.len(), k);
            prop_assert_eq!(&em[..2], &[0, 1]);
            prop_assert!(em[2..extra - 1].iter().all(|&b| b == 0xFF));
            prop_assert_eq!(em[extra - 1], 0);
            prop_assert_eq!(&em[extra..], t.as_slice());
        }
    }
}
