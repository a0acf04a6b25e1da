//! The connection a context talks through: the CSP's borrowed PC/SC handle (the C ABI path) or a
//! transport the Rust caller supplied (the embedded simulated card, a Rust application's card).

use card_edges::Result;
use card_edges::transport::Transport;
use card_edges::transport::pcsc::BorrowedCard;

/// A context's link to its card.
pub(crate) enum Link {
    /// `CARD_DATA.hSCardCtx`/`hScard`, owned by the CSP; re-borrowed when the CSP swaps them.
    Borrowed {
        /// The handles as the CSP gave them (context, card).
        handles: (usize, usize),
        /// The transport over them.
        card: BorrowedCard,
    },
    /// A transport supplied through the Rust-level entry.
    Supplied(Box<dyn Transport + Send>),
}

impl core::fmt::Debug for Link {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Borrowed { handles, .. } => write!(f, "Link::Borrowed({:#x}, {:#x})", handles.0, handles.1),
            Self::Supplied(_) => f.write_str("Link::Supplied"),
        }
    }
}

impl Link {
    /// Borrows the CSP's handles.
    pub(crate) fn borrowed(context: usize, card: usize) -> Self {
        Self::Borrowed { handles: (context, card), card: BorrowedCard::new(context, card) }
    }

    /// Points a borrowed link at new handles; `true` when they changed (the CSP reconnected,
    /// possibly to another card or reader).
    pub(crate) fn rebind(&mut self, context: usize, card: usize) -> bool {
        match self {
            Self::Borrowed { handles, .. } if *handles == (context, card) => false,
            Self::Borrowed { .. } => {
                *self = Self::borrowed(context, card);
                true
            }
            Self::Supplied(_) => false,
        }
    }
}

impl Transport for Link {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Borrowed { card, .. } => card.transmit(command),
            Self::Supplied(t) => t.transmit(command),
        }
    }

    fn atr(&mut self) -> Result<Vec<u8>> {
        match self {
            Self::Borrowed { card, .. } => card.atr(),
            Self::Supplied(t) => t.atr(),
        }
    }

    fn begin_transaction(&mut self) -> Result<()> {
        match self {
            // The CSP owns the transaction on its handle.
            Self::Borrowed { .. } => Ok(()),
            Self::Supplied(t) => t.begin_transaction(),
        }
    }

    fn end_transaction(&mut self) -> Result<()> {
        match self {
            Self::Borrowed { .. } => Ok(()),
            Self::Supplied(t) => t.end_transaction(),
        }
    }
}
