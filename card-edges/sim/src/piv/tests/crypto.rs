//! GENERAL AUTHENTICATE with slot keys, and GENERATE ASYMMETRIC KEY PAIR, checked host-side.

use hex_literal::hex;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use signature::hazmat::PrehashVerifier;

use super::{Host, tlv};
use crate::{KeyAlgorithm, PivSim};
use card_edges::iso7816::tlv as ber;
use test_vectors::{certs, keys};

/// `7C{82 00, 81 input}` as OpenSC orders it.
fn sign_request(input: &[u8]) -> Vec<u8> {
    tlv(&[0x7C], &[&hex!("8200")[..], &tlv(&[0x81], input)].concat())
}

fn result(data: &[u8]) -> Vec<u8> {
    ber::find(data, &[ber::Tag(0x7C), ber::Tag(0x82)]).unwrap().unwrap().to_vec()
}

/// `s^e mod n` with the slot's public key.
fn rsa_public(spki: &[u8], s: &[u8]) -> Vec<u8> {
    let key = rsa::RsaPublicKey::from_public_key_der(spki).unwrap();
    let bits = key.n().as_ref().bits_precision();
    let m = rsa::hazmat::rsa_encrypt(&key, &BoxedUint::from_be_slice(s, bits).unwrap()).unwrap();
    let bytes = m.to_be_bytes();
    bytes[bytes.len() - key.size()..].to_vec()
}

/// A PKCS#1 v1.5 type 1 block of `k` bytes (leading zero byte included).
fn block(k: usize) -> Vec<u8> {
    let mut b = vec![0x00, 0x01];
    b.resize(k - 20, 0xFF);
    b.push(0);
    b.extend((0..19).map(|i| i as u8));
    b
}

#[test]
fn raw_rsa_with_9a_after_the_pin() {
    let mut h = Host::default_card();
    let input = block(256);
    assert_eq!(h.sw([0x00, 0x87, 0x07, 0x9A], &sign_request(&input)), 0x6982, "no PIN");
    h.verify_pin();
    let rsp = h.transmit([0x00, 0x87, 0x07, 0x9A], &sign_request(&input));
    assert_eq!(rsp.sw.0, 0x9000);
    assert_eq!(&rsp.data[..8], &hex!("7C820104 82820100"));
    let s = result(&rsp.data);
    assert_eq!(rsp_public(&s), input);
    // The PIN stays verified for 9A: a second signature needs no VERIFY.
    assert_eq!(h.sw([0x00, 0x87, 0x07, 0x9A], &sign_request(&input)), 0x9000);

    fn rsp_public(s: &[u8]) -> Vec<u8> {
        rsa_public(keys::RSA_2048_A_SPKI, s)
    }
}

#[test]
fn raw_rsa_decrypt_with_9d_and_sizes_3072_4096() {
    let sim = PivSim::builder(b"rsa sizes")
        .key(0x82, keys::RSA_1024, Some(certs::RETIRED_82_RSA_1024))
        .key(0x83, keys::RSA_3072, Some(certs::RETIRED_83_RSA_3072))
        .key(0x84, keys::RSA_4096, Some(certs::RETIRED_84_RSA_4096))
        .key(0x9D, keys::RSA_2048_B, Some(certs::KEY_MANAGEMENT_9D))
        .extended_length(false)
        .build()
        .unwrap();
    let mut h = Host::new(sim);
    h.verify_pin();
    for (slot, alg, spki, k) in [
        (0x82, 0x06, keys::RSA_1024_SPKI, 128),
        (0x83, 0x05, keys::RSA_3072_SPKI, 384),
        (0x84, 0x16, keys::RSA_4096_SPKI, 512),
        (0x9D, 0x07, keys::RSA_2048_B_SPKI, 256),
    ] {
        // A ciphertext: encrypt a block with the public key, the card undoes it.
        let plain = {
            let mut b = vec![0x00, 0x02];
            b.resize(k - 17, 0x5A);
            b.push(0);
            b.extend_from_slice(&[0x33; 16]);
            b
        };
        let ciphertext = rsa_public(spki, &plain);
        let rsp = h.transmit([0x00, 0x87, alg, slot], &sign_request(&ciphertext));
        assert_eq!(rsp.sw.0, 0x9000, "{slot:02X}");
        assert_eq!(result(&rsp.data), plain, "{slot:02X}");
        // P1 of another size is refused.
        assert_eq!(h.sw([0x00, 0x87, if alg == 0x07 { 0x06 } else { 0x07 }, slot], &sign_request(&ciphertext)), 0x6A86);
        // A block one byte short, or not below the modulus.
        assert_eq!(h.sw([0x00, 0x87, alg, slot], &sign_request(&ciphertext[1..])), 0x6A80);
        assert_eq!(h.sw([0x00, 0x87, alg, slot], &sign_request(&vec![0xFF; k])), 0x6A80);
    }
}

