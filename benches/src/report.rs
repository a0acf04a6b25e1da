//! The APDU report: what each user-visible flow costs on each card shape, in APDUs and bytes,
//! through the minidriver's function table exactly as a Base CSP calls it (the linked driver,
//! the CSP stand-in of `mdtool::csp`, an in-memory simulated card: the same driver code and the
//! same APDUs as through pcscd). Each row stands beside its physical minimum and, where one was
//! measured, OpenSC 0.23's count on the same card shape; each has a budget that tests hold it to.
//!
//! Physical minimums (what no driver can avoid) are derived per flow in [`minimum`]: one APDU
//! per object that must be read, times the short-APDU answers it needs (`ceil(len / 256)`;
//! one with extended APDUs), plus the SELECTs discovery needs and one APDU per command that
//! acts (VERIFY, MSE, PSO, GENERAL AUTHENTICATE, CREATE FILE, PUT DATA...).

use std::sync::{Arc, Mutex};

use card_edges::transport::memory::MemoryCard;
use card_sim::gids::{ContainerKey, GidsSim};
use card_sim::{PivSim, SimCounters, TraceEntry};
use mdtool::csp::session::{self, Listing};
use mdtool::csp::{AcquireOptions, Csp, CspCache, Driver, Target};
use minidriver::abi::{crypt, keyspec, misc, pin};

/// A card shape of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The default simulated PIV card, extended APDUs: 4 keys with certificates.
    PivExtended,
    /// The same card with short APDUs only (the third-party PIV card of OpenSC's measurement).
    PivShort,
    /// One RSA-2048 key and certificate in 9A, short APDUs only.
    PivOneKey,
    /// The default simulated GIDS card: RSA-2048 and RSA-3072 containers with certificates.
    Gids,
    /// One RSA-2048 container with its certificate (the GIDS applet of OpenSC's measurement).
    GidsOneKey,
}

impl Shape {
    /// Every shape, in report order.
    pub const ALL: [Self; 5] = [Self::PivExtended, Self::PivShort, Self::PivOneKey, Self::Gids, Self::GidsOneKey];

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Self::PivExtended => "PIV, 4 keys, extended",
            Self::PivShort => "PIV, 4 keys, short",
            Self::PivOneKey => "PIV, 1 RSA key, short",
            Self::Gids => "GIDS, 2 RSA keys",
            Self::GidsOneKey => "GIDS, 1 RSA key",
        }
    }

    fn is_gids(self) -> bool {
        matches!(self, Self::Gids | Self::GidsOneKey)
    }
}

/// A simulated card of either edge.
#[derive(Clone, Debug)]
enum Sim {
    Piv(PivSim),
    Gids(GidsSim),
}

impl Sim {
    fn new(shape: Shape) -> Result<Self, String> {
        let e = |e: card_sim::Error| e.to_string();
        Ok(match shape {
            Shape::PivExtended => Self::Piv(PivSim::default_card().map_err(e)?),
            Shape::PivShort => {
                let s = PivSim::default_card().map_err(e)?;
                s.set_extended_length(false);
                Self::Piv(s)
            }
            Shape::PivOneKey => Self::Piv(
                PivSim::builder(b"apdu report: one key")
                    .key(0x9A, test_vectors::keys::RSA_2048_A, Some(test_vectors::certs::PIV_AUTH_9A))
                    .extended_length(false)
                    .build()
                    .map_err(e)?,
            ),
            Shape::Gids => Self::Gids(GidsSim::default_card().map_err(e)?),
            Shape::GidsOneKey => Self::Gids(
                GidsSim::builder(b"apdu report: one key")
                    .container(ContainerKey::Fixed(test_vectors::keys::RSA_2048_B.to_vec()), true)
                    .build()
                    .map_err(e)?,
            ),
        })
    }

    fn counters(&self) -> SimCounters {
        match self {
            Self::Piv(s) => s.counters(),
            Self::Gids(s) => s.counters(),
        }
    }

    fn trace(&self, on: bool) -> Vec<TraceEntry> {
        match self {
            Self::Piv(s) => {
                let t = s.take_trace();
                s.set_trace(on);
                t
            }
            Self::Gids(s) => {
                let t = s.take_trace();
                s.set_trace(on);
                t
            }
        }
    }

