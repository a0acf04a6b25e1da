//! Key derivation for `CardDeriveKey`: the CNG key derivation functions a minidriver may be asked
//! for, computed in software over the ECDH shared secret `Z` that the card returned.
//!
//! The Smart Card Minidriver Specification v7.07 (§4.7.3, `CardDeriveKey`) lists
//! `BCRYPT_KDF_HASH`, `BCRYPT_KDF_HMAC`, `BCRYPT_KDF_TLS_PRF` and `BCRYPT_KDF_SP80056A_CONCAT`,
//! defers their meaning to the CNG reference, and asks for `SCARD_E_INVALID_PARAMETER` when the
//! KDF is not implemented or a parameter is not recognised or not valid for the KDF. The
//! semantics below follow the `BCryptDeriveKey` / `NCryptDeriveKey` pages and the `BCryptBuffer`
//! page (<https://learn.microsoft.com/windows/win32/api/bcrypt/nf-bcrypt-bcryptderivekey>,
//! <https://learn.microsoft.com/windows/win32/api/ncrypt/nf-ncrypt-ncryptderivekey>,
//! <https://learn.microsoft.com/windows/win32/api/bcrypt/ns-bcrypt-bcryptbuffer>):
//!
//! | KDF | Output | Parameters |
//! |---|---|---|
//! | `HASH` | `H(prepend ‖ Z ‖ append)` | `KDF_HASH_ALGORITHM` (default SHA1), any number of `KDF_SECRET_PREPEND` / `KDF_SECRET_APPEND`, concatenated in list order |
//! | `HMAC` | `HMAC_H(key, prepend ‖ Z ‖ append)` | as `HASH`, plus `KDF_HMAC_KEY`; with `KDF_USE_SECRET_AS_HMAC_KEY_FLAG` the key is `Z` itself (and `Z` is still hashed in the middle) |
//! | `TLS_PRF` | the 48-byte `PRF(Z, label, seed)` | `KDF_TLS_PRF_LABEL`, `KDF_TLS_PRF_SEED` (64 bytes) required; `KDF_TLS_PRF_PROTOCOL` (default TLS 1.0); `KDF_HASH_ALGORITHM` for TLS 1.2 (SHA256 or SHA384, default SHA256) |
//! | `SP800_56A_CONCAT` | SP 800-56A §5.8.1 single-step KDF: `H(counter ‖ Z ‖ AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo ‖ SuppPrivInfo)`, counter from 1, 32-bit big-endian | `KDF_ALGORITHMID`, `KDF_PARTYUINFO`, `KDF_PARTYVINFO` required (possibly empty), `KDF_SUPPPUBINFO`, `KDF_SUPPPRIVINFO` optional, all opaque bytes |
//!
//! `L"TRUNCATE"` (`BCRYPT_KDF_RAW_SECRET`) and `L"HKDF"` are not in the minidriver
//! specification's list, so [`Kdf::from_name`] does not accept them.
//!
//! # Byte order of the shared secret
//!
//! [`derive()`] takes `Z` as the card returns it: the fixed-length, big-endian x-coordinate
//! (SP 800-56A `FE2OS`, leading zero bytes kept). Every KDF here consumes `Z` in that order;
//! nothing is reversed. Only `BCRYPT_KDF_RAW_SECRET` hands out a little-endian secret: the
//! `BCryptDeriveKey` page says that with it "the returned secret (unlike the other pwszKDF
//! values) will be encoded in little-endian format", and .NET reverses that one output and
//! nothing else (dotnet/runtime `src/libraries/Common/src/Interop/Windows/NCrypt/`
//! `Interop.NCryptDeriveKeyMaterial.cs`, `DeriveKeyMaterialTruncate`: "Win32 returns the result as
//! little endian"). For the other KDFs:
//!
//! - `HASH`: dotnet/runtime `ECDiffieHellmanTests.NistValidation.cs` asserts, on Windows through
//!   `NCryptDeriveKey(L"HASH")`, that `DeriveKeyFromHash(SHA-256)` equals SHA-256 of the CAVP
//!   big-endian `ZIUT`.
//! - `HASH`, `HMAC` (with a key and with `KDF_USE_SECRET_AS_HMAC_KEY_FLAG`) and `TLS_PRF`: the
//!   known answers in dotnet/runtime `ECDiffieHellmanTests.{Hash,Hmac,Tls}.cs` pass both on
//!   Windows (CNG) and on Linux, where .NET feeds OpenSSL's big-endian `Z` to a managed copy of
//!   these KDFs (`ECDiffieHellmanDerivation.cs`). The tests of this module reproduce them from
//!   big-endian `Z` and show that reversed `Z` does not.
//! - `SP800_56A_CONCAT`: SP 800-56A defines `Z` as a big-endian byte string, and the
//!   `BCryptDeriveKey` statement above excludes this KDF from the little-endian case. The Windows
//!   ECDH-ES of dvsekhvalnov/jose-jwt (`jose-jwt/crypto/ConcatKDF.cs`) derives RFC 7518 keys with
//!   `NCryptDeriveKey(L"SP800_56A_CONCAT")`; its comment calls CNG unusable for JOSE on P-384 and
//!   P-521 only, which fits CNG choosing SHA-384 / SHA-512 there where JOSE wants SHA-256.
//!
//! OpenSC's minidriver (`src/minidriver/minidriver.c`, `CardDeriveHashOrHMAC` and
//! `CardDeriveTlsPrf`) also hashes the agreement bytes exactly as `sc_pkcs15_derive` returns them,
//! without reversing them.
//!
//! # Details decided here
//!
//! - Output length. `out_len` plays the role of `cbDerivedKey`. `HASH` and `HMAC` return
//!   `min(out_len, hash length)` bytes (CNG copies only `cbDerivedKey` bytes of a longer key).
//!   `TLS_PRF` always returns 48 bytes; an `out_len` below 48 is refused. `SP800_56A_CONCAT`
//!   returns exactly `out_len` bytes, or one hash length when `out_len` is `None`, up to
//!   [`MAX_OUTPUT_LEN`]. `Some(0)` is refused.
//! - `SP800_56A_CONCAT` hash. `BCryptDeriveKey` picks it from the curve ("ECDH P-256 uses
//!   SHA256, ECDH P-384 uses SHA384"). Without the curve, this module picks it from the length of
//!   `Z`: up to 32 bytes SHA256, up to 48 SHA384, longer (P-521) SHA512. An explicit
//!   `KDF_HASH_ALGORITHM` (SHA1, SHA256, SHA384 or SHA512) wins; smart-card callers such as
//!   libcdoc send one with `NCryptDeriveKey(L"SP800_56A_CONCAT")`.
//! - TLS 1.0 / 1.1 split the secret as RFC 2246 §5 says (two halves of `ceil(len / 2)` bytes
//!   that share the middle byte when the length is odd). `DTLS1_0_PROTOCOL_VERSION` uses the same
//!   PRF; `SSL2_PROTOCOL_VERSION` and `SSL3_PROTOCOL_VERSION` are reported as unsupported.
//! - `KDF_USE_SECRET_AS_HMAC_KEY_FLAG` is ignored by the other KDFs ("only used by the
//!   `BCRYPT_KDF_HMAC` key derivation function"; .NET passes it with `HASH`). For `HMAC`,
//!   giving both the flag and `KDF_HMAC_KEY`, or neither, is refused.
//! - Parameters. Types that are unknown, defined but not listed for the KDF, repeated (other
//!   than prepend and append), a `KDF_TLS_PRF_PROTOCOL` that is not 4 bytes, or a hash name that
//!   is not a CNG hash identifier are `InvalidParameter`. CNG hash identifiers this module does
//!   not implement (`MD2`, `MD4`, SHA-3, SHAKE) are `Unsupported`. Hash names are UTF-16LE, with
//!   or without the terminating NUL, compared ASCII-case-insensitively. `KDF_SECRET_HANDLE` must
//!   have been resolved by the caller (`pfnCspGetDHAgreement`, specification §3.2.3) and is
//!   refused here.