#[test]
fn ecdsa_with_9c_needs_the_pin_immediately_before() {
    let mut h = Host::default_card();
    let hash = [0x3C; 32];
    let vk = p256::ecdsa::VerifyingKey::from_public_key_der(keys::P256_A_SPKI).unwrap();
    let ga = |h: &mut Host| h.transmit([0x00, 0x87, 0x11, 0x9C], &sign_request(&hash));
    assert_eq!(ga(&mut h).sw.0, 0x6982, "no PIN");
    h.verify_pin();
    let rsp = ga(&mut h);
    assert_eq!(rsp.sw.0, 0x9000);
    let sig = p256::ecdsa::Signature::from_der(&result(&rsp.data)).unwrap();
    vk.verify_prehash(&hash, &sig).unwrap();
    assert_eq!(ga(&mut h).sw.0, 0x6982, "used up by the signature");
    assert!(h.sim.pin_verified(), "while the PIN stays verified for the other slots");

    // Any command in between voids it: GET DATA, an empty VERIFY, SELECT, a failed command.
    for between in [
        &hex!("00CB3FFF055C035FC10200")[..],
        &hex!("0020008000"),
        &hex!("00A4040009A00000030800001000"),
        &hex!("00EE000000"),
        &hex!("80CA9F7F00"),
    ] {
        h.verify_pin();
        h.raw(between);
        assert_eq!(ga(&mut h).sw.0, 0x6982, "after {between:02X?}");
    }
    // Even the first part of a chained command.
    h.verify_pin();
    assert_eq!(h.raw(&[&hex!("10DB3FFF05")[..], &hex!("5C035FC109")].concat()), hex!("9000"));
    assert_eq!(ga(&mut h).sw.0, 0x6982, "after a chain part");
    // A failed VERIFY does not grant it.
    h.verify_pin();
    h.sw([0x00, 0x20, 0x00, 0x80], b"00000000");
    assert_eq!(ga(&mut h).sw.0, 0x6982);
}

#[test]
fn pin_always_survives_the_chain_and_get_response_of_its_own_ga() {
    // RSA-2048 in 9C: the GA needs two chained parts and a GET RESPONSE.
    let sim = PivSim::builder(b"9c rsa").key(0x9C, keys::RSA_2048_A, None).extended_length(false).build().unwrap();
    let mut h = Host::new(sim);
    h.verify_pin();
    let input = block(256);
    let rsp = h.transmit([0x00, 0x87, 0x07, 0x9C], &sign_request(&input));
    assert_eq!(rsp.sw.0, 0x9000);
    assert_eq!(rsa_public(keys::RSA_2048_A_SPKI, &result(&rsp.data)), input);
    // 264 bytes = 256 + GET RESPONSE of 8: two parts, one GET RESPONSE.
    assert_eq!(h.sim.counters().apdus, 4);
}

#[test]
fn card_authentication_needs_no_pin_and_p384_works() {
    let mut h = Host::default_card();
    let hash = [0x9E; 32];
    let rsp = h.transmit([0x00, 0x87, 0x11, 0x9E], &sign_request(&hash));
    assert_eq!(rsp.sw.0, 0x9000);
    let sig = p256::ecdsa::Signature::from_der(&result(&rsp.data)).unwrap();
    p256::ecdsa::VerifyingKey::from_public_key_der(keys::P256_B_SPKI).unwrap().verify_prehash(&hash, &sig).unwrap();

    let sim = PivSim::builder(b"p384").key(0x85, keys::P384_A, Some(certs::RETIRED_85_P384)).build().unwrap();
    let mut h = Host::new(sim);
    h.verify_pin();
    let hash = [0x85; 48];
    let rsp = h.transmit([0x00, 0x87, 0x14, 0x85], &sign_request(&hash));
    let sig = p384::ecdsa::Signature::from_der(&result(&rsp.data)).unwrap();
    p384::ecdsa::VerifyingKey::from_public_key_der(keys::P384_A_SPKI).unwrap().verify_prehash(&hash, &sig).unwrap();
    // The hash must be exactly the field size.
    assert_eq!(h.sw([0x00, 0x87, 0x14, 0x85], &sign_request(&[0x85; 32])), 0x6A80);
    assert_eq!(h.sw([0x00, 0x87, 0x14, 0x85], &sign_request(&[0x85; 64])), 0x6A80);
}

