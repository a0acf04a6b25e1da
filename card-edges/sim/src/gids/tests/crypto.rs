//! MSE, PSO (sign, decipher), GENERATE, the public key read and PUT KEY.

use hex_literal::hex;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::{ADMIN_KEY, Host, PIN, initialized};
use crate::rng::SimRng;
use test_vectors::keys;

const SHA256_PREFIX: [u8; 19] = hex!("3031300D060960864801650304020105000420");

fn digest_info(data: &[u8]) -> Vec<u8> {
    [SHA256_PREFIX.to_vec(), Sha256::digest(data).to_vec()].concat()
}

fn public(spki: &[u8]) -> RsaPublicKey {
    RsaPublicKey::from_public_key_der(spki).unwrap()
}

/// `s^e mod n`, left-padded to the modulus length.
fn encrypt_raw(key: &RsaPublicKey, s: &[u8]) -> Vec<u8> {
    let bits = u32::try_from(key.size() * 8).unwrap();
    let m = rsa::hazmat::rsa_encrypt(key, &BoxedUint::from_be_slice(s, bits).unwrap()).unwrap().to_be_bytes();
    let mut out = vec![0; key.size() - m.len()];
    out.extend_from_slice(&m);
    out
}

fn sign(host: &mut Host, kref: u8, mechanism: u8, data: &[u8]) -> card_edges::iso7816::apdu::Response {
    assert_eq!(host.sw(&[0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, mechanism, 0x84, 0x01, kref]), 0x9000);
    host.transmit([0x00, 0x2A, 0x9E, 0x9A], data)
}

#[test]
fn pkcs1_signatures_verify_with_the_container_keys() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    let di = digest_info(b"GIDS");
    // Exactly OpenSC's APDUs for RSA-2048 (card-gids.c: MSE SET 57, then PSO with a DigestInfo).
    assert_eq!(host.sw(&hex!("002241B606800157840181")), 0x9000);
    let mut apdu = hex!("002A9E9A33").to_vec();
    apdu.extend_from_slice(&di);
    apdu.push(0);
    let r = host.send(&apdu);
    assert_eq!((r.data.len(), r.sw.0), (256, 0x9000));
    public(keys::RSA_2048_B_SPKI)
        .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"GIDS"), &r.data)
        .unwrap();
    // RSA-3072: 384 bytes through 61xx.
    let r = sign(&mut host, 0x82, 0x58, &di);
    assert_eq!((r.data.len(), r.sw.0), (384, 0x9000));
    public(keys::RSA_3072_SPKI).verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"GIDS"), &r.data).unwrap();
    assert_eq!(host.sim.key_operations(), 2);
    // Windows' SSL3 MD5||SHA-1 (36 bytes, no DigestInfo) is padded as it is.
    let r = sign(&mut host, 0x81, 0x57, &[0x36; 36]);
    let block = encrypt_raw(&public(keys::RSA_2048_B_SPKI), &r.data);
    assert_eq!(block[..2], hex!("0001"));
    assert_eq!(block[256 - 37..], [vec![0], vec![0x36; 36]].concat()[..]);
    // A bare hash is no DigestInfo.
    assert_eq!(sign(&mut host, 0x81, 0x57, &Sha256::digest(b"GIDS")).sw.0, 0x6A80);
}

#[test]
fn raw_signatures() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    let mut block = vec![0u8; 256];
    block[1] = 1;
    block[255] = 0x42;
    let r = sign(&mut host, 0x81, 0x17, &block);
    assert_eq!(r.sw.0, 0x9000);
    assert_eq!(encrypt_raw(&public(keys::RSA_2048_B_SPKI), &r.data), block);
    assert_eq!(sign(&mut host, 0x81, 0x17, &block[1..]).sw.0, 0x6700);
    assert_eq!(sign(&mut host, 0x81, 0x17, &[0xFF; 256]).sw.0, 0x6A80);
}