#[cfg(test)]
mod tests;

use core::fmt;

use card_edges::crypto::HashAlg;
use digest::{Digest, KeyInit, Mac};
use hmac::Hmac;
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// `BCryptBuffer` type: a NUL-terminated UTF-16 hash algorithm identifier.
pub const KDF_HASH_ALGORITHM: u32 = 0x0;
/// `BCryptBuffer` type: bytes hashed before the secret.
pub const KDF_SECRET_PREPEND: u32 = 0x1;
/// `BCryptBuffer` type: bytes hashed after the secret.
pub const KDF_SECRET_APPEND: u32 = 0x2;
/// `BCryptBuffer` type: the HMAC key.
pub const KDF_HMAC_KEY: u32 = 0x3;
/// `BCryptBuffer` type: the TLS PRF label (ANSI bytes, used as given).
pub const KDF_TLS_PRF_LABEL: u32 = 0x4;
/// `BCryptBuffer` type: the TLS PRF seed, 64 bytes.
pub const KDF_TLS_PRF_SEED: u32 = 0x5;
/// `BCryptBuffer` type: a secret agreement handle (resolved by the caller, never accepted here).
pub const KDF_SECRET_HANDLE: u32 = 0x6;
/// `BCryptBuffer` type: a `DWORD` TLS protocol version.
pub const KDF_TLS_PRF_PROTOCOL: u32 = 0x7;
/// `BCryptBuffer` type: SP 800-56A `AlgorithmID`.
pub const KDF_ALGORITHMID: u32 = 0x8;
/// `BCryptBuffer` type: SP 800-56A `PartyUInfo`.
pub const KDF_PARTYUINFO: u32 = 0x9;
/// `BCryptBuffer` type: SP 800-56A `PartyVInfo`.
pub const KDF_PARTYVINFO: u32 = 0xA;
/// `BCryptBuffer` type: SP 800-56A `SuppPubInfo`.
pub const KDF_SUPPPUBINFO: u32 = 0xB;
/// `BCryptBuffer` type: SP 800-56A `SuppPrivInfo`.
pub const KDF_SUPPPRIVINFO: u32 = 0xC;
/// The highest `BCryptBuffer` KDF type CNG defines (`KDF_HKDF_INFO`); types from `KDF_LABEL` (0xD)
/// up to here exist but belong to other KDFs.
const KDF_LAST_DEFINED: u32 = 0x14;