#[test]
fn ecdh_matches_a_host_side_computation() {
    let sim = PivSim::builder(b"ecdh")
        .key(0x9D, keys::P256_C, Some(certs::KEY_MANAGEMENT_9D_EC))
        .key(0x86, keys::P384_B, Some(certs::RETIRED_86_P384))
        .build()
        .unwrap();
    let mut h = Host::new(sim);
    h.verify_pin();
    let peer = p256::SecretKey::from_pkcs8_der(keys::P256_A).unwrap();
    let point = peer.public_key().to_sec1_bytes();
    let req = tlv(&[0x7C], &[&hex!("8200")[..], &tlv(&[0x85], &point)].concat());
    assert_eq!(req.len(), 0x45 + 2);
    let rsp = h.transmit([0x00, 0x87, 0x11, 0x9D], &req);
    assert_eq!(&rsp.data[..4], &hex!("7C22 8220"));
    let card_pub = p256::PublicKey::from_public_key_der(keys::P256_C_SPKI).unwrap();
    assert_eq!(result(&rsp.data), peer.diffie_hellman(&card_pub).raw_secret_bytes().to_vec());

    let peer = p384::SecretKey::from_pkcs8_der(keys::P384_A).unwrap();
    let req = tlv(&[0x7C], &[&hex!("8200")[..], &tlv(&[0x85], &peer.public_key().to_sec1_bytes())].concat());
    let rsp = h.transmit([0x00, 0x87, 0x14, 0x86], &req);
    let card_pub = p384::PublicKey::from_public_key_der(keys::P384_B_SPKI).unwrap();
    assert_eq!(result(&rsp.data), peer.diffie_hellman(&card_pub).raw_secret_bytes().to_vec());
    // P1 must be the key's algorithm for ECDH too.
    assert_eq!(h.sw([0x00, 0x87, 0x11, 0x86], &req), 0x6A86);
}

#[test]
fn strict_request_forms() {
    let mut h = Host::default_card();
    h.verify_pin();
    let hash = [1u8; 32];
    let h9e = [0x00, 0x87, 0x11, 0x9E];
    // 82 missing, 82 not empty, 80 present, 81 and 85 both, neither, no 7C, trailing bytes.
    for bad in [
        tlv(&[0x7C], &tlv(&[0x81], &hash)),
        tlv(&[0x7C], &[&hex!("820101")[..], &tlv(&[0x81], &hash)].concat()),
        tlv(&[0x7C], &[&hex!("8200 8000")[..], &tlv(&[0x81], &hash)].concat()),
        tlv(&[0x7C], &[&hex!("8200")[..], &tlv(&[0x81], &hash), &tlv(&[0x85], &[4; 65])].concat()),
        tlv(&[0x7C], &hex!("8200")),
        [&hex!("8200")[..], &tlv(&[0x81], &hash)].concat(),
        [sign_request(&hash), vec![0]].concat(),
    ] {
        assert_eq!(h.sw(h9e, &bad), 0x6A80, "{bad:02X?}");
    }
    // 81 after 82 or before: both orders parse.
    let reordered = tlv(&[0x7C], &[&tlv(&[0x81], &hash)[..], &hex!("8200")].concat());
    assert_eq!(h.sw(h9e, &reordered), 0x9000);
    // Wrong algorithm, empty slot, not a key slot.
    assert_eq!(h.sw([0x00, 0x87, 0x14, 0x9E], &sign_request(&hash)), 0x6A86);
    assert_eq!(h.sw([0x00, 0x87, 0x11, 0x82], &sign_request(&hash)), 0x6A88);
    assert_eq!(h.sw([0x00, 0x87, 0x11, 0x80], &sign_request(&hash)), 0x6A86);
    // ECDH with an RSA key, ECDSA input to ECDH.
    let ecdh = tlv(&[0x7C], &[&hex!("8200")[..], &tlv(&[0x85], &[4; 65])].concat());
    assert_eq!(h.sw([0x00, 0x87, 0x07, 0x9A], &ecdh), 0x6A80);
    assert_eq!(h.sw(h9e, &ecdh), 0x6A80, "not a point on the curve");
}

