//! The logical file system (§4.3, §5): the files every card has and their formats, the
//! listings, the codes for what is not there, names, and the access conditions.

use minidriver::abi::{code, prop};

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::{RECORD_DEFAULT, RECORD_LEN, RECORD_VALID, dword, word};
use super::INVALID;
use crate::csp::raw::{enum_files_bytes, file_info, free_space, name_codes, read_file_bytes};

pub(crate) const CHECKS: &[Check] = &[
    check("files.cardid", 87, "cardid is 16 bytes, not all zero", cardid),
    check("files.cardcf", 153, "cardcf is a 6-byte CARD_CACHE_FILE_FORMAT (+ 4 per application)", cardcf),
    check("files.cardapps", 87, "cardapps is the 8 bytes \"mscp\" and 4 zeros", cardapps),
    check("files.cmapfile", 106, "mscp/cmapfile is whole 86-byte records with valid flags and GUIDs", cmapfile),
    check("files.cardid_is_card_guid", 107, "cardid equals CP_CARD_GUID", cardid_is_guid),
    check("files.enum_root", 101, "CardEnumFiles(root) is one multi-string with cardid, cardcf, cardapps", enum_root),
    check("files.enum_mscp", 101, "CardEnumFiles(mscp) is one multi-string with cmapfile", enum_mscp),
    check(
        "files.missing_directory_listing",
        101,
        "CardEnumFiles of a missing directory is SCARD_E_DIR_NOT_FOUND",
        enum_missing,
    ),
    check("files.missing_file", 92, "reading a missing file is SCARD_E_FILE_NOT_FOUND", missing_file),
    check("files.missing_directory", 92, "reading in a missing directory is SCARD_E_DIR_NOT_FOUND", missing_directory),
    check("files.null_directory_is_root", 90, "pszDirectoryName NULL is the root", null_directory),
    check("files.long_names", 88, "a name of 9 characters is SCARD_E_INVALID_PARAMETER", long_names),
    check("files.long_names_writes", 88, "the writing functions refuse a 9-character name", long_names_writes)
        .destructive(),
    check("files.case_insensitive", 89, "names are compared case-insensitively", case_insensitive).level(Level::Should),
    check("files.file_info", 98, "CardGetFileInfo gives each file's size and access condition", info),
    check("files.file_info_missing", 98, "CardGetFileInfo of missing files and directories", info_missing),
    check("files.access_conditions", 103, "cardid, cardcf, cardapps, cmapfile carry the specification's ACs", acs),
    check("files.free_space", 102, "CardQueryFreeSpace fills CARD_FREE_SPACE_INFO as CP_CARD_FREE_SPACE", space),
    check("files.free_space_version", 102, "CARD_FREE_SPACE_INFO version 2 is ERROR_REVISION_MISMATCH", space_version)
        .level(Level::Should),
];

/// `EveryoneReadUserWriteAc` (§5.6.1).
const EVERYONE_READ_USER_WRITE: i32 = 1;
/// `EveryoneReadAdminWriteAc`.
const EVERYONE_READ_ADMIN_WRITE: i32 = 3;

fn read(run: &mut Run<'_>, dir: Option<&str>, file: &str) -> Result<Vec<u8>, Verdict> {
    let what = match dir {
        Some(d) => format!("CardReadFile({d}/{file})"),
        None => format!("CardReadFile({file})"),
    };
    let csp = run.main()?;
    let r = csp.read_file(dir, file);
    run.expect(&what, super::code_of(&r), &[0])?;
    Ok(r.unwrap_or_default())
}

fn cardid(run: &mut Run<'_>) -> Checked {
    let id = read(run, None, "cardid")?;
    ensure(id.len() == 16, || format!("cardid is {} bytes", id.len()))?;
    ensure(id.iter().any(|b| *b != 0), || "cardid is all zeros".to_owned())?;
    Ok(Verdict::pass(hex::encode_upper(&id)))
}

