//! What only `--destructive` runs (§4.3.1-4.3.7, §4.6): a file created, written, grown, read
//! back and deleted; a directory created and deleted; a key generated in an empty container,
//! used and deleted again. Each step removes what it made.

use minidriver::abi::{code, keyspec, misc, pin};

use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::parse_blob;
use super::{INVALID, NO_CONTAINER, SECURITY, UNSUPPORTED};
use crate::csp::raw::{container_info_blobs, create_directory, create_file};

pub(crate) const CHECKS: &[Check] = &[
    check("writes.file", 99, "a file is created, written, grown, read back and deleted", file).pin().destructive(),
    check(
        "writes.file_errors",
        97,
        "an existing name is ERROR_FILE_EXISTS, a missing file SCARD_E_FILE_NOT_FOUND",
        file_errors,
    )
    .pin()
    .destructive(),
    check("writes.directory", 95, "a directory is created and deleted; names and access conditions checked", directory)
        .pin()
        .destructive(),
    check("writes.delete_missing_container", 129, "deleting a container that does not exist succeeds", delete_missing)
        .destructive(),
    check("writes.key_generation", 123, "a key generated in an empty container signs and is deleted", keygen)
        .pin()
        .destructive(),
];

/// The test file's name (8 characters, the longest a name may be).
const FILE: &str = "mdtconf0";

fn login(run: &mut Run<'_>) -> Result<(), Verdict> {
    let value = run.pin_value()?;
    let csp = run.main()?;
    csp.authenticate_ex(pin::ROLE_USER, 0, &value)
        .map(|_| ())
        .map_err(|(c, _)| Verdict::fail(format!("CardAuthenticateEx(ROLE_USER) returned {c}")))
}

/// Creates `mscp/mdtconf0`, or says why the card cannot hold it.
fn create(run: &mut Run<'_>) -> Result<(), Verdict> {
    login(run)?;
    let csp = run.main()?;
    let got = create_file(csp.raw(), Some("mscp"), FILE, 0, 1);
    if got == UNSUPPORTED || got == SECURITY {
        return Err(Verdict::skip(format!("the card does not let the user create files ({})", crate::csp::Code(got))));
    }
    run.expect(&format!("CardCreateFile(mscp/{FILE})"), got, &[0])
}

fn remove(run: &mut Run<'_>) {
    if let Ok(csp) = run.main() {
        let _ = csp.delete_file(Some("mscp"), FILE);
    }
}

fn file(run: &mut Run<'_>) -> Checked {
    create(run)?;
    let result = (|| {
        for data in [&b"first"[..], &[0x42; 300][..], b"2nd"] {
            let csp = run.main()?;
            let w = csp.write_file(Some("mscp"), FILE, data);
            let back = csp.read_file(Some("mscp"), FILE).unwrap_or_default();
            run.expect(&format!("CardWriteFile(mscp/{FILE}, {} bytes)", data.len()), super::code_of(&w), &[0])?;
            ensure(back == data, || format!("wrote {} bytes, read back {}", data.len(), back.len()))?;
        }
        let csp = run.main()?;
        let listed = csp.enum_files(Some("mscp")).unwrap_or_default();
        ensure(listed.iter().any(|n| n == FILE), || format!("mscp/{FILE} is not listed"))?;
        let d = csp.delete_file(Some("mscp"), FILE);
        let gone = csp.read_file(Some("mscp"), FILE);
        run.expect(&format!("CardDeleteFile(mscp/{FILE})"), super::code_of(&d), &[0])?;
        run.expect("CardReadFile of the deleted file", super::code_of(&gone), &[code::SCARD_E_FILE_NOT_FOUND])?;
        Ok(Verdict::pass("5, 300 and 3 bytes written and read back; deleted"))
    })();
    if result.is_err() {
        remove(run);
    }
    result
}

fn file_errors(run: &mut Run<'_>) -> Checked {
    create(run)?;
    let result = (|| {
        let csp = run.main()?;
        let again = create_file(csp.raw(), Some("mscp"), FILE, 0, 1);
        let missing = csp.write_file(Some("mscp"), "nofile", b"x");
        let missing_dir = csp.write_file(Some("nodir"), FILE, b"x");
        let delete_missing = csp.delete_file(Some("mscp"), "nofile");
        let bad_ac = create_file(csp.raw(), Some("mscp"), "mdtconf1", 0, 0);
        if bad_ac == 0 {
            let _ = csp.delete_file(Some("mscp"), "mdtconf1");
        }
        run.expect("CardCreateFile of an existing name", again, &[code::ERROR_FILE_EXISTS])?;
        run.expect("CardWriteFile(mscp/nofile)", super::code_of(&missing), &[code::SCARD_E_FILE_NOT_FOUND])?;
        run.expect("CardWriteFile(nodir/...)", super::code_of(&missing_dir), &[code::SCARD_E_DIR_NOT_FOUND])?;
        run.expect("CardDeleteFile(mscp/nofile)", super::code_of(&delete_missing), &[code::SCARD_E_FILE_NOT_FOUND])?;
        run.expect("CardCreateFile(InvalidAc)", bad_ac, &[INVALID])?;
        Ok(Verdict::pass("each refused with its code"))
    })();
    remove(run);
    result
}