    fn connect(&self) -> MemoryCard {
        match self {
            Self::Piv(s) => MemoryCard::new(s.clone()),
            Self::Gids(s) => MemoryCard::new(s.clone()),
        }
    }
}

/// One measured flow on one card shape.
#[derive(Clone, Debug)]
pub struct Row {
    /// The flow.
    pub flow: &'static str,
    /// The card shape.
    pub shape: Shape,
    /// APDUs this driver sent.
    pub apdus: u64,
    /// Bytes both ways.
    pub bytes: u64,
    /// The physical minimum in APDUs.
    pub minimum: u64,
    /// OpenSC 0.23's count on this card shape, where measured.
    pub opensc: Option<u64>,
    /// The budget tests hold the count to.
    pub budget: u64,
}

/// Short-APDU answers a response of `len` data bytes needs.
fn answers(len: usize, extended: bool) -> u64 {
    if extended { 1 } else { u64::try_from(len.div_ceil(256).max(1)).unwrap_or(u64::MAX) }
}

/// The physical minimum of a traced flow. Every logical command costs the chained parts its
/// data needs plus the answers its response needs (`ceil(len / 256)` in short APDUs, one with
/// extended ones); a read (SELECT, GET DATA, READ BINARY) of something already read in the flow
/// costs nothing, since a driver could have kept it. What is left is what no driver can avoid
/// for the same commands.
fn minimum(trace: &[TraceEntry], extended: bool) -> u64 {
    let clean = |s: &str| s.replace(' ', "");
    // Hex data before the status word, or a redacted secret's "<N bytes redacted>".
    let data_len = |rsp: &str| match rsp.split_once('<') {
        Some((_, rest)) => rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0),
        None => clean(rsp).len().saturating_sub(4) / 2,
    };
    let mut total = 0;
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(t) = trace.get(i) {
        let cmd = clean(&t.command);
        let mut parts = 0u64;
        let mut j = i;
        // Chained parts (CLA with bit 10) until the final part.
        while trace.get(j).is_some_and(|p| clean(&p.command).starts_with("10")) && j + 1 < trace.len() {
            parts += 1;
            j += 1;
        }
        let last = trace.get(j).map(|p| clean(&p.command)).unwrap_or_default();
        let mut len = trace.get(j).map_or(0, |p| data_len(&p.response));
        let mut k = j + 1;
        while trace.get(k).is_some_and(|g| clean(&g.command).get(2..4) == Some("C0")) {
            len += trace.get(k).map_or(0, |g| data_len(&g.response));
            k += 1;
        }
        let is_read = matches!(last.get(2..4), Some("CB" | "CA" | "B0" | "A4"));
        let key = format!("{cmd}|{last}");
        if is_read && seen.contains(&key) {
            // Read again: avoidable.
        } else {
            if is_read {
                seen.push(key);
            }
            total += parts + answers(len, extended);
        }
        i = k.max(i + 1);
    }
    total
}

/// A context on `sim` with the shared `cache`.
fn acquire(sim: &Sim, cache: &Arc<Mutex<CspCache>>) -> Result<Csp, String> {
    let options = AcquireOptions { cache: Some(cache.clone()), ..AcquireOptions::default() };
    Csp::acquire(&Driver::linked(), Target::Transport(Box::new(sim.connect())), &options)
        .map_err(|c| format!("CardAcquireContext: {c}"))
}

const PIN_VALUE: &[u8] = b"123456";
const ADMIN_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];

/// The administrator's answer to a challenge: 3DES-ECB of it under the default key (PIV's 9B
/// and GIDS's administrator key alike).
fn admin(csp: &Csp) -> Result<(), String> {
    use cipher::{Array, BlockCipherEncrypt, KeyInit};
    let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).map_err(|c| format!("challenge: {c}"))?;
    let tdes = des::TdesEde3::new_from_slice(&ADMIN_KEY).map_err(|_| "3DES key".to_owned())?;
    let mut block = Array::try_from(challenge.as_slice()).map_err(|_| "challenge size".to_owned())?;
    tdes.encrypt_block(&mut block);
    csp.authenticate_ex(pin::ROLE_ADMIN, 0, &block).map(|_| ()).map_err(|(c, _)| format!("admin: {c}"))
}

