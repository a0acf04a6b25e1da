//! The class minidriver's discovery (seed 002), run by `CardAcquireContext`: SELECT PIV AID,
//! success means PIV; otherwise SELECT the GIDS AID, and success *or* "AID not found" means
//! GIDS ("the card may not answer the SELECT when a vendor uses a custom GIDS AID").

use super::{CardEdge, GIDS_AID, PIV_AID, Step, probe, select_aid};
use crate::error::Result;
use crate::iso7816::{Session, Status};
use crate::transport::Transport;

/// Class minidriver settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassConfig {
    /// A vendor's own GIDS AID to select instead of the MS GIDS AID.
    pub custom_gids_aid: Option<Vec<u8>>,
    /// Ask for the application's answer on the PIV SELECT too (`Le = 00`). Windows' discovery
    /// sends it without Le; a driver that goes on with the selected application wants the PIV
    /// application property template (SP 800-73-4 Part 2, 3.1.1) it returns. The decision is the
    /// same either way.
    pub request_fci: bool,
}

/// What the class minidriver decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassOutcome {
    /// The edge, `None` when the GIDS SELECT failed with anything but "not found".
    pub edge: Option<CardEdge>,
    /// Every step taken.
    pub evidence: Vec<Step>,
}

impl ClassOutcome {
    /// The answer to the SELECT that decided (its data is the application's FCI or property
    /// template); `None` when no edge was decided.
    pub fn selection(&self) -> Option<&crate::iso7816::Response> {
        self.edge?;
        self.evidence.last().and_then(|s| s.response.as_ref())
    }

    /// Whether the decision rests on an application that answered its SELECT (false for the
    /// class minidriver's "AID not found: GIDS" rule, where nothing was selected).
    pub fn application_selected(&self) -> bool {
        self.selection().is_some_and(|r| r.sw.is_success())
    }
}

/// Runs the class minidriver's PIV/GIDS decision.
///
/// # Errors
/// Only transport failures.
pub fn class_minidriver<T: Transport>(session: &mut Session<T>, config: &ClassConfig) -> Result<ClassOutcome> {
    let mut evidence = Vec::new();
    let (rsp, mut step) = probe(session, "SELECT PIV AID", &select_aid(&PIV_AID, config.request_fci))?;
    if rsp.sw.is_success() {
        step.finding = "PIV application present: card marked PIV".into();
        evidence.push(step);
        return Ok(ClassOutcome { edge: Some(CardEdge::Piv), evidence });
    }
    step.finding = format!("not PIV ({})", rsp.sw);
    evidence.push(step);

    let aid = config.custom_gids_aid.as_deref().unwrap_or(&GIDS_AID);
    let action = if config.custom_gids_aid.is_some() { "SELECT vendor GIDS AID" } else { "SELECT MS GIDS AID" };
    let (rsp, mut step) = probe(session, action, &select_aid(aid, true))?;
    let edge = match rsp.sw.status() {
        Status::Success => {
            step.finding = "GIDS application present: card marked GIDS".into();
            Some(CardEdge::Gids)
        }
        Status::NotFound => {
            step.finding = "AID not found: card marked GIDS, as the class minidriver does".into();
            Some(CardEdge::Gids)
        }
        _ => {
            step.finding = format!("SELECT failed ({}): not a class minidriver card", rsp.sw);
            None
        }
    };
    evidence.push(step);
    Ok(ClassOutcome { edge, evidence })
}
