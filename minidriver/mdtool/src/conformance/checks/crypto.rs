//! Signatures, decryption and key agreement (§4.7): every key the card offers signs with every
//! hash it takes, each signature checked with the public key `CardGetContainerInfo` returned
//! (RSA little-endian, ECDSA `r || s`); RSA key-exchange keys decrypt what was encrypted to
//! them here; ECDH keys agree on the secret a software key computes; and the argument checks.
//!
//! A key is used only when the run can unlock it: no PIN, the user PIN, or a PIN that
//! `CP_CARD_AUTHENTICATED_STATE` shows the user PIN also unlocks.

use minidriver::abi::{code, crypt, keyspec, pin, prop};
use rsa::traits::PublicKeyParts;
use sha2::Digest;

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::{Container, ContainerKey, PublicKey, dword};
use super::{INVALID, NO_CONTAINER, REVISION, UNSUPPORTED};
use crate::csp::Padding;
use crate::csp::raw::{SignCall, construct_agreement, rsa_decrypt, sign};

pub(crate) const CHECKS: &[Check] = &[
    check("crypto.sign_pkcs1", 138, "RSA keys sign PKCS#1 v1.5 with each aiHashAlg they take", sign_pkcs1),
    check("crypto.sign_padding_info", 139, "RSA keys sign with BCRYPT padding info: PKCS#1 and PSS", sign_padding_info),
    check("crypto.sign_ecdsa", 142, "ECDSA keys sign: r || s of the curve's size", sign_ecdsa),
    check("crypto.buffer_size_only", 141, "CARD_BUFFER_SIZE_ONLY gives the signature size only", size_only)
        .level(Level::Should),
    check(
        "crypto.sign_container",
        136,
        "signing with a missing container or an undefined key spec is refused",
        sign_container,
    ),
    check("crypto.sign_version", 135, "CARD_SIGNING_INFO version 3 is ERROR_REVISION_MISMATCH", sign_version),
    check("crypto.sign_flags", 137, "undefined dwSigningFlags bits are refused", sign_flags).level(Level::Should),
    check(
        "crypto.decrypt_pkcs1",
        147,
        "RSA key-exchange keys decrypt PKCS#1 v1.5 (the plaintext, in place)",
        decrypt_pkcs1,
    ),
    check("crypto.decrypt_raw", 147, "CARD_PADDING_NONE returns the whole block, byte-reversed", decrypt_raw),
    check("crypto.decrypt_oaep", 147, "OAEP (SHA-256) decrypts to the plaintext", decrypt_oaep),
    check(
        "crypto.decrypt_versions",
        144,
        "CARD_RSA_DECRYPT_INFO version 3, and 1 with CARD_DATA 7, are refused",
        decrypt_versions,
    ),
    check(
        "crypto.decrypt_container",
        145,
        "decrypting with a missing container is SCARD_E_NO_KEY_CONTAINER",
        decrypt_container,
    ),
    check("crypto.decrypt_short", 146, "cbData below the modulus size is SCARD_E_INSUFFICIENT_BUFFER", decrypt_short),
    check("crypto.ecdh", 151, "ECDH keys agree: CardDeriveKey(HASH, SHA256) equals the software result", ecdh),
    check("crypto.dh_version", 150, "CARD_DH_AGREEMENT_INFO version 1 is ERROR_REVISION_MISMATCH", dh_version),
];

const MESSAGE: &[u8] = b"mdtool conformance";

/// The hashes `aiHashAlg` names (§4.7.5), with their DigestInfo prefixes (RFC 8017 §9.2 note 1).
const HASHES: [(u32, &str, &[u8]); 4] = [
    (
        crypt::CALG_SHA1,
        "SHA1",
        &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14],
    ),
    (
        crypt::CALG_SHA_256,
        "SHA256",
        &[
            0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ],
    ),
    (
        crypt::CALG_SHA_384,
        "SHA384",
        &[
            0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
            0x30,
        ],
    ),
    (
        crypt::CALG_SHA_512,
        "SHA512",
        &[
            0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
            0x40,
        ],
    ),
];

