//! Card operations: `sign`, `verify`, `decrypt`, `pin verify|change|unblock|status`, `keygen`
//! and `import`, each through the minidriver's function table.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use mdtool::csp::{Code, Csp, Padding};
use minidriver::abi::{crypt, keyspec, misc, pin};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::json;
use zeroize::Zeroizing;

use crate::card::Opened;
use crate::errors::{Failure, Outcome, UNSUPPORTED};
use crate::keys::{self, Container, Hash, PublicKey};
use crate::output::Out;
use crate::scinfo::{self, Tries};
use crate::{Global, secrets};

/// Reads `path` (`-`: stdin) whole.
pub(crate) fn read_input(path: Option<&Path>) -> Outcome<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => {
            std::fs::read(p).map_err(|e| Failure::usage(format!("cannot read {}: {e}", p.display())))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::usage("give the input with --in FILE (or pipe it into mdtool)"));
            }
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v).map_err(|e| Failure::msg(format!("cannot read stdin: {e}")))?;
            Ok(v)
        }
    }
}

/// Bytes that may be given as hex text (whitespace allowed) or raw.
pub(crate) fn hex_or_raw(data: Vec<u8>) -> Vec<u8> {
    let text: Vec<u8> = data.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if !text.is_empty() && text.len().is_multiple_of(2) && text.iter().all(u8::is_ascii_hexdigit) {
        hex::decode(&text).unwrap_or(data)
    } else {
        data
    }
}

/// Writes `data` to `to`, or as hex on stdout.
fn emit(out: &mut Out, data: &[u8], to: Option<&Path>) -> Outcome {
    if let Some(to) = to {
        return std::fs::write(to, data).map_err(|e| Failure::msg(format!("cannot write {}: {e}", to.display())));
    }
    out.line(hex::encode_upper(data));
    Ok(())
}

/// Authenticates the PIN a container needs (nothing for PIN 0), asking for it if needed.
fn authenticate_for(g: &Global, csp: &Csp, c: &Container) -> Outcome<bool> {
    let id = c.pin_id.unwrap_or(pin::ROLE_USER);
    if id == pin::ROLE_EVERYONE {
        return Ok(false);
    }
    let value = secrets::obtain(secrets::PIN, g.pin_file.as_deref())?;
    scinfo::authenticate(csp, id, &value)?;
    Ok(true)
}

fn deauthenticate(csp: &Csp, did: bool) {
    if did {
        let _ = csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER) | pin::set_of(3));
    }
}

/// What `sign` and `verify` take.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// Key container index (default: the card's default container).
    #[arg(short, long, value_name = "N")]
    pub(crate) container: Option<u8>,
    /// The data to sign or verify (`-`: standard input).
    #[arg(long = "in", value_name = "FILE", conflicts_with = "digest")]
    pub(crate) input: Option<PathBuf>,
    /// A hash computed elsewhere, in hex, instead of --in.
    #[arg(long, value_name = "HEX")]
    pub(crate) digest: Option<String>,
    /// Hash algorithm (default: SHA-256, or SHA-384 for P-384 keys).
    #[arg(long, value_enum)]
    pub(crate) hash: Option<Hash>,
    /// RSA-PSS instead of PKCS#1 v1.5 (salt as long as the hash).
    #[arg(long)]
    pub(crate) pss: bool,
}

fn digest_of(args: &SignArgs, key: &PublicKey) -> Outcome<(Hash, Vec<u8>)> {
    let hash = args.hash.unwrap_or_else(|| keys::hash_for(key));
    let digest = match &args.digest {
        Some(h) => {
            let d = hex::decode(h.trim()).map_err(|_| Failure::usage("--digest takes hex"))?;
            if d.len() != hash.len() {
                return Err(Failure::usage(format!(
                    "--digest has {} bytes, {} has {} (choose the algorithm with --hash)",
                    d.len(),
                    hash.cng_name(),
                    hash.len()
                )));
            }
            d
        }
        None => hash.digest(&read_input(args.input.as_deref())?),
    };
    Ok((hash, digest))
}

