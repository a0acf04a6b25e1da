#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failure is a panic with the code or the tool's output"
)]
//! Windows enrolment on a PIV token with the user PIN alone, as the Base CSP drives it: the
//! built cdylib loaded with `libloading`, reaching the simulated PIV card through a real pcscd
//! and vpcd. The token is provisioned by yubico-piv-tool itself, the way an administrator
//! makes a YubiKey's management key PIN-protected (`set-mgm-key`, then ADMIN DATA `5FFF00` and,
//! after `verify-pin`, PRINTED `5FC109` with `write-object`); the result is checked by
//! yubico-piv-tool again.
//!
//! Needs root (pcscd runs in its own mount namespace), pcscd, vsmartcard-vpcd and
//! yubico-piv-tool.

mod cdylib;
mod served;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use card_edges::crypto::{self, HashAlg};
use card_edges::transport::pcsc::PcscCard;
use card_sim::stack::{self, SharedStack, TempDir};
use mdtool::csp::{AcquireOptions, Code, Csp, Driver, Target};
use minidriver::abi::{code, crypt, keyspec, misc, pin, prop};
use served::wait_for;
use sha2::{Digest, Sha256};
use vfs::cmapfile::{ContainerMap, ContainerRecord, FLAG_VALID};

const PIN: &str = "123456";
const DEFAULT_KEY: &str = "010203040506070801020304050607080102030405060708";
/// The management key the administrator sets (3DES: yubico-piv-tool 2.2's only kind).
const NEW_KEY: &str = "8a1f3c5e7b9d2f4a6c8e0b2d4f6a8c0e1b3d5f7a9c2e4b6d";
/// The second reader of the private vpcd pair, where `mdtool serve` puts its card.
const SERVED: &str = served::READER_2;
/// The name the CSP gives the container it creates.
const CSP_NAME: &str = "le-SmartcardLogon-7c41e2d0-18ab";

fn stack() -> SharedStack {
    stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn driver() -> &'static Driver {
    static DRIVER: OnceLock<Driver> = OnceLock::new();
    DRIVER.get_or_init(|| Driver::load(&cdylib::path()).unwrap())
}

/// A context on `reader`, through pcscd, with a CSP cache of its own (a new process's).
fn acquire(reader: &str) -> Csp {
    let card = PcscCard::connect(&std::ffi::CString::new(reader).unwrap()).unwrap();
    let options = AcquireOptions {
        cache: Some(Arc::new(Mutex::new(mdtool::csp::CspCache::default()))),
        ..AcquireOptions::default()
    };
    Csp::acquire(driver(), Target::Pcsc(card), &options).unwrap()
}

fn dword(v: &[u8]) -> u32 {
    u32::from_le_bytes(v[..4].try_into().unwrap())
}

fn run(s: &SharedStack, cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({})\nstdout:\n{}\nstderr:\n{}\npcscd log: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.pcsc().log_path().display()
    );
    out
}

fn piv_tool(s: &SharedStack, reader: &str) -> Command {
    let mut cmd = s.command("yubico-piv-tool");
    cmd.args(["-r", reader]);
    cmd
}

/// `mdtool serve --sim piv --trace` on the second vpcd reader; its card's APDUs are collected
/// from the trace. Killed (card removed) when dropped.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Served {
    fn start(s: &SharedStack) -> Self {
        let port = (s.pcsc().port() + 1).to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mdtool"))
            .args(["serve", "--sim", "piv", "--trace", "--vpcd", &port])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let streams: [Box<dyn std::io::Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for stream in streams {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let served = Self { child, lines };
        served.wait_for(&format!("connected to vpcd on port {port}"));
        wait_for(SERVED, true);
        served
    }

    fn wait_for(&self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.starts_with(prefix) {
                return;
            }
            seen.push(line);
        }
        panic!("no line starting with {prefix:?}; got:\n{}", seen.join("\n"));
    }

    /// The commands the card received since the last call (hex, secrets redacted).
    fn commands(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        self.lines
            .try_iter()
            .filter_map(|l| {
                l.strip_prefix("mdtool: card: > ").map(|c| c.split("  <").next().unwrap_or_default().replace(' ', ""))
            })
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The next test's card must not meet this one's removal.
        let _ = std::panic::catch_unwind(|| wait_for(SERVED, false));
    }
}

