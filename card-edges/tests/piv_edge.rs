//! The PIV edge against the simulated PIV card: exact APDU transcripts of the user-visible
//! flows, and their APDU and byte budgets (issue: listing at most 7 APDUs; PIN + sign at most 3
//! with extended APDUs and 5 with short ones).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::sync::{Arc, Mutex};

use card_edges::crypto::{self, HashAlg};
use card_edges::iso7816::Counters;
use card_edges::key::KeyAlgorithm;
use card_edges::piv::{DEFAULT_MANAGEMENT_KEY, PivEdge, Slot};
use card_edges::transport::memory::MemoryCard;
use card_edges::transport::{Exchange, Recording};
use card_sim::PivSim;
use sha2::{Digest, Sha256};

type Edge = PivEdge<Recording<MemoryCard>>;

struct Harness {
    sim: PivSim,
    edge: Edge,
    log: Arc<Mutex<Vec<Exchange>>>,
}

fn harness(extended: bool) -> Harness {
    let sim = PivSim::default_card().unwrap();
    sim.set_extended_length(extended);
    sim.reset();
    let recording = Recording::new(MemoryCard::new(sim.clone()));
    let log = recording.log();
    let edge = PivEdge::from_transport(recording).unwrap();
    Harness { sim, edge, log }
}

impl Harness {
    /// The commands sent since the last call, as hex.
    fn commands(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap()).iter().map(|e| hex::encode_upper(&e.command)).collect()
    }

    fn counters(&self) -> Counters {
        self.edge.session().counters()
    }
}

/// Redacts a VERIFY's PIN so transcripts do not pin it.
fn shape(cmds: &[String]) -> Vec<String> {
    cmds.iter()
        .map(|c| if c.starts_with("00200080") && c.len() > 10 { format!("{}<pin>", &c[..10]) } else { c.clone() })
        .collect()
}

#[test]
fn cold_listing_of_four_certificates_is_seven_apdus() {
    let mut h = harness(true);
    let containers = h.edge.containers().unwrap();
    assert_eq!(containers.len(), 4);
    let slots: Vec<Slot> = containers.iter().map(|c| c.slot).collect();
    assert_eq!(slots, vec![Slot::AUTHENTICATION, Slot::SIGNATURE, Slot::KEY_MANAGEMENT, Slot::CARD_AUTHENTICATION]);
    assert_eq!(
        h.commands(),
        vec![
            "00A4040009A0000003080000100000", // SELECT PIV (Le 00: the property template)
            "00CB3FFF0000055C035FC10C0000",   // key history (candidate slots)
            "00CB3FFF0000055C035FC1050000",   // 9A certificate
            "00CB3FFF0000055C035FC10A0000",   // 9C
            "00CB3FFF0000055C035FC10B0000",   // 9D
            "00CB3FFF0000055C035FC1010000",   // 9E
            "00CB3FFF0000055C035FC1020000",   // CHUID (container names)
        ]
    );
    let c = h.counters();
    assert!(c.apdus <= 7, "listing took {} APDUs", c.apdus);
    // Certificates and names match the card.
    assert_eq!(containers[0].content.certificate, h.sim.certificate(0x9A).unwrap());
    assert!(containers[0].default);
    assert!(containers[0].name.ends_with("5fc105"));
    // A second listing costs nothing.
    h.edge.containers().unwrap();
    assert!(h.commands().is_empty());
    println!("listing: {} APDUs, {} bytes", c.apdus, c.bytes());
}

fn rsa_sign_flow(extended: bool) -> (Vec<String>, Counters) {
    let mut h = harness(extended);
    h.edge.containers().unwrap();
    // A new transaction: the application is selected again.
    h.edge.deselect();
    h.commands();
    let before = h.counters();
    let hash = Sha256::digest(b"minidriver");
    h.edge.verify_pin(b"123456").unwrap();
    let sig = h.edge.sign_pkcs1(Slot::AUTHENTICATION, Some(HashAlg::Sha256), &hash).unwrap();
    let key = crypto::public_key_from_spki(h.edge.public_key(Slot::AUTHENTICATION).unwrap().spki()).unwrap();
    crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
    (shape(&h.commands()), h.counters().since(before))
}

