//! Key containers as the Base CSP sees them: `mscp/cmapfile` records, `CardGetContainerInfo`
//! public key blobs, the container's PIN and its certificate file; and software verification
//! with the certificate's public key (RustCrypto, independent of the card edge's code).

use der::{Decode, Encode};
use mdtool::csp::{Code, Csp, Padding};
use minidriver::abi::{crypt, keyspec, prop};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::errors::{Failure, Outcome};

/// One `CONTAINER_MAP_RECORD` is 86 bytes.
const RECORD_LEN: usize = 86;
/// `CONTAINER_MAP_VALID_CONTAINER`.
const FLAG_VALID: u8 = 1;
/// `CONTAINER_MAP_DEFAULT_CONTAINER`.
const FLAG_DEFAULT: u8 = 2;
/// `PUBLICKEYBLOB`.
const PUBLICKEYBLOB: u8 = 6;
/// "RSA1".
const RSA1: u32 = 0x3141_5352;

/// A `cmapfile` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Container index (the record's position).
    pub(crate) index: u8,
    /// Container name (`wszGuid`).
    pub(crate) name: String,
    /// The default container.
    pub(crate) default: bool,
    /// `wSigKeySizeBits`.
    pub(crate) sig_bits: u16,
    /// `wKeyExchangeKeySizeBits`.
    pub(crate) kx_bits: u16,
}

/// The valid records of a `cmapfile`.
pub(crate) fn parse_cmapfile(bytes: &[u8]) -> Vec<Record> {
    bytes
        .chunks_exact(RECORD_LEN)
        .enumerate()
        .filter_map(|(i, r)| {
            let flags = *r.get(80)?;
            if flags & FLAG_VALID == 0 {
                return None;
            }
            let units: Vec<u16> = r
                .get(..80)?
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
                .take_while(|u| *u != 0)
                .collect();
            let word = |at: usize| Some(u16::from_le_bytes([*r.get(at)?, *r.get(at + 1)?]));
            Some(Record {
                index: u8::try_from(i).ok()?,
                name: String::from_utf16_lossy(&units),
                default: flags & FLAG_DEFAULT != 0,
                sig_bits: word(82)?,
                kx_bits: word(84)?,
            })
        })
        .collect()
}

/// A container's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// RSA: big-endian modulus and exponent.
    Rsa {
        /// Modulus, big-endian.
        n: Vec<u8>,
        /// Public exponent.
        e: u32,
        /// Modulus length in bits.
        bits: u32,
    },
    /// ECC: the curve's field size in bytes (32: P-256, 48: P-384, 66: P-521) and `04 || X || Y`.
    Ec {
        /// Field size in bytes.
        field: usize,
        /// Uncompressed point.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// Key size in bits.
    pub(crate) fn bits(&self) -> u32 {
        match self {
            Self::Rsa { bits, .. } => *bits,
            Self::Ec { field: 66, .. } => 521,
            Self::Ec { field, .. } => u32::try_from(*field * 8).unwrap_or(0),
        }
    }

    /// "RSA", "P-256", ...
    pub(crate) fn algorithm(&self) -> String {
        match self {
            Self::Rsa { .. } => "RSA".into(),
            Self::Ec { .. } => format!("P-{}", self.bits()),
        }
    }

    /// The RustCrypto RSA key.
    fn rsa(&self) -> Option<rsa::RsaPublicKey> {
        match self {
            Self::Rsa { n, e, .. } => {
                rsa::RsaPublicKey::new(rsa::BoxedUint::from_be_slice_vartime(n), rsa::BoxedUint::from(u64::from(*e)))
                    .ok()
            }
            Self::Ec { .. } => None,
        }
    }
}

