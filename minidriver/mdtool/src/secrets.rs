//! PINs, PUKs and the card management key: from a file, an environment variable, or a prompt
//! that does not echo. Never from a plain command-line argument (it would land in the shell's
//! history and in every process listing).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::errors::{Failure, Outcome};

/// Environment variable holding the user PIN.
pub(crate) const PIN_ENV: &str = "MDTOOL_PIN";
/// Environment variable holding the new PIN (`pin change`, `pin unblock`).
pub(crate) const NEW_PIN_ENV: &str = "MDTOOL_NEW_PIN";
/// Environment variable holding the PUK (`pin unblock`).
pub(crate) const PUK_ENV: &str = "MDTOOL_PUK";
/// Environment variable holding the new PUK (`pin change --puk`).
pub(crate) const NEW_PUK_ENV: &str = "MDTOOL_NEW_PUK";
/// Environment variable holding the card management key, in hex (`keygen`, `import`).
pub(crate) const ADMIN_KEY_ENV: &str = "MDTOOL_ADMIN_KEY";

/// A secret mdtool may need, and where it looks for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kind {
    /// What it is, for prompts and messages ("PIN").
    pub(crate) name: &'static str,
    /// The environment variable.
    pub(crate) env: &'static str,
    /// The option naming a file.
    pub(crate) option: &'static str,
    /// Ask twice when prompting (a new PIN).
    pub(crate) confirm: bool,
}

/// The user PIN.
pub(crate) const PIN: Kind = Kind { name: "PIN", env: PIN_ENV, option: "--pin-file", confirm: false };
/// A new PIN.
pub(crate) const NEW_PIN: Kind = Kind { name: "new PIN", env: NEW_PIN_ENV, option: "--new-pin-file", confirm: true };
/// The PUK.
pub(crate) const PUK: Kind = Kind { name: "PUK", env: PUK_ENV, option: "--puk-file", confirm: false };
/// A new PUK.
pub(crate) const NEW_PUK: Kind = Kind { name: "new PUK", env: NEW_PUK_ENV, option: "--new-pin-file", confirm: true };
/// The card management key (hex).
pub(crate) const ADMIN_KEY: Kind =
    Kind { name: "card management key (hex)", env: ADMIN_KEY_ENV, option: "--admin-key-file", confirm: false };

/// A secret found without asking: the file if given, else the environment variable.
///
/// # Errors
/// An unreadable or empty file.
pub(crate) fn given(kind: Kind, file: Option<&Path>) -> Outcome<Option<Zeroizing<Vec<u8>>>> {
    if let Some(path) = file {
        let raw = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| Failure::usage(format!("cannot read {} ({}): {e}", path.display(), kind.option)))?,
        );
        let value = first_line(&raw);
        if value.is_empty() {
            return Err(Failure::usage(format!("{} is empty ({})", path.display(), kind.option)));
        }
        return Ok(Some(value));
    }
    match std::env::var_os(kind.env) {
        Some(v) if !v.is_empty() => Ok(Some(Zeroizing::new(v.into_encoded_bytes()))),
        _ => Ok(None),
    }
}

/// A secret: given, or asked for on the terminal without echo, or read as one line from a
/// standard input that is not a terminal.
///
/// # Errors
/// Nothing given and nothing to read.
pub(crate) fn obtain(kind: Kind, file: Option<&Path>) -> Outcome<Zeroizing<Vec<u8>>> {
    obtain_from(kind, file).map(|(v, _)| v)
}

/// As [`obtain`], and whether the value was typed (asked for or read from standard input), so
/// that a caller may ask again after a wrong PIN.
///
/// # Errors
/// As [`obtain`].
pub(crate) fn obtain_from(kind: Kind, file: Option<&Path>) -> Outcome<(Zeroizing<Vec<u8>>, bool)> {
    if let Some(v) = given(kind, file)? {
        return Ok((v, false));
    }
    let missing = || {
        Failure::usage(format!(
            "no {} given: set {}, pass {} FILE, or type it when asked",
            kind.name, kind.env, kind.option
        ))
    };
    let value = prompt(&format!("{}: ", capitalised(kind.name)))?.ok_or_else(missing)?;
    if value.is_empty() {
        return Err(missing());
    }
    if kind.confirm && std::io::stdin().is_terminal() {
        let again = prompt(&format!("{} again: ", capitalised(kind.name)))?.ok_or_else(missing)?;
        if *again != *value {
            return Err(Failure::usage(format!("the two {}s differ", kind.name)));
        }
    }
    Ok((value, true))
}

/// The card management key: hex text from the file, variable or prompt.
///
/// # Errors
/// Missing, or not hex of 16, 24 or 32 bytes.
pub(crate) fn admin_key(file: Option<&Path>) -> Outcome<Zeroizing<Vec<u8>>> {
    let text = obtain(ADMIN_KEY, file)?;
    let compact: Zeroizing<Vec<u8>> =
        Zeroizing::new(text.iter().copied().filter(|b| !b.is_ascii_whitespace() && *b != b':').collect());
    let key = Zeroizing::new(hex::decode(&*compact).map_err(|_| {
        Failure::usage(format!("the card management key must be hex ({} or {})", ADMIN_KEY.env, ADMIN_KEY.option))
    })?);
    if ![16, 24, 32].contains(&key.len()) {
        return Err(Failure::usage("the card management key has 16, 24 or 32 bytes (48 hex digits for 3DES)"));
    }
    Ok(key)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The first line of `raw`, without its line end.
fn first_line(raw: &[u8]) -> Zeroizing<Vec<u8>> {
    let line = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Zeroizing::new(line.to_vec())
}

/// Turns terminal echo back on when dropped.
struct EchoGuard {
    active: bool,
}

impl EchoGuard {
    fn off() -> Self {
        let active = Command::new("stty")
            .arg("-echo")
            .stdin(Stdio::inherit())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Self { active }
    }
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        if self.active {
            let _ = Command::new("stty").arg("echo").stdin(Stdio::inherit()).status();
        }
    }
}

/// Reads one line: on a terminal after `text` with echo off, else from standard input.
/// `None` at end of input.
fn prompt(text: &str) -> Outcome<Option<Zeroizing<Vec<u8>>>> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let _echo = if tty {
        let mut err = std::io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        Some(EchoGuard::off())
    } else {
        None
    };
    let mut line = Zeroizing::new(Vec::new());
    let n =
        stdin.lock().read_until(b'\n', &mut line).map_err(|e| Failure::msg(format!("cannot read the input: {e}")))?;
    if tty {
        let _ = std::io::stderr().write_all(b"\n");
    }
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(first_line(&line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(*first_line(b"123456\r\n"), b"123456");
        assert_eq!(*first_line(b"123456"), b"123456");
        assert_eq!(*first_line(b"\n"), b"");
        assert_eq!(capitalised("new PIN"), "New PIN");
    }
}
