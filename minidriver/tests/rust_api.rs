//! The safe Rust API over the simulated PIV card: a Rust program lists containers, reads
//! certificates, verifies the PIN, signs through the RustCrypto `signature` traits, decrypts and
//! agrees keys, running the same code the C function table runs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use card_edges::crypto::HashAlg;
use card_edges::key::PublicKey;
use card_edges::transport::memory::MemoryCard;
use card_sim::PivSim;
use minidriver::{Card, Decryption, Error, KeyRole};
use sha2::{Digest, Sha256};
use signature::{Signer, Verifier};

fn card() -> (Card, PivSim) {
    let sim = PivSim::default_card().unwrap();
    (Card::with_transport(MemoryCard::new(sim.clone())).unwrap(), sim)
}

#[test]
fn lists_containers_and_reads_certificates() {
    let (card, sim) = card();
    let containers = card.containers().unwrap();
    assert_eq!(containers.len(), 4);
    assert_eq!(containers[0].certificate, sim.certificate(0x9A).unwrap());
    assert_eq!(containers[1].role, KeyRole::Signature);
    assert_eq!(card.read_file(Some("mscp"), "kxc00").unwrap(), sim.certificate(0x9A).unwrap());
    assert_eq!(card.card_id().unwrap(), sim.guid().unwrap());
}

#[test]
fn pin_errors_carry_tries() {
    let (card, _) = card();
    assert_eq!(card.verify_pin(b"000000"), Err(Error::WrongPin { tries_left: Some(2) }));
    assert_eq!(card.pin_tries().unwrap(), Some(2));
    card.verify_pin(b"123456").unwrap();
}

#[test]
fn ecdsa_through_the_signer_trait() {
    let (card, sim) = card();
    // 9C needs the PIN right before every signature: the key handle re-verifies it.
    let key = card.key(1).unwrap().with_pin(b"123456");
    let sig: p256::ecdsa::Signature = key.sign(b"signed through signature::Signer");
    let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(
        &PublicKey::from_certificate(&sim.certificate(0x9C).unwrap()).unwrap().spki,
    )
    .unwrap();
    vk.verify(b"signed through signature::Signer", &sig).unwrap();
    // 9E needs no PIN.
    let key = card.key(3).unwrap();
    let sig: p256::ecdsa::Signature = key.try_sign(b"card authentication").unwrap();
    assert_eq!(sig.to_bytes().len(), 64);
    // The wrong signature type for the key is an error, not a panic.
    assert!(Signer::<p384::ecdsa::Signature>::try_sign(&key, b"x").is_err());
}

#[test]
fn rsa_pkcs1_and_pss_through_the_signer_trait() {
    let (card, sim) = card();
    card.verify_pin(b"123456").unwrap();
    let key = card.key(0).unwrap();
    let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(key.public_key_der()).unwrap();
    assert_eq!(key.public_key_der(), PublicKey::from_certificate(&sim.certificate(0x9A).unwrap()).unwrap().spki);
    let sig: rsa::pkcs1v15::Signature = key.sign(b"message");
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone()).verify(b"message", &sig).unwrap();
    let sig: rsa::pss::Signature = key.sign(b"message");
    rsa::pss::VerifyingKey::<Sha256>::new(public).verify(b"message", &sig).unwrap();
}

#[test]
fn decrypt_and_sign_hash() {
    let (card, sim) = card();
    card.verify_pin(b"123456").unwrap();
    let spki = PublicKey::from_certificate(&sim.certificate(0x9D).unwrap()).unwrap().spki;
    let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ct = public.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), b"secret").unwrap();
    let plain = card.decrypt(2, &ct, Decryption::Oaep { hash_alg: HashAlg::Sha256, label: b"" }).unwrap();
    assert_eq!(&plain[..], b"secret");
    let hash = Sha256::digest(b"x");
    let sig = card.sign_hash(0, Some(HashAlg::Sha256), &hash).unwrap();
    assert_eq!(sig.len(), 256);
}

#[test]
fn ecdh_with_a_key_agreement_key() {
    let sim = PivSim::builder(b"rust-api-ecdh").generate(0x9D, card_sim::KeyAlgorithm::EccP256).build().unwrap();
    let card = Card::with_transport(MemoryCard::new(sim.clone())).unwrap();
    card.verify_pin(b"123456").unwrap();
    let ours = p256::SecretKey::from_slice(&[9; 32]).unwrap();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    let z = card.ecdh(2, point.as_bytes()).unwrap();
    let spki = PublicKey::from_certificate(&sim.certificate(0x9D).unwrap()).unwrap().spki;
    let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
    let expected = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine());
    assert_eq!(&z[..], expected.raw_secret_bytes().as_slice());
}

#[test]
fn a_removed_card_is_reported_and_forgets_the_pin() {
    let sim = PivSim::default_card().unwrap();
    let transport = MemoryCard::new(sim);
    let slot = transport.slot().clone();
    let card = Card::with_transport(transport).unwrap();
    card.verify_pin(b"123456").unwrap();
    slot.remove();
    assert_eq!(card.containers(), Err(Error::Transport(card_edges::TransportError::RemovedCard)));
}
