#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure is a panic that shows mdtool's output"
)]
//! mdtool through a real PC/SC stack: a private pcscd with vsmartcard's vpcd reader pair
//! (`card_sim::stack`, one per test binary, tests take turns). The simulated card is
//! served in-process on `Virtual PCD 00 00`, and by `mdtool serve` (a child process) on
//! `Virtual PCD 00 01`. Checks `readers`, `scinfo` (the same content as the embedded run),
//! `watch`, `detect`, `--driver`, and the errors only a service can produce: no card, no such
//! reader, unknown card, a PIN blocked across runs.
//!
//! Needs root (pcscd runs in its own mount namespace), pcscd and vsmartcard-vpcd.

mod served;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use card_edges::transport::memory::VirtualCard;
use card_sim::stack::{self, READER, SharedStack};
use served::{READER_2, Served, expect_line, lines_of};

const PIN: &str = "123456";

fn stack() -> SharedStack {
    stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mdtool")
}

/// mdtool talking to the stack's pcscd.
fn mdtool(s: &SharedStack) -> Command {
    let mut c = s.command(bin());
    for v in ["MDTOOL_PIN", "MDTOOL_NEW_PIN", "MDTOOL_PUK", "MDTOOL_ADMIN_KEY", "XDG_CACHE_HOME"] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

fn show(s: &SharedStack, out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}\npcscd log: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.pcsc().log_path().display()
    )
}

fn ok(s: &SharedStack, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = mdtool(s).args(args).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "mdtool {args:?} failed\n{}", show(s, &out));
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn fails(s: &SharedStack, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = mdtool(s).args(args).envs(env.iter().copied()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "mdtool {args:?}\n{}", show(s, &out));
    String::from_utf8(out.stderr).unwrap()
}

/// The embedded PIV card's output, for comparison.
fn embedded(args: &[&str]) -> String {
    embedded_sim("piv", args)
}

/// The embedded `kind` card's output, for comparison.
fn embedded_sim(kind: &str, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(["--sim", kind])
        .args(args)
        .env("MDTOOL_PIN", PIN)
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The scinfo text without its first line (the reader).
fn without_reader(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.starts_with("Reader:")).map(str::to_owned).collect()
}

/// The scinfo JSON without the fields that name where the card is.
fn card_content(text: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("reader");
    o.remove("simulated");
    v
}

