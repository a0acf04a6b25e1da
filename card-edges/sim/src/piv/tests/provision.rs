//! Deterministic provisioning from a seed.

use der::{Decode, Encode};
use hex_literal::hex;
use rsa::pkcs8::DecodePublicKey;
use sha2::Sha256;
use signature::Verifier;
use x509_cert::Certificate;

use super::Host;
use crate::{KeyAlgorithm, PivSim};

/// Checks an issued certificate: it certifies `spki`, the test CA issued it, and the CA's
/// signature verifies.
pub(in crate::piv) fn check_issued(der: &[u8], spki: &[u8]) {
    let cert = Certificate::from_der(der).unwrap();
    let ca = Certificate::from_der(test_vectors::certs::CA).unwrap();
    assert_eq!(cert.tbs_certificate().subject_public_key_info().to_der().unwrap(), spki);
    assert_eq!(cert.tbs_certificate().issuer(), ca.tbs_certificate().subject());
    let ca_key = rsa::RsaPublicKey::from_public_key_der(test_vectors::keys::RSA_2048_C_SPKI).unwrap();
    let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(ca_key);
    let sig = rsa::pkcs1v15::Signature::try_from(cert.signature().raw_bytes()).unwrap();
    vk.verify(&cert.tbs_certificate().to_der().unwrap(), &sig).unwrap();
}

fn ec_card(seed: &[u8]) -> PivSim {
    PivSim::builder(seed)
        .generate(0x9A, KeyAlgorithm::EccP256)
        .generate(0x9C, KeyAlgorithm::EccP384)
        .generate(0x83, KeyAlgorithm::EccP256)
        .compress_certificate(0x9C)
        .build()
        .unwrap()
}

#[test]
fn same_seed_same_card_other_seed_other_card() {
    let (a, b, c) = (ec_card(b"alice"), ec_card(b"alice"), ec_card(b"bob"));
    assert_eq!(a.guid(), b.guid());
    assert_ne!(a.guid(), c.guid());
    assert_eq!(a.serial(), b.serial());
    assert_ne!(a.serial(), c.serial());
    assert!((10_000_000..100_000_000).contains(&a.serial()));
    for slot in [0x9A, 0x9C, 0x83] {
        assert_eq!(a.public_key(slot), b.public_key(slot));
        assert_ne!(a.public_key(slot), c.public_key(slot));
        assert_eq!(a.certificate(slot), b.certificate(slot));
        assert_eq!(a.object(0x5FC107), b.object(0x5FC107));
    }
    assert_ne!(a.public_key(0x9A), a.public_key(0x83), "each slot its own key");
    // The GUID is a version 4 GUID.
    let g = a.guid().unwrap();
    assert_eq!((g[6] >> 4, g[8] >> 6), (4, 2));
}

#[test]
fn issued_certificates_chain_to_the_test_ca() {
    let sim = ec_card(b"chain");
    for slot in [0x9A, 0x9C, 0x83] {
        check_issued(&sim.certificate(slot).unwrap(), &sim.public_key(slot).unwrap());
    }
    let cert = Certificate::from_der(&sim.certificate(0x9C).unwrap()).unwrap();
    let subject = cert.tbs_certificate().subject().to_string();
    assert!(subject.contains("Simulated PIV 9C"), "{subject}");
    assert!(subject.contains("OU=Digital Signature"), "{subject}");
}

#[test]
fn compressed_certificates_and_key_history() {
    let mut h = Host::new(ec_card(b"history"));
    let rsp = h.get_data(&hex!("5FC10A"));
    assert_eq!(&rsp.data[rsp.data.len() - 5..], &hex!("710101 FE00"), "9C stored gzip-compressed");
    let rsp = h.get_data(&hex!("5FC105"));
    assert_eq!(&rsp.data[rsp.data.len() - 5..], &hex!("710100 FE00"));
    // Retired slot 83 is the second: the history says two on-card retired certificates.
    assert_eq!(h.get_data(&hex!("5FC10C")).data, hex!("5308 C10102 C20100 FE00"));
    assert_eq!(h.get_data(&hex!("5FC10E")).sw.0, 0x9000);
}

#[test]
fn builder_options_and_errors() {
    let sim = PivSim::builder(b"opts")
        .pin(b"87654321")
        .puk(b"abcdefgh")
        .retries(5, 4)
        .guid([0x42; 16])
        .object(0x5FC109, &hex!("0103 426F62"))
        .object(0x5FC107, &[])
        .extended_length(false)
        .build()
        .unwrap();
    assert_eq!((sim.pin_tries_left(), sim.puk_tries_left()), (5, 4));
    assert_eq!(sim.guid(), Some([0x42; 16]));
    assert_eq!(sim.object(0x5FC107), None, "an empty object removes it");
    assert!(!sim.extended_length());
    let mut h = Host::new(sim);
    assert_eq!(h.raw(&hex!("00200080")), hex!("63C5"));
    assert_eq!(h.sw([0x00, 0x20, 0x00, 0x80], b"87654321"), 0x9000);
    assert_eq!(h.get_data(&hex!("5FC109")).data, hex!("5305 0103426F62"));
    assert_eq!(h.raw(&hex!("00F7008000")), hex!("0101FF 050100 06020505 9000"));

    assert!(PivSim::builder(b"x").pin(b"12345").build().is_err());
    assert!(PivSim::builder(b"x").pin(b"abcdef").build().is_err());
    assert!(PivSim::builder(b"x").puk(b"123456789").build().is_err());
    assert!(PivSim::builder(b"x").generate(0x9B, KeyAlgorithm::EccP256).build().is_err());
    assert!(PivSim::builder(b"x").key(0x9A, b"not a key", None).build().is_err());
    assert!(PivSim::builder(b"x").management_key(crate::MgmtAlgorithm::Aes128, &[0; 24]).build().is_err());
}

#[test]
fn a_seeded_rsa_slot_is_reproducible() {
    // The one seeded RSA-2048 generation: the same seed makes the same modulus.
    let a = PivSim::builder(b"rsa seed").generate(0x9D, KeyAlgorithm::Rsa2048).build().unwrap();
    let b = PivSim::builder(b"rsa seed").generate(0x9D, KeyAlgorithm::Rsa2048).build().unwrap();
    assert_eq!(a.public_key(0x9D), b.public_key(0x9D));
    assert_eq!(a.key_algorithm(0x9D), Some(KeyAlgorithm::Rsa2048));
    check_issued(&a.certificate(0x9D).unwrap(), &a.public_key(0x9D).unwrap());
}
