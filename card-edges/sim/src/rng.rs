//! The card's random number generator: SHA-256 in counter mode over a 32-byte key.
//!
//! One type serves both needs of the simulator: a card seeded from the operating system draws
//! its challenges and generated keys from it, and provisioning seeded from a test's seed derives
//! keys, certificate serials and the CHUID GUID from it, so that one seed always gives one card.

use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A deterministic generator: block `i` is `SHA-256(key || i)`.
pub(crate) struct SimRng {
    key: Zeroizing<[u8; 32]>,
    counter: u64,
    block: Zeroizing<[u8; 32]>,
    used: usize,
}

impl SimRng {
    /// A generator derived from `seed` and a `label` naming what it is for (a slot's key, the
    /// GUID, ...): different labels give independent streams.
    pub(crate) fn from_seed(seed: &[u8], label: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"card-edges sim rng v1");
        h.update(u64::try_from(seed.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(seed);
        h.update(label);
        Self::from_key(h.finalize().into())
    }

    /// A generator seeded by the operating system. Should the system source fail (it does not
    /// on the platforms this runs on), the time and the process id seed it instead: this is a
    /// simulator, and its challenges only need to differ between runs.
    pub(crate) fn from_os() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        if getrandom::fill(key.as_mut_slice()).is_err() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let mut h = Sha256::new();
            h.update(now.as_nanos().to_be_bytes());
            h.update(std::process::id().to_be_bytes());
            *key = h.finalize().into();
        }
        Self::from_key(*key)
    }

    fn from_key(key: [u8; 32]) -> Self {
        Self { key: Zeroizing::new(key), counter: 0, block: Zeroizing::new([0; 32]), used: 32 }
    }

    /// `n` fresh bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; n]);
        self.fill(&mut out);
        out
    }

    /// `N` fresh bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    fn fill(&mut self, dst: &mut [u8]) {
        for byte in dst {
            if self.used == self.block.len() {
                let mut h = Sha256::new();
                h.update(*self.key);
                h.update(self.counter.to_be_bytes());
                *self.block = h.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
    }
}

impl core::fmt::Debug for SimRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SimRng(..)")
    }
}

impl TryRng for SimRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for SimRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_label_other_stream() {
        let a = SimRng::from_seed(b"seed", b"9A").bytes(80);
        let b = SimRng::from_seed(b"seed", b"9A").bytes(80);
        let c = SimRng::from_seed(b"seed", b"9C").bytes(80);
        let d = SimRng::from_seed(b"seeD", b"9A").bytes(80);
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
        assert_ne!(*a, *d);
        // Blocks differ from each other (the counter advances).
        assert_ne!(a[..32], a[32..64]);
    }

    #[test]
    fn os_seeded_generators_differ() {
        assert_ne!(*SimRng::from_os().bytes(32), *SimRng::from_os().bytes(32));
    }
}