#[test]
fn readers_and_scinfo_through_pcscd() {
    let s = stack();
    let atr = hex::encode_upper(s.sim().atr());
    let out = stdout(&ok(&s, &["readers"], &[]));
    assert!(out.contains(&format!("0: {READER}: card present, ATR {atr}")), "{out}");
    assert!(out.contains(&format!("1: {READER_2}: no card")), "{out}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&ok(&s, &["readers", "--json"], &[]))).unwrap();
    assert_eq!(v["readers"][0]["atr"], atr);
    assert_eq!(v["readers"][1]["card_present"], false);

    // The same scinfo as the embedded card's, through pcscd: the first reader with a card is
    // chosen without --reader.
    let text = stdout(&ok(&s, &["scinfo"], &[("MDTOOL_PIN", PIN)]));
    assert!(text.starts_with(&format!("Reader:          {READER}\n")), "{text}");
    assert_eq!(without_reader(&text), without_reader(&embedded(&["scinfo"])));
    assert!(text.contains("Self test:       4 of 4 containers passed"), "{text}");
    let json = stdout(&ok(&s, &["--reader", READER, "--json", "scinfo"], &[("MDTOOL_PIN", PIN)]));
    assert_eq!(card_content(&json), card_content(&embedded(&["--json", "scinfo"])));
    // The PIN was verified and dropped again: nothing stays authenticated on the shared card.
    assert!(!s.sim().pin_verified());
}

#[test]
fn scinfo_against_mdtool_serve() {
    let s = stack();
    let served = Served::start(&s);
    let text = stdout(&ok(&s, &["--reader", READER_2, "scinfo"], &[("MDTOOL_PIN", PIN)]));
    assert!(text.starts_with(&format!("Reader:          {READER_2}\n")), "{text}");
    assert_eq!(without_reader(&text), without_reader(&embedded(&["scinfo"])));
    let json = stdout(&ok(&s, &["--reader", "00 01", "--json", "scinfo"], &[("MDTOOL_PIN", PIN)]));
    let v = card_content(&json);
    assert_eq!(v["containers"].as_array().unwrap().len(), 4);
    assert_eq!(v, card_content(&embedded(&["--json", "scinfo"])));
    served.stop();
}

/// The simulated GIDS card served by `mdtool serve --sim gids` through pcscd gives the same
/// scinfo, self test included, as the embedded one.
#[test]
fn gids_scinfo_against_mdtool_serve() {
    let s = stack();
    let served = Served::start_sim(&s, "gids", "GIDS");
    let text = stdout(&ok(&s, &["--reader", READER_2, "scinfo", "--self-test"], &[("MDTOOL_PIN", PIN)]));
    assert!(text.contains("Card:            Identity Device (Microsoft Generic Profile)"), "{text}");
    assert!(text.contains("Self test:       2 of 2 containers passed"), "{text}");
    assert_eq!(without_reader(&text), without_reader(&embedded_sim("gids", &["scinfo", "--self-test"])));
    let json = stdout(&ok(&s, &["--reader", READER_2, "--json", "scinfo"], &[("MDTOOL_PIN", PIN)]));
    assert_eq!(card_content(&json), card_content(&embedded_sim("gids", &["--json", "scinfo"])));
    // A key generated with the user PIN through pcscd, then listed by a new run.
    let out = stdout(&ok(&s, &["--reader", READER_2, "keygen", "-c", "2", "--alg", "rsa2048"], &[("MDTOOL_PIN", PIN)]));
    assert!(out.contains("generated RSA 2048"), "{out}");
    let text = stdout(&ok(&s, &["--reader", READER_2, "scinfo"], &[]));
    assert!(text.contains("Containers:      3"), "{text}");
    served.stop();
}

#[test]
fn watch_prints_insertion_and_removal() {
    let s = stack();
    let mut watch =
        mdtool(&s).args(["watch", "--count", "2", "--timeout", "60"]).stdout(Stdio::piped()).spawn().unwrap();
    let rx = lines_of(&mut watch);
    let mut seen = Vec::new();
    expect_line(&rx, "watching 2 readers", &mut seen);
    let present = expect_line(&rx, &format!("card present in \"{READER}\""), &mut seen);
    assert!(present.ends_with(&hex::encode_upper(s.sim().atr())), "{present}");
    expect_line(&rx, "  detected: ", &mut seen);
    let served = Served::start(&s);
    expect_line(&rx, &format!("card inserted in \"{READER_2}\": ATR "), &mut seen);
    let detected = expect_line(&rx, "  detected: ", &mut seen);
    assert!(detected.contains("plug and play: compatible id \"PIV\""), "{detected}");
    assert!(detected.contains("class minidriver: PIV"), "{detected}");
    served.stop();
    expect_line(&rx, &format!("card removed from \"{READER_2}\""), &mut seen);
    let status = watch.wait().unwrap();
    assert!(status.success(), "watch ended with {status}:\n{}", seen.join("\n"));
}

#[test]
fn watch_json_and_timeout() {
    let s = stack();
    let started = Instant::now();
    let out = ok(&s, &["--json", "watch", "--timeout", "0.5", "--no-detect"], &[]);
    assert!(started.elapsed() < Duration::from_secs(5));
    let events: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events[0]["event"], "watching");
    assert_eq!(events[1]["event"], "present");
    assert_eq!(events[1]["reader"], READER);
}

