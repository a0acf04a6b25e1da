//! PC/SC readers: their states (card present, ATR) and `mdtool readers`.

use pcsc::{Context, ReaderState, Scope, State};
use serde_json::json;

use crate::errors::{Failure, NO_READERS, Outcome};
use crate::output::Out;

/// One reader as PC/SC reports it.
#[derive(Clone, Debug)]
pub(crate) struct Reader {
    /// Its name.
    pub(crate) name: String,
    /// A card is present.
    pub(crate) present: bool,
    /// The card does not answer (mute).
    pub(crate) mute: bool,
    /// Someone holds it exclusively.
    pub(crate) exclusive: bool,
    /// The card's ATR (empty without a card).
    pub(crate) atr: Vec<u8>,
}

/// The PC/SC code of a `pcsc` error.
pub(crate) fn code(e: pcsc::Error) -> u32 {
    e as u32
}

/// A PC/SC context, or the clear error why there is none.
///
/// # Errors
/// The service is not running.
pub(crate) fn context() -> Outcome<Context> {
    Context::establish(Scope::User).map_err(|e| Failure::pcsc(code(e), None))
}

/// Every reader with its state (an empty list when there are none).
///
/// # Errors
/// The service is not running, or another PC/SC failure.
pub(crate) fn list(ctx: &Context) -> Outcome<Vec<Reader>> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(Failure::pcsc(code(e), None)),
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<ReaderState> = names.iter().map(|n| ReaderState::new(n.clone(), State::UNAWARE)).collect();
    match ctx.get_status_change(std::time::Duration::ZERO, &mut states) {
        // UNAWARE states always come back at once; a timeout leaves them as they were read.
        Ok(()) | Err(pcsc::Error::Timeout) => {}
        Err(e) => return Err(Failure::pcsc(code(e), None)),
    }
    Ok(states.iter().map(reader_of).collect())
}

/// A reader from its status-change record.
pub(crate) fn reader_of(s: &ReaderState) -> Reader {
    let state = s.event_state();
    let present = state.contains(State::PRESENT);
    Reader {
        name: s.name().to_string_lossy().into_owned(),
        present,
        mute: state.contains(State::MUTE),
        exclusive: state.contains(State::EXCLUSIVE),
        atr: if present { s.atr().to_vec() } else { Vec::new() },
    }
}

/// The reader `wanted` names: exactly, or as the only reader whose name contains it
/// (case-insensitive).
///
/// # Errors
/// No reader, or no (single) match.
pub(crate) fn find(readers: &[Reader], wanted: &str) -> Outcome<Reader> {
    if let Some(r) = readers.iter().find(|r| r.name == wanted) {
        return Ok(r.clone());
    }
    let needle = wanted.to_lowercase();
    let matches: Vec<&Reader> = readers.iter().filter(|r| r.name.to_lowercase().contains(&needle)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] if readers.is_empty() => Err(Failure::pcsc(NO_READERS, None)),
        [] => Err(Failure::pcsc(crate::errors::UNKNOWN_READER, Some(wanted))),
        _ => Err(Failure::usage(format!(
            "\"{wanted}\" matches {} readers: {}",
            matches.len(),
            matches.iter().map(|r| format!("\"{}\"", r.name)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `mdtool readers`.
///
/// # Errors
/// No service; no reader.
pub(crate) fn run(out: &mut Out) -> Outcome {
    let ctx = context()?;
    let readers = list(&ctx)?;
    if out.json() {
        let list: Vec<_> = readers
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "card_present": r.present,
                    "mute": r.mute,
                    "exclusive": r.exclusive,
                    "atr": if r.present { Some(hex::encode_upper(&r.atr)) } else { None },
                })
            })
            .collect();
        out.json_value(&json!({ "readers": list }));
    }
    if readers.is_empty() {
        return Err(Failure::pcsc(NO_READERS, None));
    }
    for (i, r) in readers.iter().enumerate() {
        let state = match (r.present, r.mute) {
            (false, _) => "no card".to_owned(),
            (true, true) => format!("card present (mute), ATR {}", hex::encode_upper(&r.atr)),
            (true, false) => format!("card present, ATR {}", hex::encode_upper(&r.atr)),
        };
        let exclusive = if r.exclusive { " (in exclusive use)" } else { "" };
        out.line(format!("{i}: {}: {state}{exclusive}", r.name));
    }
    Ok(())
}
