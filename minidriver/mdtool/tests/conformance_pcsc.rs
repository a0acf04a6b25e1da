#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failure is a panic that shows mdtool's output"
)]
//! `mdtool conformance` against a loaded library through a real PC/SC stack (a private pcscd
//! with vpcd, `card_sim::stack`): the built `libminidriver.so` on the card `mdtool serve --sim
//! piv|gids` serves gets the same result for every check as the embedded `--sim` run; and
//! `conformance-defects` (the same library behind one injected defect, `MD_DEFECT`, on the
//! card served in-process) fails exactly the checks of its defect, which proves those checks
//! can fail, and exits non-zero exactly when a MUST failed; a hung driver and a crashing one
//! are named by the step they stopped in.
//!
//! Needs root (pcscd runs in its own mount namespace), pcscd and vsmartcard-vpcd.

mod cdylib;
mod served;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};

use card_sim::stack::{self, READER, SharedStack};
use served::{READER_2, Served};

const PIN: &str = "123456";
const ADMIN_KEY: &str = "010203040506070801020304050607080102030405060708";
/// The checks only a PC/SC reader runs (the embedded card has no handles): skipped with
/// `--sim`, run over pcscd.
const READER_ONLY: [&str; 2] = ["contexts.handles_left_alone", "contexts.handle_swap"];

fn stack() -> SharedStack {
    stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mdtool")
}

/// `mdtool --json ... conformance` with the simulated card's secrets in the environment.
fn mdtool(command: &mut Command, args: &[&str]) -> Output {
    command
        .args(args)
        .env("MDTOOL_PIN", PIN)
        .env("MDTOOL_ADMIN_KEY", ADMIN_KEY)
        .env("MD_DEFECT_DRIVER", cdylib::path())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The report of a run through the stack's pcscd with `driver` (and `MD_DEFECT=defect`).
fn through_pcscd(
    s: &SharedStack,
    driver: &std::path::Path,
    defect: &str,
    args: &[&str],
) -> (Output, serde_json::Value) {
    let mut c = s.command(bin());
    c.arg("--driver").arg(driver).args(["--reader", READER, "--json", "conformance"]).env("MD_DEFECT", defect);
    let out = mdtool(&mut c, args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: not JSON:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, v)
}

/// Each check's status.
fn statuses(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned()))
        .collect()
}

/// The checks that failed, and whether a MUST is among them.
fn failed(report: &serde_json::Value) -> (BTreeSet<String>, bool) {
    let checks = report["checks"].as_array().unwrap();
    let failed: Vec<_> = checks.iter().filter(|c| c["status"] == "fail").collect();
    let must = failed.iter().any(|c| c["level"] == "MUST");
    (failed.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect(), must)
}

fn defects() -> std::path::PathBuf {
    cdylib::named("conformance_defects")
}