/// What an administrator runs to give the token a PIN-protected management key.
fn provision_pin_protected(s: &SharedStack, reader: &str, dir: &TempDir) {
    run(s, piv_tool(s, reader).args([&format!("--key={DEFAULT_KEY}"), "-a", "set-mgm-key", "-n", NEW_KEY]));
    let admin = dir.path("admin-data.bin");
    std::fs::write(&admin, [0x80, 0x03, 0x81, 0x01, 0x02]).unwrap();
    let mut printed = vec![0x88, 0x1A, 0x89, 0x18];
    printed.extend_from_slice(&hex::decode(NEW_KEY).unwrap());
    let printed_file = dir.path("printed.bin");
    std::fs::write(&printed_file, &printed).unwrap();
    run(
        s,
        piv_tool(s, reader)
            .args([&format!("--key={NEW_KEY}"), "-a", "write-object", "--id", "0x5FFF00", "-f", "binary", "-i"])
            .arg(&admin),
    );
    run(
        s,
        piv_tool(s, reader)
            .args([
                &format!("--key={NEW_KEY}"),
                "-P",
                PIN,
                "-a",
                "verify-pin",
                "-a",
                "write-object",
                "--id",
                "0x5FC109",
                "-f",
                "binary",
                "-i",
            ])
            .arg(&printed_file),
    );
}

/// The enrolment the Base CSP makes: ROLE_USER, a new key in the first free container, the
/// container map with its own name for it, then the certificate a CA issued. Returns the
/// index and the certificate.
fn enrol(csp: &Csp) -> Result<(u8, Vec<u8>), Code> {
    csp.authenticate_ex(pin::ROLE_USER, 0, PIN.as_bytes()).map_err(|(c, _)| c)?;
    let mut map = ContainerMap::decode(&csp.read_file(Some("mscp"), "cmapfile")?).unwrap();
    let index = u8::try_from(map.first_free()).unwrap();
    csp.create_container_ex(index, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 2048, pin::ROLE_USER)?;
    map.set(usize::from(index), ContainerRecord::new(CSP_NAME, FLAG_VALID, 0, 2048).unwrap()).unwrap();
    csp.write_file(Some("mscp"), "cmapfile", &map.encode())?;
    let (_, blob) = csp.container_info(index)?;
    let n: Vec<u8> = blob[20..].iter().rev().copied().collect();
    let public = card_edges::key::PublicKey::from_rsa_components(&n, &[1, 0, 1]).unwrap();
    let cert = card_sim::issue_certificate("CN=Enrolled with the user PIN,O=Minidriver Test", public.spki()).unwrap();
    let file = format!("kxc{index:02x}");
    csp.create_file(Some("mscp"), &file, 0, 1)?;
    csp.write_file(Some("mscp"), &file, &cert)?;
    Ok((index, cert))
}

fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap()
}

