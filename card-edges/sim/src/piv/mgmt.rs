//! The card management key (`9B`): 3DES or AES, proven with GENERAL AUTHENTICATE in either of
//! SP 800-73-4's two flows.
//!
//! - External ("challenge"): `7C{81 00}` → `7C{81 c}`; host sends `7C{82 E(c)}` → `90 00`.
//! - Mutual ("witness"): `7C{80 00}` → `7C{80 E(w)}`; host sends `7C{80 w, 81 c}` →
//!   `7C{82 E(c)}` (the card proves the key back).
//!
//! Cryptograms and witnesses are compared in constant time. The challenge or witness lives
//! only until the next command: anything in between voids it.

use aes::{Aes128, Aes192, Aes256};
use cipher::{BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::rng::SimRng;
use card_edges::iso7816::apdu::Response;
use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

/// The factory-default management key of PIV tokens: 3DES `0102030405060708` three times.
pub(crate) const DEFAULT_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

/// A management key algorithm (SP 800-78 identifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MgmtAlgorithm {
    /// Three-key Triple DES, ECB (`03`; `00` is accepted as its older alias).
    TripleDes,
    /// AES-128, ECB (`08`).
    Aes128,
    /// AES-192, ECB (`0A`): YubiKey 5.7's default algorithm.
    Aes192,
    /// AES-256, ECB (`0C`).
    Aes256,
}

impl MgmtAlgorithm {
    /// The algorithm identifier (P1 of GENERAL AUTHENTICATE).
    pub const fn id(self) -> u8 {
        match self {
            Self::TripleDes => 0x03,
            Self::Aes128 => 0x08,
            Self::Aes192 => 0x0A,
            Self::Aes256 => 0x0C,
        }
    }

    /// The algorithm an identifier names.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0x00 | 0x03 => Some(Self::TripleDes),
            0x08 => Some(Self::Aes128),
            0x0A => Some(Self::Aes192),
            0x0C => Some(Self::Aes256),
            _ => None,
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

    /// Block length in bytes: the size of challenges, witnesses and cryptograms.
    pub const fn block_len(self) -> usize {
        match self {
            Self::TripleDes => 8,
            _ => 16,
        }
    }
}

/// The management key held by the card.
pub(crate) struct ManagementKey {
    alg: MgmtAlgorithm,
    key: Zeroizing<Vec<u8>>,
    is_default: bool,
}

impl ManagementKey {
    /// A key of `alg`; `None` when `key` has the wrong length.
    pub(crate) fn new(alg: MgmtAlgorithm, key: &[u8], is_default: bool) -> Option<Self> {
        (key.len() == alg.key_len()).then(|| Self { alg, key: Zeroizing::new(key.to_vec()), is_default })
    }

    /// The factory default (3DES, [`DEFAULT_KEY`]).
    pub(crate) fn factory() -> Self {
        Self { alg: MgmtAlgorithm::TripleDes, key: Zeroizing::new(DEFAULT_KEY.to_vec()), is_default: true }
    }

    /// The algorithm.
    pub(crate) fn algorithm(&self) -> MgmtAlgorithm {
        self.alg
    }

    /// Whether the factory default key is still set.
    pub(crate) fn is_default(&self) -> bool {
        self.is_default
    }

    /// Encrypts one block (ECB).
    pub(crate) fn encrypt(&self, block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        match self.alg {
            MgmtAlgorithm::TripleDes => encrypt_with::<TdesEde3>(&self.key, block),
            MgmtAlgorithm::Aes128 => encrypt_with::<Aes128>(&self.key, block),
            MgmtAlgorithm::Aes192 => encrypt_with::<Aes192>(&self.key, block),
            MgmtAlgorithm::Aes256 => encrypt_with::<Aes256>(&self.key, block),
        }
    }
}

fn encrypt_with<C: BlockCipherEncrypt + KeyInit>(key: &[u8], block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = C::new_from_slice(key).ok()?;
    let mut b = cipher::Block::<C>::try_from(block).ok()?;
    cipher.encrypt_block(&mut b);
    let out = Zeroizing::new(b.to_vec());
    b.as_mut_slice().zeroize();
    Some(out)
}

/// What the card expects after the first step of a flow.
pub(crate) enum Pending {
    /// External authentication: the challenge sent to the host.
    Challenge(Zeroizing<Vec<u8>>),
    /// Mutual authentication: the witness whose cryptogram was sent to the host.
    Witness(Zeroizing<Vec<u8>>),
}

/// The effect of one GENERAL AUTHENTICATE on the security status.
pub(crate) enum Effect {
    /// Nothing changes (a first step, or the card proving itself).
    None(Option<Pending>),
    /// The host proved the key: the administrator is authenticated.
    Authenticated,
    /// The host failed to prove the key: administrator status is cleared.
    Failed,
}

