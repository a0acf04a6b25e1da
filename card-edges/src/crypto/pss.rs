//! EMSA-PSS (RFC 8017 §9.1) with MGF1 over the same hash, for RSA-PSS signatures by a card
//! that only does raw RSA.
//!
//! The card needs a `k`-byte block (`k = ceil(modBits / 8)`), while EMSA-PSS produces
//! `emLen = ceil((modBits - 1) / 8)` bytes, one fewer when `modBits ≡ 1 (mod 8)`. The encoder
//! therefore returns `EM` left-padded to `k` bytes, the integer RSASP1 signs.

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::HashAlg;
use super::hash::mgf1_xor;
use super::pkcs1::MAX_BLOCK;
use crate::error::{Error, Result};

const VERIFY_ERROR: Error = Error::Crypto("PSS signature verification failed");

/// EMSA-PSS encoding of the message hash `m_hash` with a fresh random salt of `salt_len` bytes
/// from the operating system, as the `k`-byte block to sign with a modulus of `mod_bits` bits.
///
/// # Errors
/// As [`encode_with_salt`]; [`Error::Crypto`] when the random generator fails.
pub fn encode(hash_alg: HashAlg, m_hash: &[u8], salt_len: usize, mod_bits: usize) -> Result<Zeroizing<Vec<u8>>> {
    encode_with_rng(hash_alg, m_hash, salt_len, mod_bits, &mut getrandom::SysRng)
}

