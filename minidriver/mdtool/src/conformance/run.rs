//! One run's state, shared by its checks: the bench, the options, the context most checks use
//! (acquired once, as the Base CSP keeps one per `HCRYPTPROV`), what the card is known to hold
//! ([`Survey`], read through the driver once), and the PIN bookkeeping that keeps wrong PINs
//! away from a card that could be harmed by them.

use zeroize::Zeroizing;

use super::Status;
use super::bench::{Bench, hold_transaction};
use super::survey::Survey;
use crate::csp::{AcquireOptions, Code, Csp};
use minidriver::abi::{
    code,
    pin::{self, ROLE_USER},
};

/// What the runner may do and with which secrets.
#[derive(Debug, Default)]
pub struct Options {
    /// Only the checks of these items (`None`: every item).
    pub items: Option<std::collections::BTreeSet<u16>>,
    /// Also run the checks that write files, create or delete containers, generate or import
    /// keys, or unblock a PIN.
    pub destructive: bool,
    /// The user PIN (`ROLE_USER`), if given.
    pub pin: Option<Zeroizing<Vec<u8>>>,
    /// The administrator key (`ROLE_ADMIN`, challenge-response), if given.
    pub admin_key: Option<Zeroizing<Vec<u8>>>,
}

/// A check's result before the registry adds its item, level and APDU counts.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) status: Status,
    pub(crate) detail: String,
    /// The code the deciding call returned, and what was expected of it.
    pub(crate) code: Option<(u32, Vec<u32>)>,
}

impl Verdict {
    pub(crate) fn pass(detail: impl Into<String>) -> Self {
        Self { status: Status::Pass, detail: detail.into(), code: None }
    }

    pub(crate) fn fail(detail: impl Into<String>) -> Self {
        Self { status: Status::Fail, detail: detail.into(), code: None }
    }

    pub(crate) fn skip(reason: impl Into<String>) -> Self {
        Self { status: Status::Skip, detail: reason.into(), code: None }
    }

    pub(crate) fn not_checked(reason: impl Into<String>) -> Self {
        Self { status: Status::NotChecked, detail: reason.into(), code: None }
    }
}

/// What a check function returns: `Err` ends the check early (a failure, or a skip).
pub(crate) type Checked = Result<Verdict, Verdict>;

/// The user PIN's state in this run.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PinState {
    /// The right PIN was verified through the driver in this run.
    pub(crate) right_pin_worked: bool,
    /// The tries the card reported after the last wrong PIN (`None`: no wrong PIN yet).
    pub(crate) tries_after_wrong: Option<u32>,
    /// The given PIN was tried once, by itself, before any check presented it.
    gated: bool,
}

/// The shared state of one run.
pub(crate) struct Run<'b> {
    pub(crate) bench: &'b Bench,
    pub(crate) options: &'b Options,
    main: Option<Csp>,
    survey: Option<Result<Survey, String>>,
    pub(crate) pin: PinState,
    /// The code the current check's last `expect` saw.
    pub(crate) shown: Option<(u32, Vec<u32>)>,
    /// Every code an `expect` saw in this run.
    pub(crate) seen: std::collections::BTreeSet<u32>,
    /// Why the given PIN is presented no more: the card refused it, or refused an
    /// authentication that should have worked. Each refusal costs a try, and a card blocks
    /// after a few.
    pin_refused: Option<String>,
}

impl<'b> Run<'b> {
    pub(crate) fn new(bench: &'b Bench, options: &'b Options) -> Self {
        Self {
            bench,
            options,
            main: None,
            survey: None,
            pin: PinState::default(),
            shown: None,
            seen: Default::default(),
            pin_refused: None,
        }
    }

    /// The run's main context (version 7), acquired on first use, with its connection's
    /// transaction held.
    pub(crate) fn main(&mut self) -> Result<&Csp, Verdict> {
        if self.main.is_none() {
            let csp = self.bench.acquire(&self.bench.options()).map_err(|code| {
                let mut v = Verdict::skip(format!("no context to check with: CardAcquireContext returned {code}"));
                v.code = Some((code.0, vec![0]));
                v
            })?;
            self.main = Some(csp);
        }
        let csp = self.main.as_mut().ok_or_else(|| Verdict::skip("no context"))?;
        hold_transaction(csp, true);
        Ok(csp)
    }

    /// Deletes the main context (the next [`Run::main`] acquires a new one).
    pub(crate) fn close_main(&mut self) {
        self.main = None;
    }

