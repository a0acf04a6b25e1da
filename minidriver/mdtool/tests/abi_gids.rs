//! The minidriver as a Base CSP uses it, on a GIDS card: the built cdylib is loaded with
//! `libloading`, `CARD_DATA` is filled by the CSP stand-in, and every call reaches the simulated
//! GIDS card (`card_sim::stack::shared_gids`, `GidsSim::default_card`) through a real pcscd and
//! vpcd. The items only PC/SC can show for GIDS: the CSP's connection and transaction left
//! alone, a reset by another program, handles swapped on a live context, the cost of a second
//! context; and the flows a CSP runs, through the built library: whole Base CSP sessions,
//! changed cards, files on the card, every signature and decryption, the administrator, key
//! generation and import. (`abi.rs` does the same for PIV: one pcscd per test process, so one card kind per
//! binary.) Test names carry the spec-checklist items they prove.
//!
//! Needs root (pcscd runs in its own mount namespace), pcscd and vsmartcard-vpcd.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failure is a panic with the code"
)]

mod cdylib;

use std::sync::{Arc, Mutex};

use card_edges::crypto::{self, HashAlg};
use card_edges::transport::Transport;
use card_sim::GidsSim;
use card_sim::gids::ContainerKey;
use card_sim::stack::{self, SharedStack};
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use mdtool::csp::session;
use mdtool::csp::{AcquireOptions, Code, Csp, CspCache, Padding, Target, live_allocations};
use minidriver::abi::{code, crypt, keyspec, misc, pin, prop};
use sha2::{Digest, Sha256, Sha384};

fn stack() -> SharedStack<GidsSim> {
    stack::shared_gids().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn acquire_with(s: &SharedStack<GidsSim>, options: &AcquireOptions) -> Result<Csp, Code> {
    Csp::acquire(cdylib::driver(), Target::Pcsc(s.connect().unwrap()), options)
}

fn acquire(s: &SharedStack<GidsSim>) -> Csp {
    acquire_with(s, &AcquireOptions::default()).unwrap()
}

/// Container 0's RSA public key, read from the card.
fn card_key(s: &SharedStack<GidsSim>, index: u8) -> rsa::RsaPublicKey {
    crypto::public_key_from_spki(&s.sim().public_key(0x81 + index).unwrap()).unwrap()
}

fn sign_and_verify(s: &SharedStack<GidsSim>, csp: &Csp, hash: &[u8]) {
    let mut sig = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, hash, None).unwrap();
    sig.reverse();
    crypto::verify_pkcs1(&card_key(s, 0), Some(HashAlg::Sha256), hash, &sig).unwrap();
}

/// The SELECT of the GIDS application (partial AID, as the class minidriver sends it).
const SELECT_GIDS: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x00];

/// Items: 16, 17, 18, 19, 20, 28
///
/// The built library over PC/SC on a GIDS card: versions 4 to 7 negotiated, nothing written
/// past the negotiated extent, the table of that version with no DH agreement entry points
/// (RSA-only card), versions below 4 refused.
#[test]
fn items_16_to_20_and_28_gids_versions_over_pcsc() {
    let s = stack();
    for (requested, negotiated) in [(4, 4), (5, 5), (6, 6), (7, 7), (8, 7)] {
        let csp = acquire_with(&s, &AcquireOptions { version: requested, ..AcquireOptions::default() }).unwrap();
        assert_eq!(csp.version(), negotiated);
        assert!(csp.tail_untouched(), "nothing written past version {requested}'s extent");
        let t = csp.raw();
        assert!(t.pfnCardReadFile.is_some() && t.pfnCardSignData.is_some() && t.pfnCardRSADecrypt.is_some());
        assert!(t.pfnCardConstructDHAgreement.is_none(), "an RSA-only card");
        assert!(t.pvUnused3.is_null() && t.pvUnused4.is_null());
        assert_eq!(csp.query_capabilities().unwrap(), (false, true));
    }
    for old in [0, 3] {
        let err = acquire_with(&s, &AcquireOptions { version: old, ..AcquireOptions::default() }).unwrap_err();
        assert_eq!(err.0, code::ERROR_REVISION_MISMATCH, "version {old}");
    }
    cdylib::no_leaks();
}

