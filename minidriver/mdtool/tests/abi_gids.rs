//! The minidriver as a Base CSP uses it, on a GIDS card: the built cdylib is loaded with
//! `libloading`, `CARD_DATA` is filled by the CSP stand-in, and every call reaches the simulated
//! GIDS card (`card_sim::stack::shared_gids`, `GidsSim::default_card`) through a real pcscd and
//! vpcd. The items only PC/SC can show for GIDS: the CSP's connection and transaction left
//! alone, a reset by another program, handles swapped on a live context, the cost of a second
//! context. (`abi.rs` does the same for PIV: one pcscd per test process, so one card kind per
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

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use card_edges::crypto::{self, HashAlg};
use card_edges::transport::Transport;
use card_sim::GidsSim;
use card_sim::stack::{self, SharedStack};
use mdtool::csp::{AcquireOptions, Code, Csp, CspCache, Driver, Target, live_allocations};
use minidriver::abi::{code, crypt, keyspec, pin, prop};
use sha2::{Digest, Sha256};

fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!("{}minidriver{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not built next to {}", deps.display()))
}

fn driver() -> &'static Driver {
    static DRIVER: OnceLock<Driver> = OnceLock::new();
    DRIVER.get_or_init(|| Driver::load(&cdylib()).unwrap())
}

fn stack() -> SharedStack<GidsSim> {
    stack::shared_gids().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn acquire_with(s: &SharedStack<GidsSim>, options: &AcquireOptions) -> Result<Csp, Code> {
    Csp::acquire(driver(), Target::Pcsc(s.connect().unwrap()), options)
}

fn acquire(s: &SharedStack<GidsSim>) -> Csp {
    acquire_with(s, &AcquireOptions::default()).unwrap()
}

fn no_leaks() {
    assert_eq!(live_allocations(), 0, "every pfnCspAlloc buffer was freed");
    assert_eq!(mdtool::csp::driver_frees().1, 0, "the driver zeroed every buffer it freed");
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
    no_leaks();
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
    no_leaks();
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
    no_leaks();
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
    no_leaks();
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
    no_leaks();
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
    no_leaks();
}