fn check_signing_key(c: &Container, pss: bool) -> Outcome {
    if keys::is_ecdh(c.key_spec) {
        return Err(Failure::usage(format!(
            "container {} holds a key agreement (ECDH) key: it does not sign",
            c.record.index
        )));
    }
    if pss && !matches!(c.key, PublicKey::Rsa { .. }) {
        return Err(Failure::usage("--pss is for RSA keys"));
    }
    Ok(())
}

/// `mdtool sign`.
///
/// # Errors
/// PIN, card or input failures.
pub(crate) fn sign(g: &Global, out: &mut Out, opened: &Opened, args: &SignArgs, to: Option<&Path>) -> Outcome {
    let csp = &opened.csp;
    let c = keys::pick(csp, args.container)?;
    check_signing_key(&c, args.pss)?;
    let (hash, digest) = digest_of(args, &c.key)?;
    let did = authenticate_for(g, csp, &c)?;
    let signed = keys::sign(csp, &c, hash, args.pss, &digest);
    deauthenticate(csp, did);
    let signature = signed.map_err(|code| Failure::code(code, "signing (CardSignData)"))?;
    if out.json() {
        out.json_value(&json!({
            "container": c.record.index,
            "key_spec": keys::key_spec_name(c.key_spec),
            "hash": hash.cng_name(),
            "padding": padding_name(&c.key, args.pss),
            "digest": hex::encode_upper(&digest),
            "signature": hex::encode_upper(&signature),
        }));
        if let Some(to) = to {
            std::fs::write(to, &signature).map_err(|e| Failure::msg(format!("cannot write {}: {e}", to.display())))?;
        }
        return Ok(());
    }
    emit(out, &signature, to)
}

fn padding_name(key: &PublicKey, pss: bool) -> &'static str {
    match (key, pss) {
        (PublicKey::Ec { .. }, _) => "ECDSA (r || s)",
        (_, true) => "RSA-PSS",
        _ => "PKCS#1 v1.5",
    }
}

/// `mdtool verify`: checks a signature with the container's certificate (no PIN needed).
///
/// # Errors
/// The signature does not verify; card or input failures.
pub(crate) fn verify(out: &mut Out, opened: &Opened, args: &SignArgs, signature: &Path) -> Outcome {
    let csp = &opened.csp;
    let c = keys::pick(csp, args.container)?;
    check_signing_key(&c, args.pss)?;
    let key = keys::verification_key(&c);
    let (hash, digest) = digest_of(args, &key)?;
    let sig = hex_or_raw(read_input(Some(signature))?);
    let result = keys::verify(&key, hash, args.pss, &digest, &sig);
    if out.json() {
        out.json_value(&json!({
            "container": c.record.index,
            "hash": hash.cng_name(),
            "padding": padding_name(&key, args.pss),
            "valid": result.is_ok(),
        }));
    }
    match result {
        Ok(()) => {
            out.line(format!(
                "signature OK: container {}, {} {}, checked with {}",
                c.record.index,
                hash.cng_name(),
                padding_name(&key, args.pss),
                if c.cert.is_some() { "the certificate's public key" } else { "the container's public key" }
            ));
            Ok(())
        }
        Err(why) => Err(Failure::msg(format!("signature NOT valid: {why}"))),
    }
}

