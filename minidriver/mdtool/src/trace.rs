//! `--trace`: every APDU on stderr, under the entry point that caused it (the minidriver's span
//! `minidriver{entry=...}`), with PINs and keys redacted by the card edge, and a count per
//! entry point and per command at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Where APDU counts accumulate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    inner: Arc<Mutex<Tally>>,
}

#[derive(Debug, Default)]
struct Tally {
    /// Entry point -> (calls, APDUs).
    by_entry: BTreeMap<String, (u64, u64)>,
    /// INS byte -> APDUs.
    by_ins: BTreeMap<u8, u64>,
    total: u64,
}

/// The entry point a span stands for.
struct Entry(String);

#[derive(Default)]
struct Fields {
    entry: Option<String>,
    command: Option<String>,
    apdus: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "entry" => self.entry = Some(value.to_owned()),
            "command" => self.command = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "apdus" {
            self.apdus = Some(value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "apdus" {
            self.apdus = u64::try_from(value).ok();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
        match field.name() {
            "entry" => self.entry = Some(format!("{value:?}")),
            "command" => self.command = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// Counts APDU events by the innermost enclosing span that names an entry point.
struct CountLayer {
    counts: Counts,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CountLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(entry), Some(span)) = (fields.entry, ctx.span(id)) {
            if span.name() == "csp" {
                // mdtool's own span around CardAcquireContext, which has no end-of-call event.
                self.counts
                    .inner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .by_entry
                    .entry(entry.clone())
                    .or_default()
                    .0 += 1;
            }
            span.extensions_mut().insert(Entry(entry));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let entry = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().filter_map(|span| span.extensions().get::<Entry>().map(|e| e.0.clone())).last()
        });
        let mut tally = self.counts.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if event.metadata().target() == "apdu" {
            let ins = fields.command.as_deref().and_then(|c| c.get(2..4)).and_then(|h| u8::from_str_radix(h, 16).ok());
            tally.total += 1;
            if let Some(ins) = ins {
                *tally.by_ins.entry(ins).or_default() += 1;
            }
            tally.by_entry.entry(entry.unwrap_or_else(|| "(outside the minidriver)".into())).or_default().1 += 1;
        } else if fields.apdus.is_some()
            && let Some(entry) = entry
        {
            // The minidriver's end-of-call event: one call of this entry point.
            tally.by_entry.entry(entry).or_default().0 += 1;
        }
    }
}

/// Installs the trace subscriber (stderr) and returns the counts it keeps.
pub(crate) fn install() -> Counts {
    let counts = Counts::default();
    let filter = Targets::new()
        .with_target("apdu", Level::DEBUG)
        .with_target("minidriver", Level::DEBUG)
        .with_target("mdtool", Level::DEBUG);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false);
    let subscriber = tracing_subscriber::registry().with(filter).with(fmt).with(CountLayer { counts: counts.clone() });
    let _ = tracing::subscriber::set_global_default(subscriber);
    counts
}

/// The name of a command byte, for the summary.
pub(crate) fn ins_name(ins: u8) -> &'static str {
    match ins {
        0xA4 => "SELECT",
        0xCB => "GET DATA",
        0xCA => "GET DATA (even)",
        0xDB => "PUT DATA",
        0x20 => "VERIFY",
        0x24 => "CHANGE REFERENCE DATA",
        0x2C => "RESET RETRY COUNTER",
        0x87 => "GENERAL AUTHENTICATE",
        0x47 => "GENERATE ASYMMETRIC KEY PAIR",
        0xC0 => "GET RESPONSE",
        0xB0 => "READ BINARY",
        0xFD => "GET VERSION (YubiKey)",
        0xF8 => "GET SERIAL (YubiKey)",
        0xF7 => "GET METADATA (YubiKey)",
        0xFF => "SET MANAGEMENT KEY (YubiKey)",
        _ => "other",
    }
}

impl Counts {
    /// The summary printed at the end of a traced run.
    pub(crate) fn summary(&self) -> String {
        let tally = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        let _ = writeln!(out, "trace: {} APDUs", tally.total);
        let _ = writeln!(out, "  by entry point:");
        for (entry, (calls, apdus)) in &tally.by_entry {
            let calls = if *calls == 0 { String::new() } else { format!("{calls} call{}", plural(*calls)) };
            let _ = writeln!(out, "    {entry:<32} {calls:>9} {apdus:>5} APDU{}", plural(*apdus));
        }
        let _ = writeln!(out, "  by command:");
        for (ins, n) in &tally.by_ins {
            let _ = writeln!(out, "    {ins:02X} {:<38} {n:>5}", ins_name(*ins));
        }
        out
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
