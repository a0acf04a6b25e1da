//! `mdtool scinfo`: what `certutil -scinfo` shows, read the way the Base CSP reads it (card
//! properties, `cardid`, `cmapfile`, container info, certificate files), plus a sign + verify
//! (or key agreement) self test per container when a PIN is at hand.

use mdtool::csp::{Code, Csp};
use minidriver::abi::{keyspec, pin, prop};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::card::Opened;
use crate::errors::{CHV_BLOCKED, Failure, Outcome, WRONG_CHV};
use crate::keys::{self, Container, PublicKey};
use crate::output::Out;
use crate::{Global, secrets};

/// A PIN as `CP_CARD_PIN_INFO` and the tries probe describe it.
#[derive(Clone, Debug)]
pub(crate) struct PinEntry {
    id: u32,
    pin_type: u32,
    purpose: u32,
    change: u32,
    unblock: u32,
    cache: u32,
    verified: bool,
    tries: Tries,
}

impl PinEntry {
    /// The PIN id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Its name.
    pub(crate) fn name(&self) -> &'static str {
        pin_label(self.id, self.purpose)
    }

    /// Whether this is an unblock-only PIN (a PUK).
    pub(crate) fn is_puk(&self) -> bool {
        self.purpose == pin::PURPOSE_UNBLOCK_ONLY
    }

    /// The PINs that may unblock this one (`PIN_SET`).
    pub(crate) fn unblocked_by(&self) -> u32 {
        self.unblock
    }

    /// Its tries left (verified when the card says so).
    pub(crate) fn tries(&self) -> Tries {
        if self.verified && self.pin_type == pin::ALPHANUMERIC { Tries::Verified } else { self.tries }
    }
}

/// What the tries probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tries {
    /// This many tries left.
    Left(u32),
    /// Blocked.
    Blocked,
    /// Verified now (the card gives no count then).
    Verified,
    /// Not a typed PIN, or the driver does not report them.
    NotReported,
}

/// Outcome of one container's self test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SelfTest {
    /// It passed: what was done.
    Passed(String),
    /// It failed: why.
    Failed(String),
    /// Not run: why.
    Skipped(String),
}

impl SelfTest {
    fn json(&self) -> Value {
        let (status, detail) = match self {
            Self::Passed(d) => ("passed", d),
            Self::Failed(d) => ("failed", d),
            Self::Skipped(d) => ("skipped", d),
        };
        json!({ "status": status, "detail": detail })
    }

    fn text(&self) -> String {
        match self {
            Self::Passed(d) => format!("passed: {d}"),
            Self::Failed(d) => format!("FAILED: {d}"),
            Self::Skipped(d) => format!("skipped: {d}"),
        }
    }
}

fn dword_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(4 * i..4 * i + 4)?.try_into().ok()?))
}

fn dword_property(csp: &Csp, name: &str, flags: u32) -> Result<u32, Code> {
    let b = csp.get_property(name, flags)?;
    dword_at(&b, 0).ok_or(Code(0x8010_001F))
}

/// The name of a PIN id on this driver (roles 0-2 are the specification's).
pub(crate) fn pin_label(id: u32, purpose: u32) -> &'static str {
    match (id, purpose) {
        (pin::ROLE_EVERYONE, _) => "everyone",
        (pin::ROLE_USER, _) => "user PIN",
        (pin::ROLE_ADMIN, _) => "administrator",
        (_, pin::PURPOSE_UNBLOCK_ONLY) => "PUK",
        (_, pin::PURPOSE_DIGITAL_SIGNATURE) => "signature PIN",
        _ => "PIN",
    }
}

fn pin_type_name(t: u32) -> &'static str {
    match t {
        pin::ALPHANUMERIC => "alphanumeric",
        pin::EXTERNAL => "external",
        pin::CHALLENGE_RESPONSE => "challenge-response",
        pin::EMPTY => "empty",
        _ => "unknown type",
    }
}