fn digest(alg: u32, data: &[u8]) -> Vec<u8> {
    match alg {
        crypt::CALG_SHA1 => sha1::Sha1::digest(data).to_vec(),
        crypt::CALG_SHA_384 => sha2::Sha384::digest(data).to_vec(),
        crypt::CALG_SHA_512 => sha2::Sha512::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): `00 01 FF.. 00 prefix hash` of `k` bytes.
fn pkcs1_block(prefix: &[u8], hash: &[u8], k: usize) -> Vec<u8> {
    let fill = k.saturating_sub(3 + prefix.len() + hash.len());
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xFF, fill));
    em.push(0);
    em.extend_from_slice(prefix);
    em.extend_from_slice(hash);
    em
}

/// Whether `le` (as `CardSignData` returns it) is an RSA signature whose public operation is
/// `block`; a big-endian one is named.
fn rsa_check(key: &rsa::RsaPublicKey, le: &[u8], block: &[u8]) -> Result<(), String> {
    let mut be = le.to_vec();
    be.reverse();
    let open = |s: &[u8]| card_edges::crypto::raw_public(key, s).ok();
    if open(&be).as_deref() == Some(block) {
        return Ok(());
    }
    if open(le).as_deref() == Some(block) {
        return Err("the signature is big-endian: CAPI wants it byte-reversed".to_owned());
    }
    Err(format!("a {}-byte signature that does not verify with the container's key", le.len()))
}

/// The user PIN was verified (and is the PIN for `id`): unlocks container keys guarded by `id`.
fn unlock(run: &mut Run<'_>, id: Option<u32>) -> Result<(), Verdict> {
    let id = id.unwrap_or(pin::ROLE_USER);
    if id == pin::ROLE_EVERYONE {
        return Ok(());
    }
    let value = run.pin_value()?;
    let csp = run.main()?;
    let user = csp.authenticate_ex(pin::ROLE_USER, 0, &value);
    if let Err((c, _)) = user {
        return Err(Verdict::fail(format!("CardAuthenticateEx(ROLE_USER, the right PIN) returned {c}")));
    }
    if id == pin::ROLE_USER {
        run.pin.right_pin_worked = true;
        return Ok(());
    }
    let state = csp.get_property(prop::AUTHENTICATED_STATE, 0).ok().as_deref().and_then(dword).unwrap_or(0);
    if id >= 8 || state & (1 << id) == 0 {
        return Err(Verdict::skip(format!("PIN {id}: the runner has the user PIN only")));
    }
    // The user PIN also authenticated PIN `id`: it is the same PIN (verified again right before
    // the use, as an always-prompt PIN wants).
    csp.authenticate_ex(id, 0, &value)
        .map(|_| ())
        .map_err(|(c, _)| Verdict::fail(format!("CardAuthenticateEx(PIN {id}) returned {c}")))
}

/// The keys of the survey with `specs`, and their containers.
fn keys_with(run: &mut Run<'_>, specs: &[u32]) -> Result<Vec<(Container, ContainerKey)>, Verdict> {
    let survey = run.survey()?;
    Ok(survey.keys().filter(|(_, k)| specs.contains(&k.key_spec)).map(|(c, k)| (c.clone(), k.clone())).collect())
}

const RSA_SPECS: [u32; 2] = [keyspec::AT_KEYEXCHANGE, keyspec::AT_SIGNATURE];

