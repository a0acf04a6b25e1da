//! The GIDS edge against the simulated GIDS card: exact APDU transcripts of the user-visible
//! flows and their budgets (short APDUs only, one RSA-2048 container with its certificate:
//! cold listing at most 10 APDUs with the detection's two SELECTs, PIN + sign at most 5).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::sync::{Arc, Mutex};

use card_edges::crypto::{self, HashAlg};
use card_edges::gids::{DecryptPadding, GidsEdge};
use card_edges::iso7816::{Counters, Session};
use card_edges::key::{KeyAlgorithm, KeyRole};
use card_edges::transport::memory::MemoryCard;
use card_edges::transport::{Exchange, Recording};
use card_sim::gids::{ContainerKey, GidsSim};
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use sha2::{Digest, Sha256};

const ADMIN_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

type Edge = GidsEdge<Recording<MemoryCard>>;

struct Harness {
    sim: GidsSim,
    edge: Edge,
    log: Arc<Mutex<Vec<Exchange>>>,
}

/// The card shape of the OpenSC measurement: one RSA-2048 key exchange container with its
/// certificate.
fn one_container() -> GidsSim {
    GidsSim::builder(b"gids transcript card")
        .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_B.to_vec()), true)
        .build()
        .unwrap()
}

fn harness(sim: GidsSim) -> Harness {
    let recording = Recording::new(MemoryCard::new(sim.clone()));
    let log = recording.log();
    let edge = GidsEdge::new(Session::from_atr(recording).unwrap());
    Harness { sim, edge, log }
}

impl Harness {
    fn commands(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap()).iter().map(|e| hex::encode_upper(&e.command)).collect()
    }

    fn counters(&self) -> Counters {
        self.edge.session().counters()
    }
}

/// Redacts PIN bytes (VERIFY, RESET RETRY COUNTER) so transcripts do not pin them.
fn shape(cmds: &[String]) -> Vec<String> {
    cmds.iter()
        .map(|c| match &c[..4.min(c.len())] {
            "0020" | "002C" if c.len() > 10 => format!("{}<secret>", &c[..10]),
            _ => c.clone(),
        })
        .collect()
}

fn admin_response(challenge: &[u8]) -> Vec<u8> {
    let tdes = des::TdesEde3::new_from_slice(&ADMIN_KEY).unwrap();
    let mut block = Array::try_from(challenge).unwrap();
    tdes.encrypt_block(&mut block);
    block.to_vec()
}

#[test]
fn cold_listing_is_eight_apdus_after_the_select() {
    let mut h = harness(one_container());
    h.edge.cardcf().unwrap();
    h.edge.card_id().unwrap();
    let containers = h.edge.containers().unwrap();
    assert_eq!(containers.len(), 1);
    let cmds = h.commands();
    assert_eq!(
        &cmds[..5],
        [
            "00A4040009A0000003974254465900", // SELECT GIDS (FCI)
            "00CBA010045C02DF2200",           // cardcf
            "00CBA012045C02DF2000",           // cardid
            "00CBA000045C02DF1F00",           // master file
            "00CBA010045C02DF2300",           // cmapfile
        ]
    );
    assert_eq!(cmds[5], "00CBA010045C02DF2400", "the certificate");
    assert!(cmds[6..].iter().all(|c| c.starts_with("00C00000")), "then GET RESPONSE: {cmds:#?}");
    let c = h.counters();
    // Plus the class minidriver's failed PIV SELECT: at most 10 for a whole cold listing.
    let failed_piv_select = 1;
    assert!(c.apdus + failed_piv_select <= 10, "listing took {} APDUs: {cmds:#?}", c.apdus);
    let card_cert = card_sim::gids::decompress_certificate(&h.sim.data_object(0xA010, 0xDF24).unwrap()).unwrap();
    assert_eq!(containers[0].certificate, card_cert);
    assert!(containers[0].default);
    assert_eq!(containers[0].role, KeyRole::Exchange);
    assert_eq!(containers[0].public_key.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    // A second listing in the same transaction costs nothing.
    h.edge.containers().unwrap();
    assert!(h.commands().is_empty());
    println!("GIDS cold listing: {} APDUs, {} bytes (+ the failed PIV SELECT)", c.apdus, c.bytes());
}

#[test]
fn pin_and_rsa_2048_sign_is_three_apdus() {
    let mut h = harness(one_container());
    h.edge.containers().unwrap();
    h.commands();
    let before = h.counters();
    let hash = Sha256::digest(b"minidriver on GIDS");
    h.edge.verify_pin(b"123456").unwrap();
    let sig = h.edge.sign_pkcs1(0, Some(HashAlg::Sha256), &hash).unwrap();
    let key = crypto::public_key_from_spki(h.edge.container(0).unwrap().unwrap().public_key.spki()).unwrap();
    crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
    let cmds = shape(&h.commands());
    let mut pso = String::from("002A9E9A333031300D060960864801650304020105000420");
    pso.push_str(&hex::encode_upper(hash));
    pso.push_str("00");
    assert_eq!(cmds, ["0020008006<secret>", "002241B606800157840181", &pso]);
    let used = h.counters().since(before);
    assert!(used.apdus <= 5, "{used:?}");
    println!("GIDS PIN + RSA-2048 sign: {} APDUs, {} bytes", used.apdus, used.bytes());
    // PSS is signed raw (mechanism 17) with the block built here.
    let pss = h.edge.sign_pss(0, HashAlg::Sha256, &hash, 32).unwrap();
    crypto::verify_pss(&key, HashAlg::Sha256, &hash, &pss, Some(32)).unwrap();
    assert_eq!(h.commands()[0], "002241B606800117840181");
}

#[test]
fn decrypt_is_chained_without_padding_indicator_and_round_trips() {
    let mut h = harness(one_container());
    let public = h.edge.container(0).unwrap().unwrap().public_key;
    let key = crypto::public_key_from_spki(public.spki()).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"a session key").unwrap();
    h.edge.verify_pin(b"123456").unwrap();
    h.commands();
    let plain = h.edge.decrypt(0, &ct, &DecryptPadding::Pkcs1).unwrap();
    assert_eq!(&plain[..], b"a session key");
    let cmds = h.commands();
    assert_eq!(cmds.len(), 3, "{cmds:#?}");
    assert_eq!(cmds[0], "002241B806800107840181", "raw decipher: the padding comes off on the host");
    assert_eq!(cmds[1], format!("102A8086FF{}", hex::encode_upper(&ct[..255])));
    assert_eq!(cmds[2], format!("002A808601{}00", hex::encode_upper(&ct[255..])));
    let ct = key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), b"oaep").unwrap();
    let oaep = DecryptPadding::Oaep { hash_alg: HashAlg::Sha256, label: b"" };
    assert_eq!(&h.edge.decrypt(0, &ct, &oaep).unwrap()[..], b"oaep");
}