fn cardcf(run: &mut Run<'_>) -> Checked {
    let cf = read(run, None, "cardcf")?;
    ensure(cf.len() >= 6 && (cf.len() - 6) % 4 == 0, || format!("cardcf is {} bytes", cf.len()))?;
    Ok(Verdict::pass(format!("{} bytes: {}", cf.len(), hex::encode_upper(&cf))))
}

fn cardapps(run: &mut Run<'_>) -> Checked {
    let apps = read(run, None, "cardapps")?;
    ensure(apps == b"mscp\0\0\0\0", || format!("cardapps is {}", hex::encode_upper(&apps)))?;
    Ok(Verdict::pass("mscp"))
}

fn cmapfile(run: &mut Run<'_>) -> Checked {
    let map = read(run, Some("mscp"), "cmapfile")?;
    ensure(map.len() % RECORD_LEN == 0, || format!("{} bytes is not a whole number of 86-byte records", map.len()))?;
    let mut defaults = 0;
    for (i, r) in map.chunks_exact(RECORD_LEN).enumerate() {
        let flags = r.get(80).copied().unwrap_or(0);
        if flags & RECORD_VALID == 0 {
            ensure(flags & RECORD_DEFAULT == 0, || format!("record {i}: DEFAULT without VALID"))?;
            continue;
        }
        ensure(flags & !0x03 == 0, || format!("record {i}: reserved bFlags bits set (0x{flags:02X})"))?;
        defaults += usize::from(flags & RECORD_DEFAULT != 0);
        let name: Vec<u16> = r.get(..80).unwrap_or_default().chunks_exact(2).map(|w| word(w).unwrap_or(0)).collect();
        let end = name.iter().position(|u| *u == 0);
        ensure(end.is_some_and(|e| e > 0), || {
            format!("record {i}: wszGuid is empty or not NUL-terminated within 40 WCHAR")
        })?;
        ensure(!name.iter().take(end.unwrap_or(0)).any(|u| *u == u16::from(b'\\')), || {
            format!("record {i}: wszGuid contains a backslash")
        })?;
    }
    ensure(defaults <= 1, || format!("{defaults} records are marked DEFAULT"))?;
    Ok(Verdict::pass(format!("{} records, {defaults} default", map.len() / RECORD_LEN)))
}

fn cardid_is_guid(run: &mut Run<'_>) -> Checked {
    let id = read(run, None, "cardid")?;
    let csp = run.main()?;
    let guid = csp.get_property(prop::CARD_GUID, 0);
    run.expect("CardGetProperty(CP_CARD_GUID)", super::code_of(&guid), &[0])?;
    let guid = guid.unwrap_or_default();
    ensure(guid == id, || {
        format!("CP_CARD_GUID {} differs from cardid {}", hex::encode_upper(&guid), hex::encode_upper(&id))
    })?;
    Ok(Verdict::pass("equal"))
}

/// A multi-string's names, or why it is not one.
fn multi_string(bytes: &[u8], len: u32) -> Result<Vec<String>, String> {
    if usize::try_from(len).ok() != Some(bytes.len()) {
        return Err(format!("*pdwcbFileName is {len}, the block {} bytes", bytes.len()));
    }
    if !bytes.ends_with(b"\0\0") && bytes != b"\0" {
        return Err("the list does not end with two NULs".to_owned());
    }
    let body = bytes.strip_suffix(b"\0\0").unwrap_or_default();
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<_> = body.split(|b| *b == 0).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    if names.iter().any(String::is_empty) {
        return Err("an empty name in the list".to_owned());
    }
    Ok(names)
}

