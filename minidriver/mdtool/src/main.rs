//! `mdtool`: the minidriver's shim and diagnostic CLI. It plays the Base CSP (`mdtool::csp`):
//! every card operation goes through the `CARD_DATA` function table that `CardAcquireContext`
//! filled, so every run exercises the same C path Windows uses.
//!
//! Exit status: 0 success, 1 the operation failed, 2 the command line was wrong.

mod card;
mod conformance_cli;
mod detect;
mod errors;
mod files;
mod inf;
mod keys;
mod ops;
mod output;
mod piv;
mod readers;
mod scinfo;
mod secrets;
mod serve;
mod trace;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::errors::{Failure, Outcome};
use crate::output::Out;

/// Answers to "how do I watch card insertion and removal" and "the resource manager will not
/// start" (seed 001), shown by `mdtool --help`.
const AFTER_HELP: &str = "\
Watching card insertion and removal:
  `mdtool watch` prints each insertion (with what card detection found) and removal, and readers
  being plugged in or out, until Ctrl-C. It waits in SCardGetStatusChange on every reader plus the
  PnP pseudo-reader \\\\?PnP?\\Notification: the same call on Windows (winscard.dll) and on
  pcsc-lite, so a program can do the same. `--json` prints one JSON object per event.

When the resource manager will not start:
  Linux (pcsc-lite): `sudo systemctl start pcscd` (socket activation: `sudo systemctl enable --now
  pcscd.socket`); without systemd run `pcscd` as root, or `pcscd --foreground --debug` to see why it
  stops. Windows: the Smart Card service (SCardSvr) starts on demand; make it automatic with
  `sc config SCardSvr start= auto` and start it with `sc start SCardSvr`. Error 1068 (\"the dependency
  service or group failed to start\") means Plug and Play (PlugPlay), which it depends on, is not
  running: start that first (`sc query PlugPlay`). With no service or no card, the read-only
  diagnostics (scinfo, detect, ls, cat) fall back to the embedded simulated PIV card and say so;
  commands that use keys or PINs fail instead, unless --sim names the simulated card.

Secrets never come from the command line: the PIN from MDTOOL_PIN, --pin-file FILE or a prompt
without echo (likewise MDTOOL_NEW_PIN, MDTOOL_PUK, MDTOOL_ADMIN_KEY in hex).
Exit status: 0 success, 1 the operation failed, 2 usage error.

First command (no reader needed): MDTOOL_PIN=123456 mdtool --sim piv scinfo";

/// Simulated cards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SimKind {
    /// A PIV card: PIN 123456, PUK 12345678, the default 3DES management key, 4 keys with certificates.
    Piv,
    /// A GIDS card: PIN 123456, administrator key 0102030405060708 x3, RSA-2048 and RSA-3072 keys with certificates.
    Gids,
    /// A factory-new GIDS card, for `gids-tool --initialize` (served with `mdtool serve`).
    GidsNew,
}

/// Options every command accepts.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// Use this PC/SC reader (its name or a unique part of it).
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "sim")]
    pub(crate) reader: Option<String>,
    /// Use an embedded simulated card (the default when no reader holds a card).
    #[arg(long, global = true, value_enum, value_name = "CARD")]
    pub(crate) sim: Option<SimKind>,
    /// Provision the simulated card from this seed instead of the fixed test vectors.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Load this minidriver library (libminidriver.so / minidriver.dll) instead of the linked one.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) driver: Option<PathBuf>,
    /// Print every APDU (PINs and keys redacted) under the entry point that caused it, and a count.
    #[arg(long, global = true)]
    pub(crate) trace: bool,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Read the PIN from this file (first line) instead of MDTOOL_PIN or a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) pin_file: Option<PathBuf>,
    /// Read the new PIN (or PUK) from this file instead of MDTOOL_NEW_PIN or a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) new_pin_file: Option<PathBuf>,
    /// Read the PUK from this file instead of MDTOOL_PUK or a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) puk_file: Option<PathBuf>,
    /// Read the card management key (hex) from this file instead of MDTOOL_ADMIN_KEY or a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) admin_key_file: Option<PathBuf>,
}