#[test]
fn admin_external_authentication_and_pin_unblock() {
    let mut h = harness(GidsSim::default_card().unwrap());
    h.edge.containers().unwrap();
    // Block the PIN.
    for _ in 0..3 {
        assert!(h.edge.verify_pin(b"000000").is_err());
    }
    assert_eq!(h.sim.pin_tries_left(), Some(0));
    h.commands();
    let challenge = h.edge.admin_challenge().unwrap();
    assert_eq!(challenge.len(), 8);
    h.edge.answer_admin_challenge(&admin_response(&challenge)).unwrap();
    assert!(h.sim.admin_authenticated());
    h.edge.reset_pin_as_admin(b"654321").unwrap();
    let cmds = shape(&h.commands());
    assert_eq!(cmds.len(), 4, "{cmds:#?}");
    assert_eq!(cmds[0], "0022C1A403830180", "MSE SET AT for the administrator key");
    assert_eq!(cmds[1], "00870000047C02810000", "GENERAL AUTHENTICATE: a challenge (Le 00)");
    assert!(cmds[2].starts_with("008700000C7C0A8208"), "the response: {}", cmds[2]);
    assert_eq!(cmds[3], "002C028006<secret>");
    assert_eq!(h.sim.pin_tries_left(), Some(3));
    h.edge.verify_pin(b"654321").unwrap();
    // A wrong response is refused and leaves the administrator unauthenticated.
    let mut h = harness(GidsSim::default_card().unwrap());
    let challenge = h.edge.admin_challenge().unwrap();
    let mut wrong = admin_response(&challenge);
    wrong[0] ^= 1;
    assert!(h.edge.answer_admin_challenge(&wrong).is_err());
    assert!(!h.sim.admin_authenticated());
}

#[test]
fn mutual_authentication_with_the_admin_key() {
    let mut h = harness(GidsSim::default_card().unwrap());
    h.edge.authenticate_admin(&ADMIN_KEY).unwrap();
    assert!(h.sim.admin_authenticated());
    let cmds = h.commands();
    assert!(cmds.iter().any(|c| c.starts_with("00870000147C12811")), "{cmds:#?}");
    let mut h = harness(GidsSim::default_card().unwrap());
    assert!(h.edge.authenticate_admin(&[9; 24]).is_err());
}