/// `mdtool decrypt`: RSA decryption through `CardRSADecrypt`.
///
/// # Errors
/// PIN, card or input failures.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decrypt(
    g: &Global,
    out: &mut Out,
    opened: &Opened,
    container: Option<u8>,
    input: Option<&Path>,
    oaep: Option<Hash>,
    hex_out: bool,
    to: Option<&Path>,
) -> Outcome {
    let csp = &opened.csp;
    let c = match container {
        Some(i) => keys::pick(csp, Some(i))?,
        None => {
            // The RSA key exchange container whose certificate is for key encipherment only
            // (PIV: 9D, key management), else the first RSA key exchange container.
            let all: Vec<Container> =
                keys::containers(csp)?.into_iter().filter(|c| c.key_spec == keyspec::AT_KEYEXCHANGE).collect();
            let encipherment =
                all.iter().position(|c| c.cert.as_ref().and_then(|ci| ci.usage) == Some((false, true))).unwrap_or(0);
            all.into_iter()
                .nth(encipherment)
                .ok_or_else(|| Failure::msg("the card has no RSA key exchange container to decrypt with"))?
        }
    };
    let PublicKey::Rsa { bits, .. } = c.key else {
        return Err(Failure::usage(format!(
            "container {} holds an EC key: decryption is RSA only (EC keys agree on secrets instead)",
            c.record.index
        )));
    };
    let mut ciphertext = hex_or_raw(read_input(input)?);
    let k = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
    if ciphertext.len() != k {
        return Err(Failure::usage(format!(
            "the ciphertext has {} bytes; RSA-{bits} ciphertexts have {k}",
            ciphertext.len()
        )));
    }
    ciphertext.reverse();
    let padding = match oaep {
        Some(h) => Padding::Oaep(h.cng_name().to_owned(), Vec::new()),
        None => Padding::Pkcs1(None),
    };
    let did = authenticate_for(g, csp, &c)?;
    let result = csp.rsa_decrypt(c.record.index, &ciphertext, 2, &padding);
    deauthenticate(csp, did);
    let mut plain = Zeroizing::new(result.map_err(|code| {
        let f = Failure::code(code, "decrypting (CardRSADecrypt)");
        if matches!(code.0, 0x8010_001F | 0x8009_0005) {
            f.context(&format!(
                "container {} could not decrypt it (was it encrypted for mscp/{}?)",
                c.record.index, c.cert_file
            ))
        } else {
            f
        }
    })?);
    plain.reverse();
    if let Some(to) = to {
        return std::fs::write(to, &*plain).map_err(|e| Failure::msg(format!("cannot write {}: {e}", to.display())));
    }
    if out.json() {
        out.json_value(&json!({ "container": c.record.index, "plaintext": hex::encode_upper(&*plain) }));
    } else if hex_out || std::io::stdout().is_terminal() {
        out.line(hex::encode_upper(&*plain));
    } else {
        out.bytes(&plain);
    }
    Ok(())
}

/// `mdtool pin ...`.
#[derive(Clone, Debug, clap::Subcommand)]
pub(crate) enum PinCmd {
    /// Verifies the PIN (MDTOOL_PIN, --pin-file or a prompt).
    Verify {
        /// PIN id (1: user PIN, 3: the signature key's PIN).
        #[arg(long, default_value_t = 1)]
        id: u32,
    },
    /// Changes the PIN (current: MDTOOL_PIN / --pin-file; new: MDTOOL_NEW_PIN / --new-pin-file),
    /// or with --puk the PUK (current: MDTOOL_PUK / --puk-file; new: MDTOOL_NEW_PUK /
    /// --new-pin-file).
    Change {
        /// Change the PUK instead of the PIN.
        #[arg(long)]
        puk: bool,
    },
    /// Unblocks the PIN with the PUK (MDTOOL_PUK / --puk-file) and sets a new PIN
    /// (MDTOOL_NEW_PIN / --new-pin-file).
    Unblock,
    /// Shows every PIN and its tries left.
    Status,
}

