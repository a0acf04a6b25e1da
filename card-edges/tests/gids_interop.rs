#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure is a panic that shows the tool's output"
)]
//! Interoperability of the simulated GIDS card with OpenSC, an independent host, through a
//! private pcscd and vpcd (see `card_sim::stack`): OpenSC's default driver order must pick its
//! GIDS driver; `gids-tool` initialises a factory-new card and unblocks the PIN with the
//! administrator key (mutual authentication); OpenSC generates a key on the card, stores a
//! certificate made for that key, lists both, and signs and decrypts (checked by OpenSSL);
//! and the provisioned default card is read and used with both of its keys.
//!
//! Needs root (pcscd runs in its own mount namespace), util-linux's unshare, pcscd,
//! vsmartcard-vpcd, opensc (0.23, with `gids-tool`) and openssl: `scripts/deps` installs them.
//! Every test resets the card first. The APDU counts of OpenSC's flows are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use card_sim::GidsSim;
use card_sim::stack::{self, SharedStack, TempDir};

/// The default administrator key, and another one for the initialised card.
const ADMIN_KEY: &str = "010203040506070801020304050607080102030405060708";
const NEW_ADMIN_KEY: &str = "A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8";

/// Fails, naming what is missing, unless the programs this test drives are installed and the
/// test runs as root.
fn require_tools() {
    let missing: Vec<&str> = ["unshare", "pcscd", "opensc-tool", "pkcs11-tool", "pkcs15-tool", "gids-tool", "openssl"]
        .into_iter()
        .filter(|tool| {
            !Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run scripts/deps (Debian: util-linux, pcscd, vsmartcard-vpcd, opensc, openssl)"
    );
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the private pcscd needs root (unshare -m, mount --bind)"
    );
}

/// The shared stack, serving a fresh copy of `card` (tests of this binary take turns).
fn stack_with(card: GidsSim) -> SharedStack<GidsSim> {
    require_tools();
    let mut s = stack::shared_gids().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"));
    s.insert(card).unwrap();
    s
}

fn stack() -> SharedStack<GidsSim> {
    stack_with(GidsSim::default_card().unwrap())
}

fn module() -> PathBuf {
    stack::opensc_pkcs11_module().expect("opensc-pkcs11.so not found (install opensc-pkcs11)")
}

