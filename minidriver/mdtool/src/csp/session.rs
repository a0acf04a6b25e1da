//! A Base CSP session, as Windows runs one against a card, through the function table only: the
//! reads a CSP makes when a context starts (cardcf, cardid, cardapps, the `mscp` listing, the
//! container map, each container's public key, PIN and certificate), then the PIN, a signature
//! with every key and a decryption with every key-exchange RSA key (each checked with the
//! certificate's public key), and the deauthentication. Tests and the APDU report use it to
//! measure what a real session costs, not an easy path.

use std::io::Read;

use minidriver::abi::{crypt, keyspec, pin, prop};
use sha2::{Digest, Sha256, Sha384};

use super::{Csp, Padding};

/// One `CONTAINER_MAP_RECORD` is 86 bytes (Minidriver Specification §8.1).
const RECORD_LEN: usize = 86;
/// Largest certificate inflated from the CSP's compressed form.
const MAX_CERTIFICATE: u64 = 64 * 1024;

/// A container as the CSP learned it.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Its index.
    pub index: u8,
    /// `dwKeySpec` of its key.
    pub key_spec: u32,
    /// `CCP_PIN_IDENTIFIER`.
    pub pin: u32,
    /// The certificate (DER), when its file exists.
    pub certificate: Option<Vec<u8>>,
}

/// What a session's listing found.
#[derive(Clone, Debug)]
pub struct Listing {
    /// `cardcf` as read.
    pub cardcf: Vec<u8>,
    /// `cardid`.
    pub cardid: Vec<u8>,
    /// The valid containers.
    pub containers: Vec<Listed>,
}

/// A certificate file's DER: the Base CSP's compressed form (`01 00 | LE16 length | zlib`,
/// stored when the driver reports `fCertificateCompression` FALSE) inflated, plain DER as is.
pub fn certificate_from_file(stored: &[u8]) -> Option<Vec<u8>> {
    let Some(([0x01, 0x00, lo, hi], deflated)) = stored.split_first_chunk::<4>().map(|(h, r)| (*h, r)) else {
        return Some(stored.to_vec());
    };
    let mut der = Vec::new();
    flate2::read::ZlibDecoder::new(deflated).take(MAX_CERTIFICATE).read_to_end(&mut der).ok()?;
    (der.len() == usize::from(u16::from_le_bytes([lo, hi]))).then_some(der)
}

fn is_signature_spec(spec: u32) -> bool {
    matches!(spec, keyspec::AT_SIGNATURE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384 | keyspec::AT_ECDSA_P521)
}

/// The key spec a `CONTAINER_INFO` blob pair implies (the magic of an ECC blob tells ECDSA from
/// ECDH; a CAPI blob's `aiKeyAlg` the RSA role).
fn key_spec_of(sig: &[u8], kx: &[u8]) -> Option<u32> {
    let word = |b: &[u8], at: usize| b.get(at..at + 4).and_then(|w| w.try_into().ok()).map(u32::from_le_bytes);
    let (blob, signature_slot) = if sig.is_empty() { (kx, false) } else { (sig, true) };
    if blob.first() == Some(&0x06) {
        return Some(if signature_slot { keyspec::AT_SIGNATURE } else { keyspec::AT_KEYEXCHANGE });
    }
    Some(match word(blob, 0)? {
        crypt::ECDSA_PUBLIC_P256_MAGIC => keyspec::AT_ECDSA_P256,
        crypt::ECDSA_PUBLIC_P384_MAGIC => keyspec::AT_ECDSA_P384,
        crypt::ECDH_PUBLIC_P256_MAGIC => keyspec::AT_ECDHE_P256,
        crypt::ECDH_PUBLIC_P384_MAGIC => keyspec::AT_ECDHE_P384,
        _ => return None,
    })
}

/// The reads a CSP makes when a context starts.
///
/// # Errors
/// The first call that failed, named.
pub fn list(csp: &Csp) -> Result<Listing, String> {
    fn fail(what: &str) -> impl Fn(super::Code) -> String + '_ {
        move |c| format!("{what}: {c}")
    }
    let cardcf = csp.read_file(None, "cardcf").map_err(fail("cardcf"))?;
    let cardid = csp.read_file(None, "cardid").map_err(fail("cardid"))?;
    csp.read_file(None, "cardapps").map_err(fail("cardapps"))?;
    csp.enum_files(Some("mscp")).map_err(fail("enumerating mscp"))?;
    let cmap = csp.read_file(Some("mscp"), "cmapfile").map_err(fail("cmapfile"))?;
    let mut containers = Vec::new();
    for (i, record) in cmap.chunks_exact(RECORD_LEN).enumerate() {
        if record.get(80).is_none_or(|f| f & 1 == 0) {
            continue;
        }
        let index = u8::try_from(i).map_err(|_| "more than 255 records".to_owned())?;
        let (sig, kx) = csp.container_info(index).map_err(fail(&format!("container {index}")))?;
        let key_spec = key_spec_of(&sig, &kx).ok_or_else(|| format!("container {index}: unreadable key blob"))?;
        let pin = csp
            .get_container_property(index, prop::PIN_IDENTIFIER)
            .ok()
            .and_then(|v| v.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes))
            .unwrap_or(pin::ROLE_USER);
        let file = format!("{}{index:02x}", if is_signature_spec(key_spec) { "ksc" } else { "kxc" });
        let certificate = match csp.read_file(Some("mscp"), &file) {
            Ok(stored) if !stored.is_empty() => {
                Some(certificate_from_file(&stored).ok_or_else(|| format!("mscp/{file} does not inflate"))?)
            }
            _ => None,
        };
        containers.push(Listed { index, key_spec, pin, certificate });
    }
    Ok(Listing { cardcf, cardid, containers })
}