fn purpose_name(p: u32) -> &'static str {
    match p {
        0 => "authentication",
        pin::PURPOSE_DIGITAL_SIGNATURE => "digital signature",
        2 => "encryption",
        3 => "non-repudiation",
        pin::PURPOSE_ADMINISTRATOR => "administrator",
        pin::PURPOSE_PRIMARY => "primary card PIN",
        pin::PURPOSE_UNBLOCK_ONLY => "unblock only",
        _ => "unknown purpose",
    }
}

fn cache_name(c: u32) -> &'static str {
    match c {
        pin::CACHE_NORMAL => "cache normal",
        1 => "cache timed",
        2 => "no cache",
        pin::CACHE_ALWAYS_PROMPT => "always prompt",
        _ => "unknown cache policy",
    }
}

fn cache_mode_name(m: u32) -> &'static str {
    match m {
        prop::CACHE_MODE_GLOBAL => "global cache",
        prop::CACHE_MODE_SESSION_ONLY => "session only",
        prop::CACHE_MODE_NO_CACHE => "no cache",
        _ => "unknown",
    }
}

fn set_names(set: u32) -> Vec<u32> {
    (0..pin::MAX_PINS).filter(|i| set & pin::set_of(*i) != 0).collect()
}

/// The tries left of a typed PIN, through the table: `CardAuthenticateEx` with an empty PIN,
/// which the driver refuses without sending anything to the card, answering
/// `SCARD_W_WRONG_CHV` with the tries the card still has (or `SCARD_W_CHV_BLOCKED`).
pub(crate) fn probe_tries(csp: &Csp, id: u32) -> Tries {
    match csp.authenticate_ex(id, 0, b"") {
        Err((Code(WRONG_CHV), n)) if n <= 15 => Tries::Left(n),
        Err((Code(WRONG_CHV), u32::MAX)) => Tries::Verified,
        Err((Code(CHV_BLOCKED), _)) => Tries::Blocked,
        _ => Tries::NotReported,
    }
}

/// Every PIN the card lists.
pub(crate) fn pins(csp: &Csp) -> Outcome<Vec<PinEntry>> {
    let list = dword_property(csp, prop::LIST_PINS, 0).map_err(|c| Failure::code(c, "reading the PIN list"))?;
    let authenticated = dword_property(csp, prop::AUTHENTICATED_STATE, 0).unwrap_or(0);
    let mut out = Vec::new();
    for id in set_names(list) {
        let info = csp.get_property(prop::PIN_INFO, id).map_err(|c| Failure::code(c, &format!("reading PIN {id}")))?;
        let field = |i| dword_at(&info, i).unwrap_or(0);
        let (pin_type, purpose) = (field(1), field(2));
        let typed = pin_type == pin::ALPHANUMERIC && purpose != pin::PURPOSE_UNBLOCK_ONLY;
        let verified = authenticated & pin::set_of(id) != 0;
        let tries = if typed { probe_tries(csp, id) } else { Tries::NotReported };
        out.push(PinEntry {
            id,
            pin_type,
            purpose,
            change: field(3),
            unblock: field(4),
            cache: field(6),
            verified: verified || tries == Tries::Verified,
            tries,
        });
    }
    Ok(out)
}

/// A 16-byte id as a GUID string (`Data1-3` little-endian, as Windows prints them).
pub(crate) fn guid_string(b: &[u8]) -> String {
    match <[u8; 16]>::try_from(b) {
        Ok(g) => format!(
            "{{{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{}}}",
            g[3],
            g[2],
            g[1],
            g[0],
            g[5],
            g[4],
            g[7],
            g[6],
            g[8],
            g[9],
            hex::encode_upper(&g[10..])
        ),
        Err(_) => hex::encode_upper(b),
    }
}

/// Authenticates `id` with `pin` through `CardAuthenticateEx`.
///
/// # Errors
/// Wrong or blocked PIN, with the tries left in the message.
pub(crate) fn authenticate(csp: &Csp, id: u32, pin_value: &[u8]) -> Outcome {
    let what = if id == 3 { "PIN (for the signature key)" } else { "PIN" };
    csp.authenticate_ex(id, 0, pin_value).map(|_| ()).map_err(|(c, n)| Failure::pin(c, n, what))
}

