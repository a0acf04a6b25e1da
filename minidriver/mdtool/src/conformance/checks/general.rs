//! What the whole run shows about the codes a driver returns (§2.3.2).

use minidriver::abi::code;

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};

/// The checks that look back on the codes of the whole run.
pub(crate) const LATE: &[Check] = &[check(
    "general.scard_codes",
    7,
    "every failure code seen is an SCARD code or a Win32 code the specification names",
    codes,
)
.level(Level::Should)];

/// The Win32 codes function sections name (§2.3.2, §2.5.1, §3.2.1, §4.3.1, §4.3.2, §4.5.4).
const NAMED_WIN32: [u32; 7] = [
    code::ERROR_REVISION_MISMATCH,
    code::ERROR_INSUFFICIENT_BUFFER,
    code::ERROR_FILE_EXISTS,
    code::ERROR_DIR_NOT_EMPTY,
    code::ERROR_NOT_ENOUGH_MEMORY,
    code::ERROR_BAD_LENGTH,
    code::ERROR_NOT_FOUND,
];

fn codes(run: &mut Run<'_>) -> Checked {
    let odd: Vec<String> = run
        .seen
        .iter()
        .filter(|c| **c != 0 && *c & 0xFFFF_0000 != 0x8010_0000 && !NAMED_WIN32.contains(c))
        .map(|c| format!("0x{c:08X}"))
        .collect();
    ensure(odd.is_empty(), || format!("codes outside SCARD_*: {}", odd.join(", ")))?;
    Ok(Verdict::pass(format!("{} distinct codes seen", run.seen.len())))
}