/// `CARD_DERIVE_KEY.dwFlags` / `BCryptDeriveKey` flag: `Z` is also the HMAC key.
pub const KDF_USE_SECRET_AS_HMAC_KEY_FLAG: u32 = 0x1;

/// `SSL2_PROTOCOL_VERSION`.
pub const SSL2_PROTOCOL_VERSION: u32 = 0x0002;
/// `SSL3_PROTOCOL_VERSION`.
pub const SSL3_PROTOCOL_VERSION: u32 = 0x0300;
/// `TLS1_PROTOCOL_VERSION` / `TLS1_0_PROTOCOL_VERSION`.
pub const TLS1_0_PROTOCOL_VERSION: u32 = 0x0301;
/// `TLS1_1_PROTOCOL_VERSION`.
pub const TLS1_1_PROTOCOL_VERSION: u32 = 0x0302;
/// `TLS1_2_PROTOCOL_VERSION`.
pub const TLS1_2_PROTOCOL_VERSION: u32 = 0x0303;
/// `DTLS1_0_PROTOCOL_VERSION`.
pub const DTLS1_0_PROTOCOL_VERSION: u32 = 0xFEFF;

/// The `TLS_PRF` output length (the TLS master secret).
pub const TLS_PRF_OUTPUT_LEN: usize = 48;
/// The `TLS_PRF` seed length (client random ‖ server random).
pub const TLS_PRF_SEED_LEN: usize = 64;
/// The longest `SP800_56A_CONCAT` output this module produces. `CardDeriveKey` derives symmetric
/// keys; a request beyond this is refused as invalid instead of allocating it.
pub const MAX_OUTPUT_LEN: usize = 0x1_0000;

/// A key derivation function named by `CARD_DERIVE_KEY.pwszKDF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// `BCRYPT_KDF_HASH` (`L"HASH"`).
    Hash,
    /// `BCRYPT_KDF_HMAC` (`L"HMAC"`).
    Hmac,
    /// `BCRYPT_KDF_TLS_PRF` (`L"TLS_PRF"`).
    TlsPrf,
    /// `BCRYPT_KDF_SP80056A_CONCAT` (`L"SP800_56A_CONCAT"`).
    Sp80056aConcat,
}