fn directory(run: &mut Run<'_>) -> Checked {
    login(run)?;
    let csp = run.main()?;
    let made = create_directory(csp.raw(), "mdtdir", i32::try_from(misc::USER_CREATE_DELETE_DIR_AC).unwrap_or(1));
    if made == UNSUPPORTED || made == SECURITY {
        return Err(Verdict::skip(format!(
            "the card does not let the user create directories ({})",
            crate::csp::Code(made)
        )));
    }
    run.expect("CardCreateDirectory(mdtdir, UserCreateDeleteDirAc)", made, &[0])?;
    let csp = run.main()?;
    let again = create_directory(csp.raw(), "mdtdir", 1);
    let bad = create_directory(csp.raw(), "mdtdir2", 7);
    if bad == 0 {
        let _ = csp.delete_directory("mdtdir2");
    }
    let deleted = csp.delete_directory("mdtdir");
    let twice = csp.delete_directory("mdtdir");
    run.expect("CardCreateDirectory of an existing name", again, &[code::ERROR_FILE_EXISTS])?;
    run.expect("CardCreateDirectory(AccessCondition 7)", bad, &[INVALID])?;
    run.expect("CardDeleteDirectory(mdtdir)", super::code_of(&deleted), &[0])?;
    run.expect("CardDeleteDirectory of a deleted directory", super::code_of(&twice), &[code::SCARD_E_DIR_NOT_FOUND])?;
    Ok(Verdict::pass("created, refused twice, deleted"))
}

fn delete_missing(run: &mut Run<'_>) -> Checked {
    let unused = run.survey()?.unused_index();
    let csp = run.main()?;
    let got = csp.delete_container(unused);
    run.expect(&format!("CardDeleteContainer({unused})"), super::code_of(&got), &[0])?;
    Ok(Verdict::pass("succeeded"))
}

/// An index no record uses and `CardGetContainerInfo` finds empty: never one holding a key.
fn empty_container(run: &mut Run<'_>) -> Result<u8, Verdict> {
    let survey = run.survey()?.clone();
    let records = survey.cmapfile.len() / super::super::survey::RECORD_LEN;
    let used: Vec<u8> = survey.containers.iter().map(|c| c.index).collect();
    for index in 0..u8::try_from(records + 1).unwrap_or(u8::MAX) {
        if used.contains(&index) || survey.unreadable.iter().any(|(i, _)| *i == index) {
            continue;
        }
        let csp = run.main()?;
        let (got, sig, kx) = container_info_blobs(csp.raw(), index, 0);
        if got == NO_CONTAINER && sig.is_none() && kx.is_none() {
            return Ok(index);
        }
    }
    Err(Verdict::skip("no empty container to generate a key in"))
}

fn keygen(run: &mut Run<'_>) -> Checked {
    let index = empty_container(run)?;
    login(run)?;
    // The quickest key the card makes in that container: ECC if it does them (a container may
    // take one kind only), else its smallest RSA key.
    let mut made = Err(crate::csp::Code(UNSUPPORTED));
    let mut spec = 0;
    for candidate in [keyspec::AT_ECDSA_P256, keyspec::AT_ECDHE_P256, keyspec::AT_KEYEXCHANGE] {
        let csp = run.main()?;
        let Ok([min, ..]) = csp.query_key_sizes(candidate) else { continue };
        spec = candidate;
        let bits = if candidate == keyspec::AT_KEYEXCHANGE { min } else { 0 };
        made = csp.create_container(index, misc::CREATE_CONTAINER_KEY_GEN, spec, bits, None);
        if made.as_ref().is_err_and(|c| c.0 == SECURITY)
            && let Some(key) = run.options.admin_key.clone()
        {
            // Cards whose key generation needs the administrator (PIV's management key).
            let csp = run.main()?;
            let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap_or_default();
            if let Ok(response) = card_edges::crypto::challenge_response(&key, &challenge) {
                let _ = csp.authenticate_ex(pin::ROLE_ADMIN, 0, &response);
            }
            made = csp.create_container(index, misc::CREATE_CONTAINER_KEY_GEN, spec, bits, None);
        }
        if !made.as_ref().is_err_and(|c| c.0 == UNSUPPORTED || c.0 == INVALID) {
            break;
        }
    }
    if made.as_ref().is_err_and(|c| c.0 == SECURITY || c.0 == UNSUPPORTED || c.0 == INVALID) {
        let why = made.err().map(|c| c.to_string()).unwrap_or_default();
        return Err(Verdict::skip(format!("the card generates no key in container {index} for this run ({why})")));
    }
    run.expect(&format!("CardCreateContainer({index}, KEY_GEN, key spec {spec})"), super::code_of(&made), &[0])?;
    let result = (|| {
        let csp = run.main()?;
        let info = csp.container_info(index);
        run.expect(&format!("CardGetContainerInfo({index})"), super::code_of(&info), &[0])?;
        let (sig, kx) = info.unwrap_or_default();
        let key = if sig.is_empty() { parse_blob(&kx, false) } else { parse_blob(&sig, true) };
        let key = key.map_err(|e| Verdict::fail(format!("the generated key's blob: {e}")))?;
        ensure(key.key_spec == spec, || format!("generated key spec {spec}, the blob says {}", key.key_spec))?;
        if spec == keyspec::AT_ECDHE_P256 {
            return Ok(Verdict::pass(format!("container {index}: a {}-bit ECDH key", key.key.bits())));
        }
        let signed = super::crypto::sign_and_verify(run, index, &key)?;
        Ok(Verdict::pass(format!("container {index}: a {}-bit key; {signed}", key.key.bits())))
    })();
    let csp = run.main()?;
    let deleted = csp.delete_container(index);
    let _ = csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES);
    run.forget_survey();
    let verdict = result?;
    run.expect(&format!("CardDeleteContainer({index})"), super::code_of(&deleted), &[0])?;
    let csp = run.main()?;
    let (gone, _, _) = container_info_blobs(csp.raw(), index, 0);
    run.expect(&format!("CardGetContainerInfo({index}) after the deletion"), gone, &[NO_CONTAINER])?;
    Ok(verdict)
}
