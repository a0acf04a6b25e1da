//! Writes with the user PIN alone on the simulated PIV card: a token whose management key is
//! stored PIN-protected (Yubico's ADMIN DATA and PRINTED convention), one still on the
//! factory-default key, and one whose key only its holder knows. Exact APDU transcripts where
//! the format is fixed; the container map and msroots in Yubico's objects, read back after a
//! reinsertion.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::sync::{Arc, Mutex};

use card_edges::iso7816::tlv;
use card_edges::key::KeyAlgorithm;
use card_edges::piv::yubico::{self, AdminData, ProtectedData};
use card_edges::piv::{DEFAULT_MANAGEMENT_KEY, ManagementKeyAccess, PivEdge, Slot};
use card_edges::transport::memory::MemoryCard;
use card_edges::transport::{Exchange, Recording};
use card_sim::{MgmtAlgorithm, PivSim};
use vfs::Storage;
use vfs::cmapfile::{ContainerMap, ContainerRecord, FLAG_DEFAULT, FLAG_VALID};
use vfs::well_known;

/// An AES-192 management key, as YubiKey 5.7 defaults to the algorithm.
const KEY: [u8; 24] = *b"0123456789abcdefghijklmn";
const PIN: &[u8] = b"123456";
/// The name Windows' CSP gives a container it creates during enrolment.
const CSP_NAME: &str = "le-SmartcardLogon-5b1e7c2a-9d41";

type Edge = PivEdge<Recording<MemoryCard>>;

fn open(sim: &PivSim) -> (Edge, Arc<Mutex<Vec<Exchange>>>) {
    let recording = Recording::new(MemoryCard::new(sim.clone()));
    let log = recording.log();
    (PivEdge::from_transport(recording).unwrap(), log)
}

fn commands(log: &Arc<Mutex<Vec<Exchange>>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap()).iter().map(|e| hex::encode_upper(&e.command)).collect()
}

/// One RSA-2048 key with its certificate in 9A; the management key stored PIN-protected.
fn protected_card() -> PivSim {
    PivSim::builder(b"enrolment: pin-protected key")
        .key(0x9A, test_vectors::keys::RSA_2048_A, Some(test_vectors::certs::PIV_AUTH_9A))
        .pin_protected_management_key(MgmtAlgorithm::Aes192, &KEY)
        .build()
        .unwrap()
}

/// The `cmapfile` the CSP writes after generating a key in `index`: what it read, plus the new
/// container under its own name.
fn csp_map(edge: &mut Edge, index: usize, sig: u16, kx: u16, default: bool) -> Vec<u8> {
    let mut map = ContainerMap::decode(&edge.read_file(&well_known::CMAPFILE_PATH).unwrap()).unwrap();
    if default {
        let records: Vec<(usize, ContainerRecord)> = map.valid().map(|(i, r)| (i, r.clone())).collect();
        for (i, r) in records {
            let plain =
                ContainerRecord::new(&r.name(), FLAG_VALID, r.sig_key_size_bits(), r.key_exchange_key_size_bits());
            map.set(i, plain.unwrap()).unwrap();
        }
    }
    let flags = if default { FLAG_VALID | FLAG_DEFAULT } else { FLAG_VALID };
    map.set(index, ContainerRecord::new(CSP_NAME, flags, sig, kx).unwrap()).unwrap();
    map.encode()
}

