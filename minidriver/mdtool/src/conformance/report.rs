//! The report: one line per check (item, level, result, the code returned and the code
//! expected, APDUs and bytes), totals per area and per level, the CSP's allocation balance,
//! and the exit status (0 when no MUST check failed and the run was not cut short). As text for
//! people, or as one JSON object.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::worker::{Abort, Balance, Supervised};
use super::{Area, Finding, Level, Status};
use crate::csp::Code;

/// A finished run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Which driver: `linked` or the library's path.
    pub driver: String,
    /// Where the card was.
    pub card: String,
    /// Whether the APDU columns are exact (the simulated card) or unknown (a reader).
    pub apdus_seen: bool,
    /// Whether the destructive checks were allowed.
    pub destructive: bool,
    /// The worker's findings, the balance and any abort.
    pub run: Supervised,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Counts of each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Not checkable black-box.
    pub not_checked: usize,
}

impl Tally {
    fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Skip => self.skip += 1,
            Status::NotChecked => self.not_checked += 1,
        }
    }

    /// Every finding counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skip + self.not_checked
    }

    fn json(&self) -> Value {
        json!({ "pass": self.pass, "fail": self.fail, "skip": self.skip, "not_checked": self.not_checked, "total": self.total() })
    }

    fn text(&self) -> String {
        format!("{} pass, {} fail, {} skip, {} not checked", self.pass, self.fail, self.skip, self.not_checked)
    }
}

impl Report {
    /// Totals of all findings.
    pub fn totals(&self) -> Tally {
        let mut t = Tally::default();
        self.run.findings.iter().for_each(|f| t.add(f.status));
        t
    }

    /// Totals per level.
    pub fn by_level(&self) -> BTreeMap<Level, Tally> {
        let mut m = BTreeMap::new();
        for f in &self.run.findings {
            m.entry(f.level).or_insert_with(Tally::default).add(f.status);
        }
        m
    }

    /// Totals per area.
    pub fn by_area(&self) -> BTreeMap<Area, Tally> {
        let mut m = BTreeMap::new();
        for f in &self.run.findings {
            m.entry(f.area).or_insert_with(Tally::default).add(f.status);
        }
        m
    }

    /// Whether every MUST check passed or was skipped, none failed, and the run reached its
    /// end with no `pfnCspAlloc` buffer left.
    pub fn passed(&self) -> bool {
        self.run.abort.is_none()
            && self.run.balance.is_some()
            && !self.run.findings.iter().any(|f| f.level == Level::Must && f.status == Status::Fail)
    }

    /// The exit status: 0 when [`Report::passed`], else 1.
    pub fn exit_status(&self) -> u8 {
        u8::from(!self.passed())
    }

    /// The whole report as text: the header, every line, the totals.
    pub fn text(&self) -> String {
        let mut s = self.header();
        for f in &self.run.findings {
            s.push_str(&line(f));
            s.push('\n');
        }
        s.push_str(&self.footer());
        s
    }

    /// The lines before the findings.
    pub fn header(&self) -> String {
        let mut s = format!("Driver:  {}\nCard:    {}\n", self.driver, self.card);
        if !self.apdus_seen {
            s.push_str("APDUs:   - (the loaded library sends its own SCardTransmit calls, which mdtool cannot see)\n");
        }
        s.push_str(&format!("{:>4} {:<6} {:<11} {:>5} {:>7}  CHECK\n", "ITEM", "LEVEL", "RESULT", "APDUS", "BYTES"));
        s
    }

    /// The lines after the findings: the abort, totals per area and level, the allocation
    /// balance, the verdict.
    pub fn footer(&self) -> String {
        let mut s = String::new();
        if let Some(abort) = &self.run.abort {
            s.push_str(&format!("ABORTED: {}\n", abort.describe()));
        }
        s.push_str("Totals by area:\n");
        for (area, t) in self.by_area() {
            s.push_str(&format!("  {:<13} {}\n", area.name(), t.text()));
        }
        s.push_str("Totals by level:\n");
        for (level, t) in self.by_level() {
            s.push_str(&format!("  {:<13} {}\n", level.name(), t.text()));
        }
        s.push_str(&format!("  {:<13} {}\n", "all", self.totals().text()));
        match self.run.balance {
            Some(b) => s.push_str(&format!(
                "Allocations: {} pfnCspAlloc buffers live at the end; the driver freed {} ({} not zeroed)\n",
                b.live, b.driver_frees, b.unzeroed_frees
            )),
            None => s.push_str("Allocations: unknown (the worker did not reach the end)\n"),
        }
        let musts = self.by_level().get(&Level::Must).copied().unwrap_or_default();
        s.push_str(&format!(
            "Result:  {} ({:.1} s)\n",
            if self.passed() {
                format!(
                    "no MUST check failed ({} passed, {} skipped, {} not checked)",
                    musts.pass, musts.skip, musts.not_checked
                )
            } else if self.run.abort.is_some() {
                "FAILED: the run was cut short".to_owned()
            } else {
                format!("FAILED: {} MUST checks failed", musts.fail)
            },
            self.seconds
        ));
        s
    }