/// Runs `each` on every unlocked key with `specs`: the lines it returned, the keys skipped.
fn over_keys(
    run: &mut Run<'_>,
    specs: &[u32],
    none: &str,
    mut each: impl FnMut(&mut Run<'_>, &Container, &ContainerKey) -> Result<String, Verdict>,
) -> Checked {
    let keys = keys_with(run, specs)?;
    if keys.is_empty() {
        return Err(Verdict::skip(none.to_owned()));
    }
    let (mut done, mut skipped) = (Vec::new(), Vec::new());
    for (c, k) in &keys {
        match unlock(run, c.pin_id) {
            Ok(()) => done.push(each(run, c, k)?),
            Err(v) if v.status == super::super::Status::Skip => skipped.push(format!("[{}] {}", c.index, v.detail)),
            Err(v) => return Err(v),
        }
    }
    if done.is_empty() {
        return Err(Verdict::skip(skipped.join("; ")));
    }
    let mut detail = done.join("; ");
    if !skipped.is_empty() {
        detail.push_str(&format!(" (skipped: {})", skipped.join("; ")));
    }
    Ok(Verdict::pass(detail))
}

fn rsa_of(k: &ContainerKey) -> Option<&rsa::RsaPublicKey> {
    match &k.key {
        PublicKey::Rsa(r) => Some(r),
        _ => None,
    }
}

fn sign_pkcs1(run: &mut Run<'_>) -> Checked {
    over_keys(run, &RSA_SPECS, "the card has no RSA key", |run, c, k| {
        let Some(key) = rsa_of(k) else { return Err(Verdict::fail("not an RSA key")) };
        let mut taken = Vec::new();
        for (alg, name, prefix) in HASHES {
            let hash = digest(alg, MESSAGE);
            let csp = run.main()?;
            match csp.sign_data(c.index, k.key_spec, alg, 0, &hash, None) {
                Ok(sig) => {
                    rsa_check(key, &sig, &pkcs1_block(prefix, &hash, key.size()))
                        .map_err(|e| Verdict::fail(format!("container {} with {name}: {e}", c.index)))?;
                    taken.push(name);
                }
                Err(e) => {
                    run.expect(&format!("CardSignData(container {}, {name})", c.index), e.0, &[0, UNSUPPORTED])?
                }
            }
        }
        // aiHashAlg 0: the hash as is, no DigestInfo.
        let hash = digest(crypt::CALG_SHA_256, MESSAGE);
        let csp = run.main()?;
        let plain = csp.sign_data(c.index, k.key_spec, 0, 0, &hash, None);
        run.expect(
            &format!("CardSignData(container {}, aiHashAlg 0)", c.index),
            super::code_of(&plain),
            &[0, UNSUPPORTED],
        )?;
        if let Ok(sig) = plain {
            rsa_check(key, &sig, &pkcs1_block(&[], &hash, key.size()))
                .map_err(|e| Verdict::fail(format!("container {} without a DigestInfo: {e}", c.index)))?;
            taken.push("no DigestInfo");
        }
        ensure(!taken.is_empty(), || format!("container {} signs with no hash", c.index))?;
        Ok(format!("[{}] {}", c.index, taken.join(", ")))
    })
}

fn sign_padding_info(run: &mut Run<'_>) -> Checked {
    over_keys(run, &RSA_SPECS, "the card has no RSA key", |run, c, k| {
        let Some(key) = rsa_of(k) else { return Err(Verdict::fail("not an RSA key")) };
        let hash = digest(crypt::CALG_SHA_256, MESSAGE);
        let mut taken = Vec::new();
        let csp = run.main()?;
        // aiHashAlg is ignored with padding info (item 139): an MD5 there must not matter.
        let pkcs1 =
            csp.sign_data(c.index, k.key_spec, crypt::CALG_MD5, 0, &hash, Some(&Padding::Pkcs1(Some("SHA256".into()))));
        run.expect(
            &format!("CardSignData(container {}, CARD_PADDING_PKCS1 SHA256)", c.index),
            super::code_of(&pkcs1),
            &[0],
        )?;
        let (_, _, prefix) = HASHES[1];
        rsa_check(key, &pkcs1.unwrap_or_default(), &pkcs1_block(prefix, &hash, key.size()))
            .map_err(|e| Verdict::fail(format!("container {} PKCS#1 SHA256: {e}", c.index)))?;
        taken.push("PKCS1");
        let csp = run.main()?;
        let pss = csp.sign_data(c.index, k.key_spec, 0, 0, &hash, Some(&Padding::Pss("SHA256".into(), 32)));
        run.expect(
            &format!("CardSignData(container {}, CARD_PADDING_PSS SHA256)", c.index),
            super::code_of(&pss),
            &[0, UNSUPPORTED],
        )?;
        if let Ok(mut sig) = pss {
            sig.reverse();
            key.verify(rsa::Pss::<sha2::Sha256>::new_with_salt(32), &hash, &sig)
                .map_err(|_| Verdict::fail(format!("container {}: the PSS signature does not verify", c.index)))?;
            taken.push("PSS");
        }
        Ok(format!("[{}] {}", c.index, taken.join(", ")))
    })
}

const ECDSA_SPECS: [u32; 2] = [keyspec::AT_ECDSA_P256, keyspec::AT_ECDSA_P384];

fn sign_ecdsa(run: &mut Run<'_>) -> Checked {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    over_keys(run, &ECDSA_SPECS, "the card has no ECDSA key", |run, c, k| {
        let (hash, len) = match &k.key {
            PublicKey::P384(_) => (sha2::Sha384::digest(MESSAGE).to_vec(), 96),
            _ => (sha2::Sha256::digest(MESSAGE).to_vec(), 64),
        };
        let csp = run.main()?;
        let sig = csp.sign_data(c.index, k.key_spec, 0, 0, &hash, None);
        run.expect(&format!("CardSignData(container {})", c.index), super::code_of(&sig), &[0])?;
        let sig = sig.unwrap_or_default();
        ensure(sig.len() == len, || format!("container {}: a {}-byte signature, r || s is {len}", c.index, sig.len()))?;
        let ok = match &k.key {
            PublicKey::P256(p) => p256::ecdsa::Signature::from_slice(&sig)
                .is_ok_and(|s| p256::ecdsa::VerifyingKey::from(p).verify_prehash(&hash, &s).is_ok()),
            PublicKey::P384(p) => p384::ecdsa::Signature::from_slice(&sig)
                .is_ok_and(|s| p384::ecdsa::VerifyingKey::from(p).verify_prehash(&hash, &s).is_ok()),
            PublicKey::Rsa(_) => false,
        };
        ensure(ok, || format!("container {}: r || s does not verify with the container's key", c.index))?;
        Ok(format!("[{}] {len} bytes", c.index))
    })
}

