//! Winscard's discovery (seed 002): which registered card (and so which minidriver) a card is.
//!
//! 1. the `Calais\SmartCards` entries: ATR under ATR mask;
//! 2. the PIV and IDMP ATR caches;
//! 3. SELECT MS GIDS AID;
//! 4. SELECT PIV AID;
//! 5. the matched card's name.
//!
//! Seed 002's registry table says a match "in step 4" goes to the PIV cache and "in step 5" to
//! the IDMP cache, while its step list makes step 4 the GIDS SELECT and step 5 the PIV SELECT.
//! The caches are named for what they hold, so a GIDS match is cached as IDMP (GIDS) and a PIV
//! match as PIV.

use super::atr_cache::AtrCache;
use super::{CardEdge, GIDS_AID, PIV_AID, Step, probe, select_aid};
use crate::error::Result;
use crate::iso7816::Session;
use crate::transport::Transport;

/// One `Calais\SmartCards\<name>` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtrEntry {
    /// The card name (the registry subkey).
    pub name: String,
    /// The stored ATR (already masked, as the registry holds it).
    pub atr: Vec<u8>,
    /// The ATR mask.
    pub mask: Vec<u8>,
}

impl AtrEntry {
    /// Whether `atr` matches: same length, and equal under the mask.
    pub fn matches(&self, atr: &[u8]) -> bool {
        atr.len() == self.atr.len()
            && atr.len() == self.mask.len()
            && atr.iter().zip(&self.mask).zip(&self.atr).all(|((a, m), want)| a & m == want & m)
    }
}

/// How the card was matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WinscardMatch {
    /// A registered entry matched the ATR.
    Registered(String),
    /// The ATR was in a cache.
    Cached(CardEdge),
    /// The card answered the SELECT of this edge's AID.
    Selected(CardEdge),
}

/// What Winscard's flow found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinscardOutcome {
    /// How the card matched, `None` when nothing did.
    pub matched: Option<WinscardMatch>,
    /// The card name returned to `SCardListCards`/`SCardLocateCards`.
    pub card_name: Option<String>,
    /// Every step taken.
    pub evidence: Vec<Step>,
}

/// Runs Winscard's discovery against `registry` and `cache` (updated on a SELECT match).
///
/// # Errors
/// Only transport failures.
pub fn winscard<T: Transport>(
    session: &mut Session<T>,
    registry: &[AtrEntry],
    cache: &mut AtrCache,
) -> Result<WinscardOutcome> {
    let mut evidence = Vec::new();
    let atr = session.transport_mut().atr()?;
    if let Some(entry) = registry.iter().find(|e| e.matches(&atr)) {
        evidence.push(Step::local("match Calais\\SmartCards ATR/ATRMask", format!("matches \"{}\"", entry.name)));
        return Ok(WinscardOutcome {
            matched: Some(WinscardMatch::Registered(entry.name.clone())),
            card_name: Some(entry.name.clone()),
            evidence,
        });
    }
    evidence
        .push(Step::local("match Calais\\SmartCards ATR/ATRMask", format!("none of {} entries match", registry.len())));

    if let Some(edge) = cache.lookup(&atr) {
        evidence.push(Step::local("match PIV / IDMP ATR caches", format!("cached as {edge:?}")));
        return Ok(found(WinscardMatch::Cached(edge), edge, evidence));
    }
    evidence.push(Step::local("match PIV / IDMP ATR caches", "not cached"));

    for (edge, aid, action, with_le) in [
        (CardEdge::Gids, &GIDS_AID[..], "SELECT MS GIDS AID", true),
        (CardEdge::Piv, &PIV_AID[..], "SELECT PIV AID", false),
    ] {
        let (rsp, mut step) = probe(session, action, &select_aid(aid, with_le))?;
        if rsp.sw.is_success() {
            let saved = cache.remember(edge, &atr);
            step.finding = match saved {
                Ok(()) => format!("{edge:?} application present; ATR cached"),
                Err(e) => format!("{edge:?} application present; ATR cache not saved: {e}"),
            };
            evidence.push(step);
            return Ok(found(WinscardMatch::Selected(edge), edge, evidence));
        }
        step.finding = format!("not {edge:?} ({})", rsp.sw);
        evidence.push(step);
    }
    Ok(WinscardOutcome { matched: None, card_name: None, evidence })
}

fn found(matched: WinscardMatch, edge: CardEdge, evidence: Vec<Step>) -> WinscardOutcome {
    WinscardOutcome { matched: Some(matched), card_name: Some(edge.windows_card_name().to_owned()), evidence }
}