/// Decodes a `CardGetContainerInfo` blob: a CAPI `PUBLICKEYBLOB` or a `BCRYPT_ECCKEY_BLOB`.
pub(crate) fn parse_blob(blob: &[u8]) -> Option<PublicKey> {
    let dword = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(blob.get(at..at + 4)?.try_into().ok()?)) };
    if blob.first() == Some(&PUBLICKEYBLOB) && dword(8) == Some(RSA1) {
        let bits = dword(12)?;
        let e = dword(16)?;
        let len = usize::try_from(bits.div_ceil(8)).ok()?;
        let mut n = blob.get(20..20 + len)?.to_vec();
        n.reverse();
        return Some(PublicKey::Rsa { n, e, bits });
    }
    let field = usize::try_from(dword(4)?).ok()?;
    let xy = blob.get(8..)?;
    if ![32, 48, 66].contains(&field) || xy.len() != 2 * field {
        return None;
    }
    let mut point = vec![0x04];
    point.extend_from_slice(xy);
    Some(PublicKey::Ec { field, point })
}

/// A key spec's name.
pub(crate) fn key_spec_name(spec: u32) -> &'static str {
    match spec {
        keyspec::AT_KEYEXCHANGE => "AT_KEYEXCHANGE",
        keyspec::AT_SIGNATURE => "AT_SIGNATURE",
        keyspec::AT_ECDSA_P256 => "AT_ECDSA_P256",
        keyspec::AT_ECDSA_P384 => "AT_ECDSA_P384",
        keyspec::AT_ECDSA_P521 => "AT_ECDSA_P521",
        keyspec::AT_ECDHE_P256 => "AT_ECDHE_P256",
        keyspec::AT_ECDHE_P384 => "AT_ECDHE_P384",
        keyspec::AT_ECDHE_P521 => "AT_ECDHE_P521",
        _ => "unknown",
    }
}

/// Whether a key spec is an ECDH one.
pub(crate) fn is_ecdh(spec: u32) -> bool {
    matches!(spec, keyspec::AT_ECDHE_P256 | keyspec::AT_ECDHE_P384 | keyspec::AT_ECDHE_P521)
}

/// Certificate details.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    /// The DER.
    pub(crate) der: Vec<u8>,
    /// Subject (RFC 4514).
    pub(crate) subject: String,
    /// Issuer (RFC 4514).
    pub(crate) issuer: String,
    /// Serial number, hex.
    pub(crate) serial: String,
    /// Not before (RFC 3339).
    pub(crate) not_before: String,
    /// Not after (RFC 3339).
    pub(crate) not_after: String,
    /// SHA-1 thumbprint, hex (what certutil prints as "Cert Hash(sha1)").
    pub(crate) sha1: String,
    /// SHA-256 thumbprint, hex.
    pub(crate) sha256: String,
    /// DER SubjectPublicKeyInfo.
    pub(crate) spki: Vec<u8>,
    /// Key usage: (digitalSignature, keyEncipherment), when the extension is present.
    pub(crate) usage: Option<(bool, bool)>,
}

/// Parses a certificate.
pub(crate) fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let cert = Certificate::from_der(der).ok()?;
    let tbs = cert.tbs_certificate();
    let spki = tbs.subject_public_key_info().to_der().ok()?;
    let usage = tbs
        .get_extension::<x509_cert::ext::pkix::KeyUsage>()
        .ok()
        .flatten()
        .map(|(_, ku)| (ku.digital_signature(), ku.key_encipherment()));
    Some(CertInfo {
        der: der.to_vec(),
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial: hex::encode_upper(tbs.serial_number().as_bytes()),
        not_before: tbs.validity().not_before.to_date_time().to_string(),
        not_after: tbs.validity().not_after.to_date_time().to_string(),
        sha1: hex::encode_upper(Sha1::digest(der)),
        sha256: hex::encode_upper(Sha256::digest(der)),
        spki,
        usage,
    })
}