/// Signs a SHA-256 hash with container `index`'s `key` (RSA: PKCS#1 v1.5 with its DigestInfo;
/// ECDSA: `r || s`) and checks the signature with the key.
pub(super) fn sign_and_verify(run: &mut Run<'_>, index: u8, key: &ContainerKey) -> Result<String, Verdict> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let hash = digest(crypt::CALG_SHA_256, MESSAGE);
    let alg = if RSA_SPECS.contains(&key.key_spec) { crypt::CALG_SHA_256 } else { 0 };
    let csp = run.main()?;
    let sig = csp.sign_data(index, key.key_spec, alg, 0, &hash, None);
    run.expect(&format!("CardSignData(container {index})"), super::code_of(&sig), &[0])?;
    let sig = sig.unwrap_or_default();
    let verified = match &key.key {
        PublicKey::Rsa(k) => rsa_check(k, &sig, &pkcs1_block(HASHES[1].2, &hash, k.size())),
        PublicKey::P256(p) => p256::ecdsa::Signature::from_slice(&sig)
            .ok()
            .filter(|s| p256::ecdsa::VerifyingKey::from(p).verify_prehash(&hash, s).is_ok())
            .map(|_| ())
            .ok_or_else(|| "r || s does not verify".to_owned()),
        PublicKey::P384(p) => p384::ecdsa::Signature::from_slice(&sig)
            .ok()
            .filter(|s| p384::ecdsa::VerifyingKey::from(p).verify_prehash(&hash, s).is_ok())
            .map(|_| ())
            .ok_or_else(|| "r || s does not verify".to_owned()),
    };
    verified.map_err(|e| Verdict::fail(format!("container {index}: {e}")))?;
    Ok(format!("a {}-byte signature verified", sig.len()))
}

fn signing_keys(run: &mut Run<'_>) -> Result<Vec<(Container, ContainerKey)>, Verdict> {
    let mut specs = RSA_SPECS.to_vec();
    specs.extend(ECDSA_SPECS);
    keys_with(run, &specs)
}

fn size_only(run: &mut Run<'_>) -> Checked {
    let keys = signing_keys(run)?;
    if keys.is_empty() {
        return Err(Verdict::skip("the card has no signing key"));
    }
    for (c, k) in &keys {
        let rsa = RSA_SPECS.contains(&k.key_spec);
        let call = SignCall {
            version: 2,
            index: c.index,
            key_spec: k.key_spec,
            flags: crypt::BUFFER_SIZE_ONLY,
            alg_id: if rsa { crypt::CALG_SHA_256 } else { 0 },
            data: digest(crypt::CALG_SHA_256, MESSAGE),
            padding: None,
        };
        let csp = run.main()?;
        let out = sign(csp.raw(), &call);
        run.expect(&format!("CardSignData(container {}, CARD_BUFFER_SIZE_ONLY)", c.index), out.code, &[0])?;
        let wanted = k.key.signature_len();
        ensure(out.cb == wanted, || {
            format!("container {}: cbSignedData {}, the signature is {wanted} bytes", c.index, out.cb)
        })?;
        ensure(out.pb_untouched, || format!("container {}: pbSignedData was written", c.index))?;
    }
    Ok(Verdict::pass(format!("{} keys", keys.len())))
}