#[test]
fn key_generation_and_certificate_write_keep_the_card_consistent() {
    let mut h = harness(one_container());
    h.edge.containers().unwrap();
    let cardcf_before = h.edge.cardcf().unwrap();
    h.edge.verify_pin(b"123456").unwrap();
    h.commands();
    let key = h.edge.generate_key(1, KeyAlgorithm::Rsa { bits: 1024 }, KeyRole::Exchange).unwrap();
    let gen_cmds = h.commands();
    assert!(gen_cmds.iter().any(|c| c.starts_with("00E00000")), "CREATE FILE of the key file: {gen_cmds:#?}");
    assert!(gen_cmds.iter().any(|c| c.starts_with("00470000")), "GENERATE: {gen_cmds:#?}");
    // The container map and the key map agree and name the new key.
    let containers = h.edge.containers().unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[1].public_key, key);
    assert_eq!(h.sim.public_key(0x82).unwrap(), key.spki());
    let keymap = h.edge.keymap().unwrap();
    assert_eq!(keymap.len(), 2);
    assert!(keymap.get(1).unwrap().is_in_use());
    // A certificate for it, written compressed; the card's cardcf moved on.
    let cert = &card_sim::issue_certificate("CN=Enrolled on GIDS", key.spki()).unwrap();
    h.edge.write_certificate(1, cert).unwrap();
    let cf = h.edge.cardcf().unwrap();
    assert_ne!(cf, cardcf_before);
    assert!(cf.containers_freshness != cardcf_before.containers_freshness);
    assert!(cf.files_freshness != cardcf_before.files_freshness);
    let stored = h.sim.data_object(0xA010, 0xDF25).unwrap();
    assert_eq!(&stored[..2], [0x01, 0x00]);
    assert_eq!(&card_sim::gids::decompress_certificate(&stored).unwrap(), cert);
    // A new edge (another context) sees all of it.
    let mut fresh = harness(h.sim.clone());
    let listed = fresh.edge.containers().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(&listed[1].certificate, cert);
}

/// A transport whose card refuses one instruction with a status word (a card out of key space
/// answers GENERATE with `6A 84`), passing everything else on.
struct Refusing {
    inner: MemoryCard,
    /// INS, P1, P2 of the refused command (CLA ignored, so every part of a chain is refused).
    header: [u8; 3],
    sw: [u8; 2],
}

impl card_edges::transport::Transport for Refusing {
    fn transmit(&mut self, command: &[u8]) -> card_edges::Result<Vec<u8>> {
        if command.get(1..4) == Some(&self.header[..]) { Ok(self.sw.to_vec()) } else { self.inner.transmit(command) }
    }
    fn atr(&mut self) -> card_edges::Result<Vec<u8>> {
        self.inner.atr()
    }
}

#[test]
fn a_failed_generation_or_import_leaves_no_container() {
    for (header, what) in [([0x47, 0x00, 0x00], "GENERATE"), ([0xDB, 0x3F, 0xFF], "PUT KEY")] {
        let sim = one_container();
        let card = Refusing { inner: MemoryCard::new(sim.clone()), header, sw: [0x6A, 0x84] };
        let mut edge = GidsEdge::new(Session::from_atr(card).unwrap());
        edge.verify_pin(b"123456").unwrap();
        let cmap_before = sim.data_object(0xA010, 0xDF23);
        let keymap_before = sim.data_object(0xA000, 0xDF20);
        let result = if header[0] == 0x47 {
            edge.generate_key(1, KeyAlgorithm::Rsa { bits: 2048 }, KeyRole::Exchange).map(|_| ())
        } else {
            use rsa::traits::{PrivateKeyParts, PublicKeyParts};
            let k =
                <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(test_vectors::keys::RSA_2048_A)
                    .unwrap();
            let be = |v: &rsa::BoxedUint| zeroize::Zeroizing::new(v.to_be_bytes_trimmed_vartime().to_vec());
            let parts = card_edges::gids::RsaPrivateParts {
                n: be(k.n().as_ref()),
                e: be(k.e()),
                d: be(k.d()),
                p: be(&k.primes()[0]),
                q: be(&k.primes()[1]),
                dp: be(k.dp().unwrap()),
                dq: be(k.dq().unwrap()),
                qinv: be(&k.qinv().unwrap().retrieve()),
            };
            edge.import_key(1, &parts, KeyRole::Exchange)
        };
        assert!(result.is_err(), "{what} refused: {result:?}");
        assert_eq!(sim.data_object(0xA010, 0xDF23), cmap_before, "{what}: cmapfile unchanged");
        assert_eq!(sim.data_object(0xA000, 0xDF20), keymap_before, "{what}: keymap unchanged");
        assert!(sim.public_key(0x82).is_none(), "{what}: the key file was removed again");
        assert_eq!(harness(sim).edge.containers().unwrap().len(), 1, "{what}: no dangling container");
    }
}