/// Runs `cmd`, failing the test with its output and the pcscd log path unless it succeeds.
fn run(s: &SharedStack<GidsSim>, cmd: &mut Command) -> Output {
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pkcs11_tool(s: &SharedStack<GidsSim>) -> Command {
    let mut cmd = s.command("pkcs11-tool");
    cmd.arg("--module").arg(module());
    cmd
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// `openssl <args>`, which must succeed; each `{}` in `args` is replaced by the next of `files`.
fn openssl(s: &SharedStack<GidsSim>, args: &[&str], files: &[&Path]) -> Output {
    let mut files = files.iter();
    let mut cmd = Command::new("openssl");
    for a in args {
        if *a == "{}" {
            cmd.arg(files.next().unwrap());
        } else {
            cmd.arg(a);
        }
    }
    run(s, &mut cmd)
}

/// The certificate with PKCS#11 `id`, exported through OpenSC, and its public key in PEM.
fn export_certificate(s: &SharedStack<GidsSim>, dir: &TempDir, id: &str) -> (PathBuf, PathBuf) {
    let cert = dir.path(&format!("cert-{id}.der"));
    run(s, pkcs11_tool(s).args(["--read-object", "--type", "cert", "--id", id]).arg("--output-file").arg(&cert));
    let public = dir.path(&format!("public-{id}.pem"));
    openssl(s, &["x509", "-inform", "DER", "-noout", "-pubkey", "-in", "{}", "-out", "{}"], &[&cert, &public]);
    (cert, public)
}

/// Signs `data` with key `id` (SHA256-RSA-PKCS, OpenSC hashes and the card pads) and checks
/// the signature with OpenSSL against `public`.
fn sign_and_verify(
    s: &SharedStack<GidsSim>,
    dir: &TempDir,
    id: &str,
    pin: &str,
    public: &Path,
) -> card_sim::SimCounters {
    let data = dir.path("data.txt");
    std::fs::write(&data, format!("signed by key {id} of the simulated GIDS card\n")).unwrap();
    let sig = dir.path(&format!("sig-{id}.bin"));
    s.reset_card().unwrap();
    let before = s.sim().counters();
    run(
        s,
        pkcs11_tool(s)
            .args(["--login", "--pin", pin, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", id])
            .arg("--input-file")
            .arg(&data)
            .arg("--output-file")
            .arg(&sig),
    );
    let cost = s.sim().counters().since(before);
    let out = openssl(s, &["dgst", "-sha256", "-verify", "{}", "-signature", "{}", "{}"], &[public, &sig, &data]);
    assert_eq!(stdout(&out).trim(), "Verified OK");
    cost
}

/// Prints the card's trace when `GIDS_TRACE` is set (and stops tracing).
fn print_trace(s: &SharedStack<GidsSim>) {
    let trace = s.sim().take_trace();
    s.sim().set_trace(false);
    if std::env::var_os("GIDS_TRACE").is_some() {
        for (i, e) in trace.iter().enumerate() {
            eprintln!("{:3} > {}\n    < {}", i + 1, e.command, e.response);
        }
    }
}

/// OpenSC's PKCS#11 ids of the provisioned card's keys (container index).
const IDS: [&str; 2] = ["00", "01"];

#[test]
fn opensc_picks_its_gids_driver_by_default() {
    let s = stack();
    let out = run(&s, s.command("opensc-tool").args(["--reader", "0", "--name"]));
    assert!(stdout(&out).contains("GIDS"), "{}", stdout(&out));
    let out = run(&s, s.command("opensc-tool").args(["--reader", "0", "--atr"]));
    assert!(
        stdout(&out).to_uppercase().replace(':', "").contains(&hex::encode_upper(s.sim().atr())),
        "{}",
        stdout(&out)
    );
}

#[test]
fn provisioned_card_lists_both_containers() {
    let s = stack();
    let before = s.sim().counters();
    s.sim().set_trace(true);
    let out = run(&s, pkcs11_tool(&s).arg("-O"));
    let listed = s.sim().counters().since(before);
    print_trace(&s);
    let text = stdout(&out);
    eprintln!("{text}");
    assert_eq!(count(&text, "Certificate Object; type = X.509 cert"), 2, "{text}");
    assert_eq!(count(&text, "Public Key Object; RSA"), 2, "{text}");
    assert!(text.contains("GIDS Container 0") && text.contains("GIDS Container 1"), "{text}");
    eprintln!("pkcs11-tool -O on the provisioned card: {} APDUs, {} bytes", listed.apdus, listed.bytes());

    let dir = TempDir::new("list");
    for (id, tag) in IDS.iter().zip([0xDF24u16, 0xDF25]) {
        let (cert, _) = export_certificate(&s, &dir, id);
        let on_card = card_sim::gids::decompress_certificate(&s.sim().data_object(0xA010, tag).unwrap()).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), on_card, "certificate {id}");
    }

    s.reset_card().unwrap();
    let out = run(&s, s.command("pkcs15-tool").arg("-D"));
    let text = stdout(&out);
    assert_eq!(count(&text, "X.509 Certificate ["), 2, "{text}");
    assert_eq!(count(&text, "Private RSA Key ["), 2, "{text}");
    assert!(text.contains("ModLength      : 2048") && text.contains("ModLength      : 3072"), "{text}");
    let serial = hex::encode(s.sim().data_object(0xA012, 0xDF20).unwrap());
    assert!(text.to_lowercase().contains(&serial), "the cardid is the serial number: {text}");
}

/// A card shaped like one GidsApplet would hold after OpenSC made one key (one RSA-2048
/// key-exchange container with a certificate): OpenSC's cost of listing and of login + sign, with its default driver probing
/// and with only its GIDS driver (`OPENSC_DRIVER=gids`, for comparison only).
#[test]
fn apdu_counts_on_a_one_container_card() {
    let card = || {
        GidsSim::builder(b"one container")
            .container(card_sim::ContainerKey::Fixed(test_vectors::keys::RSA_2048_B.to_vec()), true)
            .build()
            .unwrap()
    };
    let s = stack_with(card());
    let dir = TempDir::new("counts");
    let (_, public) = export_certificate(&s, &dir, "00");
    let mut counts = Vec::new();
    for driver in [None, Some("gids")] {
        s.reset_card().unwrap();
        let before = s.sim().counters();
        let mut list = pkcs11_tool(&s);
        list.arg("-O");
        if let Some(d) = driver {
            list.env("OPENSC_DRIVER", d);
        }
        run(&s, &mut list);
        let listed = s.sim().counters().since(before).apdus;
        let signed = if driver.is_none() {
            sign_and_verify(&s, &dir, "00", "123456", &public).apdus
        } else {
            let data = dir.path("data.txt");
            let sig = dir.path("sig.bin");
            s.reset_card().unwrap();
            let before = s.sim().counters();
            run(
                &s,
                pkcs11_tool(&s)
                    .env("OPENSC_DRIVER", "gids")
                    .args(["--login", "--pin", "123456", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "00"])
                    .arg("--input-file")
                    .arg(&data)
                    .arg("--output-file")
                    .arg(&sig),
            );
            s.sim().counters().since(before).apdus
        };
        eprintln!(
            "one RSA-2048 container, {}: pkcs11-tool -O {listed} APDUs, --login --sign {signed} APDUs",
            driver.map_or("default driver probing", |_| "OPENSC_DRIVER=gids")
        );
        counts.push((listed, signed));
    }
    // OpenSC 0.23's GIDS driver: 18 APDUs to list (SELECT, 4 PKCS#15 probes, master file,
    // cmapfile, cardid, PIN and PUK status, master file and cmapfile again, public key in 2,
    // certificate in 4) and 24 to log in and sign (the same, PIN status twice, VERIFY, MSE,
    // PSO, logout). Other drivers' probes add 27: OpenSC's PIV driver selects its AID twice
    // when the ATR has historical bytes.
    assert_eq!(counts[1], (18, 24), "the GIDS driver's own exchanges");
    assert_eq!(counts[0], (18 + 27, 24 + 27), "with the other drivers' probes");
}

#[test]
fn provisioned_card_signs_with_both_keys() {
    let s = stack();
    let dir = TempDir::new("sign");
    for id in IDS {
        let (_, public) = export_certificate(&s, &dir, id);
        let cost = sign_and_verify(&s, &dir, id, "123456", &public);
        eprintln!("pkcs11-tool --login --sign (key {id}): {} APDUs, {} bytes", cost.apdus, cost.bytes());
    }
    assert_eq!(s.sim().key_operations(), 2);
}

#[test]
fn provisioned_card_decrypts() {
    let s = stack();
    let dir = TempDir::new("decrypt");
    let (_, public) = export_certificate(&s, &dir, "00");
    let plain = dir.path("plain.bin");
    std::fs::write(&plain, b"a session key for the GIDS card").unwrap();
    let cipher = dir.path("cipher.bin");
    openssl(
        &s,
        &["pkeyutl", "-encrypt", "-pubin", "-inkey", "{}", "-in", "{}", "-out", "{}"],
        &[&public, &plain, &cipher],
    );
    let out = dir.path("out.bin");
    s.reset_card().unwrap();
    run(
        &s,
        pkcs11_tool(&s)
            .args(["--login", "--pin", "123456", "--decrypt", "--mechanism", "RSA-PKCS", "--id", "00"])
            .arg("--input-file")
            .arg(&cipher)
            .arg("--output-file")
            .arg(&out),
    );
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&plain).unwrap());
}