/// Items: 36, 44, 47
///
/// Over real PC/SC (pcscd + vpcd) on a GIDS card: the driver neither connects, reconnects,
/// disconnects nor begins or ends transactions on the CSP's handles. After a session and
/// `CardDeleteContext` the CSP's connection still transmits and still holds its transaction,
/// and the PIN the session verified is still verified on the card (an `SCardReconnect` with
/// reset would have cleared it).
#[test]
fn items_36_44_47_gids_the_csps_connection_and_transaction_are_left_alone() {
    let s = stack();
    let e = acquire_with(&s, &AcquireOptions { tamper: Some(|cd| cd.hSCardCtx = 0), ..AcquireOptions::default() });
    assert_eq!(e.unwrap_err().0, code::SCARD_E_INVALID_HANDLE);
    let mut csp = acquire(&s);
    csp.authenticate_pin("user", b"123456").unwrap();
    sign_and_verify(&s, &csp, &Sha256::digest(b"pcsc"));
    csp.read_file(Some("mscp"), "kxc00").unwrap();
    csp.card_data_mut().delete_context().unwrap();
    assert!(s.sim().pin_verified(), "no reset, no reconnect");
    let card = csp.pcsc().unwrap();
    let rsp = card.transmit(&SELECT_GIDS).unwrap();
    assert_eq!(&rsp[rsp.len() - 2..], &[0x90, 0x00], "the CSP's handle is still connected");
    card.end_transaction().unwrap();
    drop(csp);
    cdylib::no_leaks();
}

/// Items: 45, 48
///
/// A reset by another program between two of the CSP's transactions: the next call returns
/// `SCARD_W_RESET_CARD`; after the CSP reconnects, no PIN is authenticated (the driver does not
/// assume a login survives), and the user PIN works again.
#[test]
fn items_45_48_gids_reset_drops_authentication_and_the_csp_recovers() {
    let s = stack();
    let mut csp = acquire(&s);
    csp.authenticate_pin("user", b"123456").unwrap();
    let hash = Sha256::digest(b"before").to_vec();
    sign_and_verify(&s, &csp, &hash);
    csp.pcsc().unwrap().end_transaction().unwrap();
    s.reset_card().unwrap();
    let err = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap_err();
    assert_eq!(err.0, code::SCARD_W_RESET_CARD);
    csp.reconnect(false).unwrap();
    assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0u32.to_le_bytes());
    let err = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap_err();
    assert_eq!(err.0, code::SCARD_W_SECURITY_VIOLATION, "the PIN is gone with the reset");
    csp.authenticate_pin("user", b"123456").unwrap();
    sign_and_verify(&s, &csp, &hash);
    csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    drop(csp);
    cdylib::no_leaks();
}

/// Items: 46
///
/// The CSP moves a live context to a new connection (new handles, its own transaction): the
/// driver uses the new handles from the next call and serves the same card.
#[test]
fn item_46_gids_the_csp_swaps_handles_on_a_live_context() {
    let s = stack();
    let mut csp = acquire(&s);
    let before = csp.read_file(None, "cardid").unwrap();
    csp.pcsc().unwrap().end_transaction().unwrap();
    let mut other = s.connect().unwrap();
    other.begin_transaction().unwrap();
    let (ctx, card) = other.raw_handles();
    csp.card_data_mut().set_handles(ctx, card);
    assert_eq!(csp.read_file(None, "cardid").unwrap(), before);
    let kxc00 = csp.read_file(Some("mscp"), "kxc00").unwrap();
    assert_eq!(card_sim::gids::decompress_certificate(&kxc00).map(|der| der.len() > 500), Some(true));
    csp.authenticate_pin("user", b"123456").unwrap();
    sign_and_verify(&s, &csp, &Sha256::digest(b"new handles"));
    csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES).unwrap();
    drop(csp);
    other.end_transaction().unwrap();
    drop(other);
    cdylib::no_leaks();
}

