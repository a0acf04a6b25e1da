//! `mdtool conformance`: checks any minidriver library against the Windows Smart Card
//! Minidriver Specification v7.07, black-box, as a CSP sees it.
//!
//! The checks are named by the checklist's item numbers ([`items`]). They use only what a CSP
//! sees: return codes, outputs (written into poisoned buffers, so that what the driver wrote and
//! did not write shows), the `CARD_DATA` table, the cache callbacks, the stand-in CSP's
//! allocations, the card's public data read through the driver, and signatures and ciphertexts
//! checked with the public keys read back. Nothing comes from the simulator's own state, so the
//! same checks judge a vendor's library on a real card. Items only a CSP or the operating
//! system can judge (UI, registry, signing, shared sections) are listed as not checked, with
//! the reason.
//!
//! A run never harms a card: a wrong PIN is presented only right after the right one worked, and
//! again only while the card reports at least 3 tries left (each followed by the right PIN);
//! checks that write files, create or delete containers, generate or import keys or unblock a
//! PIN run only when asked ([`Options::destructive`]), and undo what they can.
//!
//! A bad driver cannot take the report down with it: [`worker`] runs the checks in a child
//! process that announces each step on a pipe; the parent kills it when a step outlives its
//! timeout and names the step a crash happened in.

mod bench;
mod checks;
pub mod items;
mod registry;
pub mod report;
mod run;
mod survey;
pub mod worker;

use core::fmt;

pub use bench::{Bench, Counters, RawContext};
pub use items::{Area, ITEMS, Item, Level};
pub use registry::selected_count;
pub use run::Options;

/// A check's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The driver did what the item asks.
    Pass,
    /// It did not.
    Fail,
    /// The check did not run here: it needs a PIN, `--destructive`, a PC/SC reader, or
    /// something the card does not have (the reason says which).
    Skip,
    /// The item is not something a black-box run can judge (the reason says why).
    NotChecked,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Self; 4] = [Self::Pass, Self::Fail, Self::Skip, Self::NotChecked];

    /// `pass`, `fail`, `skip`, `not-checked`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::NotChecked => "not-checked",
        }
    }

    /// The status a name denotes.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One check's line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The check's name (`acquire.version_3_refused`).
    pub id: String,
    /// The checklist item it judges.
    pub item: u16,
    /// The level of what it judges (the item's, or a part of it that is weaker).
    pub level: Level,
    /// The item's area.
    pub area: Area,
    /// What it checks.
    pub title: String,
    /// The result.
    pub status: Status,
    /// The code the deciding call returned.
    pub code: Option<u32>,
    /// What that call was allowed to return.
    pub expected: Vec<u32>,
    /// Why it failed or was skipped, or what passed.
    pub detail: String,
    /// APDUs the check caused (simulated card only).
    pub apdus: Option<u64>,
    /// Bytes exchanged, both directions (simulated card only).
    pub bytes: Option<u64>,
    /// How long it took, in milliseconds.
    pub millis: u64,
}