#[test]
fn factory_new_card_initialised_keyed_certified_and_used() {
    let s = stack_with(GidsSim::factory_new());
    let serial = "00112233445566778899AABBCCDDEEFF";
    run(
        &s,
        s.command("gids-tool").args([
            "--initialize",
            "--pin",
            "123456",
            "--admin-key",
            NEW_ADMIN_KEY,
            "--serial-number",
            serial,
        ]),
    );
    assert!(s.sim().is_operational());
    assert_eq!(hex::encode_upper(s.sim().data_object(0xA012, 0xDF20).unwrap()), serial);
    assert_eq!(s.sim().pin_tries_left(), Some(3));

    // A key generated on the card by OpenSC.
    s.reset_card().unwrap();
    let out = run(
        &s,
        pkcs11_tool(&s).args([
            "--login",
            "--pin",
            "123456",
            "--keypairgen",
            "--key-type",
            "rsa:2048",
            "--label",
            "gids-interop",
        ]),
    );
    eprintln!("{}", stdout(&out));
    let public_der = s.sim().public_key(0x81).expect("the key is in key file B081");
    let dir = TempDir::new("init");
    // The public key as OpenSC reads it back, and a certificate for it signed by a throwaway CA.
    let exported = dir.path("pub.der");
    s.reset_card().unwrap();
    run(
        &s,
        pkcs11_tool(&s)
            .args(["--read-object", "--type", "pubkey", "--label", "gids-interop"])
            .arg("--output-file")
            .arg(&exported),
    );
    let public = dir.path("pub.pem");
    openssl(&s, &["pkey", "-pubin", "-inform", "DER", "-in", "{}", "-out", "{}"], &[&exported, &public]);
    let public_from_pem = dir.path("pub-check.der");
    openssl(&s, &["pkey", "-pubin", "-in", "{}", "-outform", "DER", "-out", "{}"], &[&public, &public_from_pem]);
    assert_eq!(std::fs::read(&public_from_pem).unwrap(), public_der, "OpenSC reads the card's public key");
    let (ca_key, ca_cert, cert) = (dir.path("ca.key"), dir.path("ca.pem"), dir.path("cert.der"));
    openssl(
        &s,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "{}",
            "-out",
            "{}",
            "-subj",
            "/CN=Throwaway CA",
            "-days",
            "2",
        ],
        &[&ca_key, &ca_cert],
    );
    openssl(
        &s,
        &[
            "x509",
            "-new",
            "-force_pubkey",
            "{}",
            "-subj",
            "/CN=GIDS interop key",
            "-CA",
            "{}",
            "-CAkey",
            "{}",
            "-days",
            "2",
            "-outform",
            "DER",
            "-out",
            "{}",
        ],
        &[&public, &ca_cert, &ca_key, &cert],
    );
    // OpenSC names the key by container index once it reads the card back (not by the hash
    // it printed when generating): the id the certificate must carry.
    s.reset_card().unwrap();
    let listed = stdout(&run(&s, pkcs11_tool(&s).args(["--list-objects", "--type", "pubkey"])));
    assert!(listed.contains("gids-interop"), "the container is named by the label: {listed}");
    let id = key_id(&listed);
    assert_eq!(id, "00");
    s.reset_card().unwrap();
    run(
        &s,
        pkcs11_tool(&s).args(["--login", "--pin", "123456", "--write-object"]).arg(&cert).args([
            "--type",
            "cert",
            "--id",
            &id,
            "--label",
            "gids-interop",
        ]),
    );
    // The master file now names mscp/kxc00, stored compressed in DF24.
    let mf = s.sim().data_object(0xA000, 0xDF1F).unwrap();
    assert_eq!(mf.len(), 1 + 6 * 28);
    assert_eq!(&mf[150..155], b"kxc00");
    let on_card = card_sim::gids::decompress_certificate(&s.sim().data_object(0xA010, 0xDF24).unwrap()).unwrap();
    assert_eq!(on_card, std::fs::read(&cert).unwrap());

    s.reset_card().unwrap();
    let text = stdout(&run(&s, pkcs11_tool(&s).arg("-O")));
    assert_eq!(count(&text, "Certificate Object; type = X.509 cert"), 1, "{text}");
    assert_eq!(count(&text, "Public Key Object; RSA 2048 bits"), 1, "{text}");
    s.reset_card().unwrap();
    let text = stdout(&run(&s, s.command("pkcs15-tool").arg("-D")));
    assert!(text.contains("X.509 Certificate [") && text.contains("Private RSA Key [gids-interop]"), "{text}");
    let cost = sign_and_verify(&s, &dir, &id, "123456", &public);
    eprintln!("pkcs11-tool --login --sign on the initialised card: {} APDUs", cost.apdus);
    assert_eq!(s.sim().key_operations(), 1);
}