fn read_certificate(s: &SharedStack, reader: &str, slot: &str) -> String {
    let out = run(s, piv_tool(s, reader).args(["-a", "read-certificate", "-s", slot]));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_user_pin_enrols_a_token_whose_management_key_is_pin_protected() {
    let s = stack();
    let served = Served::start(&s);
    let dir = TempDir::new("protected");
    provision_pin_protected(&s, SERVED, &dir);

    let csp = acquire(SERVED);
    assert_eq!(dword(&csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
    assert_eq!(csp.query_capabilities().unwrap(), (true, true));
    served.commands();
    let (index, cert) = enrol(&csp).unwrap();
    assert_eq!(index, 4, "the first free container: retired slot 82");
    let cmds = served.commands();
    eprintln!("enrolment (VERIFY, listing, keygen, cmapfile, certificate): {} APDUs:\n{}", cmds.len(), cmds.join("\n"));
    let generate = cmds.iter().position(|c| c.starts_with("00470082")).expect("GENERATE in 82");
    assert!(
        cmds[..generate].iter().any(|c| c.starts_with("00CB3FFF") && c.contains("5C035FC109")),
        "PRINTED read: {cmds:#?}"
    );
    assert!(cmds[..generate].iter().any(|c| c.starts_with("0087039B")), "9B authenticated: {cmds:#?}");
    // No ROLE_ADMIN was given; deauthenticating the user asks for a reset (the key's status
    // lasts until one).
    assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0x0Au32.to_le_bytes());
    assert_eq!(csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap_err().0, code::SCARD_E_UNSUPPORTED_FEATURE);
    drop(csp);

    // The card was reset by the CSP (its own handle), then another process lists it.
    let mut card = PcscCard::connect(&std::ffi::CString::new(SERVED).unwrap()).unwrap();
    card.reconnect(true).unwrap();
    drop(card);
    let csp = acquire(SERVED);
    let map = ContainerMap::decode(&csp.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    assert_eq!(map.get(4).unwrap().name(), CSP_NAME, "the CSP's name, from the card");
    assert_eq!(map.get(4).unwrap().key_exchange_key_size_bits(), 2048);
    assert_eq!(map.default_index(), Some(0));
    assert_eq!(csp.read_file(Some("mscp"), "kxc04").unwrap(), cert);
    csp.authenticate_ex(pin::ROLE_USER, 0, PIN.as_bytes()).unwrap();
    let hash = Sha256::digest(b"signed by an enrolled key");
    let mut sig = csp.sign_data(4, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    sig.reverse();
    let key =
        crypto::public_key_from_spki(card_edges::key::PublicKey::from_certificate(&cert).unwrap().spki()).unwrap();
    crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
    drop(csp);

    // yubico-piv-tool sees the certificate in slot 82.
    let status = String::from_utf8(run(&s, piv_tool(&s, SERVED).args(["-a", "status"])).stdout).unwrap();
    let section = status.split("Slot 82:").nth(1).unwrap_or_else(|| panic!("no slot 82:\n{status}"));
    assert!(section.contains("Enrolled with the user PIN"), "{status}");
    assert_eq!(read_certificate(&s, SERVED, "82").trim(), pem(&cert).trim());
}

#[test]
fn a_token_whose_key_only_its_holder_knows_refuses_before_any_write() {
    let s = stack();
    let served = Served::start(&s);
    run(&s, piv_tool(&s, SERVED).args([&format!("--key={DEFAULT_KEY}"), "-a", "set-mgm-key", "-n", NEW_KEY]));
    let csp = acquire(SERVED);
    assert_eq!(dword(&csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 0);
    served.commands();
    assert_eq!(enrol(&csp).unwrap_err().0, code::SCARD_W_SECURITY_VIOLATION);
    let cmds = served.commands();
    assert!(
        cmds.iter().all(|c| !c.starts_with("0047") && !c.starts_with("00DB") && !c.starts_with("10DB")),
        "nothing written: {cmds:#?}"
    );
    assert_eq!(csp.container_info(4).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
    drop(csp);
    let status = String::from_utf8(run(&s, piv_tool(&s, SERVED).args(["-a", "status"])).stdout).unwrap();
    assert!(!status.contains("Slot 82:"), "{status}");
}

#[test]
fn mdtool_scinfo_says_why_and_keygen_takes_the_user_pin() {
    let s = stack();
    let _served = Served::start(&s);
    let mdtool = |args: &[&str]| {
        let mut c = s.command(env!("CARGO_BIN_EXE_mdtool"));
        for v in ["MDTOOL_PIN", "MDTOOL_ADMIN_KEY"] {
            c.env_remove(v);
        }
        c.args(["--reader", SERVED]).args(args).env("MDTOOL_PIN", PIN).stdin(Stdio::null());
        String::from_utf8(run(&s, &mut c).stdout).unwrap()
    };
    let text = mdtool(&["scinfo"]);
    assert!(
        text.contains("Enrollment:      possible with the user PIN: the management key is the factory default"),
        "{text}"
    );
    // The explicit replacement: a random key stored PIN-protected.
    let out = mdtool(&["piv", "protect-mgmt-key"]);
    assert!(out.contains("replaced the management key with a random one stored PIN-protected"), "{out}");
    let text = mdtool(&["scinfo"]);
    assert!(
        text.contains("Enrollment:      possible with the user PIN: the management key is stored PIN-protected"),
        "{text}"
    );
    let out = mdtool(&["keygen", "-c", "4", "--alg", "rsa2048"]);
    assert!(out.contains("generated RSA 2048"), "{out}");
    // The default key no longer works.
    let mut c = piv_tool(&s, SERVED);
    let out = c
        .args([
            &format!("--key={DEFAULT_KEY}"),
            "-a",
            "write-object",
            "--id",
            "0x5FFF20",
            "-f",
            "binary",
            "-i",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn scinfo_says_why_not() {
    let s = stack();
    let _served = Served::start(&s);
    run(&s, piv_tool(&s, SERVED).args([&format!("--key={DEFAULT_KEY}"), "-a", "set-mgm-key", "-n", NEW_KEY]));
    let mut c = s.command(env!("CARGO_BIN_EXE_mdtool"));
    c.args(["--reader", SERVED, "scinfo"]).env_remove("MDTOOL_PIN").stdin(Stdio::null());
    let text = String::from_utf8(run(&s, &mut c).stdout).unwrap();
    assert!(text.contains("x.509 enrollment: no"), "{text}");
    assert!(
        text.contains("Enrollment:      not possible with the user PIN: the management key is neither PIN-protected"),
        "{text}"
    );
    let mut c = s.command(env!("CARGO_BIN_EXE_mdtool"));
    c.args(["--reader", SERVED, "--json", "scinfo"]).env_remove("MDTOOL_PIN").stdin(Stdio::null());
    let v: serde_json::Value = serde_json::from_slice(&run(&s, &mut c).stdout).unwrap();
    assert_eq!(v["capabilities"]["x509_enrollment"], false);
    assert!(v["capabilities"]["x509_enrollment_why"].as_str().unwrap().contains("only its holder can write"));
}

/// Whether the factory-default management key still authenticates (a write of a vendor object
/// no one uses needs it).
fn default_key_works(s: &SharedStack, dir: &TempDir) -> bool {
    let file = dir.path("one-byte");
    std::fs::write(&file, [0]).unwrap();
    let mut c = piv_tool(s, SERVED);
    c.args([&format!("--key={DEFAULT_KEY}"), "-a", "write-object", "--id", "0x5FFF20", "-f", "binary", "-i"])
        .arg(&file);
    c.output().unwrap().status.success()
}

/// The library option (`MINIDRIVER_PIV_PROTECT_DEFAULT_MGMT_KEY`, here through mdtool's linked
/// driver): off, a factory-default key is used as it is; on, the first write replaces it with a
/// random PIN-protected one.
#[test]
fn the_library_option_replaces_a_default_key_only_when_set() {
    let s = stack();
    let _served = Served::start(&s);
    let dir = TempDir::new("option");
    let keygen = |index: &str, env: &[(&str, &str)]| {
        let mut c = s.command(env!("CARGO_BIN_EXE_mdtool"));
        c.env_remove("MDTOOL_ADMIN_KEY").env_remove(minidriver::PIV_PROTECT_DEFAULT_MGMT_KEY_ENV);
        c.args(["--reader", SERVED, "keygen", "-c", index, "--alg", "rsa2048"])
            .env("MDTOOL_PIN", PIN)
            .envs(env.iter().copied());
        String::from_utf8(run(&s, c.stdin(Stdio::null())).stdout).unwrap()
    };
    let admin_data = || {
        let mut c = piv_tool(&s, SERVED);
        let out = c.args(["-a", "read-object", "--id", "0x5FFF00", "-f", "hex"]).output().unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_lowercase())
    };
    assert!(keygen("4", &[]).contains("generated RSA 2048"));
    assert!(default_key_works(&s, &dir), "off by default: the key is not changed");
    assert_eq!(admin_data(), None);
    assert!(keygen("5", &[(minidriver::PIV_PROTECT_DEFAULT_MGMT_KEY_ENV, "1")]).contains("generated RSA 2048"));
    assert!(!default_key_works(&s, &dir), "replaced");
    assert_eq!(admin_data().as_deref(), Some("8003810102"));
    // The next write finds the stored key with the PIN alone.
    assert!(keygen("6", &[]).contains("generated RSA 2048"));
}