/// Runs the self test of one container: authenticate its PIN (right before use for an
/// always-prompt PIN), sign a SHA-2 hash through `CardSignData` and verify it with the
/// certificate's public key; for ECDH keys, agree on a secret with a software ephemeral key.
pub(crate) fn self_test(csp: &Csp, c: &Container, pin_value: Option<&[u8]>, authenticated: &mut bool) -> SelfTest {
    match run_self_test(csp, c, pin_value, authenticated) {
        Ok(t) => t,
        Err(f) => SelfTest::Failed(f.message),
    }
}

fn run_self_test(csp: &Csp, c: &Container, pin_value: Option<&[u8]>, authenticated: &mut bool) -> Outcome<SelfTest> {
    let pin_id = c.pin_id.unwrap_or(pin::ROLE_USER);
    if pin_id != pin::ROLE_EVERYONE {
        let Some(p) = pin_value else {
            return Ok(SelfTest::Skipped(format!(
                "needs PIN {pin_id}: set {} or --pin-file (or pass --self-test to be asked)",
                secrets::PIN_ENV
            )));
        };
        let always = csp
            .get_property(prop::PIN_INFO, pin_id)
            .ok()
            .and_then(|i| dword_at(&i, 6))
            .is_some_and(|cache| cache == pin::CACHE_ALWAYS_PROMPT);
        if always || !*authenticated {
            authenticate(csp, pin_id, p)?;
            *authenticated = true;
        }
    }
    let key = keys::verification_key(c);
    if keys::is_ecdh(c.key_spec) {
        return agreement_test(csp, c, &key);
    }
    let hash = keys::hash_for(&key);
    let message = format!("mdtool self test, container {}", c.record.index);
    let digest = hash.digest(message.as_bytes());
    let signature =
        keys::sign(csp, c, hash, false, &digest).map_err(|code| Failure::code(code, "signing (CardSignData)"))?;
    let padding = match key {
        PublicKey::Rsa { .. } => "PKCS#1 v1.5",
        PublicKey::Ec { .. } => "ECDSA",
    };
    let source = if c.cert.is_some() { "the certificate's public key" } else { "the container's public key" };
    match keys::verify(&key, hash, false, &digest, &signature) {
        Ok(()) => Ok(SelfTest::Passed(format!(
            "sign + verify ok ({} {padding}, {} byte signature checked with {source})",
            hash.cng_name(),
            signature.len()
        ))),
        Err(why) => Ok(SelfTest::Failed(why)),
    }
}

/// `BCRYPT_ECCKEY_BLOB` (ECDH public magic) of an uncompressed point.
fn ecdh_blob(point: &[u8], field: usize) -> Option<Vec<u8>> {
    use minidriver::abi::crypt;
    let magic = match field {
        32 => crypt::ECDH_PUBLIC_P256_MAGIC,
        48 => crypt::ECDH_PUBLIC_P384_MAGIC,
        _ => crypt::ECDH_PUBLIC_P521_MAGIC,
    };
    let mut out = magic.to_le_bytes().to_vec();
    out.extend_from_slice(&u32::try_from(field).ok()?.to_le_bytes());
    out.extend_from_slice(point.get(1..)?);
    Some(out)
}

/// A software ephemeral key: (its public point, the shared secret with `peer`).
fn ephemeral(field: usize, peer: &[u8]) -> Option<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    use p256::elliptic_curve::Generate;
    match field {
        32 => {
            let secret = p256::ecdh::EphemeralSecret::try_generate().ok()?;
            let peer = p256::PublicKey::from_sec1_bytes(peer).ok()?;
            let shared = secret.diffie_hellman(&peer);
            let point = secret.public_key().to_sec1_bytes().to_vec();
            Some((point, Zeroizing::new(shared.raw_secret_bytes().to_vec())))
        }
        48 => {
            let secret = p384::ecdh::EphemeralSecret::try_generate().ok()?;
            let peer = p384::PublicKey::from_sec1_bytes(peer).ok()?;
            let shared = secret.diffie_hellman(&peer);
            let point = secret.public_key().to_sec1_bytes().to_vec();
            Some((point, Zeroizing::new(shared.raw_secret_bytes().to_vec())))
        }
        _ => None,
    }
}