/// Measures `flow` (run after `setup`) on a fresh card of `shape`.
fn measure(
    shape: Shape,
    flow: &'static str,
    setup: impl FnOnce(&Sim, &Arc<Mutex<CspCache>>) -> Result<Option<Listed>, String>,
    run: impl FnOnce(&Sim, &Arc<Mutex<CspCache>>, Option<Listed>) -> Result<(), String>,
) -> Result<(SimCounters, u64), String> {
    let sim = Sim::new(shape)?;
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let ready = setup(&sim, &cache)?;
    sim.trace(true);
    let before = sim.counters();
    run(&sim, &cache, ready).map_err(|e| format!("{flow} on {}: {e}", shape.title()))?;
    let used = sim.counters().since(before);
    let trace = sim.trace(false);
    let extended = shape == Shape::PivExtended;
    Ok((used, minimum(&trace, extended)))
}

/// A context that has read what a CSP reads at its start.
struct Listed {
    csp: Csp,
    listing: Listing,
}

fn listed(sim: &Sim, cache: &Arc<Mutex<CspCache>>) -> Result<Option<Listed>, String> {
    let csp = acquire(sim, cache)?;
    let listing = session::list(&csp)?;
    Ok(Some(Listed { csp, listing }))
}

fn container(listing: &Listing, spec: u32) -> Option<u8> {
    listing.containers.iter().find(|c| c.key_spec == spec && c.certificate.is_some()).map(|c| c.index)
}

