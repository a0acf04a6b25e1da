//! The administrator key's cryptograms: 3-key Triple DES in CBC mode with a zero IV and no
//! padding (GIDS v2.0 admin authentication as Windows' msclmd implements it; the specification
//! text says ECB, and OpenSC's card-gids.c documents the deviation).
//!
//! - External authentication: the card sends an 8-byte challenge `c`; the host answers
//!   `E_K(c)`.
//! - Mutual authentication: the host sends `R1` (16 random bytes), the card answers `R2`
//!   (16 bytes); the host sends `E_K(R2 || R1 || Z1 || 80)` with `Z1` 7 random bytes, and the
//!   card proves the key with `E_K(R1 || R2 || Z2 || 80)`, which the host checks.

use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Administrator key length (3-key Triple DES).
pub const ADMIN_KEY_LEN: usize = 24;
/// External authentication challenge length.
pub const CHALLENGE_LEN: usize = 8;
/// Mutual authentication random length (`R1`, `R2`).
pub const RANDOM_LEN: usize = 16;
/// Mutual authentication cryptogram length.
pub const CRYPTOGRAM_LEN: usize = 40;
/// Bytes of the host's or card's key-half `Z` (then one `80` padding byte).
pub const Z_LEN: usize = 7;

const BLOCK: usize = 8;

fn cipher(key: &[u8]) -> Result<TdesEde3> {
    if key.len() != ADMIN_KEY_LEN {
        return Err(Error::InvalidArgument("a GIDS administrator key is 24 bytes (3-key Triple DES)"));
    }
    TdesEde3::new_from_slice(key).map_err(|_| Error::InvalidArgument("administrator key rejected by the cipher"))
}

/// Triple DES CBC encryption, zero IV, no padding.
///
/// # Errors
/// [`Error::InvalidArgument`] for a key other than 24 bytes or data not a multiple of 8 bytes.
pub fn encrypt(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    crypt(key, data, true)
}

/// Triple DES CBC decryption, zero IV, no padding.
///
/// # Errors
/// As [`encrypt`].
pub fn decrypt(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    crypt(key, data, false)
}

fn crypt(key: &[u8], data: &[u8], encrypting: bool) -> Result<Zeroizing<Vec<u8>>> {
    let c = cipher(key)?;
    let (blocks, rest) = data.as_chunks::<BLOCK>();
    if !rest.is_empty() {
        return Err(Error::InvalidArgument("Triple DES data is not whole 8-byte blocks"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    let mut chain = [0u8; BLOCK];
    for block in blocks {
        let mut b = Array::from(*block);
        if encrypting {
            for (x, p) in b.iter_mut().zip(chain) {
                *x ^= p;
            }
            c.encrypt_block(&mut b);
            chain.copy_from_slice(&b);
            out.extend_from_slice(&b);
        } else {
            c.decrypt_block(&mut b);
            for (x, p) in b.iter_mut().zip(chain) {
                *x ^= p;
            }
            chain = *block;
            out.extend_from_slice(&b);
        }
        b.as_mut_slice().zeroize();
    }
    chain.zeroize();
    Ok(out)
}

/// The answer to an external authentication challenge.
///
/// # Errors
/// [`Error::InvalidArgument`] for a key other than 24 bytes or a challenge other than 8.
pub fn external_response(key: &[u8], challenge: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if challenge.len() != CHALLENGE_LEN {
        return Err(Error::InvalidArgument("a GIDS administrator challenge is 8 bytes"));
    }
    encrypt(key, challenge)
}

/// The host's mutual authentication cryptogram `E_K(R2 || R1 || Z1 || 80)`.
///
/// # Errors
/// [`Error::InvalidArgument`] for inputs of the wrong lengths.
pub fn host_cryptogram(key: &[u8], r1: &[u8], r2: &[u8], z1: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if r1.len() != RANDOM_LEN || r2.len() != RANDOM_LEN || z1.len() != Z_LEN {
        return Err(Error::InvalidArgument("mutual authentication randoms of the wrong length"));
    }
    let mut plain = Zeroizing::new(Vec::with_capacity(CRYPTOGRAM_LEN));
    plain.extend_from_slice(r2);
    plain.extend_from_slice(r1);
    plain.extend_from_slice(z1);
    plain.push(0x80);
    encrypt(key, &plain)
}

/// Checks the card's mutual authentication cryptogram: it must decrypt to
/// `R1 || R2 || Z2 || 80`. Constant time in the compared bytes.
///
/// # Errors
/// [`Error::Crypto`] when it does not (the card does not know the key).
pub fn check_card_cryptogram(key: &[u8], cryptogram: &[u8], r1: &[u8], r2: &[u8]) -> Result<()> {
    let wrong = Error::Crypto("the card's administrator key proof is wrong");
    if cryptogram.len() != CRYPTOGRAM_LEN {
        return Err(wrong);
    }
    let plain = decrypt(key, cryptogram)?;
    let (got_r1, rest) = plain.split_at(RANDOM_LEN);
    let (got_r2, rest) = rest.split_at(RANDOM_LEN);
    let pad = rest.get(Z_LEN).copied().unwrap_or(0);
    let ok = got_r1.ct_eq(r1) & got_r2.ct_eq(r2) & pad.ct_eq(&0x80);
    if bool::from(ok) { Ok(()) } else { Err(wrong) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    const KEY: [u8; 24] = hex!("0102030405060708 0102030405060708 0102030405060708");

    #[test]
    fn one_block_is_ecb() {
        // SP 800-67 known answer (key 0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123).
        let key = hex!("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
        let ct = external_response(&key, &hex!("5468652071756663")).unwrap();
        assert_eq!(&ct[..], &hex!("A826FD8CE53B855F"));
        assert_eq!(&decrypt(&key, &ct).unwrap()[..], &hex!("5468652071756663"));
    }

    #[test]
    fn cbc_chains_blocks() {
        let plain = [0x11u8; 24];
        let ct = encrypt(&KEY, &plain).unwrap();
        // Block 2 is E(P2 xor C1), not E(P2): equal plaintext blocks encrypt differently.
        assert_ne!(ct[..8], ct[8..16]);
        let first = encrypt(&KEY, &plain[..8]).unwrap();
        assert_eq!(ct[..8], first[..]);
        assert_eq!(&decrypt(&KEY, &ct).unwrap()[..], &plain);
        assert!(encrypt(&KEY, &[0; 7]).is_err());
        assert!(encrypt(&KEY[..16], &[0; 8]).is_err());
    }

    #[test]
    fn mutual_cryptograms() {
        let (r1, r2, z) = ([1u8; 16], [2u8; 16], [3u8; 7]);
        let host = host_cryptogram(&KEY, &r1, &r2, &z).unwrap();
        let plain = decrypt(&KEY, &host).unwrap();
        assert_eq!(&plain[..16], &r2);
        assert_eq!(&plain[16..32], &r1);
        assert_eq!(plain[39], 0x80);
        // The card's answer swaps R1 and R2.
        let mut card_plain = r1.to_vec();
        card_plain.extend_from_slice(&r2);
        card_plain.extend_from_slice(&[9; 7]);
        card_plain.push(0x80);
        let card = encrypt(&KEY, &card_plain).unwrap();
        check_card_cryptogram(&KEY, &card, &r1, &r2).unwrap();
        assert!(check_card_cryptogram(&KEY, &host, &r1, &r2).is_err());
        assert!(check_card_cryptogram(&KEY, &card[..32], &r1, &r2).is_err());
        assert!(host_cryptogram(&KEY, &r1, &r2, &[0; 8]).is_err());
    }
}