#[test]
fn pin_and_rsa_2048_sign_extended_is_three_apdus() {
    let (cmds, used) = rsa_sign_flow(true);
    assert_eq!(cmds.len(), 3, "{cmds:#?}");
    assert_eq!(cmds[0], "00A4040009A0000003080000100000");
    assert_eq!(cmds[1], "0020008008<pin>");
    assert!(cmds[2].starts_with("0087079A00010A7C82010682008182010000"), "{}", cmds[2]);
    assert_eq!(used.apdus, 3);
    println!("PIN + RSA-2048 sign (extended): {} APDUs, {} bytes", used.apdus, used.bytes());
}

#[test]
fn pin_and_rsa_2048_sign_short_is_five_apdus() {
    let (cmds, used) = rsa_sign_flow(false);
    assert_eq!(cmds.len(), 5, "{cmds:#?}");
    assert_eq!(cmds[0], "00A4040009A0000003080000100000");
    assert_eq!(cmds[1], "0020008008<pin>");
    assert!(cmds[2].starts_with("1087079AFF7C820106820081820100"), "chained first part: {}", cmds[2]);
    assert!(cmds[3].starts_with("0087079A0B"), "last part: {}", cmds[3]);
    assert_eq!(cmds[4], "00C0000008", "GET RESPONSE for the rest of the 264-byte answer");
    assert_eq!(used.apdus, 5);
    println!("PIN + RSA-2048 sign (short): {} APDUs, {} bytes", used.apdus, used.bytes());
}

#[test]
fn pin_and_p256_sign_on_the_pin_always_slot() {
    let mut h = harness(true);
    h.edge.containers().unwrap();
    h.commands();
    let hash = Sha256::digest(b"digital signature");
    h.edge.verify_pin(b"123456").unwrap();
    let rs = h.edge.sign_ecdsa(Slot::SIGNATURE, &hash).unwrap();
    assert_eq!(rs.len(), 64);
    let cmds = shape(&h.commands());
    assert_eq!(cmds.len(), 2, "VERIFY directly before GENERAL AUTHENTICATE: {cmds:#?}");
    assert_eq!(cmds[1], format!("0087119C267C2482008120{}00", hex::encode_upper(hash)));
    let spki = h.edge.public_key(Slot::SIGNATURE).unwrap().spki().to_vec();
    let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&rs).unwrap();
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    vk.verify_prehash(&hash, &sig).unwrap();
    // Without a VERIFY right before it, the card refuses 9C.
    assert!(matches!(h.edge.sign_ecdsa(Slot::SIGNATURE, &hash), Err(card_edges::Error::SecurityStatusNotSatisfied)));
}

#[test]
fn ecdh_matches_a_software_computation() {
    // The default card's 9D is RSA: a seeded card with a P-256 key management key.
    let sim = PivSim::builder(b"ecdh").generate(0x9D, card_sim::KeyAlgorithm::EccP256).build().unwrap();
    let recording = Recording::new(MemoryCard::new(sim));
    let log = recording.log();
    let mut edge = PivEdge::from_transport(recording).unwrap();
    edge.containers().unwrap();
    log.lock().unwrap().clear();
    let ours = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    edge.verify_pin(b"123456").unwrap();
    let z = edge.ecdh(Slot::KEY_MANAGEMENT, point.as_bytes()).unwrap();
    let card_key = edge.public_key(Slot::KEY_MANAGEMENT).unwrap();
    let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(card_key.spki()).unwrap();
    let expected = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine());
    assert_eq!(&z[..], expected.raw_secret_bytes().as_slice());
    let cmds: Vec<String> = log.lock().unwrap().iter().map(|e| hex::encode_upper(&e.command)).collect();
    assert_eq!(cmds.len(), 2);
    assert_eq!(cmds[1], format!("0087119D477C45820085 41{}00", hex::encode_upper(point.as_bytes())).replace(' ', ""));
}

