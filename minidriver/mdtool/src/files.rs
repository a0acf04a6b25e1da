//! `mdtool ls` and `mdtool cat`: the card's logical file system as the Base CSP sees it
//! (`CardEnumFiles`, `CardGetFileInfo`, `CardReadFile`).

use std::io::IsTerminal;
use std::path::Path;

use mdtool::csp::Csp;
use serde_json::json;

use crate::errors::{Failure, Outcome};
use crate::output::Out;

/// `CARD_FILE_ACCESS_CONDITION` names, with who may do what (seed 003).
pub(crate) fn access_condition(ac: i32) -> (&'static str, &'static str) {
    match ac {
        0 => ("InvalidAc", "-"),
        1 => ("EveryoneReadUserWriteAc", "E(R) U(RW) A(RW)"),
        2 => ("UserWriteExecuteAc", "U(WX) A(W)"),
        3 => ("EveryoneReadAdminWriteAc", "E(R) U(R) A(RW)"),
        4 => ("UnknownAc", "?"),
        5 => ("UserReadWriteAc", "U(RW) A(RW)"),
        6 => ("AdminReadWriteAc", "A(RW)"),
        _ => ("unknown", "?"),
    }
}

/// Splits `dir/file` (or `file`, in the root).
pub(crate) fn split(path: &str) -> Outcome<(Option<&str>, &str)> {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        None if !path.is_empty() => Ok((None, path)),
        Some((d, f)) if !d.is_empty() && !f.is_empty() && !f.contains('/') => Ok((Some(d), f)),
        _ => Err(Failure::usage(format!("\"{path}\" is not a card file path (FILE or DIR/FILE, e.g. mscp/cmapfile)"))),
    }
}

/// The application directories: `cardapps` lists them (8-byte names, NUL padded).
fn directories(csp: &Csp) -> Vec<String> {
    let apps = csp.read_file(None, "cardapps").unwrap_or_default();
    apps.chunks(8)
        .map(|c| String::from_utf8_lossy(c).trim_end_matches('\0').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Entry {
    path: String,
    size: Option<u32>,
    ac: Option<i32>,
}

fn entries(csp: &Csp, dir: Option<&str>, long: bool) -> Outcome<Vec<Entry>> {
    let what = dir.map_or("listing the root directory".to_owned(), |d| format!("listing {d}"));
    let names = csp.enum_files(dir).map_err(|c| Failure::code(c, &what))?;
    let mut out = Vec::new();
    for name in names {
        let info = if long { csp.file_info(dir, &name).ok() } else { None };
        out.push(Entry {
            path: dir.map_or(name.clone(), |d| format!("{d}/{name}")),
            size: info.map(|i| i.0),
            ac: info.map(|i| i.1),
        });
    }
    Ok(out)
}

/// `mdtool ls [-l] [DIR]`.
///
/// # Errors
/// The directory cannot be listed.
pub(crate) fn ls(out: &mut Out, csp: &Csp, dir: Option<&str>, long: bool) -> Outcome {
    let mut all = Vec::new();
    let mut dirs = Vec::new();
    match dir.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty()) {
        Some(d) => all.extend(entries(csp, Some(d), long)?),
        None => {
            all.extend(entries(csp, None, long)?);
            dirs = directories(csp);
            for d in &dirs {
                all.extend(entries(csp, Some(d), long)?);
            }
        }
    }
    if out.json() {
        let files: Vec<_> = all
            .iter()
            .map(|e| {
                let (name, mnemonic) = e.ac.map(access_condition).unzip();
                json!({ "path": e.path, "size": e.size, "access_condition": name, "access": mnemonic })
            })
            .collect();
        out.json_value(&json!({ "directories": dirs, "files": files }));
        return Ok(());
    }
    for d in &dirs {
        if long {
            out.line(format!("{:<26} {:>6}  {d}/", "directory", ""));
        } else {
            out.line(format!("{d}/"));
        }
    }
    for e in &all {
        if long {
            let (name, mnemonic) = e.ac.map_or(("?", "?"), access_condition);
            let size = e.size.map_or("?".into(), |s| s.to_string());
            out.line(format!("{name:<26} {size:>6}  {:<14} {mnemonic}", e.path));
        } else {
            out.line(&e.path);
        }
    }
    Ok(())
}

/// `mdtool cat PATH`: the file's bytes on stdout (hex when stdout is a terminal or `--hex`),
/// or into `--out FILE`.
///
/// # Errors
/// The file cannot be read.
pub(crate) fn cat(out: &mut Out, csp: &Csp, path: &str, hex_out: bool, to: Option<&Path>) -> Outcome {
    let (dir, file) = split(path)?;
    let data = csp.read_file(dir, file).map_err(|c| Failure::code(c, &format!("reading {path}")))?;
    if let Some(to) = to {
        std::fs::write(to, &data).map_err(|e| Failure::msg(format!("cannot write {}: {e}", to.display())))?;
        return Ok(());
    }
    if out.json() {
        out.json_value(&json!({ "path": path, "size": data.len(), "hex": hex::encode_upper(&data) }));
    } else if hex_out || std::io::stdout().is_terminal() {
        for chunk in data.chunks(32) {
            out.line(hex::encode_upper(chunk));
        }
    } else {
        out.bytes(&data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split("mscp/kxc00").unwrap(), (Some("mscp"), "kxc00"));
        assert_eq!(split("/cardid").unwrap(), (None, "cardid"));
        assert!(split("a/b/c").is_err());
        assert!(split("").is_err());
    }
}