#[test]
fn mse_checks_the_key_s_allowed_mechanisms() {
    let mut host = Host::default_card();
    assert_eq!(host.sw(&hex!("002241B606800157840181")), 0x6982, "MSE needs the PIN");
    assert_eq!(host.verify(PIN), 0x9000);
    for (apdu, sw) in [
        (&hex!("002241B606800147840181")[..], 0x6984), // a decipher mechanism for signing
        (&hex!("002241B806800157840181")[..], 0x6984), // a signing mechanism for deciphering
        (&hex!("002241B606800158840181")[..], 0x6984), // the 3072 mechanism on the 2048 key
        (&hex!("002241B606800157840190")[..], 0x6984), // no such key
        (&hex!("002241B606800157840180")[..], 0x6984), // the administrator key
        (&hex!("002241B603840181")[..], 0x6984),       // no mechanism
        (&hex!("002241B609800157840181830181")[..], 0x6984),
        (&hex!("002241A406800157840181")[..], 0x6A86),
        (&hex!("0022F2B600")[..], 0x6A81),
        (&hex!("002241B606800157840181")[..], 0x9000),
        (&hex!("002241B606800117840181")[..], 0x9000),
        (&hex!("002241B806800147840181")[..], 0x9000),
        (&hex!("002241B806800187840181")[..], 0x9000),
        (&hex!("002241B806800107840181")[..], 0x9000),
    ] {
        assert_eq!(host.sw(apdu), sw, "{}", hex::encode(apdu));
    }
    // The environment is for deciphering now: signing finds none.
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9A], &digest_info(b"x")).sw.0, 0x6985);
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9B], &digest_info(b"x")).sw.0, 0x6A86);
    // F3 restores the empty environment.
    assert_eq!(host.sw(&hex!("0022F3B8")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &[1; 256]).sw.0, 0x6985);
}

#[test]
fn no_pso_without_the_pin() {
    let mut host = Host::default_card();
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9A], &digest_info(b"x")).sw.0, 0x6985, "no environment");
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("002241B606800157840181")), 0x9000);
    assert_eq!(host.sw(&hex!("00200082")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9A], &digest_info(b"x")).sw.0, 0x6985, "logout ends it");
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("002241B606800157840181")), 0x9000);
    // A wrong PIN in between ends the verified state, so the key may not be used.
    assert_eq!(host.verify(b"000000"), 0x63C2);
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9A], &digest_info(b"x")).sw.0, 0x6982);
    assert_eq!(host.sim.key_operations(), 0);
}

#[test]
fn decipher_pkcs1_oaep_and_raw() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    let key = public(keys::RSA_2048_B_SPKI);
    let mut rng = SimRng::from_seed(b"decipher", b"test");
    let secret = b"a session key".to_vec();

    let c = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, &secret).unwrap();
    assert_eq!(host.sw(&hex!("002241B806800147840181")), 0x9000);
    // OpenSC's split: 255 bytes chained, then 1 (no padding indicator).
    assert_eq!(host.sw(&[hex!("102A8086FF").to_vec(), c[..255].to_vec()].concat()), 0x9000);
    let r = host.send(&[hex!("002A808601").to_vec(), c[255..].to_vec(), vec![0]].concat());
    assert_eq!((r.data, r.sw.0), (secret.clone(), 0x9000));
    // Windows' split: 240 + 16.
    assert_eq!(host.sw(&[hex!("102A8086F0").to_vec(), c[..240].to_vec()].concat()), 0x9000);
    let r = host.send(&[hex!("002A808610").to_vec(), c[240..].to_vec(), vec![0]].concat());
    assert_eq!(r.data, secret);
    // A padding indicator byte makes it one byte too long; one byte short is wrong too.
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &[vec![0], c.clone()].concat()).sw.0, 0x6700);
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &c[1..]).sw.0, 0x6700);
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &[0x11; 256]).sw.0, 0x6A80, "not PKCS#1 padded");

    let c = key.encrypt(&mut rng, rsa::Oaep::<sha1::Sha1>::new(), &secret).unwrap();
    assert_eq!(host.sw(&hex!("002241B806800187840181")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &c).data, secret);

    let mut block = vec![0u8; 256];
    block[200] = 0x77;
    let c = encrypt_raw(&key, &block);
    assert_eq!(host.sw(&hex!("002241B806800107840181")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2A, 0x80, 0x86], &c).data, block);
    assert_eq!(host.sim.key_operations(), 4);
}

