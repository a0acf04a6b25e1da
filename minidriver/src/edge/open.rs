//! The one edge dispatch: a card is opened by the class minidriver's discovery (Smart Card
//! Minidriver Specification v7 and "Smart Card Discovery Process": SELECT PIV AID, then the GIDS
//! AID, where "AID not found" still means GIDS), and the edge it decides is returned behind
//! [`Edge`]. The C door and the Rust [`crate::Card`] API both come here; neither selects an
//! application nor chooses an edge itself.

use card_edges::detect::{CardEdge, ClassConfig, class_minidriver};
use card_edges::iso7816::{Atr, Limits, Session};
use card_edges::piv::PivEdge;

use super::Edge;
use super::piv::PivCard;
use crate::error::{Error, Result};
use crate::link::Link;

/// The environment variable naming a vendor's own GIDS AID (hex), for cards that implement the
/// GIDS card edge under a custom AID (the class minidriver selects it instead of the MS GIDS AID).
pub const GIDS_AID_ENV: &str = "MINIDRIVER_GIDS_AID";

/// How cards are opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// A vendor's GIDS AID to select instead of the MS GIDS AID.
    pub gids_aid: Option<Vec<u8>>,
}

impl OpenOptions {
    /// The options the environment sets ([`GIDS_AID_ENV`]); a malformed value is ignored with a
    /// warning rather than failing every card.
    pub fn from_env() -> Self {
        let gids_aid = std::env::var(GIDS_AID_ENV).ok().and_then(|v| match hex::decode(v.trim()) {
            Ok(aid) if (5..=16).contains(&aid.len()) => Some(aid),
            _ => {
                tracing::warn!(var = GIDS_AID_ENV, "not an AID of 5 to 16 bytes in hex: ignored");
                None
            }
        });
        Self { gids_aid }
    }
}

/// Opens the card behind `link`: session limits from its ATR, then the class minidriver's
/// decision. The SELECT that decided is the edge's own (nothing is selected twice).
///
/// # Errors
/// [`Error::UnknownCard`] when the card has neither application by the class minidriver's rule;
/// transport failures.
pub(crate) fn open(link: Link, atr: &[u8], options: &OpenOptions) -> Result<Box<dyn Edge>> {
    let caps = Atr::parse(atr).ok().and_then(|a| a.card_capabilities());
    let mut session = Session::new(link);
    session.set_limits(Limits::from_capabilities(caps));
    let config = ClassConfig { custom_gids_aid: options.gids_aid.clone(), request_fci: true };
    let outcome = class_minidriver(&mut session, &config)?;
    let fci = outcome.selection().map(|r| r.data.clone()).unwrap_or_default();
    match outcome.edge {
        Some(CardEdge::Piv) => Ok(Box::new(PivCard::new(PivEdge::selected(session, &fci)))),
        Some(CardEdge::Gids) => {
            tracing::info!("a GIDS card (by the class minidriver's rule); no GIDS edge in this build");
            Err(Error::UnknownCard)
        }
        None => Err(Error::UnknownCard),
    }
}