/// The public key of a DER SubjectPublicKeyInfo.
pub(crate) fn key_of_spki(spki_der: &[u8]) -> Option<PublicKey> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    let bits = spki.subject_public_key.as_bytes()?;
    match spki.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => {
            let key = <rsa::RsaPublicKey as rsa::pkcs1::DecodeRsaPublicKey>::from_pkcs1_der(bits).ok()?;
            let n = key.n().to_be_bytes_trimmed_vartime().to_vec();
            let e =
                u32::try_from(key.e().to_be_bytes_trimmed_vartime().iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
                    .ok()?;
            let bits = key.n().bits_vartime();
            Some(PublicKey::Rsa { n, e, bits })
        }
        "1.2.840.10045.2.1" => {
            let field = match bits.len() {
                65 => 32,
                97 => 48,
                133 => 66,
                _ => return None,
            };
            Some(PublicKey::Ec { field, point: bits.to_vec() })
        }
        _ => None,
    }
}

/// Everything the CSP knows about one container.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    /// The `cmapfile` record.
    pub(crate) record: Record,
    /// `dwKeySpec` of its key.
    pub(crate) key_spec: u32,
    /// Its public key, from `CardGetContainerInfo`.
    pub(crate) key: PublicKey,
    /// `CCP_PIN_IDENTIFIER`.
    pub(crate) pin_id: Option<u32>,
    /// The certificate file's name (`kxc00`).
    pub(crate) cert_file: String,
    /// The certificate, when the file exists.
    pub(crate) cert: Option<CertInfo>,
}

/// The key spec a `CONTAINER_INFO` implies.
fn spec_of(sig: Option<&PublicKey>, kx: Option<&PublicKey>, sig_blob: &[u8], kx_blob: &[u8]) -> Option<u32> {
    let magic = |b: &[u8]| b.get(..4).and_then(|m| m.try_into().ok()).map(u32::from_le_bytes);
    if let Some(k) = sig {
        return Some(match (k, magic(sig_blob)) {
            (PublicKey::Rsa { .. }, _) => keyspec::AT_SIGNATURE,
            (PublicKey::Ec { field: 32, .. }, _) => keyspec::AT_ECDSA_P256,
            (PublicKey::Ec { field: 48, .. }, _) => keyspec::AT_ECDSA_P384,
            (PublicKey::Ec { .. }, _) => keyspec::AT_ECDSA_P521,
        });
    }
    let k = kx?;
    Some(match (k, magic(kx_blob)) {
        (PublicKey::Rsa { .. }, _) => keyspec::AT_KEYEXCHANGE,
        (PublicKey::Ec { .. }, Some(crypt::ECDSA_PUBLIC_P256_MAGIC)) => keyspec::AT_ECDSA_P256,
        (PublicKey::Ec { .. }, Some(crypt::ECDSA_PUBLIC_P384_MAGIC)) => keyspec::AT_ECDSA_P384,
        (PublicKey::Ec { field: 32, .. }, _) => keyspec::AT_ECDHE_P256,
        (PublicKey::Ec { field: 48, .. }, _) => keyspec::AT_ECDHE_P384,
        (PublicKey::Ec { .. }, _) => keyspec::AT_ECDHE_P521,
    })
}

/// The certificate file name of a container: `kscNN` for signature keys, `kxcNN` otherwise.
pub(crate) fn cert_file(index: u8, key_spec: u32) -> String {
    let signature = matches!(
        key_spec,
        keyspec::AT_SIGNATURE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384 | keyspec::AT_ECDSA_P521
    );
    format!("{}{index:02x}", if signature { "ksc" } else { "kxc" })
}

/// The valid `cmapfile` records.
///
/// # Errors
/// The file cannot be read.
pub(crate) fn records(csp: &Csp) -> Outcome<Vec<Record>> {
    let cmap = csp.read_file(Some("mscp"), "cmapfile").map_err(|c| Failure::code(c, "reading mscp/cmapfile"))?;
    Ok(parse_cmapfile(&cmap))
}