/// Items: 155, 158, 160
///
/// Over PC/SC: a second context of the process on an unchanged GIDS card costs two APDUs
/// (`cardcf` and `cardid`, which validate the CSP's cache) and reads no certificate; after the
/// card changed behind the CSP's back (another writer, who bumps `cardcf`), nothing stale is
/// served.
#[test]
fn items_155_158_160_gids_a_second_context_costs_two_apdus_and_never_sees_stale_data() {
    let s = stack();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let first = acquire_with(&s, &options).unwrap();
    let cardcf = first.read_file(None, "cardcf").unwrap();
    first.read_file(Some("mscp"), "cmapfile").unwrap();
    first.container_info(0).unwrap();
    drop(first);
    assert!(cache.lock().unwrap().adds >= 1, "the contents went to the CSP cache");
    let before = s.sim().counters();
    let second = acquire_with(&s, &options).unwrap();
    assert_eq!(second.read_file(None, "cardcf").unwrap(), cardcf);
    let cmap = second.read_file(Some("mscp"), "cmapfile").unwrap();
    let kxc00 = second.read_file(Some("mscp"), "kxc00").unwrap();
    second.container_info(1).unwrap();
    let used = s.sim().counters().since(before);
    assert!(used.apdus <= 2, "second context: {used:?}");
    println!("GIDS second context on an unchanged card: {} APDUs, {} bytes", used.apdus, used.bytes());
    drop(second);
    // Another writer empties container 1's record in cmapfile and bumps cardcf.
    let mut map = vfs::cmapfile::ContainerMap::decode(&cmap).unwrap();
    map.delete(1);
    let mut cf = vfs::cardcf::CacheFile::decode(&cardcf).unwrap();
    cf.bump_files();
    s.sim().set_data_object(0xA010, 0xDF23, &map.encode()).unwrap();
    s.sim().set_data_object(0xA010, 0xDF22, &cf.encode()).unwrap();
    let third = acquire_with(&s, &options).unwrap();
    assert_eq!(third.read_file(None, "cardcf").unwrap(), cf.encode());
    assert_eq!(third.read_file(Some("mscp"), "cmapfile").unwrap(), map.encode());
    assert_eq!(third.container_info(1).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(third.read_file(Some("mscp"), "kxc00").unwrap(), kxc00);
    drop(third);
    // Put the card back as it was for the other tests.
    s.sim().set_data_object(0xA010, 0xDF23, &cmap).unwrap();
    s.sim().set_data_object(0xA010, 0xDF22, &cardcf).unwrap();
    cdylib::no_leaks();
}

/// Items: 33
///
/// `CardDeleteContext` of the built library frees the context block and everything else.
#[test]
fn item_33_gids_delete_context_frees_everything() {
    let s = stack();
    let mut csp = acquire(&s);
    assert!(!csp.raw().pvVendorSpecific.is_null());
    assert_eq!(live_allocations(), 1, "the context's pvVendorSpecific block");
    csp.card_data_mut().delete_context().unwrap();
    assert!(csp.raw().pvVendorSpecific.is_null());
    assert_eq!(live_allocations(), 0);
    drop(csp);
    cdylib::no_leaks();
}

const PIN: &[u8] = b"123456";
const ADMIN_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

fn options(cache: &Arc<Mutex<CspCache>>) -> AcquireOptions {
    AcquireOptions {
        cache: Some(cache.clone()),
        card_name: "Identity Device (Microsoft Generic Profile)".into(),
        ..AcquireOptions::default()
    }
}

/// Runs `f` on another card, then puts the default card back.
fn with_card(s: &mut SharedStack<GidsSim>, sim: GidsSim, f: impl FnOnce(&mut SharedStack<GidsSim>)) {
    s.insert(sim).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(s)));
    s.insert(GidsSim::default_card().unwrap()).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn admin_response(challenge: &[u8], key: &[u8; 24]) -> Vec<u8> {
    let tdes = des::TdesEde3::new_from_slice(key).unwrap();
    let mut block = Array::try_from(challenge).unwrap();
    tdes.encrypt_block(&mut block);
    block.to_vec()
}