/// The certificate's public key, DER SubjectPublicKeyInfo.
fn spki_of(cert: &[u8]) -> Result<Vec<u8>, String> {
    use der::{Decode, Encode};
    let c = x509_cert::Certificate::from_der(cert).map_err(|_| "not an X.509 certificate".to_owned())?;
    c.tbs_certificate().subject_public_key_info().to_der().map_err(|_| "unreadable public key".to_owned())
}

fn verify(spec: u32, spki: &[u8], digest: &[u8], signature: &[u8]) -> Result<(), String> {
    use p256::pkcs8::DecodePublicKey;
    use signature::hazmat::PrehashVerifier;
    let bad = "the signature does not verify with the certificate's key";
    match spec {
        keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE => {
            let key = rsa::RsaPublicKey::from_public_key_der(spki).map_err(|_| "RSA key".to_owned())?;
            key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), digest, signature).map_err(|_| bad.to_owned())
        }
        keyspec::AT_ECDSA_P256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| "P-256 key".to_owned())?;
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| "not r||s".to_owned())?;
            key.verify_prehash(digest, &sig).map_err(|_| bad.to_owned())
        }
        keyspec::AT_ECDSA_P384 => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| "P-384 key".to_owned())?;
            let sig = p384::ecdsa::Signature::from_slice(signature).map_err(|_| "not r||s".to_owned())?;
            key.verify_prehash(digest, &sig).map_err(|_| bad.to_owned())
        }
        _ => Err("no signature with this key spec".to_owned()),
    }
}

/// What a session's private-key part did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Signatures made and verified.
    pub signatures: usize,
    /// Decryptions made and checked.
    pub decryptions: usize,
}

/// The private-key part: for every container with a certificate, its PIN (right before the
/// operation, as the CSP does for an always-prompt PIN), a signature checked with the
/// certificate's key, and for RSA key-exchange keys a decryption of a message encrypted to that
/// key; then the deauthentication of every PIN.
///
/// # Errors
/// The first step that failed, named.
pub fn sign_and_decrypt(csp: &Csp, listing: &Listing, pin_value: &[u8]) -> Result<Done, String> {
    let mut done = Done::default();
    for c in &listing.containers {
        let Some(cert) = &c.certificate else { continue };
        if matches!(c.key_spec, keyspec::AT_ECDHE_P256 | keyspec::AT_ECDHE_P384) {
            continue;
        }
        let spki = spki_of(cert)?;
        let digest = if c.key_spec == keyspec::AT_ECDSA_P384 {
            Sha384::digest(b"a Base CSP session").to_vec()
        } else {
            Sha256::digest(b"a Base CSP session").to_vec()
        };
        let authenticate = |csp: &Csp| -> Result<(), String> {
            if c.pin == pin::ROLE_EVERYONE {
                return Ok(());
            }
            csp.authenticate_ex(c.pin, 0, pin_value).map(|_| ()).map_err(|(code, _)| format!("PIN {}: {code}", c.pin))
        };
        authenticate(csp)?;
        let rsa = matches!(c.key_spec, keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE);
        let alg = if rsa { crypt::CALG_SHA_256 } else { 0 };
        let mut sig = csp
            .sign_data(c.index, c.key_spec, alg, 0, &digest, None)
            .map_err(|code| format!("signing with container {}: {code}", c.index))?;
        if rsa {
            sig.reverse();
        }
        verify(c.key_spec, &spki, &digest, &sig).map_err(|e| format!("container {}: {e}", c.index))?;
        done.signatures += 1;
        if c.key_spec == keyspec::AT_KEYEXCHANGE {
            use rsa::pkcs8::DecodePublicKey;
            let key = rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|_| "RSA key".to_owned())?;
            let message = b"a key for a document";
            let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
            let mut ct = key.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, message).map_err(|_| "encrypting".to_owned())?;
            ct.reverse();
            authenticate(csp)?;
            let mut plain = csp
                .rsa_decrypt(c.index, &ct, 2, &Padding::Pkcs1(None))
                .map_err(|code| format!("decrypting with container {}: {code}", c.index))?;
            plain.reverse();
            if plain != message {
                return Err(format!("container {}: the decryption is not the message", c.index));
            }
            done.decryptions += 1;
        }
    }
    csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER) | pin::set_of(3))
        .map_err(|code| format!("deauthentication: {code}"))?;
    Ok(done)
}
