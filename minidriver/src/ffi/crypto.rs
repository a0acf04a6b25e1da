//! Signing, RSA decryption and ECDH key agreement (spec §4.7).

use core::ffi::c_void;
use core::ptr;

use windows_sys::Win32::Security::Cryptography::{
    BCRYPT_OAEP_PADDING_INFO, BCRYPT_PKCS1_PADDING_INFO, BCRYPT_PSS_PADDING_INFO, BCryptBuffer, BCryptBufferDesc,
    CARD_DATA, CARD_DERIVE_KEY, CARD_DH_AGREEMENT_INFO, CARD_RSA_DECRYPT_INFO, CARD_SIGNING_INFO,
};
use zeroize::{Zeroize, Zeroizing};

use super::entry;
use super::util::{self, Csp, need};
use crate::abi::{crypt, keyspec};
use crate::blobs;
use crate::context::{Context, hash_from_alg_id, hash_from_name};
use crate::edge::{DecryptPadding, KeyRole, SignRequest};
use crate::error::{Error, Result};
use crate::kdf::{Kdf, Param};

/// Most parameters a KDF parameter list may carry (CNG defines fewer than 20 kinds).
const MAX_KDF_PARAMS: u32 = 64;
/// `KDF_SECRET_HANDLE`.
const KDF_SECRET_HANDLE: u32 = 6;

/// `CardSignData`: PKCS#1 v1.5 (every `ALG_ID` hash, and none), PSS, raw, or ECDSA. RSA
/// signatures are returned little-endian (CAPI order), ECDSA as big-endian `r || s`.
pub(super) unsafe extern "system" fn card_sign_data(cd: *const CARD_DATA, info: *mut CARD_SIGNING_INFO) -> u32 {
    entry("CardSignData", cd, |ctx, csp| {
        need(info, "pInfo is NULL")?;
        // SAFETY: `info` points to a CARD_SIGNING_INFO of (at least) the version it declares;
        // v2 fields are read only for version 2.
        unsafe { sign(ctx, csp, info) }
    })
}

/// # Safety
/// `info` must point to a valid `CARD_SIGNING_INFO` of its declared version.
unsafe fn sign(ctx: &mut Context, csp: &Csp, info: *mut CARD_SIGNING_INFO) -> Result<()> {
    // SAFETY: v1 fields exist in both versions.
    let (version, index, key_spec, flags, alg_id, pb, cb) = unsafe {
        (
            (&raw const (*info).dwVersion).read(),
            (&raw const (*info).bContainerIndex).read(),
            (&raw const (*info).dwKeySpec).read(),
            (&raw const (*info).dwSigningFlags).read(),
            (&raw const (*info).aiHashAlg).read(),
            (&raw const (*info).pbData).read(),
            (&raw const (*info).cbData).read(),
        )
    };
    if version != 1 && version != 2 {
        return Err(Error::RevisionMismatch);
    }
    let allowed = crypt::PADDING_INFO_PRESENT | crypt::BUFFER_SIZE_ONLY | crypt::NOHASHOID;
    if flags & !allowed != 0 {
        return Err(Error::InvalidParameter("unknown dwSigningFlags"));
    }
    if !(keyspec::AT_KEYEXCHANGE..=keyspec::AT_ECDHE_P521).contains(&key_spec) {
        return Err(Error::InvalidParameter("undefined dwKeySpec"));
    }
    // Padding information is the current version's (spec §4.7.5: else a revision mismatch).
    if flags & crypt::PADDING_INFO_PRESENT != 0 && version < 2 {
        return Err(Error::RevisionMismatch);
    }
    // SAFETY: pbData holds cbData bytes.
    let data = unsafe { util::required_bytes(pb, cb, "pbData is NULL")? };
    // A key spec the card has no keys of (P-521; every ECC one on an RSA-only card) is
    // "defined but not supported" (spec §4.7.5), whatever the container holds; no card I/O.
    if let Err(e @ Error::Unsupported(_)) = ctx.key_sizes(key_spec) {
        return Err(e);
    }
    let container = ctx.container(index, &mut &*csp)?;
    if container.key_spec() != key_spec {
        return match key_spec {
            keyspec::AT_ECDHE_P256 | keyspec::AT_ECDHE_P384 | keyspec::AT_ECDHE_P521 => {
                Err(Error::InvalidParameter("ECDH keys do not sign"))
            }
            _ => Err(Error::NoKeyContainer),
        };
    }
    let alg = container.public_key.algorithm();
    if container.role == KeyRole::Exchange && !alg.is_rsa() {
        return Err(Error::InvalidParameter("ECDH keys do not sign"));
    }
    let out_len = if alg.is_rsa() { alg.byte_len() } else { 2 * alg.byte_len() };
    if flags & crypt::BUFFER_SIZE_ONLY != 0 {
        // SAFETY: cbSignedData is a v1 field.
        unsafe { (&raw mut (*info).cbSignedData).write(util::dword(out_len)?) };
        return Ok(());
    }
    let signature = if alg.is_rsa() {
        let mut sig = if flags & crypt::PADDING_INFO_PRESENT != 0 {
            // SAFETY: version 2: pPaddingInfo and dwPaddingType exist.
            let (padding_info, padding_type) =
                unsafe { ((&raw const (*info).pPaddingInfo).read(), (&raw const (*info).dwPaddingType).read()) };
            // SAFETY: pPaddingInfo points to the BCRYPT_*_PADDING_INFO of dwPaddingType.
            unsafe { sign_with_padding(ctx, csp, index, data, padding_info, padding_type)? }
        } else {
            let hash_alg = if flags & crypt::NOHASHOID != 0 { None } else { hash_from_alg_id(alg_id)? };
            ctx.sign(index, &SignRequest::Pkcs1 { hash_alg, hash: data }, &mut &*csp)?
        };
        sig.reverse();
        sig
    } else {
        ctx.sign(index, &SignRequest::Ecdsa { hash: data }, &mut &*csp)?
    };
    let len = util::dword(signature.len())?;
    let p = csp.alloc_copy(&signature)?;
    // SAFETY: pbSignedData and cbSignedData are v1 fields.
    unsafe {
        (&raw mut (*info).pbSignedData).write(p);
        (&raw mut (*info).cbSignedData).write(len);
    }
    Ok(())
}