fn certificate(s: &SharedStack<GidsSim>, tag: u16) -> Vec<u8> {
    card_sim::gids::decompress_certificate(&s.sim().data_object(0xA010, tag).unwrap()).unwrap()
}

fn dword(v: &[u8]) -> u32 {
    u32::from_le_bytes(v.try_into().unwrap())
}

/// Items: 155, 158, 159, 160
///
/// Two whole Base CSP sessions in one process with one cache, as Windows runs them (acquire;
/// cardcf, cardid, cardapps, the mscp listing, cmapfile, every container's key, PIN and
/// certificate; PIN, a signature with every key and a decryption with every key-exchange key,
/// each checked; deauthenticate; delete the context). The second session's non-cryptographic
/// part costs at most 2 APDUs (cardcf as the freshness proof, and cardid).
#[test]
fn items_155_158_159_160_a_second_full_session_costs_two_apdus_before_its_crypto() {
    let s = stack();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let mut costs = Vec::new();
    s.sim().set_trace(true);
    for round in 0..2 {
        let before = s.sim().counters();
        let csp = acquire_with(&s, &options(&cache)).unwrap();
        let listing = session::list(&csp).unwrap();
        let listed = s.sim().counters().since(before);
        // A GET DATA of cardcf before the SELECTs is the probe of an ATR this process saw
        // before (tests before this one), failing on the reset card: one APDU more.
        let probed = s.sim().take_trace().first().is_some_and(|t| t.command.starts_with("00CBA010"));
        assert_eq!(listing.containers.len(), 2);
        assert_eq!(listing.containers[0].certificate.as_deref(), Some(&certificate(&s, 0xDF24)[..]));
        let done = session::sign_and_decrypt(&csp, &listing, PIN).unwrap();
        assert_eq!((done.signatures, done.decryptions), (2, 2));
        drop(csp);
        costs.push((listed, s.sim().counters().since(before)));
        if round == 0 {
            // SELECT PIV (refused), SELECT GIDS, cardcf, cardid, master file, cardapps,
            // cmapfile, and two certificates of 776 and 919 bytes in 4 short answers each.
            assert!(listed.apdus <= 15 + u64::from(probed), "cold listing of two containers: {listed:?}");
        }
    }
    let (second, _) = costs[1];
    assert!(second.apdus <= 2, "second context before its crypto: {second:?}");
    println!(
        "GIDS full session: first {} APDUs ({} to list), second {} APDUs ({} to list)",
        costs[0].1.apdus, costs[0].0.apdus, costs[1].1.apdus, costs[1].0.apdus
    );
    cdylib::no_leaks();
}

/// Items: 155, 156, 160
///
/// Nothing stale after the card changed behind the CSP's back: another program's write
/// (cardcf bumped, a certificate replaced), and another card with the same ATR.
#[test]
fn items_155_156_160_a_changed_card_is_seen_by_the_next_context() {
    let mut s = stack();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let first = session::list(&acquire_with(&s, &options(&cache)).unwrap()).unwrap();
    // Another program replaces container 1's certificate and bumps cardcf, as OpenSC does.
    let cert = card_sim::issue_certificate("CN=Replaced elsewhere", &s.sim().public_key(0x82).unwrap()).unwrap();
    let mut stored = vec![0x01, 0x00];
    stored.extend_from_slice(&u16::try_from(cert.len()).unwrap().to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &cert).unwrap();
    stored.extend_from_slice(&z.finish().unwrap());
    s.sim().set_data_object(0xA010, 0xDF25, &stored).unwrap();
    let mut cf = s.sim().data_object(0xA010, 0xDF22).unwrap();
    cf[4] = cf[4].wrapping_add(1);
    s.sim().set_data_object(0xA010, 0xDF22, &cf).unwrap();
    let second = session::list(&acquire_with(&s, &options(&cache)).unwrap()).unwrap();
    assert_ne!(second.cardcf, first.cardcf);
    assert_eq!(second.containers[1].certificate.as_deref(), Some(&cert[..]), "the new certificate, not the cached one");
    // Another card with the same ATR and the same cardcf: a new cardid, so nothing is reused.
    let other = GidsSim::builder(b"another GIDS card")
        .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_A.to_vec()), true)
        .build()
        .unwrap();
    assert_eq!(other.atr(), s.sim().atr());
    with_card(&mut s, other, |s| {
        let listing = session::list(&acquire_with(s, &options(&cache)).unwrap()).unwrap();
        assert_ne!(listing.cardid, second.cardid);
        assert_eq!(listing.containers.len(), 1);
        assert_eq!(listing.containers[0].certificate.as_deref(), Some(&certificate(s, 0xDF24)[..]));
    });
    cdylib::no_leaks();
}