fn listing(run: &mut Run<'_>, dir: Option<&[u8]>, wanted: &[&str]) -> Checked {
    let csp = run.main()?;
    let (got, bytes, len) = enum_files_bytes(csp.raw(), dir);
    let label = dir.map_or("root".to_owned(), |d| String::from_utf8_lossy(d).into_owned());
    run.expect(&format!("CardEnumFiles({label})"), got, &[0])?;
    let names = multi_string(&bytes, len).map_err(Verdict::fail)?;
    for w in wanted {
        ensure(names.iter().any(|n| n.eq_ignore_ascii_case(w)), || {
            format!("{w} is not listed in {label} ({})", names.join(", "))
        })?;
    }
    Ok(Verdict::pass(names.join(", ")))
}

fn enum_root(run: &mut Run<'_>) -> Checked {
    listing(run, None, &["cardid", "cardcf", "cardapps"])
}

fn enum_mscp(run: &mut Run<'_>) -> Checked {
    listing(run, Some(b"mscp"), &["cmapfile"])
}

fn enum_missing(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, _, _) = enum_files_bytes(csp.raw(), Some(b"nodir"));
    run.expect("CardEnumFiles(nodir)", got, &[code::SCARD_E_DIR_NOT_FOUND])?;
    Ok(Verdict::pass("refused"))
}

fn missing_file(run: &mut Run<'_>) -> Checked {
    for (dir, file) in [(Some(&b"mscp"[..]), &b"nofile"[..]), (None, &b"nofile"[..]), (Some(b"mscp"), b"kxc99")] {
        let csp = run.main()?;
        let (got, _) = read_file_bytes(csp.raw(), dir, file, 0);
        let what = format!(
            "CardReadFile({}{})",
            dir.map_or(String::new(), |d| format!("{}/", String::from_utf8_lossy(d))),
            String::from_utf8_lossy(file)
        );
        run.expect(&what, got, &[code::SCARD_E_FILE_NOT_FOUND])?;
    }
    Ok(Verdict::pass("mscp/nofile, nofile and mscp/kxc99 not found"))
}

fn missing_directory(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, _) = read_file_bytes(csp.raw(), Some(b"nodir"), b"cmapfile", 0);
    run.expect("CardReadFile(nodir/cmapfile)", got, &[code::SCARD_E_DIR_NOT_FOUND])?;
    Ok(Verdict::pass("refused"))
}

fn null_directory(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, id) = read_file_bytes(csp.raw(), None, b"cardid", 0);
    let (info, size, _) = file_info(csp.raw(), None, "cardid", 1);
    run.expect("CardReadFile(NULL, cardid)", got, &[0])?;
    run.expect("CardGetFileInfo(NULL, cardid)", info, &[0])?;
    ensure(usize::try_from(size).ok() == Some(id.len()), || {
        format!("cardid is {} bytes, its info says {size}", id.len())
    })?;
    Ok(Verdict::pass("read and described from the root"))
}

fn names_with(run: &mut Run<'_>, writes: bool) -> Checked {
    let csp = run.main()?;
    let codes = name_codes(csp.raw(), b"toolong12", writes);
    let mut count = 0;
    for (what, got) in codes {
        let reading =
            matches!(what, "CardReadFile(file)" | "CardReadFile(directory)" | "CardGetFileInfo" | "CardEnumFiles");
        if writes == reading {
            continue;
        }
        count += 1;
        run.expect(&format!("{what} with a 9-character name"), got, &[INVALID])?;
    }
    Ok(Verdict::pass(format!("{count} calls refused")))
}

fn long_names(run: &mut Run<'_>) -> Checked {
    names_with(run, false)
}

fn long_names_writes(run: &mut Run<'_>) -> Checked {
    names_with(run, true)
}

fn case_insensitive(run: &mut Run<'_>) -> Checked {
    let plain = read(run, None, "cardid")?;
    let csp = run.main()?;
    let (got, upper) = read_file_bytes(csp.raw(), None, b"CARDID", 0);
    let (got_map, _) = read_file_bytes(csp.raw(), Some(b"MSCP"), b"CMAPFILE", 0);
    run.expect("CardReadFile(CARDID)", got, &[0])?;
    run.expect("CardReadFile(MSCP/CMAPFILE)", got_map, &[0])?;
    ensure(upper == plain, || "CARDID reads differently from cardid".to_owned())?;
    Ok(Verdict::pass("CARDID and MSCP/CMAPFILE found"))
}