    /// Lets other connections begin their transactions (the main context keeps its own
    /// connection, out of its transaction, until [`Run::main`] is called again).
    fn release_main(&mut self) {
        if let Some(csp) = self.main.as_mut() {
            hold_transaction(csp, false);
        }
    }

    /// A new context on a new connection (the main context's transaction is ended first).
    pub(crate) fn acquire(&mut self, options: &AcquireOptions) -> Result<Csp, Code> {
        self.release_main();
        self.bench.acquire(options)
    }

    /// A raw acquisition on a new connection (the main context's transaction ended first).
    pub(crate) fn raw(
        &mut self,
        version: u32,
        flags: u32,
        edit: impl FnOnce(&mut windows_sys::Win32::Security::Cryptography::CARD_DATA),
    ) -> super::bench::RawContext {
        self.release_main();
        self.bench.raw(version, flags, edit)
    }

    /// What the card holds, read through the main context once.
    pub(crate) fn survey(&mut self) -> Result<&Survey, Verdict> {
        if self.survey.is_none() {
            let read = match self.main() {
                Ok(csp) => Survey::read(csp),
                Err(v) => Err(v.detail),
            };
            self.survey = Some(read);
        }
        match self.survey.as_ref() {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => Err(Verdict::skip(format!("the card's content could not be read through the driver: {e}"))),
            None => Err(Verdict::skip("no survey")),
        }
    }

    /// Forgets the survey (after a destructive check changed the card).
    pub(crate) fn forget_survey(&mut self) {
        self.survey = None;
    }

    /// The user PIN, or a skip saying why it may not be presented (none given, or the card
    /// refused it).
    pub(crate) fn pin_value(&mut self) -> Result<Zeroizing<Vec<u8>>, Verdict> {
        self.usable_pin().map_err(Verdict::skip)
    }

    /// The user PIN if it may be presented, else why not. The first call tries the given PIN
    /// once, in a context of its own (then deauthenticated and deleted): a mistyped PIN costs
    /// the card one try, not one per check.
    pub(crate) fn usable_pin(&mut self) -> Result<Zeroizing<Vec<u8>>, String> {
        let value = self
            .options
            .pin
            .clone()
            .ok_or("needs the user PIN (MDTOOL_PIN, --pin-file or the prompt); none was given")?;
        if !self.pin.gated {
            self.pin.gated = true;
            if let Ok(csp) = self.acquire(&self.bench.options()) {
                match csp.authenticate_ex(ROLE_USER, 0, &value) {
                    Ok(_) => {
                        self.pin.right_pin_worked = true;
                        let _ = csp.deauthenticate_ex(pin::set_of(ROLE_USER));
                    }
                    Err((c, tries)) if c.0 == code::SCARD_W_WRONG_CHV || c.0 == code::SCARD_W_CHV_BLOCKED => {
                        let left = if tries <= 16 { format!(", {tries} tries left") } else { String::new() };
                        self.pin_refused = Some(format!("the card refused the given PIN ({c}{left})"));
                    }
                    // Any other refusal is the driver's to explain, in the checks themselves.
                    Err(_) => {}
                }
            }
        }
        match &self.pin_refused {
            Some(why) => Err(format!("{why}: the checks that present it are skipped, so that the run cannot block it")),
            None => Ok(value),
        }
    }
    /// Checks a returned code: records it for the report and fails the check when it is none
    /// of `expected`.
    pub(crate) fn expect(&mut self, what: &str, got: u32, expected: &[u32]) -> Result<(), Verdict> {
        self.shown = Some((got, expected.to_vec()));
        self.seen.insert(got);
        if (got == code::SCARD_W_WRONG_CHV || got == code::SCARD_W_CHV_BLOCKED) && !expected.contains(&got) {
            // An authentication that should have worked was refused: whatever the driver sent,
            // the card may have counted it as a wrong try.
            self.pin_refused.get_or_insert_with(|| format!("{what} returned {}", Code(got)));
        }
        if expected.contains(&got) {
            return Ok(());
        }
        let mut v = Verdict::fail(format!("{what}: returned {}, expected {}", Code(got), names(expected)));
        v.code = Some((got, expected.to_vec()));
        Err(v)
    }
}

/// Fails with `detail` unless `ok`.
pub(crate) fn ensure(ok: bool, detail: impl FnOnce() -> String) -> Result<(), Verdict> {
    if ok { Ok(()) } else { Err(Verdict::fail(detail())) }
}

/// `A or B` of code names, for messages.
pub(crate) fn names(codes: &[u32]) -> String {
    codes.iter().map(|c| Code(*c).to_string()).collect::<Vec<_>>().join(" or ")
}
