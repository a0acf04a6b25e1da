//! `mdtool detect`: seed 002's three discovery flows run against the card, each step with the
//! APDU it sent, the answer, and what that proved. (These talk to the card directly: they are
//! what Windows does *before* a minidriver is chosen. The third is also the first thing
//! `CardAcquireContext` does.)

use std::path::{Path, PathBuf};

use card_edges::detect::{
    AtrCache, CardEdge, ClassConfig, PnpIdentity, Step, WinscardMatch, class_minidriver, plug_and_play, winscard,
};
use card_edges::iso7816::Session;
use card_edges::transport::Transport;
use serde_json::{Value, json};

use crate::card::Connected;
use crate::errors::{Failure, Outcome};
use crate::output::Out;

/// The ATR cache file: `$XDG_CACHE_HOME/mdtool/atr-cache` or `~/.cache/mdtool/atr-cache`.
pub(crate) fn default_cache_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("mdtool").join("atr-cache"))
}

fn edge_name(e: CardEdge) -> &'static str {
    match e {
        CardEdge::Piv => "PIV",
        CardEdge::Gids => "GIDS",
    }
}

/// One flow's result.
struct Flow {
    key: &'static str,
    title: &'static str,
    steps: Vec<Step>,
    result: String,
}

fn step_json(s: &Step) -> Value {
    json!({
        "action": s.action,
        "command": s.command.as_ref().map(hex::encode_upper),
        "response": s.response.as_ref().map(|r| hex::encode_upper(&r.data)),
        "sw": s.response.as_ref().map(|r| format!("{:04X}", r.sw.0)),
        "finding": s.finding,
    })
}

fn pnp_result(id: Option<&PnpIdentity>) -> String {
    match id {
        None => "no identifier at all: Plug and Play fails with SCARD_E_UNEXPECTED".into(),
        Some(i @ PnpIdentity::CardId { .. }) => format!("device id {} (CardID GUID)", i.device_id()),
        Some(i @ PnpIdentity::EfAtr(_)) => format!("device id {} (EF.ATR)", i.device_id()),
        Some(i @ (PnpIdentity::Piv { .. } | PnpIdentity::Gids { .. })) => {
            format!("compatible id \"{}\", device id {}", i.compatible_id().unwrap_or_default(), i.device_id())
        }
        Some(i @ PnpIdentity::HistoricalBytes(_)) => format!("device id {} (historical bytes)", i.device_id()),
    }
}

/// Runs the three flows over `transport`.
///
/// # Errors
/// Transport failures only (a card that answers "no" is a finding).
fn flows(transport: &mut dyn Transport, cache: &mut AtrCache) -> card_edges::Result<Vec<Flow>> {
    let mut session = Session::from_atr(transport)?;
    let pnp = plug_and_play(&mut session)?;
    let ws = winscard(&mut session, &[], cache)?;
    let class = class_minidriver(&mut session, &ClassConfig::default())?;
    let ws_result = match (&ws.matched, &ws.card_name) {
        (Some(WinscardMatch::Registered(n)), _) => format!("\"{n}\" (registered ATR)"),
        (Some(WinscardMatch::Cached(e)), Some(n)) => format!("\"{n}\" (ATR cached as {})", edge_name(*e)),
        (Some(WinscardMatch::Selected(e)), Some(n)) => {
            format!("\"{n}\" (the card answered the {} SELECT)", edge_name(*e))
        }
        _ => "no match: SCardListCards finds no card name, no minidriver is loaded".into(),
    };
    let class_result = match class.edge {
        Some(e) => format!("{}: the class minidriver uses its {} card edge", edge_name(e), edge_name(e)),
        None => "neither PIV nor GIDS: not a class minidriver card".into(),
    };
    Ok(vec![
        Flow {
            key: "plug_and_play",
            title: "Smart card Plug and Play (the id Windows Update is asked for)",
            steps: pnp.evidence,
            result: pnp_result(pnp.identity.as_ref()),
        },
        Flow {
            key: "winscard",
            title: "Winscard (which registered card it is; empty Calais\\SmartCards, ATR cache file)",
            steps: ws.evidence,
            result: ws_result,
        },
        Flow {
            key: "class_minidriver",
            title: "Class minidriver (CardAcquireContext's PIV/GIDS decision)",
            steps: class.evidence,
            result: class_result,
        },
    ])
}

/// `mdtool detect`.
///
/// # Errors
/// The card went away; the cache file is unreadable.
pub(crate) fn run(out: &mut Out, mut connected: Connected, cache_path: Option<&Path>) -> Outcome {
    let source = connected.source();
    let atr = connected.atr()?;
    let path = cache_path.map(Path::to_path_buf).or_else(default_cache_path);
    let mut cache = match &path {
        Some(p) => {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            AtrCache::load(p).map_err(|e| Failure::msg(format!("cannot read the ATR cache {}: {e}", p.display())))?
        }
        None => AtrCache::in_memory(),
    };
    let flows = flows(connected.transport(), &mut cache).map_err(|e| {
        let code = match e {
            card_edges::Error::Transport(t) => t.scard_code(),
            _ => 0x8010_001F,
        };
        Failure::code(mdtool::csp::Code(code), "running the detection flows")
    })?;
    if out.json() {
        out.json_value(&json!({
            "reader": source.reader_name(),
            "atr": hex::encode_upper(&atr),
            "atr_cache": path.as_ref().map(|p| p.display().to_string()),
            "flows": flows.iter().map(|f| json!({
                "flow": f.key,
                "steps": f.steps.iter().map(step_json).collect::<Vec<_>>(),
                "result": f.result,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    out.line(format!("Card in {}: ATR {}", source.describe(), hex::encode_upper(&atr)));
    if let Some(p) = &path {
        out.line(format!("ATR cache: {}", p.display()));
    }
    for f in &flows {
        out.line("");
        out.line(format!("{}:", f.title));
        for (i, s) in f.steps.iter().enumerate() {
            out.line(format!("  {}. {}", i + 1, s.action));
            if let Some(c) = &s.command {
                out.line(format!("       > {}", hex::encode_upper(c)));
            }
            if let Some(r) = &s.response {
                let data = if r.data.is_empty() { String::new() } else { format!("{} ", hex::encode_upper(&r.data)) };
                out.line(format!("       < {data}{:04X}", r.sw.0));
            }
            out.line(format!("       = {}", s.finding));
        }
        out.line(format!("  => {}", f.result));
    }
    Ok(())
}

/// A one-line summary of the flows, for `watch`.
///
/// # Errors
/// Transport failures.
pub(crate) fn summary(transport: &mut dyn Transport) -> card_edges::Result<String> {
    let mut cache = AtrCache::in_memory();
    let flows = flows(transport, &mut cache)?;
    Ok(flows.iter().map(|f| format!("{}: {}", f.key.replace('_', " "), f.result)).collect::<Vec<_>>().join("; "))
}

/// The card edge Winscard's discovery finds (GIDS SELECT, then PIV SELECT), which decides the
/// card name a CSP passes to `CardAcquireContext`; `None` for a card with neither application.
pub(crate) fn winscard_edge(transport: &mut dyn Transport) -> Option<CardEdge> {
    let mut session = Session::from_atr(transport).ok()?;
    let ws = winscard(&mut session, &[], &mut AtrCache::in_memory()).ok()?;
    match ws.matched {
        Some(WinscardMatch::Selected(e) | WinscardMatch::Cached(e)) => Some(e),
        _ => None,
    }
}
