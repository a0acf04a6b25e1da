//! The checks, in the order a run makes them, and how one is run: what it needs (a PIN,
//! `--destructive`, the administrator key, a PC/SC reader), its item and level, and the APDU
//! counts and time around it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::items::{Level, item_of};
use super::run::{Checked, Options, Run, Verdict};
use super::{Bench, Finding, Status, checks};
use crate::csp::{driver_frees, live_allocations};

/// What a check needs before it may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The user PIN.
    pub(crate) pin: bool,
    /// `--destructive`: it writes to the card.
    pub(crate) destructive: bool,
    /// The administrator key.
    pub(crate) admin: bool,
    /// A PC/SC reader: the CSP's own handles.
    pub(crate) reader: bool,
}

/// One check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Check {
    /// Its name: `area.what`.
    pub(crate) id: &'static str,
    /// The checklist item it judges.
    pub(crate) item: u16,
    /// A weaker level than the item's, for a check of the item's SHOULD part.
    pub(crate) level: Option<Level>,
    /// What it checks, in a few words.
    pub(crate) title: &'static str,
    /// What it needs.
    pub(crate) needs: Needs,
    /// The check.
    pub(crate) run: fn(&mut Run<'_>) -> Checked,
}

/// A check that needs nothing.
pub(crate) const fn check(id: &'static str, item: u16, title: &'static str, run: fn(&mut Run<'_>) -> Checked) -> Check {
    Check {
        id,
        item,
        level: None,
        title,
        needs: Needs { pin: false, destructive: false, admin: false, reader: false },
        run,
    }
}

impl Check {
    /// Needs the user PIN.
    pub(crate) const fn pin(mut self) -> Self {
        self.needs.pin = true;
        self
    }

    /// Writes to the card: only with `--destructive`.
    pub(crate) const fn destructive(mut self) -> Self {
        self.needs.destructive = true;
        self
    }

    /// Needs the administrator key.
    pub(crate) const fn admin(mut self) -> Self {
        self.needs.admin = true;
        self
    }

    /// Needs a PC/SC reader.
    pub(crate) const fn reader(mut self) -> Self {
        self.needs.reader = true;
        self
    }

    /// Judges the item's SHOULD (or MAY) part.
    pub(crate) const fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }
}

/// Every check and not-checked item, in run order.
pub(crate) fn all() -> Vec<&'static Check> {
    [
        checks::acquire::CHECKS,
        checks::table::CHECKS,
        checks::args::CHECKS,
        checks::files::CHECKS,
        checks::properties::CHECKS,
        checks::containers::CHECKS,
        checks::memory::CHECKS,
        checks::pins::CHECKS,
        checks::crypto::CHECKS,
        checks::cache::CHECKS,
        checks::writes::CHECKS,
        checks::contexts::CHECKS,
        checks::general::LATE,
        checks::memory::LATE,
        checks::unchecked::CHECKS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The checks `options` selects.
fn selected(options: &Options) -> Vec<&'static Check> {
    all().into_iter().filter(|c| options.items.as_ref().is_none_or(|items| items.contains(&c.item))).collect()
}

/// How many checks a run with `options` makes (the final allocation balance included).
pub fn selected_count(options: &Options) -> usize {
    selected(options).len() + usize::from(balance_selected(options))
}

/// The final allocation balance is item 33's ("CardDeleteContext releases everything").
const BALANCE_ITEM: u16 = 33;

fn balance_selected(options: &Options) -> bool {
    options.items.as_ref().is_none_or(|items| items.contains(&BALANCE_ITEM))
}

/// Why a check may not run here, if it may not.
fn unmet(check: &Check, run: &mut Run<'_>) -> Option<String> {
    let n = check.needs;
    if n.destructive && !run.options.destructive {
        return Some("needs --destructive (it changes the card, or would if the driver got it wrong)".to_owned());
    }
    if n.pin
        && let Err(why) = run.usable_pin()
    {
        return Some(why);
    }
    if n.admin && run.options.admin_key.is_none() {
        return Some("needs the administrator key (MDTOOL_ADMIN_KEY or --admin-key-file); none was given".to_owned());
    }
    if n.reader && !run.bench.is_reader() {
        return Some("needs a PC/SC reader: the embedded card is reached without PC/SC handles".to_owned());
    }
    None
}

