//! The one edge dispatch: a card is opened by the class minidriver's discovery (Smart Card
//! Minidriver Specification v7 and "Smart Card Discovery Process": SELECT PIV AID, then the GIDS
//! AID, where "AID not found" still means GIDS), and the edge it decides is returned behind
//! [`Edge`]. The C door and the Rust [`crate::Card`] API both come here; neither selects an
//! application nor chooses an edge itself.
//!
//! The decision is remembered per ATR for the process, as Windows' Winscard remembers it in its
//! "PIV Device" and "IDMP" ATR caches ("Smart Card Discovery Process"): a card whose ATR was
//! found to be GIDS (after its PIV SELECT failed) is first asked for its `cardcf` with no SELECT
//! at all. A provisioned GIDS application still selected answers it, and that read is the
//! context's freshness proof; anything else (another application, a reset card, another card
//! with the same ATR) answers otherwise, the hint is dropped and the full discovery runs. A card
//! that holds both applications never gets a hint: its PIV SELECT succeeds first.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use card_edges::detect::{CardEdge, ClassConfig, class_minidriver};
use card_edges::gids::{GidsEdge, Probe};
use card_edges::iso7816::{Atr, Limits, Session};
use card_edges::piv::PivEdge;
use card_edges::{Error as EdgeError, TransportError};

use super::Edge;
use super::gids::GidsCard;
use super::piv::PivCard;
use crate::error::{Error, Result};
use crate::link::Link;

/// What the discovery found for an ATR: a GIDS application and its FCI.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GidsHint {
    /// The AID it was selected by (`None`: the MS GIDS AID).
    aid: Option<Vec<u8>>,
    /// Its FCI.
    fci: Vec<u8>,
}

/// ATR → GIDS hint, for this process. Bounded: a process sees few kinds of card.
static HINTS: Mutex<Option<HashMap<Vec<u8>, GidsHint>>> = Mutex::new(None);
const MAX_HINTS: usize = 64;

fn hint(atr: &[u8]) -> Option<GidsHint> {
    HINTS.lock().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(|m| m.get(atr).cloned())
}

fn remember(atr: &[u8], hint: Option<GidsHint>) {
    let mut guard = HINTS.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    match hint {
        Some(h) if map.len() < MAX_HINTS || map.contains_key(atr) => {
            map.insert(atr.to_vec(), h);
        }
        Some(_) => {}
        None => {
            map.remove(atr);
        }
    }
}

fn gids_edge(session: Session<Link>, hint: &GidsHint) -> GidsEdge<Link> {
    match &hint.aid {
        Some(aid) => GidsEdge::selected_with_aid(session, aid.clone(), &hint.fci),
        None => GidsEdge::selected(session, &hint.fci),
    }
}

/// Forgets every ATR hint of this process: for measurements of a first context (the APDU
/// report); a driver in use never needs it.
#[doc(hidden)]
pub fn forget_hints() {
    *HINTS.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// A transport failure ends the attempt and is passed on: the card is gone or was reset, or it
/// did not answer (a command that may have acted is not followed by another discovery, and the
/// CSP sees `SCARD_E_TIMEOUT`, not a card that was opened anyway).
fn card_lost(e: &EdgeError) -> bool {
    matches!(
        e,
        EdgeError::Transport(
            TransportError::RemovedCard
                | TransportError::ResetCard
                | TransportError::NoSmartcard
                | TransportError::Timeout
                | TransportError::Unresponsive
        )
    )
}

/// The environment variable naming a vendor's own GIDS AID (hex), for cards that implement the
/// GIDS card edge under a custom AID (the class minidriver selects it instead of the MS GIDS AID).
pub const GIDS_AID_ENV: &str = "MINIDRIVER_GIDS_AID";

/// The environment variable that, set to `1`, makes the first write a verified user asks of a
/// PIV token still on the factory-default management key replace that key with a random one
/// stored PIN-protected, as Yubico's minidriver does ([`OpenOptions::protect_default_piv_management_key`]).
pub const PIV_PROTECT_DEFAULT_MGMT_KEY_ENV: &str = "MINIDRIVER_PIV_PROTECT_DEFAULT_MGMT_KEY";

/// How cards are opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// A vendor's GIDS AID to select instead of the MS GIDS AID.
    pub gids_aid: Option<Vec<u8>>,
    /// PIV: replace a factory-default management key with a random PIN-protected one (Yubico's
    /// ADMIN DATA and PRINTED convention) at the first write that needs it. Off by default:
    /// the default key is then used as it is, and nothing changes it unless asked.
    pub protect_default_piv_management_key: bool,
}

