//! Card discovery as Windows does it (seed 002): the Plug and Play identity, Winscard's
//! matching of a card to a minidriver, and the class minidriver's PIV/GIDS decision.
//!
//! Each flow is a function over an APDU session that returns what it found *and the evidence*:
//! every step with the APDU it sent, the answer, and what that proved. Only a transport failure
//! (card pulled, reset, service gone) is an `Err`; a card that answers "no" is a finding.

pub mod atr_cache;
pub mod card_id;
pub mod class;
pub mod pnp;
pub mod winscard;

use crate::error::Result;
use crate::iso7816::{Command, Response, Session, apdu::ins};
use crate::transport::Transport;

pub use atr_cache::AtrCache;
pub use card_id::CardId;
pub use class::{ClassConfig, ClassOutcome, class_minidriver};
pub use pnp::{PnpIdentity, PnpOutcome, plug_and_play};
pub use winscard::{AtrEntry, WinscardMatch, WinscardOutcome, winscard};

/// The PIV AID as Windows selects it: the NIST RID and PIX without the 2 version bytes,
/// which "the Microsoft smart card framework ignores" (seed 002).
pub const PIV_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
/// The MS GIDS AID as sent to the card: its last 2 bytes "are not sent to the card" (seed 002).
pub const GIDS_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59];
/// The smart card Plug and Play AID.
pub const SC_PNP_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x97, 0x43, 0x49, 0x44, 0x5F, 0x01, 0x00];
/// Windows' proprietary GET DATA tag for the CardID.
pub const CARD_ID_TAG: u16 = 0x7F68;

/// The card edge a card speaks, as far as the class minidriver is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardEdge {
    /// NIST SP 800-73 PIV.
    Piv,
    /// Microsoft Generic Identity Device Specification.
    Gids,
}

impl CardEdge {
    /// The card name Windows registers for class-minidriver cards of this edge.
    pub fn windows_card_name(self) -> &'static str {
        match self {
            Self::Piv => "Identity Device (NIST SP 800-73 [PIV])",
            Self::Gids => "Identity Device (Microsoft Generic Profile)",
        }
    }
}

/// One step of a discovery flow: what was done, what came back, what it proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the step does, in the seed's words ("SELECT PIV AID").
    pub action: &'static str,
    /// The command APDU sent, if the step talked to the card.
    pub command: Option<Vec<u8>>,
    /// The card's response (data and status word), if any.
    pub response: Option<Response>,
    /// What the step established.
    pub finding: String,
}

impl Step {
    fn local(action: &'static str, finding: impl Into<String>) -> Self {
        Self { action, command: None, response: None, finding: finding.into() }
    }
}

/// Sends `cmd` as one discovery step, recording it.
fn probe<T: Transport>(session: &mut Session<T>, action: &'static str, cmd: &Command) -> Result<(Response, Step)> {
    let rsp = session.transmit(cmd)?;
    let command = cmd.encode(session.limits().extended).ok().map(|c| c.to_vec());
    let step = Step { action, command, response: Some(rsp.clone()), finding: String::new() };
    Ok((rsp, step))
}

/// SELECT by DF name, with or without Le as Windows sends each (PnP and PIV without,
/// GIDS with `00`: the probe order observed in vsmartcard issue #306 traces).
fn select_aid(aid: &[u8], with_le: bool) -> Command {
    let cmd = Command::new(0x00, ins::SELECT, 0x04, 0x00).with_data(aid.to_vec());
    if with_le { cmd.with_le(256) } else { cmd }
}

#[cfg(test)]
mod tests;