fn agreement_test(csp: &Csp, c: &Container, key: &PublicKey) -> Outcome<SelfTest> {
    let PublicKey::Ec { field, point } = key else {
        return Ok(SelfTest::Failed("an ECDH container without an EC key".into()));
    };
    let Some((ours, expected)) = ephemeral(*field, point).filter(|(p, _)| p.len() == 1 + 2 * *field) else {
        return Ok(SelfTest::Skipped(format!("no software ECDH for {}", key.algorithm())));
    };
    let blob = ecdh_blob(&ours, *field).ok_or_else(|| Failure::msg("cannot encode the ephemeral key"))?;
    let index = c.record.index;
    let agreement = csp
        .construct_dh_agreement(index, &blob)
        .map_err(|code| Failure::code(code, "key agreement (CardConstructDHAgreement)"))?;
    let derived = csp.derive_key(agreement, "TRUNCATE", &[], 0, u32::try_from(*field).unwrap_or(0));
    let _ = csp.destroy_dh_agreement(agreement);
    let mut z = Zeroizing::new(derived.map_err(|code| Failure::code(code, "deriving the secret (CardDeriveKey)"))?);
    z.reverse();
    if *z == *expected {
        Ok(SelfTest::Passed(format!(
            "agreement ok (ECDH {} with a software ephemeral key: the same {}-byte secret)",
            key.algorithm(),
            z.len()
        )))
    } else {
        Ok(SelfTest::Failed("the card's ECDH secret differs from the software one".into()))
    }
}

/// Everything scinfo gathers.
struct Info {
    cardid: Option<Vec<u8>>,
    serial: Option<Vec<u8>>,
    cache_mode: Option<u32>,
    caps: Option<(bool, bool)>,
    read_only: Option<bool>,
    enrollment: Option<bool>,
    key_import: Option<u32>,
    algorithms: Vec<String>,
    key_sizes: Vec<(u32, [u32; 4])>,
    free: Option<(u32, u32, u32)>,
    pins: Vec<PinEntry>,
    containers: Vec<Container>,
    tests: Vec<SelfTest>,
    /// Why Windows enrollment (`CP_SUPPORTS_WIN_X509_ENROLLMENT`) is possible or not.
    enrollment_why: Option<String>,
}

/// Why `CP_SUPPORTS_WIN_X509_ENROLLMENT` says what it says: read-only mode, or for a PIV card
/// how its management key reaches a write (asked of the card directly, as the driver asks it).
fn enrollment_why(info: &Info, access: Option<card_edges::piv::ManagementKeyAccess>) -> Option<String> {
    if info.read_only == Some(true) {
        return Some("the card is in read-only mode".into());
    }
    match (access, info.enrollment) {
        (Some(a), _) => Some(crate::piv::explain(a).into()),
        (None, Some(true)) => Some("the card generates keys and takes certificates with the user PIN".into()),
        (None, _) => None,
    }
}

fn multi_string(b: &[u8]) -> Vec<String> {
    let units: Vec<u16> = b.chunks_exact(2).filter_map(|c| c.try_into().ok()).map(u16::from_le_bytes).collect();
    units.split(|u| *u == 0).filter(|s| !s.is_empty()).map(String::from_utf16_lossy).collect()
}

