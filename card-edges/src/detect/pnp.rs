//! The smart card Plug and Play process (seed 002): how Windows obtains a card's unique id
//! to find a driver on Windows Update.
//!
//! 1. historical bytes from the ATR;
//! 2. SELECT SC PnP AID and GET DATA `7F68` (sent whatever the SELECT answered);
//! 3. SELECT MF, EF.ATR, READ BINARY;
//! 4. SELECT PIV AID;
//! 5. SELECT MS GIDS AID;
//! 6. historical bytes alone; else `SCARD_E_UNEXPECTED`.

use super::card_id::CardId;
use super::{GIDS_AID, PIV_AID, SC_PNP_AID, Step, probe, select_aid};
use crate::error::Result;
use crate::iso7816::{Atr, Command, Session, apdu::ins};
use crate::transport::Transport;

/// The identity Plug and Play settles on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PnpIdentity {
    /// The CardID's first GUID is the device id.
    CardId {
        /// Device id (first GUID).
        device_id: [u8; 16],
        /// The whole validated CardID.
        card_id: CardId,
    },
    /// EF.ATR's content is the unique identifier.
    EfAtr(Vec<u8>),
    /// A PIV-compatible device: compatible id "PIV", device id the historical bytes (or the
    /// PIV compatible id when there are none).
    Piv {
        /// Historical bytes, `None` when the ATR has none.
        device_id: Option<Vec<u8>>,
    },
    /// A GIDS-compatible device, as for PIV.
    Gids {
        /// Historical bytes, `None` when the ATR has none.
        device_id: Option<Vec<u8>>,
    },
    /// Only the ATR historical bytes identify the card.
    HistoricalBytes(Vec<u8>),
}

impl PnpIdentity {
    /// The compatible id Windows would use, if the flow assigns one.
    pub fn compatible_id(&self) -> Option<&'static str> {
        match self {
            Self::Piv { .. } => Some("PIV"),
            Self::Gids { .. } => Some("GIDS"),
            _ => None,
        }
    }

    /// The device id as a string: hex of the GUID, EF.ATR or historical bytes, or the
    /// compatible id for PIV/GIDS cards without historical bytes.
    pub fn device_id(&self) -> String {
        match self {
            Self::CardId { device_id, .. } => hex::encode_upper(device_id),
            Self::EfAtr(b) | Self::HistoricalBytes(b) => hex::encode_upper(b),
            Self::Piv { device_id: Some(h) } | Self::Gids { device_id: Some(h) } => hex::encode_upper(h),
            Self::Piv { device_id: None } => "PIV".into(),
            Self::Gids { device_id: None } => "GIDS".into(),
        }
    }
}

/// What the Plug and Play flow found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PnpOutcome {
    /// The identity, or `None` for the `SCARD_E_UNEXPECTED` outcome (no id at all).
    pub identity: Option<PnpIdentity>,
    /// Every step taken.
    pub evidence: Vec<Step>,
}