/// Runs one step of management key authentication. `template` is the content of `7C`;
/// `pending` what the previous command (if it was the first step) left.
pub(crate) fn authenticate(
    key: &ManagementKey,
    p1: u8,
    template: &[u8],
    pending: Option<Pending>,
    rng: &mut SimRng,
) -> (Response, Effect) {
    let fail = |sw| (Response::status(sw), Effect::Failed);
    if MgmtAlgorithm::from_id(p1) != Some(key.alg) {
        return (Response::status(StatusWord::INCORRECT_P1P2), Effect::None(None));
    }
    let Some(items) = Items::parse(template) else {
        return (Response::status(StatusWord::INCORRECT_DATA), Effect::None(None));
    };
    let bs = key.alg.block_len();
    let sized = |v: &[u8]| v.len() == bs;
    match (items.witness, items.challenge, items.response) {
        // External, step 1: the host asks for a challenge.
        (None, Some([]), None) => {
            let c = rng.bytes(bs);
            respond(0x81, &c, Effect::None(Some(Pending::Challenge(c.clone()))))
        }
        // External, step 2: the host answers the challenge.
        (None, None, Some(r)) if sized(r) => match pending {
            Some(Pending::Challenge(c)) => match key.encrypt(&c) {
                Some(expected) if bool::from(expected.as_slice().ct_eq(r)) => {
                    (Response::status(StatusWord::SUCCESS), Effect::Authenticated)
                }
                _ => fail(StatusWord::SECURITY_STATUS_NOT_SATISFIED),
            },
            _ => fail(StatusWord::CONDITIONS_NOT_SATISFIED),
        },
        // Mutual, step 1: the host asks for a witness.
        (Some([]), None, None) => {
            let w = rng.bytes(bs);
            match key.encrypt(&w) {
                Some(ew) => respond(0x80, &ew, Effect::None(Some(Pending::Witness(w)))),
                None => fail(StatusWord::NO_PRECISE_DIAGNOSIS),
            }
        }
        // Mutual, step 2: the host returns the decrypted witness and challenges the card.
        (Some(w), Some(c), None) if sized(w) && sized(c) => match pending {
            Some(Pending::Witness(expected)) if bool::from(expected.as_slice().ct_eq(w)) => match key.encrypt(c) {
                Some(ec) => respond(0x82, &ec, Effect::Authenticated),
                None => fail(StatusWord::NO_PRECISE_DIAGNOSIS),
            },
            Some(Pending::Witness(_)) => fail(StatusWord::SECURITY_STATUS_NOT_SATISFIED),
            _ => fail(StatusWord::CONDITIONS_NOT_SATISFIED),
        },
        // Internal: the host challenges the card only.
        (None, Some(c), Some([])) if sized(c) => match key.encrypt(c) {
            Some(ec) => respond(0x82, &ec, Effect::None(None)),
            None => fail(StatusWord::NO_PRECISE_DIAGNOSIS),
        },
        _ => (Response::status(StatusWord::INCORRECT_DATA), Effect::None(None)),
    }
}

fn respond(tag: u32, value: &[u8], effect: Effect) -> (Response, Effect) {
    let mut inner = Vec::with_capacity(value.len() + 2);
    let encoded = tlv::write(&mut inner, Tag(tag), value).and_then(|()| tlv::encode(Tag(0x7C), &inner));
    match encoded {
        Ok(data) => (Response::ok(data), effect),
        Err(_) => (Response::status(StatusWord::NO_PRECISE_DIAGNOSIS), Effect::Failed),
    }
}

/// The elements of a dynamic authentication template (`7C`), each at most once.
#[derive(Default)]
pub(crate) struct Items<'a> {
    /// `80` witness.
    pub(crate) witness: Option<&'a [u8]>,
    /// `81` challenge.
    pub(crate) challenge: Option<&'a [u8]>,
    /// `82` response.
    pub(crate) response: Option<&'a [u8]>,
    /// `85` exponentiation (the peer's public point for ECDH).
    pub(crate) exponentiation: Option<&'a [u8]>,
}

impl<'a> Items<'a> {
    /// Parses the content of `7C`: `None` on malformed TLV, unknown tags or repeated tags.
    pub(crate) fn parse(template: &'a [u8]) -> Option<Self> {
        let mut items = Self::default();
        for tlv in tlv::Reader::new(template) {
            let tlv = tlv.ok()?;
            let slot = match tlv.tag.0 {
                0x80 => &mut items.witness,
                0x81 => &mut items.challenge,
                0x82 => &mut items.response,
                0x85 => &mut items.exponentiation,
                _ => return None,
            };
            if slot.replace(tlv.value).is_some() {
                return None;
            }
        }
        Some(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn known_answers() {
        // FIPS 197 appendix C.1 / C.2 / C.3.
        let pt = hex!("00112233445566778899aabbccddeeff");
        let k = hex!("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let aes128 = ManagementKey::new(MgmtAlgorithm::Aes128, &k[..16], false).unwrap();
        assert_eq!(*aes128.encrypt(&pt).unwrap(), hex!("69c4e0d86a7b0430d8cdb78070b4c55a"));
        let aes192 = ManagementKey::new(MgmtAlgorithm::Aes192, &k[..24], false).unwrap();
        assert_eq!(*aes192.encrypt(&pt).unwrap(), hex!("dda97ca4864cdfe06eaf70a0ec0d7191"));
        let aes256 = ManagementKey::new(MgmtAlgorithm::Aes256, &k, false).unwrap();
        assert_eq!(*aes256.encrypt(&pt).unwrap(), hex!("8ea2b7ca516745bfeafc49904b496089"));
        // With K1 = K2 = K3, 3DES is single DES: the classic "Now is t" vector under 0123456789ABCDEF.
        let des = ManagementKey::new(MgmtAlgorithm::TripleDes, &hex!("0123456789ABCDEF").repeat(3), false).unwrap();
        assert_eq!(*des.encrypt(&hex!("4E6F772069732074")).unwrap(), hex!("3FA40E8A984D4815"));
        assert!(ManagementKey::new(MgmtAlgorithm::Aes128, &k, false).is_none());
        assert!(aes128.encrypt(&pt[..8]).is_none());
    }

    #[test]
    fn items_reject_repeats_and_unknown_tags() {
        assert!(Items::parse(&hex!("8200 8100")).is_some());
        assert!(Items::parse(&hex!("8200 8200")).is_none());
        assert!(Items::parse(&hex!("8300")).is_none());
        assert!(Items::parse(&hex!("82")).is_none());
    }
}