/// The first id pkcs11-tool printed (`ID: 00`).
fn key_id(listing: &str) -> String {
    listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID:"))
        .map(|id| id.trim().to_owned())
        .unwrap_or_else(|| panic!("no key ID in:\n{listing}"))
}

#[test]
fn gids_tool_unblocks_the_pin_and_changes_the_admin_key() {
    let s = stack();
    for _ in 0..3 {
        let out = pkcs11_tool(&s).args(["--login", "--pin", "000000", "-O"]).output().unwrap();
        assert!(!out.status.success());
        s.reset_card().unwrap();
    }
    assert_eq!(s.sim().pin_tries_left(), Some(0));
    run(&s, s.command("gids-tool").args(["--unblock", "--admin-key", ADMIN_KEY, "--pin", "24682468"]));
    assert_eq!(s.sim().pin_tries_left(), Some(3));
    s.reset_card().unwrap();
    run(
        &s,
        s.command("gids-tool").args(["--change-admin-key", "--admin-key", ADMIN_KEY, "--new-admin-key", NEW_ADMIN_KEY]),
    );
    s.reset_card().unwrap();
    let out =
        s.command("gids-tool").args(["--unblock", "--admin-key", ADMIN_KEY, "--pin", "13571357"]).output().unwrap();
    assert!(!out.status.success(), "the old key no longer works");
    s.reset_card().unwrap();
    run(&s, s.command("gids-tool").args(["--unblock", "--admin-key", NEW_ADMIN_KEY, "--pin", "13571357"]));
    let dir = TempDir::new("unblock");
    let (_, public) = export_certificate(&s, &dir, "00");
    sign_and_verify(&s, &dir, "00", "13571357", &public);
}

#[test]
fn opensc_imports_a_key_with_put_key() {
    let s = stack_with(GidsSim::builder(b"import").build().unwrap());
    let dir = TempDir::new("import");
    let key = dir.path("key.der");
    std::fs::write(&key, test_vectors::keys::RSA_2048_A).unwrap();
    run(
        &s,
        pkcs11_tool(&s)
            .args(["--login", "--pin", "123456", "--write-object"])
            .arg(&key)
            .args(["--type", "privkey", "--label", "imported"]),
    );
    assert_eq!(s.sim().public_key(0x81).unwrap(), test_vectors::keys::RSA_2048_A_SPKI);
    let (spki, public) = (dir.path("spki.der"), dir.path("public.pem"));
    std::fs::write(&spki, test_vectors::keys::RSA_2048_A_SPKI).unwrap();
    openssl(&s, &["pkey", "-pubin", "-inform", "DER", "-in", "{}", "-out", "{}"], &[&spki, &public]);
    sign_and_verify(&s, &dir, "00", "123456", &public);
}
