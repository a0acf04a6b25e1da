//! `mdtool piv ...`: what only a PIV token has, done on the card directly (not through the
//! minidriver's function table, which is card-neutral): how the management key reaches a
//! write, and `protect-mgmt-key`, which replaces a factory-default (or a given) management key
//! with a random one stored PIN-protected the way yubico-piv-tool, ykman and Yubico's
//! minidriver store it (ADMIN DATA `5FFF00` flag `02`, PRINTED `5FC109` `88 { 89 key }`), so
//! that Windows can enrol with the user PIN alone. Nothing changes the key unless asked here
//! (or with the library option `MINIDRIVER_PIV_PROTECT_DEFAULT_MGMT_KEY=1`).

use card_edges::piv::{DEFAULT_MANAGEMENT_KEY, ManagementKeyAccess, PivEdge};
use card_edges::transport::Transport;
use serde_json::json;

use crate::card::{self, Connected, Fallback};
use crate::errors::{Failure, Outcome};
use crate::output::Out;
use crate::{Global, secrets};

/// `mdtool piv` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PivCmd {
    /// Replaces the management key with a random one stored PIN-protected on the card, so that
    /// the user PIN alone lets Windows generate keys and write certificates (needs the PIN; the
    /// current key is the factory default, or MDTOOL_ADMIN_KEY / --admin-key-file).
    ProtectMgmtKey,
}

/// How the management key reaches a write on the card behind `transport` (`None`: no PIV
/// application). Sends SELECT, then at most ADMIN DATA and the key's metadata.
pub(crate) fn management_key_access(transport: &mut dyn Transport) -> Option<ManagementKeyAccess> {
    let mut edge = PivEdge::from_transport(transport).ok()?;
    edge.select().ok()?;
    edge.management_key_access().ok()
}

/// Why enrollment with the user PIN is possible or not on a card with `access`, for scinfo.
pub(crate) fn explain(access: ManagementKeyAccess) -> &'static str {
    match access {
        ManagementKeyAccess::PinProtected => {
            "the management key is stored PIN-protected on the card (ADMIN DATA 5FFF00 flag 02)"
        }
        ManagementKeyAccess::FactoryDefault => {
            "the management key is the factory default (mdtool piv protect-mgmt-key replaces it with a random \
             PIN-protected one)"
        }
        ManagementKeyAccess::HolderOnly => {
            "the management key is neither PIN-protected on the card (ADMIN DATA 5FFF00 flag 02) nor the factory \
             default: only its holder can write (mdtool keygen with MDTOOL_ADMIN_KEY; mdtool piv protect-mgmt-key with \
             it stores it PIN-protected)"
        }
    }
}

fn edge_failure(e: &card_edges::Error, what: &str) -> Failure {
    Failure::msg(format!("{what}: {e}"))
}

/// `mdtool piv protect-mgmt-key`.
///
/// # Errors
/// No PIV application, a wrong PIN or key, a card that refuses.
pub(crate) fn run(g: &Global, out: &mut Out, cmd: &PivCmd) -> Outcome {
    match cmd {
        PivCmd::ProtectMgmtKey => protect(g, out, card::connect(g, Fallback::Never)?),
    }
}

fn protect(g: &Global, out: &mut Out, mut connected: Connected) -> Outcome {
    let source = connected.source();
    let mut edge =
        PivEdge::from_transport(connected.transport()).map_err(|e| edge_failure(&e, "connecting to the card"))?;
    edge.select().map_err(|e| edge_failure(&e, &format!("{}: no PIV application", source.describe())))?;
    let before = edge.management_key_access().map_err(|e| edge_failure(&e, "reading ADMIN DATA"))?;
    if before == ManagementKeyAccess::PinProtected {
        return report(out, "already", "the management key is already stored PIN-protected: nothing changed");
    }
    let pin = secrets::obtain(secrets::PIN, g.pin_file.as_deref())?;
    let current = match before {
        ManagementKeyAccess::FactoryDefault => None,
        _ => Some(secrets::admin_key(g.admin_key_file.as_deref())?),
    };
    let done = (|| {
        edge.verify_pin(&pin).map_err(|e| edge_failure(&e, "verifying the PIN"))?;
        edge.authenticate_admin(current.as_deref().map_or(&DEFAULT_MANAGEMENT_KEY[..], |k| &k[..]))
            .map_err(|e| edge_failure(&e, "authenticating the current management key"))?;
        edge.protect_management_key().map_err(|e| edge_failure(&e, "storing a new PIN-protected management key"))
    })();
    drop(edge);
    // The PIN and the management key stay authenticated until a reset: end them now.
    connected.reset()?;
    done?;
    report(
        out,
        "replaced",
        "replaced the management key with a random one stored PIN-protected (ADMIN DATA 5FFF00 flag 02, PRINTED \
         5FC109): the user PIN now lets Windows generate keys and write certificates",
    )
}

fn report(out: &mut Out, status: &str, text: &str) -> Outcome {
    if out.json() {
        out.json_value(&json!({ "management_key": "pin-protected", "status": status }));
    } else {
        out.line(text);
    }
    Ok(())
}