/// `mdtool --sim kind --json conformance` in-process (no PC/SC service reachable).
fn embedded(kind: &str, extra: &[&str]) -> serde_json::Value {
    let mut c = Command::new(bin());
    c.args(["--sim", kind, "--json", "conformance"]).env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm");
    let out = mdtool(&mut c, extra);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The built library through pcscd against `mdtool serve --sim kind` gets, check by check, the
/// result of the in-process run of the same simulated card (the reader-only checks run only
/// there), with and without `--destructive`.
fn loaded_equals_embedded(kind: &str, card: &str) {
    let s = stack();
    for extra in [&[][..], &["--destructive"][..]] {
        let embedded = embedded(kind, extra);
        let served = Served::start_sim(&s, kind, card);
        let mut c = s.command(bin());
        c.arg("--driver").arg(cdylib::path()).args(["--reader", READER_2, "--json", "conformance"]);
        let out = mdtool(&mut c, extra);
        served.stop();
        let loaded: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (mut a, b) = (statuses(&embedded), statuses(&loaded));
        for id in READER_ONLY {
            assert_eq!(a.remove(id).as_deref(), Some("skip"), "{id} needs a reader");
            assert_eq!(b[id], "pass", "{kind}: {id} over pcscd");
        }
        let b: BTreeMap<_, _> = b.into_iter().filter(|(id, _)| !READER_ONLY.contains(&id.as_str())).collect();
        assert_eq!(a, b, "{kind}: the same result for every check ({extra:?})");
        assert!(!a.values().any(|st| st == "fail"), "{kind}: {a:?}");
        assert_eq!(loaded["apdus_seen"], false);
        assert!(
            loaded["checks"].as_array().unwrap().iter().all(|c| c["apdus"].is_null()),
            "no APDU counts for a reader"
        );
        assert_eq!(loaded["allocations"]["live"], 0);
        assert_eq!(embedded["allocations"]["live"], 0);
    }
}

#[test]
fn the_built_library_on_a_served_piv_card_gets_the_embedded_runs_results() {
    loaded_equals_embedded("piv", "PIV");
}

#[test]
fn the_built_library_on_a_served_gids_card_gets_the_embedded_runs_results() {
    loaded_equals_embedded("gids", "GIDS");
}

/// Each defect of `conformance-defects` and the checks it must fail (the check of its item,
/// and the others the same departure necessarily trips: a NULL `pfnCardQueryFreeSpace` also
/// fails the checks that call it).
const DEFECTS: [(&str, &[&str]); 11] = [
    ("none", &[]),
    ("null_slot", &["table.required_entries", "files.free_space", "files.free_space_version", "memory.in_place"]),
    // The vendor-specific check also asks for a version 3 context and expects nothing left.
    ("accept_v3", &["acquire.version_3_refused", "acquire.vendor_specific"]),
    (
        "leak",
        &[
            "cache.lookup_buffers_freed",
            "contexts.delete_releases",
            "contexts.delete_without_card",
            "memory.balance_at_end",
        ],
    ),
    ("write_on_failure", &["args.read_file", "memory.out_of_memory", "memory.outputs_on_failure"]),
    ("be_signature", &["crypto.sign_pkcs1", "crypto.sign_padding_info"]),
    ("pin_cached", &["contexts.no_authentication_carried_over"]),
    ("null_arg_code", &["args.read_file"]),
    ("short_buffer_len", &["properties.short_buffer_length"]),
    ("cardid_not_guid", &["files.cardid_is_card_guid"]),
    ("tail_write", &["acquire.tail_untouched"]),
];

#[test]
fn every_defect_fails_exactly_its_checks() {
    let s = stack();
    let driver = defects();
    let mut wrong = Vec::new();
    for (defect, expected) in DEFECTS {
        s.reset_card().unwrap();
        let (out, report) = through_pcscd(&s, &driver, defect, &[]);
        let (failed, must) = failed(&report);
        let expected: BTreeSet<String> = expected.iter().map(|id| (*id).to_owned()).collect();
        if failed != expected {
            wrong.push(format!("{defect}: failed {failed:?}, expected {expected:?}"));
        }
        // The exit status is non-zero exactly when a MUST failed.
        assert_eq!(out.status.success(), !must, "{defect}: exit {:?} with a MUST failed: {must}", out.status.code());
        assert!(report["aborted"].is_null(), "{defect}: {}", report["aborted"]);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_hung_driver_and_a_crashing_one_are_named_by_their_step() {
    let s = stack();
    let driver = defects();
    // CardQueryFreeSpace never returns: the first check that calls it is the hung step.
    let (out, report) = through_pcscd(&s, &driver, "hang", &["--step-timeout", "3"]);
    assert!(!out.status.success());
    assert_eq!(report["aborted"]["kind"], "hang", "{}", report["aborted"]);
    assert!(report["aborted"]["detail"].as_str().unwrap().contains("no answer within 3 s"), "{}", report["aborted"]);
    let hung = report["aborted"]["step"].as_str().unwrap().to_owned();
    // Every check before it is in the report; the hung one is not.
    assert!(statuses(&report).keys().all(|id| *id != hung));
    // CardGetFileInfo ends the process: the step that called it is named.
    s.reset_card().unwrap();
    let (out, report) = through_pcscd(&s, &driver, "crash", &[]);
    assert!(!out.status.success());
    assert_eq!(report["aborted"]["kind"], "crash", "{}", report["aborted"]);
    assert!(report["aborted"]["detail"].as_str().unwrap().contains("signal 6"), "{}", report["aborted"]);
    assert!(!report["aborted"]["step"].as_str().unwrap().is_empty());
    // The crash happened in a step that calls CardGetFileInfo; the ones before it passed.
    assert!(statuses(&report).values().all(|st| st != "fail"));
}

/// A mistyped PIN costs the card one try, not one per check: the runner tries the given PIN
/// once by itself and, refused, skips every check that would present it.
#[test]
fn a_refused_pin_costs_the_card_one_try() {
    let s = stack();
    s.reset_card().unwrap();
    let tries = s.sim().pin_tries_left();
    let out = s
        .command(bin())
        .arg("--driver")
        .arg(cdylib::path())
        .args(["--reader", READER, "--json", "conformance"])
        .env("MDTOOL_PIN", "654321")
        .env("MDTOOL_ADMIN_KEY", ADMIN_KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s.sim().pin_tries_left(), tries - 1, "one try spent");
    let checks = report["checks"].as_array().unwrap();
    let right = checks.iter().find(|c| c["id"] == "pins.right_pin").unwrap();
    assert_eq!(right["status"], "skip");
    let detail = right["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "the card refused the given PIN (SCARD_W_WRONG_CHV (0x8010006B), {} tries left)",
            tries - 1
        )),
        "{detail}"
    );
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{}", String::from_utf8_lossy(&out.stdout));
    // The right PIN (one check of item 3) gives the card its tries back.
    let (out, _) = through_pcscd(&s, &cdylib::path(), "none", &["--items", "3"]);
    assert!(out.status.success());
    assert_eq!(s.sim().pin_tries_left(), tries);
}
