//! The library's own log sink (`MINIDRIVER_LOG_FILE`): turned on for this test process, every
//! entry point that handles a secret is called through the `CARD_DATA` table, and no secret
//! byte reaches the log, raw or in hex (upper or lower case, either byte order). One test per
//! process: the sink is installed once, at the first `CardAcquireContext`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

use cipher::{Array, BlockCipherEncrypt, KeyInit};
use mdtool::csp::{AcquireOptions, Csp, Driver, Padding, Target};
use minidriver::abi::{pin, prop};

const PIN: &[u8] = b"86420975";
const NEW_PIN: &[u8] = b"75319864";
const PUK: &[u8] = b"97513579";
const ADMIN_KEY: [u8; 24] =
    *b"\xA7\x1C\x3E\x5D\x7F\x91\xB3\xD5\xE6\x08\x2A\x4C\x6E\x80\xA2\xC4\x15\x37\x59\x7B\x9D\xBF\xC1\xE3";
const PLAINTEXT: &[u8] = b"XYZZY plaintext that must never be logged";
/// A management key the card keeps PIN-protected (read by the driver for the user's writes).
const STORED_KEY: [u8; 24] =
    *b"\x3B\x5D\x7F\x91\xB3\xD5\xE6\x08\x2A\x4C\x6E\x80\xA2\xC4\x15\x37\x59\x7B\x9D\xBF\xC1\xE3\xA7\x1C";