/// One container: key, key spec, PIN and certificate.
///
/// # Errors
/// `CardGetContainerInfo` failed.
pub(crate) fn container(csp: &Csp, record: &Record) -> Outcome<Container> {
    let index = record.index;
    let (sig_blob, kx_blob) =
        csp.container_info(index).map_err(|c| Failure::code(c, &format!("reading container {index}")))?;
    let (sig, kx) = (parse_blob(&sig_blob), parse_blob(&kx_blob));
    let key_spec = spec_of(sig.as_ref(), kx.as_ref(), &sig_blob, &kx_blob)
        .ok_or_else(|| Failure::msg(format!("container {index}: the minidriver returned no usable public key blob")))?;
    let key = sig.or(kx).ok_or_else(|| Failure::msg(format!("container {index} has no public key")))?;
    let pin_id = csp
        .get_container_property(index, prop::PIN_IDENTIFIER)
        .ok()
        .and_then(|b| b.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes));
    let cert_file = cert_file(index, key_spec);
    let cert = match csp.read_file(Some("mscp"), &cert_file) {
        Ok(stored) if !stored.is_empty() => {
            mdtool::csp::session::certificate_from_file(&stored).and_then(|der| cert_info(&der))
        }
        _ => None,
    };
    Ok(Container { record: record.clone(), key_spec, key, pin_id, cert_file, cert })
}

/// Every container.
///
/// # Errors
/// As [`records`] and [`container`].
pub(crate) fn containers(csp: &Csp) -> Outcome<Vec<Container>> {
    records(csp)?.iter().map(|r| container(csp, r)).collect()
}

/// Finds container `index`, or the default one.
///
/// # Errors
/// No such container.
pub(crate) fn pick(csp: &Csp, index: Option<u8>) -> Outcome<Container> {
    let records = records(csp)?;
    let record = match index {
        Some(i) => records.iter().find(|r| r.index == i).ok_or_else(|| {
            let known: Vec<String> = records.iter().map(|r| r.index.to_string()).collect();
            Failure::usage(format!("no key container {i} on the card (containers: {})", known.join(", ")))
        })?,
        None => records
            .iter()
            .find(|r| r.default)
            .or_else(|| records.first())
            .ok_or_else(|| Failure::msg("the card has no key container"))?,
    };
    container(csp, record)
}

/// The public key to verify with: the certificate's when there is one (it is what relying
/// parties use), else the container's.
pub(crate) fn verification_key(c: &Container) -> PublicKey {
    c.cert.as_ref().and_then(|ci| key_of_spki(&ci.spki)).unwrap_or_else(|| c.key.clone())
}

/// Hash algorithms mdtool signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Hash {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// `ALG_ID`.
    pub(crate) fn alg_id(self) -> u32 {
        match self {
            Self::Sha1 => crypt::CALG_SHA1,
            Self::Sha256 => crypt::CALG_SHA_256,
            Self::Sha384 => crypt::CALG_SHA_384,
            Self::Sha512 => crypt::CALG_SHA_512,
        }
    }

    /// The CNG name (`BCRYPT_SHA256_ALGORITHM`).
    pub(crate) fn cng_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }

    /// The digest of `data`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Digest length.
    pub(crate) fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn pkcs1(self) -> rsa::Pkcs1v15Sign {
        match self {
            Self::Sha1 => rsa::Pkcs1v15Sign::new::<Sha1>(),
            Self::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            Self::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            Self::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        }
    }
}

/// The hash that fits an EC key (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521).
pub(crate) fn hash_for(key: &PublicKey) -> Hash {
    match key {
        PublicKey::Ec { field: 48, .. } => Hash::Sha384,
        PublicKey::Ec { field: 66, .. } => Hash::Sha512,
        _ => Hash::Sha256,
    }
}