#[derive(Debug, Parser)]
#[command(
    name = "mdtool",
    version,
    about = "Smart card minidriver shim and diagnostics: plays the Base CSP through the CARD_DATA function table",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists the PC/SC readers, whether a card is present, and its ATR.
    Readers,
    /// Prints card insertions and removals as they happen (and what detection finds).
    Watch {
        /// Stop after this many insertions and removals.
        #[arg(long, value_name = "N")]
        count: Option<u32>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
        /// Do not run the detection flows on insertion.
        #[arg(long)]
        no_detect: bool,
    },
    /// Runs Windows' three card detection flows (seed 002), showing each APDU and what it proved.
    Detect {
        /// The Winscard flow's ATR cache file (default: $XDG_CACHE_HOME/mdtool/atr-cache).
        #[arg(long, value_name = "FILE")]
        atr_cache: Option<PathBuf>,
    },
    /// Like `certutil -scinfo`: card, properties, PINs, containers, certificates, and with a PIN a
    /// sign + verify self test per container.
    Scinfo {
        /// Ask for the PIN if it is not in MDTOOL_PIN or --pin-file (the embedded simulated card's
        /// is known), to run every self test.
        #[arg(long)]
        self_test: bool,
    },
    /// Lists the card's logical files (-l: access conditions and sizes).
    Ls {
        /// Long listing: access condition, size.
        #[arg(short = 'l')]
        long: bool,
        /// Only this directory (e.g. mscp).
        dir: Option<String>,
    },
    /// Prints a card file (raw bytes; hex on a terminal or with --hex).
    Cat {
        /// DIR/FILE or FILE, e.g. mscp/kxc00, cardid.
        path: String,
        /// Print hex.
        #[arg(long)]
        hex: bool,
        /// Write the bytes to this file.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Signs data (or a hash) with a container's key: the signature in hex (RSA big-endian,
    /// ECDSA r||s).
    Sign {
        #[command(flatten)]
        args: ops::SignArgs,
        /// Write the raw signature to this file instead.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verifies a signature with the container's certificate (no PIN needed).
    Verify {
        #[command(flatten)]
        args: ops::SignArgs,
        /// The signature: raw bytes or hex text.
        #[arg(short, long, value_name = "FILE")]
        signature: PathBuf,
    },
    /// Decrypts an RSA ciphertext (big-endian, raw or hex) with a container's key.
    Decrypt {
        /// Key container index (default: the first RSA key exchange container).
        #[arg(short, long, value_name = "N")]
        container: Option<u8>,
        /// The ciphertext (`-`: standard input).
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// OAEP with this hash instead of PKCS#1 v1.5.
        #[arg(long, value_enum, value_name = "HASH")]
        oaep: Option<keys::Hash>,
        /// Print hex.
        #[arg(long)]
        hex: bool,
        /// Write the plaintext to this file.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// PIN operations: verify, change, unblock, status.
    Pin {
        #[command(subcommand)]
        cmd: ops::PinCmd,
    },
    /// PIV token settings: the management key (stored PIN-protected, so that the user PIN
    /// alone lets Windows enrol).
    Piv {
        #[command(subcommand)]
        cmd: piv::PivCmd,
    },
    /// Generates a key pair on the card (the user PIN where the card supports Windows enrollment
    /// with it, as scinfo shows; else the card management key).
    Keygen {
        /// Key container index (PIV: 0 = 9A, 1 = 9C, 2 = 9D, 3 = 9E, 4.. = 82..).
        #[arg(short, long, value_name = "N")]
        container: u8,
        /// Key algorithm.
        #[arg(long, value_enum, default_value = "p256")]
        alg: ops::KeyAlg,
        /// Key role (default: as the container's key, else as the slot's usual one).
        #[arg(long, value_enum)]
        role: Option<ops::Role>,
        /// Write the public key (PEM) to this file.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Imports a private key (PKCS#8, DER or PEM) into a container, where the card allows it.
    Import {
        /// Key container index.
        #[arg(short, long, value_name = "N")]
        container: u8,
        /// The private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Key role (default: key exchange for RSA, signature for EC).
        #[arg(long, value_enum)]
        role: Option<ops::Role>,
    },
    /// Prints the INF and .reg text registering the card's ATR with this minidriver on Windows.
    Inf {
        #[command(flatten)]
        args: inf::InfArgs,
    },
    /// Checks the minidriver (--driver PATH, else the linked one) against the Smart Card
    /// Minidriver Specification v7.07, black-box, item by item; exit 0 when no MUST check failed.
    Conformance {
        #[command(flatten)]
        args: conformance_cli::ConformanceArgs,
    },
    /// The process `conformance` runs the checks in (its events on stdout, secrets on stdin).
    #[command(hide = true)]
    ConformanceWorker {
        #[command(flatten)]
        args: conformance_cli::ConformanceArgs,
    },
    /// Serves the simulated card on vsmartcard's vpcd (127.0.0.1) for any PC/SC program.
    Serve {
        /// vpcd's port (35963 is its first reader, "Virtual PCD 00 00").
        #[arg(long, value_name = "PORT", default_value_t = serve::DEFAULT_PORT)]
        vpcd: u16,
    },
}

/// Read-only diagnostics fall back to the simulated card (announced); everything else needs a
/// reader or an explicit `--sim`.
const DIAGNOSTIC: card::Fallback = card::Fallback::Simulated;
/// Commands whose result depends on the card's own keys or identity.
const KEYS: card::Fallback = card::Fallback::Never;

fn dispatch(g: &Global, out: &mut Out, command: &Command) -> Outcome {
    match command {
        Command::Readers => readers::run(out),
        Command::Watch { count, timeout, no_detect } => watch::run(out, *count, *timeout, !no_detect),
        Command::Detect { atr_cache } => detect::run(out, card::connect(g, DIAGNOSTIC)?, atr_cache.as_deref()),
        Command::Scinfo { self_test } => {
            let mut connected = card::connect(g, DIAGNOSTIC)?;
            // Why Windows can or cannot enrol (a PIV question the function table cannot ask).
            let access = piv::management_key_access(connected.transport());
            scinfo::run(g, out, &card::acquire(g, connected)?, *self_test, access)
        }
        Command::Ls { long, dir } => files::ls(out, &card::open(g, DIAGNOSTIC)?.csp, dir.as_deref(), *long),
        Command::Cat { path, hex, out: to } => {
            files::cat(out, &card::open(g, DIAGNOSTIC)?.csp, path, *hex, to.as_deref())
        }
        Command::Sign { args, out: to } => ops::sign(g, out, &card::open(g, KEYS)?, args, to.as_deref()),
        Command::Verify { args, signature } => ops::verify(out, &card::open(g, KEYS)?, args, signature),
        Command::Decrypt { container, input, oaep, hex, out: to } => {
            ops::decrypt(g, out, &card::open(g, KEYS)?, *container, input.as_deref(), *oaep, *hex, to.as_deref())
        }
        Command::Pin { cmd } => ops::pin(g, out, &card::open(g, KEYS)?, cmd),
        Command::Piv { cmd } => piv::run(g, out, cmd),
        Command::Keygen { container, alg, role, out: to } => {
            ops::keygen(g, out, &card::open(g, KEYS)?, *container, *alg, *role, to.as_deref())
        }
        Command::Import { container, key, role } => ops::import(g, out, &card::open(g, KEYS)?, *container, key, *role),
        Command::Inf { args } => {
            let mut connected = card::connect(g, KEYS)?;
            let atr = connected.atr()?;
            let edge = match connected.source() {
                card::Source::Sim(kind) => Some(kind.edge()),
                card::Source::Reader(_) => detect::winscard_edge(connected.transport()),
            };
            let edge = match edge {
                Some(card_edges::detect::CardEdge::Gids) => "GIDS",
                Some(card_edges::detect::CardEdge::Piv) => "PIV",
                None => "Smart",
            };
            inf::run(out, &atr, &connected.source().describe(), edge, args)
        }
        Command::Conformance { args } => conformance_cli::run(g, out, args),
        Command::ConformanceWorker { args } => conformance_cli::work(g, args),
        Command::Serve { vpcd } => {
            if g.reader.is_some() {
                return Err(Failure::usage("serve serves the simulated card (--sim piv), not a reader's card"));
            }
            serve::run(g, out, *vpcd)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let counts = g.trace.then(trace::install);
    if g.trace && g.driver.is_some() {
        output::notice("--trace sees the linked minidriver only: a loaded library logs into its own copy of tracing");
    }
    let mut out = Out::new(g.json);
    let result = dispatch(g, &mut out, &cli.command);
    if let Some(counts) = counts {
        eprint!("{}", counts.summary());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            output::notice(format!("error: {}", f.message));
            if g.json && !out.printed_json() {
                let code = f.code.map(|c| format!("0x{c:08X}"));
                out.json_value(&serde_json::json!({ "error": f.message, "code": code }));
            }
            ExitCode::from(u8::try_from(f.exit).unwrap_or(1))
        }
    }
}