impl OpenOptions {
    /// The options the environment sets ([`GIDS_AID_ENV`], [`PIV_PROTECT_DEFAULT_MGMT_KEY_ENV`]);
    /// a malformed value is ignored with a warning rather than failing every card.
    pub fn from_env() -> Self {
        let gids_aid = std::env::var(GIDS_AID_ENV).ok().and_then(|v| match hex::decode(v.trim()) {
            Ok(aid) if (5..=16).contains(&aid.len()) => Some(aid),
            _ => {
                tracing::warn!(var = GIDS_AID_ENV, "not an AID of 5 to 16 bytes in hex: ignored");
                None
            }
        });
        let protect_default_piv_management_key = match std::env::var(PIV_PROTECT_DEFAULT_MGMT_KEY_ENV) {
            Ok(v) if v.trim() == "1" => true,
            Ok(v) if v.trim() == "0" || v.trim().is_empty() => false,
            Ok(_) => {
                tracing::warn!(var = PIV_PROTECT_DEFAULT_MGMT_KEY_ENV, "not 0 or 1: ignored (off)");
                false
            }
            Err(_) => false,
        };
        Self { gids_aid, protect_default_piv_management_key }
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
    if let Some(h) = hint(atr).filter(|h| h.aid == options.gids_aid) {
        let mut edge = gids_edge(session, &h);
        match edge.probe() {
            Ok(Probe::Provisioned) => return Ok(Box::new(GidsCard::new(edge))),
            Err(e) if card_lost(&e) => return Err(e.into()),
            _ => {
                tracing::debug!("the GIDS hint for this ATR did not hold: full discovery");
                remember(atr, None);
                session = edge.into_session();
            }
        }
    }
    let config = ClassConfig { custom_gids_aid: options.gids_aid.clone(), request_fci: true };
    let outcome = class_minidriver(&mut session, &config)?;
    let fci = outcome.selection().map(|r| r.data.clone()).unwrap_or_default();
    match outcome.edge {
        Some(CardEdge::Piv) => {
            let mut edge = PivEdge::selected(session, &fci);
            edge.set_protect_default_management_key(options.protect_default_piv_management_key);
            Ok(Box::new(PivCard::new(edge)))
        }
        Some(CardEdge::Gids) if outcome.application_selected() => {
            let h = GidsHint { aid: options.gids_aid.clone(), fci };
            let edge = gids_edge(session, &h);
            remember(atr, Some(h));
            Ok(Box::new(GidsCard::new(edge)))
        }
        Some(CardEdge::Gids) => {
            // The class minidriver's rule: "AID not found" is GIDS too (a vendor card whose
            // GIDS application is the default one), used without any SELECT by AID. A card
            // that then refuses GIDS's GET DATA as an unknown instruction or class speaks no
            // GIDS at all: it is an unknown card, said now rather than at the first file read.
            tracing::info!("GIDS AID not found: the card is taken as GIDS, as the class minidriver does");
            let mut edge = GidsEdge::implicit(session);
            match edge.probe()? {
                Probe::Provisioned | Probe::Unprovisioned => Ok(Box::new(GidsCard::new(edge))),
                Probe::Foreign => {
                    tracing::info!("the card answers no GIDS command: unknown card");
                    Err(Error::UnknownCard)
                }
            }
        }
        None => Err(Error::UnknownCard),
    }
}