fn a_signing_key(run: &mut Run<'_>) -> Result<(Container, ContainerKey), Verdict> {
    signing_keys(run)?.into_iter().next().ok_or_else(|| Verdict::skip("the card has no signing key"))
}

fn sign_call(c: &Container, k: &ContainerKey) -> SignCall {
    let rsa = RSA_SPECS.contains(&k.key_spec);
    SignCall {
        version: 2,
        index: c.index,
        key_spec: k.key_spec,
        flags: 0,
        alg_id: if rsa { crypt::CALG_SHA_256 } else { 0 },
        data: digest(crypt::CALG_SHA_256, MESSAGE),
        padding: None,
    }
}

fn sign_container(run: &mut Run<'_>) -> Checked {
    let (c, k) = a_signing_key(run)?;
    let unused = run.survey()?.unused_index();
    let csp = run.main()?;
    let missing = sign(csp.raw(), &SignCall { index: unused, ..sign_call(&c, &k) });
    let undefined = sign(csp.raw(), &SignCall { key_spec: 9, ..sign_call(&c, &k) });
    run.expect(&format!("CardSignData(container {unused})"), missing.code, &[NO_CONTAINER])?;
    run.expect("CardSignData(dwKeySpec 9)", undefined.code, &[INVALID])?;
    ensure(missing.pb_untouched && undefined.pb_untouched, || "refused, but pbSignedData was written".to_owned())?;
    Ok(Verdict::pass("refused"))
}

fn sign_version(run: &mut Run<'_>) -> Checked {
    let (c, k) = a_signing_key(run)?;
    let csp = run.main()?;
    let out = sign(csp.raw(), &SignCall { version: 3, ..sign_call(&c, &k) });
    run.expect("CardSignData(CARD_SIGNING_INFO dwVersion 3)", out.code, &[REVISION])?;
    Ok(Verdict::pass("refused"))
}

fn sign_flags(run: &mut Run<'_>) -> Checked {
    let (c, k) = a_signing_key(run)?;
    let csp = run.main()?;
    let out = sign(csp.raw(), &SignCall { flags: 0x2, ..sign_call(&c, &k) });
    run.expect("CardSignData(dwSigningFlags 0x2)", out.code, &[INVALID])?;
    Ok(Verdict::pass("refused"))
}

/// `00 02 PS 00 M` of `k` bytes with a nonzero padding string from the system's generator.
fn encryption_block(message: &[u8], k: usize) -> Result<Vec<u8>, Verdict> {
    let mut ps = vec![0u8; k.saturating_sub(message.len() + 3)];
    getrandom::fill(&mut ps).map_err(|_| Verdict::skip("the system's random generator failed"))?;
    for b in &mut ps {
        if *b == 0 {
            *b = 0x5A;
        }
    }
    let mut em = vec![0x00, 0x02];
    em.extend(ps);
    em.push(0);
    em.extend_from_slice(message);
    Ok(em)
}

