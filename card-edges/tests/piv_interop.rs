#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure is a panic that shows the tool's output"
)]
//! Interoperability of the simulated PIV card with real PC/SC programs, through a private
//! pcscd and vpcd (see `card_sim::stack`): OpenSC's PKCS#11 module lists and uses its
//! keys (signatures verified by OpenSSL), yubico-piv-tool reads its status, and this crate's
//! PC/SC transport reads the same card.
//!
//! Needs root (pcscd runs in its own mount namespace), pcscd, vsmartcard-vpcd, opensc,
//! yubico-piv-tool and openssl: what CI installs. Every test resets the card first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use card_edges::iso7816::{Command as Apdu, Session, tlv};
use card_edges::transport::Transport;
use card_sim::stack::{self, SharedStack, TempDir};

fn stack() -> SharedStack {
    stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn module() -> PathBuf {
    stack::opensc_pkcs11_module().expect("opensc-pkcs11.so not found (install opensc-pkcs11)")
}

/// Runs `cmd`, failing the test with its output and the pcscd log path unless it succeeds.
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

fn pkcs11_tool(s: &SharedStack) -> Command {
    let mut cmd = s.command("pkcs11-tool");
    cmd.arg("--module").arg(module());
    cmd
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The certificate with PKCS#11 `id`, exported through OpenSC.
fn export_certificate(s: &SharedStack, dir: &TempDir, id: &str) -> PathBuf {
    let cert = dir.path(&format!("cert-{id}.der"));
    run(s, pkcs11_tool(s).args(["--read-object", "--type", "cert", "--id", id]).arg("--output-file").arg(&cert));
    cert
}

/// `openssl dgst -sha256 -verify <public key of cert> -signature <sig> <data>`.
fn openssl_verify(s: &SharedStack, dir: &TempDir, cert: &Path, data: &Path, sig: &Path) {
    let public = dir.path("public.pem");
    run(
        s,
        Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-pubkey", "-in"])
            .arg(cert)
            .arg("-out")
            .arg(&public),
    );
    let out = run(
        s,
        Command::new("openssl").args(["dgst", "-sha256", "-verify"]).arg(&public).arg("-signature").arg(sig).arg(data),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
}

#[test]
fn opensc_lists_the_four_certificates_and_keys() {
    let s = stack();
    let before = s.sim().counters();
    let out = run(&s, pkcs11_tool(&s).arg("-O"));
    let listed = s.sim().counters().since(before);
    let text = String::from_utf8_lossy(&out.stdout);
    for label in [
        "Certificate for PIV Authentication",
        "Certificate for Digital Signature",
        "Certificate for Key Management",
        "Certificate for Card Authentication",
        "PIV AUTH pubkey",
        "SIGN pubkey",
        "KEY MAN pubkey",
        "CARD AUTH pubkey",
    ] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    assert_eq!(count(&text, "Certificate Object; type = X.509 cert"), 4, "{text}");
    assert!(text.contains("serial:     9A01") && text.contains("serial:     9E01"), "{text}");
    // Without the PIN only the card authentication key (no PIN) is visible.
    assert_eq!(count(&text, "Private Key Object"), 1, "{text}");
    eprintln!("pkcs11-tool -O: {} APDUs, {} bytes", listed.apdus, listed.bytes());

    s.reset_card().unwrap();
    let out = run(&s, pkcs11_tool(&s).args(["--login", "--pin", "123456", "-O"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(count(&text, "Private Key Object"), 4, "{text}");
    for label in ["PIV AUTH key", "SIGN key", "KEY MAN key", "CARD AUTH key"] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
}

#[test]
fn opensc_signs_with_rsa_9a_and_ecdsa_9c_and_openssl_verifies() {
    let s = stack();
    let dir = TempDir::new("sign");
    let data = dir.path("data.txt");
    std::fs::write(&data, b"signed by the simulated PIV card\n").unwrap();

    // RSA-2048 PKCS#1 v1.5 with SHA-256, key 9A (ID 01).
    let rsa_sig = dir.path("rsa.sig");
    let before = s.sim().counters();
    run(
        &s,
        pkcs11_tool(&s)
            .args(["--login", "--pin", "123456", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "01"])
            .arg("--input-file")
            .arg(&data)
            .arg("--output-file")
            .arg(&rsa_sig),
    );
    let rsa_cost = s.sim().counters().since(before);
    assert_eq!(std::fs::metadata(&rsa_sig).unwrap().len(), 256);
    let cert = export_certificate(&s, &dir, "01");
    assert_eq!(std::fs::read(&cert).unwrap(), s.sim().certificate(0x9A).unwrap());
    openssl_verify(&s, &dir, &cert, &data, &rsa_sig);
    eprintln!("pkcs11-tool login + RSA-2048 sign (9A): {} APDUs, {} bytes", rsa_cost.apdus, rsa_cost.bytes());

    // ECDSA P-256 with SHA-256, key 9C (ID 02): PIN always, so OpenSC verifies the PIN again
    // right before the signature.
    s.reset_card().unwrap();
    let ec_sig = dir.path("ec.sig");
    let before = s.sim().counters();
    s.sim().set_trace(true);
    let out = pkcs11_tool(&s)
        .args(["--login", "--pin", "123456", "--sign", "--mechanism", "ECDSA-SHA256", "--id", "02"])
        .args(["--signature-format", "openssl"])
        .arg("--input-file")
        .arg(&data)
        .arg("--output-file")
        .arg(&ec_sig)
        .output()
        .unwrap();
    let trace = s.sim().take_trace();
    s.sim().set_trace(false);
    assert!(
        out.status.success(),
        "ECDSA with 9C failed: {}\nAPDUs:\n{}",
        String::from_utf8_lossy(&out.stderr),
        trace.iter().map(|t| format!("> {}\n< {}", t.command, t.response)).collect::<Vec<_>>().join("\n")
    );
    let ec_cost = s.sim().counters().since(before);
    let cert = export_certificate(&s, &dir, "02");
    assert_eq!(std::fs::read(&cert).unwrap(), s.sim().certificate(0x9C).unwrap());
    openssl_verify(&s, &dir, &cert, &data, &ec_sig);
    eprintln!("pkcs11-tool login + ECDSA P-256 sign (9C): {} APDUs, {} bytes", ec_cost.apdus, ec_cost.bytes());
    // The signature came right after a VERIFY.
    let ga = trace.iter().position(|t| t.command.starts_with("0087119C")).expect("no GENERAL AUTHENTICATE on 9C");
    assert!(trace[ga - 1].command.starts_with("00200080"), "{:?}", &trace[..=ga]);
}

#[test]
fn yubico_piv_tool_reads_the_status() {
    let s = stack();
    let before = s.sim().counters();
    let out = run(&s, s.command("yubico-piv-tool").args(["-r", "Virtual", "-a", "status"]));
    let cost = s.sim().counters().since(before);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Version:\t5.7.1"), "{text}");
    assert!(text.contains(&format!("Serial Number:\t{}", s.sim().serial())), "{text}");
    let guid = hex::encode_upper(s.sim().guid().unwrap());
    assert!(text.replace(' ', "").to_uppercase().contains(&guid), "CHUID with the GUID in:\n{text}");
    for (slot, algorithm, subject) in [
        ("9a", "RSA2048", "OU=PIV Authentication"),
        ("9c", "ECCP256", "OU=Digital Signature"),
        ("9d", "RSA2048", "OU=Key Management"),
        ("9e", "ECCP256", "OU=Card Authentication"),
    ] {
        let section = text.split(&format!("Slot {slot}:")).nth(1).unwrap_or_else(|| panic!("no slot {slot}:\n{text}"));
        let section = section.split("Slot ").next().unwrap_or_default();
        assert!(section.contains(algorithm), "slot {slot}: {section}");
        assert!(section.contains(subject), "slot {slot}: {section}");
    }
    assert!(text.contains("PIN tries left:\t3"), "{text}");
    eprintln!("yubico-piv-tool -a status: {} APDUs, {} bytes", cost.apdus, cost.bytes());
}

#[test]
fn this_crate_reads_the_same_card_over_pcsc() {
    let s = stack();
    let card = s.connect().unwrap();
    let mut session = Session::from_atr(card).unwrap();
    let atr = session.transport_mut().atr().unwrap();
    assert_eq!(atr, s.sim().atr());
    let select = Apdu::new(0x00, 0xA4, 0x04, 0x00).with_data(hex_literal::hex!("A00000030800001000")).with_le(256);
    assert!(session.transmit(&select).unwrap().sw.is_success());
    let get = |session: &mut Session<_>, tag: &[u8]| {
        let mut data = vec![0x5C, u8::try_from(tag.len()).unwrap()];
        data.extend_from_slice(tag);
        let rsp = session.transmit(&Apdu::new(0x00, 0xCB, 0x3F, 0xFF).with_data(data).with_le(65_536)).unwrap();
        assert!(rsp.sw.is_success(), "GET DATA {tag:02X?}: {}", rsp.sw);
        rsp.data
    };
    let chuid = get(&mut session, &[0x5F, 0xC1, 0x02]);
    let content = tlv::find(&chuid, &[tlv::Tag(0x53)]).unwrap().unwrap();
    assert_eq!(content, s.sim().chuid().unwrap());
    let cert_object = get(&mut session, &[0x5F, 0xC1, 0x05]);
    let cert = tlv::find(&cert_object, &[tlv::Tag(0x53), tlv::Tag(0x70)]).unwrap().unwrap();
    assert_eq!(cert, s.sim().certificate(0x9A).unwrap());

    // A change behind the host's back is what the next read sees.
    s.sim().set_guid([0x5A; 16]).unwrap();
    let chuid = get(&mut session, &[0x5F, 0xC1, 0x02]);
    assert_eq!(tlv::find(&chuid, &[tlv::Tag(0x53), tlv::Tag(0x34)]).unwrap().unwrap(), [0x5A; 16]);
    let default = card_sim::PivSim::default_card().unwrap();
    s.sim().set_object(0x5FC102, &default.chuid().unwrap());
}

#[test]
fn short_only_cards_work_over_pcsc_too() {
    let mut s = stack();
    let short = card_sim::PivSim::default_card().unwrap();
    short.set_extended_length(false);
    s.insert(short).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let card = s.connect().unwrap();
        let mut session = Session::from_atr(card).unwrap();
        assert!(!session.limits().extended, "the ATR no longer declares extended length");
        let rsp = session
            .transmit(&Apdu::new(0x00, 0xCB, 0x3F, 0xFF).with_data([0x5C, 0x03, 0x5F, 0xC1, 0x05]).with_le(65_536))
            .unwrap();
        assert!(rsp.sw.is_success());
        let cert = tlv::find(&rsp.data, &[tlv::Tag(0x53), tlv::Tag(0x70)]).unwrap().unwrap();
        assert_eq!(cert, s.sim().certificate(0x9A).unwrap());
        assert!(session.counters().apdus >= 5, "256-byte parts: {:?}", session.counters());
        drop(session);
        let out = run(&s, pkcs11_tool(&s).arg("-O"));
        assert_eq!(count(&String::from_utf8_lossy(&out.stdout), "Certificate Object"), 4);
    }));
    s.insert(card_sim::PivSim::default_card().unwrap()).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn the_piv_edge_reads_the_card_over_pcsc() {
    use card_edges::crypto::{self, HashAlg};
    use card_edges::piv::{PivEdge, Slot};
    let s = stack();
    let mut edge = PivEdge::from_transport(s.connect().unwrap()).unwrap();
    let containers = edge.containers().unwrap();
    assert_eq!(containers.len(), 4);
    for c in &containers {
        assert_eq!(Some(c.content.certificate.clone()), s.sim().certificate(c.slot.key_ref()), "slot {}", c.slot);
    }
    assert!(edge.session().counters().apdus <= 7, "{:?}", edge.session().counters());
    let hash = [0x42; 32];
    edge.verify_pin(b"123456").unwrap();
    let sig = edge.sign_pkcs1(Slot::AUTHENTICATION, Some(HashAlg::Sha256), &hash).unwrap();
    let key = crypto::public_key_from_spki(edge.public_key(Slot::AUTHENTICATION).unwrap().spki()).unwrap();
    crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
}