#[test]
fn the_user_pin_generates_a_key_on_a_pin_protected_card() {
    let sim = protected_card();
    let (mut edge, log) = open(&sim);
    edge.containers().unwrap();
    let listing = commands(&log);
    assert_eq!(listing.len(), 7, "{listing:#?}");
    assert!(listing.iter().all(|c| !c.contains("5FFF")), "no read of Yubico's objects in a listing: {listing:#?}");
    assert_eq!(edge.management_key_access().unwrap(), ManagementKeyAccess::PinProtected);
    assert_eq!(commands(&log), ["00CB3FFF0000055C035FFF000000"], "ADMIN DATA, once");
    edge.verify_pin(PIN).unwrap();
    commands(&log);
    let retired = Slot::from_key_ref(0x82).unwrap();
    let key = edge.generate_key(retired, KeyAlgorithm::P256).unwrap();
    let cmds = commands(&log);
    assert_eq!(cmds[0], "00CB3FFF0000055C035FC1090000", "PRINTED, which holds the key");
    assert_eq!(cmds[1], "00F7009B00", "the key's algorithm");
    assert_eq!(cmds[2], "00870A9B047C02800000", "mutual authentication, AES-192: witness");
    assert!(cmds[3].starts_with("00870A9B267C24801"), "answer and challenge: {}", cmds[3]);
    assert_eq!(cmds[4], "004700820000 05AC03800111 0000".replace(' ', ""));
    assert_eq!(cmds.len(), 5);
    assert!(sim.admin_authenticated());
    let auth = edge.auth_state();
    assert!(auth.admin && auth.admin_for_user, "the user's, not an administrator's");

    // The CSP writes its container map, then the certificate (an ECDH key in a retired slot:
    // a key exchange container).
    let map = csp_map(&mut edge, 4, 0, 256, false);
    assert!(edge.can_write(&well_known::CMAPFILE_PATH));
    edge.write_file(&well_known::CMAPFILE_PATH, &map).unwrap();
    let stored = yubico::parse_container_map(&sim.object(yubico::tag::CONTAINER_MAP).unwrap()).unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[1].name.as_str(), stored[1].slot, stored[1].key_spec), (CSP_NAME, 0x82, 6));
    assert_eq!(stored[1].cert_fingerprint, [0; 20], "no certificate yet");
    let cert = sim.issue_certificate(0x82).unwrap();
    sim.remove_certificate(0x82);
    commands(&log);
    edge.write_file(&well_known::cert_file_path(well_known::CertKind::KeyExchange, 4), &cert).unwrap();
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 3, "certificate, key history, the map's fingerprint: {cmds:#?}");
    assert!(cmds[0].starts_with("00DB3FFF"));
    assert_eq!(sim.certificate(0x82).unwrap(), cert);
    let stored = yubico::parse_container_map(&sim.object(yubico::tag::CONTAINER_MAP).unwrap()).unwrap();
    assert_ne!(stored[1].cert_fingerprint, [0; 20]);

    // Reinserted: the listing finds the name the CSP gave (one more read: the map, because
    // a certificate says there is one) and the key.
    sim.reset();
    let (mut edge, log) = open(&sim);
    let containers = edge.containers().unwrap();
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 9, "the listing (8 with the 82 certificate), then the map: {cmds:#?}");
    assert!(cmds.contains(&"00CB3FFF0000055C035FFF100000".to_owned()), "{cmds:#?}");
    let new = containers.iter().find(|c| c.slot == retired).unwrap();
    assert_eq!(new.name, CSP_NAME);
    assert_eq!(new.content.public_key, key);
    assert!(!new.default);
    assert!(containers[0].default, "9A stays the default");
    assert!(containers[0].name.ends_with("5fc105"), "the other names are unchanged");
}

#[test]
fn a_default_flag_the_csp_sets_survives_a_reinsertion() {
    let sim = protected_card();
    let (mut edge, _) = open(&sim);
    edge.verify_pin(PIN).unwrap();
    let retired = Slot::from_key_ref(0x82).unwrap();
    edge.generate_key(retired, KeyAlgorithm::Rsa { bits: 2048 }).unwrap();
    let map = csp_map(&mut edge, 4, 0, 2048, true);
    edge.write_file(&well_known::CMAPFILE_PATH, &map).unwrap();
    let cert = sim.issue_certificate(0x82).unwrap();
    edge.write_file(&well_known::cert_file_path(well_known::CertKind::KeyExchange, 4), &cert).unwrap();
    sim.reset();
    let (mut edge, _) = open(&sim);
    let cmap = ContainerMap::decode(&edge.read_file(&well_known::CMAPFILE_PATH).unwrap()).unwrap();
    assert_eq!(cmap.default_index(), Some(4));
    assert_eq!(cmap.get(4).unwrap().name(), CSP_NAME);
    assert_eq!(cmap.get(4).unwrap().key_exchange_key_size_bits(), 2048);
    // Deleting the container removes its certificate and its record.
    edge.verify_pin(PIN).unwrap();
    edge.delete_file(&well_known::cert_file_path(well_known::CertKind::KeyExchange, 4)).unwrap();
    assert_eq!(sim.certificate(0x82), None);
    let stored = yubico::parse_container_map(&sim.object(yubico::tag::CONTAINER_MAP).unwrap()).unwrap();
    assert!(stored.iter().all(|r| r.slot != 0x82), "{stored:?}");
}