/// Every form a secret could take in a log line.
fn forms(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut reversed = secret.to_vec();
    reversed.reverse();
    let mut out = vec![secret.to_vec()];
    for s in [secret, &reversed] {
        out.push(hex::encode(s).into_bytes());
        out.push(hex::encode_upper(s).into_bytes());
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn admin_response(csp: &Csp, key: &[u8; 24]) -> (Vec<u8>, Vec<u8>) {
    let challenge = csp.get_challenge().unwrap();
    let tdes = des::TdesEde3::new_from_slice(key).unwrap();
    let mut block = Array::try_from(challenge.as_slice()).unwrap();
    tdes.encrypt_block(&mut block);
    (challenge, block.to_vec())
}

/// The test runs in a child of this test binary that has the log variables in its environment
/// from its start (setting them here would need `set_var`, unsafe in edition 2024 and racy with
/// the test harness's threads).
#[test]
fn no_secret_reaches_the_log() {
    let Some(path) = std::env::var_os(minidriver::log::LOG_FILE_ENV).map(std::path::PathBuf::from) else {
        let dir = std::env::temp_dir().join(format!("minidriver-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("minidriver.log");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "no_secret_reaches_the_log", "--nocapture", "--test-threads=1"])
            .env(minidriver::log::LOG_FILE_ENV, &path)
            .env(minidriver::log::LOG_LEVEL_ENV, "debug")
            .env(minidriver::PIV_PROTECT_DEFAULT_MGMT_KEY_ENV, "1")
            .output()
            .unwrap();
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(out.status.success(), "the run with the log on failed:\n{shown}");
        assert!(shown.contains("1 passed"), "the child ran the test:\n{shown}");
        return;
    };

    let sim = card_sim::PivSim::builder(b"log test card")
        .generate(0x9A, card_sim::KeyAlgorithm::Rsa2048)
        .generate(0x9D, card_sim::KeyAlgorithm::EccP256)
        .pin(PIN)
        .puk(PUK)
        .management_key(card_sim::MgmtAlgorithm::TripleDes, &ADMIN_KEY)
        .build()
        .unwrap();
    let driver = Driver::linked();
    let open = || {
        let t = card_edges::transport::memory::MemoryCard::new(sim.clone());
        Csp::acquire(&driver, Target::Transport(Box::new(t)), &AcquireOptions::default()).unwrap()
    };
    let mut secrets: Vec<Vec<u8>> =
        vec![PIN.to_vec(), NEW_PIN.to_vec(), PUK.to_vec(), ADMIN_KEY.to_vec(), PLAINTEXT.to_vec()];

    let csp = open();
    // PINs: plain, wrong, session PIN generation and use, change, unblock.
    csp.authenticate_pin("user", PIN).unwrap();
    assert!(csp.authenticate_pin("user", b"11112222").is_err());
    let token = csp.authenticate_ex(pin::ROLE_USER, pin::GENERATE_SESSION_PIN, PIN).unwrap().unwrap();
    csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &token).unwrap();
    secrets.push(token);
    csp.change_authenticator("user", PIN, NEW_PIN, pin::AUTH_PIN).unwrap();
    csp.unblock_pin("user", PUK, PIN, 0, pin::AUTH_PIN).unwrap();
    csp.authenticate_ex(pin::ROLE_USER, 0, PIN).unwrap();
    // The administrator by challenge-response: challenge and response are secrets.
    let (challenge, response) = admin_response(&csp, &ADMIN_KEY);
    csp.authenticate_challenge(&response).unwrap();
    secrets.extend([challenge, response]);
    // RSA decryption: the plaintext.
    let cert = csp.read_file(Some("mscp"), "kxc00").unwrap();
    let spki = card_edges::key::PublicKey::from_certificate(&cert).unwrap().spki().to_vec();
    let key = card_edges::crypto::public_key_from_spki(&spki).unwrap();
    let mut ct = key.encrypt(&mut rand_core::UnwrapErr(getrandom::SysRng), rsa::Pkcs1v15Encrypt, PLAINTEXT).unwrap();
    ct.reverse();
    let mut plain = csp.rsa_decrypt(0, &ct, 2, &Padding::Pkcs1(None)).unwrap();
    plain.reverse();
    assert_eq!(plain, PLAINTEXT);
    let raw = csp.rsa_decrypt(0, &ct, 2, &Padding::None).unwrap();
    secrets.push(raw);
    // ECDH and KDFs: the shared secret and what is derived from it.
    let ours = p256::SecretKey::from_slice(&[0x5A; 32]).unwrap();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    let mut blob = 0x314B_4345u32.to_le_bytes().to_vec();
    blob.extend_from_slice(&32u32.to_le_bytes());
    blob.extend_from_slice(&point.as_bytes()[1..]);
    let ecdh_cert = csp.read_file(Some("mscp"), "kxc02").unwrap();
    let card_pub = card_edges::key::PublicKey::from_certificate(&ecdh_cert).unwrap();
    let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(card_pub.spki()).unwrap();
    let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine()).raw_secret_bytes().to_vec();
    let agreement = csp.construct_dh_agreement(2, &blob).unwrap();
    let hash_name: Vec<u8> = "SHA256".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
    secrets.push(csp.derive_key(agreement, "HASH", &[(0, hash_name)], 0, 32).unwrap());
    secrets.push(csp.derive_key(agreement, "TRUNCATE", &[], 0, 32).unwrap());
    secrets.push(z);
    csp.destroy_dh_agreement(agreement).unwrap();
    // A signature after all that still works, and the session ends.
    csp.sign_data(0, minidriver::abi::keyspec::AT_KEYEXCHANGE, 0x800C, 0, &[0x42; 32], None).unwrap();
    csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap();
    let state = u32::from_le_bytes(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap().try_into().unwrap());
    assert_eq!(state & pin::set_of(pin::ROLE_USER), 0);
    drop(csp);

    // Enrolment with the user PIN: the management key read from PRINTED, and the random one a
    // factory-default key is replaced with (MINIDRIVER_PIV_PROTECT_DEFAULT_MGMT_KEY is on here).
    let protected = card_sim::PivSim::builder(b"log test: pin-protected key")
        .pin_protected_management_key(card_sim::MgmtAlgorithm::Aes192, &STORED_KEY)
        .build()
        .unwrap();
    let default = card_sim::PivSim::builder(b"log test: default key").build().unwrap();
    for sim in [&protected, &default] {
        let t = card_edges::transport::memory::MemoryCard::new(sim.clone());
        let csp = Csp::acquire(&driver, Target::Transport(Box::new(t)), &AcquireOptions::default()).unwrap();
        csp.authenticate_ex(pin::ROLE_USER, 0, b"123456").unwrap();
        csp.create_container(4, minidriver::abi::misc::CREATE_CONTAINER_KEY_GEN, 6, 256, None).unwrap();
    }
    secrets.push(STORED_KEY.to_vec());
    let printed = default.object(0x5FC109).expect("the default key was replaced");
    assert_eq!(printed.len(), 28, "88 1A 89 18 and a 3DES key");
    secrets.push(printed[4..].to_vec());

    let log = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("minidriver log opened"), "the sink was installed:\n{text}");
    assert!(text.contains("CardAuthenticateEx") && text.contains("apdu"), "entry points and APDUs are logged:\n{text}");
    assert!(text.contains("redacted"), "secret APDU data shows as redacted:\n{text}");
    for secret in &secrets {
        for form in forms(secret) {
            assert!(!contains(&log, &form), "a secret appears in the log as {:?}", String::from_utf8_lossy(&form));
        }
    }
}
