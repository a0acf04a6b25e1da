//! `cardid`: the card's unique identifier (seed 003, "Card identifier").
//!
//! 16 opaque bytes. The CSP keys its cache on them (with `cardcf`), so they must be unique per
//! card and stable for its life; how a card edge derives them is the edge's business.

use crate::error::{Error, Result};

/// Size of `cardid` in bytes.
pub const LEN: usize = 16;

/// The content of `cardid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CardId(pub [u8; LEN]);

impl CardId {
    /// Reads `cardid`'s bytes.
    ///
    /// # Errors
    /// [`Error::Malformed`] unless there are exactly 16 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        <[u8; LEN]>::try_from(bytes).map(Self).map_err(|_| Error::malformed("cardid", "not 16 bytes"))
    }

    /// The file's bytes.
    pub const fn encode(&self) -> [u8; LEN] {
        self.0
    }

    /// Whether every byte is zero: such an identifier is shared by every card that has one, so
    /// the CSP's cache would mix them up.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero() {
        assert!(CardId([0; LEN]).is_zero());
        assert!(!CardId([1; LEN]).is_zero());
    }

    proptest! {
        #[test]
        fn round_trips(bytes in any::<[u8; LEN]>()) {
            let id = CardId::decode(&bytes).unwrap();
            prop_assert_eq!(id.encode(), bytes);
        }

        #[test]
        fn rejects_other_sizes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assume!(bytes.len() != LEN);
            let malformed = matches!(CardId::decode(&bytes), Err(Error::Malformed { .. }));
            prop_assert!(malformed);
        }
    }
}
