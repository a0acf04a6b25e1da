//! `mdtool conformance` and its hidden worker: which card and driver, the secrets (given, or
//! the simulated cards' published ones), the worker's command line, and the report on stdout.
//! The checks themselves are the library's (`mdtool::conformance`).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use card_edges::transport::memory::CardSlot;
use mdtool::conformance::report::{self, Report};
use mdtool::conformance::{Bench, Counters, Options, worker};
use zeroize::Zeroizing;

use crate::card;
use crate::errors::{Failure, Outcome};
use crate::output::Out;
use crate::{Global, SimKind, readers, secrets};

/// What `conformance` was asked for.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ConformanceArgs {
    /// Only the checks of these items: numbers and ranges, e.g. `15-30,87,153`.
    #[arg(long, value_name = "LIST")]
    pub(crate) items: Option<String>,
    /// Also run the checks that write files, create or delete containers, generate keys, change
    /// the PIN (and back) or unblock it.
    #[arg(long)]
    pub(crate) destructive: bool,
    /// A step that takes longer than this is a hung driver: the run ends there.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) step_timeout: u64,
}

/// `--items`: numbers and ranges separated by commas.
fn parse_items(text: &str) -> Outcome<BTreeSet<u16>> {
    let bad =
        || Failure::usage(format!("--items {text:?}: numbers 1 to 174 and ranges like 15-30, separated by commas"));
    let mut items = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u16, u16) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
        if lo == 0 || hi > 174 || lo > hi {
            return Err(bad());
        }
        items.extend(lo..=hi);
    }
    if items.is_empty() {
        return Err(bad());
    }
    Ok(items)
}

/// The options without secrets.
fn options(args: &ConformanceArgs) -> Outcome<Options> {
    Ok(Options {
        items: args.items.as_deref().map(parse_items).transpose()?,
        destructive: args.destructive,
        pin: None,
        admin_key: None,
    })
}

