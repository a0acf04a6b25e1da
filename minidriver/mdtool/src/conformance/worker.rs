//! The runner's two processes. The worker (`mdtool conformance-worker`, hidden) loads the
//! driver, runs the checks and writes one JSON line per event on its standard output: a step
//! started, a step's finding, the end. The parent ([`supervise`]) reads them with a timeout
//! per step: a step that does not finish in time is a hung driver (the worker is killed), and a
//! worker that dies before the end crashed in the step it last announced. The secrets reach the
//! worker on its standard input, never on its command line or in its environment.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::report::{finding_from_json, finding_json};
use super::{Bench, Finding, Options, registry};
use crate::csp::{driver_frees, live_allocations};

/// The stand-in CSP's allocation balance when the worker ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// `pfnCspAlloc` buffers still allocated after every context was deleted.
    pub live: u64,
    /// Buffers the driver freed with `pfnCspFree`.
    pub driver_frees: u64,
    /// Of those, how many it had not zeroed.
    pub unzeroed_frees: u64,
}

/// Why a run ended before its last check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Abort {
    /// A step did not finish within the timeout: the worker was killed.
    Hang {
        /// The step, `None` before the first one (loading the driver, the first connection).
        step: Option<(String, u16)>,
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The worker died by a signal (a crash in the driver).
    Crash {
        /// The step it was in.
        step: Option<(String, u16)>,
        /// The signal, where the platform has them.
        signal: Option<i32>,
    },
    /// The worker ended without finishing (an exit status, or unreadable output).
    Died {
        /// The step it was in.
        step: Option<(String, u16)>,
        /// What happened.
        detail: String,
    },
}

impl Abort {
    /// One sentence for the report.
    pub fn describe(&self) -> String {
        let step = |s: &Option<(String, u16)>| match s {
            Some((id, item)) => format!("step {id} (item {item})"),
            None => "setting up (loading the driver or connecting)".to_owned(),
        };
        match self {
            Self::Hang { step: s, seconds } => {
                format!("hang in {}: no answer within {seconds} s, the worker was killed", step(s))
            }
            Self::Crash { step: s, signal: Some(n) } => format!("crash in {}: the worker died by signal {n}", step(s)),
            Self::Crash { step: s, signal: None } => format!("crash in {}", step(s)),
            Self::Died { step: s, detail } => format!("the worker ended in {}: {detail}", step(s)),
        }
    }
}

/// What the worker reported.
#[derive(Clone, Debug, Default)]
pub struct Supervised {
    /// One finding per check that finished.
    pub findings: Vec<Finding>,
    /// The allocation balance, when the worker got to the end.
    pub balance: Option<Balance>,
    /// Why it did not, if it did not.
    pub abort: Option<Abort>,
}

/// The worker's side: runs the checks on `bench`, writing the events to `out`.
///
/// # Errors
/// `out` failed.
pub fn work(bench: &Bench, options: &Options, out: &mut dyn Write) -> io::Result<()> {
    let mut failed: Option<io::Error> = None;
    let mut emit = |value: serde_json::Value| {
        if failed.is_none()
            && let Err(e) = writeln!(out, "{value}").and_then(|()| out.flush())
        {
            failed = Some(e);
        }
    };
    let emit = std::cell::RefCell::new(&mut emit);
    registry::execute(
        bench,
        options,
        &mut |id, item| (emit.borrow_mut())(serde_json::json!({ "event": "start", "id": id, "item": item })),
        &mut |finding| {
            let mut v = finding_json(&finding);
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "finding".into());
            }
            (emit.borrow_mut())(v);
        },
    );
    let (frees, unzeroed) = driver_frees();
    (emit.borrow_mut())(serde_json::json!({
        "event": "end",
        "live_allocations": live_allocations(),
        "driver_frees": frees,
        "unzeroed_frees": unzeroed,
    }));
    failed.map_or(Ok(()), Err)
}

