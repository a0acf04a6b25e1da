//! mdtool's failures: every minidriver or PC/SC code becomes one clear sentence that says what
//! to do next, and an exit code (1: the operation failed, 2: the command line was wrong).

use core::fmt;

use mdtool::csp::Code;

/// `SCARD_E_NO_SERVICE`.
pub(crate) const NO_SERVICE: u32 = 0x8010_001D;
/// `SCARD_E_SERVICE_STOPPED`.
pub(crate) const SERVICE_STOPPED: u32 = 0x8010_001E;
/// `SCARD_E_NO_READERS_AVAILABLE`.
pub(crate) const NO_READERS: u32 = 0x8010_002E;
/// `SCARD_E_UNKNOWN_READER`.
pub(crate) const UNKNOWN_READER: u32 = 0x8010_0009;
/// `SCARD_E_READER_UNAVAILABLE`.
pub(crate) const READER_UNAVAILABLE: u32 = 0x8010_0017;
/// `SCARD_E_NO_SMARTCARD`.
pub(crate) const NO_SMARTCARD: u32 = 0x8010_000C;
/// `SCARD_W_REMOVED_CARD`.
pub(crate) const REMOVED_CARD: u32 = 0x8010_0069;
/// `SCARD_E_TIMEOUT`.
pub(crate) const TIMEOUT: u32 = 0x8010_000A;
/// `SCARD_E_UNKNOWN_CARD`.
pub(crate) const UNKNOWN_CARD: u32 = 0x8010_000D;
/// `SCARD_E_UNSUPPORTED_FEATURE`.
pub(crate) const UNSUPPORTED: u32 = 0x8010_0022;
/// `SCARD_W_WRONG_CHV`.
pub(crate) const WRONG_CHV: u32 = 0x8010_006B;
/// `SCARD_W_CHV_BLOCKED`.
pub(crate) const CHV_BLOCKED: u32 = 0x8010_006C;
/// `SCARD_W_SECURITY_VIOLATION`.
pub(crate) const SECURITY_VIOLATION: u32 = 0x8010_006A;

/// What to say when the resource manager is not running (seed 001's readers asked).
pub(crate) const SERVICE_HELP: &str = "the PC/SC service (pcscd) is not running: start it with \
`sudo systemctl start pcscd` (or `pcscd` as root; with socket activation `sudo systemctl start pcscd.socket`); \
on Windows start the Smart Card service (SCardSvr) with `sc config SCardSvr start= auto` then `sc start SCardSvr` \
(error 1068 means a service it depends on, Plug and Play, is not running)";

/// A failed run: the message printed on stderr and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    /// One or more sentences, without the `mdtool: ` prefix.
    pub(crate) message: String,
    /// 1: the operation failed; 2: usage.
    pub(crate) exit: i32,
    /// The minidriver or PC/SC code behind it, if any (for `--json`).
    pub(crate) code: Option<u32>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a command.
pub(crate) type Outcome<T = ()> = Result<T, Failure>;

impl Failure {
    /// An operation failure with a message of our own.
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit: 1, code: None }
    }

    /// A usage error (exit status 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit: 2, code: None }
    }

    /// A minidriver or PC/SC code returned while doing `op` ("reading the PIN list", "sign").
    pub(crate) fn code(code: Code, op: &str) -> Self {
        Self { message: explain(code.0, op, None), exit: 1, code: Some(code.0) }
    }

    /// A PIN failure, with the tries the driver reported.
    pub(crate) fn pin(code: Code, tries: u32, what: &str) -> Self {
        Self { message: explain(code.0, what, Some(tries)), exit: 1, code: Some(code.0) }
    }

    /// A PC/SC failure on `reader` (or on the service, when `None`).
    pub(crate) fn pcsc(code: u32, reader: Option<&str>) -> Self {
        let message = match (code, reader) {
            (NO_SERVICE | SERVICE_STOPPED, _) => SERVICE_HELP.to_owned(),
            (NO_READERS, _) => no_reader_text(),
            (UNKNOWN_READER | READER_UNAVAILABLE, Some(r)) => {
                format!("no reader named \"{r}\" (`mdtool readers` lists the readers PC/SC knows)")
            }
            (NO_SMARTCARD | REMOVED_CARD, Some(r)) => format!(
                "no card in reader \"{r}\": insert one (`mdtool watch` shows insertions), \
                 or use the embedded simulated card with --sim piv"
            ),
            (c, r) => {
                explain(c, r.map_or("talking to PC/SC".to_owned(), |r| format!("using reader \"{r}\"")).as_str(), None)
            }
        };
        Self { message, exit: 1, code: Some(code) }
    }

    /// Adds context in front of the message.
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

