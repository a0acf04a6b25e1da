#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure is a panic that shows mdtool's output"
)]
//! mdtool's commands against the embedded simulated PIV card (`--sim piv`), run as the built
//! binary: every subcommand, the text and JSON outputs, and the clear errors that need no
//! PC/SC service (wrong and blocked PIN, unsupported operation, service not running, usage).
//! Signatures and ciphertexts are checked or made here with RustCrypto and the test vectors'
//! public keys, independently of mdtool's own code.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use der::{Decode, Encode};
use rsa::rand_core::{TryCryptoRng, TryRng};
use serde_json::Value;
use test_vectors::{certs, keys};

/// A PC/SC socket that does not exist: the service is "not running" for every run, so no test
/// depends on a pcscd the machine may have.
const NO_PCSCD: &str = "/nonexistent/mdtool-tests/pcscd.comm";
const PIN: &str = "123456";
const ADMIN_KEY: &str = "010203040506070801020304050607080102030405060708";

fn mdtool() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mdtool"));
    for v in ["MDTOOL_PIN", "MDTOOL_NEW_PIN", "MDTOOL_PUK", "MDTOOL_NEW_PUK", "MDTOOL_ADMIN_KEY", "XDG_CACHE_HOME"] {
        c.env_remove(v);
    }
    c.env("PCSCLITE_CSOCK_NAME", NO_PCSCD).stdin(Stdio::null());
    c
}

fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `args` (with `env`), expecting success: stdout.
fn ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = mdtool().args(args).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "mdtool {args:?} failed\n{}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, expecting exit status `code`: stderr.
fn fails(args: &[&str], env: &[(&str, &str)], code: i32) -> String {
    let out = mdtool().args(args).envs(env.iter().copied()).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "mdtool {args:?}\n{}", show(&out));
    String::from_utf8(out.stderr).unwrap()
}

