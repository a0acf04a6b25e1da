//! The minidriver as a Base CSP uses it: the built cdylib is loaded with `libloading`,
//! `CARD_DATA` is filled by a CSP stand-in (its own allocator with a live-allocation counter,
//! cache callbacks that really cache), and every call reaches a simulated PIV card through a real
//! pcscd and vpcd. Test names carry the spec-checklist items (`shared/reference/spec-checklist.md`)
//! they prove.
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
use card_sim::PivSim;
use card_sim::stack::{self, SharedStack};
use cipher::{Array, BlockCipherEncrypt, KeyInit};
use mdtool::csp::{AcquireOptions, Code, Csp, CspCache, Padding, Target, live_allocations};
use minidriver::abi::{code, crypt, keyspec, pin, prop};
use sha2::{Digest, Sha256, Sha384};
use windows_sys::Win32::Security::Cryptography::CARD_DATA;

fn stack() -> SharedStack {
    stack::shared().unwrap_or_else(|e| panic!("the PC/SC test stack did not start: {e}"))
}

fn acquire_with(s: &SharedStack, options: &AcquireOptions) -> Result<Csp, Code> {
    Csp::acquire(cdylib::driver(), Target::Pcsc(s.connect().unwrap()), options)
}

fn acquire(s: &SharedStack) -> Csp {
    acquire_with(s, &AcquireOptions::default()).unwrap()
}

/// Runs `f` on a card other than the default one, then puts the default card back.
fn with_card(s: &mut SharedStack, sim: PivSim, f: impl FnOnce(&mut SharedStack)) {
    s.insert(sim).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(s)));
    s.insert(PivSim::default_card().unwrap()).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn rsa_key(cert: &[u8]) -> rsa::RsaPublicKey {
    crypto::public_key_from_spki(card_edges::key::PublicKey::from_certificate(cert).unwrap().spki()).unwrap()
}

fn verify_card_rsa(cert: &[u8], hash_alg: Option<HashAlg>, hash: &[u8], le_signature: &[u8]) {
    let mut be = le_signature.to_vec();
    be.reverse();
    crypto::verify_pkcs1(&rsa_key(cert), hash_alg, hash, &be).unwrap();
}

#[test]
fn items_16_to_20_and_28_versions_4_to_7_are_negotiated_and_3_is_refused() {
    let s = stack();
    for (requested, negotiated) in [(4, 4), (5, 5), (6, 6), (7, 7), (8, 7), (1000, 7)] {
        let csp = acquire_with(&s, &AcquireOptions { version: requested, ..AcquireOptions::default() }).unwrap();
        assert_eq!(csp.version(), negotiated);
        assert!(csp.tail_untouched(), "nothing written past version {requested}'s extent");
        let t = csp.raw();
        assert!(t.pfnCardReadFile.is_some() && t.pfnCardSignData.is_some() && t.pfnCardDeleteContext.is_some());
        assert!(t.pvUnused3.is_null() && t.pvUnused4.is_null());
        if negotiated >= 6 {
            assert!(t.pfnCardGetProperty.is_some() && t.pfnCardAuthenticateEx.is_some());
        }
        if negotiated >= 7 {
            assert!(t.pfnCardCreateContainerEx.is_some() && t.pfnMDImportSessionKey.is_some());
        }
        assert_eq!(csp.query_capabilities().unwrap(), (true, true));
    }
    for old in [0, 1, 2, 3] {
        let err = acquire_with(&s, &AcquireOptions { version: old, ..AcquireOptions::default() }).unwrap_err();
        assert_eq!(err.0, code::ERROR_REVISION_MISMATCH, "version {old}");
    }
    cdylib::no_leaks();
}

#[test]
fn items_16_17_23_25_26_hostile_card_data_is_refused() {
    let s = stack();
    type Tamper = Option<fn(&mut CARD_DATA)>;
    let cases: [(u32, Tamper, u32); 8] = [
        (2, None, code::SCARD_E_INVALID_PARAMETER),
        (1, None, code::SCARD_E_UNSUPPORTED_FEATURE),
        (0, Some(|cd| cd.pbAtr = std::ptr::null_mut()), code::SCARD_E_INVALID_PARAMETER),
        (0, Some(|cd| cd.cbAtr = 0), code::SCARD_E_INVALID_PARAMETER),
        (0, Some(|cd| cd.pwszCardName = std::ptr::null_mut()), code::SCARD_E_INVALID_PARAMETER),
        (0, Some(|cd| cd.pfnCspAlloc = None), code::SCARD_E_INVALID_PARAMETER),
        (0, Some(|cd| cd.pfnCspFree = None), code::SCARD_E_INVALID_PARAMETER),
        (0, Some(|cd| cd.hScard = 0), code::SCARD_E_INVALID_HANDLE),
    ];
    for (flags, tamper, expected) in cases {
        let err = acquire_with(&s, &AcquireOptions { flags, tamper, ..AcquireOptions::default() }).unwrap_err();
        assert_eq!(err.0, expected, "flags {flags:#x}");
    }
    cdylib::no_leaks();
}

#[test]
fn item_24_a_card_without_piv_is_unknown() {
    let mut s = stack();
    // A card whose every SELECT fails: a valid ATR handed to the wrong minidriver.
    let not_piv = PivSim::builder(b"no-piv").build().unwrap();
    not_piv.set_object(0, &[]);
    s.insert(not_piv).unwrap();
    s.slot().with_card(|_| ());
    s.slot().insert(card_edges::transport::memory::ScriptedCard::new(&s.sim().atr(), &[]));
    s.reset_card().unwrap();
    let err = acquire_with(&s, &AcquireOptions::default()).unwrap_err();
    assert_eq!(err.0, code::SCARD_E_UNKNOWN_CARD);
    s.insert(PivSim::default_card().unwrap()).unwrap();
    cdylib::no_leaks();
}