/// `mdtool pin ...`.
///
/// # Errors
/// Wrong or blocked PIN or PUK, with tries left; card failures.
pub(crate) fn pin(g: &Global, out: &mut Out, opened: &Opened, cmd: &PinCmd) -> Outcome {
    let csp = &opened.csp;
    match cmd {
        PinCmd::Verify { id } => {
            // A typed PIN may be typed again after a wrong one, while tries are left (one
            // attempt per line when standard input is not a terminal).
            let mut last: Option<Failure> = None;
            let terminal = std::io::stdin().is_terminal();
            loop {
                let (value, typed) = match (secrets::obtain_from(secrets::PIN, g.pin_file.as_deref()), last.take()) {
                    (Ok(v), previous) => {
                        if let Some(p) = previous.filter(|_| !terminal) {
                            crate::output::notice(&p.message);
                        }
                        v
                    }
                    (Err(_), Some(previous)) => return Err(previous),
                    (Err(e), None) => return Err(e),
                };
                match csp.authenticate_ex(*id, 0, &value) {
                    Ok(_) => break,
                    Err((code, tries)) => {
                        let f = Failure::pin(code, tries, "PIN");
                        let retry = typed && code.0 == crate::errors::WRONG_CHV && tries > 0 && tries <= 15;
                        if !retry {
                            return Err(f);
                        }
                        if terminal {
                            crate::output::notice(&f.message);
                        }
                        last = Some(f);
                    }
                }
            }
            let _ = csp.deauthenticate_ex(pin::set_of(*id));
            out.json_value(&json!({ "pin_id": id, "verified": true }));
            out.line(format!("PIN {id} verified"));
        }
        PinCmd::Change { puk } => {
            let (kind, id, what) =
                if *puk { (secrets::PUK, puk_id(csp)?, "PUK") } else { (secrets::PIN, pin::ROLE_USER, "PIN") };
            let current = secrets::obtain(kind, file_for(g, kind))?;
            let new = if *puk {
                secrets::obtain(secrets::NEW_PUK, g.new_pin_file.as_deref())?
            } else {
                secrets::obtain(secrets::NEW_PIN, g.new_pin_file.as_deref())?
            };
            csp.change_authenticator_ex(pin::CHANGE_FLAG_CHANGEPIN, id, &current, id, &new)
                .map_err(|(c, n)| change_failure(c, n, what))?;
            let _ = csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER) | pin::set_of(3));
            out.json_value(&json!({ "changed": what }));
            out.line(format!("{what} changed"));
        }
        PinCmd::Unblock => {
            // With the PUK where the card has one; else with the administrator key by
            // challenge-response, where the user PIN's PIN_INFO allows that (GIDS).
            let pins = scinfo::pins(csp)?;
            let user = pins.iter().find(|p| p.id() == pin::ROLE_USER);
            let by = user.map_or(0, scinfo::PinEntry::unblocked_by);
            let puk = pins.iter().find(|p| p.is_puk() && by & pin::set_of(p.id()) != 0);
            let new = |g: &Global| secrets::obtain(secrets::NEW_PIN, g.new_pin_file.as_deref());
            let how = if let Some(puk) = puk {
                let value = secrets::obtain(secrets::PUK, g.puk_file.as_deref())?;
                let new = new(g)?;
                csp.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, puk.id(), &value, pin::ROLE_USER, &new)
                    .map_err(|(c, n)| change_failure(c, n, "PUK"))?;
                "PUK"
            } else if by & pin::set_of(pin::ROLE_ADMIN) != 0 {
                let key = secrets::admin_key(g.admin_key_file.as_deref())?;
                let new = new(g)?;
                let response = admin_response(csp, &key)?;
                csp.change_authenticator_ex(pin::CHANGE_FLAG_UNBLOCK, pin::ROLE_ADMIN, &response, pin::ROLE_USER, &new)
                    .map_err(|(c, n)| change_failure(c, n, "administrator key"))?;
                "administrator key"
            } else {
                return Err(Failure::msg("the card lists no PIN that may unblock the user PIN"));
            };
            out.json_value(&json!({ "unblocked": true, "by": how }));
            out.line(format!("PIN unblocked with the {how} and set to the new PIN"));
        }
        PinCmd::Status => {
            let pins = scinfo::pins(csp)?;
            if out.json() {
                let list: Vec<_> = pins
                    .iter()
                    .map(|p| {
                        let (tries, blocked) = match p.tries() {
                            Tries::Left(n) => (Some(n), false),
                            Tries::Blocked => (Some(0), true),
                            _ => (None, false),
                        };
                        json!({ "id": p.id(), "name": p.name(), "tries_left": tries, "blocked": blocked })
                    })
                    .collect();
                out.json_value(&json!({ "pins": list }));
            }
            for p in &pins {
                let state = match p.tries() {
                    Tries::Left(1) => "1 try left".to_owned(),
                    Tries::Left(n) => format!("{n} tries left"),
                    Tries::Blocked => "BLOCKED (unblock it: mdtool pin unblock)".to_owned(),
                    Tries::Verified => "verified".to_owned(),
                    Tries::NotReported => "tries not reported".to_owned(),
                };
                out.line(format!("{} {}: {state}", p.id(), p.name()));
            }
        }
    }
    Ok(())
}