fn gather(csp: &Csp, pin_value: Option<&[u8]>) -> Outcome<Info> {
    let cardid = csp.read_file(None, "cardid").ok();
    let serial = csp.get_property(prop::SERIAL_NO, 0).ok().filter(|s| !s.is_empty());
    let cache_mode = dword_property(csp, prop::CACHE_MODE, 0).ok();
    let caps = csp.query_capabilities().ok();
    let read_only = dword_property(csp, prop::READ_ONLY, 0).ok().map(|v| v != 0);
    let enrollment = dword_property(csp, prop::X509_ENROLLMENT, 0).ok().map(|v| v != 0);
    let key_import = dword_property(csp, prop::KEY_IMPORT_SUPPORT, 0).ok();
    let algorithms = csp
        .get_property(prop::ENUM_ALGORITHMS, prop::ASYMMETRIC_OPERATION)
        .map(|b| multi_string(&b))
        .unwrap_or_default();
    let key_sizes = [
        keyspec::AT_KEYEXCHANGE,
        keyspec::AT_ECDSA_P256,
        keyspec::AT_ECDSA_P384,
        keyspec::AT_ECDHE_P256,
        keyspec::AT_ECDHE_P384,
    ]
    .iter()
    .filter_map(|s| csp.query_key_sizes(*s).ok().map(|k| (*s, k)))
    .collect();
    let free = csp.query_free_space().ok();
    let pins = pins(csp)?;
    let containers = keys::containers(csp)?;
    let mut tests = Vec::new();
    let mut authenticated = false;
    let mut stop: Option<String> = None;
    for c in &containers {
        let t = match &stop {
            Some(why) => SelfTest::Skipped(why.clone()),
            None => self_test(csp, c, pin_value, &mut authenticated),
        };
        if let SelfTest::Failed(why) = &t
            && (why.starts_with("wrong") || why.contains("blocked"))
        {
            stop = Some("not run after the PIN was refused (no more tries are spent)".into());
        }
        tests.push(t);
    }
    if authenticated {
        let _ = csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER) | pin::set_of(3));
    }
    Ok(Info {
        cardid,
        serial,
        cache_mode,
        caps,
        read_only,
        enrollment,
        key_import,
        algorithms,
        key_sizes,
        free,
        pins,
        containers,
        tests,
        enrollment_why: None,
    })
}

fn tries_text(t: Tries) -> String {
    match t {
        Tries::Left(1) => "1 try left".into(),
        Tries::Left(n) => format!("{n} tries left"),
        Tries::Blocked => "BLOCKED (unblock it: mdtool pin unblock)".into(),
        Tries::Verified => "verified".into(),
        Tries::NotReported => "tries not reported".into(),
    }
}

fn tries_json(t: Tries) -> Value {
    match t {
        Tries::Left(n) => json!(n),
        Tries::Blocked => json!(0),
        _ => Value::Null,
    }
}

fn key_sizes_text(spec: u32, s: [u32; 4]) -> String {
    let [min, default, max, inc] = s;
    let name = keys::key_spec_name(spec);
    if min == max { format!("{name} {min}") } else { format!("{name} {min}-{max} (default {default}, step {inc})") }
}