/// Runs the checks `options` selects, telling `started` before each and `finished` after it.
pub(crate) fn execute(
    bench: &Bench,
    options: &Options,
    started: &mut dyn FnMut(&str, u16),
    finished: &mut dyn FnMut(Finding),
) {
    let live_before = live_allocations();
    let mut run = Run::new(bench, options);
    for check in selected(options) {
        started(check.id, check.item);
        let before = bench.counters();
        let clock = Instant::now();
        run.shown = None;
        let verdict = match unmet(check, &mut run) {
            Some(reason) => Verdict::skip(reason),
            None => match catch_unwind(AssertUnwindSafe(|| (check.run)(&mut run))) {
                Ok(Ok(v) | Err(v)) => v,
                Err(_) => Verdict::not_checked("the runner itself failed in this check (a bug of mdtool)"),
            },
        };
        let (code, expected) = match verdict.code.clone().or_else(|| run.shown.clone()) {
            Some((c, e)) if verdict.status != Status::Skip || verdict.code.is_some() => (Some(c), e),
            _ => (None, Vec::new()),
        };
        let after = bench.counters();
        let (apdus, bytes) = match (before, after) {
            (Some(b), Some(a)) => (Some(a.0 - b.0), Some(a.1 - b.1)),
            _ => (None, None),
        };
        let item = item_of(check.item);
        finished(Finding {
            id: check.id.to_owned(),
            item: check.item,
            level: check.level.or(item.map(|i| i.level)).unwrap_or(Level::Must),
            area: item.map_or(super::Area::General, |i| i.area),
            // A check without a title of its own (a not-checked item) shows the item's.
            title: if check.title.is_empty() { item.map_or("", |i| i.title) } else { check.title }.to_owned(),
            status: verdict.status,
            code,
            expected,
            detail: verdict.detail,
            apdus,
            bytes,
            millis: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    let balance = balance_selected(options);
    if balance {
        started("memory.balance_at_end", BALANCE_ITEM);
    }
    drop(run);
    if balance {
        let live = live_allocations();
        let (frees, unzeroed) = driver_frees();
        let leaked = live.saturating_sub(live_before);
        let status = if leaked == 0 { Status::Pass } else { Status::Fail };
        let detail = if leaked == 0 {
            format!(
                "no pfnCspAlloc buffer outlived its context ({frees} freed by the driver, {unzeroed} of them not zeroed)"
            )
        } else {
            format!("{leaked} pfnCspAlloc buffers were never freed after every context was deleted")
        };
        finished(Finding {
            id: "memory.balance_at_end".to_owned(),
            item: BALANCE_ITEM,
            level: Level::Must,
            area: super::Area::Delete,
            title: "every pfnCspAlloc buffer is freed once the contexts are deleted".to_owned(),
            status,
            code: None,
            expected: Vec::new(),
            detail,
            apdus: None,
            bytes: None,
            millis: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::conformance::ITEMS;

    #[test]
    fn every_item_has_a_check_and_every_check_a_known_item_and_a_unique_name() {
        let checks = all();
        let mut ids = BTreeSet::new();
        for c in &checks {
            assert!(item_of(c.item).is_some(), "{}: item {} is not in the checklist", c.id, c.item);
            assert!(ids.insert(c.id), "{} twice", c.id);
            assert!(c.id.contains('.'), "{}: not area.what", c.id);
        }
        let covered: BTreeSet<u16> = checks.iter().map(|c| c.item).chain([BALANCE_ITEM]).collect();
        let missing: Vec<u16> = ITEMS.iter().map(|i| i.number).filter(|n| !covered.contains(n)).collect();
        assert!(missing.is_empty(), "items with no check nor a not-checked reason: {missing:?}");
    }

    #[test]
    fn items_select_checks() {
        let only = |items: &[u16]| Options { items: Some(items.iter().copied().collect()), ..Options::default() };
        assert!(selected(&only(&[18])).iter().all(|c| c.item == 18));
        assert_eq!(selected(&only(&[18])).len(), 2, "acquire.version_3_refused and acquire.versions_4_to_7");
        assert_eq!(selected_count(&only(&[18])), 2);
        assert_eq!(selected_count(&only(&[18, BALANCE_ITEM])), selected(&only(&[18, BALANCE_ITEM])).len() + 1);
        assert_eq!(selected_count(&Options::default()), all().len() + 1);
    }
}