#[test]
fn the_public_key_read_needs_no_pin() {
    let mut host = Host::default_card();
    let r = host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("70088401 81 A5037F4980"));
    assert_eq!(r.sw.0, 0x9000);
    let key = public(keys::RSA_2048_B_SPKI);
    let mut expected = hex!("7F4982010981820100").to_vec();
    expected.extend_from_slice(&key.n().to_be_bytes()[..]);
    expected.extend_from_slice(&hex!("8203010001"));
    assert_eq!(r.data, expected);
    assert_eq!(host.sim.public_key(0x81).unwrap(), keys::RSA_2048_B_SPKI);
    assert_eq!(host.sim.public_key(0x82).unwrap(), keys::RSA_3072_SPKI);
    assert_eq!(host.sw(&hex!("00CB3FFF0A7008840190A5037F498000")), 0x6984, "no such key");
    assert_eq!(host.sw(&hex!("00CB3FFF0A7008840180A5037F498000")), 0x6982, "the administrator key: never");
    assert_eq!(host.sw(&hex!("00CB3FFF0A7008840181A5037F490000")), 0x6984, "not the request form");
}

/// The APDUs OpenSC sends to make a container's key file (`gids_perform_create_keyfile`).
fn create_key_file(host: &mut Host, kref: u8, algid: u8) -> u16 {
    let fcp = crate::gids::provision::key_file_fcp(kref, algid, true);
    let sw = host.transmit_with([0x00, 0xE0, 0x00, 0x00], &fcp, false).sw.0;
    if sw != 0x9000 {
        return sw;
    }
    host.sw(&hex!("00440000"))
}

#[test]
fn generate_then_read_and_use_the_key() {
    let mut host = initialized();
    assert_eq!(create_key_file(&mut host, 0x81, 0x06), 0x6982, "CREATE FILE needs the PIN");
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(create_key_file(&mut host, 0x81, 0x06), 0x9000);
    assert_eq!(host.sw(&hex!("00CB3FFF0A7008840181A5037F498000")), 0x6A88, "no key yet");
    assert_eq!(host.sw(&hex!("0047000008AC06800107830181")), 0x6984, "RSA-2048 in a 1024 key file");
    assert_eq!(host.sw(&hex!("0047000008AC06800105830181")), 0x6A81, "no such mechanism");
    assert_eq!(host.sw(&hex!("0047000008AC06800106830190")), 0x6984, "no such key file");
    assert_eq!(host.sw(&hex!("0047000108AC06800106830181")), 0x6A86);
    // As OpenSC sends it: case 3, so the public key waits behind 61xx.
    let r = host.send(&hex!("0047000008AC06800106830181"));
    assert_eq!(r.sw.0, 0x618C, "7F49 81 88, 81 81 80 <128>, 82 03 <3>: 140 bytes");
    assert!(r.data.is_empty());
    let generated = host.send(&hex!("00C000008C"));
    assert_eq!(generated.sw.0, 0x9000);
    assert_eq!(generated.data[..6], hex!("7F4981888181"));
    let read = host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("7008840181A5037F4980"));
    assert_eq!(read.data, generated.data);
    let key = public(&host.sim.public_key(0x81).unwrap());
    assert_eq!(key.size(), 128);
    let r = sign(&mut host, 0x81, 0x56, &digest_info(b"generated"));
    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"generated"), &r.data).unwrap();
    // Without the PIN, no new key.
    assert_eq!(host.sw(&hex!("00200082")), 0x9000);
    assert_eq!(host.sw(&hex!("0047000008AC06800106830181")), 0x6982);
}