fn file_for(g: &Global, kind: secrets::Kind) -> Option<&Path> {
    if kind.env == secrets::PUK_ENV { g.puk_file.as_deref() } else { g.pin_file.as_deref() }
}

fn change_failure(code: Code, tries: u32, what: &str) -> Failure {
    match code.0 {
        0x8010_0004 => Failure::usage(format!("the card refused the new value (a PIV {what} has 6 to 8 characters)")),
        _ => Failure::pin(code, tries, what),
    }
}

/// Key algorithms `keygen` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyAlg {
    /// RSA-1024.
    Rsa1024,
    /// RSA-2048.
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
    /// RSA-4096.
    Rsa4096,
    /// ECC P-256.
    P256,
    /// ECC P-384.
    P384,
}

/// Key roles `keygen` and `import` ask for (default: as the container's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// AT_KEYEXCHANGE (RSA) or AT_ECDHE_* (EC).
    Exchange,
    /// AT_SIGNATURE (RSA) or AT_ECDSA_* (EC).
    Signature,
}

fn key_spec_for(alg: KeyAlg, role: Role) -> (u32, u32) {
    let (bits, rsa) = match alg {
        KeyAlg::Rsa1024 => (1024, true),
        KeyAlg::Rsa2048 => (2048, true),
        KeyAlg::Rsa3072 => (3072, true),
        KeyAlg::Rsa4096 => (4096, true),
        KeyAlg::P256 => (256, false),
        KeyAlg::P384 => (384, false),
    };
    let spec = match (rsa, role, bits) {
        (true, Role::Exchange, _) => keyspec::AT_KEYEXCHANGE,
        (true, Role::Signature, _) => keyspec::AT_SIGNATURE,
        (false, Role::Exchange, 256) => keyspec::AT_ECDHE_P256,
        (false, Role::Exchange, _) => keyspec::AT_ECDHE_P384,
        (false, Role::Signature, 256) => keyspec::AT_ECDSA_P256,
        (false, Role::Signature, _) => keyspec::AT_ECDSA_P384,
    };
    (spec, if rsa { bits } else { 0 })
}

/// The role a new key in container `index` gets by default: as the key there now; else, on
/// PIV, key exchange for RSA and for EC in the key management slots (9D, retired), signature
/// for EC elsewhere.
fn default_role(csp: &Csp, index: u8, alg: KeyAlg) -> Role {
    let rsa = matches!(alg, KeyAlg::Rsa1024 | KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096);
    if rsa {
        return Role::Exchange;
    }
    if let Ok((sig, kx)) = csp.container_info(index)
        && let Some(PublicKey::Ec { .. }) = keys::parse_blob(if sig.is_empty() { &kx } else { &sig })
    {
        return if sig.is_empty() { Role::Exchange } else { Role::Signature };
    }
    if index == 2 || index >= 4 { Role::Exchange } else { Role::Signature }
}

/// The PUK's PIN id, from the card's PIN list.
///
/// # Errors
/// The card has no PUK.
fn puk_id(csp: &Csp) -> Outcome<u32> {
    scinfo::pins(csp)?
        .iter()
        .find(|p| p.is_puk())
        .map(scinfo::PinEntry::id)
        .ok_or_else(|| Failure::msg("the card has no PUK"))
}