impl Kdf {
    /// The KDF for a `pwszKDF` string (ASCII-case-insensitive), or `None` for one this module does
    /// not implement (the caller answers `SCARD_E_INVALID_PARAMETER`, as the specification asks).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Hash, Self::Hmac, Self::TlsPrf, Self::Sp80056aConcat]
            .into_iter()
            .find(|kdf| kdf.name().eq_ignore_ascii_case(name))
    }

    /// The CNG name of the KDF.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hash => "HASH",
            Self::Hmac => "HMAC",
            Self::TlsPrf => "TLS_PRF",
            Self::Sp80056aConcat => "SP800_56A_CONCAT",
        }
    }

    /// The parameter types CNG documents for this KDF.
    fn accepts(self, kind: u32) -> bool {
        let accepted: &[u32] = match self {
            Self::Hash => &[KDF_HASH_ALGORITHM, KDF_SECRET_PREPEND, KDF_SECRET_APPEND],
            Self::Hmac => &[KDF_HASH_ALGORITHM, KDF_SECRET_PREPEND, KDF_SECRET_APPEND, KDF_HMAC_KEY],
            Self::TlsPrf => &[KDF_TLS_PRF_LABEL, KDF_TLS_PRF_SEED, KDF_TLS_PRF_PROTOCOL, KDF_HASH_ALGORITHM],
            Self::Sp80056aConcat => &[
                KDF_ALGORITHMID,
                KDF_PARTYUINFO,
                KDF_PARTYVINFO,
                KDF_SUPPPUBINFO,
                KDF_SUPPPRIVINFO,
                KDF_HASH_ALGORITHM,
            ],
        };
        accepted.contains(&kind)
    }
}

impl fmt::Display for Kdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `BCryptBuffer` of the parameter list, copied out of C memory. The bytes may be secret
/// (`KDF_HMAC_KEY`, `KDF_SUPPPRIVINFO`), so they are wiped on drop and not shown by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Param {
    /// `BufferType`.
    pub kind: u32,
    /// The `cbBuffer` bytes at `pvBuffer`.
    pub data: Vec<u8>,
}

impl Param {
    /// A parameter of type `kind` holding `data`.
    pub fn new(kind: u32, data: impl Into<Vec<u8>>) -> Self {
        Self { kind, data: data.into() }
    }

    /// A `KDF_HASH_ALGORITHM` parameter: `name` as NUL-terminated UTF-16LE.
    pub fn hash_algorithm(name: &str) -> Self {
        let data = name.encode_utf16().chain(Some(0)).flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
        Self::new(KDF_HASH_ALGORITHM, data)
    }

    /// A `DWORD` parameter (such as `KDF_TLS_PRF_PROTOCOL`), little-endian as in memory.
    pub fn dword(kind: u32, value: u32) -> Self {
        Self::new(kind, value.to_le_bytes())
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param").field("kind", &self.kind).field("len", &self.data.len()).finish()
    }
}

/// Why a derivation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfError {
    /// A parameter, parameter combination or length is not valid (`SCARD_E_INVALID_PARAMETER`).
    InvalidParameter(&'static str),
    /// Valid, but not implemented by this module (`SCARD_E_UNSUPPORTED_FEATURE`).
    Unsupported(&'static str),
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter(what) => write!(f, "invalid KDF parameter: {what}"),
            Self::Unsupported(what) => write!(f, "unsupported KDF feature: {what}"),
        }
    }
}

impl std::error::Error for KdfError {}

/// Derives key material from the big-endian shared secret `secret_be` (see the module
/// documentation for every rule). `use_secret_as_hmac_key` is `KDF_USE_SECRET_AS_HMAC_KEY_FLAG`;
/// `out_len` is the requested length (`cbDerivedKey`), `None` when the caller gave none.
pub fn derive(
    kdf: Kdf,
    params: &[Param],
    secret_be: &[u8],
    use_secret_as_hmac_key: bool,
    out_len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    Plan::new(kdf, params, secret_be.len(), use_secret_as_hmac_key, out_len)?.run(secret_be)
}

/// The length [`derive()`] returns for the same arguments, for `CARD_BUFFER_SIZE_ONLY`; it fails
/// exactly when [`derive()`] would. `secret_len` is the length of the shared secret.
pub fn output_len(
    kdf: Kdf,
    params: &[Param],
    secret_len: usize,
    use_secret_as_hmac_key: bool,
    out_len: Option<usize>,
) -> Result<usize, KdfError> {
    Ok(Plan::new(kdf, params, secret_len, use_secret_as_hmac_key, out_len)?.len())
}