/// [`encode`] with the salt drawn from `rng`.
///
/// # Errors
/// As [`encode`].
pub fn encode_with_rng<R: TryCryptoRng + ?Sized>(
    hash_alg: HashAlg,
    m_hash: &[u8],
    salt_len: usize,
    mod_bits: usize,
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>> {
    // Check the lengths before drawing (and allocating) a salt of a caller-given length.
    layout(hash_alg, m_hash, salt_len, mod_bits)?;
    let mut salt = vec![0; salt_len];
    rng.try_fill_bytes(&mut salt).map_err(super::rng_error)?;
    encode_with_salt(hash_alg, m_hash, &salt, mod_bits)
}

/// EMSA-PSS encoding with the given `salt` (deterministic: for known-answer tests).
///
/// # Errors
/// [`Error::Unsupported`] for an MD5-based `hash_alg`; [`Error::InvalidArgument`] when `m_hash`
/// is not the hash's length or the salt is too long for the modulus
/// (`emLen < hLen + sLen + 2`).
pub fn encode_with_salt(hash_alg: HashAlg, m_hash: &[u8], salt: &[u8], mod_bits: usize) -> Result<Zeroizing<Vec<u8>>> {
    let Layout { k, em_len, h_len, top_mask } = layout(hash_alg, m_hash, salt.len(), mod_bits)?;
    // H = Hash(00 00 00 00 00 00 00 00 || mHash || salt)
    let h = hash_alg.hash_parts(&[&[0; 8], m_hash, salt])?;
    // DB = PS || 01 || salt, masked with MGF1(H).
    let db_len = em_len - h_len - 1;
    let mut block = Zeroizing::new(Vec::with_capacity(k));
    block.resize(k - em_len + db_len - salt.len() - 1, 0);
    block.push(0x01);
    block.extend_from_slice(salt);
    let db = block.get_mut(k - em_len..).ok_or(Error::InvalidArgument("modulus too small for PSS"))?;
    mgf1_xor(hash_alg, &h, db)?;
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    block.extend_from_slice(&h);
    block.push(0xBC);
    Ok(block)
}

/// EMSA-PSS verification of `block` (the `k`-byte result of the public operation on a
/// signature) against `m_hash`. `salt_len` `None` accepts any salt length.
///
/// # Errors
/// [`Error::Crypto`] when the block is not a valid encoding of `m_hash`; as
/// [`encode_with_salt`] for bad arguments.
pub fn verify(hash_alg: HashAlg, m_hash: &[u8], block: &[u8], salt_len: Option<usize>, mod_bits: usize) -> Result<()> {
    let Layout { k, em_len, h_len, top_mask } = layout(hash_alg, m_hash, salt_len.unwrap_or(0), mod_bits)?;
    if block.len() != k {
        return Err(VERIFY_ERROR);
    }
    let (zeros, em) = block.split_at_checked(k - em_len).ok_or(VERIFY_ERROR)?;
    let (masked_db, rest) = em.split_at_checked(em_len - h_len - 1).ok_or(VERIFY_ERROR)?;
    let (h, trailer) = rest.split_at_checked(h_len).ok_or(VERIFY_ERROR)?;
    if zeros.iter().any(|&b| b != 0) || trailer != [0xBC] || masked_db.first().is_some_and(|&b| b & !top_mask != 0) {
        return Err(VERIFY_ERROR);
    }
    let mut db = masked_db.to_vec();
    mgf1_xor(hash_alg, h, &mut db)?;
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    let ps_len = db.iter().take_while(|&&b| b == 0).count();
    let (ps_and_one, salt) = db.split_at_checked(ps_len.saturating_add(1)).ok_or(VERIFY_ERROR)?;
    if ps_and_one.last() != Some(&0x01) || salt_len.is_some_and(|s| s != salt.len()) {
        return Err(VERIFY_ERROR);
    }
    let expected = hash_alg.hash_parts(&[&[0; 8], m_hash, salt])?;
    if *expected == h { Ok(()) } else { Err(VERIFY_ERROR) }
}

/// Sizes of an EMSA-PSS encoding.
struct Layout {
    /// Modulus length in bytes.
    k: usize,
    /// `ceil(emBits / 8)`, `emBits = modBits - 1`.
    em_len: usize,
    /// Hash length.
    h_len: usize,
    /// Mask for the first byte of `maskedDB`, clearing its `8 * emLen - emBits` top bits.
    top_mask: u8,
}

fn layout(hash_alg: HashAlg, m_hash: &[u8], salt_len: usize, mod_bits: usize) -> Result<Layout> {
    let h_len = hash_alg.sha_len()?;
    if m_hash.len() != h_len {
        return Err(Error::InvalidArgument("hash length does not match the hash algorithm"));
    }
    let k = mod_bits.div_ceil(8);
    if k > MAX_BLOCK {
        return Err(Error::InvalidArgument("modulus too large"));
    }
    let em_bits = mod_bits.saturating_sub(1);
    let em_len = em_bits.div_ceil(8);
    if em_len < h_len.saturating_add(salt_len).saturating_add(2) {
        return Err(Error::InvalidArgument("salt too long for the key"));
    }
    let top_mask = 0xFF_u8 >> (8 * em_len - em_bits);
    Ok(Layout { k, em_len, h_len, top_mask })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rsa::pss::Pss;
    use rsa::traits::PublicKeyParts;

    use super::*;
    use crate::crypto::rsa_pub::{modulus_bits, verify_pss};
    use crate::crypto::testutil::{private_op, rng, rsa_2048, rsa_keys};

    const SHA: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// The `rsa` crate's verifier for `alg` with a fixed salt length (or any, for `None`).
    fn verify_with_rsa(
        key: &rsa::RsaPublicKey,
        alg: HashAlg,
        hash: &[u8],
        sig: &[u8],
        salt: Option<usize>,
    ) -> rsa::Result<()> {
        fn scheme<D: digest::Digest + digest::FixedOutputReset>(salt: Option<usize>) -> Pss<D> {
            let mut pss = Pss::<D>::new();
            pss.salt_len = salt;
            pss
        }
        match alg {
            HashAlg::Sha1 => key.verify(scheme::<sha1::Sha1>(salt), hash, sig),
            HashAlg::Sha256 => key.verify(scheme::<sha2::Sha256>(salt), hash, sig),
            HashAlg::Sha384 => key.verify(scheme::<sha2::Sha384>(salt), hash, sig),
            HashAlg::Sha512 => key.verify(scheme::<sha2::Sha512>(salt), hash, sig),
            HashAlg::Md5 | HashAlg::Md5Sha1 => unreachable!(),
        }
    }

    /// Encode here, sign with the bare private operation, verify with the `rsa` crate.
    #[test]
    fn signatures_verify_with_the_rsa_crate() {
        let mut rng = rng();
        for (name, key) in rsa_keys() {
            let public = key.to_public_key();
            let bits = modulus_bits(&public);
            for alg in SHA {
                let hash = alg.hash(name.as_bytes()).unwrap();
                let h_len = alg.output_len();
                let max_salt = bits.div_ceil(8) - h_len - 2;
                for salt_len in [h_len, 0, 1, max_salt] {
                    if alg == HashAlg::Sha512 && bits == 1024 && salt_len == h_len {
                        // 128 < 64 + 64 + 2: too long; checked below.
                        continue;
                    }
                    let block = encode_with_rng(alg, &hash, salt_len, bits, &mut rng).unwrap();
                    assert_eq!(block.len(), key.size());
                    let sig = private_op(&key, &block);
                    verify_with_rsa(&public, alg, &hash, &sig, Some(salt_len))
                        .unwrap_or_else(|e| panic!("{name} {alg:?} salt {salt_len}: {e}"));
                    verify_with_rsa(&public, alg, &hash, &sig, None).unwrap();
                    verify_pss(&public, alg, &hash, &sig, Some(salt_len)).unwrap();
                    verify_pss(&public, alg, &hash, &sig, None).unwrap();
                    let mut wrong = hash.clone();
                    wrong[0] ^= 1;
                    assert!(verify_with_rsa(&public, alg, &wrong, &sig, Some(salt_len)).is_err());
                }
            }
        }
        assert_eq!(
            encode(HashAlg::Sha512, &[0; 64], 64, 1024).unwrap_err(),
            Error::InvalidArgument("salt too long for the key")
        );
    }

    /// The default entry point (operating-system salt) verifies too.
    #[test]
    fn os_random_salt() {
        let key = rsa_2048();
        let hash = HashAlg::Sha256.hash(b"os salt").unwrap();
        let a = encode(HashAlg::Sha256, &hash, 32, 2048).unwrap();
        let b = encode(HashAlg::Sha256, &hash, 32, 2048).unwrap();
        assert_ne!(a, b, "fresh salt each time");
        let sig = private_op(&key, &a);
        verify_with_rsa(&key.to_public_key(), HashAlg::Sha256, &hash, &sig, Some(32)).unwrap();
    }

    /// Signatures made by the `rsa` crate verify here (salt length given, and detected).
    #[test]
    fn verifies_rsa_crate_signatures() {
        let mut rng = rng();
        for (name, key) in rsa_keys() {
            let hash = HashAlg::Sha256.hash(name.as_bytes()).unwrap();
            for salt_len in [0, 20, 32] {
                let sig = key.sign_with_rng(&mut rng, Pss::<sha2::Sha256>::new_with_salt(salt_len), &hash).unwrap();
                verify_pss(&key, HashAlg::Sha256, &hash, &sig, Some(salt_len)).unwrap();
                verify_pss(&key, HashAlg::Sha256, &hash, &sig, None).unwrap();
                assert!(verify_pss(&key, HashAlg::Sha256, &hash, &sig, Some(salt_len + 1)).is_err());
                assert!(verify_pss(&key, HashAlg::Sha256, &[0; 32], &sig, None).is_err());
            }
        }
    }

    /// RSA Laboratories' PKCS #1 v2.1 test vectors (`pkcs-1v2-1d2-vec.zip`, `pss-int.txt`):
    /// 1024-bit key, SHA-1, 20-byte salt. Also checked by nettle's `testsuite/pss-test.c`.
    mod pss_int {
        use hex_literal::hex;
        pub(super) const N: [u8; 128] = hex!(
            "a2ba40ee07e3b2bd2f02ce227f36a195024486e49c19cb41bbbdfbba98b22b0e"
            "577c2eeaffa20d883a76e65e394c69d4b3c05a1e8fadda27edb2a42bc000fe88"
            "8b9b32c22d15add0cd76b3e7936e19955b220dd17d4ea904b1ec102b2e4de775"
            "1222aa99151024c7cb41cc5ea21d00eeb41f7c800834d2c6e06bce3bce7ea9a5"
        );
        pub(super) const MESSAGE: [u8; 114] = hex!(
            "859eef2fd78aca00308bdc471193bf55bf9d78db8f8a672b484634f3c9c26e64"
            "78ae10260fe0dd8c082e53a5293af2173cd50c6d5d354febf78b26021c25c027"
            "12e78cd4694c9f469777e451e7f8e9e04cd3739c6bbfedae487fb55644e9ca74"
            "ff77a53cb729802f6ed4a5ffa8ba159890fc"
        );
        pub(super) const M_HASH: [u8; 20] = hex!("37b66ae0445843353d47ecb0b4fd14c110e62d6a");
        pub(super) const SALT: [u8; 20] = hex!("e3b5d5d002c1bce50c2b65ef88a188d83bce7e61");
        pub(super) const EM: [u8; 128] = hex!(
            "66e4672e836ad121ba244bed6576b867d9a447c28a6e66a5b87dee7fbc7e65af"
            "5057f86fae8984d9ba7f969ad6fe02a4d75f7445fefdd85b6d3a477c28d24ba1"
            "e3756f792dd1dce8ca94440ecb5279ecd3183a311fc896da1cb39311af37ea4a"
            "75e24bdbfd5c1da0de7cecdf1a896f9d8bc816d97cd7a2c43bad546fbe8cfebc"
        );
        pub(super) const SIGNATURE: [u8; 128] = hex!(
            "8daa627d3de7595d63056c7ec659e54406f10610128baae821c8b2a0f3936d54"
            "dc3bdce46689f6b7951bb18e840542769718d5715d210d85efbb596192032c42"
            "be4c29972c856275eb6d5a45f05f51876fc6743deddd28caec9bb30ea99e02c3"
            "488269604fe497f74ccd7c7fca1671897123cbd30def5d54a2b5536ad90a747e"
        );
    }

    #[test]
    fn known_answer() {
        use pss_int::*;
        assert_eq!(HashAlg::Sha1.hash(&MESSAGE).unwrap(), M_HASH);
        let em = encode_with_salt(HashAlg::Sha1, &M_HASH, &SALT, 1024).unwrap();
        assert_eq!(*em, EM);
        let key = crate::crypto::public_key_from_components(&N, &[1, 0, 1]).unwrap();
        assert_eq!(crate::crypto::raw_public(&key, &SIGNATURE).unwrap(), EM);
        verify_pss(&key, HashAlg::Sha1, &M_HASH, &SIGNATURE, Some(20)).unwrap();
        verify_pss(&key, HashAlg::Sha1, &M_HASH, &SIGNATURE, None).unwrap();
        verify_with_rsa(&key, HashAlg::Sha1, &M_HASH, &SIGNATURE, Some(20)).unwrap();
    }

    /// The layout: top bit cleared (emBits = 1023), trailer, H, and DB = PS || 01 || salt.
    #[test]
    fn layout_with_a_fixed_salt() {
        let hash = [0x11; 20];
        let salt = [0x22; 20];
        let em = encode_with_salt(HashAlg::Sha1, &hash, &salt, 1024).unwrap();
        assert_eq!(em.len(), 128);
        assert_eq!(em[0] & 0x80, 0);
        assert_eq!(em[127], 0xBC);
        let h = HashAlg::Sha1.hash(&[&[0u8; 8][..], &hash, &salt].concat()).unwrap();
        assert_eq!(&em[107..127], h.as_slice());
        let mask = crate::crypto::mgf1(HashAlg::Sha1, &h, 107).unwrap();
        let db: Vec<u8> = em[..107].iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(db[0] & 0x7F, 0);
        assert!(db[1..86].iter().all(|&b| b == 0));
        assert_eq!(db[86], 0x01);
        assert_eq!(&db[87..], &salt);
    }

    /// modBits ≡ 1 (mod 8): EM is one byte shorter than the modulus, and the block gets a
    /// leading zero byte.
    #[test]
    fn short_em() {
        let hash = [0x33; 32];
        let em = encode_with_salt(HashAlg::Sha256, &hash, &[0x44; 32], 2049).unwrap();
        assert_eq!(em.len(), 257);
        assert_eq!(em[0], 0);
        verify(HashAlg::Sha256, &hash, &em, Some(32), 2049).unwrap();
        verify(HashAlg::Sha256, &hash, &em, None, 2049).unwrap();
        let mut bad = em;
        bad[0] = 1;
        assert!(verify(HashAlg::Sha256, &hash, &bad, None, 2049).is_err());
        // emBits = 2048 = 8 * emLen: no bit cleared.
        assert_eq!(encode_with_salt(HashAlg::Sha256, &hash, &[], 2049).unwrap().len(), 257);
    }

    #[test]
    fn bad_arguments() {
        assert!(matches!(encode(HashAlg::Md5, &[0; 16], 0, 2048), Err(Error::Unsupported(_))));
        assert!(matches!(encode(HashAlg::Md5Sha1, &[0; 36], 0, 2048), Err(Error::Unsupported(_))));
        assert!(matches!(encode(HashAlg::Sha256, &[0; 20], 0, 2048), Err(Error::InvalidArgument(_))));
        assert!(encode(HashAlg::Sha256, &[0; 32], 0, 0).is_err());
        assert!(encode(HashAlg::Sha256, &[0; 32], usize::MAX, 2048).is_err());
        assert!(encode(HashAlg::Sha256, &[0; 32], 0, usize::MAX).is_err());
        // emLen = ceil((modBits - 1) / 8) must reach hLen + 2 = 34.
        assert!(encode(HashAlg::Sha256, &[0; 32], 0, 265).is_err());
        assert!(encode(HashAlg::Sha256, &[0; 32], 0, 266).is_ok());
        assert!(encode(HashAlg::Sha256, &[0; 32], 1, 266).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(alg in prop::sample::select(SHA.to_vec()), mod_bits in 500usize..4200, salt in prop::collection::vec(any::<u8>(), 0..80), seed in any::<u8>()) {
            let hash = vec![seed; alg.output_len()];
            match encode_with_salt(alg, &hash, &salt, mod_bits) {
                Ok(block) => {
                    prop_assert_eq!(block.len(), mod_bits.div_ceil(8));
                    verify(alg, &hash, &block, Some(salt.len()), mod_bits).unwrap();
                    verify(alg, &hash, &block, None, mod_bits).unwrap();
                    let mut other = hash.clone();
                    other[0] ^= 0x80;
                    prop_assert!(verify(alg, &other, &block, None, mod_bits).is_err());
                }
                Err(e) => {
                    prop_assert_eq!(e, Error::InvalidArgument("salt too long for the key"));
                    prop_assert!((mod_bits - 1).div_ceil(8) < alg.output_len() + salt.len() + 2);
                }
            }
        }

        #[test]
        fn verify_never_panics(alg in prop::sample::select(SHA.to_vec()), block in prop::collection::vec(any::<u8>(), 0..300), mod_bits in 0usize..2100, salt_len in prop::option::of(0usize..300)) {
            let hash = vec![0; alg.output_len()];
            let _ = verify(alg, &hash, &block, salt_len, mod_bits);
        }
    }
}