/// # Safety
/// `padding_info` must be NULL or point to the padding structure `padding_type` names.
unsafe fn sign_with_padding(
    ctx: &mut Context,
    csp: &Csp,
    index: u8,
    data: &[u8],
    padding_info: *mut c_void,
    padding_type: u32,
) -> Result<Vec<u8>> {
    let request = match padding_type {
        crypt::PADDING_PKCS1 => {
            if padding_info.is_null() {
                return Err(Error::InvalidParameter("pPaddingInfo is NULL"));
            }
            // SAFETY: a BCRYPT_PKCS1_PADDING_INFO per dwPaddingType.
            let alg = unsafe { (&raw const (*padding_info.cast::<BCRYPT_PKCS1_PADDING_INFO>()).pszAlgId).read() };
            // SAFETY: pszAlgId is NULL or a NUL-terminated UTF-16 string.
            let hash_alg = unsafe { util::wide(alg)? }.map(|n| hash_from_name(&n)).transpose()?;
            SignRequest::Pkcs1 { hash_alg, hash: data }
        }
        crypt::PADDING_PSS => {
            if padding_info.is_null() {
                return Err(Error::InvalidParameter("pPaddingInfo is NULL"));
            }
            let pss = padding_info.cast::<BCRYPT_PSS_PADDING_INFO>();
            // SAFETY: a BCRYPT_PSS_PADDING_INFO per dwPaddingType.
            let (alg, salt) = unsafe { ((&raw const (*pss).pszAlgId).read(), (&raw const (*pss).cbSalt).read()) };
            // SAFETY: pszAlgId is NULL or a NUL-terminated UTF-16 string.
            let name = unsafe { util::wide(alg)? }.ok_or(Error::InvalidParameter("PSS needs a hash algorithm"))?;
            let hash_alg = hash_from_name(&name)?;
            let salt_len = usize::try_from(salt).map_err(|_| Error::InvalidParameter("cbSalt"))?;
            SignRequest::Pss { hash_alg, hash: data, salt_len }
        }
        crypt::PADDING_NONE => SignRequest::Raw { block: data },
        _ => return Err(Error::InvalidParameter("dwPaddingType")),
    };
    ctx.sign(index, &request, &mut &*csp)
}