/// Proves the administrator key (ROLE_ADMIN, challenge-response): `CardGetChallengeEx`,
/// then `CardAuthenticateEx` with the response.
///
/// # Errors
/// A wrong key; a card without challenge-response administrator.
pub(crate) fn authenticate_admin(csp: &Csp, key: &[u8]) -> Outcome {
    let response = admin_response(csp, key)?;
    csp.authenticate_ex(pin::ROLE_ADMIN, 0, &response)
        .map(|_| ())
        .map_err(|(c, n)| Failure::pin(c, n, "card management key"))
}

/// A fresh administrator challenge (`CardGetChallengeEx`) answered with `key`: the challenge
/// encrypted under it in ECB (3DES for an 8-byte challenge, AES for a 16-byte one), as the Base
/// CSP computes it. GIDS's external authentication is the same 3DES block encryption.
///
/// # Errors
/// A card without challenge-response administrator; a key that does not fit the challenge.
fn admin_response(csp: &Csp, key: &[u8]) -> Outcome<Vec<u8>> {
    let challenge = csp
        .get_challenge_ex(pin::ROLE_ADMIN)
        .map_err(|c| Failure::code(c, "administrator authentication (CardGetChallengeEx)"))?;
    let response = card_edges::crypto::challenge_response(key, &challenge).map_err(|_| {
        Failure::usage(format!("a {}-byte key does not fit the card's {}-byte challenge", key.len(), challenge.len()))
    })?;
    Ok(response.to_vec())
}

/// Whether the user PIN alone lets Windows enroll (create keys, write certificates).
fn user_creates_keys(csp: &Csp) -> bool {
    csp.get_property(minidriver::abi::prop::X509_ENROLLMENT, 0)
        .ok()
        .and_then(|v| v.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes))
        .is_some_and(|v| v != 0)
}

/// Authenticates whoever may create keys on this card: the administrator key (PIV's card
/// management key) when one is given; else the user PIN where the card supports Windows
/// enrollment with it (`CP_SUPPORTS_WIN_X509_ENROLLMENT`: GIDS, and PIV tokens whose
/// management key is PIN-protected or the factory default); else the administrator key.
///
/// # Errors
/// A wrong PIN or key.
fn authenticate_key_writer(g: &Global, csp: &Csp) -> Outcome {
    let admin_given = secrets::given(secrets::ADMIN_KEY, g.admin_key_file.as_deref())?.is_some();
    if !admin_given && user_creates_keys(csp) {
        let value = secrets::obtain(secrets::PIN, g.pin_file.as_deref())?;
        return scinfo::authenticate(csp, pin::ROLE_USER, &value);
    }
    let key = secrets::admin_key(g.admin_key_file.as_deref())?;
    authenticate_admin(csp, &key)
}

/// The SubjectPublicKeyInfo (PEM) of a container's public key.
fn spki_pem(key: &PublicKey) -> Option<String> {
    use p256::pkcs8::EncodePublicKey;
    let der = match key {
        PublicKey::Rsa { n, e, .. } => {
            let k =
                rsa::RsaPublicKey::new(rsa::BoxedUint::from_be_slice_vartime(n), rsa::BoxedUint::from(u64::from(*e)))
                    .ok()?;
            k.to_public_key_der().ok()?
        }
        PublicKey::Ec { field: 32, point } => p256::PublicKey::from_sec1_bytes(point).ok()?.to_public_key_der().ok()?,
        PublicKey::Ec { field: 48, point } => p384::PublicKey::from_sec1_bytes(point).ok()?.to_public_key_der().ok()?,
        PublicKey::Ec { .. } => return None,
    };
    der.to_pem("PUBLIC KEY", der::pem::LineEnding::LF).ok()
}