#[test]
fn a_certificate_replaced_by_another_tool_drops_the_stale_name() {
    let sim = protected_card();
    let (mut edge, _) = open(&sim);
    edge.verify_pin(PIN).unwrap();
    edge.generate_key(Slot::from_key_ref(0x82).unwrap(), KeyAlgorithm::P256).unwrap();
    let map = csp_map(&mut edge, 4, 0, 256, false);
    edge.write_file(&well_known::CMAPFILE_PATH, &map).unwrap();
    let cert = sim.issue_certificate(0x82).unwrap();
    edge.write_file(&well_known::cert_file_path(well_known::CertKind::KeyExchange, 4), &cert).unwrap();
    // yubico-piv-tool imports another certificate into 9A: its record (fingerprint of the old
    // one) no longer names it.
    let mut renamed = yubico::parse_container_map(&sim.object(yubico::tag::CONTAINER_MAP).unwrap()).unwrap();
    renamed[0].name = "named-by-someone".into();
    renamed[0].cert_fingerprint = [0x11; 20];
    sim.set_object(yubico::tag::CONTAINER_MAP, &yubico::encode_container_map(&renamed).unwrap());
    sim.reset();
    let (mut edge, _) = open(&sim);
    let containers = edge.containers().unwrap();
    assert!(containers[0].name.ends_with("5fc105"), "{}", containers[0].name);
    assert_eq!(containers[1].name, CSP_NAME);
}

#[test]
fn msroots_lives_in_five_objects() {
    let sim = protected_card();
    let (mut edge, log) = open(&sim);
    assert!(matches!(edge.read_file(&well_known::MSROOTS_PATH), Err(card_edges::Error::Vfs(vfs::Error::FileNotFound))));
    assert!(!edge.can_write(&well_known::MSROOTS_PATH), "not without the PIN");
    edge.verify_pin(PIN).unwrap();
    let roots: Vec<u8> = (0..7000u32).map(|i| (i % 251) as u8).collect();
    commands(&log);
    edge.write_file(&well_known::MSROOTS_PATH, &roots).unwrap();
    let objects: Vec<u32> = sim.object_tags().into_iter().filter(|t| (0x5FFF11..=0x5FFF15).contains(t)).collect();
    assert_eq!(objects, [0x5FFF11, 0x5FFF12, 0x5FFF13]);
    assert_eq!(sim.object(0x5FFF13).unwrap()[0], 0x82, "the last part");
    sim.reset();
    let (mut edge, _) = open(&sim);
    assert!(!edge.list(Some(&well_known::MSCP)).unwrap().contains(&well_known::MSROOTS), "not read by a listing");
    assert_eq!(edge.read_file(&well_known::MSROOTS_PATH).unwrap(), roots);
    assert!(edge.list(Some(&well_known::MSCP)).unwrap().contains(&well_known::MSROOTS));
    // A shorter one empties the objects it no longer needs.
    edge.verify_pin(PIN).unwrap();
    edge.write_file(&well_known::MSROOTS_PATH, b"short").unwrap();
    let objects: Vec<u32> = sim.object_tags().into_iter().filter(|t| (0x5FFF11..=0x5FFF15).contains(t)).collect();
    assert_eq!(objects, [0x5FFF11]);
    edge.delete_file(&well_known::MSROOTS_PATH).unwrap();
    assert_eq!(sim.object(0x5FFF11), None);
}

