//! One block of a symmetric cipher in ECB: the administrator challenge-response of smart
//! cards. PIV's card management key (SP 800-73-4 Part 2 §3.2.4, 3DES or AES) and GIDS's
//! administrator key external authentication (GIDS v2.0, 3-key 3DES on an 8-byte challenge,
//! where CBC with a zero IV on one block is this) both answer a challenge with its encryption.

use aes::{Aes128, Aes192, Aes256};
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A block cipher of a card's administrator key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockCipher {
    /// Three-key Triple DES (EDE3), 8-byte blocks.
    TripleDes,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
}

impl BlockCipher {
    /// Block size: the challenge and response length.
    pub const fn block_len(self) -> usize {
        match self {
            Self::TripleDes => 8,
            _ => 16,
        }
    }

    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::TripleDes | Self::Aes192 => 24,
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }

    /// The cipher a challenge of `challenge_len` bytes and a key of `key_len` bytes imply:
    /// 8-byte challenges are 3DES, 16-byte ones AES of the key's size.
    pub const fn for_challenge(challenge_len: usize, key_len: usize) -> Option<Self> {
        match (challenge_len, key_len) {
            (8, 24) => Some(Self::TripleDes),
            (16, 16) => Some(Self::Aes128),
            (16, 24) => Some(Self::Aes192),
            (16, 32) => Some(Self::Aes256),
            _ => None,
        }
    }

    /// Encrypts one block (ECB).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a key or block of the wrong length.
    pub fn encrypt_block(self, key: &[u8], block: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.crypt(key, block, true)
    }

    /// Decrypts one block (ECB).
    ///
    /// # Errors
    /// As [`BlockCipher::encrypt_block`].
    pub fn decrypt_block(self, key: &[u8], block: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.crypt(key, block, false)
    }

    fn crypt(self, key: &[u8], block: &[u8], encrypt: bool) -> Result<Zeroizing<Vec<u8>>> {
        if key.len() != self.key_len() {
            return Err(Error::InvalidArgument("the key has the wrong length for its algorithm"));
        }
        if block.len() != self.block_len() {
            return Err(Error::InvalidArgument("challenge block has the wrong length"));
        }
        let bad_key = |_| Error::InvalidArgument("key rejected by the cipher");
        let out = match self {
            Self::TripleDes => one_block(TdesEde3::new_from_slice(key).map_err(bad_key)?, block, encrypt),
            Self::Aes128 => one_block(Aes128::new_from_slice(key).map_err(bad_key)?, block, encrypt),
            Self::Aes192 => one_block(Aes192::new_from_slice(key).map_err(bad_key)?, block, encrypt),
            Self::Aes256 => one_block(Aes256::new_from_slice(key).map_err(bad_key)?, block, encrypt),
        };
        out.ok_or(Error::InvalidArgument("challenge block has the wrong length"))
    }
}

/// The response to an administrator challenge with `key`: the challenge encrypted, the cipher
/// chosen by the challenge's and the key's sizes ([`BlockCipher::for_challenge`]).
///
/// # Errors
/// [`Error::InvalidArgument`] when the key does not fit the challenge.
pub fn challenge_response(key: &[u8], challenge: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    BlockCipher::for_challenge(challenge.len(), key.len())
        .ok_or(Error::InvalidArgument("the key does not fit the card's challenge"))?
        .encrypt_block(key, challenge)
}

fn one_block<C: BlockCipherEncrypt + BlockCipherDecrypt>(
    cipher: C,
    block: &[u8],
    encrypt: bool,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut b = Array::try_from(block).ok()?;
    if encrypt {
        cipher.encrypt_block(&mut b);
    } else {
        cipher.decrypt_block(&mut b);
    }
    let out = Zeroizing::new(b.to_vec());
    zeroize::Zeroize::zeroize(b.as_mut_slice());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn known_answers_and_sizes() {
        // SP 800-67 TDEA known answer.
        let key = hex!("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
        let ct = challenge_response(&key, &hex!("5468652071756663")).unwrap();
        assert_eq!(&ct[..], &hex!("A826FD8CE53B855F"));
        assert_eq!(&BlockCipher::TripleDes.decrypt_block(&key, &ct).unwrap()[..], &hex!("5468652071756663"));
        // FIPS 197 C.1: AES-128.
        let k = hex!("000102030405060708090a0b0c0d0e0f");
        let out = challenge_response(&k, &hex!("00112233445566778899aabbccddeeff")).unwrap();
        assert_eq!(&out[..], &hex!("69c4e0d86a7b0430d8cdb78070b4c55a"));
        assert!(challenge_response(&k, &[0; 8]).is_err(), "a 16-byte key for an 8-byte challenge");
        assert_eq!(BlockCipher::for_challenge(16, 32), Some(BlockCipher::Aes256));
    }
}