/// Verifies `signature` (RSA big-endian; ECDSA `r || s`) of `digest` with `key`.
///
/// # Errors
/// A one-line reason.
pub(crate) fn verify(key: &PublicKey, hash: Hash, pss: bool, digest: &[u8], signature: &[u8]) -> Result<(), String> {
    match key {
        PublicKey::Rsa { .. } => {
            let k = key.rsa().ok_or("the RSA public key is not usable")?;
            let r = match (pss, hash) {
                (false, _) => k.verify(hash.pkcs1(), digest, signature),
                (true, Hash::Sha1) => k.verify(rsa::Pss::<Sha1>::new(), digest, signature),
                (true, Hash::Sha256) => k.verify(rsa::Pss::<Sha256>::new(), digest, signature),
                (true, Hash::Sha384) => k.verify(rsa::Pss::<sha2::Sha384>::new(), digest, signature),
                (true, Hash::Sha512) => k.verify(rsa::Pss::<sha2::Sha512>::new(), digest, signature),
            };
            r.map_err(|_| "the RSA signature does not verify".to_owned())
        }
        PublicKey::Ec { field: 32, point } => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| "bad P-256 point".to_owned())?;
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| "not a P-256 r||s".to_owned())?;
            vk.verify_prehash(digest, &sig).map_err(|_| "the ECDSA signature does not verify".to_owned())
        }
        PublicKey::Ec { field: 48, point } => {
            use p384::ecdsa::signature::hazmat::PrehashVerifier;
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| "bad P-384 point".to_owned())?;
            let sig = p384::ecdsa::Signature::from_slice(signature).map_err(|_| "not a P-384 r||s".to_owned())?;
            vk.verify_prehash(digest, &sig).map_err(|_| "the ECDSA signature does not verify".to_owned())
        }
        PublicKey::Ec { .. } => Err("P-521 verification is not built into mdtool".into()),
    }
}

/// Signs `digest` with container `c` through `CardSignData` and returns the signature in its
/// usual form (RSA big-endian, ECDSA `r || s`).
///
/// # Errors
/// The minidriver's code.
pub(crate) fn sign(csp: &Csp, c: &Container, hash: Hash, pss: bool, digest: &[u8]) -> Result<Vec<u8>, Code> {
    let index = c.record.index;
    match c.key {
        PublicKey::Rsa { .. } => {
            let mut sig = if pss {
                let salt = u32::try_from(hash.len()).unwrap_or(32);
                let padding = Padding::Pss(hash.cng_name().to_owned(), salt);
                csp.sign_data(index, c.key_spec, hash.alg_id(), 0, digest, Some(&padding))?
            } else {
                csp.sign_data(index, c.key_spec, hash.alg_id(), 0, digest, None)?
            };
            sig.reverse();
            Ok(sig)
        }
        PublicKey::Ec { .. } => csp.sign_data(index, c.key_spec, hash.alg_id(), 0, digest, None),
    }
}

/// A certificate's fingerprint of the public key, for display.
pub(crate) fn describe(key: &PublicKey) -> String {
    match key {
        PublicKey::Rsa { bits, e, .. } => format!("RSA {bits} (e = {e})"),
        PublicKey::Ec { .. } => format!("ECC {}", key.algorithm()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmapfile_records() {
        let mut rec = vec![0u8; RECORD_LEN * 2];
        for (i, u) in "abc".encode_utf16().enumerate() {
            rec[RECORD_LEN + 2 * i..RECORD_LEN + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        rec[RECORD_LEN + 80] = FLAG_VALID | FLAG_DEFAULT;
        rec[RECORD_LEN + 84..RECORD_LEN + 86].copy_from_slice(&2048u16.to_le_bytes());
        let r = parse_cmapfile(&rec);
        assert_eq!(r, vec![Record { index: 1, name: "abc".into(), default: true, sig_bits: 0, kx_bits: 2048 }]);
    }

    #[test]
    fn cert_names() {
        assert_eq!(cert_file(0, keyspec::AT_KEYEXCHANGE), "kxc00");
        assert_eq!(cert_file(1, keyspec::AT_ECDSA_P256), "ksc01");
        assert_eq!(cert_file(10, keyspec::AT_ECDHE_P384), "kxc0a");
    }
}