#[test]
fn oaep_decrypt_round_trips() {
    let mut h = harness(true);
    let spki = h.edge.public_key(Slot::KEY_MANAGEMENT).unwrap().spki().to_vec();
    let key = crypto::public_key_from_spki(&spki).unwrap();
    let msg = b"session key material";
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ct = key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), msg).unwrap();
    h.commands();
    h.edge.verify_pin(b"123456").unwrap();
    let plain = h.edge.decrypt_oaep(Slot::KEY_MANAGEMENT, &ct, HashAlg::Sha256, b"").unwrap();
    assert_eq!(&plain[..], msg);
    let cmds = shape(&h.commands());
    assert_eq!(cmds.len(), 2, "{cmds:#?}");
    assert!(cmds[1].starts_with("0087079D00010A7C820106820081820100"), "{}", cmds[1]);
    // PKCS#1 v1.5 too.
    let ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap();
    assert_eq!(&h.edge.decrypt_pkcs1(Slot::KEY_MANAGEMENT, &ct).unwrap()[..], msg);
}

#[test]
fn keygen_and_certificate_write() {
    let mut h = harness(true);
    h.edge.containers().unwrap();
    h.commands();
    assert!(matches!(
        h.edge.generate_key(Slot::from_key_ref(0x82).unwrap(), KeyAlgorithm::P256),
        Err(card_edges::Error::SecurityStatusNotSatisfied)
    ));
    h.commands();
    h.edge.authenticate_admin(&DEFAULT_MANAGEMENT_KEY).unwrap();
    let retired = Slot::from_key_ref(0x82).unwrap();
    let key = h.edge.generate_key(retired, KeyAlgorithm::P256).unwrap();
    // The card can issue a certificate for its new key (test support), which we write back.
    let cert = h.sim.issue_certificate(0x82).unwrap();
    h.edge.write_certificate(retired, &cert).unwrap();
    let cmds = h.commands();
    assert_eq!(cmds[0], "00F7009B00", "the management key's algorithm, from metadata");
    assert_eq!(cmds[1], "0087039B047C02800000", "mutual authentication: witness");
    assert!(cmds[2].starts_with("0087039B167C148008"), "mutual authentication: answer and challenge: {}", cmds[2]);
    assert_eq!(cmds[3], "004700820000 05AC03800111 0000".replace(' ', ""));
    assert!(cmds[4].starts_with("00DB3FFF00"), "PUT DATA: {}", cmds[4]);
    assert_eq!(cmds[5], "00DB3FFF0F5C035FC10C5308C10101C20100FE00", "the key history now covers slot 82");
    assert_eq!(cmds.len(), 6);
    assert_eq!(h.sim.certificate(0x82).unwrap(), cert);
    assert_eq!(h.edge.public_key(retired).unwrap(), key);
}