fn yes(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

fn container_json(c: &Container, t: Option<&SelfTest>) -> Value {
    let cert = c.cert.as_ref().map(|ci| {
        json!({
            "file": format!("mscp/{}", c.cert_file),
            "subject": ci.subject,
            "issuer": ci.issuer,
            "serial": ci.serial,
            "not_before": ci.not_before,
            "not_after": ci.not_after,
            "sha1": ci.sha1,
            "sha256": ci.sha256,
            "size": ci.der.len(),
        })
    });
    json!({
        "index": c.record.index,
        "name": c.record.name,
        "default": c.record.default,
        "key_spec": keys::key_spec_name(c.key_spec),
        "key_spec_value": c.key_spec,
        "algorithm": c.key.algorithm(),
        "key_size": c.key.bits(),
        "pin_id": c.pin_id,
        "certificate": cert,
        "self_test": t.map(SelfTest::json),
    })
}

/// `mdtool scinfo`.
///
/// # Errors
/// The card cannot be read; a self test failed (after everything was printed).
pub(crate) fn run(
    g: &Global,
    out: &mut Out,
    opened: &Opened,
    ask_pin: bool,
    access: Option<card_edges::piv::ManagementKeyAccess>,
) -> Outcome {
    let csp = &opened.csp;
    let pin_value = match secrets::given(secrets::PIN, g.pin_file.as_deref())? {
        Some(given) => Some(given),
        // Asked for, on the embedded simulated card: its PIN is published, nobody needs to type it.
        None if ask_pin && opened.source.is_sim() => Some(Zeroizing::new(crate::card::SIM_PIN.to_vec())),
        None if ask_pin => Some(secrets::obtain(secrets::PIN, g.pin_file.as_deref())?),
        None => None,
    };
    let mut info = gather(csp, pin_value.as_deref().map(|p| &p[..]))?;
    info.enrollment_why = enrollment_why(&info, access);
    let default = info.containers.iter().find(|c| c.record.default).map(|c| c.record.index);
    let failed = info.tests.iter().filter(|t| matches!(t, SelfTest::Failed(_))).count();
    let passed = info.tests.iter().filter(|t| matches!(t, SelfTest::Passed(_))).count();
    if out.json() {
        out.json_value(&json!({
            "reader": opened.source.reader_name(),
            "simulated": opened.source.is_sim(),
            "atr": hex::encode_upper(&opened.atr),
            "card": opened.card_name,
            "minidriver": { "linked": opened.linked, "card_data_version": csp.version() },
            "cardid": info.cardid.as_ref().map(hex::encode_upper),
            "card_guid": info.cardid.as_deref().map(guid_string),
            "serial_number": info.serial.as_ref().map(hex::encode_upper),
            "cache_mode": info.cache_mode.map(cache_mode_name),
            "capabilities": {
                "certificate_compression": info.caps.map(|c| c.0),
                "key_generation": info.caps.map(|c| c.1),
                "key_import": info.key_import.map(|v| v != 0),
                "read_only": info.read_only,
                "x509_enrollment": info.enrollment,
                "x509_enrollment_why": info.enrollment_why,
                "algorithms": info.algorithms,
            },
            "key_sizes": info.key_sizes.iter().map(|(s, k)| json!({
                "key_spec": keys::key_spec_name(*s), "min": k[0], "default": k[1], "max": k[2], "increment": k[3]
            })).collect::<Vec<_>>(),
            "free_space": info.free.map(|(b, a, m)| json!({ "bytes": b, "containers_available": a, "max_containers": m })),
            "pins": info.pins.iter().map(|p| json!({
                "id": p.id,
                "name": pin_label(p.id, p.purpose),
                "type": pin_type_name(p.pin_type),
                "purpose": purpose_name(p.purpose),
                "cache_policy": cache_name(p.cache),
                "change_by": set_names(p.change),
                "unblock_by": set_names(p.unblock),
                "verified": p.verified,
                "tries_left": tries_json(p.tries),
                "blocked": p.tries == Tries::Blocked,
            })).collect::<Vec<_>>(),
            "default_container": default,
            "containers": info.containers.iter().zip(&info.tests).map(|(c, t)| container_json(c, Some(t))).collect::<Vec<_>>(),
            "self_test": { "passed": passed, "failed": failed, "ran_with_pin": pin_value.is_some() },
        }));
    } else {
        print_text(out, opened, &info, default, passed, failed);
    }
    if failed > 0 {
        return Err(Failure::msg(format!("{failed} container self test(s) failed")));
    }
    Ok(())
}

fn print_text(out: &mut Out, opened: &Opened, info: &Info, default: Option<u8>, passed: usize, failed: usize) {
    let csp = &opened.csp;
    out.line(format!("Reader:          {}", opened.source.reader_name()));
    out.line(format!("ATR:             {}", hex::encode_upper(&opened.atr)));
    out.line(format!("Card:            {}", opened.card_name));
    out.line(format!(
        "Minidriver:      {} (CARD_DATA version {}), reached through its function table",
        if opened.linked { "linked" } else { "loaded library" },
        csp.version()
    ));
    if let Some(id) = &info.cardid {
        out.line(format!("Card ID:         {} (cardid {})", guid_string(id), hex::encode_upper(id)));
    }
    if let Some(s) = &info.serial {
        out.line(format!("Serial number:   {}", hex::encode_upper(s)));
    }
    if let Some(m) = info.cache_mode {
        out.line(format!("Cache mode:      {} ({m})", cache_mode_name(m)));
    }
    out.line(format!(
        "Capabilities:    certificate compression: {}, key generation: {}, secure key injection: {}, read-only: {}, \
         x.509 enrollment: {}",
        yes(info.caps.map(|c| c.0)),
        yes(info.caps.map(|c| c.1)),
        yes(info.key_import.map(|v| v != 0)),
        yes(info.read_only),
        yes(info.enrollment)
    ));
    if let (Some(possible), Some(why)) = (info.enrollment, info.enrollment_why.as_deref()) {
        let verdict = if possible { "possible with the user PIN" } else { "not possible with the user PIN" };
        out.line(format!("Enrollment:      {verdict}: {why}"));
    }
    if !info.algorithms.is_empty() {
        out.line(format!("Algorithms:      {}", info.algorithms.join(", ")));
    }
    if !info.key_sizes.is_empty() {
        let s: Vec<String> = info.key_sizes.iter().map(|(spec, k)| key_sizes_text(*spec, *k)).collect();
        out.line(format!("Key sizes:       {}", s.join("; ")));
    }
    if let Some((bytes, avail, max)) = info.free {
        let n = |v: u32| if v == u32::MAX { "?".to_owned() } else { v.to_string() };
        let bytes = if bytes == u32::MAX { "bytes not reported".to_owned() } else { format!("{bytes} bytes") };
        out.line(format!("Free space:      {} of {} containers free, {bytes}", n(avail), n(max)));
    }
    out.line("PINs:");
    for p in &info.pins {
        let mut line = format!(
            "  {} {} ({}, {}, {})",
            p.id,
            pin_label(p.id, p.purpose),
            pin_type_name(p.pin_type),
            purpose_name(p.purpose),
            cache_name(p.cache)
        );
        if p.pin_type == pin::ALPHANUMERIC {
            line.push_str(&format!(": {}", tries_text(if p.verified { Tries::Verified } else { p.tries })));
        }
        out.line(line);
    }
    out.line(format!(
        "Containers:      {} (default: {})",
        info.containers.len(),
        default.map_or("none".to_owned(), |d| d.to_string())
    ));
    for (c, t) in info.containers.iter().zip(&info.tests) {
        let slot = match card_edges::piv::Slot::from_container_index(usize::from(c.record.index)) {
            Some(s) if opened.card_name == card_edges::detect::CardEdge::Piv.windows_card_name() => {
                format!(" (PIV slot {:02X})", s.key_ref())
            }
            _ => String::new(),
        };
        let dflt = if c.record.default { ", default container" } else { "" };
        out.line(format!("  [{}] {}{slot}{dflt}", c.record.index, c.record.name));
        out.line(format!("      key:         {}, {}", keys::key_spec_name(c.key_spec), keys::describe(&c.key)));
        if let Some(id) = c.pin_id {
            let what = match info.pins.iter().find(|p| p.id == id) {
                _ if id == pin::ROLE_EVERYONE => "none needed".to_owned(),
                Some(p) if p.cache == pin::CACHE_ALWAYS_PROMPT => {
                    format!("{}, verified right before each use", p.name())
                }
                Some(p) => p.name().to_owned(),
                None => "not listed".to_owned(),
            };
            out.line(format!("      PIN:         {id} ({what})"));
        }
        match &c.cert {
            Some(ci) => {
                out.line(format!("      certificate: mscp/{} ({} bytes)", c.cert_file, ci.der.len()));
                out.line(format!("        subject:   {}", ci.subject));
                out.line(format!("        issuer:    {}", ci.issuer));
                out.line(format!("        valid:     {} to {}", ci.not_before, ci.not_after));
                out.line(format!("        serial:    {}", ci.serial));
                out.line(format!("        SHA-1:     {}", ci.sha1));
            }
            None => out.line(format!("      certificate: none (mscp/{} absent)", c.cert_file)),
        }
        out.line(format!("      self test:   {}", t.text()));
    }
    let total = info.tests.len();
    out.line(format!(
        "Self test:       {passed} of {total} containers passed{}",
        if failed > 0 { format!(", {failed} FAILED") } else { String::new() }
    ));
}