fn no_reader_text() -> String {
    "no smart card reader is attached: plug one in (pcscd picks it up by itself), check it with \
     `mdtool readers`, or use the embedded simulated card with --sim piv"
        .to_owned()
}

/// The sentence for `code` returned while doing `op`.
pub(crate) fn explain(code: u32, op: &str, tries: Option<u32>) -> String {
    match code {
        NO_SERVICE | SERVICE_STOPPED => SERVICE_HELP.to_owned(),
        NO_READERS => no_reader_text(),
        UNKNOWN_READER | READER_UNAVAILABLE => {
            "no such reader (`mdtool readers` lists the readers PC/SC knows)".to_owned()
        }
        NO_SMARTCARD => {
            "no card in the reader: insert one, or use the embedded simulated card with --sim piv".to_owned()
        }
        REMOVED_CARD => format!("the card was removed while {op}"),
        UNKNOWN_CARD => "unknown card: no card edge of this minidriver drives it (it handles PIV and GIDS \
                         cards; `mdtool detect` shows what the card answered)"
            .to_owned(),
        UNSUPPORTED => format!("the card does not support {op}"),
        WRONG_CHV => match tries {
            Some(0) => {
                format!("wrong {op}: no tries left, it is now blocked (unblock it: mdtool pin unblock)")
            }
            Some(1) => format!("wrong {op} (1 try left)"),
            Some(n) if n != u32::MAX && n != 0xDEAD_BEEF => format!("wrong {op} ({n} tries left)"),
            _ => format!("wrong {op}"),
        },
        CHV_BLOCKED => format!("the {op} is blocked (unblock it: mdtool pin unblock)"),
        SECURITY_VIOLATION => format!(
            "{op} needs an authentication first (the PIN: MDTOOL_PIN or --pin-file; the card management key: \
             MDTOOL_ADMIN_KEY or --admin-key-file)"
        ),
        0x8010_0030 => format!("no such key container ({op})"),
        0x8010_0024 => format!("no such file ({op})"),
        0x8010_0023 => format!("no such directory ({op})"),
        0x8010_0004 => format!("{op}: the minidriver refused an argument (SCARD_E_INVALID_PARAMETER)"),
        0x8009_0005 => format!("{op}: the data is not valid for this key (NTE_BAD_DATA)"),
        TIMEOUT => format!("the card did not answer in time while {op}"),
        c => format!("{op} failed: {}", Code(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert!(explain(NO_SERVICE, "x", None).contains("systemctl start pcscd"));
        assert!(explain(NO_SERVICE, "x", None).contains("1068"));
        assert_eq!(explain(WRONG_CHV, "PIN", Some(2)), "wrong PIN (2 tries left)");
        assert!(explain(CHV_BLOCKED, "PIN", None).contains("mdtool pin unblock"));
        assert_eq!(explain(UNSUPPORTED, "key import", None), "the card does not support key import");
        assert!(Failure::pcsc(NO_SMARTCARD, Some("R")).message.starts_with("no card in reader \"R\""));
        assert!(Failure::pcsc(NO_READERS, None).message.starts_with("no smart card reader is attached"));
        assert!(Failure::pcsc(UNKNOWN_READER, Some("X")).message.starts_with("no reader named \"X\""));
        assert_eq!(Failure::pcsc(SERVICE_STOPPED, None).message, SERVICE_HELP);
        assert!(explain(UNKNOWN_CARD, "x", None).starts_with("unknown card"));
    }
}