/// The rows of one shape.
///
/// # Errors
/// A flow failed (a driver bug: the report is also a test).
pub fn rows(shape: Shape) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    let mut row = |flow, (c, minimum): (SimCounters, u64), opensc, budget| {
        out.push(Row { flow, shape, apdus: c.apdus, bytes: c.bytes(), minimum, opensc, budget });
    };
    let (opensc_list, opensc_sign) = match shape {
        Shape::PivShort => (Some(34), Some(46 - 34)),
        Shape::PivOneKey => (Some(27), Some(39 - 27)),
        Shape::GidsOneKey => (Some(18), Some(24 - 18)),
        _ => (None, None),
    };
    // Cold listing: acquire, cardcf, cardid, cmapfile, every container's key and certificate.
    let cold = measure(
        shape,
        "cold listing",
        |_, _| Ok(None),
        |sim, cache, _| {
            // In a process that has not seen this card's ATR before.
            minidriver::forget_hints();
            let csp = acquire(sim, cache)?;
            csp.read_file(None, "cardcf").map_err(|c| format!("cardcf: {c}"))?;
            csp.read_file(None, "cardid").map_err(|c| format!("cardid: {c}"))?;
            let cmap = csp.read_file(Some("mscp"), "cmapfile").map_err(|c| format!("cmapfile: {c}"))?;
            for (i, record) in cmap.chunks_exact(86).enumerate() {
                if record.get(80).is_none_or(|f| f & 1 == 0) {
                    continue;
                }
                let index = u8::try_from(i).map_err(|_| "index")?;
                let (sig, _) = csp.container_info(index).map_err(|c| format!("container {index}: {c}"))?;
                let file = format!("{}{index:02x}", if sig.is_empty() { "kxc" } else { "ksc" });
                csp.read_file(Some("mscp"), &file).map_err(|c| format!("{file}: {c}"))?;
            }
            Ok(())
        },
    )?;
    let cold_budget = match shape {
        Shape::PivExtended => 7,
        Shape::PivShort => 19,
        Shape::PivOneKey => 11,
        Shape::Gids => 14,
        Shape::GidsOneKey => 10,
    };
    row("cold listing", cold, opensc_list, cold_budget);
    // A second context after a whole session (PIN, every signature and decryption,
    // deauthentication, delete): the listing part.
    let second = measure(
        shape,
        "second context",
        |sim, cache| {
            let csp = acquire(sim, cache)?;
            let listing = session::list(&csp)?;
            session::sign_and_decrypt(&csp, &listing, PIN_VALUE)?;
            Ok(None)
        },
        |sim, cache, _| session::list(&acquire(sim, cache)?).map(|_| ()),
    )?;
    row("second context after a full session", second, None, 2);
    // PIN + sign, for each key type the card has.
    let keys: &[(&'static str, u32, u32)] = if shape.is_gids() {
        &[
            ("PIN + sign, RSA-2048", keyspec::AT_KEYEXCHANGE, 2048),
            ("PIN + sign, RSA-3072", keyspec::AT_KEYEXCHANGE, 3072),
        ]
    } else if shape == Shape::PivOneKey {
        &[("PIN + sign, RSA-2048", keyspec::AT_KEYEXCHANGE, 2048)]
    } else {
        &[
            ("PIN + sign, RSA-2048", keyspec::AT_KEYEXCHANGE, 2048),
            ("PIN + sign, P-256 (9C, PIN always)", keyspec::AT_ECDSA_P256, 256),
        ]
    };
    for &(flow, spec, bits) in keys {
        let index = if bits == 3072 { Some(1) } else { None };
        if bits == 3072 && shape == Shape::GidsOneKey {
            continue;
        }
        let measured = measure(shape, flow, listed, |_, _, ready| {
            let Listed { csp, listing } = ready.ok_or("no context")?;
            let index = index.or_else(|| container(&listing, spec)).ok_or("no such key")?;
            let c = listing.containers.iter().find(|c| c.index == index).ok_or("no such container")?;
            csp.authenticate_ex(c.pin, 0, PIN_VALUE).map_err(|(code, _)| format!("PIN: {code}"))?;
            let (alg, hash) =
                if spec == keyspec::AT_KEYEXCHANGE { (crypt::CALG_SHA_256, [7u8; 32]) } else { (0, [7u8; 32]) };
            csp.sign_data(index, c.key_spec, alg, 0, &hash, None).map(|_| ()).map_err(|code| format!("sign: {code}"))
        })?;
        // VERIFY and the one GENERAL AUTHENTICATE (PIV), or VERIFY, MSE and PSO (GIDS); short
        // APDUs add a chained part and a GET RESPONSE for RSA-2048 on PIV (its 7C template
        // exceeds 255 bytes both ways) and one GET RESPONSE for RSA-3072 on GIDS.
        let budget = match (shape, bits) {
            (Shape::PivExtended, _) | (_, 256) => 2,
            (_, 3072) => 4,
            (s, _) if s.is_gids() => 3,
            _ => 4,
        };
        row(flow, measured, if bits == 2048 { opensc_sign } else { None }, budget);
    }
    // Decrypt with the first key-exchange RSA key.
    let decrypt = measure(shape, "decrypt", listed, |_, _, ready| {
        let Listed { csp, listing } = ready.ok_or("no context")?;
        let c = listing
            .containers
            .iter()
            .find(|c| {
                c.key_spec == keyspec::AT_KEYEXCHANGE
                    && c.certificate.is_some()
                    && (shape.is_gids() || c.index == 2 || shape == Shape::PivOneKey)
            })
            .ok_or("no RSA key exchange key")?;
        csp.authenticate_ex(c.pin, 0, PIN_VALUE).map_err(|(code, _)| format!("PIN: {code}"))?;
        let cert = c.certificate.as_deref().ok_or("no certificate")?;
        let public = card_edges::key::PublicKey::from_certificate(cert).map_err(|e| e.to_string())?;
        let key = card_edges::crypto::public_key_from_spki(public.spki()).map_err(|e| e.to_string())?;
        let mut ct = key
            .encrypt(&mut rand_core::UnwrapErr(getrandom::SysRng), rsa::Pkcs1v15Encrypt, b"report")
            .map_err(|_| "encrypt")?;
        ct.reverse();
        csp.rsa_decrypt(c.index, &ct, 2, &mdtool::csp::Padding::Pkcs1(None))
            .map(|_| ())
            .map_err(|code| format!("decrypt: {code}"))
    })?;
    // VERIFY and GENERAL AUTHENTICATE (PIV, chained and drained in short APDUs), or VERIFY,
    // MSE and the decipher in two chained parts (GIDS).
    row("PIN + decrypt, RSA-2048", decrypt, None, if shape == Shape::PivExtended { 2 } else { 4 });
    // Key generation and a certificate written for the new key.
    let keygen = measure(shape, "keygen", listed, |_, _, ready| {
        let csp = ready.ok_or("no context")?.csp;
        let (index, file) = if shape.is_gids() { (2, "kxc02") } else { (4, "kxc04") };
        if shape.is_gids() {
            csp.authenticate_ex(pin::ROLE_USER, 0, PIN_VALUE).map_err(|(code, _)| format!("PIN: {code}"))?;
        } else {
            admin(&csp)?;
        }
        csp.create_container(index, misc::CREATE_CONTAINER_KEY_GEN, keyspec::AT_KEYEXCHANGE, 2048, None)
            .map_err(|code| format!("keygen: {code}"))?;
        let (_, blob) = csp.container_info(index).map_err(|code| format!("container info: {code}"))?;
        let n: Vec<u8> = blob.get(20..).unwrap_or_default().iter().rev().copied().collect();
        let public = card_edges::key::PublicKey::from_rsa_components(&n, &[1, 0, 1]).map_err(|e| e.to_string())?;
        let cert = card_sim::issue_certificate("CN=APDU report", public.spki()).map_err(|e| e.to_string())?;
        let data = if shape.is_gids() {
            csp.create_file(Some("mscp"), file, 0, 1).map_err(|code| format!("create {file}: {code}"))?;
            compress(&cert)?
        } else {
            cert
        };
        csp.write_file(Some("mscp"), file, &data).map_err(|code| format!("write {file}: {code}"))
    })?;
    // PIV: the management key's algorithm (metadata), mutual authentication (2), GENERATE, the
    // certificate's PUT DATA (chained in short APDUs) and the key history. GIDS: VERIFY, the
    // keymap read, cardcf bumps, CREATE FILE, ACTIVATE, GENERATE (+ GET RESPONSE), keymap and
    // cmapfile writes (chained), then the master file record and the certificate object.
    let keygen_budget = match shape {
        Shape::PivExtended => 6,
        s if s.is_gids() => 19,
        _ => 10,
    };
    row("key generation + certificate write", keygen, None, keygen_budget);
    Ok(out)
}