#[test]
fn generate_ec_keys_needs_the_management_key() {
    let mut h = Host::default_card();
    let req = hex!("AC03 800111");
    assert_eq!(h.sw([0x00, 0x47, 0x00, 0x9A], &req), 0x6982);
    h.admin();
    for (slot, alg, id, point_len) in [(0x9A, KeyAlgorithm::EccP256, 0x11, 65), (0x9D, KeyAlgorithm::EccP384, 0x14, 97)]
    {
        let rsp = h.transmit([0x00, 0x47, 0x00, slot], &[0xAC, 0x03, 0x80, 0x01, id]);
        assert_eq!(rsp.sw.0, 0x9000);
        let point = ber::find(&rsp.data, &[ber::Tag(0x7F49), ber::Tag(0x86)]).unwrap().unwrap();
        assert_eq!(point.len(), point_len);
        assert_eq!(h.sim.key_algorithm(slot), Some(alg));
        let spki = h.sim.public_key(slot).unwrap();
        assert_eq!(&spki[spki.len() - point_len..], point, "GENERATE answers the new public key");
    }
    // The old certificate is still there until the host replaces it.
    assert_eq!(h.sim.certificate(0x9A).unwrap(), certs::PIV_AUTH_9A);
    // The new key signs, with P1 of its own algorithm only.
    h.verify_pin();
    let rsp = h.transmit([0x00, 0x87, 0x11, 0x9A], &sign_request(&[7; 32]));
    let sig = p256::ecdsa::Signature::from_der(&result(&rsp.data)).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&h.sim.public_key(0x9A).unwrap()).unwrap();
    vk.verify_prehash(&[7; 32], &sig).unwrap();
    assert_eq!(h.sw([0x00, 0x87, 0x07, 0x9A], &sign_request(&block(256))), 0x6A86);
    // Yubico policy tags are accepted; other content is not.
    assert_eq!(h.sw([0x00, 0x47, 0x00, 0x9E], &hex!("AC09 800111 AA0101 AB0101")), 0x9000);
    for bad in [&hex!("AC03 800103")[..], &hex!("AC00"), &hex!("8001 11"), &hex!("AC06 800111 800111")] {
        assert_eq!(h.sw([0x00, 0x47, 0x00, 0x9E], bad), 0x6A80, "{bad:02X?}");
    }
    assert_eq!(h.sw([0x00, 0x47, 0x00, 0x9B], &req), 0x6A86);
    assert_eq!(h.sw([0x00, 0x47, 0x01, 0x9A], &req), 0x6A86);
    // The host issues a certificate for the new key: it names the new key.
    let cert = h.sim.issue_certificate(0x9D).unwrap();
    assert_eq!(h.sim.certificate(0x9D).unwrap(), cert);
    super::provision::check_issued(&cert, &h.sim.public_key(0x9D).unwrap());
}

/// One RSA key generation per size (0.1-2 s each at opt-level 3), through short APDUs: the
/// 3072/4096 public keys come back with `61xx`, their signatures need chained requests.
#[test]
fn generate_rsa_every_size() {
    let mut h = Host::new(PivSim::builder(b"gen rsa").extended_length(false).build().unwrap());
    h.admin();
    for (alg, id, k) in [
        (KeyAlgorithm::Rsa1024, 0x06, 128),
        (KeyAlgorithm::Rsa2048, 0x07, 256),
        (KeyAlgorithm::Rsa3072, 0x05, 384),
        (KeyAlgorithm::Rsa4096, 0x16, 512),
    ] {
        let rsp = h.transmit([0x00, 0x47, 0x00, 0x9A], &[0xAC, 0x03, 0x80, 0x01, id]);
        assert_eq!(rsp.sw.0, 0x9000);
        let n = ber::find(&rsp.data, &[ber::Tag(0x7F49), ber::Tag(0x81)]).unwrap().unwrap();
        let e = ber::find(&rsp.data, &[ber::Tag(0x7F49), ber::Tag(0x82)]).unwrap().unwrap();
        assert_eq!((n.len(), e), (k, &hex!("010001")[..]));
        assert_eq!(h.sim.key_algorithm(0x9A), Some(alg));
        let spki = h.sim.public_key(0x9A).unwrap();
        let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
        assert_eq!(&key.n().as_ref().to_be_bytes()[..], n);
        h.verify_pin();
        let input = block(k);
        let rsp = h.transmit([0x00, 0x87, id, 0x9A], &sign_request(&input));
        assert_eq!(rsa_public(&spki, &result(&rsp.data)), input);
    }
}