/// The secrets, as the worker's first lines of input: `pin HEX`, `admin HEX`.
pub fn secrets_input(options: &Options) -> Zeroizing<Vec<u8>> {
    let mut text = Zeroizing::new(Vec::new());
    for (name, value) in [("pin", &options.pin), ("admin", &options.admin_key)] {
        if let Some(v) = value {
            text.extend_from_slice(name.as_bytes());
            text.push(b' ');
            text.extend_from_slice(hex::encode(v.as_slice()).as_bytes());
            text.push(b'\n');
        }
    }
    text
}

/// The worker reads the secrets from `input` (to its end) into `options`.
///
/// # Errors
/// `input` failed or holds something else.
pub fn read_secrets(input: &mut dyn Read, options: &mut Options) -> io::Result<()> {
    let mut text = Zeroizing::new(Vec::new());
    input.read_to_end(&mut text)?;
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "a secrets line the worker does not know");
        let (name, value) = line.split_at(line.iter().position(|b| *b == b' ').ok_or_else(bad)?);
        let value = Zeroizing::new(hex::decode(value.get(1..).unwrap_or_default()).map_err(|_| bad())?);
        match name {
            b"pin" => options.pin = Some(value),
            b"admin" => options.admin_key = Some(value),
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// The parent's side: starts `worker` (its standard input gets `secrets`, its standard output
/// is read), hands every finding to `progress` as it arrives, and ends the worker when a step
/// takes longer than `step_timeout`.
///
/// # Errors
/// The worker could not be started.
pub fn supervise(
    mut worker: Command,
    secrets: &[u8],
    step_timeout: Duration,
    progress: &mut dyn FnMut(&Finding),
) -> io::Result<Supervised> {
    let mut child = worker.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that dies at once closes the pipe: what it did is read from its output.
        let _ = stdin.write_all(secrets);
    }
    let lines = child.stdout.take().map(|stdout| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    });
    let Some(lines) = lines else {
        let _ = child.kill();
        return Err(io::Error::other("the worker has no output pipe"));
    };
    let mut out = Supervised::default();
    let mut step: Option<(String, u16)> = None;
    loop {
        match lines.recv_timeout(step_timeout) {
            Ok(line) => match event(&line) {
                Some(Event::Start(id, item)) => step = Some((id, item)),
                Some(Event::Finding(f)) => {
                    progress(&f);
                    out.findings.push(*f);
                    step = None;
                }
                Some(Event::End(b)) => out.balance = Some(b),
                None => {}
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                end(&mut child);
                out.abort = Some(Abort::Hang { step, seconds: step_timeout.as_secs() });
                return Ok(out);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait()?;
    if out.balance.is_none() || !status.success() {
        out.abort = Some(died(step, status));
    }
    Ok(out)
}

fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
fn died(step: Option<(String, u16)>, status: std::process::ExitStatus) -> Abort {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => Abort::Crash { step, signal: Some(signal) },
        None => Abort::Died { step, detail: format!("exit status {}", status.code().unwrap_or(-1)) },
    }
}

#[cfg(not(unix))]
fn died(step: Option<(String, u16)>, status: std::process::ExitStatus) -> Abort {
    // On Windows a crash is an exit status that is an NTSTATUS exception code (0xC0000005...).
    match status.code() {
        Some(code) if (code as u32) >= 0xC000_0000 => Abort::Crash { step, signal: None },
        code => Abort::Died { step, detail: format!("exit status {}", code.unwrap_or(-1)) },
    }
}

enum Event {
    Start(String, u16),
    Finding(Box<Finding>),
    End(Balance),
}

fn event(line: &str) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    match v.get("event")?.as_str()? {
        "start" => {
            let id = v.get("id")?.as_str()?.to_owned();
            let item = u16::try_from(v.get("item")?.as_u64()?).ok()?;
            Some(Event::Start(id, item))
        }
        "finding" => finding_from_json(&v).map(|f| Event::Finding(Box::new(f))),
        "end" => {
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            Some(Event::End(Balance {
                live: n("live_allocations"),
                driver_frees: n("driver_frees"),
                unzeroed_frees: n("unzeroed_frees"),
            }))
        }
        _ => None,
    }
}