/// Runs `args` with `input` on stdin.
fn with_stdin(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut child = mdtool()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mdtool-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json(text: &str) -> Value {
    assert_eq!(text.trim_end().lines().count(), 1, "one JSON document on one line:\n{text}");
    serde_json::from_str(text).unwrap()
}

#[test]
fn scinfo_is_complete_with_a_passing_self_test() {
    let out = ok(&["--sim", "piv", "scinfo"], &[("MDTOOL_PIN", PIN)]);
    for expected in [
        "Card:            Identity Device (NIST SP 800-73 [PIV])",
        "Card ID:         {0784A344-6C35-CA45-B037-6BF76CB4CB07} (cardid 44A38407356C45CAB0376BF76CB4CB07)",
        "Cache mode:      session only",
        "certificate compression: yes, key generation: yes, secure key injection: no",
        "1 user PIN (alphanumeric, primary card PIN, cache normal): 3 tries left",
        "3 signature PIN (alphanumeric, digital signature, always prompt): 3 tries left",
        "4 PUK",
        "Containers:      4 (default: 0)",
        "key:         AT_KEYEXCHANGE, RSA 2048 (e = 65537)",
        "key:         AT_ECDSA_P256, ECC P-256",
        "subject:   CN=Alice Example,OU=PIV Authentication,O=Minidriver Test Vectors,C=US",
        "issuer:    CN=Minidriver Test PIV CA,O=Minidriver Test Vectors,C=US",
        "valid:     2025-01-01T00:00:00Z to 2045-01-01T00:00:00Z",
        "Self test:       4 of 4 containers passed",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    for sha1 in [
        certs::PIV_AUTH_9A_SHA1,
        certs::DIGITAL_SIGNATURE_9C_SHA1,
        certs::KEY_MANAGEMENT_9D_SHA1,
        certs::CARD_AUTH_9E_SHA1,
    ] {
        assert!(out.contains(&format!("SHA-1:     {}", hex::encode_upper(sha1))), "thumbprint missing:\n{out}");
    }
    assert_eq!(out.matches("self test:   passed: sign + verify ok").count(), 4, "{out}");
}

#[test]
fn scinfo_json_has_the_containers() {
    let v = json(&ok(&["--sim", "piv", "scinfo", "--json"], &[("MDTOOL_PIN", PIN)]));
    let containers = v["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 4);
    let specs: Vec<&str> = containers.iter().map(|c| c["key_spec"].as_str().unwrap()).collect();
    assert_eq!(specs, ["AT_KEYEXCHANGE", "AT_ECDSA_P256", "AT_KEYEXCHANGE", "AT_ECDSA_P256"]);
    let sizes: Vec<u64> = containers.iter().map(|c| c["key_size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [2048, 256, 2048, 256]);
    let pins: Vec<u64> = containers.iter().map(|c| c["pin_id"].as_u64().unwrap()).collect();
    assert_eq!(pins, [1, 3, 1, 0]);
    for c in containers {
        assert_eq!(c["self_test"]["status"], "passed", "{c}");
    }
    assert_eq!(containers[0]["certificate"]["sha1"], hex::encode_upper(certs::PIV_AUTH_9A_SHA1));
    assert_eq!(containers[1]["certificate"]["file"], "mscp/ksc01");
    assert_eq!(v["default_container"], 0);
    assert_eq!(v["cache_mode"], "session only");
    assert_eq!(v["capabilities"]["key_generation"], true);
    assert_eq!(v["self_test"]["passed"], 4);
    let pins = v["pins"].as_array().unwrap();
    assert_eq!(pins[0]["id"], 1);
    assert_eq!(pins[0]["tries_left"], 3);
    assert_eq!(v["atr"], hex::encode_upper(card_sim::PivSim::default_card().unwrap().atr()));
}

#[test]
fn scinfo_without_a_pin_tests_only_the_pinless_key() {
    let v = json(&ok(&["--sim", "piv", "--json", "scinfo"], &[]));
    let status: Vec<&str> =
        v["containers"].as_array().unwrap().iter().map(|c| c["self_test"]["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["skipped", "skipped", "skipped", "passed"]);
}

/// `scripts/run`'s command: `--self-test` on the simulated card (here the no-reader fallback)
/// needs no PIN from anyone, and nothing is prompted for.
#[test]
fn the_main_job_self_tests_the_simulated_card_without_a_pin() {
    for args in [&["--json", "scinfo", "--self-test"][..], &["--sim", "gids", "--json", "scinfo", "--self-test"]] {
        let v = json(&ok(args, &[]));
        assert_eq!(v["self_test"]["failed"], 0, "{args:?}");
        assert_eq!(v["self_test"]["ran_with_pin"], true, "{args:?}");
        let passed = v["self_test"]["passed"].as_u64().unwrap();
        assert_eq!(passed, v["containers"].as_array().unwrap().len() as u64, "{args:?}");
    }
}

#[test]
fn scinfo_with_a_wrong_pin_stops_at_the_first_refusal() {
    let out = mdtool().args(["--sim", "piv", "scinfo"]).env("MDTOOL_PIN", "000000").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("self test:   FAILED: wrong PIN (2 tries left)"), "{text}");
    assert!(text.contains("not run after the PIN was refused"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("self test(s) failed"));
}

#[test]
fn scinfo_of_a_seeded_card_agrees_on_a_secret() {
    let v = json(&ok(&["--sim", "piv", "--seed", "7", "scinfo", "--json"], &[("MDTOOL_PIN", PIN)]));
    let c = &v["containers"][2];
    assert_eq!(c["key_spec"], "AT_ECDHE_P384");
    assert_eq!(c["self_test"]["status"], "passed");
    assert!(c["self_test"]["detail"].as_str().unwrap().starts_with("agreement ok"), "{c}");
    assert_ne!(v["cardid"], "44A38407356C45CAB0376BF76CB4CB07", "a seeded card is another card");
}

#[test]
fn ls_lists_files_with_access_conditions_and_sizes() {
    let out = ok(&["--sim", "piv", "ls", "-l"], &[]);
    let line = |path: &str| {
        out.lines().find(|l| l.split_whitespace().nth(2) == Some(path)).unwrap_or_else(|| panic!("{path}:\n{out}"))
    };
    assert!(line("cardid").starts_with("EveryoneReadAdminWriteAc"), "{out}");
    assert_eq!(line("cardid").split_whitespace().nth(1), Some("16"));
    assert!(line("cardcf").starts_with("EveryoneReadUserWriteAc"));
    assert!(line("cardapps").starts_with("EveryoneReadAdminWriteAc"));
    assert!(line("mscp/cmapfile").starts_with("EveryoneReadUserWriteAc"));
    assert_eq!(line("mscp/cmapfile").split_whitespace().nth(1), Some("344"));
    let kxc00 = line("mscp/kxc00");
    assert_eq!(kxc00.split_whitespace().nth(1), Some(certs::PIV_AUTH_9A.len().to_string().as_str()));
    assert!(kxc00.ends_with("E(R) U(RW) A(RW)"));
    for f in ["mscp/ksc01", "mscp/kxc02", "mscp/ksc03"] {
        line(f);
    }
    assert!(out.contains("mscp/"));
    let short = ok(&["--sim", "piv", "ls", "mscp"], &[]);
    assert_eq!(
        short.lines().collect::<Vec<_>>(),
        ["mscp/cmapfile", "mscp/kxc00", "mscp/ksc01", "mscp/kxc02", "mscp/ksc03"]
    );
    let v = json(&ok(&["--sim", "piv", "ls", "-l", "--json"], &[]));
    assert_eq!(v["files"].as_array().unwrap().len(), 8);
}

#[test]
fn cat_prints_the_certificate() {
    let out = mdtool().args(["--sim", "piv", "cat", "mscp/kxc00"]).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, certs::PIV_AUTH_9A);
    assert_eq!(ok(&["--sim", "piv", "cat", "--hex", "cardid"], &[]).trim(), "44A38407356C45CAB0376BF76CB4CB07");
    let t = TempDir::new("cat");
    ok(&["--sim", "piv", "cat", "mscp/kxc02", "-o", &t.arg("9d.der")], &[]);
    assert_eq!(std::fs::read(t.path("9d.der")).unwrap(), certs::KEY_MANAGEMENT_9D);
    let err = fails(&["--sim", "piv", "cat", "mscp/kxc09"], &[], 1);
    assert!(err.contains("no such file"), "{err}");
}

/// Verifies a signature mdtool made, with the test vectors' keys (not mdtool's code).
fn check_signature(container: u8, message: &[u8], signature: &[u8]) {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(message);
    match container {
        0 | 2 => {
            let spki = if container == 0 { keys::RSA_2048_A_SPKI } else { keys::RSA_2048_B_SPKI };
            let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(spki).unwrap();
            key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, signature).unwrap();
        }
        _ => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let cert = if container == 1 { certs::DIGITAL_SIGNATURE_9C } else { certs::CARD_AUTH_9E };
            let cert = x509_cert::Certificate::from_der(cert).unwrap();
            let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
            let key = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
            let vk = p256::ecdsa::VerifyingKey::from(key);
            let sig = p256::ecdsa::Signature::from_slice(signature).unwrap();
            vk.verify_prehash(&digest, &sig).unwrap();
        }
    }
}

#[test]
fn sign_and_verify_with_every_container() {
    let t = TempDir::new("sign");
    let message = b"mdtool signs this";
    std::fs::write(t.path("msg"), message).unwrap();
    for c in 0..4u8 {
        let c = c.to_string();
        let sig = t.arg(&format!("sig{c}"));
        ok(&["--sim", "piv", "sign", "-c", &c, "--in", &t.arg("msg"), "-o", &sig], &[("MDTOOL_PIN", PIN)]);
        check_signature(c.parse().unwrap(), message, &std::fs::read(&sig).unwrap());
        let out = ok(&["--sim", "piv", "verify", "-c", &c, "--in", &t.arg("msg"), "-s", &sig], &[]);
        assert!(out.starts_with("signature OK"), "{out}");
    }
    // The hex form on stdout, and a tampered message.
    let hex_sig = ok(&["--sim", "piv", "sign", "-c", "1", "--in", &t.arg("msg")], &[("MDTOOL_PIN", PIN)]);
    assert_eq!(hex_sig.trim().len(), 128, "P-256 r||s in hex: {hex_sig}");
    std::fs::write(t.path("sig.hex"), &hex_sig).unwrap();
    std::fs::write(t.path("other"), b"something else").unwrap();
    let err = fails(&["--sim", "piv", "verify", "-c", "1", "--in", &t.arg("other"), "-s", &t.arg("sig.hex")], &[], 1);
    assert!(err.contains("signature NOT valid"), "{err}");
    // PSS, checked by mdtool's verify.
    let pss = t.arg("pss");
    ok(&["--sim", "piv", "sign", "--pss", "-c", "0", "--in", &t.arg("msg"), "-o", &pss], &[("MDTOOL_PIN", PIN)]);
    ok(&["--sim", "piv", "verify", "--pss", "-c", "0", "--in", &t.arg("msg"), "-s", &pss], &[]);
    // JSON.
    let v = json(&ok(&["--sim", "piv", "--json", "sign", "-c", "3", "--in", &t.arg("msg")], &[]));
    assert_eq!(v["key_spec"], "AT_ECDSA_P256");
    check_signature(3, message, &hex::decode(v["signature"].as_str().unwrap()).unwrap());
}

/// The operating system's randomness for RustCrypto in this test.
struct OsRandom;

impl TryRng for OsRandom {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        use std::io::Read;
        std::fs::File::open("/dev/urandom").unwrap().read_exact(dst).unwrap();
        Ok(())
    }
}

impl TryCryptoRng for OsRandom {}

#[test]
fn decrypt_what_was_encrypted_for_the_9d_certificate() {
    let t = TempDir::new("decrypt");
    let cert = x509_cert::Certificate::from_der(certs::KEY_MANAGEMENT_9D).unwrap();
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let message = b"the session key";
    let ct = key.encrypt(&mut OsRandom, rsa::Pkcs1v15Encrypt, message).unwrap();
    std::fs::write(t.path("ct"), &ct).unwrap();
    let out = mdtool()
        .args(["--sim", "piv", "decrypt", "-c", "2", "--in", &t.arg("ct")])
        .env("MDTOOL_PIN", PIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(out.stdout, message);
    // The default container for decryption is the key management one; hex input works too.
    std::fs::write(t.path("ct.hex"), hex::encode(&ct)).unwrap();
    let v = json(&ok(&["--sim", "piv", "--json", "decrypt", "--in", &t.arg("ct.hex")], &[("MDTOOL_PIN", PIN)]));
    assert_eq!(v["container"], 2);
    assert_eq!(v["plaintext"], hex::encode_upper(message));
    // OAEP.
    let ct = key.encrypt(&mut OsRandom, rsa::Oaep::<sha2::Sha256>::new(), message).unwrap();
    std::fs::write(t.path("oaep"), &ct).unwrap();
    let out =
        ok(&["--sim", "piv", "decrypt", "--oaep", "sha256", "--hex", "--in", &t.arg("oaep")], &[("MDTOOL_PIN", PIN)]);
    assert_eq!(out.trim(), hex::encode_upper(message));
    // The wrong key cannot.
    let err = fails(&["--sim", "piv", "decrypt", "-c", "0", "--in", &t.arg("ct.hex")], &[("MDTOOL_PIN", PIN)], 1);
    assert!(err.contains("container 0 could not decrypt"), "{err}");
    // EC keys do not decrypt.
    let err = fails(&["--sim", "piv", "decrypt", "-c", "1", "--in", &t.arg("ct.hex")], &[("MDTOOL_PIN", PIN)], 2);
    assert!(err.contains("EC key"), "{err}");
}

#[test]
fn pin_verify_reports_tries_left_and_blocking() {
    let out = ok(&["--sim", "piv", "pin", "verify"], &[("MDTOOL_PIN", PIN)]);
    assert_eq!(out.trim(), "PIN 1 verified");
    let err = fails(&["--sim", "piv", "pin", "verify"], &[("MDTOOL_PIN", "000000")], 1);
    assert!(err.contains("wrong PIN (2 tries left)"), "{err}");
    // A PIN file.
    let t = TempDir::new("pin");
    std::fs::write(t.path("pin"), "123456\n").unwrap();
    ok(&["--sim", "piv", "--pin-file", &t.arg("pin"), "pin", "verify"], &[]);
    // Typed PINs (here: lines on stdin) are asked again until the PIN blocks.
    let out = with_stdin(&["--sim", "piv", "pin", "verify"], &[], "000000\n000000\n000000\n");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong PIN (2 tries left)"), "{err}");
    assert!(err.contains("wrong PIN (1 try left)"), "{err}");
    assert!(err.contains("blocked (unblock it: mdtool pin unblock)"), "{err}");
    let out = with_stdin(&["--sim", "piv", "pin", "verify"], &[], "000000\n123456\n");
    assert!(out.status.success(), "{}", show(&out));
    // Nothing given, nothing to read: a usage error.
    let err = fails(&["--sim", "piv", "pin", "verify"], &[], 2);
    assert!(err.contains("no PIN given: set MDTOOL_PIN"), "{err}");
    let status = ok(&["--sim", "piv", "pin", "status"], &[]);
    assert!(status.contains("1 user PIN: 3 tries left"), "{status}");
}

#[test]
fn pin_change_and_unblock() {
    let out = ok(&["--sim", "piv", "pin", "change"], &[("MDTOOL_PIN", PIN), ("MDTOOL_NEW_PIN", "654321")]);
    assert_eq!(out.trim(), "PIN changed");
    let err = fails(&["--sim", "piv", "pin", "change"], &[("MDTOOL_PIN", "999999"), ("MDTOOL_NEW_PIN", "654321")], 1);
    assert!(err.contains("wrong PIN (2 tries left)"), "{err}");
    let err = fails(&["--sim", "piv", "pin", "change"], &[("MDTOOL_PIN", PIN), ("MDTOOL_NEW_PIN", "12")], 2);
    assert!(err.contains("6 to 8 characters"), "{err}");
    let out = ok(&["--sim", "piv", "pin", "unblock"], &[("MDTOOL_PUK", "12345678"), ("MDTOOL_NEW_PIN", "654321")]);
    assert!(out.contains("unblocked"), "{out}");
    let err =
        fails(&["--sim", "piv", "pin", "unblock"], &[("MDTOOL_PUK", "00000000"), ("MDTOOL_NEW_PIN", "654321")], 1);
    assert!(err.contains("wrong PUK (2 tries left)"), "{err}");
    let out =
        ok(&["--sim", "piv", "pin", "change", "--puk"], &[("MDTOOL_PUK", "12345678"), ("MDTOOL_NEW_PUK", "87654321")]);
    assert_eq!(out.trim(), "PUK changed");
}

#[test]
fn keygen_with_the_management_key() {
    let t = TempDir::new("keygen");
    let out = ok(
        &["--sim", "piv", "keygen", "-c", "3", "--alg", "p256", "-o", &t.arg("pub.pem")],
        &[("MDTOOL_ADMIN_KEY", ADMIN_KEY)],
    );
    assert!(out.contains("generated ECC P-256 (AT_ECDSA_P256) in container 3"), "{out}");
    let pem = std::fs::read_to_string(t.path("pub.pem")).unwrap();
    let key = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(&pem).unwrap();
    let cert = x509_cert::Certificate::from_der(certs::CARD_AUTH_9E).unwrap();
    let old = cert.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes().to_vec();
    assert_ne!(key.to_sec1_bytes().to_vec(), old, "a new key");
    // A key agreement key in the key management slot, from a file.
    std::fs::write(t.path("key"), ADMIN_KEY).unwrap();
    let v = json(&ok(
        &["--sim", "piv", "--json", "--admin-key-file", &t.arg("key"), "keygen", "-c", "2", "--alg", "p384"],
        &[],
    ));
    assert_eq!(v["key_spec"], "AT_ECDHE_P384");
    let err = fails(&["--sim", "piv", "keygen", "-c", "3"], &[("MDTOOL_ADMIN_KEY", &"00".repeat(24))], 1);
    assert!(err.contains("wrong card management key"), "{err}");
    // Without the management key, the factory-default card takes the user PIN.
    let err = fails(&["--sim", "piv", "keygen", "-c", "3"], &[], 2);
    assert!(err.contains("MDTOOL_PIN"), "{err}");
    let out = ok(&["--sim", "piv", "keygen", "-c", "4", "--alg", "rsa2048"], &[("MDTOOL_PIN", "123456")]);
    assert!(out.contains("generated RSA 2048") && out.contains("in container 4"), "{out}");
}

#[test]
fn import_is_an_operation_the_card_does_not_support() {
    let t = TempDir::new("import");
    std::fs::write(t.path("ec.der"), keys::P256_A).unwrap();
    std::fs::write(t.path("rsa.der"), keys::RSA_2048_A).unwrap();
    for (file, c) in [("ec.der", "3"), ("rsa.der", "0")] {
        let err =
            fails(&["--sim", "piv", "import", "-c", c, "--key", &t.arg(file)], &[("MDTOOL_ADMIN_KEY", ADMIN_KEY)], 1);
        assert!(err.contains("the card does not support key import"), "{err}");
    }
    let out =
        mdtool().args(["--sim", "piv", "--json", "import", "-c", "0", "--key", &t.arg("rsa.der")]).output().unwrap();
    let v = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(v["code"], "0x80100022");
}

#[test]
fn inf_registers_the_atr() {
    let atr = card_sim::PivSim::default_card().unwrap().atr();
    let out = ok(&["--sim", "piv", "inf", "--name", "Test Card"], &[]);
    let n = atr.len();
    let stored: Vec<String> = atr[..n - 1].iter().map(|b| format!("{b:02x}")).chain(["00".to_owned()]).collect();
    let mask: Vec<String> = std::iter::repeat_n("ff".to_owned(), n - 1).chain(["00".to_owned()]).collect();
    for expected in [
        "[DefaultInstall.NTamd64]".to_owned(),
        r#"SmartCardKey      = "SOFTWARE\Microsoft\Cryptography\Calais\SmartCards\Test Card""#.to_owned(),
        r#"SmartCardKeyWOW64 = "SOFTWARE\WOW6432Node\Microsoft\Cryptography\Calais\SmartCards\Test Card""#.to_owned(),
        format!(r#"HKLM, %SmartCardKey%, "ATR",                             0x00000001, {}"#, stored.join(",")),
        format!(r#"HKLM, %SmartCardKey%, "ATRMask",                         0x00000001, {}"#, mask.join(",")),
        r#"HKLM, %SmartCardKey%, "80000001",                        0x00000000, %MiniDriverDll%"#.to_owned(),
        r#""Crypto Provider"="Microsoft Base Smart Card Crypto Provider""#.to_owned(),
        r#""Smart Card Key Storage Provider"="Microsoft Smart Card Key Storage Provider""#.to_owned(),
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Cryptography\Calais\SmartCards\Test Card]".to_owned(),
        format!("\"ATR\"=hex:{}", stored.join(",")),
        "\"80000001\"=\"minidriver.dll\"".to_owned(),
        format!("; ATR     {}", hex::encode_upper(&atr[..n - 1]) + "00"),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    // A mask of our own: the stored ATR is the ATR ANDed with it.
    let mut mask = vec![0xFFu8; n];
    mask[2] = 0x0F;
    let v = json(&ok(&["--sim", "piv", "--json", "inf", "--mask", &hex::encode(&mask)], &[]));
    let mut stored = atr.clone();
    stored[2] &= 0x0F;
    assert_eq!(v["stored_atr"], hex::encode_upper(&stored));
    assert_eq!(v["atr"], hex::encode_upper(&atr));
    let err = fails(&["--sim", "piv", "inf", "--mask", "FFFF"], &[], 2);
    assert!(err.contains("--mask has 2 bytes"), "{err}");
}

#[test]
fn detect_shows_the_three_flows() {
    let t = TempDir::new("detect");
    let cache = t.arg("atr-cache");
    let out = ok(&["--sim", "piv", "detect", "--atr-cache", &cache], &[]);
    for expected in [
        "Smart card Plug and Play",
        "SELECT SC PnP AID",
        "> 00A404000BA0000003974349445F0100",
        "GET DATA 7F68 (CardID)",
        "SELECT PIV AID",
        "> 00A4040009A00000030800001000",
        "= PIV-compatible device",
        "=> compatible id \"PIV\"",
        "Winscard",
        "none of 0 entries match",
        "SELECT MS GIDS AID",
        "=> \"Identity Device (NIST SP 800-73 [PIV])\" (the card answered the PIV SELECT)",
        "Class minidriver",
        "PIV application present: card marked PIV",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    // Winscard cached the ATR: the next run matches without probing.
    let again = ok(&["--sim", "piv", "detect", "--atr-cache", &cache], &[]);
    assert!(again.contains("(ATR cached as PIV)"), "{again}");
    // The default cache lives under $XDG_CACHE_HOME.
    let v = json(&ok(&["--sim", "piv", "--json", "detect"], &[("XDG_CACHE_HOME", &t.arg("xdg"))]));
    assert_eq!(v["atr_cache"], t.arg("xdg/mdtool/atr-cache"));
    assert_eq!(v["flows"].as_array().unwrap().len(), 3);
    assert!(t.path("xdg/mdtool/atr-cache").exists());
}

#[test]
fn trace_shows_apdus_by_entry_point_with_the_pin_redacted() {
    let t = TempDir::new("trace");
    std::fs::write(t.path("msg"), b"x").unwrap();
    let out = mdtool()
        .args(["--sim", "piv", "--trace", "sign", "-c", "1", "--in", &t.arg("msg")])
        .env("MDTOOL_PIN", PIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("csp{entry=\"CardAcquireContext\"}: apdu command=00A40400"), "{err}");
    assert!(
        err.contains("minidriver{entry=\"CardAuthenticateEx\" edge=\"PIV\"}: apdu command=00200080 <9 bytes redacted>"),
        "{err}"
    );
    assert!(err.contains("entry=\"CardSignData\""), "{err}");
    assert!(!err.contains("313233343536"), "the PIN leaked:\n{err}");
    assert!(err.contains("by entry point:"), "{err}");
    let count = |name: &str| {
        err.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name}:\n{err}")).to_owned()
    };
    assert!(count("CardSignData").ends_with("1 call     1 APDU"), "{err}");
    assert!(count("20 VERIFY").trim_end().ends_with('2'), "{err}");
    // The trace goes to stderr only: stdout is the signature alone.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 128);
}

#[test]
fn the_pcsc_service_not_running_is_explained() {
    for args in [&["readers"][..], &["watch", "--timeout", "1"], &["--reader", "Virtual", "scinfo"]] {
        let err = fails(args, &[], 1);
        assert!(
            err.contains("the PC/SC service (pcscd) is not running: start it with `sudo systemctl start pcscd`"),
            "{err}"
        );
        assert!(err.contains("sc start SCardSvr"), "{err}");
        assert!(err.contains("1068"), "{err}");
    }
    // Without --reader, mdtool says so in one line and uses the embedded card.
    let out = mdtool().args(["--json", "scinfo"]).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "mdtool: the PC/SC service is not running: using the embedded simulated PIV card (--sim piv)\n"
    );
    json(&String::from_utf8(out.stdout).unwrap());
}

/// No silent test keys: without a reader, the commands that use a card's keys or PINs fail
/// with the no-service error instead of using the simulated card, and work with `--sim piv`.
#[test]
fn key_commands_never_fall_back_to_the_simulated_card() {
    let pin = [("MDTOOL_PIN", PIN)];
    let key_commands: [&[&str]; 8] = [
        &["sign", "-c", "0", "--digest", "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"],
        &["decrypt", "-c", "2", "--in", "/nonexistent"],
        &["pin", "verify"],
        &["pin", "status"],
        &["keygen", "-c", "5"],
        &["import", "-c", "5", "--key", "/nonexistent"],
        &["verify", "-c", "0", "--digest", "00", "--signature", "/nonexistent"],
        &["inf"],
    ];
    for args in key_commands {
        let err = fails(args, &pin, 1);
        assert!(
            err.contains("the PC/SC service is not running: this command uses a card's own keys"),
            "{args:?}: {err}"
        );
        assert!(err.contains("--sim piv"), "{err}");
        assert!(!err.contains("using the embedded simulated"), "{err}");
    }
    let out = ok(&["--sim", "piv", "sign", "-c", "0", "--digest", &"11".repeat(32)], &pin);
    assert_eq!(out.trim().len(), 512, "an RSA-2048 signature in hex: {out}");
}

#[test]
fn usage_errors_exit_with_2() {
    fails(&[], &[], 2);
    fails(&["frobnicate"], &[], 2);
    fails(&["--sim", "piv", "--reader", "x", "scinfo"], &[], 2);
    let err = fails(&["--sim", "piv", "--driver", "/nonexistent/libminidriver.so", "scinfo"], &[], 2);
    assert!(err.contains("cannot load the minidriver"), "{err}");
    let err = fails(&["--sim", "piv", "sign", "-c", "9", "--digest", "00"], &[], 2);
    assert!(err.contains("no key container 9"), "{err}");
    let err = fails(&["--sim", "piv", "sign", "--pss", "-c", "1", "--digest", "00"], &[], 2);
    assert!(err.contains("--pss is for RSA keys"), "{err}");
    let err = fails(&["--sim", "piv", "cat", "a/b/c"], &[], 2);
    assert!(err.contains("not a card file path"), "{err}");
}

#[test]
fn help_answers_the_resource_manager_questions() {
    let out = ok(&["--help"], &[]);
    for expected in [
        "mdtool watch",
        "SCardGetStatusChange",
        "sudo systemctl start pcscd",
        "sc config SCardSvr start= auto",
        "sc start SCardSvr",
        "1068",
        "Plug and Play",
        "MDTOOL_PIN",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let first = readme.lines().find(|l| l.contains("mdtool") && l.trim_start().starts_with("MDTOOL_PIN=")).unwrap();
    assert!(first.contains("--sim piv scinfo"), "the README's first command: {first}");
}

/// The README's first command, as written there, prints a complete scinfo with a passing self
/// test (run through the built binary rather than `cargo run`).
#[test]
fn readme_first_command() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme.lines().find(|l| l.trim_start().starts_with("MDTOOL_PIN=")).unwrap();
    let (env, rest) = line.trim().split_once(' ').unwrap();
    let pin = env.strip_prefix("MDTOOL_PIN=").unwrap();
    let args: Vec<&str> = rest.split_once("--").map_or(rest, |(_, a)| a).split_whitespace().collect();
    let out = ok(&args, &[("MDTOOL_PIN", pin)]);
    assert!(out.contains("Self test:       4 of 4 containers passed"), "{out}");
}

#[test]
fn serve_speaks_vpcd() {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = mdtool().args(["serve", "--sim", "piv", "--vpcd", &port]).stdout(Stdio::piped()).spawn().unwrap();
    let (mut s, peer) = listener.accept().unwrap();
    assert!(peer.ip().is_loopback());
    // vpcd asks for the ATR.
    s.write_all(&[0, 1, 4]).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut atr = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut atr).unwrap();
    assert_eq!(atr, card_sim::PivSim::default_card().unwrap().atr());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("serving the simulated PIV card"), "{first}");
    let second = lines.next().unwrap().unwrap();
    assert!(second.starts_with(&format!("connected to vpcd on port {port}")), "{second}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Every subcommand on the simulated GIDS card (`--sim gids`): scinfo with its self test, ls,
/// cat, sign and verify, decrypt, pin verify/change/unblock (by the administrator key: the card
/// has no PUK), keygen and import with the user PIN, inf, detect.
#[test]
fn every_command_on_the_gids_card() {
    let t = TempDir::new("gids");
    let pin = [("MDTOOL_PIN", PIN)];
    let out = ok(&["--sim", "gids", "scinfo", "--self-test"], &pin);
    for expected in [
        "Card:            Identity Device (Microsoft Generic Profile)",
        "Cache mode:      global cache (1)",
        "certificate compression: no, key generation: yes",
        "x.509 enrollment: yes",
        "Algorithms:      RSA\n",
        "Key sizes:       AT_KEYEXCHANGE 1024-4096 (default 2048, step 1024)",
        "1 user PIN (alphanumeric, primary card PIN, cache normal): 3 tries left",
        "2 administrator (challenge-response, administrator, cache normal)",
        "certificate: mscp/kxc00",
        "subject:   CN=GIDS Container 0",
        "Self test:       2 of 2 containers passed",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let ls = ok(&["--sim", "gids", "ls", "-l"], &[]);
    assert!(ls.contains("EveryoneReadUserWriteAc") && ls.contains("mscp/kxc01"), "{ls}");
    let stored = mdtool().args(["--sim", "gids", "cat", "mscp/kxc00"]).output().unwrap().stdout;
    assert_eq!(&stored[..2], [0x01, 0x00], "the CSP's compressed certificate, as stored");
    // Sign with both keys and verify with the certificates.
    std::fs::write(t.path("msg"), b"signed on GIDS").unwrap();
    for c in ["0", "1"] {
        let sig = t.arg(&format!("sig{c}"));
        ok(&["--sim", "gids", "sign", "-c", c, "--in", &t.arg("msg"), "-o", &sig], &pin);
        let out = ok(&["--sim", "gids", "verify", "-c", c, "--in", &t.arg("msg"), "-s", &sig], &[]);
        assert!(out.starts_with("signature OK"), "{out}");
        let pss = t.arg(&format!("pss{c}"));
        ok(&["--sim", "gids", "sign", "--pss", "-c", c, "--in", &t.arg("msg"), "-o", &pss], &pin);
        ok(&["--sim", "gids", "verify", "--pss", "-c", c, "--in", &t.arg("msg"), "-s", &pss], &[]);
    }
    // Decrypt what was encrypted for container 1's certificate.
    let stored = mdtool().args(["--sim", "gids", "cat", "mscp/kxc01"]).output().unwrap().stdout;
    let der = mdtool::csp::session::certificate_from_file(&stored).unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let ct = key.encrypt(&mut OsRandom, rsa::Pkcs1v15Encrypt, b"for GIDS").unwrap();
    std::fs::write(t.path("ct"), &ct).unwrap();
    let out = mdtool().args(["--sim", "gids", "decrypt", "-c", "1", "--in", &t.arg("ct")]).envs(pin).output().unwrap();
    assert_eq!(out.stdout, b"for GIDS", "{}", show(&out));
    // PINs: a wrong PIN, a change, an unblock by the administrator key.
    let err = fails(&["--sim", "gids", "pin", "verify"], &[("MDTOOL_PIN", "000000")], 1);
    assert!(err.contains("wrong PIN (2 tries left)"), "{err}");
    ok(&["--sim", "gids", "pin", "change"], &[("MDTOOL_PIN", PIN), ("MDTOOL_NEW_PIN", "24681357")]);
    let out = ok(&["--sim", "gids", "pin", "unblock"], &[("MDTOOL_ADMIN_KEY", ADMIN_KEY), ("MDTOOL_NEW_PIN", "2468")]);
    assert!(out.contains("PIN unblocked with the administrator key"), "{out}");
    let err = fails(
        &["--sim", "gids", "pin", "unblock"],
        &[("MDTOOL_ADMIN_KEY", &"00".repeat(24)), ("MDTOOL_NEW_PIN", "2468")],
        1,
    );
    assert!(err.contains("administrator key"), "{err}");
    // Keys: generated and imported with the user PIN alone.
    let out = ok(&["--sim", "gids", "keygen", "-c", "2", "--alg", "rsa2048"], &pin);
    assert!(out.contains("generated RSA 2048"), "{out}");
    std::fs::write(t.path("key.der"), keys::RSA_2048_A).unwrap();
    let out = ok(&["--sim", "gids", "import", "-c", "2", "--key", &t.arg("key.der")], &pin);
    assert!(out.contains("imported a AT_KEYEXCHANGE key into container 2"), "{out}");
    let err = fails(&["--sim", "gids", "keygen", "-c", "2", "--alg", "p256"], &pin, 1);
    assert!(err.contains("does not support") || err.contains("not supported"), "{err}");
    // inf and detect.
    let inf = ok(&["--sim", "gids", "inf", "--reg-only"], &[]);
    assert!(inf.contains("GIDS card (Rust minidriver)"), "{inf}");
    let detect = ok(&["--sim", "gids", "detect"], &[]);
    assert!(detect.contains("GIDS application present: card marked GIDS"), "{detect}");
}

/// `mdtool --sim piv|gids conformance` passes every MUST of this project's driver, with and
/// without `--destructive`: the table, the totals, the allocation balance, and the JSON of the
/// same run; every checklist item is in the report (checked, skipped with its reason, or not
/// checked with its reason).
#[test]
fn conformance_passes_every_must_on_both_simulated_cards() {
    for sim in ["piv", "gids"] {
        for extra in [&[][..], &["--destructive"][..]] {
            let args: Vec<&str> = ["--sim", sim, "conformance"].iter().copied().chain(extra.iter().copied()).collect();
            let text = ok(&args, &[]);
            assert!(text.contains("ITEM LEVEL  RESULT      APDUS   BYTES  CHECK\n"), "{text}");
            assert!(text.contains("Totals by level:\n  MUST "), "{text}");
            assert!(text.contains("Allocations: 0 pfnCspAlloc buffers live at the end"), "{text}");
            assert!(text.contains("Result:  no MUST check failed"), "{text}");
            let args: Vec<&str> = ["--sim", sim, "--json"].iter().copied().chain(args[2..].iter().copied()).collect();
            let v = json(&ok(&args, &[]));
            assert_eq!(v["passed"], true);
            assert_eq!(v["totals"]["all"]["fail"], 0, "{sim} {extra:?}");
            assert_eq!(v["allocations"]["live"], 0);
            let checks = v["checks"].as_array().unwrap();
            let items: std::collections::BTreeSet<u64> = checks.iter().map(|c| c["item"].as_u64().unwrap()).collect();
            assert_eq!(items, (1..=174).collect(), "{sim}: every item");
            for c in checks {
                let status = c["status"].as_str().unwrap();
                assert!(["pass", "skip", "not-checked"].contains(&status), "{c}");
                assert!(status == "pass" || !c["detail"].as_str().unwrap().is_empty(), "{c}: no reason");
                // The embedded card counts each check's APDUs (the closing balance sends none).
                assert!(c["apdus"].is_u64() || c["id"] == "memory.balance_at_end", "{c}");
            }
            let must_passed = v["totals"]["by_level"]["MUST"]["pass"].as_u64().unwrap();
            assert!(
                must_passed >= if extra.is_empty() { 130 } else { 140 },
                "{sim} {extra:?}: {must_passed} MUST passed"
            );
            if !extra.is_empty() {
                let keygen = checks.iter().find(|c| c["id"] == "writes.key_generation").unwrap();
                assert_eq!(keygen["status"], "pass", "{keygen}");
            }
        }
    }
}

#[test]
fn conformance_items_select_the_checks_and_bad_lists_are_usage_errors() {
    let v = json(&ok(&["--sim", "gids", "--json", "conformance", "--items", "18,87"], &[]));
    let checks = v["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c["item"] == 18 || c["item"] == 87), "{v}");
    for bad in ["0", "175", "x", "30-15", ""] {
        let err = fails(&["--sim", "piv", "conformance", "--items", bad], &[], 2);
        assert!(err.contains("numbers 1 to 174 and ranges like 15-30"), "{bad}: {err}");
    }
    // A loaded library needs a reader: the embedded card has no PC/SC handles.
    let err = fails(&["--sim", "piv", "--driver", "/nonexistent.so", "conformance"], &[], 2);
    assert!(!err.is_empty());
}

/// A seeded PIV card holds a key-agreement key (P-384 in 9D): the ECDH checks run and pass.
#[test]
fn conformance_agrees_keys_on_a_seeded_piv_card() {
    let v = json(&ok(&["--sim", "piv", "--seed", "7", "--json", "conformance", "--items", "150-152"], &[]));
    let checks = v["checks"].as_array().unwrap();
    for id in ["crypto.ecdh", "crypto.dh_version"] {
        let c = checks.iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(c["status"], "pass", "{c}");
    }
    assert_eq!(v["passed"], true);
}