/// Items: 87, 92, 101, 104, 106
///
/// The logical files live on the card: the well-known ones, and files the CSP creates, writes
/// and deletes, seen by the next context (no write simulation on GIDS).
#[test]
fn items_87_92_101_104_106_the_logical_files_are_on_the_card() {
    let s = stack();
    let csp = acquire(&s);
    assert_eq!(csp.read_file(None, "cardid").unwrap(), s.sim().data_object(0xA012, 0xDF20).unwrap());
    assert_eq!(csp.read_file(None, "cardapps").unwrap(), b"mscp\0\0\0\0");
    assert_eq!(csp.read_file(None, "cardcf").unwrap(), s.sim().data_object(0xA010, 0xDF22).unwrap());
    let kxc = csp.read_file(Some("mscp"), "kxc00").unwrap();
    assert_eq!(&kxc[..2], [0x01, 0x00], "the CSP's compressed form, stored as is");
    assert_eq!(session::certificate_from_file(&kxc).unwrap(), certificate(&s, 0xDF24));
    assert_eq!(csp.query_capabilities().unwrap(), (false, true), "fCertificateCompression FALSE, fKeyGen TRUE");
    assert_eq!(csp.file_info(None, "cardid").unwrap(), (16, 3), "EveryoneReadAdminWriteAc");
    let mut listing = csp.enum_files(Some("mscp")).unwrap();
    listing.sort();
    assert_eq!(listing, ["cmapfile", "kxc00", "kxc01"]);
    // Writes need the user PIN.
    assert_eq!(csp.create_file(Some("mscp"), "notes", 0, 1).unwrap_err().0, code::SCARD_W_SECURITY_VIOLATION);
    csp.authenticate_pin("user", PIN).unwrap();
    let cf_before = csp.read_file(None, "cardcf").unwrap();
    csp.create_file(Some("mscp"), "notes", 0, 1).unwrap();
    csp.write_file(Some("mscp"), "notes", b"kept on the card").unwrap();
    assert_ne!(csp.read_file(None, "cardcf").unwrap(), cf_before, "the driver bumped cardcf for its writes");
    csp.create_file(Some("mscp"), "msroots", 0, 1).unwrap();
    csp.write_file(Some("mscp"), "msroots", &[0x30; 300]).unwrap();
    drop(csp);
    let csp = acquire(&s);
    assert_eq!(csp.read_file(Some("mscp"), "notes").unwrap(), b"kept on the card");
    assert_eq!(csp.read_file(Some("mscp"), "msroots").unwrap(), vec![0x30; 300]);
    csp.authenticate_pin("user", PIN).unwrap();
    csp.delete_file(Some("mscp"), "notes").unwrap();
    csp.delete_file(Some("mscp"), "msroots").unwrap();
    assert_eq!(csp.read_file(Some("mscp"), "notes").unwrap_err().0, code::SCARD_E_FILE_NOT_FOUND);
    drop(csp);
    let csp = acquire(&s);
    let mut listing = csp.enum_files(Some("mscp")).unwrap();
    listing.sort();
    assert_eq!(listing, ["cmapfile", "kxc00", "kxc01"], "deleted on the card");
    drop(csp);
    cdylib::no_leaks();
}