#[test]
fn items_87_92_101_the_logical_files_of_the_card() {
    let s = stack();
    let csp = acquire(&s);
    let cardid = csp.read_file(None, "cardid").unwrap();
    assert_eq!(cardid, s.sim().guid().unwrap(), "cardid is the CHUID GUID");
    assert_eq!(csp.read_file(None, "cardcf").unwrap().len(), 6);
    assert_eq!(csp.read_file(None, "cardapps").unwrap(), b"mscp\0\0\0\0");
    assert_eq!(csp.read_file(None, "CARDAPPS").unwrap(), b"mscp\0\0\0\0", "names are case-insensitive");
    let cmap = vfs::cmapfile::ContainerMap::decode(&csp.read_file(Some("mscp"), "cmapfile").unwrap()).unwrap();
    let valid: Vec<_> = cmap.valid().collect();
    assert_eq!(valid.len(), 4);
    assert_eq!(cmap.default_index(), Some(0));
    let guid = s.sim().guid().unwrap();
    let expected_name = card_edges::piv::container_name(&guid, 0x5FC105);
    assert_eq!(valid[0].1.name(), expected_name);
    assert_eq!(valid[0].1.key_exchange_key_size_bits(), 2048, "RSA 9A: key exchange");
    assert_eq!(valid[1].1.sig_key_size_bits(), 256, "P-256 9C: ECDSA");
    for (file, slot) in [("kxc00", 0x9A), ("ksc01", 0x9C), ("kxc02", 0x9D), ("ksc03", 0x9E)] {
        assert_eq!(csp.read_file(Some("mscp"), file).unwrap(), s.sim().certificate(slot).unwrap(), "{file}");
    }
    let mut root = csp.enum_files(None).unwrap();
    root.sort();
    assert_eq!(root, ["cardapps", "cardcf", "cardid"]);
    assert_eq!(csp.enum_files(Some("mscp")).unwrap(), ["cmapfile", "kxc00", "ksc01", "kxc02", "ksc03"]);
    assert_eq!(csp.file_info(None, "cardid").unwrap(), (16, 3), "EveryoneReadAdminWriteAc");
    assert_eq!(csp.file_info(Some("mscp"), "kxc00").unwrap().1, 1, "EveryoneReadUserWriteAc");
    // Errors: the spec's codes, never a catch-all.
    assert_eq!(csp.read_file(Some("mscp"), "msroots").unwrap_err().0, code::SCARD_E_FILE_NOT_FOUND);
    assert_eq!(csp.read_file(Some("nodir"), "x").unwrap_err().0, code::SCARD_E_DIR_NOT_FOUND);
    assert_eq!(csp.read_file(None, "toolongname").unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(csp.read_file(None, "bad*name").unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(csp.enum_files(Some("nodir")).unwrap_err().0, code::SCARD_E_DIR_NOT_FOUND);
    let (bytes, available, max) = csp.query_free_space().unwrap();
    assert_eq!((bytes, available, max), (u32::MAX, 20, 24));
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn items_130_to_132_container_info_matches_the_certificates() {
    let s = stack();
    let csp = acquire(&s);
    let (sig, kx) = csp.container_info(0).unwrap();
    assert!(sig.is_empty());
    let key = rsa_key(&s.sim().certificate(0x9A).unwrap());
    let mut n = rsa::traits::PublicKeyParts::n(&key).to_be_bytes().to_vec();
    n.reverse();
    n.truncate(256);
    assert_eq!(&kx[..8], &[6, 2, 0, 0, 0x00, 0xA4, 0, 0], "PUBLICKEYBLOB, CALG_RSA_KEYX");
    assert_eq!(&kx[20..], &n[..], "little-endian modulus");
    let (sig, kx) = csp.container_info(1).unwrap();
    assert!(kx.is_empty());
    let spki = card_edges::key::PublicKey::from_certificate(&s.sim().certificate(0x9C).unwrap()).unwrap();
    assert_eq!(&sig[..8], &[0x45, 0x43, 0x53, 0x31, 32, 0, 0, 0], "BCRYPT_ECDSA_PUBLIC_P256_MAGIC");
    assert_eq!(&sig[8..], &spki.ec_point().unwrap()[1..]);
    assert_eq!(csp.container_info(7).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(csp.container_info(200).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
    assert_eq!(csp.get_container_property(0, prop::CONTAINER_INFO).unwrap(), csp.container_info(0).unwrap().1);
    assert_eq!(csp.get_container_property(0, prop::PIN_IDENTIFIER).unwrap(), 1u32.to_le_bytes());
    assert_eq!(csp.get_container_property(1, prop::PIN_IDENTIFIER).unwrap(), 3u32.to_le_bytes());
    assert_eq!(csp.get_container_property(3, prop::PIN_IDENTIFIER).unwrap(), 0u32.to_le_bytes());
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn items_62_64_69_wrong_pin_then_right_pin() {
    let s = stack();
    let csp = acquire(&s);
    let (err, tries) = csp.authenticate_pin("user", b"999999").unwrap_err();
    assert_eq!((err.0, tries), (code::SCARD_W_WRONG_CHV, 2));
    let (err, tries) = csp.authenticate_pin("user", b"12").unwrap_err();
    assert_eq!((err.0, tries), (code::SCARD_W_WRONG_CHV, 2), "a malformed PIN is not sent and spends no try");
    assert_eq!(csp.authenticate_pin("anonymous", b"123456").unwrap_err().0.0, code::SCARD_E_INVALID_PARAMETER);
    csp.authenticate_pin("user", b"123456").unwrap();
    assert_eq!(s.sim().pin_tries_left(), 3);
    assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0x0Au32.to_le_bytes());
    csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)).unwrap();
    assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0u32.to_le_bytes());
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn items_138_to_142_signatures_with_every_padding_and_hash() {
    let s = stack();
    let csp = acquire(&s);
    csp.authenticate_pin("user", b"123456").unwrap();
    let cert = s.sim().certificate(0x9A).unwrap();
    let h256 = Sha256::digest(b"to be signed").to_vec();
    // Without padding info: aiHashAlg selects the DigestInfo.
    for (alg, hash_alg, len) in [
        (crypt::CALG_MD5, Some(HashAlg::Md5), 16),
        (crypt::CALG_SHA1, Some(HashAlg::Sha1), 20),
        (crypt::CALG_SHA_256, Some(HashAlg::Sha256), 32),
        (crypt::CALG_SHA_384, Some(HashAlg::Sha384), 48),
        (crypt::CALG_SHA_512, Some(HashAlg::Sha512), 64),
        (crypt::CALG_SSL3_SHAMD5, Some(HashAlg::Md5Sha1), 36),
        (0, None, 32),
    ] {
        let hash = vec![0x5A; len];
        let sig = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, alg, 0, &hash, None).unwrap();
        verify_card_rsa(&cert, hash_alg, &hash, &sig);
    }
    let sig = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, crypt::NOHASHOID, &h256, None).unwrap();
    verify_card_rsa(&cert, None, &h256, &sig);
    // With padding info.
    let sig =
        csp.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &h256, Some(&Padding::Pkcs1(Some("SHA256".into())))).unwrap();
    verify_card_rsa(&cert, Some(HashAlg::Sha256), &h256, &sig);
    let sig = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &h256, Some(&Padding::Pkcs1(None))).unwrap();
    verify_card_rsa(&cert, None, &h256, &sig);
    for (name, alg, hash) in
        [("SHA256", HashAlg::Sha256, h256.clone()), ("SHA384", HashAlg::Sha384, Sha384::digest(b"x").to_vec())]
    {
        let mut sig =
            csp.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &hash, Some(&Padding::Pss(name.into(), 32))).unwrap();
        sig.reverse();
        crypto::verify_pss(&rsa_key(&cert), alg, &hash, &sig, Some(32)).unwrap();
    }
    let block = crypto::pkcs1::encode_sign(Some(HashAlg::Sha256), &h256, 256).unwrap();
    let sig = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, 0, 0, &block, Some(&Padding::None)).unwrap();
    verify_card_rsa(&cert, Some(HashAlg::Sha256), &h256, &sig);
    // Size only: no card I/O.
    let before = s.sim().counters();
    assert_eq!(
        csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, crypt::BUFFER_SIZE_ONLY, &h256, None)
            .unwrap()
            .len(),
        256
    );
    assert_eq!(csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, crypt::BUFFER_SIZE_ONLY, &h256, None).unwrap().len(), 64);
    assert_eq!(s.sim().counters().since(before).apdus, 0);
    // ECDSA: 9E needs no PIN; 9C needs the sign PIN right before each use.
    let verify_p256 = |slot: u8, rs: &[u8], hash: &[u8]| {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let spki =
            card_edges::key::PublicKey::from_certificate(&s.sim().certificate(slot).unwrap()).unwrap().spki().to_vec();
        let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
        vk.verify_prehash(hash, &p256::ecdsa::Signature::from_slice(rs).unwrap()).unwrap();
    };
    let rs = csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &h256, None).unwrap();
    verify_p256(0x9E, &rs, &h256);
    let short = [0x77u8; 20];
    let rs = csp.sign_data(3, keyspec::AT_ECDSA_P256, 0, 0, &short, None).unwrap();
    let mut padded = vec![0u8; 12];
    padded.extend_from_slice(&short);
    verify_p256(0x9E, &rs, &padded);
    assert_eq!(
        csp.sign_data(1, keyspec::AT_ECDSA_P256, 0, 0, &h256, None).unwrap_err().0,
        code::SCARD_W_SECURITY_VIOLATION
    );
    csp.authenticate_ex(3, 0, b"123456").unwrap();
    let rs = csp.sign_data(1, keyspec::AT_ECDSA_P256, 0, 0, &h256, None).unwrap();
    verify_p256(0x9C, &rs, &h256);
    // Bad arguments.
    assert_eq!(
        csp.sign_data(9, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &h256, None).unwrap_err().0,
        code::SCARD_E_NO_KEY_CONTAINER
    );
    assert_eq!(
        csp.sign_data(0, 99, crypt::CALG_SHA_256, 0, &h256, None).unwrap_err().0,
        code::SCARD_E_INVALID_PARAMETER
    );
    assert_eq!(
        csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0x100, &h256, None).unwrap_err().0,
        code::SCARD_E_INVALID_PARAMETER
    );
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn items_143_to_147_rsa_decryption_round_trips() {
    let s = stack();
    let csp = acquire(&s);
    csp.authenticate_pin("user", b"123456").unwrap();
    let key = rsa_key(&s.sim().certificate(0x9D).unwrap());
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let msg = b"a 32-byte AES key for a message!";
    let le = |mut v: Vec<u8>| {
        v.reverse();
        v
    };
    let ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap();
    assert_eq!(le(csp.rsa_decrypt(2, &le(ct.clone()), 2, &Padding::Pkcs1(None)).unwrap()), msg);
    let ct_oaep = key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new_with_label(b"label".to_vec()), msg).unwrap();
    assert_eq!(
        le(csp.rsa_decrypt(2, &le(ct_oaep), 2, &Padding::Oaep("SHA256".into(), b"label".to_vec())).unwrap()),
        msg
    );
    let raw = le(csp.rsa_decrypt(2, &le(ct.clone()), 2, &Padding::None).unwrap());
    assert_eq!(raw.len(), 256);
    assert_eq!(&crypto::pkcs1::decode_encryption_block(&raw, 256).unwrap()[..], msg);
    // Version 1 with a version-7 CARD_DATA is a revision mismatch (item 144).
    assert_eq!(csp.rsa_decrypt(2, &le(ct.clone()), 1, &Padding::None).unwrap_err().0, code::ERROR_REVISION_MISMATCH);
    assert_eq!(csp.rsa_decrypt(2, &ct[..100], 2, &Padding::None).unwrap_err().0, code::SCARD_E_INSUFFICIENT_BUFFER);
    assert_eq!(
        csp.rsa_decrypt(1, &le(ct), 2, &Padding::None).unwrap_err().0,
        code::SCARD_E_INVALID_PARAMETER,
        "EC key"
    );
    // A version-6 context takes version-1 requests.
    drop(csp);
    let csp6 = acquire_with(&s, &AcquireOptions { version: 6, ..AcquireOptions::default() }).unwrap();
    csp6.authenticate_pin("user", b"123456").unwrap();
    let ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap();
    assert_eq!(csp6.rsa_decrypt(2, &le(ct), 1, &Padding::None).unwrap().len(), 256);
    drop(csp6);
    cdylib::no_leaks();
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac};
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