/// The user PIN: given, else the simulated card's published one, else asked for on a terminal
/// (an empty answer: none, and the PIN checks are skipped).
fn pin(g: &Global) -> Outcome<Option<Zeroizing<Vec<u8>>>> {
    if let Some(v) = secrets::given(secrets::PIN, g.pin_file.as_deref())? {
        return Ok(Some(v));
    }
    if g.sim.is_some() {
        return Ok(Some(Zeroizing::new(card::SIM_PIN.to_vec())));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    match secrets::obtain(secrets::PIN, None) {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.exit == 2 => Ok(None),
        Err(f) => Err(f),
    }
}

/// The administrator key: given, else the simulated card's published one.
fn admin_key(g: &Global) -> Outcome<Option<Zeroizing<Vec<u8>>>> {
    if secrets::given(secrets::ADMIN_KEY, g.admin_key_file.as_deref())?.is_some() {
        return secrets::admin_key(g.admin_key_file.as_deref()).map(Some);
    }
    Ok(g.sim.is_some().then(|| Zeroizing::new(card::SIM_ADMIN_KEY.to_vec())))
}

/// The reader the run uses: `--reader`, else the first one holding a card.
fn reader(g: &Global) -> Outcome<String> {
    let ctx = readers::context()?;
    let all = readers::list(&ctx)?;
    drop(ctx);
    match g.reader.as_deref() {
        Some(wanted) => Ok(readers::find(&all, wanted)?.name),
        None => all.iter().find(|r| r.present && !r.mute).map(|r| r.name.clone()).ok_or_else(|| {
            Failure::pcsc(if all.is_empty() { crate::errors::NO_READERS } else { crate::errors::NO_SMARTCARD }, None)
        }),
    }
}

/// `mdtool conformance`: starts the worker, prints the report, fails unless every MUST passed.
pub(crate) fn run(g: &Global, out: &mut Out, args: &ConformanceArgs) -> Outcome {
    if g.sim.is_some() && g.driver.is_some() {
        return Err(Failure::usage(
            "--driver loads a minidriver library for PC/SC readers; the embedded simulated card is served by the \
             linked minidriver (serve it with `mdtool serve` to reach it through a loaded library)",
        ));
    }
    if g.sim == Some(SimKind::GidsNew) {
        return Err(Failure::usage("conformance needs a provisioned card: --sim piv or --sim gids"));
    }
    let mut options = options(args)?;
    let exe = std::env::current_exe().map_err(|e| Failure::msg(format!("cannot find mdtool itself: {e}")))?;
    let mut worker = std::process::Command::new(exe);
    let card = match g.sim {
        Some(kind) => {
            worker.args(["--sim", kind.name()]);
            format!("embedded simulated {} (--sim {})", kind.card(), kind.name())
        }
        None => {
            let name = reader(g)?;
            worker.args(["--reader", &name]);
            format!("reader \"{name}\"")
        }
    };
    if let Some(seed) = g.seed {
        worker.args(["--seed", &seed.to_string()]);
    }
    if let Some(driver) = &g.driver {
        worker.arg("--driver").arg(driver);
    }
    worker.arg("conformance-worker");
    if let Some(items) = &args.items {
        worker.args(["--items", items]);
    }
    if args.destructive {
        worker.arg("--destructive");
    }
    for v in [secrets::PIN_ENV, secrets::NEW_PIN_ENV, secrets::PUK_ENV, secrets::NEW_PUK_ENV, secrets::ADMIN_KEY_ENV] {
        worker.env_remove(v);
    }
    options.pin = pin(g)?;
    options.admin_key = admin_key(g)?;
    let secrets_input = worker::secrets_input(&options);
    let mut report = Report {
        driver: g
            .driver
            .as_ref()
            .map_or_else(|| "linked (the minidriver built into mdtool)".to_owned(), |p| p.display().to_string()),
        card,
        apdus_seen: g.sim.is_some(),
        destructive: args.destructive,
        run: worker::Supervised::default(),
        seconds: 0.0,
    };
    if !out.json() {
        print_text(&report.header());
    }
    let clock = Instant::now();
    let json = out.json();
    let supervised =
        worker::supervise(worker, &secrets_input, Duration::from_secs(args.step_timeout.max(1)), &mut |f| {
            if !json {
                print_text(&format!("{}\n", report::line(f)));
            }
        })
        .map_err(|e| Failure::msg(format!("cannot start the conformance worker: {e}")))?;
    report.run = supervised;
    report.seconds = clock.elapsed().as_secs_f64();
    if out.json() {
        out.json_value(&report.json());
    } else {
        print_text(&report.footer());
    }
    if report.passed() {
        Ok(())
    } else {
        Err(Failure::msg(match &report.run.abort {
            Some(abort) => format!("conformance: {}", abort.describe()),
            None => "conformance: a MUST check failed".to_owned(),
        }))
    }
}

fn print_text(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// The hidden worker: the secrets from standard input, the checks, the events on stdout.
pub(crate) fn work(g: &Global, args: &ConformanceArgs) -> Outcome {
    let mut options = options(args)?;
    worker::read_secrets(&mut std::io::stdin().lock(), &mut options)
        .map_err(|e| Failure::msg(format!("the conformance worker's input: {e}")))?;
    let bench = match g.sim {
        Some(kind) => {
            let sim = card::sim_card(kind, g.seed)?;
            let counters: Counters = {
                let sim = sim.clone();
                Box::new(move || sim.counters())
            };
            let slot = CardSlot::new(sim);
            Bench::simulated(slot, counters, kind.edge().windows_card_name()).map_err(Failure::msg)?
        }
        None => {
            let name = reader(g)?;
            let driver = card::driver(g)?;
            let card_name = card_name(&name);
            Bench::reader(driver, &name, &card_name).map_err(Failure::msg)?
        }
    };
    worker::work(&bench, &options, &mut std::io::stdout().lock())
        .map_err(|e| Failure::msg(format!("the conformance worker's output: {e}")))
}

/// The card name Windows registered for the card in `reader` (for class minidriver cards, the
/// edge's), found as `card::acquire` finds it.
fn card_name(reader: &str) -> String {
    let edge = std::ffi::CString::new(reader)
        .ok()
        .and_then(|n| card_edges::transport::pcsc::PcscCard::connect(&n).ok())
        .and_then(|mut c| crate::detect::winscard_edge(&mut c));
    edge.map_or("Identity Device (NIST SP 800-73 [PIV])", |e| e.windows_card_name()).to_owned()
}