/// `mdtool keygen`: generates a key on the card with `CardCreateContainer(KEY_GEN)`.
///
/// # Errors
/// Management key or card failures.
pub(crate) fn keygen(
    g: &Global,
    out: &mut Out,
    opened: &Opened,
    index: u8,
    alg: KeyAlg,
    role: Option<Role>,
    to: Option<&Path>,
) -> Outcome {
    let csp = &opened.csp;
    let role = role.unwrap_or_else(|| default_role(csp, index, alg));
    let (spec, bits) = key_spec_for(alg, role);
    authenticate_key_writer(g, csp)?;
    csp.create_container(index, misc::CREATE_CONTAINER_KEY_GEN, spec, bits, None).map_err(|c| {
        Failure::code(c, &format!("key generation of a {} key in container {index}", keys::key_spec_name(spec)))
    })?;
    let (sig, kx) = csp.container_info(index).map_err(|c| Failure::code(c, &format!("reading container {index}")))?;
    let new = keys::parse_blob(if sig.is_empty() { &kx } else { &sig })
        .ok_or_else(|| Failure::msg("the new key's public key blob is not readable"))?;
    let pem = spki_pem(&new).unwrap_or_default();
    if let Some(to) = to {
        std::fs::write(to, &pem).map_err(|e| Failure::msg(format!("cannot write {}: {e}", to.display())))?;
    }
    if out.json() {
        out.json_value(&json!({
            "container": index,
            "key_spec": keys::key_spec_name(spec),
            "algorithm": new.algorithm(),
            "key_size": new.bits(),
            "public_key_pem": pem,
        }));
    } else {
        out.line(format!(
            "generated {} ({}) in container {index}; write its certificate to mscp/{} to make it usable",
            keys::describe(&new),
            keys::key_spec_name(spec),
            keys::cert_file(index, spec)
        ));
        if to.is_none() {
            out.line(pem.trim_end());
        }
    }
    Ok(())
}