/// The hash functions behind the KDFs, over the crate's one [`HashAlg`]: MD5 and SHA-1/SHA-2
/// (the name parser never yields [`HashAlg::Md5Sha1`], which is a signature format, not a hash).
trait KdfHash: Copy {
    /// `H(parts[0] ‖ parts[1] ‖ …)`.
    fn digest(self, parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, KdfError>;
    /// `HMAC_H(key, parts[0] ‖ parts[1] ‖ …)`.
    fn mac(self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, KdfError>;
    /// Fills `out` with `P_H(secret, label ‖ seed)` (RFC 2246 §5, RFC 5246 §5).
    fn p_hash(self, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) -> Result<(), KdfError>;
}

const NOT_A_KDF_HASH: KdfError = KdfError::InvalidParameter("MD5+SHA1 is not a KDF hash");

impl KdfHash for HashAlg {
    fn digest(self, parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        match self {
            Self::Md5 => Ok(digest_parts::<Md5>(parts)),
            Self::Sha1 => Ok(digest_parts::<Sha1>(parts)),
            Self::Sha256 => Ok(digest_parts::<Sha256>(parts)),
            Self::Sha384 => Ok(digest_parts::<Sha384>(parts)),
            Self::Sha512 => Ok(digest_parts::<Sha512>(parts)),
            Self::Md5Sha1 => Err(NOT_A_KDF_HASH),
        }
    }

    fn mac(self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        match self {
            Self::Md5 => mac_parts(&keyed::<Hmac<Md5>>(key)?, parts),
            Self::Sha1 => mac_parts(&keyed::<Hmac<Sha1>>(key)?, parts),
            Self::Sha256 => mac_parts(&keyed::<Hmac<Sha256>>(key)?, parts),
            Self::Sha384 => mac_parts(&keyed::<Hmac<Sha384>>(key)?, parts),
            Self::Sha512 => mac_parts(&keyed::<Hmac<Sha512>>(key)?, parts),
            Self::Md5Sha1 => Err(NOT_A_KDF_HASH),
        }
    }

    fn p_hash(self, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) -> Result<(), KdfError> {
        let block = self.output_len();
        match self {
            Self::Md5 => p_hash(&keyed::<Hmac<Md5>>(secret)?, block, label, seed, out),
            Self::Sha1 => p_hash(&keyed::<Hmac<Sha1>>(secret)?, block, label, seed, out),
            Self::Sha256 => p_hash(&keyed::<Hmac<Sha256>>(secret)?, block, label, seed, out),
            Self::Sha384 => p_hash(&keyed::<Hmac<Sha384>>(secret)?, block, label, seed, out),
            Self::Sha512 => p_hash(&keyed::<Hmac<Sha512>>(secret)?, block, label, seed, out),
            Self::Md5Sha1 => Err(NOT_A_KDF_HASH),
        }
    }
}

fn digest_parts<D: Digest>(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut hasher = D::new();
    for part in parts {
        Digest::update(&mut hasher, part);
    }
    Zeroizing::new(hasher.finalize().to_vec())
}

fn keyed<M: Mac + KeyInit>(key: &[u8]) -> Result<M, KdfError> {
    <M as KeyInit>::new_from_slice(key).map_err(|_| KdfError::InvalidParameter("HMAC key length"))
}

fn mac_parts<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    let mut mac = keyed.clone();
    for part in parts {
        Mac::update(&mut mac, part);
    }
    Ok(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
}

/// `P_hash`: `A(0) = seed'`, `A(i) = HMAC(secret, A(i-1))`, output `HMAC(secret, A(i) ‖ seed')`
/// for `i = 1, 2, …`, with `seed' = label ‖ seed`. `keyed` is the HMAC already keyed with the
/// secret; `block` its output length.
fn p_hash<M: Mac + Clone>(keyed: &M, block: usize, label: &[u8], seed: &[u8], out: &mut [u8]) -> Result<(), KdfError> {
    let mut a = mac_parts(keyed, &[label, seed])?;
    for chunk in out.chunks_mut(block) {
        let next = mac_parts(keyed, &[&a, label, seed])?;
        copy_prefix(chunk, &next);
        a = mac_parts(keyed, &[&a])?;
    }
    Ok(())
}

/// Copies the first `dst.len()` bytes of `src` (which is at least that long) into `dst`.
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// Resolves a `KDF_HASH_ALGORITHM` buffer: NUL-terminated (or not) UTF-16LE naming a CNG hash
/// identifier ([`crate::context::hash_from_name`], the crate's one table of them).
fn parse_hash_name(data: &[u8]) -> Result<HashAlg, KdfError> {
    /// Longer than every CNG hash identifier; longer names are unknown.
    const MAX_NAME: usize = 16;

    let not_cng = KdfError::InvalidParameter("KDF_HASH_ALGORITHM is not a CNG hash identifier");
    if !data.len().is_multiple_of(2) {
        return Err(KdfError::InvalidParameter("KDF_HASH_ALGORITHM is not UTF-16"));
    }
    let mut name = String::new();
    for pair in data.chunks_exact(2) {
        let unit = <[u8; 2]>::try_from(pair).map_or(0, u16::from_le_bytes);
        if unit == 0 {
            break;
        }
        let c = u8::try_from(unit).ok().filter(u8::is_ascii).ok_or(not_cng)?;
        if name.len() == MAX_NAME {
            return Err(not_cng);
        }
        name.push(char::from(c));
    }
    crate::context::hash_from_name(&name).map_err(|e| match e {
        crate::Error::Unsupported(_) => KdfError::Unsupported("hash algorithm not implemented"),
        _ => not_cng,
    })
}

/// Stores a parameter that may appear once.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), KdfError> {
    if slot.is_some() {
        return Err(KdfError::InvalidParameter("parameter type given twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// The parameter list, checked against the KDF and sorted by type.
#[derive(Default)]
struct Inputs<'a> {
    hash: Option<HashAlg>,
    prepend: Vec<&'a [u8]>,
    append: Vec<&'a [u8]>,
    hmac_key: Option<&'a [u8]>,
    label: Option<&'a [u8]>,
    seed: Option<&'a [u8]>,
    protocol: Option<u32>,
    algorithm_id: Option<&'a [u8]>,
    party_u: Option<&'a [u8]>,
    party_v: Option<&'a [u8]>,
    supp_pub: Option<&'a [u8]>,
    supp_priv: Option<&'a [u8]>,
}

impl<'a> Inputs<'a> {
    fn parse(kdf: Kdf, params: &'a [Param]) -> Result<Self, KdfError> {
        let mut inputs = Self::default();
        for param in params {
            let data = param.data.as_slice();
            if !kdf.accepts(param.kind) {
                return Err(KdfError::InvalidParameter(match param.kind {
                    KDF_SECRET_HANDLE => "KDF_SECRET_HANDLE must be resolved by the caller",
                    kind if kind <= KDF_LAST_DEFINED => "parameter type not valid for this KDF",
                    _ => "unknown parameter type",
                }));
            }
            match param.kind {
                KDF_HASH_ALGORITHM => once(&mut inputs.hash, parse_hash_name(data)?)?,
                KDF_SECRET_PREPEND => inputs.prepend.push(data),
                KDF_SECRET_APPEND => inputs.append.push(data),
                KDF_HMAC_KEY => once(&mut inputs.hmac_key, data)?,
                KDF_TLS_PRF_LABEL => once(&mut inputs.label, data)?,
                KDF_TLS_PRF_SEED => once(&mut inputs.seed, data)?,
                KDF_TLS_PRF_PROTOCOL => {
                    let dword = <[u8; 4]>::try_from(data)
                        .map_err(|_| KdfError::InvalidParameter("KDF_TLS_PRF_PROTOCOL is not a DWORD"))?;
                    once(&mut inputs.protocol, u32::from_le_bytes(dword))?;
                }
                KDF_ALGORITHMID => once(&mut inputs.algorithm_id, data)?,
                KDF_PARTYUINFO => once(&mut inputs.party_u, data)?,
                KDF_PARTYVINFO => once(&mut inputs.party_v, data)?,
                KDF_SUPPPUBINFO => once(&mut inputs.supp_pub, data)?,
                KDF_SUPPPRIVINFO => once(&mut inputs.supp_priv, data)?,
                _ => return Err(KdfError::InvalidParameter("unknown parameter type")),
            }
        }
        Ok(inputs)
    }
}

/// Where the HMAC key comes from.
#[derive(Clone, Copy)]
enum HmacKey<'a> {
    Given(&'a [u8]),
    Secret,
}

/// A validated derivation: everything but the secret bytes.
enum Plan<'a> {
    Hash { alg: HashAlg, prepend: Vec<&'a [u8]>, append: Vec<&'a [u8]>, len: usize },
    Hmac { alg: HashAlg, key: HmacKey<'a>, prepend: Vec<&'a [u8]>, append: Vec<&'a [u8]>, len: usize },
    Tls10 { label: &'a [u8], seed: &'a [u8] },
    Tls12 { alg: HashAlg, label: &'a [u8], seed: &'a [u8] },
    Concat { alg: HashAlg, other_info: [&'a [u8]; 5], len: usize },
}

impl<'a> Plan<'a> {
    fn new(
        kdf: Kdf,
        params: &'a [Param],
        secret_len: usize,
        use_secret_as_hmac_key: bool,
        out_len: Option<usize>,
    ) -> Result<Self, KdfError> {
        if secret_len == 0 {
            return Err(KdfError::InvalidParameter("empty shared secret"));
        }
        if out_len == Some(0) {
            return Err(KdfError::InvalidParameter("zero-length output requested"));
        }
        let inputs = Inputs::parse(kdf, params)?;
        // CNG copies at most cbDerivedKey bytes of a hash-sized key.
        let clamp = |natural: usize| out_len.map_or(natural, |requested| requested.min(natural));
        Ok(match kdf {
            Kdf::Hash => {
                let alg = inputs.hash.unwrap_or(HashAlg::Sha1);
                Self::Hash { alg, prepend: inputs.prepend, append: inputs.append, len: clamp(alg.output_len()) }
            }
            Kdf::Hmac => {
                let alg = inputs.hash.unwrap_or(HashAlg::Sha1);
                let key = match (inputs.hmac_key, use_secret_as_hmac_key) {
                    (Some(key), false) => HmacKey::Given(key),
                    (None, true) => HmacKey::Secret,
                    (Some(_), true) => {
                        return Err(KdfError::InvalidParameter(
                            "KDF_HMAC_KEY given with KDF_USE_SECRET_AS_HMAC_KEY_FLAG",
                        ));
                    }
                    (None, false) => {
                        return Err(KdfError::InvalidParameter(
                            "HMAC needs KDF_HMAC_KEY or KDF_USE_SECRET_AS_HMAC_KEY_FLAG",
                        ));
                    }
                };
                Self::Hmac { alg, key, prepend: inputs.prepend, append: inputs.append, len: clamp(alg.output_len()) }
            }
            Kdf::TlsPrf => Self::tls(&inputs, out_len)?,
            Kdf::Sp80056aConcat => Self::concat(&inputs, secret_len, out_len)?,
        })
    }

    fn tls(inputs: &Inputs<'a>, out_len: Option<usize>) -> Result<Self, KdfError> {
        let label = inputs.label.ok_or(KdfError::InvalidParameter("TLS_PRF needs KDF_TLS_PRF_LABEL"))?;
        let seed = inputs.seed.ok_or(KdfError::InvalidParameter("TLS_PRF needs KDF_TLS_PRF_SEED"))?;
        if seed.len() != TLS_PRF_SEED_LEN {
            return Err(KdfError::InvalidParameter("KDF_TLS_PRF_SEED must be 64 bytes"));
        }
        if out_len.is_some_and(|requested| requested < TLS_PRF_OUTPUT_LEN) {
            return Err(KdfError::InvalidParameter("TLS_PRF derives 48 bytes"));
        }
        match inputs.protocol.unwrap_or(TLS1_0_PROTOCOL_VERSION) {
            TLS1_0_PROTOCOL_VERSION | TLS1_1_PROTOCOL_VERSION | DTLS1_0_PROTOCOL_VERSION => {
                Ok(Self::Tls10 { label, seed })
            }
            TLS1_2_PROTOCOL_VERSION => match inputs.hash.unwrap_or(HashAlg::Sha256) {
                alg @ (HashAlg::Sha256 | HashAlg::Sha384) => Ok(Self::Tls12 { alg, label, seed }),
                _ => Err(KdfError::InvalidParameter("TLS 1.2 PRF takes SHA256 or SHA384")),
            },
            SSL2_PROTOCOL_VERSION | SSL3_PROTOCOL_VERSION => Err(KdfError::Unsupported("SSL 2.0 / 3.0 PRF")),
            _ => Err(KdfError::InvalidParameter("unknown KDF_TLS_PRF_PROTOCOL")),
        }
    }

    fn concat(inputs: &Inputs<'a>, secret_len: usize, out_len: Option<usize>) -> Result<Self, KdfError> {
        let missing =
            KdfError::InvalidParameter("SP800_56A_CONCAT needs KDF_ALGORITHMID, KDF_PARTYUINFO and KDF_PARTYVINFO");
        let other_info = [
            inputs.algorithm_id.ok_or(missing)?,
            inputs.party_u.ok_or(missing)?,
            inputs.party_v.ok_or(missing)?,
            inputs.supp_pub.unwrap_or_default(),
            inputs.supp_priv.unwrap_or_default(),
        ];
        let alg = match inputs.hash {
            // BCryptDeriveKey matches the hash to the curve: P-256 SHA256, P-384 SHA384.
            None if secret_len <= 32 => HashAlg::Sha256,
            None if secret_len <= 48 => HashAlg::Sha384,
            None => HashAlg::Sha512,
            Some(HashAlg::Md5) => return Err(KdfError::InvalidParameter("MD5 is not an SP 800-56A hash")),
            Some(alg) => alg,
        };
        let len = out_len.unwrap_or(alg.output_len());
        if len > MAX_OUTPUT_LEN {
            return Err(KdfError::InvalidParameter("SP800_56A_CONCAT output too long"));
        }
        Ok(Self::Concat { alg, other_info, len })
    }

    /// The output length.
    fn len(&self) -> usize {
        match self {
            Self::Hash { len, .. } | Self::Hmac { len, .. } | Self::Concat { len, .. } => *len,
            Self::Tls10 { .. } | Self::Tls12 { .. } => TLS_PRF_OUTPUT_LEN,
        }
    }

    fn run(&self, z: &[u8]) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        let len = self.len();
        let mut out = match self {
            Self::Hash { alg, prepend, append, .. } => alg.digest(&message(prepend, z, append))?,
            Self::Hmac { alg, key, prepend, append, .. } => {
                let key = match *key {
                    HmacKey::Given(key) => key,
                    HmacKey::Secret => z,
                };
                alg.mac(key, &message(prepend, z, append))?
            }
            Self::Tls10 { label, seed } => {
                let mut out = Zeroizing::new(vec![0; TLS_PRF_OUTPUT_LEN]);
                tls10_prf(z, label, seed, &mut out)?;
                out
            }
            Self::Tls12 { alg, label, seed } => {
                let mut out = Zeroizing::new(vec![0; TLS_PRF_OUTPUT_LEN]);
                alg.p_hash(z, label, seed, &mut out)?;
                out
            }
            Self::Concat { alg, other_info, .. } => concat_kdf(*alg, z, other_info, len)?,
        };
        out.truncate(len);
        Ok(out)
    }
}

/// `prepend… ‖ z ‖ append…` as a list of parts.
fn message<'p>(prepend: &[&'p [u8]], z: &'p [u8], append: &[&'p [u8]]) -> Vec<&'p [u8]> {
    prepend.iter().copied().chain(Some(z)).chain(append.iter().copied()).collect()
}

/// The TLS 1.0 / 1.1 PRF (RFC 2246 §5) into `out`: `P_MD5(S1, label ‖ seed) ⊕ P_SHA1(S2, label ‖
/// seed)`, where `S1` and `S2` are the first and last `ceil(len / 2)` bytes of the secret.
fn tls10_prf(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) -> Result<(), KdfError> {
    let half = secret.len().div_ceil(2);
    let s1 = secret.get(..half).ok_or(KdfError::InvalidParameter("shared secret"))?;
    let s2 = secret.get(secret.len() - half..).ok_or(KdfError::InvalidParameter("shared secret"))?;
    let mut sha1 = Zeroizing::new(vec![0; out.len()]);
    HashAlg::Md5.p_hash(s1, label, seed, out)?;
    HashAlg::Sha1.p_hash(s2, label, seed, &mut sha1)?;
    for (o, s) in out.iter_mut().zip(sha1.iter()) {
        *o ^= *s;
    }
    Ok(())
}

/// The SP 800-56A §5.8.1 concatenation KDF: blocks `H(counter ‖ Z ‖ OtherInfo)` for
/// `counter = 1, 2, …` (32-bit big-endian), truncated to `len` bytes.
fn concat_kdf(alg: HashAlg, z: &[u8], other_info: &[&[u8]; 5], len: usize) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    let [algorithm_id, party_u, party_v, supp_pub, supp_priv] = *other_info;
    let mut out = Zeroizing::new(vec![0; len]);
    let mut counter: u32 = 0;
    for chunk in out.chunks_mut(alg.output_len()) {
        counter = counter.checked_add(1).ok_or(KdfError::InvalidParameter("SP800_56A_CONCAT output too long"))?;
        let block = alg.digest(&[&counter.to_be_bytes(), z, algorithm_id, party_u, party_v, supp_pub, supp_priv])?;
        copy_prefix(chunk, &block);
    }
    Ok(out)
}