/// The files every card has, with their access conditions (§5.4, §5.6.5).
const STANDARD: [(Option<&str>, &str, i32); 4] = [
    (None, "cardid", EVERYONE_READ_ADMIN_WRITE),
    (None, "cardcf", EVERYONE_READ_USER_WRITE),
    (None, "cardapps", EVERYONE_READ_ADMIN_WRITE),
    (Some("mscp"), "cmapfile", EVERYONE_READ_USER_WRITE),
];

fn info(run: &mut Run<'_>) -> Checked {
    let mut seen = Vec::new();
    for (dir, file, _) in STANDARD {
        let data = read(run, dir, file)?;
        for version in [1, 0] {
            let csp = run.main()?;
            let (got, size, _) = file_info(csp.raw(), dir, file, version);
            run.expect(&format!("CardGetFileInfo({file}, dwVersion {version})"), got, &[0])?;
            ensure(usize::try_from(size).ok() == Some(data.len()), || {
                format!("{file}: cbFileSize {size}, read {} bytes", data.len())
            })?;
        }
        seen.push(format!("{file} {}", data.len()));
    }
    Ok(Verdict::pass(seen.join(", ")))
}

fn info_missing(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (file, _, _) = file_info(csp.raw(), Some("mscp"), "nofile", 1);
    let (dir, _, _) = file_info(csp.raw(), Some("nodir"), "cmapfile", 1);
    run.expect("CardGetFileInfo(mscp/nofile)", file, &[code::SCARD_E_FILE_NOT_FOUND])?;
    run.expect("CardGetFileInfo(nodir/cmapfile)", dir, &[code::SCARD_E_DIR_NOT_FOUND])?;
    Ok(Verdict::pass("not found"))
}

fn acs(run: &mut Run<'_>) -> Checked {
    for (dir, file, wanted) in STANDARD {
        let csp = run.main()?;
        let (got, _, ac) = file_info(csp.raw(), dir, file, 1);
        run.expect(&format!("CardGetFileInfo({file})"), got, &[0])?;
        ensure(ac == wanted, || format!("{file}: AccessCondition {ac}, expected {wanted}"))?;
    }
    Ok(Verdict::pass("cardid and cardapps EveryoneReadAdminWriteAc, cardcf and cmapfile EveryoneReadUserWriteAc"))
}

fn space(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, [version, bytes, free, max]) = free_space(csp.raw(), 0, 1);
    let property = csp.get_property(prop::FREE_SPACE, 0);
    run.expect("CardQueryFreeSpace", got, &[0])?;
    ensure(version == 1, || format!("dwVersion came back as {version}"))?;
    let unknown = minidriver::abi::misc::VALUE_UNKNOWN;
    ensure(free == unknown || max == unknown || free <= max, || format!("{free} containers free of at most {max}"))?;
    run.expect("CardGetProperty(CP_CARD_FREE_SPACE)", super::code_of(&property), &[0])?;
    let p = property.unwrap_or_default();
    let fields: Vec<u32> = p.chunks_exact(4).map(|w| dword(w).unwrap_or(0)).collect();
    ensure(fields.get(1..4) == Some(&[bytes, free, max][..]), || {
        format!("CP_CARD_FREE_SPACE {fields:?} differs from CardQueryFreeSpace")
    })?;
    let show = |v: u32| if v == unknown { "unknown".to_owned() } else { v.to_string() };
    Ok(Verdict::pass(format!("{} bytes, {} of {} containers free", show(bytes), show(free), show(max))))
}

fn space_version(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let (got, _) = free_space(csp.raw(), 0, 2);
    run.expect("CardQueryFreeSpace(dwVersion 2)", got, &[code::ERROR_REVISION_MISMATCH])?;
    Ok(Verdict::pass("refused"))
}