/// Items: 62, 64, 69, 130, 131, 132
#[test]
fn items_62_64_69_130_to_132_pin_and_container_info() {
    let s = stack();
    let csp = acquire(&s);
    let (err, tries) = csp.authenticate_pin("user", b"999999").unwrap_err();
    assert_eq!((err.0, tries), (code::SCARD_W_WRONG_CHV, 2));
    csp.authenticate_pin("user", PIN).unwrap();
    assert_eq!(s.sim().pin_tries_left(), Some(3));
    assert_eq!(dword(&csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap()), pin::set_of(pin::ROLE_USER));
    let (sig, kx) = csp.container_info(0).unwrap();
    assert!(sig.is_empty());
    assert_eq!(&kx[..8], &[6, 2, 0, 0, 0x00, 0xA4, 0, 0], "PUBLICKEYBLOB, CALG_RSA_KEYX");
    let key = rsa_key_of(&certificate(&s, 0xDF24));
    let mut n = rsa::traits::PublicKeyParts::n(&key).to_be_bytes().to_vec();
    n.reverse();
    n.truncate(256);
    assert_eq!(&kx[20..], &n[..]);
    assert_eq!(csp.container_info(5).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(csp.get_container_property(1, prop::PIN_IDENTIFIER).unwrap(), 1u32.to_le_bytes());
    csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap();
    assert!(!s.sim().pin_verified(), "the card itself logged out");
    drop(csp);
    cdylib::no_leaks();
}

/// Items: 138, 139, 140, 141, 142, 143, 144, 145, 146, 147
#[test]
fn items_138_to_147_signatures_and_decryptions() {
    let s = stack();
    let csp = acquire(&s);
    csp.authenticate_pin("user", PIN).unwrap();
    for (index, tag) in [(0u8, 0xDF24), (1, 0xDF25)] {
        let key = rsa_key_of(&certificate(&s, tag));
        for (alg, hash_alg, len) in [
            (crypt::CALG_SHA1, Some(HashAlg::Sha1), 20),
            (crypt::CALG_SHA_256, Some(HashAlg::Sha256), 32),
            (crypt::CALG_SHA_384, Some(HashAlg::Sha384), 48),
            (crypt::CALG_SHA_512, Some(HashAlg::Sha512), 64),
            (crypt::CALG_SSL3_SHAMD5, Some(HashAlg::Md5Sha1), 36),
        ] {
            let hash = vec![0x3C; len];
            let mut sig = csp.sign_data(index, keyspec::AT_KEYEXCHANGE, alg, 0, &hash, None).unwrap();
            sig.reverse();
            crypto::verify_pkcs1(&key, hash_alg, &hash, &sig).unwrap();
        }
        let h = Sha384::digest(b"pss").to_vec();
        let mut sig =
            csp.sign_data(index, keyspec::AT_KEYEXCHANGE, 0, 0, &h, Some(&Padding::Pss("SHA384".into(), 48))).unwrap();
        sig.reverse();
        crypto::verify_pss(&key, HashAlg::Sha384, &h, &sig, Some(48)).unwrap();
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let le = |mut v: Vec<u8>| {
            v.reverse();
            v
        };
        let msg = b"a 32-byte AES key for a message!";
        let ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap();
        assert_eq!(le(csp.rsa_decrypt(index, &le(ct.clone()), 2, &Padding::Pkcs1(None)).unwrap()), msg);
        let ct_oaep = key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new_with_label(b"label".to_vec()), msg).unwrap();
        let oaep = Padding::Oaep("SHA256".into(), b"label".to_vec());
        assert_eq!(le(csp.rsa_decrypt(index, &le(ct_oaep), 2, &oaep).unwrap()), msg);
        let raw = le(csp.rsa_decrypt(index, &le(ct), 2, &Padding::None).unwrap());
        assert_eq!(&crypto::pkcs1::decode_encryption_block(&raw, raw.len()).unwrap()[..], msg);
    }
    // No ECC on this card.
    assert_eq!(csp.query_key_sizes(keyspec::AT_ECDSA_P256).unwrap_err().0, code::SCARD_E_UNSUPPORTED_FEATURE);
    assert_eq!(csp.query_key_sizes(keyspec::AT_KEYEXCHANGE).unwrap(), [1024, 2048, 4096, 1024]);
    drop(csp);
    cdylib::no_leaks();
}

