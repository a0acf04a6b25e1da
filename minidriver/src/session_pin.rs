//! Session PINs (`CARD_AUTHENTICATE_GENERATE_SESSION_PIN` / `CARD_AUTHENTICATE_SESSION_PIN`).
//!
//! PIV cards have no session PIN of their own, so the driver issues an opaque token instead:
//! the PIN sealed with AES-256 (CTR) and HMAC-SHA256 under a key that lives only in this
//! process's memory. The driver keeps the key, never the PIN; the CSP keeps the token. A token
//! is bound to the card identity and to that card's PIN epoch, which a PIN change or unblock
//! advances, so old tokens fail their MAC and never reach the card (the real PIN's retry
//! counter is not spent on them, as the specification requires).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use aes::Aes256;
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, KeyInit as HmacKeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 32;
const MAX_PIN: usize = 64;

struct Keys {
    encryption: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut encryption = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        getrandom::fill(encryption.as_mut_slice()).ok()?;
        getrandom::fill(mac.as_mut_slice()).ok()?;
        Some(Keys { encryption, mac })
    })
    .as_ref()
}

/// PIN epochs per card identity, advanced by every PIN change or unblock.
fn epochs() -> &'static Mutex<HashMap<[u8; 16], u64>> {
    static EPOCHS: OnceLock<Mutex<HashMap<[u8; 16], u64>>> = OnceLock::new();
    EPOCHS.get_or_init(Mutex::default)
}

fn epoch(card: &[u8; 16]) -> u64 {
    epochs().lock().unwrap_or_else(PoisonError::into_inner).get(card).copied().unwrap_or(0)
}

/// Invalidates every session PIN issued for `card` (its PIN changed or was unblocked).
pub(crate) fn invalidate(card: &[u8; 16]) {
    let mut map = epochs().lock().unwrap_or_else(PoisonError::into_inner);
    let e = map.entry(*card).or_insert(0);
    *e = e.wrapping_add(1);
}

fn keystream_xor(key: &[u8; 32], nonce: &[u8; NONCE_LEN], data: &mut [u8]) {
    let Ok(cipher) = Aes256::new_from_slice(key) else { return };
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let mut block = Array::from(*nonce);
        let counter = u64::try_from(i).unwrap_or(u64::MAX).to_be_bytes();
        for (b, c) in block.iter_mut().skip(8).zip(counter) {
            *b ^= c;
        }
        cipher.encrypt_block(&mut block);
        for (d, k) in chunk.iter_mut().zip(block.iter()) {
            *d ^= k;
        }
    }
}

fn tag(key: &[u8; 32], card: &[u8; 16], pin_id: u32, epoch: u64, nonce: &[u8], ct: &[u8]) -> Option<[u8; TAG_LEN]> {
    let mut mac = <Hmac<Sha256> as HmacKeyInit>::new_from_slice(key).ok()?;
    mac.update(b"minidriver session pin v1");
    mac.update(card);
    mac.update(&pin_id.to_le_bytes());
    mac.update(&epoch.to_le_bytes());
    mac.update(nonce);
    mac.update(ct);
    Some(mac.finalize().into_bytes().into())
}

/// Seals `pin` for `pin_id` on `card` into a session PIN token.
pub(crate) fn issue(card: &[u8; 16], pin_id: u32, pin: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if pin.len() > MAX_PIN {
        return None;
    }
    let keys = keys()?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).ok()?;
    let mut ct = Zeroizing::new(pin.to_vec());
    keystream_xor(&keys.encryption, &nonce, &mut ct);
    let t = tag(&keys.mac, card, pin_id, epoch(card), &nonce, &ct)?;
    let mut out = Zeroizing::new(Vec::with_capacity(NONCE_LEN + ct.len() + TAG_LEN));
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&t);
    Some(out)
}

/// Opens a session PIN token: the PIN, or `None` for a forged, foreign or outdated token.
pub(crate) fn open(card: &[u8; 16], pin_id: u32, token: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let keys = keys()?;
    let (nonce, rest) = token.split_at_checked(NONCE_LEN)?;
    let (ct, mac) = rest.split_at_checked(rest.len().checked_sub(TAG_LEN)?)?;
    let expected = tag(&keys.mac, card, pin_id, epoch(card), nonce, ct)?;
    if !bool::from(expected.as_slice().ct_eq(mac)) {
        return None;
    }
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let mut pin = Zeroizing::new(ct.to_vec());
    keystream_xor(&keys.encryption, &nonce, &mut pin);
    Some(pin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binding_and_invalidation() {
        let card = [7u8; 16];
        let token = issue(&card, 1, b"123456").unwrap();
        assert!(!token.windows(6).any(|w| w == b"123456"), "the PIN is not in the token in clear");
        assert_eq!(open(&card, 1, &token).unwrap().as_slice(), b"123456");
        assert!(open(&card, 3, &token).is_none(), "bound to the PIN id");
        assert!(open(&[8u8; 16], 1, &token).is_none(), "bound to the card");
        let mut forged = token.to_vec();
        forged[NONCE_LEN] ^= 1;
        assert!(open(&card, 1, &forged).is_none());
        assert!(open(&card, 1, &token[..10]).is_none());
        invalidate(&card);
        assert!(open(&card, 1, &token).is_none(), "a PIN change voids old tokens");
        let fresh = issue(&card, 1, b"654321").unwrap();
        assert_eq!(open(&card, 1, &fresh).unwrap().as_slice(), b"654321");
    }
}