/// `CardRSADecrypt`: the input is little-endian; the output replaces it in place,
/// little-endian: the whole block for version 1 or `CARD_PADDING_NONE`, the unpadded message
/// for PKCS#1 and OAEP (unpadded here in constant time; `pfnCspUnpadData` is not needed).
pub(super) unsafe extern "system" fn card_rsa_decrypt(cd: *const CARD_DATA, info: *mut CARD_RSA_DECRYPT_INFO) -> u32 {
    entry("CardRSADecrypt", cd, |ctx, csp| {
        need(info, "pInfo is NULL")?;
        // SAFETY: `info` points to a CARD_RSA_DECRYPT_INFO of its declared version.
        unsafe { decrypt(ctx, csp, info) }
    })
}

/// # Safety
/// `info` must point to a valid `CARD_RSA_DECRYPT_INFO` of its declared version.
unsafe fn decrypt(ctx: &mut Context, csp: &Csp, info: *mut CARD_RSA_DECRYPT_INFO) -> Result<()> {
    // SAFETY: v1 fields.
    let (version, index, key_spec, pb, cb) = unsafe {
        (
            (&raw const (*info).dwVersion).read(),
            (&raw const (*info).bContainerIndex).read(),
            (&raw const (*info).dwKeySpec).read(),
            (&raw const (*info).pbData).read(),
            (&raw const (*info).cbData).read(),
        )
    };
    if !(1..=2).contains(&version) || (version < 2 && ctx.version() == 7) {
        return Err(Error::RevisionMismatch);
    }
    if pb.is_null() {
        return Err(Error::InvalidParameter("pbData is NULL"));
    }
    if key_spec != keyspec::AT_KEYEXCHANGE {
        return Err(Error::InvalidParameter("only AT_KEYEXCHANGE keys decrypt"));
    }
    let container = ctx.container(index, &mut &*csp)?;
    if !container.public_key.algorithm().is_rsa() {
        return Err(Error::InvalidParameter("not an RSA key"));
    }
    let k = container.public_key.algorithm().byte_len();
    let cb = usize::try_from(cb).map_err(|_| Error::InvalidParameter("cbData"))?;
    if cb < k {
        return Err(Error::ScardBufferTooSmall);
    }
    // SAFETY: pbData holds cbData >= k bytes.
    let mut ciphertext = Zeroizing::new(unsafe { core::slice::from_raw_parts(pb, k) }.to_vec());
    ciphertext.reverse();
    let (padding_type, padding_info) = if version >= 2 {
        // SAFETY: version 2 fields.
        unsafe { ((&raw const (*info).dwPaddingType).read(), (&raw const (*info).pPaddingInfo).read()) }
    } else {
        (crypt::PADDING_NONE, ptr::null_mut())
    };
    let mut label_store = Vec::new();
    let padding = match padding_type {
        crypt::PADDING_NONE => DecryptPadding::None,
        crypt::PADDING_PKCS1 => DecryptPadding::Pkcs1,
        crypt::PADDING_OAEP => {
            if padding_info.is_null() {
                return Err(Error::InvalidParameter("OAEP needs a BCRYPT_OAEP_PADDING_INFO"));
            }
            let oaep = padding_info.cast::<BCRYPT_OAEP_PADDING_INFO>();
            // SAFETY: a BCRYPT_OAEP_PADDING_INFO per dwPaddingType.
            let (alg, label, label_len) = unsafe {
                (
                    (&raw const (*oaep).pszAlgId).read(),
                    (&raw const (*oaep).pbLabel).read(),
                    (&raw const (*oaep).cbLabel).read(),
                )
            };
            // SAFETY: pszAlgId is NULL or a NUL-terminated UTF-16 string.
            let name = unsafe { util::wide(alg)? }.ok_or(Error::InvalidParameter("OAEP needs a hash algorithm"))?;
            // SAFETY: pbLabel holds cbLabel bytes.
            label_store = unsafe { util::bytes(label, label_len, "pbLabel is NULL")? }.to_vec();
            DecryptPadding::Oaep { hash_alg: hash_from_name(&name)?, label: &label_store }
        }
        _ => return Err(Error::InvalidParameter("dwPaddingType")),
    };
    let mut plain = ctx.decrypt(index, &ciphertext, &padding, &mut &*csp)?;
    label_store.zeroize();
    plain.reverse();
    let len = util::dword(plain.len())?;
    // SAFETY: pbData holds at least k >= plain.len() bytes (the caller's buffer, in place).
    unsafe {
        ptr::copy_nonoverlapping(plain.as_ptr(), pb, plain.len());
        (&raw mut (*info).cbData).write(len);
    }
    Ok(())
}

