//! `mdtool serve --sim piv|gids|gids-new`: a simulated card on vsmartcard's vpcd, so that pcscd
//! shows it in its `Virtual PCD` reader and any PC/SC program (mdtool itself, OpenSC,
//! yubico-piv-tool, gids-tool) can use it. Connects to 127.0.0.1 only; runs until killed.

use std::time::Duration;

use card_edges::transport::memory::CardSlot;

use crate::card::sim_card;
use crate::errors::{Failure, Outcome};
use crate::output::{Out, notice};
use crate::{Global, SimKind};

/// vpcd's first reader listens here.
pub(crate) const DEFAULT_PORT: u16 = 35963;

/// `mdtool serve`.
///
/// # Errors
/// The card cannot be made; the server thread cannot start.
pub(crate) fn run(g: &Global, out: &mut Out, port: u16) -> Outcome {
    let kind = g.sim.unwrap_or(SimKind::Piv);
    let sim = sim_card(kind, g.seed)?;
    sim.set_trace(g.trace);
    let server = card_sim::vpcd::serve(CardSlot::new(sim.clone()), port);
    out.line(format!(
        "serving the simulated {} (ATR {}) to vpcd at 127.0.0.1:{port}; runs until killed (Ctrl-C)",
        kind.card(),
        hex::encode_upper(sim.atr())
    ));
    let mut connected = false;
    loop {
        if !server.is_running() {
            return Err(Failure::msg("the vpcd client thread stopped"));
        }
        let now = server.is_connected();
        if now != connected {
            connected = now;
            if now {
                out.line(format!("connected to vpcd on port {port}: the card is in pcscd's Virtual PCD reader"));
            } else {
                out.line("vpcd closed the connection (pcscd stopped?): waiting for it to come back");
            }
        }
        for t in sim.take_trace() {
            notice(format!("card: > {}  < {}", t.command, t.response));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