/// A CAPI `PRIVATEKEYBLOB` (RSA) or `BCRYPT_ECCPRIVATE_BLOB` (EC) and its key spec and size.
fn private_blob(pkcs8_der: &[u8], role: Option<Role>) -> Outcome<(Zeroizing<Vec<u8>>, u32, u32)> {
    use rsa::pkcs8::DecodePrivateKey;
    let le = |v: &[u8], len: usize| {
        let mut b: Vec<u8> = v.iter().rev().copied().collect();
        b.resize(len, 0);
        b
    };
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8_der) {
        let role = role.unwrap_or(Role::Exchange);
        let bits = k.n().bits_vartime();
        let (n_len, half) =
            (usize::try_from(bits.div_ceil(8)).unwrap_or(0), usize::try_from(bits.div_ceil(16)).unwrap_or(0));
        let e = u32::try_from(k.e().to_be_bytes_trimmed_vartime().iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
            .map_err(|_| Failure::usage("RSA exponent wider than 32 bits"))?;
        let [p, q] = k.primes() else { return Err(Failure::usage("multi-prime RSA keys cannot be imported")) };
        let (Some(dp), Some(dq), Some(qinv)) = (k.dp(), k.dq(), k.crt_coefficient()) else {
            return Err(Failure::usage("the RSA key lacks its CRT values"));
        };
        let alg = if role == Role::Exchange { crypt::CALG_RSA_KEYX } else { crypt::CALG_RSA_SIGN };
        let mut blob = Zeroizing::new(vec![7u8, 2, 0, 0]);
        blob.extend_from_slice(&alg.to_le_bytes());
        blob.extend_from_slice(&0x3241_5352u32.to_le_bytes());
        blob.extend_from_slice(&bits.to_le_bytes());
        blob.extend_from_slice(&e.to_le_bytes());
        for (v, len) in [
            (k.n().to_be_bytes(), n_len),
            (p.to_be_bytes(), half),
            (q.to_be_bytes(), half),
            (dp.to_be_bytes(), half),
            (dq.to_be_bytes(), half),
            (qinv.to_be_bytes(), half),
            (k.d().to_be_bytes(), n_len),
        ] {
            let trimmed: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
            blob.extend_from_slice(&le(&trimmed, len));
        }
        let spec = if role == Role::Exchange { keyspec::AT_KEYEXCHANGE } else { keyspec::AT_SIGNATURE };
        return Ok((blob, spec, bits));
    }
    let role = role.unwrap_or(Role::Signature);
    let ec = |field: usize, point: &[u8], d: &[u8], magics: (u32, u32)| -> Zeroizing<Vec<u8>> {
        let magic = if role == Role::Signature { magics.0 } else { magics.1 };
        let mut blob = Zeroizing::new(magic.to_le_bytes().to_vec());
        blob.extend_from_slice(&u32::try_from(field).unwrap_or(0).to_le_bytes());
        blob.extend_from_slice(point.get(1..).unwrap_or_default());
        blob.extend_from_slice(d);
        blob
    };
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(pkcs8_der) {
        let point = k.public_key().to_sec1_bytes();
        let spec = if role == Role::Signature { keyspec::AT_ECDSA_P256 } else { keyspec::AT_ECDHE_P256 };
        return Ok((ec(32, &point, &k.to_bytes(), (0x3253_4345, 0x324B_4345)), spec, 256));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(pkcs8_der) {
        let point = k.public_key().to_sec1_bytes();
        let spec = if role == Role::Signature { keyspec::AT_ECDSA_P384 } else { keyspec::AT_ECDHE_P384 };
        return Ok((ec(48, &point, &k.to_bytes(), (0x3453_4345, 0x344B_4345)), spec, 384));
    }
    Err(Failure::usage("the key file is not an unencrypted PKCS#8 RSA, P-256 or P-384 private key (DER or PEM)"))
}

/// `mdtool import`: imports a private key with `CardCreateContainer(KEY_IMPORT)`.
///
/// # Errors
/// The card does not support import (PIV); key file or card failures.
pub(crate) fn import(
    g: &Global,
    out: &mut Out,
    opened: &Opened,
    index: u8,
    file: &Path,
    role: Option<Role>,
) -> Outcome {
    let csp = &opened.csp;
    let raw = Zeroizing::new(
        std::fs::read(file).map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?,
    );
    let der = match std::str::from_utf8(&raw).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(text) => Zeroizing::new(
            der::pem::decode_vec(text.as_bytes())
                .map(|(_, d)| d)
                .map_err(|_| Failure::usage(format!("{} is not PEM", file.display())))?,
        ),
        None => raw.clone(),
    };
    let (blob, spec, bits) = private_blob(&der, role)?;
    // A PIV card imports no key (no standard command): the driver says so at the import, before
    // any PIN or key is asked for. A card whose user PIN creates keys (GIDS) gets the PIN; on
    // others the administrator key is proved only when given.
    let piv = opened.card_name == card_edges::detect::CardEdge::Piv.windows_card_name();
    if !piv && user_creates_keys(csp) {
        authenticate_key_writer(g, csp)?;
    } else if let Some(key) = secrets::given(secrets::ADMIN_KEY, g.admin_key_file.as_deref())? {
        let key = Zeroizing::new(
            hex::decode(key.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect::<Vec<u8>>())
                .map_err(|_| Failure::usage("the card management key must be hex"))?,
        );
        authenticate_admin(csp, &key)?;
    }
    let result = csp.create_container(index, misc::CREATE_CONTAINER_KEY_IMPORT, spec, bits, Some(&blob));
    match result {
        Err(Code(UNSUPPORTED)) => Err(Failure {
            message: "the card does not support key import (PIV cards generate their keys on the card: \
                      use `mdtool keygen`)"
                .into(),
            exit: 1,
            code: Some(UNSUPPORTED),
        }),
        Err(c) => Err(Failure::code(c, &format!("key import into container {index}"))),
        Ok(()) => {
            out.json_value(&json!({ "container": index, "key_spec": keys::key_spec_name(spec), "imported": true }));
            out.line(format!("imported a {} key into container {index}", keys::key_spec_name(spec)));
            Ok(())
        }
    }
}