/// `CardConstructDHAgreement`: ECDH with the peer's `BCRYPT_ECCKEY_BLOB`; the shared secret
/// stays in the context and the CSP gets its index.
pub(super) unsafe extern "system" fn card_construct_dh_agreement(
    cd: *const CARD_DATA,
    info: *mut CARD_DH_AGREEMENT_INFO,
) -> u32 {
    entry("CardConstructDHAgreement", cd, |ctx, csp| {
        need(info, "pAgreementInfo is NULL")?;
        // SAFETY: `info` points to a CARD_DH_AGREEMENT_INFO (a single version exists).
        let (version, index, flags, pb, cb) = unsafe {
            (
                (&raw const (*info).dwVersion).read(),
                (&raw const (*info).bContainerIndex).read(),
                (&raw const (*info).dwFlags).read(),
                (&raw const (*info).pbPublicKey).read(),
                (&raw const (*info).dwPublicKey).read(),
            )
        };
        if version != 2 {
            return Err(Error::RevisionMismatch);
        }
        util::flags_zero(flags)?;
        // SAFETY: pbPublicKey holds dwPublicKey bytes.
        let blob = unsafe { util::required_bytes(pb, cb, "pbPublicKey is NULL")? };
        let container = ctx.container(index, &mut &*csp)?;
        let point = blobs::peer_point(blob, container.public_key.algorithm())?;
        let agreement = ctx.construct_agreement(index, &point, &mut &*csp)?;
        // SAFETY: as above.
        unsafe { (&raw mut (*info).bSecretAgreementIndex).write(agreement) };
        Ok(())
    })
}

/// `CardDeriveKey`: CNG KDFs (HASH, HMAC, TLS_PRF, SP800_56A_CONCAT, and the raw TRUNCATE the
/// smart card KSP uses) over an agreement, in software; the output goes into the caller's
/// `pbDerivedKey`. Key handles need secure key
/// injection, which this driver does not offer (`CARD_RETURN_KEY_HANDLE` is unsupported).
pub(super) unsafe extern "system" fn card_derive_key(cd: *const CARD_DATA, info: *mut CARD_DERIVE_KEY) -> u32 {
    entry("CardDeriveKey", cd, |ctx, csp| {
        need(info, "pAgreementInfo is NULL")?;
        // SAFETY: `info` points to a CARD_DERIVE_KEY of its declared version.
        unsafe { derive(ctx, csp, info) }
    })
}