/// The card shape of the OpenSC measurement in research/pcsc-test-stack.md: one RSA-2048 key
/// and certificate in 9A. OpenSC needs 27 APDUs to list it and 39 for PIN + sign.
#[test]
fn opensc_comparison_card() {
    for extended in [true, false] {
        let sim = PivSim::builder(b"opensc-shape")
            .key(0x9A, test_vectors::keys::RSA_2048_A, Some(test_vectors::certs::PIV_AUTH_9A))
            .extended_length(extended)
            .build()
            .unwrap();
        let mut edge = PivEdge::from_transport(MemoryCard::new(sim.clone())).unwrap();
        let containers = edge.containers().unwrap();
        assert_eq!(containers.len(), 1);
        let listing = edge.session().counters();
        // Short APDUs add one GET RESPONSE per further 256 bytes of the certificate object.
        let cert_object = test_vectors::certs::PIV_AUTH_9A.len() + 16;
        let budget = if extended { 7 } else { 7 + (cert_object - 1) / 256 };
        assert!(listing.apdus <= budget as u64, "listing: {listing:?}");
        edge.deselect();
        let hash = Sha256::digest(b"comparison");
        edge.verify_pin(b"123456").unwrap();
        edge.sign_pkcs1(Slot::AUTHENTICATION, Some(HashAlg::Sha256), &hash).unwrap();
        let sign = edge.session().counters().since(listing);
        assert!(sign.apdus <= if extended { 3 } else { 5 }, "PIN + sign: {sign:?}");
        println!(
            "one RSA-2048 key in 9A, {} APDUs: listing {} APDUs / {} bytes; PIN + sign {} APDUs / {} bytes",
            if extended { "extended" } else { "short" },
            listing.apdus,
            listing.bytes(),
            sign.apdus,
            sign.bytes()
        );
    }
}

/// A corrupted or padded answer to GENERAL AUTHENTICATE is never returned as a signature or a
/// plaintext: it fails, and the next operation works.
#[test]
fn corrupted_results_are_errors_not_signatures() {
    use card_sim::fault::{Fault, Faulty};
    let hash = Sha256::digest(b"no false success");
    // Listing (7) + VERIFY (1), then the GENERAL AUTHENTICATE of the signature is command 8.
    for fault in [Fault::FlippedByte(40), Fault::FlippedByte(200), Fault::JunkAppended(7), Fault::Truncated(100)] {
        let sim = PivSim::default_card().unwrap();
        let mut edge = PivEdge::from_transport(Faulty::new(MemoryCard::new(sim), 8, fault)).unwrap();
        edge.containers().unwrap();
        edge.verify_pin(b"123456").unwrap();
        let result = edge.sign_pkcs1(Slot::AUTHENTICATION, Some(HashAlg::Sha256), &hash);
        assert!(result.is_err(), "{fault:?} gave {result:?}");
        let sig = edge.sign_pkcs1(Slot::AUTHENTICATION, Some(HashAlg::Sha256), &hash).unwrap();
        let key = crypto::public_key_from_spki(edge.public_key(Slot::AUTHENTICATION).unwrap().spki()).unwrap();
        crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
    }
    // ECDSA on 9E (no PIN): listing (7), then the signature is command 7.
    for fault in [Fault::FlippedByte(20), Fault::JunkAppended(3)] {
        let sim = PivSim::default_card().unwrap();
        let mut edge = PivEdge::from_transport(Faulty::new(MemoryCard::new(sim), 7, fault)).unwrap();
        edge.containers().unwrap();
        assert!(edge.sign_ecdsa(Slot::CARD_AUTHENTICATION, &hash).is_err(), "{fault:?}");
    }
    // Decryption: a flipped plaintext block does not re-encrypt to the ciphertext.
    let sim = PivSim::default_card().unwrap();
    let mut edge = PivEdge::from_transport(Faulty::new(MemoryCard::new(sim), 8, Fault::FlippedByte(60))).unwrap();
    edge.containers().unwrap();
    let key = crypto::public_key_from_spki(edge.public_key(Slot::KEY_MANAGEMENT).unwrap().spki()).unwrap();
    let ct = key.encrypt(&mut rand_core::UnwrapErr(getrandom::SysRng), rsa::Pkcs1v15Encrypt, b"secret").unwrap();
    edge.verify_pin(b"123456").unwrap();
    assert!(edge.decrypt_raw(Slot::KEY_MANAGEMENT, &ct).is_err());
    assert_eq!(&edge.decrypt_pkcs1(Slot::KEY_MANAGEMENT, &ct).unwrap()[..], b"secret");
}
