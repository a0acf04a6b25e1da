//! `mdtool watch`: card insertions and removals (and readers coming and going), through
//! `SCardGetStatusChange` with the PnP notification pseudo-reader, the way Windows programs
//! monitor smart cards (seed 001's question). On insertion the detection flows run and their
//! findings are printed. It runs until interrupted (Ctrl-C), or for `--count` events or
//! `--timeout` seconds.

use std::ffi::CString;
use std::time::{Duration, Instant};

use card_edges::transport::pcsc::PcscCard;
use pcsc::{ReaderState, State};
use serde_json::json;

use crate::detect;
use crate::errors::{Failure, Outcome};
use crate::output::Out;
use crate::readers::{self, code};

/// How long one wait lasts when there is no deadline (the loop simply waits again).
const SLICE: Duration = Duration::from_secs(3600);

struct Watched {
    state: ReaderState,
    present: bool,
}

fn is_pnp(name: &CString) -> bool {
    name.as_c_str() == pcsc::PNP_NOTIFICATION()
}

fn present(state: State) -> bool {
    state.contains(State::PRESENT) && !state.contains(State::MUTE)
}

fn reader_names(ctx: &pcsc::Context) -> Outcome<Vec<CString>> {
    match ctx.list_readers_owned() {
        Ok(n) => Ok(n),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(Failure::pcsc(code(e), None)),
    }
}

/// Detection on a freshly inserted card: one line of findings.
fn detect_line(reader: &CString) -> String {
    match PcscCard::connect(reader) {
        Ok(mut card) => match detect::summary(&mut card) {
            Ok(s) => s,
            Err(e) => format!("detection failed: {e}"),
        },
        Err(e) => format!("cannot connect: {e}"),
    }
}

/// `mdtool watch`.
///
/// # Errors
/// The PC/SC service is not running or stops.
pub(crate) fn run(out: &mut Out, count: Option<u32>, timeout: Option<f64>, detect_cards: bool) -> Outcome {
    let ctx = readers::context()?;
    let deadline = timeout.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut watched: Vec<Watched> = Vec::new();
    let mut pnp = ReaderState::new(pcsc::PNP_NOTIFICATION().to_owned(), State::UNAWARE);
    add_readers(&ctx, &mut watched, out, false)?;
    out.line(format!(
        "watching {} reader{} for card insertion and removal (Ctrl-C to stop)",
        watched.len(),
        if watched.len() == 1 { "" } else { "s" }
    ));
    out.json_value(&json!({ "event": "watching", "readers": watched.iter().map(|w| w.state.name().to_string_lossy()).collect::<Vec<_>>() }));
    for w in &watched {
        if w.present {
            report_card(out, &w.state, true, detect_cards, false);
        }
    }
    let mut events = 0u32;
    loop {
        if count.is_some_and(|n| events >= n) {
            break;
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => break,
            },
            None => SLICE,
        };
        for w in &mut watched {
            w.state.sync_current_state();
        }
        pnp.sync_current_state();
        let mut states: Vec<ReaderState> = Vec::with_capacity(watched.len() + 1);
        states.extend(watched.iter().map(|w| ReaderState::new(w.state.name().to_owned(), w.state.current_state())));
        states.push(ReaderState::new(pnp.name().to_owned(), pnp.current_state()));
        match ctx.get_status_change(wait, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(e) => return Err(Failure::pcsc(code(e), None).context("watching the readers")),
        }
        let mut readers_changed = false;
        for s in states {
            if is_pnp(&s.name().to_owned()) {
                if s.event_state().contains(State::CHANGED) {
                    readers_changed = true;
                }
                pnp = s;
                continue;
            }
            let Some(w) = watched.iter_mut().find(|w| w.state.name() == s.name()) else { continue };
            let now = present(s.event_state());
            let gone = s.event_state().intersects(State::UNKNOWN | State::IGNORE);
            if now != w.present && !gone {
                report_card(out, &s, now, detect_cards, true);
                events += 1;
            }
            w.present = now && !gone;
            w.state = s;
        }
        if readers_changed {
            add_readers(&ctx, &mut watched, out, true)?;
        }
    }
    Ok(())
}

/// Brings the watched list in line with the readers PC/SC knows, reporting changes.
fn add_readers(ctx: &pcsc::Context, watched: &mut Vec<Watched>, out: &mut Out, report: bool) -> Outcome {
    let names = reader_names(ctx)?;
    let (kept, removed): (Vec<Watched>, Vec<Watched>) =
        std::mem::take(watched).into_iter().partition(|w| names.iter().any(|n| n.as_c_str() == w.state.name()));
    *watched = kept;
    if report {
        for w in removed {
            let name = w.state.name().to_string_lossy().into_owned();
            out.line(format!("reader removed: \"{name}\""));
            out.json_value(&json!({ "event": "reader_removed", "reader": name }));
        }
    }
    for n in names {
        if is_pnp(&n) || watched.iter().any(|w| w.state.name() == n.as_c_str()) {
            continue;
        }
        let mut one = [ReaderState::new(n.clone(), State::UNAWARE)];
        ctx.get_status_change(Duration::ZERO, &mut one).map_err(|e| Failure::pcsc(code(e), None))?;
        let [state] = one;
        let now = present(state.event_state());
        if report {
            out.line(format!("reader added: \"{}\"", n.to_string_lossy()));
            out.json_value(&json!({ "event": "reader_added", "reader": n.to_string_lossy() }));
        }
        watched.push(Watched { state, present: now });
    }
    Ok(())
}

fn report_card(out: &mut Out, s: &ReaderState, inserted: bool, detect_cards: bool, event: bool) {
    let name = s.name().to_string_lossy().into_owned();
    if !inserted {
        out.line(format!("card removed from \"{name}\""));
        out.json_value(&json!({ "event": "removed", "reader": name }));
        return;
    }
    let atr = hex::encode_upper(s.atr());
    let what = if event { "card inserted in" } else { "card present in" };
    out.line(format!("{what} \"{name}\": ATR {atr}"));
    let detection = detect_cards.then(|| detect_line(&s.name().to_owned()));
    if let Some(d) = &detection {
        out.line(format!("  detected: {d}"));
    }
    out.json_value(&json!({
        "event": if event { "inserted" } else { "present" },
        "reader": name,
        "atr": atr,
        "detection": detection,
    }));
}