#[test]
fn items_150_to_152_ecdh_with_every_kdf_matches_software() {
    let mut s = stack();
    let sim = PivSim::builder(b"ecdh-card").generate(0x9D, card_sim::KeyAlgorithm::EccP256).build().unwrap();
    with_card(&mut s, sim, |s| {
        let csp = acquire(s);
        csp.authenticate_pin("user", b"123456").unwrap();
        let ours = p256::SecretKey::from_slice(&[0x21; 32]).unwrap();
        let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
        let mut blob = 0x314B_4345u32.to_le_bytes().to_vec();
        blob.extend_from_slice(&32u32.to_le_bytes());
        blob.extend_from_slice(&point.as_bytes()[1..]);
        let card_pub = card_edges::key::PublicKey::from_certificate(&s.sim().certificate(0x9D).unwrap()).unwrap();
        let theirs = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(card_pub.spki()).unwrap();
        let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), theirs.as_affine()).raw_secret_bytes().to_vec();
        assert_eq!(
            csp.get_container_property(2, prop::ASSOCIATED_ECDH_KEY).unwrap_err().0,
            code::SCARD_E_UNSUPPORTED_FEATURE
        );
        let agreement = csp.construct_dh_agreement(2, &blob).unwrap();
        let sha256 = |parts: &[&[u8]]| parts.iter().fold(Sha256::new(), |h, p| h.chain_update(p)).finalize().to_vec();
        let hash_name: Vec<u8> = "SHA256".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        // HASH with prepend and append.
        let params = vec![(0, hash_name.clone()), (1, b"pre".to_vec()), (2, b"post".to_vec())];
        assert_eq!(csp.derive_key(agreement, "HASH", &params, 0, 32).unwrap(), sha256(&[b"pre", &z, b"post"]));
        // HMAC with a key, and with the secret as the key.
        let params = vec![(0, hash_name.clone()), (3, b"hmac key".to_vec())];
        assert_eq!(csp.derive_key(agreement, "HMAC", &params, 0, 32).unwrap(), hmac_sha256(b"hmac key", &[&z]));
        let params = vec![(0, hash_name.clone())];
        assert_eq!(
            csp.derive_key(agreement, "HMAC", &params, crypt::KDF_USE_SECRET_AS_HMAC_KEY, 32).unwrap(),
            hmac_sha256(&z, &[&z])
        );
        // TLS 1.2 PRF (P_SHA256), 48 bytes.
        let seed = [0x33u8; 64];
        let params = vec![(4, b"master secret".to_vec()), (5, seed.to_vec()), (7, 0x0303u32.to_le_bytes().to_vec())];
        let mut a = hmac_sha256(&z, &[b"master secret", &seed]);
        let mut expected = Vec::new();
        while expected.len() < 48 {
            expected.extend(hmac_sha256(&z, &[&a, b"master secret", &seed]));
            a = hmac_sha256(&z, &[&a]);
        }
        expected.truncate(48);
        assert_eq!(csp.derive_key(agreement, "TLS_PRF", &params, 0, 48).unwrap(), expected);
        // SP 800-56A concatenation KDF, 40 bytes (two blocks).
        let params = vec![(0, hash_name), (8, b"alg".to_vec()), (9, b"U".to_vec()), (10, b"V".to_vec())];
        let mut expected = sha256(&[&1u32.to_be_bytes(), &z, b"alg", b"U", b"V"]);
        expected.extend(sha256(&[&2u32.to_be_bytes(), &z, b"alg", b"U", b"V"]));
        expected.truncate(40);
        assert_eq!(csp.derive_key(agreement, "SP800_56A_CONCAT", &params, 0, 40).unwrap(), expected);
        // The raw secret, little-endian, as the smart card KSP asks for it.
        let mut le = z;
        le.reverse();
        assert_eq!(csp.derive_key(agreement, "TRUNCATE", &[], 0, 32).unwrap(), le);
        assert_eq!(csp.derive_key(agreement, "NOPE", &[], 0, 32).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
        csp.destroy_dh_agreement(agreement).unwrap();
        assert_eq!(csp.destroy_dh_agreement(agreement).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
        assert_eq!(csp.derive_key(agreement, "HASH", &[], 0, 32).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
        let mut bad = blob.clone();
        bad[0] ^= 1;
        assert_eq!(csp.construct_dh_agreement(2, &bad).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
        drop(csp);
    });
    cdylib::no_leaks();
}

#[test]
fn items_109_to_117_every_property() {
    let s = stack();
    let csp = acquire(&s);
    let dword = |v: Vec<u8>| u32::from_le_bytes(v.try_into().unwrap());
    assert_eq!(csp.get_property(prop::FREE_SPACE, 0).unwrap().len(), 16);
    assert_eq!(csp.get_property(prop::CAPABILITIES, 0).unwrap(), [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    let sizes = csp.get_property(prop::KEY_SIZES, keyspec::AT_KEYEXCHANGE).unwrap();
    assert_eq!(sizes.len(), 20);
    assert_eq!(csp.query_key_sizes(keyspec::AT_KEYEXCHANGE).unwrap()[1], 2048);
    assert_eq!(csp.query_key_sizes(keyspec::AT_ECDSA_P256).unwrap(), [256, 256, 256, 1]);
    assert_eq!(csp.query_key_sizes(keyspec::AT_ECDSA_P521).unwrap_err().0, code::SCARD_E_UNSUPPORTED_FEATURE);
    assert_eq!(csp.query_key_sizes(0).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(dword(csp.get_property(prop::READ_ONLY, 0).unwrap()), 0);
    assert_eq!(dword(csp.get_property(prop::CACHE_MODE, 0).unwrap()), prop::CACHE_MODE_SESSION_ONLY);
    // The factory-default management key: the user PIN suffices to enrol.
    assert_eq!(dword(csp.get_property(prop::X509_ENROLLMENT, 0).unwrap()), 1);
    assert_eq!(csp.get_property(prop::CARD_GUID, 0).unwrap(), csp.read_file(None, "cardid").unwrap(), "item 107");
    assert_eq!(csp.get_property(prop::SERIAL_NO, 0).unwrap().len(), 25, "the FASC-N");
    for id in 0..=4 {
        let info = csp.get_property(prop::PIN_INFO, id).unwrap();
        assert_eq!(info.len(), 36);
        assert_eq!(&info[..4], &6u32.to_le_bytes());
    }
    let user = csp.get_property(prop::PIN_INFO, 1).unwrap();
    assert_eq!(dword(user[12..16].to_vec()), 0x02, "ROLE_USER changes itself");
    assert_eq!(dword(user[16..20].to_vec()), 0x10, "the PUK (PIN 4) unblocks it");
    assert_eq!(csp.get_property(prop::PIN_INFO, 5).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(dword(csp.get_property(prop::LIST_PINS, 0).unwrap()), 0x1E);
    assert_eq!(dword(csp.get_property(prop::PIN_STRENGTH_VERIFY, 1).unwrap()), 3);
    assert_eq!(dword(csp.get_property(prop::KEY_IMPORT_SUPPORT, 0).unwrap()), 0);
    let algs = csp.get_property(prop::ENUM_ALGORITHMS, prop::ASYMMETRIC_OPERATION).unwrap();
    assert!(
        String::from_utf16_lossy(&algs.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>())
            .contains("ECDSA_P256")
    );
    assert_eq!(dword(csp.get_property(prop::PADDING_SCHEMES, prop::ASYMMETRIC_OPERATION).unwrap()), 15);
    assert_eq!(csp.get_property(prop::CHAINING_MODES, 0).unwrap(), [0, 0]);
    // Buffer rules (item 111): the needed size is always reported.
    let (c, needed, _) = csp.get_property_sized(prop::CARD_GUID, 0, 8);
    assert_eq!((c.0, needed), (code::ERROR_INSUFFICIENT_BUFFER, 16));
    assert_eq!(csp.get_property(prop::CACHE_MODE, 1).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    assert_eq!(csp.get_property("No Such Property", 0).unwrap_err().0, code::SCARD_E_INVALID_PARAMETER);
    // Setting: everyone's, admin's and read-only ones.
    csp.set_property(prop::PARENT_WINDOW, Some(&0x1234usize.to_le_bytes()), 0).unwrap();
    assert_eq!(csp.get_property(prop::PARENT_WINDOW, 0).unwrap(), 0x1234usize.to_le_bytes());
    assert_eq!(
        csp.set_property(prop::PARENT_WINDOW, Some(&[1, 2, 3, 4]), 0).unwrap_err().0,
        code::SCARD_E_INVALID_PARAMETER
    );
    let text: Vec<u8> = "Sign the contract".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
    csp.set_property(prop::PIN_CONTEXT_STRING, Some(&text), 0).unwrap();
    assert_eq!(csp.get_property(prop::PIN_CONTEXT_STRING, 0).unwrap(), text);
    assert_eq!(
        csp.set_property(prop::CACHE_MODE, Some(&3u32.to_le_bytes()), 0).unwrap_err().0,
        code::SCARD_W_SECURITY_VIOLATION
    );
    assert_eq!(csp.set_property(prop::FREE_SPACE, Some(&[0; 16]), 0).unwrap_err().0, code::SCARD_E_UNSUPPORTED_FEATURE);
    drop(csp);
    cdylib::no_leaks();
}

fn admin_login(csp: &Csp) {
    let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap();
    assert_eq!(challenge.len(), 8);
    let tdes = des::TdesEde3::new_from_slice(&card_edges::piv::DEFAULT_MANAGEMENT_KEY).unwrap();
    let mut block = Array::try_from(challenge.as_slice()).unwrap();
    tdes.encrypt_block(&mut block);
    csp.authenticate_ex(pin::ROLE_ADMIN, 0, &block).unwrap();
}

#[test]
fn items_76_78_123_127_admin_challenge_keygen_and_certificate_write() {
    let mut s = stack();
    with_card(&mut s, PivSim::default_card().unwrap(), |s| {
        let csp = acquire(s);
        // Challenges never repeat (item 76).
        let a = csp.get_challenge().unwrap();
        let b = csp.get_challenge().unwrap();
        assert_ne!(a, b);
        let (err, tries) = csp.authenticate_challenge(&[0; 8]).unwrap_err();
        assert_eq!((err.0, tries), (code::SCARD_W_WRONG_CHV, u32::MAX), "tries unknown for 9B");
        assert_eq!(
            csp.authenticate_challenge(&[0; 8]).unwrap_err().0.0,
            code::SCARD_E_INVALID_PARAMETER,
            "no challenge pending"
        );
        // Keygen needs the management key.
        assert_eq!(
            csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap_err().0,
            code::SCARD_W_SECURITY_VIOLATION
        );
        admin_login(&csp);
        assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0x04u32.to_le_bytes());
        csp.create_container(4, 1, keyspec::AT_ECDHE_P256, 0, None).unwrap();
        let (_, kx) = csp.container_info(4).unwrap();
        assert_eq!(&kx[..4], &0x314B_4345u32.to_le_bytes(), "an ECDH P-256 key in retired slot 82");
        assert_eq!(s.sim().public_key(0x82).map(|k| k.len()), Some(91));
        let cert = s.sim().issue_certificate(0x82).unwrap();
        csp.create_file(Some("mscp"), "kxc04", 0, 1).unwrap();
        csp.write_file(Some("mscp"), "kxc04", &cert).unwrap();
        assert_eq!(s.sim().certificate(0x82).unwrap(), cert);
        assert_eq!(csp.read_file(Some("mscp"), "kxc04").unwrap(), cert);
        // Imports are not a PIV feature (item 123); P-521 neither (item 124).
        assert_eq!(
            csp.create_container(5, 2, keyspec::AT_KEYEXCHANGE, 2048, Some(&[7, 2, 0, 0])).unwrap_err().0,
            code::SCARD_E_UNSUPPORTED_FEATURE
        );
        assert_eq!(
            csp.create_container(5, 1, keyspec::AT_ECDSA_P521, 0, None).unwrap_err().0,
            code::SCARD_E_UNSUPPORTED_FEATURE
        );
        assert_eq!(
            csp.create_container(5, 3, keyspec::AT_KEYEXCHANGE, 2048, None).unwrap_err().0,
            code::SCARD_E_INVALID_PARAMETER
        );
        assert_eq!(
            csp.create_container_ex(5, 1, keyspec::AT_ECDHE_P256, 0, pin::ROLE_ADMIN).unwrap_err().0,
            code::SCARD_E_INVALID_PARAMETER
        );
        // Deleting the container removes its certificate; an empty index succeeds (item 129).
        csp.delete_container(4).unwrap();
        assert_eq!(csp.container_info(4).unwrap_err().0, code::SCARD_E_NO_KEY_CONTAINER);
        csp.delete_container(17).unwrap();
        // The admin stays authenticated until a reset (item 81: the CSP must reset the card).
        assert_eq!(csp.deauthenticate_ex(0xFF).unwrap_err().0, code::SCARD_E_UNSUPPORTED_FEATURE);
        drop(csp);
    });
    cdylib::no_leaks();
}

#[test]
fn items_70_71_session_pins() {
    let s = stack();
    let csp = acquire(&s);
    let token = csp.authenticate_ex(pin::ROLE_USER, pin::GENERATE_SESSION_PIN, b"123456").unwrap().unwrap();
    assert!(!token.windows(6).any(|w| w == b"123456"));
    assert!(!s.sim().pin_verified(), "generating a session PIN does not unlock the card");
    csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &token).unwrap();
    assert!(s.sim().pin_verified());
    let mut forged = token;
    forged[20] ^= 1;
    let (err, _) = csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &forged).unwrap_err();
    assert_eq!(err.0, code::SCARD_W_WRONG_CHV);
    assert_eq!(s.sim().pin_tries_left(), 3, "a bad session PIN spends no try of the real PIN");
    assert_eq!(
        csp.authenticate_ex(pin::ROLE_USER, 0x0800_0000, b"123456").unwrap_err().0.0,
        code::SCARD_E_INVALID_PARAMETER
    );
    assert_eq!(csp.authenticate_ex(4, 0, b"12345678").unwrap_err().0.0, code::SCARD_E_UNSUPPORTED_FEATURE, "item 68");
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn items_64_82_84_block_unblock_and_change() {
    let mut s = stack();
    with_card(&mut s, PivSim::default_card().unwrap(), |s| {
        let csp = acquire(s);
        for left in [2, 1, 0] {
            let (err, tries) = csp.authenticate_pin("user", b"000000").unwrap_err();
            assert_eq!((err.0, tries), (code::SCARD_W_WRONG_CHV, left));
        }
        let (err, tries) = csp.authenticate_pin("user", b"123456").unwrap_err();
        assert_eq!((err.0, tries), (code::SCARD_W_CHV_BLOCKED, 0));
        assert_eq!(
            csp.unblock_pin("user", b"12345678", b"654321", 0, pin::AUTH_CHALLENGE_RESPONSE).unwrap_err().0,
            code::SCARD_E_UNSUPPORTED_FEATURE
        );
        assert_eq!(
            csp.unblock_pin("user", b"12345678", b"654321", 5, pin::AUTH_PIN).unwrap_err().0,
            code::SCARD_E_INVALID_PARAMETER
        );
        csp.unblock_pin("user", b"12345678", b"654321", 0, pin::AUTH_PIN).unwrap();
        csp.authenticate_pin("user", b"654321").unwrap();
        csp.change_authenticator("user", b"654321", b"123456", pin::AUTH_PIN).unwrap();
        csp.change_authenticator_ex(pin::CHANGE_FLAG_CHANGEPIN, 1, b"123456", 1, b"1234567").unwrap();
        csp.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, 4, b"12345678", 1, b"123456").unwrap();
        let (err, _) = csp.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, 1, b"123456", 1, b"123456").unwrap_err();
        assert_eq!(err.0, code::SCARD_E_INVALID_PARAMETER, "a PIN cannot unblock itself");
        csp.authenticate_pin("user", b"123456").unwrap();
        drop(csp);
    });
    cdylib::no_leaks();
}

#[test]
fn items_45_48_reset_drops_authentication_and_the_csp_recovers() {
    let s = stack();
    let mut csp = acquire(&s);
    csp.authenticate_pin("user", b"123456").unwrap();
    let hash = Sha256::digest(b"before").to_vec();
    csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    // Between two of the CSP's transactions, another program resets the card.
    use card_edges::transport::Transport;
    csp.pcsc().unwrap().end_transaction().unwrap();
    s.reset_card().unwrap();
    let err = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap_err();
    assert_eq!(err.0, code::SCARD_W_RESET_CARD);
    csp.reconnect(false).unwrap();
    assert_eq!(csp.get_property(prop::AUTHENTICATED_STATE, 0).unwrap(), 0u32.to_le_bytes());
    let err = csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap_err();
    assert_eq!(err.0, code::SCARD_W_SECURITY_VIOLATION, "the PIN is gone with the reset");
    csp.authenticate_pin("user", b"123456").unwrap();
    csp.sign_data(0, keyspec::AT_KEYEXCHANGE, crypt::CALG_SHA_256, 0, &hash, None).unwrap();
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn item_46_the_csp_swaps_handles_on_a_live_context() {
    let s = stack();
    let mut csp = acquire(&s);
    let before = csp.read_file(None, "cardid").unwrap();
    // A new connection (after the old one's transaction ends: connecting while holding a
    // transaction on the reader would deadlock pcscd), with its own transaction, as a CSP that
    // moved the card to another handle.
    use card_edges::transport::Transport;
    csp.pcsc().unwrap().end_transaction().unwrap();
    let mut other = s.connect().unwrap();
    other.begin_transaction().unwrap();
    let (ctx, card) = other.raw_handles();
    csp.card_data_mut().set_handles(ctx, card);
    assert_eq!(csp.read_file(None, "cardid").unwrap(), before);
    assert_eq!(csp.read_file(Some("mscp"), "kxc00").unwrap(), s.sim().certificate(0x9A).unwrap());
    drop(csp);
    other.end_transaction().unwrap();
    drop(other);
    cdylib::no_leaks();
}

#[test]
fn items_155_158_160_a_second_context_costs_two_apdus_and_never_sees_stale_data() {
    let s = stack();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    let first = acquire_with(&s, &options).unwrap();
    first.read_file(None, "cardcf").unwrap();
    first.read_file(Some("mscp"), "cmapfile").unwrap();
    drop(first);
    assert!(cache.lock().unwrap().adds >= 1, "the contents went to the CSP cache");
    let before = s.sim().counters();
    let second = acquire_with(&s, &options).unwrap();
    let cardcf = second.read_file(None, "cardcf").unwrap();
    let cmap = second.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_eq!(second.read_file(Some("mscp"), "kxc00").unwrap(), s.sim().certificate(0x9A).unwrap());
    let used = s.sim().counters().since(before);
    assert!(used.apdus <= 2, "second context: {used:?}");
    println!("second context on an unchanged card: {} APDUs, {} bytes", used.apdus, used.bytes());
    drop(second);
    // The card changes behind the CSP's back (a new CHUID): nothing stale is served.
    let default_chuid = s.sim().chuid().unwrap();
    s.sim().set_guid([0x77; 16]).unwrap();
    let third = acquire_with(&s, &options).unwrap();
    assert_ne!(third.read_file(None, "cardcf").unwrap(), cardcf);
    let new_cmap = third.read_file(Some("mscp"), "cmapfile").unwrap();
    assert_ne!(new_cmap, cmap);
    assert!(vfs::cmapfile::ContainerMap::decode(&new_cmap).unwrap().records()[0].name().starts_with("77777777-7777"));
    drop(third);
    s.sim().set_object(0x5FC102, &default_chuid);
    cdylib::no_leaks();
}

#[test]
fn item_166_secure_key_injection_is_unsupported_consistently() {
    let s = stack();
    let csp = acquire(&s);
    let codes = csp.ski_codes();
    assert_eq!(codes.len(), 9);
    for (name, c) in codes {
        assert_eq!(c.0, code::SCARD_E_UNSUPPORTED_FEATURE, "{name}");
    }
    assert_eq!(csp.get_property(prop::KEY_IMPORT_SUPPORT, 0).unwrap(), 0u32.to_le_bytes());
    drop(csp);
    cdylib::no_leaks();
}

#[test]
fn item_33_delete_context_frees_everything() {
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

/// Items: 155, 158, 159, 160
///
/// Two whole Base CSP sessions in one process with one cache, as Windows runs them (acquire;
/// cardcf, cardid, cardapps, the mscp listing, cmapfile, every container's key, PIN and
/// certificate; the PIN, a signature with every key, a decryption with every key-exchange RSA
/// key, each checked; deauthenticate; delete the context), on a card with extended APDUs and on
/// one with short APDUs only. The second session's non-cryptographic part costs at most
/// 2 APDUs: the certificates read before any PIN outlive the first session's deauthentication.
#[test]
fn items_155_158_159_160_a_second_full_session_costs_two_apdus_before_its_crypto() {
    use mdtool::csp::session;
    let mut s = stack();
    for extended in [true, false] {
        let sim = PivSim::default_card().unwrap();
        sim.set_extended_length(extended);
        with_card(&mut s, sim, |s| {
            let cache = Arc::new(Mutex::new(CspCache::default()));
            let options = AcquireOptions { cache: Some(cache), ..AcquireOptions::default() };
            let mut costs = Vec::new();
            for _ in 0..2 {
                let before = s.sim().counters();
                let csp = acquire_with(s, &options).unwrap();
                let listing = session::list(&csp).unwrap();
                let listed = s.sim().counters().since(before);
                assert_eq!(listing.containers.len(), 4);
                let done = session::sign_and_decrypt(&csp, &listing, b"123456").unwrap();
                assert_eq!((done.signatures, done.decryptions), (4, 2));
                drop(csp);
                costs.push((listed, s.sim().counters().since(before)));
            }
            let shape = if extended { "extended" } else { "short" };
            assert!(costs[1].0.apdus <= 2, "{shape}: second context before its crypto: {:?}", costs[1].0);
            println!(
                "PIV ({shape} APDUs) full session: first {} APDUs ({} to list), second {} APDUs ({} to list)",
                costs[0].1.apdus, costs[0].0.apdus, costs[1].1.apdus, costs[1].0.apdus
            );
        });
    }
    cdylib::no_leaks();
}

/// Item: 56 (PIN-always)
///
/// The 9C key needs its PIN right before each use, and the simulated card forgets the PIN on
/// any command in between. In every order a CSP may call (contents read before, served from the
/// CSP's cache, or forgotten after a reset), `CardAuthenticateEx(3)` then `CardSignData` sends
/// nothing between the VERIFY and the GENERAL AUTHENTICATE.
#[test]
fn item_56_nothing_between_the_pin_always_verify_and_the_signature() {
    let s = stack();
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let options = AcquireOptions { cache: Some(cache), ..AcquireOptions::default() };
    let hash = Sha256::digest(b"signed with 9C").to_vec();
    let sign_9c = |csp: &Csp| {
        s.sim().set_trace(true);
        s.sim().take_trace();
        csp.authenticate_ex(3, 0, b"123456").unwrap();
        let sig = csp.sign_data(1, keyspec::AT_ECDSA_P256, 0, 0, &hash, None).unwrap();
        let trace = s.sim().take_trace();
        s.sim().set_trace(false);
        let verify = trace.iter().rposition(|t| t.command.starts_with("00200080")).unwrap();
        assert!(trace[verify + 1].command.starts_with("0087119C"), "VERIFY then GENERAL AUTHENTICATE: {trace:#?}");
        let key = card_edges::key::PublicKey::from_certificate(&s.sim().certificate(0x9C).unwrap()).unwrap();
        crypto::check::ecdsa_signature(&key, &hash, &sig).unwrap();
    };
    // A context that read nothing yet: the contents come from the card before the VERIFY.
    let cold = acquire_with(&s, &options).unwrap();
    sign_9c(&cold);
    cold.read_file(Some("mscp"), "cmapfile").unwrap();
    drop(cold);
    // The next context: the contents come from the CSP's cache.
    let warm = acquire_with(&s, &options).unwrap();
    sign_9c(&warm);
    // After a reset the context forgot everything; the CSP reconnects and signs again.
    use card_edges::transport::Transport;
    let mut warm = warm;
    warm.pcsc().unwrap().end_transaction().unwrap();
    s.reset_card().unwrap();
    assert_eq!(warm.authenticate_pin("user", b"123456").unwrap_err().0.0, code::SCARD_W_RESET_CARD);
    warm.reconnect(false).unwrap();
    sign_9c(&warm);
    drop(warm);
    cdylib::no_leaks();
}