/// # Safety
/// `info` must point to a valid `CARD_DERIVE_KEY` of its declared version.
unsafe fn derive(ctx: &mut Context, csp: &Csp, info: *mut CARD_DERIVE_KEY) -> Result<()> {
    // SAFETY: v1 fields.
    let (version, flags, kdf_name, index, params, out, out_cap) = unsafe {
        (
            (&raw const (*info).dwVersion).read(),
            (&raw const (*info).dwFlags).read(),
            (&raw const (*info).pwszKDF).read(),
            (&raw const (*info).bSecretAgreementIndex).read(),
            (&raw const (*info).pParameterList).read(),
            (&raw const (*info).pbDerivedKey).read(),
            (&raw const (*info).cbDerivedKey).read(),
        )
    };
    if version != 1 && version != 2 {
        return Err(Error::RevisionMismatch);
    }
    let allowed = crypt::KDF_USE_SECRET_AS_HMAC_KEY | crypt::RETURN_KEY_HANDLE | crypt::BUFFER_SIZE_ONLY;
    if flags & !allowed != 0 {
        return Err(Error::InvalidParameter("unknown dwFlags"));
    }
    if flags & crypt::RETURN_KEY_HANDLE != 0 {
        return Err(Error::Unsupported("key handles need secure key injection"));
    }
    // SAFETY: pwszKDF is NULL or a NUL-terminated UTF-16 string.
    let name = unsafe { util::required_wide(kdf_name, "pwszKDF is NULL")? };
    // SAFETY: pParameterList is NULL or an NCryptBufferDesc.
    let (params, agreement) = unsafe { parameters(csp, params.cast())? };
    let index = agreement.unwrap_or(index);
    let use_secret = flags & crypt::KDF_USE_SECRET_AS_HMAC_KEY != 0;
    let requested = (out_cap > 0).then(|| usize::try_from(out_cap).unwrap_or(usize::MAX));
    let raw = name.eq_ignore_ascii_case("TRUNCATE");
    let kdf = if raw { None } else { Some(Kdf::from_name(&name).ok_or(Error::InvalidParameter("unknown KDF"))?) };
    if flags & crypt::BUFFER_SIZE_ONLY != 0 {
        let len = match kdf {
            Some(kdf) => ctx.derive_len(index, kdf, &params, use_secret, requested)?,
            None => ctx.raw_secret(index)?.len(),
        };
        // SAFETY: cbDerivedKey is a v1 field.
        unsafe { (&raw mut (*info).cbDerivedKey).write(util::dword(len)?) };
        return Ok(());
    }
    let key = match kdf {
        Some(kdf) => ctx.derive(index, kdf, &params, use_secret, requested)?,
        None => ctx.raw_secret(index)?,
    };
    if out.is_null() {
        return Err(Error::InvalidParameter("pbDerivedKey is NULL"));
    }
    let cap = usize::try_from(out_cap).unwrap_or(0);
    if cap < key.len() {
        return Err(Error::ScardBufferTooSmall);
    }
    // SAFETY: pbDerivedKey holds cbDerivedKey >= key.len() bytes (caller-allocated).
    unsafe {
        ptr::copy_nonoverlapping(key.as_ptr(), out, key.len());
        (&raw mut (*info).cbDerivedKey).write(util::dword(key.len())?);
    }
    Ok(())
}

/// Copies an `NCryptBufferDesc` out of C memory; a `KDF_SECRET_HANDLE` entry is resolved to an
/// agreement index through `pfnCspGetDHAgreement`.
///
/// # Safety
/// `desc` must be NULL or point to a valid buffer descriptor.
unsafe fn parameters(csp: &Csp, desc: *const BCryptBufferDesc) -> Result<(Vec<Param>, Option<u8>)> {
    if desc.is_null() {
        return Ok((Vec::new(), None));
    }
    // SAFETY: forwarded contract.
    let (version, count, buffers) = unsafe {
        (
            (&raw const (*desc).ulVersion).read(),
            (&raw const (*desc).cBuffers).read(),
            (&raw const (*desc).pBuffers).read(),
        )
    };
    if version != 0 || count > MAX_KDF_PARAMS || (count > 0 && buffers.is_null()) {
        return Err(Error::InvalidParameter("pParameterList"));
    }
    let mut params = Vec::new();
    let mut agreement = None;
    for i in 0..usize::try_from(count).unwrap_or(0) {
        // SAFETY: pBuffers holds cBuffers entries.
        let b: BCryptBuffer = unsafe { buffers.add(i).read_unaligned() };
        if b.BufferType == KDF_SECRET_HANDLE {
            let get = csp
                .get_dh_agreement
                .ok_or(Error::InvalidParameter("KDF_SECRET_HANDLE without pfnCspGetDHAgreement"))?;
            let mut index = 0u8;
            // SAFETY: the CSP resolves its own secret handle; the out-pointer is valid.
            let rv = unsafe { get(csp.card_data, b.pvBuffer, &mut index, 0) };
            if rv != 0 {
                return Err(Error::InvalidParameter("KDF_SECRET_HANDLE not resolved"));
            }
            agreement = Some(index);
            continue;
        }
        // SAFETY: pvBuffer holds cbBuffer bytes.
        let data = unsafe { util::bytes(b.pvBuffer.cast::<u8>(), b.cbBuffer, "KDF parameter buffer is NULL")? };
        params.push(Param { kind: b.BufferType, data: data.to_vec() });
    }
    Ok((params, agreement))
}

/// `CardDestroyDHAgreement`.
pub(super) unsafe extern "system" fn card_destroy_dh_agreement(cd: *const CARD_DATA, index: u8, flags: u32) -> u32 {
    entry("CardDestroyDHAgreement", cd, |ctx, _| {
        util::flags_zero(flags)?;
        ctx.destroy_agreement(index)
    })
}