/// Items: 76, 77, 78, 82, 84, 123, 126, 127
///
/// The administrator by challenge-response unblocks the PIN; the user PIN alone creates keys
/// (generated and imported) and writes their certificates; a new context lists them.
#[test]
fn items_76_to_78_82_84_123_126_127_admin_unblock_keygen_import_and_certificates() {
    let mut s = stack();
    with_card(&mut s, GidsSim::default_card().unwrap(), |s| {
        let csp = acquire(s);
        for _ in 0..3 {
            let _ = csp.authenticate_pin("user", b"000000");
        }
        assert_eq!(csp.authenticate_pin("user", PIN).unwrap_err().0.0, code::SCARD_W_CHV_BLOCKED);
        let a = csp.get_challenge().unwrap();
        let b = csp.get_challenge().unwrap();
        assert_ne!(a, b, "challenges never repeat");
        let (err, _) = csp.authenticate_challenge(&[0; 8]).unwrap_err();
        assert_eq!(err.0, code::SCARD_W_WRONG_CHV);
        let challenge = csp.get_challenge().unwrap();
        csp.unblock_pin("user", &admin_response(&challenge, &ADMIN_KEY), b"246810", 0, pin::AUTH_CHALLENGE_RESPONSE)
            .unwrap();
        csp.authenticate_pin("user", b"246810").unwrap();
        csp.change_authenticator("user", b"246810", PIN, pin::AUTH_PIN).unwrap();
        // Key generation and a certificate, with the user PIN only.
        assert_eq!(dword(&csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
        csp.create_container(2, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 2048, None).unwrap();
        let (_, blob) = csp.container_info(2).unwrap();
        let n: Vec<u8> = blob[20..].iter().rev().copied().collect();
        let public = card_edges::key::PublicKey::from_rsa_components(&n, &[1, 0, 1]).unwrap();
        let cert = card_sim::issue_certificate("CN=Enrolled through the table", public.spki()).unwrap();
        let mut file = vec![0x01, 0x00];
        file.extend_from_slice(&u16::try_from(cert.len()).unwrap().to_le_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &cert).unwrap();
        file.extend_from_slice(&z.finish().unwrap());
        csp.create_file(Some("mscp"), "kxc02", 0, 1).unwrap();
        csp.write_file(Some("mscp"), "kxc02", &file).unwrap();
        // An imported key (a CAPI PRIVATEKEYBLOB of a test key) in container 3.
        let blob = private_key_blob(test_vectors::keys::RSA_2048_A);
        csp.create_container(3, misc::CREATE_CONTAINER_KEY_IMPORT, keyspec::AT_KEYEXCHANGE, 2048, Some(&blob)).unwrap();
        drop(csp);
        let csp = acquire(s);
        let listing = session::list(&csp).unwrap();
        assert_eq!(listing.containers.len(), 4);
        assert_eq!(listing.containers[2].certificate.as_deref(), Some(&cert[..]));
        let done = session::sign_and_decrypt(&csp, &listing, PIN).unwrap();
        assert_eq!(done.signatures, 3, "the imported key has no certificate yet");
        csp.authenticate_pin("user", PIN).unwrap();
        let hash = Sha256::digest(b"imported").to_vec();
        let mut sig = csp.sign_data(3, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
        sig.reverse();
        let key = crypto::public_key_from_spki(test_vectors::keys::RSA_2048_A_SPKI).unwrap();
        crypto::verify_pkcs1(&key, Some(HashAlg::Sha256), &hash, &sig).unwrap();
        csp.delete_container(3).unwrap();
        assert_eq!(csp.container_info(3).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
        drop(csp);
        // The admin key can be changed by challenge-response, and the old one no longer works.
        let csp = acquire(s);
        let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
        let new_key = [0x42u8; 24];
        csp.change_authenticator_ex(
            pin::CHANGE_FLAG_CHANGEPIN,
            pin::ROLE_ADMIN,
            &admin_response(&challenge, &ADMIN_KEY),
            pin::ROLE_ADMIN,
            &new_key,
        )
        .unwrap();
        let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
        assert!(csp.authenticate_ex(pin::ROLE_ADMIN, 0, &admin_response(&challenge, &ADMIN_KEY)).is_err());
        let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
        csp.authenticate_ex(pin::ROLE_ADMIN, 0, &admin_response(&challenge, &new_key)).unwrap();
        drop(csp);
    });
    cdylib::no_leaks();
}

/// A CAPI `PRIVATEKEYBLOB` (RSA2) of a PKCS#8 RSA key.
fn private_key_blob(pk8: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let k = rsa::RsaPrivateKey::from_pkcs8_der(pk8).unwrap();
    let bits = k.n().bits();
    let le = |v: &[u8], len: usize| {
        let mut x: Vec<u8> = v.iter().rev().copied().collect();
        x.resize(len, 0);
        x
    };
    let (full, half) = (bits as usize / 8, bits as usize / 16);
    let mut out = vec![7, 2, 0, 0];
    out.extend_from_slice(&crypt::CALG_RSA_KEYX.to_le_bytes());
    out.extend_from_slice(b"RSA2");
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&65537u32.to_le_bytes());
    out.extend(le(&k.n().to_be_bytes_trimmed_vartime(), full));
    out.extend(le(&k.primes()[0].to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.primes()[1].to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.dp().unwrap().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.dq().unwrap().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.qinv().unwrap().retrieve().to_be_bytes_trimmed_vartime(), half));
    out.extend(le(&k.d().to_be_bytes_trimmed_vartime(), full));
    out
}

/// Items: 109 to 117, 166
#[test]
fn items_109_to_117_166_properties() {
    let s = stack();
    let csp = acquire(&s);
    assert_eq!(dword(&csp.get_property(prop::CACHE_MODE, 0).unwrap()), 1, "CP_CACHE_MODE_GLOBAL_CACHE");
    assert_eq!(dword(&csp.get_property(prop::READ_ONLY, 0).unwrap()), 0);
    assert_eq!(dword(&csp.get_property(prop::LIST_PINS, 0).unwrap()), 0b110, "user PIN and administrator");
    let info = csp.get_property(prop::PIN_INFO, pin::ROLE_ADMIN).unwrap();
    assert_eq!(dword(&info[4..8]), pin::CHALLENGE_RESPONSE);
    let user = csp.get_property(prop::PIN_INFO, pin::ROLE_USER).unwrap();
    assert_eq!(dword(&user[16..20]), pin::set_of(pin::ROLE_ADMIN), "the administrator unblocks the user PIN");
    assert_eq!(csp.get_property(prop::PIN_INFO, 3).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER, "no PUK");
    assert_eq!(csp.get_property(prop::KEY_IMPORT_SUPPORT, 0).unwrap(), 0u32.to_le_bytes(), "no secure key injection");
    let algorithms = csp.get_property(prop::ENUM_ALGORITHMS, prop::ASYMMETRIC_OPERATION).unwrap();
    assert_eq!(algorithms, "RSA\0\0".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
    assert_eq!(csp.get_property(prop::SERIAL_NO, 0).unwrap(), s.sim().data_object(0xA012, 0xDF20).unwrap());
    for (name, c) in csp.ski_codes() {
        assert_eq!(c.0, code::SCARD_E_UNSUPPORTED_FEATURE, "{name}");
    }
    drop(csp);
    cdylib::no_leaks();
}

fn rsa_key_of(cert: &[u8]) -> rsa::RsaPublicKey {
    crypto::public_key_from_spki(card_edges::key::PublicKey::from_certificate(cert).unwrap().spki()).unwrap()
}