/// Runs the Plug and Play identification flow.
///
/// # Errors
/// Only transport failures; every card answer is a finding.
pub fn plug_and_play<T: Transport>(session: &mut Session<T>) -> Result<PnpOutcome> {
    let mut evidence = Vec::new();
    let atr = session.transport_mut().atr()?;
    let historical = Atr::parse(&atr).ok().map(|a| a.historical).filter(|h| !h.is_empty());
    evidence.push(Step::local(
        "read ATR historical bytes",
        match &historical {
            Some(h) => format!("historical bytes {}", hex::encode_upper(h)),
            None => "no historical bytes".into(),
        },
    ));

    // SELECT SC PnP AID, then GET DATA 7F68 regardless of the SELECT's answer.
    let (rsp, mut step) = probe(session, "SELECT SC PnP AID", &select_aid(&SC_PNP_AID, false))?;
    step.finding =
        if rsp.sw.is_success() { "PnP application present".into() } else { format!("not selected ({})", rsp.sw) };
    evidence.push(step);
    let get_data = Command::new(0x00, ins::GET_DATA, 0x7F, 0x68).with_le(256);
    let (rsp, mut step) = probe(session, "GET DATA 7F68 (CardID)", &get_data)?;
    let card_id = if rsp.sw.is_success() { Some(CardId::parse(&rsp.data)) } else { None };
    step.finding = match &card_id {
        Some(Ok(id)) => format!("CardID vendor {} with {} GUID(s)", id.vendor, id.guids.len()),
        Some(Err(e)) => format!("CardID rejected: {e}"),
        None => format!("no CardID ({})", rsp.sw),
    };
    evidence.push(step);
    if let Some(Ok(card_id)) = card_id {
        let device_id = card_id.device_id();
        return Ok(PnpOutcome { identity: Some(PnpIdentity::CardId { device_id, card_id }), evidence });
    }

    // SELECT MF, SELECT EF.ATR, READ BINARY.
    if let Some(ef_atr) = read_ef_atr(session, &mut evidence)? {
        return Ok(PnpOutcome { identity: Some(PnpIdentity::EfAtr(ef_atr)), evidence });
    }

    let (rsp, mut step) = probe(session, "SELECT PIV AID", &select_aid(&PIV_AID, false))?;
    step.finding = if rsp.sw.is_success() { "PIV-compatible device".into() } else { format!("not PIV ({})", rsp.sw) };
    evidence.push(step);
    if rsp.sw.is_success() {
        return Ok(PnpOutcome { identity: Some(PnpIdentity::Piv { device_id: historical }), evidence });
    }

    let (rsp, mut step) = probe(session, "SELECT MS GIDS AID", &select_aid(&GIDS_AID, true))?;
    step.finding = if rsp.sw.is_success() { "GIDS-compatible device".into() } else { format!("not GIDS ({})", rsp.sw) };
    evidence.push(step);
    if rsp.sw.is_success() {
        return Ok(PnpOutcome { identity: Some(PnpIdentity::Gids { device_id: historical }), evidence });
    }

    match historical {
        Some(h) => {
            evidence.push(Step::local("use historical bytes", "the historical bytes are the device id"));
            Ok(PnpOutcome { identity: Some(PnpIdentity::HistoricalBytes(h)), evidence })
        }
        None => {
            evidence.push(Step::local("give up", "no identifier at all: SCARD_E_UNEXPECTED"));
            Ok(PnpOutcome { identity: None, evidence })
        }
    }
}

/// SELECT MF (`3F00`), SELECT EF.ATR (`2F01`), READ BINARY: EF.ATR's content when all three
/// succeed and it is not empty.
pub(crate) fn read_ef_atr<T: Transport>(session: &mut Session<T>, evidence: &mut Vec<Step>) -> Result<Option<Vec<u8>>> {
    let select_mf = Command::new(0x00, ins::SELECT, 0x00, 0x0C).with_data([0x3F, 0x00]);
    let (rsp, mut step) = probe(session, "SELECT MF", &select_mf)?;
    step.finding = if rsp.sw.is_success() { "MF selected".into() } else { format!("no MF ({})", rsp.sw) };
    evidence.push(step);
    if !rsp.sw.is_success() {
        return Ok(None);
    }
    let select_ef = Command::new(0x00, ins::SELECT, 0x02, 0x0C).with_data([0x2F, 0x01]);
    let (rsp, mut step) = probe(session, "SELECT EF.ATR", &select_ef)?;
    step.finding = if rsp.sw.is_success() { "EF.ATR selected".into() } else { format!("no EF.ATR ({})", rsp.sw) };
    evidence.push(step);
    if !rsp.sw.is_success() {
        return Ok(None);
    }
    let read = Command::new(0x00, ins::READ_BINARY, 0x00, 0x00).with_le(256);
    let (rsp, mut step) = probe(session, "READ BINARY EF.ATR", &read)?;
    let found = rsp.sw.is_success() && !rsp.data.is_empty();
    step.finding = if found {
        format!("EF.ATR holds {} bytes", rsp.data.len())
    } else {
        format!("EF.ATR unreadable ({})", rsp.sw)
    };
    evidence.push(step);
    Ok(found.then_some(rsp.data))
}