#[test]
fn detect_through_pcscd() {
    let s = stack();
    let dir = std::env::temp_dir().join(format!("mdtool-pcsc-detect-{}", std::process::id()));
    let cache = dir.join("atr-cache");
    let out = stdout(&ok(&s, &["--reader", READER, "detect", "--atr-cache", cache.to_str().unwrap()], &[]));
    for expected in [
        format!("Card in reader \"{READER}\": ATR {}", hex::encode_upper(s.sim().atr())),
        "> 00A404000BA0000003974349445F0100".to_owned(),
        "= PIV-compatible device".to_owned(),
        "(the card answered the PIV SELECT)".to_owned(),
        "PIV application present: card marked PIV".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The built minidriver library, loaded as a CSP loads it.
fn library() -> PathBuf {
    let exe = PathBuf::from(bin());
    let lib = exe.parent().unwrap().join("deps").join("libminidriver.so");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

#[test]
fn a_loaded_minidriver_library_through_pcscd() {
    let s = stack();
    let lib = library();
    let text =
        stdout(&ok(&s, &["--reader", READER, "--driver", lib.to_str().unwrap(), "scinfo"], &[("MDTOOL_PIN", PIN)]));
    assert!(text.contains("Minidriver:      loaded library (CARD_DATA version 7)"), "{text}");
    assert!(text.contains("Self test:       4 of 4 containers passed"), "{text}");
}

#[test]
fn no_card_and_no_such_reader() {
    let s = stack();
    // The second reader holds no card (unless `mdtool serve` runs).
    let err = fails(&s, &["--reader", READER_2, "scinfo"], &[]);
    assert!(err.contains(&format!("no card in reader \"{READER_2}\": insert one")), "{err}");
    let err = fails(&s, &["--reader", "00 01", "pin", "verify"], &[("MDTOOL_PIN", PIN)]);
    assert!(err.contains(&format!("no card in reader \"{READER_2}\"")), "{err}");
    let err = fails(&s, &["--reader", "Nope", "scinfo"], &[]);
    assert!(err.contains("no reader named \"Nope\" (`mdtool readers` lists the readers PC/SC knows)"), "{err}");
    let err = fails(&s, &["--reader", "Nope", "inf"], &[]);
    assert!(err.contains("no reader named \"Nope\""), "{err}");
    let out = mdtool(&s).args(["--reader", "Virtual", "scinfo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&s, &out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches 2 readers"));
}

/// A card without a PIV application: every SELECT is "not found", everything else "not
/// supported".
struct NotPiv;

impl VirtualCard for NotPiv {
    fn atr(&self) -> Vec<u8> {
        // T=0 then T=1 offered, 8 historical bytes, and the check byte.
        let mut atr = vec![0x3B, 0x88, 0x80, 0x01];
        atr.extend_from_slice(b"Not PIV!");
        let tck = atr[1..].iter().fold(0, |x, b| x ^ b);
        atr.push(tck);
        atr
    }
    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        if command.get(1) == Some(&0xA4) { vec![0x6A, 0x82] } else { vec![0x6D, 0x00] }
    }
    fn reset(&mut self) {}
}

#[test]
fn an_unknown_card() {
    let mut s = stack();
    // Swap the card and reset it, so that pcscd reads the new card's ATR.
    s.slot().insert(NotPiv);
    s.pcsc().reset_card().unwrap();
    s.wait_for_card(true).unwrap();
    let err = fails(&s, &["--reader", READER, "scinfo"], &[]);
    assert!(err.contains("unknown card: no card edge of this minidriver drives it"), "{err}");
    assert!(err.contains("detection found a card with no PIV or GIDS application"), "{err}");
    assert!(err.contains(&hex::encode_upper(NotPiv.atr())), "{err}");
    let cache = std::env::temp_dir().join(format!("mdtool-pcsc-unknown-{}", std::process::id()));
    let out = stdout(&ok(&s, &["--reader", READER, "detect", "--atr-cache", cache.to_str().unwrap()], &[]));
    let _ = std::fs::remove_file(&cache);
    assert!(out.contains("not PIV (6A 82)"), "{out}");
    assert!(out.contains("no match: SCardListCards finds no card name"), "{out}");
    assert!(out.contains("AID not found: card marked GIDS"), "{out}");
    // inf works for any card.
    let out = stdout(&ok(&s, &["--reader", READER, "inf", "--reg-only", "--name", "Not PIV"], &[]));
    assert!(out.contains("\"ATR\"=hex:3b,88,80,01"), "{out}");
    let sim = s.sim().clone();
    s.insert(sim).unwrap();
}

#[test]
fn a_pin_blocked_across_runs_and_unblocked() {
    let s = stack();
    let args = ["--reader", READER, "pin", "verify"];
    let wrong = [("MDTOOL_PIN", "000000")];
    assert!(fails(&s, &args, &wrong).contains("wrong PIN (2 tries left)"));
    assert!(fails(&s, &args, &wrong).contains("wrong PIN (1 try left)"));
    assert!(fails(&s, &args, &wrong).contains("no tries left, it is now blocked"));
    let err = fails(&s, &args, &[("MDTOOL_PIN", PIN)]);
    assert!(err.contains("the PIN is blocked (unblock it: mdtool pin unblock)"), "{err}");
    let info = stdout(&ok(&s, &["--reader", READER, "pin", "status"], &[]));
    assert!(info.contains("1 user PIN: BLOCKED"), "{info}");
    let err = fails(&s, &["--reader", READER, "sign", "-c", "0", "--digest", &"00".repeat(32)], &[("MDTOOL_PIN", PIN)]);
    assert!(err.contains("blocked"), "{err}");
    ok(&s, &["--reader", READER, "pin", "unblock"], &[("MDTOOL_PUK", "12345678"), ("MDTOOL_NEW_PIN", PIN)]);
    let out = stdout(&ok(&s, &args, &[("MDTOOL_PIN", PIN)]));
    assert_eq!(out.trim(), "PIN 1 verified");
    assert_eq!(s.sim().pin_tries_left(), 3);
}