/// The Base CSP's compressed certificate form: `01 00 | LE16 length | zlib(DER)`.
fn compress(der: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let len = u16::try_from(der.len()).map_err(|_| "certificate too long")?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(der).map_err(|e| e.to_string())?;
    let mut out = vec![0x01, 0x00];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&z.finish().map_err(|e| e.to_string())?);
    Ok(out)
}

/// ECDH + KDF on a PIV card with a P-256 key management key (GIDS keys are RSA only).
///
/// # Errors
/// A flow failed.
pub fn ecdh_row() -> Result<Row, String> {
    let sim = Sim::Piv(
        PivSim::builder(b"apdu report: ecdh")
            .generate(0x9D, card_sim::KeyAlgorithm::EccP256)
            .build()
            .map_err(|e| e.to_string())?,
    );
    let cache = Arc::new(Mutex::new(CspCache::default()));
    let csp = listed(&sim, &cache)?.ok_or("no context")?.csp;
    sim.trace(true);
    let before = sim.counters();
    csp.authenticate_ex(pin::ROLE_USER, 0, PIN_VALUE).map_err(|(code, _)| format!("PIN: {code}"))?;
    let ours = p256::SecretKey::from_slice(&[0x21; 32]).map_err(|_| "key")?;
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&ours.public_key(), false);
    let mut blob = crypt::ECDH_PUBLIC_P256_MAGIC.to_le_bytes().to_vec();
    blob.extend_from_slice(&32u32.to_le_bytes());
    blob.extend_from_slice(point.as_bytes().get(1..).unwrap_or_default());
    let agreement = csp.construct_dh_agreement(2, &blob).map_err(|c| format!("agreement: {c}"))?;
    let hash: Vec<u8> = "SHA256".encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
    csp.derive_key(agreement, "HASH", &[(0, hash)], 0, 32).map_err(|c| format!("derive: {c}"))?;
    let used = sim.counters().since(before);
    let trace = sim.trace(false);
    Ok(Row {
        flow: "PIN + ECDH + KDF, P-256",
        shape: Shape::PivExtended,
        apdus: used.apdus,
        bytes: used.bytes(),
        minimum: minimum(&trace, true),
        opensc: None,
        budget: 2,
    })
}

/// Every row of the report.
///
/// # Errors
/// A flow failed.
pub fn all_rows() -> Result<Vec<Row>, String> {
    let mut rows_out = Vec::new();
    for shape in Shape::ALL {
        rows_out.extend(rows(shape)?);
    }
    rows_out.push(ecdh_row()?);
    Ok(rows_out)
}

/// The report as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| flow | card | APDUs | bytes | minimum | OpenSC 0.23 | budget |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let opensc = r.opensc.map_or("-".to_owned(), |n| n.to_string());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.flow,
            r.shape.title(),
            r.apdus,
            r.bytes,
            r.minimum,
            opensc,
            r.budget
        ));
    }
    out
}