#[test]
fn a_key_only_its_holder_knows_refuses_before_any_write() {
    let sim = PivSim::builder(b"enrolment: holder only")
        .key(0x9A, test_vectors::keys::RSA_2048_A, Some(test_vectors::certs::PIV_AUTH_9A))
        .management_key(MgmtAlgorithm::TripleDes, &[0x42; 24])
        .build()
        .unwrap();
    let (mut edge, log) = open(&sim);
    edge.verify_pin(PIN).unwrap();
    commands(&log);
    let slot = Slot::from_key_ref(0x82).unwrap();
    assert!(matches!(edge.generate_key(slot, KeyAlgorithm::P256), Err(card_edges::Error::SecurityStatusNotSatisfied)));
    assert_eq!(commands(&log), ["00CB3FFF0000055C035FFF000000", "00F7009B00"], "reads only");
    assert_eq!(edge.management_key_access().unwrap(), ManagementKeyAccess::HolderOnly);
    assert!(!edge.can_write(&well_known::CMAPFILE_PATH));
    assert!(matches!(
        edge.write_container_map(&ContainerMap::default()),
        Err(card_edges::Error::SecurityStatusNotSatisfied)
    ));
    assert!(commands(&log).iter().all(|c| !c.starts_with("00DB") && !c.starts_with("0047")));
    // Without the PIN nothing is asked at all.
    sim.reset();
    let (mut edge, log) = open(&sim);
    assert!(matches!(edge.generate_key(slot, KeyAlgorithm::P256), Err(card_edges::Error::SecurityStatusNotSatisfied)));
    assert!(commands(&log).is_empty());
}

#[test]
fn the_factory_default_key_works_and_is_replaced_only_when_asked() {
    let sim = PivSim::default_card().unwrap();
    let (mut edge, _) = open(&sim);
    assert_eq!(edge.management_key_access().unwrap(), ManagementKeyAccess::FactoryDefault);
    edge.verify_pin(PIN).unwrap();
    edge.generate_key(Slot::from_key_ref(0x82).unwrap(), KeyAlgorithm::P256).unwrap();
    assert_eq!(sim.object(yubico::tag::ADMIN_DATA), None, "not replaced unless asked");
    assert_eq!(sim.management_algorithm(), MgmtAlgorithm::TripleDes);

    // Asked: the first write replaces it with a random PIN-protected one.
    sim.reset();
    let (mut edge, log) = open(&sim);
    edge.set_protect_default_management_key(true);
    edge.verify_pin(PIN).unwrap();
    edge.generate_key(Slot::from_key_ref(0x83).unwrap(), KeyAlgorithm::P256).unwrap();
    let admin = AdminData::parse(&sim.object(yubico::tag::ADMIN_DATA).unwrap()).unwrap();
    assert!(admin.mgmt_key_protected());
    let printed = ProtectedData::parse(&sim.object(0x5FC109).unwrap()).unwrap();
    let stored = printed.management_key().unwrap().to_vec();
    assert_eq!(stored.len(), 24);
    assert_ne!(stored, DEFAULT_MANAGEMENT_KEY);
    assert!(commands(&log).iter().any(|c| c.starts_with("00FFFFFF1B039B18")), "SET MANAGEMENT KEY, 3DES");
    assert!(!sim.management_key_is_default());

    // The next insertion takes the stored key, with the PIN.
    sim.reset();
    let (mut edge, _) = open(&sim);
    assert_eq!(edge.management_key_access().unwrap(), ManagementKeyAccess::PinProtected);
    edge.verify_pin(PIN).unwrap();
    edge.generate_key(Slot::from_key_ref(0x84).unwrap(), KeyAlgorithm::P256).unwrap();
    assert!(edge.authenticate_admin(&DEFAULT_MANAGEMENT_KEY).is_err(), "the default key is gone");
    let printed = sim.object(0x5FC109).unwrap();
    assert_eq!(tlv::read_single(&printed).unwrap().tag, tlv::Tag(0x88));
}

#[test]
fn malformed_printed_data_is_a_specific_error_and_no_write() {
    let sim = PivSim::builder(b"enrolment: bad printed")
        .management_key(MgmtAlgorithm::TripleDes, &[0x42; 24])
        .object(0x5FFF00, &[0x80, 0x03, 0x81, 0x01, 0x02])
        .object(0x5FC109, &[0x88, 0x03, 0x81, 0x01, 0x00])
        .build()
        .unwrap();
    let (mut edge, log) = open(&sim);
    edge.verify_pin(PIN).unwrap();
    commands(&log);
    let err = edge.generate_key(Slot::AUTHENTICATION, KeyAlgorithm::P256).unwrap_err();
    assert!(
        matches!(err, card_edges::Error::Malformed { what: "PRINTED's 88 template holds no management key (89)" }),
        "{err:?}"
    );
    assert!(commands(&log).iter().all(|c| !c.starts_with("0047")));
    assert_eq!(sim.slots(), Vec::<u8>::new());
}