fn decrypt_keys(
    run: &mut Run<'_>,
    each: impl FnMut(&mut Run<'_>, &Container, &ContainerKey) -> Result<String, Verdict>,
) -> Checked {
    over_keys(run, &[keyspec::AT_KEYEXCHANGE], "the card has no RSA key-exchange key", each)
}

fn decrypt_pkcs1(run: &mut Run<'_>) -> Checked {
    decrypt_keys(run, |run, c, k| {
        let Some(key) = rsa_of(k) else { return Err(Verdict::fail("not an RSA key")) };
        let em = encryption_block(MESSAGE, key.size())?;
        let mut ct = card_edges::crypto::raw_public(key, &em).map_err(|_| Verdict::fail("encrypting to the key"))?;
        ct.reverse();
        let csp = run.main()?;
        let plain = csp.rsa_decrypt(c.index, &ct, 2, &Padding::Pkcs1(None));
        run.expect(
            &format!("CardRSADecrypt(container {}, CARD_PADDING_PKCS1)", c.index),
            super::code_of(&plain),
            &[0],
        )?;
        let mut plain = plain.unwrap_or_default();
        plain.reverse();
        ensure(plain == MESSAGE, || format!("container {}: {} bytes that are not the message", c.index, plain.len()))?;
        Ok(format!("[{}] the message", c.index))
    })
}

fn decrypt_raw(run: &mut Run<'_>) -> Checked {
    decrypt_keys(run, |run, c, k| {
        let Some(key) = rsa_of(k) else { return Err(Verdict::fail("not an RSA key")) };
        let em = encryption_block(MESSAGE, key.size())?;
        let mut ct = card_edges::crypto::raw_public(key, &em).map_err(|_| Verdict::fail("encrypting to the key"))?;
        ct.reverse();
        let csp = run.main()?;
        let block = csp.rsa_decrypt(c.index, &ct, 2, &Padding::None);
        run.expect(&format!("CardRSADecrypt(container {}, CARD_PADDING_NONE)", c.index), super::code_of(&block), &[0])?;
        let mut block = block.unwrap_or_default();
        block.reverse();
        ensure(block == em, || {
            format!("container {}: the {}-byte result is not the encrypted block", c.index, block.len())
        })?;
        Ok(format!("[{}] {} bytes", c.index, em.len()))
    })
}

fn decrypt_oaep(run: &mut Run<'_>) -> Checked {
    decrypt_keys(run, |run, c, k| {
        let Some(key) = rsa_of(k) else { return Err(Verdict::fail("not an RSA key")) };
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let mut ct = key
            .encrypt(&mut rng, rsa::Oaep::<sha2::Sha256>::new(), MESSAGE)
            .map_err(|_| Verdict::fail("encrypting to the key"))?;
        ct.reverse();
        let csp = run.main()?;
        let plain = csp.rsa_decrypt(c.index, &ct, 2, &Padding::Oaep("SHA256".into(), Vec::new()));
        run.expect(
            &format!("CardRSADecrypt(container {}, CARD_PADDING_OAEP SHA256)", c.index),
            super::code_of(&plain),
            &[0, UNSUPPORTED],
        )?;
        let Ok(mut plain) = plain else { return Ok(format!("[{}] OAEP not supported", c.index)) };
        plain.reverse();
        ensure(plain == MESSAGE, || format!("container {}: {} bytes that are not the message", c.index, plain.len()))?;
        Ok(format!("[{}] the message", c.index))
    })
}

/// A key-exchange container and its modulus size, for the argument checks.
fn a_decrypt_key(run: &mut Run<'_>) -> Result<(u8, usize), Verdict> {
    let keys = keys_with(run, &[keyspec::AT_KEYEXCHANGE])?;
    let (c, k) = keys.first().ok_or_else(|| Verdict::skip("the card has no RSA key-exchange key"))?;
    let n = rsa_of(k).map_or(0, PublicKeyParts::size);
    Ok((c.index, n))
}

fn decrypt_versions(run: &mut Run<'_>) -> Checked {
    let (index, n) = a_decrypt_key(run)?;
    let csp = run.main()?;
    let mut data = vec![0x11; n];
    let (three, _) = rsa_decrypt(csp.raw(), 3, index, keyspec::AT_KEYEXCHANGE, &mut data, crypt::PADDING_PKCS1, None);
    let (one, _) = rsa_decrypt(csp.raw(), 1, index, keyspec::AT_KEYEXCHANGE, &mut data, 0, None);
    run.expect("CardRSADecrypt(CARD_RSA_DECRYPT_INFO dwVersion 3)", three, &[REVISION])?;
    run.expect("CardRSADecrypt(dwVersion 1, CARD_DATA version 7)", one, &[REVISION])?;
    Ok(Verdict::pass("refused"))
}

fn decrypt_container(run: &mut Run<'_>) -> Checked {
    let (_, n) = a_decrypt_key(run)?;
    let unused = run.survey()?.unused_index();
    let csp = run.main()?;
    let mut data = vec![0x11; n];
    let (got, _) = rsa_decrypt(csp.raw(), 2, unused, keyspec::AT_KEYEXCHANGE, &mut data, crypt::PADDING_PKCS1, None);
    run.expect(&format!("CardRSADecrypt(container {unused})"), got, &[NO_CONTAINER])?;
    Ok(Verdict::pass("refused"))
}

fn decrypt_short(run: &mut Run<'_>) -> Checked {
    let (index, n) = a_decrypt_key(run)?;
    let csp = run.main()?;
    let mut data = vec![0x11; n.saturating_sub(1)];
    let (got, _) = rsa_decrypt(csp.raw(), 2, index, keyspec::AT_KEYEXCHANGE, &mut data, crypt::PADDING_PKCS1, None);
    run.expect(&format!("CardRSADecrypt(cbData {})", n.saturating_sub(1)), got, &[code::SCARD_E_INSUFFICIENT_BUFFER])?;
    Ok(Verdict::pass("refused"))
}

const ECDH_SPECS: [u32; 2] = [keyspec::AT_ECDHE_P256, keyspec::AT_ECDHE_P384];

/// An ephemeral software key on the curve of `key`: its `BCRYPT_ECCKEY_BLOB` (ECDH public
/// magic) and the shared secret Z with `key`.
fn peer(key: &PublicKey) -> Result<(Vec<u8>, Vec<u8>), Verdict> {
    let mut seed = [0u8; 48];
    getrandom::fill(&mut seed).map_err(|_| Verdict::skip("the system's random generator failed"))?;
    let (magic, point, z) = match key {
        PublicKey::P256(card) => {
            let ours =
                p256::SecretKey::from_slice(seed.get(..32).unwrap_or_default()).map_err(|_| Verdict::skip("a key"))?;
            let z = p256::ecdh::diffie_hellman(ours.to_nonzero_scalar(), card.as_affine()).raw_secret_bytes().to_vec();
            (crypt::ECDH_PUBLIC_P256_MAGIC, ours.public_key().to_sec1_bytes().to_vec(), z)
        }
        PublicKey::P384(card) => {
            let ours = p384::SecretKey::from_slice(&seed).map_err(|_| Verdict::skip("a key"))?;
            let z = p384::ecdh::diffie_hellman(ours.to_nonzero_scalar(), card.as_affine()).raw_secret_bytes().to_vec();
            (crypt::ECDH_PUBLIC_P384_MAGIC, ours.public_key().to_sec1_bytes().to_vec(), z)
        }
        PublicKey::Rsa(_) => return Err(Verdict::fail("an RSA key in an ECDH slot")),
    };
    let xy = point.get(1..).unwrap_or_default();
    let mut blob = magic.to_le_bytes().to_vec();
    blob.extend_from_slice(&u32::try_from(xy.len() / 2).unwrap_or(0).to_le_bytes());
    blob.extend_from_slice(xy);
    Ok((blob, z))
}

fn ecdh(run: &mut Run<'_>) -> Checked {
    over_keys(run, &ECDH_SPECS, "the card has no ECDH key", |run, c, k| {
        let (blob, z) = peer(&k.key)?;
        let csp = run.main()?;
        let agreement = csp.construct_dh_agreement(c.index, &blob);
        run.expect(&format!("CardConstructDHAgreement(container {})", c.index), super::code_of(&agreement), &[0])?;
        let agreement = agreement.unwrap_or_default();
        let csp = run.main()?;
        let sha256: Vec<u8> = "SHA256".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        let derived = csp.derive_key(agreement, "HASH", &[(0, sha256)], 0, 32);
        let destroyed = csp.destroy_dh_agreement(agreement);
        run.expect("CardDeriveKey(HASH, SHA256)", super::code_of(&derived), &[0])?;
        let expected = sha2::Sha256::digest(&z).to_vec();
        ensure(derived.unwrap_or_default() == expected, || {
            format!("container {}: the derived key is not SHA-256(Z)", c.index)
        })?;
        run.expect("CardDestroyDHAgreement", super::code_of(&destroyed), &[0])?;
        let csp = run.main()?;
        let again = csp.destroy_dh_agreement(agreement);
        run.expect("CardDestroyDHAgreement of a destroyed agreement", super::code_of(&again), &[INVALID])?;
        Ok(format!("[{}] SHA-256(Z) agreed", c.index))
    })
}

fn dh_version(run: &mut Run<'_>) -> Checked {
    let keys = keys_with(run, &ECDH_SPECS)?;
    let Some((c, k)) = keys.first() else { return Err(Verdict::skip("the card has no ECDH key")) };
    let (blob, _) = peer(&k.key)?;
    let csp = run.main()?;
    let (got, _) = construct_agreement(csp.raw(), 1, c.index, 0, &blob);
    run.expect("CardConstructDHAgreement(CARD_DH_AGREEMENT_INFO dwVersion 1)", got, &[REVISION])?;
    Ok(Verdict::pass("refused"))
}
