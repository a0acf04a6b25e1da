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
        PublicKey::from_certificate(&sim.certificate(0x9C).unwrap()).unwrap().spki(),
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
    assert_eq!(key.public_key_der(), PublicKey::from_certificate(&sim.certificate(0x9A).unwrap()).unwrap().spki());
    let sig: rsa::pkcs1v15::Signature = key.sign(b"message");
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone()).verify(b"message", &sig).unwrap();
    let sig: rsa::pss::Signature = key.sign(b"message");
    rsa::pss::VerifyingKey::<Sha256>::new(public).verify(b"message", &sig).unwrap();
}

#[test]
fn decrypt_and_sign_hash() {
    let (card, sim) = card();
    card.verify_pin(b"123456").unwrap();
    let spki = PublicKey::from_certificate(&sim.certificate(0x9D).unwrap()).unwrap().spki().to_vec();
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
    let spki = PublicKey::from_certificate(&sim.certificate(0x9D).unwrap()).unwrap().spki().to_vec();
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

// ----- the same API on a GIDS card -----

fn gids() -> (Card, card_sim::gids::GidsSim) {
    let sim = card_sim::gids::GidsSim::default_card().unwrap();
    (Card::with_transport(MemoryCard::new(sim.clone())).unwrap(), sim)
}

const GIDS_ADMIN_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

#[test]
fn gids_containers_signatures_and_decryption() {
    let (card, sim) = gids();
    let containers = card.containers().unwrap();
    assert_eq!(containers.len(), 2);
    assert!(containers[0].default);
    assert_eq!(containers[1].public_key.algorithm(), card_edges::key::KeyAlgorithm::Rsa { bits: 3072 });
    let stored = sim.data_object(0xA010, 0xDF24).unwrap();
    assert_eq!(containers[0].certificate, card_sim::gids::decompress_certificate(&stored).unwrap());
    // The RustCrypto Signer traits, with the PIN held by the key handle.
    let key = card.key(1).unwrap().with_pin(b"123456");
    let sig: rsa::pkcs1v15::Signature = key.sign(b"signed on a GIDS card");
    let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(key.public_key_der()).unwrap();
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone()).verify(b"signed on a GIDS card", &sig).unwrap();
    let pss: rsa::pss::Signature = key.sign(b"pss on GIDS");
    rsa::pss::VerifyingKey::<Sha256>::new(public.clone()).verify(b"pss on GIDS", &pss).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ct = public.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), b"for container 1").unwrap();
    assert_eq!(
        &card.decrypt(1, &ct, Decryption::Oaep { hash_alg: HashAlg::Sha256, label: b"" }).unwrap()[..],
        b"for container 1"
    );
    // No ECC keys: an EC signature type is an error, not a panic.
    assert!(Signer::<p256::ecdsa::Signature>::try_sign(&key, b"x").is_err());
    card.logout().unwrap();
    assert!(!sim.pin_verified());
}

#[test]
fn gids_administrator_and_unblock() {
    let (gids_card, sim) = gids();
    for _ in 0..3 {
        let _ = gids_card.verify_pin(b"000000");
    }
    assert_eq!(gids_card.verify_pin(b"123456"), Err(Error::PinBlocked));
    // No PUK on this card: the administrator key unblocks.
    assert!(matches!(gids_card.unblock_pin(b"12345678", b"654321"), Err(Error::Unsupported(_))));
    assert!(gids_card.unblock_pin_as_admin(&[9; 24], b"654321").is_err(), "a wrong administrator key");
    gids_card.unblock_pin_as_admin(&GIDS_ADMIN_KEY, b"654321").unwrap();
    assert_eq!(sim.pin_tries_left(), Some(3));
    gids_card.verify_pin(b"654321").unwrap();
    gids_card.authenticate_admin(&GIDS_ADMIN_KEY).unwrap();
    assert!(sim.admin_authenticated());
    // PIV: the card management key authenticates, but does not unblock (the PUK does).
    let (piv, piv_sim) = card();
    piv.authenticate_admin(&card_edges::piv::DEFAULT_MANAGEMENT_KEY).unwrap();
    assert!(piv_sim.admin_authenticated());
    assert!(matches!(
        piv.unblock_pin_as_admin(&card_edges::piv::DEFAULT_MANAGEMENT_KEY, b"654321"),
        Err(Error::InvalidParameter(_))
    ));
}

/// A vendor's own GIDS AID (the class minidriver selects it instead of the MS GIDS AID).
#[test]
fn gids_under_a_vendor_aid() {
    let sim = card_sim::gids::GidsSim::default_card().unwrap();
    let full_aid = hex_literal::hex!("A000000397425446590201").to_vec();
    let options = minidriver::OpenOptions { gids_aid: Some(full_aid), ..Default::default() };
    let card = Card::with_options(MemoryCard::new(sim), &options).unwrap();
    assert_eq!(card.containers().unwrap().len(), 2);
}

/// A GIDS application that answers no SELECT by AID (the class minidriver's "AID not found"
/// rule: a vendor card whose GIDS application is the default one) is driven as GIDS; a card
/// that answers no GIDS command either is an unknown card.
#[test]
fn gids_without_a_selectable_aid_and_a_card_with_neither_application() {
    struct DefaultApplication(card_sim::gids::GidsSim);
    impl card_edges::transport::memory::VirtualCard for DefaultApplication {
        fn atr(&self) -> Vec<u8> {
            self.0.atr()
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            if command.get(1..3) == Some(&[0xA4, 0x04]) { vec![0x6A, 0x82] } else { self.0.process(command) }
        }
        fn reset(&mut self) {
            card_edges::transport::memory::VirtualCard::reset(&mut self.0);
            // The card's default application is selected at power-up.
            let select = hex_literal::hex!("00A4040009A0000003974254465900");
            self.0.process(&select);
        }
    }
    let sim = card_sim::gids::GidsSim::default_card().unwrap();
    let mut card = DefaultApplication(sim);
    card_edges::transport::memory::VirtualCard::reset(&mut card);
    let opened = Card::with_transport(MemoryCard::new(card)).unwrap();
    assert_eq!(opened.containers().unwrap().len(), 2);
    opened.verify_pin(b"123456").unwrap();
    assert_eq!(opened.sign_hash(0, Some(HashAlg::Sha256), &[1; 32]).unwrap().len(), 256);

    let nothing = card_edges::transport::memory::ScriptedCard::new(&[0x3B, 0x00], &[]);
    assert_eq!(Card::with_transport(MemoryCard::new(nothing)).unwrap_err(), Error::UnknownCard);
}