/// PUT KEY data for an RSA key, as Windows builds it.
fn put_key_data(kref: u8, pkcs1: &[u8]) -> Vec<u8> {
    use card_edges::iso7816::{Tag, tlv};
    let mut template = hex!("830102 840100").to_vec();
    tlv::write(&mut template, Tag(0x87), pkcs1).unwrap();
    let mut inner = vec![0x84, 0x01, kref];
    tlv::write(&mut inner, Tag(0xA5), &template).unwrap();
    tlv::encode(Tag(0x70), &inner).unwrap()
}

#[test]
fn import_a_key_with_put_key() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let mut host = initialized();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(create_key_file(&mut host, 0x81, 0x06), 0x9000);
    let key1024 = rsa::RsaPrivateKey::from_pkcs8_der(keys::RSA_1024).unwrap();
    let data = put_key_data(0x81, key1024.to_pkcs1_der().unwrap().as_bytes());
    assert!(data.len() > 255, "chained");
    // The wrong size for the file, then the right one.
    let key2048 = rsa::RsaPrivateKey::from_pkcs8_der(keys::RSA_2048_A).unwrap();
    let wrong = put_key_data(0x81, key2048.to_pkcs1_der().unwrap().as_bytes());
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &wrong, false).sw.0, 0x6984);
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &put_key_data(0x90, b"x"), false).sw.0, 0x6984);
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &data, false).sw.0, 0x9000);
    assert_eq!(host.sim.public_key(0x81).unwrap(), keys::RSA_1024_SPKI);
    let r = sign(&mut host, 0x81, 0x56, &digest_info(b"imported"));
    public(keys::RSA_1024_SPKI)
        .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"imported"), &r.data)
        .unwrap();
    // Without the PIN: refused before the key is looked at.
    assert_eq!(host.sw(&hex!("00200082")), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &data, false).sw.0, 0x6982);
    // The administrator key needs the administrator once operational.
    let mut admin = hex!("7024840180A51F8718").to_vec();
    admin.extend_from_slice(&[0x42; 24]);
    admin.extend_from_slice(&hex!("8803B073DC"));
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &admin, false).sw.0, 0x6982);
    assert_eq!(host.mutual_auth(&ADMIN_KEY), 0x9000);
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &admin, false).sw.0, 0x9000);
    assert_eq!(host.mutual_auth(&[0x42; 24]), 0x9000, "the new key works");
    // An RSA key into the 3DES key file, a 3DES key into an RSA key file.
    assert_eq!(
        host.transmit_with(
            [0x00, 0xDB, 0x3F, 0xFF],
            &put_key_data(0x80, key1024.to_pkcs1_der().unwrap().as_bytes()),
            false
        )
        .sw
        .0,
        0x6984
    );
    let mut tdes_into_rsa = admin.clone();
    tdes_into_rsa[4] = 0x81;
    assert_eq!(host.transmit_with([0x00, 0xDB, 0x3F, 0xFF], &tdes_into_rsa, false).sw.0, 0x6984);
}

#[test]
fn deleting_a_key_file_ends_its_environment() {
    let mut host = Host::default_card();
    assert_eq!(host.verify(PIN), 0x9000);
    assert_eq!(host.sw(&hex!("002241B606800157840181")), 0x9000);
    assert_eq!(host.sw(&hex!("00A4000C02B081")), 0x9000);
    assert_eq!(host.sw(&hex!("00E40000")), 0x9000);
    assert_eq!(host.transmit([0x00, 0x2A, 0x9E, 0x9A], &digest_info(b"x")).sw.0, 0x6985);
    assert_eq!(host.sim.public_key(0x81), None);
}