    /// The whole report as one JSON object.
    pub fn json(&self) -> Value {
        let by = |m: BTreeMap<String, Tally>| -> Value {
            Value::Object(m.into_iter().map(|(k, t)| (k, t.json())).collect())
        };
        json!({
            "driver": self.driver,
            "card": self.card,
            "apdus_seen": self.apdus_seen,
            "destructive": self.destructive,
            "checks": self.run.findings.iter().map(finding_json).collect::<Vec<_>>(),
            "totals": {
                "all": self.totals().json(),
                "by_level": by(self.by_level().into_iter().map(|(l, t)| (l.name().to_owned(), t)).collect()),
                "by_area": by(self.by_area().into_iter().map(|(a, t)| (a.name().to_owned(), t)).collect()),
            },
            "allocations": self.run.balance.map(balance_json),
            "aborted": self.run.abort.as_ref().map(abort_json),
            "passed": self.passed(),
            "exit": self.exit_status(),
            "seconds": self.seconds,
        })
    }
}

/// `0x80100004 SCARD_E_INVALID_PARAMETER`.
fn code_text(code: u32) -> String {
    format!("0x{code:08X} {}", Code(code).name())
}

/// One finding's line (and, for a failure or a skip, its reason on the next line).
pub fn line(f: &Finding) -> String {
    let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let mut s = format!(
        "{:>4} {:<6} {:<11} {:>5} {:>7}  {}: {}",
        f.item,
        f.level.name(),
        f.status.name(),
        count(f.apdus),
        count(f.bytes),
        f.id,
        f.title
    );
    if let Some(code) = f.code {
        s.push_str(&format!("  [{}", code_text(code)));
        if !f.expected.is_empty() {
            // The expected codes in full where the returned one is not among them.
            let named = !f.expected.contains(&code);
            let expected: Vec<_> =
                f.expected.iter().map(|c| if named { code_text(*c) } else { format!("0x{c:08X}") }).collect();
            s.push_str(&format!("; expected {}", expected.join(" or ")));
        }
        s.push(']');
    }
    if !f.detail.is_empty() && f.status != Status::Pass {
        s.push_str(&format!("\n{:>38}{}", "", f.detail));
    }
    s
}

/// A finding as JSON (also the worker's event).
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "item": f.item,
        "level": f.level.name(),
        "area": f.area.name(),
        "title": f.title,
        "status": f.status.name(),
        "code": f.code.map(|c| format!("0x{c:08X}")),
        "code_name": f.code.map(|c| Code(c).name()),
        "expected": f.expected.iter().map(|c| format!("0x{c:08X}")).collect::<Vec<_>>(),
        "detail": f.detail,
        "apdus": f.apdus,
        "bytes": f.bytes,
        "millis": f.millis,
    })
}

/// A finding from its JSON.
pub fn finding_from_json(v: &Value) -> Option<Finding> {
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    Some(Finding {
        id: text("id")?.to_owned(),
        item: u16::try_from(v.get("item")?.as_u64()?).ok()?,
        level: Level::ALL.into_iter().find(|l| Some(l.name()) == text("level"))?,
        area: Area::ALL.into_iter().find(|a| Some(a.name()) == text("area"))?,
        title: text("title")?.to_owned(),
        status: Status::from_name(text("status")?)?,
        code: text("code").and_then(hex),
        expected: v.get("expected")?.as_array()?.iter().filter_map(|c| c.as_str().and_then(hex)).collect(),
        detail: text("detail").unwrap_or_default().to_owned(),
        apdus: v.get("apdus").and_then(Value::as_u64),
        bytes: v.get("bytes").and_then(Value::as_u64),
        millis: v.get("millis").and_then(Value::as_u64).unwrap_or(0),
    })
}

fn balance_json(b: Balance) -> Value {
    json!({ "live": b.live, "driver_frees": b.driver_frees, "unzeroed_frees": b.unzeroed_frees })
}

fn abort_json(a: &Abort) -> Value {
    let (kind, step) = match a {
        Abort::Hang { step, .. } => ("hang", step),
        Abort::Crash { step, .. } => ("crash", step),
        Abort::Died { step, .. } => ("died", step),
    };
    json!({
        "kind": kind,
        "step": step.as_ref().map(|(id, _)| id),
        "item": step.as_ref().map(|(_, item)| item),
        "detail": a.describe(),
    })
}
