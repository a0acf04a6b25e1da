//! The raw calls of [`super`]: every entry point of a `CARD_DATA` table with NULL, out-of-range
//! or sentinel arguments, a bare `CARD_DATA` ([`RawCsp`]), foreign allocators and callbacks.
//!
//! Every function is safe over a `&CARD_DATA` the caller holds (from [`CardData::raw`] or
//! [`RawCsp::data`]) whose context is acquired: the buffers it hands to the driver are its own
//! and outlive the call, and whatever the driver returns in a `pfnCspAlloc` buffer is copied
//! out and freed once.
#![allow(unsafe_code)]
#![allow(clippy::cast_possible_truncation, clippy::cast_ptr_alignment, reason = "raw calls over the C ABI")]

use core::ffi::c_void;
use core::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use card_edges::transport::Transport;
use minidriver::abi::{crypt, keyspec, pin, prop};
use windows_sys::Win32::Security::Cryptography::{
    BCRYPT_OAEP_PADDING_INFO, BCRYPT_PKCS1_PADDING_INFO, BCryptBuffer, BCryptBufferDesc, CARD_CAPABILITIES, CARD_DATA,
    CARD_DERIVE_KEY, CARD_DH_AGREEMENT_INFO, CARD_FILE_INFO, CARD_FREE_SPACE_INFO, CARD_KEY_SIZES,
    CARD_RSA_DECRYPT_INFO, CARD_SIGNING_INFO, CONTAINER_INFO,
};

use super::{DeriveCall, DeriveOut, NullCase, Output, Outputs, SignCall, SignOut};
use crate::csp::ffi::take;
use crate::csp::{CardData, CspCache, Driver};

/// A pointer value the driver must never write over (nor read through).
const SENTINEL: usize = 0x5EED_0000;

/// A `pfnCspAlloc` that is out of memory.
unsafe extern "system" fn failing_alloc(_size: usize) -> *mut c_void {
    ptr::null_mut()
}

/// `pfnCspAlloc` that always fails.
pub const FAILING_ALLOC: windows_sys::Win32::Security::Cryptography::PFN_CSP_ALLOC = Some(failing_alloc);

/// The cache every [`RawCsp`] shares, as the contexts of one process share the Base CSP's.
fn shared_cache() -> &'static Arc<Mutex<CspCache>> {
    static CACHE: OnceLock<Arc<Mutex<CspCache>>> = OnceLock::new();
    CACHE.get_or_init(Arc::default)
}

/// Calls of the shared cache's callbacks so far (any of the three).
pub fn cache_calls() -> u64 {
    shared_cache().lock().unwrap_or_else(PoisonError::into_inner).calls()
}

/// Empties [`RawCsp`]'s shared cache.
pub fn clear_cache() {
    shared_cache().lock().unwrap_or_else(PoisonError::into_inner).clear();
}

// ----- a CSP of our own -----

/// A `CARD_DATA` filled as the Base CSP fills it, with the stand-in CSP's allocator and the
/// shared cache, for calls that inspect the structure after a failed acquire, change callbacks,
/// or check what the driver frees. Deleted on drop if still acquired.
pub struct RawCsp {
    cd: Box<CARD_DATA>,
    _atr: Box<[u8]>,
    _name: Box<[u16]>,
}

impl core::fmt::Debug for RawCsp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawCsp")
            .field("dwVersion", &self.cd.dwVersion)
            .field("acquired", &!self.cd.pvVendorSpecific.is_null())
            .finish_non_exhaustive()
    }
}

impl RawCsp {
    /// A `CARD_DATA` of `version` for a card with `atr`, not yet acquired (the PIV card name).
    pub fn new(version: u32, atr: &[u8]) -> Self {
        Self::named(version, atr, "Identity Device (NIST SP 800-73 [PIV])")
    }

    /// A `CARD_DATA` of `version` for a card with `atr` registered as `card_name`.
    pub fn named(version: u32, atr: &[u8], card_name: &str) -> Self {
        let atr: Box<[u8]> = atr.into();
        let name: Box<[u16]> = card_name.encode_utf16().chain([0]).collect();
        let mut cd = Box::<CARD_DATA>::default();
        cd.dwVersion = version;
        cd.pbAtr = atr.as_ptr().cast_mut();
        cd.cbAtr = atr.len() as u32;
        cd.pwszCardName = name.as_ptr().cast_mut();
        crate::csp::install_callbacks(&mut cd, shared_cache());
        Self { cd, _atr: atr, _name: name }
    }

    /// The structure (to read fields, or to call through its table).
    pub fn data(&self) -> &CARD_DATA {
        &self.cd
    }

    /// The structure, to change what the CSP supplies. Pointers set here must stay valid.
    pub fn data_mut(&mut self) -> &mut CARD_DATA {
        &mut self.cd
    }

    /// `CardAcquireContext` through the linked driver: over `transport` (the Rust-level entry,
    /// handles ignored) or, without one, the exported C function on `hSCardCtx`/`hScard`.
    pub fn acquire(&mut self, flags: u32, transport: Option<Box<dyn Transport + Send>>) -> u32 {
        self.acquire_with(&Driver::linked(), flags, transport)
    }

    /// `CardAcquireContext` of `driver`: over `transport` (linked driver only: its Rust-level
    /// entry, handles ignored; a loaded library gets `SCARD_E_INVALID_PARAMETER` from the CSP
    /// side, having no such entry) or, without one, its exported function on the handles.
    pub fn acquire_with(&mut self, driver: &Driver, flags: u32, transport: Option<Box<dyn Transport + Send>>) -> u32 {
        let cd = &raw mut *self.cd;
        match transport {
            // SAFETY: `cd` is a fully initialised CARD_DATA that outlives the context.
            Some(t) if driver.linked => unsafe { minidriver::ffi::acquire_with_transport(cd, flags, t) },
            Some(_) => 0x8010_0004,
            // SAFETY: as above; the function has the PFN_CARD_ACQUIRE_CONTEXT signature.
            None => unsafe { (driver.acquire)(cd, flags) },
        }
    }

    /// `CardDeleteContext` (whatever the state: a second call must be refused cleanly).
    pub fn delete(&mut self) -> u32 {
        let Some(f) = self.cd.pfnCardDeleteContext else { return 0x8010_0022 };
        // SAFETY: our live CARD_DATA.
        unsafe { f(&raw mut *self.cd) }
    }
}

impl Drop for RawCsp {
    fn drop(&mut self) {
        if !self.cd.pvVendorSpecific.is_null() {
            let _ = self.delete();
        }
    }
}

/// `CardAcquireContext(NULL, 0)` of the linked driver.
pub fn acquire_null() -> u32 {
    acquire_null_with(&Driver::linked())
}

/// `CardAcquireContext(NULL, 0)` of `driver`.
pub fn acquire_null_with(driver: &Driver) -> u32 {
    // SAFETY: NULL is a documented input (it must be refused); the function has the
    // PFN_CARD_ACQUIRE_CONTEXT signature.
    unsafe { (driver.acquire)(ptr::null_mut(), 0) }
}

/// Frees a buffer the driver returned (the test's own free, not counted as the driver's).
fn free_output(p: *mut u8) {
    // SAFETY: `p` is NULL or a driver output from the CSP allocator every context here uses.
    unsafe { crate::csp::free_output(p.cast()) };
}

/// Everything the CSP supplies in `CARD_DATA` (pointers and callbacks as addresses, `cbAtr`),
/// to compare before and after the driver ran.
pub fn csp_supplied(cd: &CARD_DATA) -> Vec<usize> {
    macro_rules! addr {
        ($f:expr) => {
            $f.map_or(0, |f| f as usize)
        };
    }
    vec![
        cd.pbAtr as usize,
        cd.cbAtr as usize,
        cd.pwszCardName as usize,
        addr!(cd.pfnCspAlloc),
        addr!(cd.pfnCspReAlloc),
        addr!(cd.pfnCspFree),
        addr!(cd.pfnCspCacheAddFile),
        addr!(cd.pfnCspCacheLookupFile),
        addr!(cd.pfnCspCacheDeleteFile),
        cd.pvCacheContext as usize,
        addr!(cd.pfnCspPadData),
        cd.hSCardCtx,
        cd.hScard,
        addr!(cd.pfnCspGetDHAgreement),
        addr!(cd.pfnCspUnpadData),
    ]
}

// ----- threads -----

/// Lets scoped threads share one stand-in CSP context, as the Base CSP shares an HCRYPTPROV.
pub struct Shared<'a>(pub &'a CardData);

// SAFETY: `CardData` is `!Sync` only because `CARD_DATA` holds raw pointers. Its `&self`
// methods never change the structure: they only call through its table, which the driver
// serialises per context with a mutex; the CSP stand-in's allocator (atomic counter over the
// global allocator) and cache (a `Mutex`) are thread-safe.
unsafe impl Sync for Shared<'_> {}

impl core::fmt::Debug for Shared<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Shared(CardData)")
    }
}

// ----- helpers: UTF-16 and names -----

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

fn ansi(s: &[u8]) -> Vec<u8> {
    s.iter().copied().chain([0]).collect()
}

// ----- every entry point with pCardData NULL -----

/// Calls every function of the table with `pCardData` NULL (the other arguments benign).
pub fn null_card_data_codes(cd: &CARD_DATA) -> Vec<(&'static str, u32)> {
    let n = ptr::null();
    let (name, file, prop_name) = (ansi(b"mscp"), ansi(b"cmapfile"), wide(prop::CARD_GUID));
    let mut out = Vec::new();
    let (mut pb, mut cb, mut tries, mut key) = (ptr::null_mut::<u8>(), 0u32, 0u32, 0usize);
    let mut buf = [0u8; 64];
    // SAFETY: every call passes pCardData NULL, which the driver checks before anything else;
    // the other pointers are valid locals.
    unsafe {
        macro_rules! call {
            ($field:ident, $($arg:expr),*) => {
                if let Some(f) = cd.$field {
                    out.push((stringify!($field), f($($arg),*)));
                }
            };
        }
        call!(pfnCardDeleteContext, ptr::null_mut());
        call!(pfnCardQueryCapabilities, n, ptr::null_mut());
        call!(pfnCardDeleteContainer, n, 0, 0);
        call!(pfnCardCreateContainer, n, 0, 1, keyspec::AT_ECDHE_P256, 0, ptr::null());
        call!(pfnCardGetContainerInfo, n, 0, 0, ptr::null_mut());
        call!(pfnCardAuthenticatePin, n, wide("user").as_ptr(), b"123456".as_ptr(), 6, &mut tries);
        call!(pfnCardGetChallenge, n, &mut pb, &mut cb);
        call!(pfnCardAuthenticateChallenge, n, buf.as_ptr(), 8, &mut tries);
        call!(pfnCardUnblockPin, n, wide("user").as_ptr(), buf.as_ptr(), 8, buf.as_ptr(), 6, 0, 2);
        call!(pfnCardChangeAuthenticator, n, wide("user").as_ptr(), buf.as_ptr(), 6, buf.as_ptr(), 6, 0, 2, &mut tries);
        call!(pfnCardDeauthenticate, n, wide("user").as_ptr(), 0);
        call!(pfnCardCreateDirectory, n, name.as_ptr(), 1);
        call!(pfnCardDeleteDirectory, n, name.as_ptr());
        call!(pfnCardCreateFile, n, name.as_ptr(), file.as_ptr(), 0, 1);
        call!(pfnCardReadFile, n, name.as_ptr(), file.as_ptr(), 0, &mut pb, &mut cb);
        call!(pfnCardWriteFile, n, name.as_ptr(), file.as_ptr(), 0, buf.as_ptr(), 4);
        call!(pfnCardDeleteFile, n, name.as_ptr(), file.as_ptr(), 0);
        call!(pfnCardEnumFiles, n, name.as_ptr(), &mut pb, &mut cb, 0);
        call!(pfnCardGetFileInfo, n, name.as_ptr(), file.as_ptr(), ptr::null_mut());
        call!(pfnCardQueryFreeSpace, n, 0, ptr::null_mut());
        call!(pfnCardQueryKeySizes, n, 1, 0, ptr::null_mut());
        call!(pfnCardSignData, n, ptr::null_mut());
        call!(pfnCardRSADecrypt, n, ptr::null_mut());
        call!(pfnCardConstructDHAgreement, n, ptr::null_mut());
        call!(pfnCardDeriveKey, n, ptr::null_mut());
        call!(pfnCardDestroyDHAgreement, n, 0, 0);
        call!(pfnCardGetChallengeEx, n, 2, &mut pb, &mut cb, 0);
        call!(pfnCardAuthenticateEx, n, 1, 0, buf.as_ptr(), 6, &mut pb, &mut cb, &mut tries);
        call!(pfnCardChangeAuthenticatorEx, n, 2, 1, buf.as_ptr(), 6, 1, buf.as_ptr(), 6, 0, &mut tries);
        call!(pfnCardDeauthenticateEx, n, 2, 0);
        call!(pfnCardGetContainerProperty, n, 0, prop_name.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, 0);
        call!(pfnCardSetContainerProperty, n, 0, prop_name.as_ptr(), buf.as_ptr(), 4, 0);
        call!(pfnCardGetProperty, n, prop_name.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, 0);
        call!(pfnCardSetProperty, n, prop_name.as_ptr(), buf.as_ptr(), 16, 0);
        call!(pfnMDImportSessionKey, n, prop_name.as_ptr(), prop_name.as_ptr(), &mut key, buf.as_ptr(), 0);
        call!(pfnMDEncryptData, n, 0, prop_name.as_ptr(), buf.as_ptr(), 0, 0, ptr::null_mut(), &mut cb);
        call!(
            pfnCardImportSessionKey,
            n,
            0,
            ptr::null(),
            prop_name.as_ptr(),
            prop_name.as_ptr(),
            &mut key,
            buf.as_ptr(),
            0,
            0
        );
        call!(pfnCardGetSharedKeyHandle, n, buf.as_ptr(), 0, &mut pb, &mut cb, &mut key);
        call!(pfnCardGetAlgorithmProperty, n, prop_name.as_ptr(), prop_name.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, 0);
        call!(pfnCardGetKeyProperty, n, 0, prop_name.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, 0);
        call!(pfnCardSetKeyProperty, n, 0, prop_name.as_ptr(), buf.as_ptr(), 0, 0);
        call!(pfnCardDestroyKey, n, 0);
        call!(pfnCardProcessEncryptedData, n, 0, prop_name.as_ptr(), ptr::null(), 0, buf.as_mut_ptr(), 64, &mut cb, 0);
        call!(pfnCardCreateContainerEx, n, 0, 1, keyspec::AT_ECDHE_P256, 0, ptr::null(), 1);
    }
    out
}

// ----- NULL pointer arguments -----

/// Every entry point of a live context with each pointer argument NULL in turn.
///
/// The calls that carry a secret beside the NULL argument carry `secret` (the user PIN: a
/// driver that wrongly goes ahead then verifies the right PIN, and a "change" changes it to
/// itself, so no try is spent and nothing changes); without one they are left out. The
/// `CardUnblockPin` cases (whose authentication data no value makes harmless) only when
/// `unblock` is set; only the entry point named `only` (`"CardReadFile"`) when given.
#[allow(clippy::too_many_lines, unused_assignments, reason = "one case after another, outputs reset each time")]
pub fn null_argument_codes(
    cd: &CARD_DATA,
    apdus: &dyn Fn() -> u64,
    secret: Option<&[u8]>,
    unblock: bool,
    only: Option<&str>,
) -> Vec<NullCase> {
    let want = |function: &str| only.is_none_or(|o| o == function);
    let c = ptr::from_ref(cd);
    let n8 = ptr::null::<u8>();
    let mut out = Vec::new();
    let (user, mscp, cmap, guid) = (wide("user"), ansi(b"mscp"), ansi(b"cmapfile"), wide(prop::CARD_GUID));
    let pin_data = secret.unwrap_or_default();
    let pin_len = pin_data.len() as u32;
    let mut buf = [0u8; 64];
    let mut last = apdus();
    let mut push = |what, code, clean| {
        let now = apdus();
        out.push(NullCase { what, code, outputs_clean: clean, apdus: now - last });
        last = now;
    };
    // SAFETY: a live context; every non-NULL pointer is a valid local that outlives the call.
    unsafe {
        let mut tries = 0u32;
        let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
        macro_rules! fresh {
            () => {{
                pb = ptr::null_mut();
                cb = 0;
            }};
        }
        macro_rules! clean {
            () => {
                pb.is_null() && cb == 0
            };
        }
        if let Some(f) = cd.pfnCardQueryCapabilities.filter(|_| want("CardQueryCapabilities")) {
            push("CardQueryCapabilities(pCardCapabilities NULL)", f(c, ptr::null_mut()), true);
        }
        if let Some(f) = cd.pfnCardGetContainerInfo.filter(|_| want("CardGetContainerInfo")) {
            push("CardGetContainerInfo(pContainerInfo NULL)", f(c, 0, 0, ptr::null_mut()), true);
        }
        if let Some(f) = cd.pfnCardAuthenticatePin.filter(|_| want("CardAuthenticatePin")) {
            if secret.is_some() {
                let code = f(c, ptr::null(), pin_data.as_ptr(), pin_len, &mut tries);
                push("CardAuthenticatePin(pwszUserId NULL)", code, true);
            }
            push("CardAuthenticatePin(pbPin NULL)", f(c, user.as_ptr(), n8, 6, &mut tries), true);
        }
        if let Some(f) = cd.pfnCardGetChallenge.filter(|_| want("CardGetChallenge")) {
            fresh!();
            let code = f(c, ptr::null_mut(), &mut cb);
            push("CardGetChallenge(ppbChallengeData NULL)", code, clean!());
            fresh!();
            let code = f(c, &mut pb, ptr::null_mut());
            push("CardGetChallenge(pcbChallengeData NULL)", code, clean!());
        }
        if let Some(f) = cd.pfnCardAuthenticateChallenge.filter(|_| want("CardAuthenticateChallenge")) {
            push("CardAuthenticateChallenge(pbResponseData NULL)", f(c, n8, 8, &mut tries), true);
        }
        if let Some(f) = cd.pfnCardUnblockPin.filter(|_| want("CardUnblockPin")).filter(|_| unblock) {
            push("CardUnblockPin(pwszUserId NULL)", f(c, ptr::null(), buf.as_ptr(), 8, buf.as_ptr(), 6, 0, 2), true);
            push("CardUnblockPin(pbAuthenticationData NULL)", f(c, user.as_ptr(), n8, 8, buf.as_ptr(), 6, 0, 2), true);
            push("CardUnblockPin(pbNewPinData NULL)", f(c, user.as_ptr(), buf.as_ptr(), 8, n8, 6, 0, 2), true);
        }
        if let Some(f) = cd.pfnCardChangeAuthenticator.filter(|_| secret.is_some() && want("CardChangeAuthenticator")) {
            let p = pin_data.as_ptr();
            let code = f(c, user.as_ptr(), n8, pin_len, p, pin_len, 0, 2, &mut tries);
            push("CardChangeAuthenticator(pbCurrentAuthenticator NULL)", code, true);
            let code = f(c, user.as_ptr(), p, pin_len, n8, pin_len, 0, 2, &mut tries);
            push("CardChangeAuthenticator(pbNewAuthenticator NULL)", code, true);
            let code = f(c, ptr::null(), p, pin_len, p, pin_len, 0, 2, &mut tries);
            push("CardChangeAuthenticator(pwszUserId NULL)", code, true);
        }
        if let Some(f) = cd.pfnCardDeauthenticate.filter(|_| want("CardDeauthenticate")) {
            push("CardDeauthenticate(pwszUserId NULL)", f(c, ptr::null(), 0), true);
        }
        if let Some(f) = cd.pfnCardCreateDirectory.filter(|_| want("CardCreateDirectory")) {
            push("CardCreateDirectory(pszDirectoryName NULL)", f(c, ptr::null(), 1), true);
        }
        if let Some(f) = cd.pfnCardDeleteDirectory.filter(|_| want("CardDeleteDirectory")) {
            push("CardDeleteDirectory(pszDirectoryName NULL)", f(c, ptr::null()), true);
        }
        if let Some(f) = cd.pfnCardCreateFile.filter(|_| want("CardCreateFile")) {
            push("CardCreateFile(pszFileName NULL)", f(c, mscp.as_ptr(), ptr::null(), 0, 1), true);
        }
        if let Some(f) = cd.pfnCardReadFile.filter(|_| want("CardReadFile")) {
            fresh!();
            let code = f(c, mscp.as_ptr(), ptr::null(), 0, &mut pb, &mut cb);
            push("CardReadFile(pszFileName NULL)", code, clean!());
            fresh!();
            let code = f(c, mscp.as_ptr(), cmap.as_ptr(), 0, ptr::null_mut(), &mut cb);
            push("CardReadFile(ppbData NULL)", code, clean!());
            fresh!();
            let code = f(c, mscp.as_ptr(), cmap.as_ptr(), 0, &mut pb, ptr::null_mut());
            push("CardReadFile(pcbData NULL)", code, clean!());
        }
        if let Some(f) = cd.pfnCardWriteFile.filter(|_| want("CardWriteFile")) {
            push("CardWriteFile(pszFileName NULL)", f(c, ptr::null(), ptr::null(), 0, buf.as_ptr(), 6), true);
            push("CardWriteFile(pbData NULL, cbData 6)", f(c, ptr::null(), ansi(b"cardcf").as_ptr(), 0, n8, 6), true);
        }
        if let Some(f) = cd.pfnCardDeleteFile.filter(|_| want("CardDeleteFile")) {
            push("CardDeleteFile(pszFileName NULL)", f(c, mscp.as_ptr(), ptr::null(), 0), true);
        }
        if let Some(f) = cd.pfnCardEnumFiles.filter(|_| want("CardEnumFiles")) {
            fresh!();
            let code = f(c, mscp.as_ptr(), ptr::null_mut(), &mut cb, 0);
            push("CardEnumFiles(pmszFileNames NULL)", code, clean!());
            fresh!();
            let code = f(c, mscp.as_ptr(), &mut pb, ptr::null_mut(), 0);
            push("CardEnumFiles(pdwcbFileName NULL)", code, clean!());
        }
        if let Some(f) = cd.pfnCardGetFileInfo.filter(|_| want("CardGetFileInfo")) {
            push("CardGetFileInfo(pCardFileInfo NULL)", f(c, mscp.as_ptr(), cmap.as_ptr(), ptr::null_mut()), true);
            let mut info = CARD_FILE_INFO { dwVersion: 1, cbFileSize: 0, AccessCondition: 0 };
            let code = f(c, mscp.as_ptr(), ptr::null(), &mut info);
            push("CardGetFileInfo(pszFileName NULL)", code, info.cbFileSize == 0);
        }
        if let Some(f) = cd.pfnCardQueryFreeSpace.filter(|_| want("CardQueryFreeSpace")) {
            push("CardQueryFreeSpace(pCardFreeSpaceInfo NULL)", f(c, 0, ptr::null_mut()), true);
        }
        if let Some(f) = cd.pfnCardQueryKeySizes.filter(|_| want("CardQueryKeySizes")) {
            push("CardQueryKeySizes(pKeySizes NULL)", f(c, keyspec::AT_ECDSA_P256, 0, ptr::null_mut()), true);
        }
        if let Some(f) = cd.pfnCardSignData.filter(|_| want("CardSignData")) {
            push("CardSignData(pInfo NULL)", f(c, ptr::null_mut()), true);
            let mut info = signing_info(3, keyspec::AT_ECDSA_P256, 0, 0, ptr::null_mut(), 32);
            let code = f(c, &mut info);
            push("CardSignData(pInfo->pbData NULL)", code, info.pbSignedData.is_null() && info.cbSignedData == 0);
        }
        if let Some(f) = cd.pfnCardRSADecrypt.filter(|_| want("CardRSADecrypt")) {
            push("CardRSADecrypt(pInfo NULL)", f(c, ptr::null_mut()), true);
            let mut info = decrypt_info(2, 0, keyspec::AT_KEYEXCHANGE, ptr::null_mut(), 256, crypt::PADDING_NONE);
            push("CardRSADecrypt(pInfo->pbData NULL)", f(c, &mut info), info.cbData == 256);
        }
        if let Some(f) = cd.pfnCardConstructDHAgreement.filter(|_| want("CardConstructDHAgreement")) {
            push("CardConstructDHAgreement(pAgreementInfo NULL)", f(c, ptr::null_mut()), true);
            let mut info = agreement_info(2, 2, 0, ptr::null_mut(), 72);
            let code = f(c, &mut info);
            push("CardConstructDHAgreement(pbPublicKey NULL)", code, info.bSecretAgreementIndex == 0);
        }
        if let Some(f) = cd.pfnCardDeriveKey.filter(|_| want("CardDeriveKey")) {
            push("CardDeriveKey(pAgreementInfo NULL)", f(c, ptr::null_mut()), true);
            let mut info = derive_info(2, 0, ptr::null_mut(), 0, ptr::null_mut(), buf.as_mut_ptr(), 32);
            let code = f(c, &mut info);
            push("CardDeriveKey(pwszKDF NULL)", code, info.cbDerivedKey == 32);
        }
        if let Some(f) = cd.pfnCardGetChallengeEx.filter(|_| want("CardGetChallengeEx")) {
            fresh!();
            let code = f(c, pin::ROLE_ADMIN, ptr::null_mut(), &mut cb, 0);
            push("CardGetChallengeEx(ppbChallengeData NULL)", code, clean!());
            fresh!();
            let code = f(c, pin::ROLE_ADMIN, &mut pb, ptr::null_mut(), 0);
            push("CardGetChallengeEx(pcbChallengeData NULL)", code, clean!());
        }
        if let Some(f) = cd.pfnCardAuthenticateEx.filter(|_| want("CardAuthenticateEx")) {
            let with_secret = secret.is_some();
            fresh!();
            let code = f(c, pin::ROLE_USER, 0, n8, 6, &mut pb, &mut cb, &mut tries);
            push("CardAuthenticateEx(pbPinData NULL)", code, clean!());
            fresh!();
            let code = f(c, pin::ROLE_USER, pin::SILENT_CONTEXT, n8, 0, &mut pb, &mut cb, &mut tries);
            push("CardAuthenticateEx(pbPinData NULL, CARD_PIN_SILENT_CONTEXT)", code, clean!());
            if with_secret {
                fresh!();
                let code = f(
                    c,
                    pin::ROLE_USER,
                    pin::GENERATE_SESSION_PIN,
                    pin_data.as_ptr(),
                    pin_len,
                    ptr::null_mut(),
                    &mut cb,
                    &mut tries,
                );
                push("CardAuthenticateEx(GENERATE_SESSION_PIN, ppbSessionPin NULL)", code, clean!());
                fresh!();
                let code = f(
                    c,
                    pin::ROLE_USER,
                    pin::GENERATE_SESSION_PIN,
                    pin_data.as_ptr(),
                    pin_len,
                    &mut pb,
                    ptr::null_mut(),
                    &mut tries,
                );
                push("CardAuthenticateEx(GENERATE_SESSION_PIN, pcbSessionPin NULL)", code, clean!());
            }
        }
        if let Some(f) =
            cd.pfnCardChangeAuthenticatorEx.filter(|_| secret.is_some() && want("CardChangeAuthenticatorEx"))
        {
            let (p, n) = (pin_data.as_ptr(), pin_len);
            let code = f(c, pin::CHANGE_FLAG_CHANGEPIN, 1, n8, n, 1, p, n, 0, &mut tries);
            push("CardChangeAuthenticatorEx(pbAuthenticatingPinData NULL)", code, true);
            let code = f(c, pin::CHANGE_FLAG_CHANGEPIN, 1, p, n, 1, n8, n, 0, &mut tries);
            push("CardChangeAuthenticatorEx(pbTargetData NULL)", code, true);
        }
        if let Some(f) = cd.pfnCardGetContainerProperty.filter(|_| want("CardGetContainerProperty")) {
            let code = f(c, 0, ptr::null(), buf.as_mut_ptr(), 64, &mut cb, 0);
            push("CardGetContainerProperty(wszProperty NULL)", code, true);
            let pin_id = wide(prop::PIN_IDENTIFIER);
            let code = f(c, 0, pin_id.as_ptr(), buf.as_mut_ptr(), 64, ptr::null_mut(), 0);
            push("CardGetContainerProperty(pdwDataLen NULL)", code, true);
            cb = 0;
            let code = f(c, 0, pin_id.as_ptr(), ptr::null_mut(), 64, &mut cb, 0);
            push("CardGetContainerProperty(pbData NULL, cbData 64)", code, true);
        }
        if let Some(f) = cd.pfnCardSetContainerProperty.filter(|_| want("CardSetContainerProperty")) {
            push("CardSetContainerProperty(wszProperty NULL)", f(c, 0, ptr::null(), buf.as_ptr(), 4, 0), true);
            let pin_id = wide(prop::PIN_IDENTIFIER);
            push("CardSetContainerProperty(pbData NULL)", f(c, 0, pin_id.as_ptr(), n8, 4, 0), true);
        }
        if let Some(f) = cd.pfnCardGetProperty.filter(|_| want("CardGetProperty")) {
            push("CardGetProperty(wszProperty NULL)", f(c, ptr::null(), buf.as_mut_ptr(), 64, &mut cb, 0), true);
            push(
                "CardGetProperty(pdwDataLen NULL)",
                f(c, guid.as_ptr(), buf.as_mut_ptr(), 64, ptr::null_mut(), 0),
                true,
            );
            cb = 0;
            let code = f(c, guid.as_ptr(), ptr::null_mut(), 64, &mut cb, 0);
            push("CardGetProperty(pbData NULL, cbData 64)", code, true);
        }
        if let Some(f) = cd.pfnCardSetProperty.filter(|_| want("CardSetProperty")) {
            push("CardSetProperty(wszProperty NULL)", f(c, ptr::null(), buf.as_ptr(), 8, 0), true);
            let hwnd = wide(prop::PARENT_WINDOW);
            push("CardSetProperty(Parent Window, pbData NULL, cbData 8)", f(c, hwnd.as_ptr(), n8, 8, 0), true);
        }
    }
    out
}

// ----- non-zero dwFlags where the specification requires 0 -----

/// Every function whose `dwFlags` (or `dwReserved`, or a structure's `dwFlags`) must be 0,
/// called with a bit set there; the ones that would change the card if wrongly accepted
/// (`CardWriteFile`, `CardDeleteFile`, `CardDeleteContainer`, `CardSetContainerProperty`) only
/// with `writes`.
pub fn nonzero_flag_codes(cd: &CARD_DATA, flag: u32, writes: bool) -> Vec<(&'static str, u32)> {
    let c = ptr::from_ref(cd);
    let mut out = Vec::new();
    let (user, mscp, cmap) = (wide("user"), ansi(b"mscp"), ansi(b"cmapfile"));
    let mut buf = [0u8; 64];
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: a live context; every pointer is a valid local that outlives the call. Any
    // buffer a (wrongly) succeeding call allocates is freed.
    unsafe {
        if let Some(f) = cd.pfnCardReadFile {
            out.push(("CardReadFile", f(c, mscp.as_ptr(), cmap.as_ptr(), flag, &mut pb, &mut cb)));
            free_output(pb);
        }
        if let Some(f) = cd.pfnCardWriteFile.filter(|_| writes) {
            out.push(("CardWriteFile", f(c, ptr::null(), ansi(b"cardcf").as_ptr(), flag, buf.as_ptr(), 6)));
        }
        if let Some(f) = cd.pfnCardDeleteFile.filter(|_| writes) {
            out.push(("CardDeleteFile", f(c, mscp.as_ptr(), ansi(b"kxc00").as_ptr(), flag)));
        }
        if let Some(f) = cd.pfnCardEnumFiles {
            pb = ptr::null_mut();
            out.push(("CardEnumFiles", f(c, mscp.as_ptr(), &mut pb, &mut cb, flag)));
            free_output(pb);
        }
        if let Some(f) = cd.pfnCardQueryFreeSpace {
            let mut i = CARD_FREE_SPACE_INFO {
                dwVersion: 1,
                dwBytesAvailable: 0,
                dwKeyContainersAvailable: 0,
                dwMaxKeyContainers: 0,
            };
            out.push(("CardQueryFreeSpace", f(c, flag, &mut i)));
        }
        if let Some(f) = cd.pfnCardQueryKeySizes {
            let mut s = key_sizes(1);
            out.push(("CardQueryKeySizes", f(c, keyspec::AT_ECDSA_P256, flag, &mut s)));
        }
        if let Some(f) = cd.pfnCardGetContainerInfo {
            let mut i = container_info(1);
            out.push(("CardGetContainerInfo", f(c, 0, flag, &mut i)));
            free_output(i.pbSigPublicKey);
            free_output(i.pbKeyExPublicKey);
        }
        if let Some(f) = cd.pfnCardDeleteContainer.filter(|_| writes) {
            out.push(("CardDeleteContainer(dwReserved)", f(c, 200, flag)));
        }
        if let Some(f) = cd.pfnCardDeauthenticate {
            out.push(("CardDeauthenticate", f(c, user.as_ptr(), flag)));
        }
        if let Some(f) = cd.pfnCardDeauthenticateEx {
            out.push(("CardDeauthenticateEx", f(c, pin::set_of(pin::ROLE_USER), flag)));
        }
        if let Some(f) = cd.pfnCardGetChallengeEx {
            pb = ptr::null_mut();
            out.push(("CardGetChallengeEx", f(c, pin::ROLE_ADMIN, &mut pb, &mut cb, flag)));
            free_output(pb);
        }
        if let Some(f) = cd.pfnCardGetContainerProperty {
            let name = wide(prop::PIN_IDENTIFIER);
            out.push(("CardGetContainerProperty", f(c, 0, name.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, flag)));
        }
        if let Some(f) = cd.pfnCardSetContainerProperty.filter(|_| writes) {
            let name = wide(prop::PIN_IDENTIFIER);
            let one = 1u32.to_le_bytes();
            out.push(("CardSetContainerProperty", f(c, 0, name.as_ptr(), one.as_ptr(), 4, flag)));
        }
        if let Some(f) = cd.pfnCardGetProperty {
            for name in [prop::CARD_GUID, prop::READ_ONLY, prop::CACHE_MODE, prop::LIST_PINS, prop::FREE_SPACE] {
                let w = wide(name);
                out.push(("CardGetProperty", f(c, w.as_ptr(), buf.as_mut_ptr(), 64, &mut cb, flag)));
            }
        }
        if let Some(f) = cd.pfnCardSetProperty {
            let w = wide(prop::PARENT_WINDOW);
            let hwnd = 0usize.to_le_bytes();
            out.push(("CardSetProperty", f(c, w.as_ptr(), hwnd.as_ptr(), 8, flag)));
        }
        if let Some(f) = cd.pfnCardDestroyDHAgreement {
            out.push(("CardDestroyDHAgreement", f(c, 0, flag)));
        }
        if let Some(f) = cd.pfnCardConstructDHAgreement {
            let mut blob = [0u8; 72];
            let mut info = agreement_info(2, 2, flag, blob.as_mut_ptr(), 72);
            out.push(("CardConstructDHAgreement(pAgreementInfo->dwFlags)", f(c, &mut info)));
        }
    }
    out
}

// ----- wrong PINs with pcAttemptsRemaining NULL -----

/// Wrong PINs and responses through every function that reports tries, with
/// `pcAttemptsRemaining` NULL: the codes (the driver must not write through NULL).
pub fn wrong_secret_null_tries(cd: &CARD_DATA) -> Vec<(&'static str, u32)> {
    let c = ptr::from_ref(cd);
    let user = wide("user");
    let wrong = *b"000000";
    let mut out = Vec::new();
    // SAFETY: a live context; pointers are valid locals; pcAttemptsRemaining is NULL on
    // purpose.
    unsafe {
        if let Some(f) = cd.pfnCardAuthenticatePin {
            out.push(("CardAuthenticatePin", f(c, user.as_ptr(), wrong.as_ptr(), 6, ptr::null_mut())));
        }
        if let Some(f) = cd.pfnCardAuthenticateEx {
            let code = f(c, pin::ROLE_USER, 0, wrong.as_ptr(), 6, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            out.push(("CardAuthenticateEx", code));
        }
        if let Some(f) = cd.pfnCardChangeAuthenticator {
            let code = f(c, user.as_ptr(), wrong.as_ptr(), 6, b"654321".as_ptr(), 6, 0, 2, ptr::null_mut());
            out.push(("CardChangeAuthenticator", code));
        }
        if let Some(f) = cd.pfnCardChangeAuthenticatorEx {
            let code =
                f(c, pin::CHANGE_FLAG_CHANGEPIN, 1, wrong.as_ptr(), 6, 1, b"654321".as_ptr(), 6, 0, ptr::null_mut());
            out.push(("CardChangeAuthenticatorEx", code));
        }
        if let (Some(get), Some(f)) = (cd.pfnCardGetChallenge, cd.pfnCardAuthenticateChallenge) {
            let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
            let _ = get(c, &mut pb, &mut cb);
            free_output(pb);
            out.push(("CardAuthenticateChallenge", f(c, [0u8; 8].as_ptr(), 8, ptr::null_mut())));
        }
    }
    out
}

// ----- outputs the driver allocates -----

fn delta(before: usize) -> isize {
    crate::csp::live_allocations() as isize - before as isize
}

/// One call that returns a `pfnCspAlloc` buffer: its name, and the call, which stores the
/// buffer and its length through the two out-parameters.
type AllocatingCall<'a> = &'a mut dyn FnMut(&mut *mut u8, &mut u32) -> u32;

/// Runs every function that returns a `pfnCspAlloc` buffer through `one`, on a context over
/// a card with the containers `outputs` names.
fn each_allocating_call(
    cd: &CARD_DATA,
    outputs: Outputs,
    secret: Option<&[u8]>,
    mut one: impl FnMut(&'static str, AllocatingCall<'_>),
) {
    let c = ptr::from_ref(cd);
    let (mscp, cardid) = (ansi(b"mscp"), ansi(b"cardid"));
    // SAFETY: a live context; every pointer is a valid local; `one` frees each returned buffer
    // exactly once with the stand-in CSP's allocator.
    unsafe {
        if let Some(f) = cd.pfnCardReadFile {
            one("CardReadFile *ppbData", &mut |pb, cb| f(c, ptr::null(), cardid.as_ptr(), 0, pb, cb));
        }
        if let Some(f) = cd.pfnCardEnumFiles {
            one("CardEnumFiles *pmszFileNames", &mut |pb, cb| f(c, mscp.as_ptr(), pb, cb, 0));
        }
        if let Some(f) = cd.pfnCardGetChallenge.filter(|_| outputs.challenge) {
            one("CardGetChallenge *ppbChallengeData", &mut |pb, cb| f(c, pb, cb));
        }
        if let Some(f) = cd.pfnCardGetChallengeEx.filter(|_| outputs.challenge) {
            one("CardGetChallengeEx *ppbChallengeData", &mut |pb, cb| f(c, pin::ROLE_ADMIN, pb, cb, 0));
        }
        if let (Some(f), Some(secret)) = (cd.pfnCardAuthenticateEx, secret) {
            one("CardAuthenticateEx *ppbSessionPin", &mut |pb, cb| {
                let mut tries = 0;
                f(
                    c,
                    pin::ROLE_USER,
                    pin::GENERATE_SESSION_PIN,
                    secret.as_ptr(),
                    secret.len() as u32,
                    pb,
                    cb,
                    &mut tries,
                )
            });
        }
        if let (Some(f), Some(kx)) = (cd.pfnCardGetContainerInfo, outputs.kx) {
            one("CONTAINER_INFO.pbKeyExPublicKey (CardGetContainerInfo)", &mut |pb, cb| {
                let mut i = container_info(1);
                let code = f(c, kx, 0, &mut i);
                *pb = i.pbKeyExPublicKey;
                *cb = i.cbKeyExPublicKey;
                code + u32::from(!i.pbSigPublicKey.is_null())
            });
        }
        if let (Some(f), Some(sig)) = (cd.pfnCardGetContainerInfo, outputs.sig) {
            one("CONTAINER_INFO.pbSigPublicKey (CardGetContainerInfo)", &mut |pb, cb| {
                let mut i = container_info(1);
                let code = f(c, sig, 0, &mut i);
                *pb = i.pbSigPublicKey;
                *cb = i.cbSigPublicKey;
                code + u32::from(!i.pbKeyExPublicKey.is_null())
            });
        }
        if let (Some(f), Some(index)) = (cd.pfnCardGetContainerProperty, outputs.sig_property) {
            one("CONTAINER_INFO.pbSigPublicKey (CCP_CONTAINER_INFO)", &mut |pb, cb| {
                let mut i = container_info(1);
                let name = wide(prop::CONTAINER_INFO);
                let mut needed = 0;
                let code = f(c, index, name.as_ptr(), (&raw mut i).cast(), 40, &mut needed, 0);
                *pb = i.pbSigPublicKey;
                *cb = i.cbSigPublicKey;
                code
            });
        }
        if let (Some(f), Some((index, key_spec, alg))) = (cd.pfnCardSignData, outputs.sign) {
            one("CARD_SIGNING_INFO.pbSignedData", &mut |pb, cb| {
                let mut hash = [0x42u8; 32];
                let mut info = signing_info(index, key_spec, 0, alg, hash.as_mut_ptr(), 32);
                let code = f(c, &mut info);
                *pb = info.pbSignedData;
                *cb = info.cbSignedData;
                code
            });
        }
    }
}

/// Every function that returns a `pfnCspAlloc` buffer: what each allocates and what one free
/// releases.
/// `secret` is the user PIN `CardAuthenticateEx(GENERATE_SESSION_PIN)` is given (without one,
/// the session PIN is left out).
pub fn allocated_outputs(cd: &CARD_DATA, outputs: Outputs, secret: Option<&[u8]>) -> Vec<Output> {
    let mut out = Vec::new();
    each_allocating_call(cd, outputs, secret, |what, call| {
        let before = crate::csp::live_allocations();
        let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
        let code = call(&mut pb, &mut cb);
        let live_after_call = delta(before);
        free_output(pb);
        out.push(Output { what, code, live_after_call, live_after_free: delta(before), len: cb });
    });
    out
}

/// The same calls with `pfnCspAlloc` failing (the caller set [`FAILING_ALLOC`]): codes, and
/// whether every output stayed NULL/0.
pub fn outputs_without_memory(cd: &CARD_DATA, outputs: Outputs, secret: Option<&[u8]>) -> Vec<NullCase> {
    let mut out = Vec::new();
    each_allocating_call(cd, outputs, secret, |what, call| {
        let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
        let code = call(&mut pb, &mut cb);
        let outputs_clean = pb.is_null() && cb == 0;
        free_output(pb);
        out.push(NullCase { what, code, outputs_clean, apdus: 0 });
    });
    out
}

// ----- structures -----

fn signing_info(index: u8, key_spec: u32, flags: u32, alg: u32, pb: *mut u8, cb: u32) -> CARD_SIGNING_INFO {
    CARD_SIGNING_INFO {
        dwVersion: 2,
        bContainerIndex: index,
        dwKeySpec: key_spec,
        dwSigningFlags: flags,
        aiHashAlg: alg,
        pbData: pb,
        cbData: cb,
        pbSignedData: ptr::null_mut(),
        cbSignedData: 0,
        pPaddingInfo: ptr::null_mut(),
        dwPaddingType: 0,
    }
}

fn decrypt_info(version: u32, index: u8, key_spec: u32, pb: *mut u8, cb: u32, padding: u32) -> CARD_RSA_DECRYPT_INFO {
    CARD_RSA_DECRYPT_INFO {
        dwVersion: version,
        bContainerIndex: index,
        dwKeySpec: key_spec,
        pbData: pb,
        cbData: cb,
        pPaddingInfo: ptr::null_mut(),
        dwPaddingType: padding,
    }
}

fn agreement_info(version: u32, index: u8, flags: u32, pb: *mut u8, cb: u32) -> CARD_DH_AGREEMENT_INFO {
    CARD_DH_AGREEMENT_INFO {
        dwVersion: version,
        bContainerIndex: index,
        dwFlags: flags,
        dwPublicKey: cb,
        pbPublicKey: pb,
        pbReserved: ptr::null_mut(),
        cbReserved: 0,
        bSecretAgreementIndex: 0,
    }
}

fn derive_info(
    version: u32,
    flags: u32,
    kdf: *mut u16,
    index: u8,
    params: *mut c_void,
    out: *mut u8,
    cb: u32,
) -> CARD_DERIVE_KEY {
    CARD_DERIVE_KEY {
        dwVersion: version,
        dwFlags: flags,
        pwszKDF: kdf,
        bSecretAgreementIndex: index,
        pParameterList: params,
        pbDerivedKey: out,
        cbDerivedKey: cb,
        pwszAlgId: ptr::null_mut(),
        dwKeyLen: 0,
        hKey: 0,
    }
}

fn container_info(version: u32) -> CONTAINER_INFO {
    CONTAINER_INFO {
        dwVersion: version,
        dwReserved: 0,
        cbSigPublicKey: 0,
        pbSigPublicKey: ptr::null_mut(),
        cbKeyExPublicKey: 0,
        pbKeyExPublicKey: ptr::null_mut(),
    }
}

fn key_sizes(version: u32) -> CARD_KEY_SIZES {
    CARD_KEY_SIZES {
        dwVersion: version,
        dwMinimumBitlen: 0,
        dwDefaultBitlen: 0,
        dwMaximumBitlen: 0,
        dwIncrementalBitlen: 0,
    }
}

// ----- structure versions -----

/// The functions whose input structure carries a caller-set `dwVersion`, called with
/// `version`: (function, code). Outputs a successful call allocates are freed.
pub fn structure_version_codes(cd: &CARD_DATA, version: u32) -> Vec<(&'static str, u32)> {
    let c = ptr::from_ref(cd);
    let mut out = Vec::new();
    // SAFETY: a live context; every pointer is a valid local; blobs returned are freed.
    unsafe {
        if let Some(f) = cd.pfnCardGetFileInfo {
            let mut i = CARD_FILE_INFO { dwVersion: version, cbFileSize: 0, AccessCondition: 0 };
            out.push(("CardGetFileInfo", f(c, ptr::null(), ansi(b"cardid").as_ptr(), &mut i)));
        }
        if let Some(f) = cd.pfnCardQueryFreeSpace {
            let mut i = CARD_FREE_SPACE_INFO {
                dwVersion: version,
                dwBytesAvailable: 0,
                dwKeyContainersAvailable: 0,
                dwMaxKeyContainers: 0,
            };
            out.push(("CardQueryFreeSpace", f(c, 0, &mut i)));
        }
        if let Some(f) = cd.pfnCardQueryCapabilities {
            let mut i = CARD_CAPABILITIES { dwVersion: version, fCertificateCompression: 0, fKeyGen: 0 };
            out.push(("CardQueryCapabilities", f(c, &mut i)));
        }
        if let Some(f) = cd.pfnCardQueryKeySizes {
            let mut s = key_sizes(version);
            out.push(("CardQueryKeySizes", f(c, keyspec::AT_ECDSA_P256, 0, &mut s)));
        }
        if let Some(f) = cd.pfnCardGetContainerInfo {
            let mut i = container_info(version);
            out.push(("CardGetContainerInfo", f(c, 0, 0, &mut i)));
            free_output(i.pbSigPublicKey);
            free_output(i.pbKeyExPublicKey);
        }
        if let Some(f) = cd.pfnCardGetContainerProperty {
            let mut i = container_info(version);
            let name = wide(prop::CONTAINER_INFO);
            let mut needed = 0;
            out.push((
                "CardGetContainerProperty(CCP_CONTAINER_INFO)",
                f(c, 0, name.as_ptr(), (&raw mut i).cast(), 40, &mut needed, 0),
            ));
            free_output(i.pbSigPublicKey);
            free_output(i.pbKeyExPublicKey);
        }
    }
    out
}

/// `CardGetFileInfo` with a caller-set `dwVersion`: (code, size, access condition).
pub fn file_info(cd: &CARD_DATA, dir: Option<&str>, file: &str, version: u32) -> (u32, u32, i32) {
    let Some(f) = cd.pfnCardGetFileInfo else { return (0x8010_0022, 0, 0) };
    let dir = dir.map(|d| ansi(d.as_bytes()));
    let file = ansi(file.as_bytes());
    let mut i = CARD_FILE_INFO { dwVersion: version, cbFileSize: 0xFFFF, AccessCondition: -1 };
    // SAFETY: valid strings and out-struct.
    let code = unsafe { f(ptr::from_ref(cd), dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()), file.as_ptr(), &mut i) };
    (code, i.cbFileSize, i.AccessCondition)
}

/// `CardQueryFreeSpace` with caller-set `dwFlags` and `dwVersion`.
pub fn free_space(cd: &CARD_DATA, flags: u32, version: u32) -> (u32, [u32; 4]) {
    let Some(f) = cd.pfnCardQueryFreeSpace else { return (0x8010_0022, [0; 4]) };
    let mut i = CARD_FREE_SPACE_INFO {
        dwVersion: version,
        dwBytesAvailable: 7,
        dwKeyContainersAvailable: 7,
        dwMaxKeyContainers: 7,
    };
    // SAFETY: a valid out-struct.
    let code = unsafe { f(ptr::from_ref(cd), flags, &mut i) };
    (code, [i.dwVersion, i.dwBytesAvailable, i.dwKeyContainersAvailable, i.dwMaxKeyContainers])
}

/// `CardQueryCapabilities` with a caller-set `dwVersion`: (code, version, compression, keygen).
pub fn capabilities(cd: &CARD_DATA, version: u32) -> (u32, [u32; 3]) {
    let Some(f) = cd.pfnCardQueryCapabilities else { return (0x8010_0022, [0; 3]) };
    let mut i = CARD_CAPABILITIES { dwVersion: version, fCertificateCompression: 7, fKeyGen: 7 };
    // SAFETY: a valid out-struct.
    let code = unsafe { f(ptr::from_ref(cd), &mut i) };
    (code, [i.dwVersion, i.fCertificateCompression as u32, i.fKeyGen as u32])
}

/// `CardQueryKeySizes` with caller-set `dwFlags`: (code, [version, min, default, max, incr]).
pub fn query_key_sizes(cd: &CARD_DATA, key_spec: u32, flags: u32) -> (u32, [u32; 5]) {
    let Some(f) = cd.pfnCardQueryKeySizes else { return (0x8010_0022, [0; 5]) };
    let mut s = key_sizes(1);
    // SAFETY: a valid out-struct.
    let code = unsafe { f(ptr::from_ref(cd), key_spec, flags, &mut s) };
    (code, [s.dwVersion, s.dwMinimumBitlen, s.dwDefaultBitlen, s.dwMaximumBitlen, s.dwIncrementalBitlen])
}

/// `CardGetContainerInfo` with caller-set `dwFlags`: the code and the two blobs (freed).
pub fn container_info_blobs(cd: &CARD_DATA, index: u8, flags: u32) -> (u32, Option<Vec<u8>>, Option<Vec<u8>>) {
    let Some(f) = cd.pfnCardGetContainerInfo else { return (0x8010_0022, None, None) };
    let mut i = container_info(1);
    // SAFETY: a valid out-struct; blobs are copied out and freed once.
    unsafe {
        let code = f(ptr::from_ref(cd), index, flags, &mut i);
        let take = |p: *mut u8, n: u32| {
            (!p.is_null()).then(|| {
                let v = core::slice::from_raw_parts(p, n as usize).to_vec();
                free_output(p);
                v
            })
        };
        (code, take(i.pbSigPublicKey, i.cbSigPublicKey), take(i.pbKeyExPublicKey, i.cbKeyExPublicKey))
    }
}

/// `CardGetContainerProperty` with a caller-sized buffer and `dwFlags`: (code, `*pdwDataLen`,
/// the buffer). A successful `CCP_CONTAINER_INFO` has its blobs freed.
pub fn container_property(cd: &CARD_DATA, index: u8, name: &str, cap: u32, flags: u32) -> (u32, u32, Vec<u8>) {
    let Some(f) = cd.pfnCardGetContainerProperty else { return (0x8010_0022, 0, Vec::new()) };
    let w = wide(name);
    let mut buf = vec![0u8; cap.max(40) as usize];
    let mut needed = 0xDEADu32;
    // SAFETY: `buf` holds at least `cap` bytes (and 40, a CONTAINER_INFO, for the free below).
    unsafe {
        let code = f(ptr::from_ref(cd), index, w.as_ptr(), buf.as_mut_ptr(), cap, &mut needed, flags);
        if code == 0 && name == prop::CONTAINER_INFO {
            let i = buf.as_ptr().cast::<CONTAINER_INFO>().read_unaligned();
            free_output(i.pbSigPublicKey);
            free_output(i.pbKeyExPublicKey);
        }
        buf.truncate(cap as usize);
        (code, needed, buf)
    }
}

/// `CardSetContainerProperty` with caller-set `dwFlags`.
pub fn set_container_property(cd: &CARD_DATA, index: u8, name: &str, data: &[u8], flags: u32) -> u32 {
    let Some(f) = cd.pfnCardSetContainerProperty else { return 0x8010_0022 };
    let w = wide(name);
    // SAFETY: valid strings and data.
    unsafe { f(ptr::from_ref(cd), index, w.as_ptr(), data.as_ptr(), data.len() as u32, flags) }
}

/// `CardSetProperty` with caller-set `dwFlags` (`data` `None` passes NULL with length 0).
pub fn set_property(cd: &CARD_DATA, name: &str, data: Option<&[u8]>, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardSetProperty else { return 0x8010_0022 };
    let w = wide(name);
    let (p, n) = data.map_or((ptr::null(), 0), |d| (d.as_ptr(), d.len() as u32));
    // SAFETY: valid strings and data.
    unsafe { f(ptr::from_ref(cd), w.as_ptr(), p, n, flags) }
}

/// `CardGetProperty` of a `PIN_INFO` with the caller's `dwVersion` in the buffer.
pub fn pin_info_with_version(cd: &CARD_DATA, pin_id: u32, version: u32) -> (u32, Vec<u8>) {
    let Some(f) = cd.pfnCardGetProperty else { return (0x8010_0022, Vec::new()) };
    let w = wide(prop::PIN_INFO);
    let mut buf = [0u8; 36];
    buf[..4].copy_from_slice(&version.to_le_bytes());
    let mut needed = 0;
    // SAFETY: a 36-byte buffer.
    let code = unsafe { f(ptr::from_ref(cd), w.as_ptr(), buf.as_mut_ptr(), 36, &mut needed, pin_id) };
    (code, buf.to_vec())
}

// ----- authentication outputs -----

/// `CardAuthenticateEx` with sentinels in the session-PIN out-pointers: (code, whether
/// `*ppbSessionPin` was set to NULL, `*pcbSessionPin`, `*pcAttemptsRemaining`).
/// `data` `None` passes `pbPinData` NULL (with `cbPinData` 6).
pub fn authenticate_ex_outputs(cd: &CARD_DATA, pin_id: u32, flags: u32, data: Option<&[u8]>) -> (u32, bool, u32, u32) {
    let Some(f) = cd.pfnCardAuthenticateEx else { return (0x8010_0022, false, 0, 0) };
    let mut pb = SENTINEL as *mut u8;
    let (mut cb, mut tries) = (0xDEAD_u32, 0xDEAD_u32);
    let (p, n) = data.map_or((ptr::null(), 6), |d| (d.as_ptr(), d.len() as u32));
    // SAFETY: valid PIN bytes (or NULL) and out-pointers; the sentinel is never dereferenced by
    // a conforming driver (only overwritten), and a real session PIN is freed.
    let code = unsafe { f(ptr::from_ref(cd), pin_id, flags, p, n, &mut pb, &mut cb, &mut tries) };
    let nulled = pb.is_null();
    if !nulled && pb as usize != SENTINEL {
        free_output(pb);
    }
    (code, nulled, cb, tries)
}

/// `CardAuthenticateEx` with `pcAttemptsRemaining` NULL (and no session-PIN outputs): the
/// code (a driver must test the pointer before writing the tries).
pub fn authenticate_ex_without_tries(cd: &CARD_DATA, pin_id: u32, data: &[u8]) -> u32 {
    let Some(f) = cd.pfnCardAuthenticateEx else { return 0x8010_0022 };
    let (session, session_len, tries) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid PIN bytes; the out-pointers are NULL on purpose.
    unsafe { f(ptr::from_ref(cd), pin_id, 0, data.as_ptr(), data.len() as u32, session, session_len, tries) }
}

/// `CardAuthenticatePin` with `pbPin` given as raw bytes and the user id as any string.
pub fn authenticate_pin(cd: &CARD_DATA, user: &str, data: &[u8]) -> (u32, u32) {
    let Some(f) = cd.pfnCardAuthenticatePin else { return (0x8010_0022, 0) };
    let u = wide(user);
    let mut tries = 0xDEAD_u32;
    // SAFETY: valid strings, data and out-pointer.
    let code = unsafe { f(ptr::from_ref(cd), u.as_ptr(), data.as_ptr(), data.len() as u32, &mut tries) };
    (code, tries)
}

/// `CardGetChallengeEx` with caller-set `dwFlags`.
pub fn get_challenge_ex(cd: &CARD_DATA, pin_id: u32, flags: u32) -> (u32, Vec<u8>) {
    let Some(f) = cd.pfnCardGetChallengeEx else { return (0x8010_0022, Vec::new()) };
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: valid out-pointers; a returned challenge is copied and freed once.
    unsafe {
        let code = f(ptr::from_ref(cd), pin_id, &mut pb, &mut cb, flags);
        let data = take(pb, cb);
        (code, data)
    }
}

/// `CardGetChallenge`: (code, the challenge, copied and freed).
pub fn get_challenge(cd: &CARD_DATA) -> (u32, Vec<u8>) {
    let Some(f) = cd.pfnCardGetChallenge else { return (0x8010_0022, Vec::new()) };
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: valid out-pointers; a returned challenge is copied and freed once.
    unsafe {
        let code = f(ptr::from_ref(cd), &mut pb, &mut cb);
        let data = take(pb, cb);
        (code, data)
    }
}

/// `CardAuthenticateChallenge`: (code, tries).
pub fn authenticate_challenge(cd: &CARD_DATA, response: &[u8]) -> (u32, u32) {
    let Some(f) = cd.pfnCardAuthenticateChallenge else { return (0x8010_0022, 0) };
    let mut tries = 0xDEAD_u32;
    // SAFETY: valid data and out-pointer.
    let code = unsafe { f(ptr::from_ref(cd), response.as_ptr(), response.len() as u32, &mut tries) };
    (code, tries)
}

/// `CardUnblockPin` with any user id, retry count and flags.
pub fn unblock_pin(cd: &CARD_DATA, user: &str, auth: &[u8], new_pin: &[u8], retry: u32, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardUnblockPin else { return 0x8010_0022 };
    let u = wide(user);
    // SAFETY: valid strings and data.
    unsafe {
        f(
            ptr::from_ref(cd),
            u.as_ptr(),
            auth.as_ptr(),
            auth.len() as u32,
            new_pin.as_ptr(),
            new_pin.len() as u32,
            retry,
            flags,
        )
    }
}

/// `CardDeauthenticate` with any user id and flags.
pub fn deauthenticate(cd: &CARD_DATA, user: &str, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardDeauthenticate else { return 0x8010_0022 };
    let u = wide(user);
    // SAFETY: a valid string.
    unsafe { f(ptr::from_ref(cd), u.as_ptr(), flags) }
}

/// `CardDeauthenticateEx` with caller-set `dwFlags`.
pub fn deauthenticate_ex(cd: &CARD_DATA, pins: u32, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardDeauthenticateEx else { return 0x8010_0022 };
    // SAFETY: no pointers.
    unsafe { f(ptr::from_ref(cd), pins, flags) }
}

/// `CardChangeAuthenticator` with any user id, retry count and flags: (code, tries).
pub fn change_authenticator(
    cd: &CARD_DATA,
    user: &str,
    current: &[u8],
    new: &[u8],
    retry: u32,
    flags: u32,
) -> (u32, u32) {
    let Some(f) = cd.pfnCardChangeAuthenticator else { return (0x8010_0022, 0) };
    let u = wide(user);
    let mut tries = 0xDEAD_u32;
    // SAFETY: valid strings, data and out-pointer.
    let code = unsafe {
        f(
            ptr::from_ref(cd),
            u.as_ptr(),
            current.as_ptr(),
            current.len() as u32,
            new.as_ptr(),
            new.len() as u32,
            retry,
            flags,
            &mut tries,
        )
    };
    (code, tries)
}

/// `CardChangeAuthenticatorEx` with any flags and retry count: (code, tries).
pub fn change_authenticator_ex(
    cd: &CARD_DATA,
    flags: u32,
    auth_id: u32,
    auth: &[u8],
    target_id: u32,
    target: &[u8],
    retry: u32,
) -> (u32, u32) {
    let Some(f) = cd.pfnCardChangeAuthenticatorEx else { return (0x8010_0022, 0) };
    let mut tries = 0xDEAD_u32;
    // SAFETY: valid data and out-pointer.
    let code = unsafe {
        f(
            ptr::from_ref(cd),
            flags,
            auth_id,
            auth.as_ptr(),
            auth.len() as u32,
            target_id,
            target.as_ptr(),
            target.len() as u32,
            retry,
            &mut tries,
        )
    };
    (code, tries)
}

/// `CardCreateContainer(Ex)` with key data (`pin_id` `Some` for the Ex form).
pub fn create_container(
    cd: &CARD_DATA,
    index: u8,
    flags: u32,
    key_spec: u32,
    key_size: u32,
    key_data: Option<&[u8]>,
    pin_id: Option<u32>,
) -> u32 {
    let kp = key_data.map_or(ptr::null(), <[u8]>::as_ptr);
    // SAFETY: valid key data or NULL.
    unsafe {
        match (pin_id, cd.pfnCardCreateContainer, cd.pfnCardCreateContainerEx) {
            (None, Some(f), _) => f(ptr::from_ref(cd), index, flags, key_spec, key_size, kp),
            (Some(id), _, Some(f)) => f(ptr::from_ref(cd), index, flags, key_spec, key_size, kp, id),
            _ => 0x8010_0022,
        }
    }
}

/// `CardDeleteContainer` with `dwReserved`.
pub fn delete_container(cd: &CARD_DATA, index: u8, reserved: u32) -> u32 {
    let Some(f) = cd.pfnCardDeleteContainer else { return 0x8010_0022 };
    // SAFETY: no pointers.
    unsafe { f(ptr::from_ref(cd), index, reserved) }
}

// ----- files with raw names -----

/// `CardReadFile` with raw ANSI name bytes (`None` = NULL directory).
pub fn read_file_bytes(cd: &CARD_DATA, dir: Option<&[u8]>, file: &[u8], flags: u32) -> (u32, Vec<u8>) {
    let Some(f) = cd.pfnCardReadFile else { return (0x8010_0022, Vec::new()) };
    let dir = dir.map(ansi);
    let file = ansi(file);
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: valid strings and out-pointers; the buffer is copied and freed once.
    unsafe {
        let code = f(
            ptr::from_ref(cd),
            dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            file.as_ptr(),
            flags,
            &mut pb,
            &mut cb,
        );
        let data = take(pb, cb);
        (code, data)
    }
}

/// `CardReadFile` with `*ppbData` NULL and `*pcbData` 0 going in: (code, whether `*ppbData`
/// is still NULL, `*pcbData`). A returned buffer is freed.
pub fn read_file_outputs(cd: &CARD_DATA, dir: Option<&[u8]>, file: &[u8]) -> (u32, bool, u32) {
    let Some(f) = cd.pfnCardReadFile else { return (0x8010_0022, true, 0) };
    let dir = dir.map(ansi);
    let file = ansi(file);
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: valid strings and out-pointers; a returned buffer is freed once.
    let code = unsafe {
        f(ptr::from_ref(cd), dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()), file.as_ptr(), 0, &mut pb, &mut cb)
    };
    let untouched = pb.is_null();
    free_output(pb);
    (code, untouched, cb)
}

/// `CardEnumFiles` as raw bytes: (code, the multi-string, `*pdwcbFileName`).
pub fn enum_files_bytes(cd: &CARD_DATA, dir: Option<&[u8]>) -> (u32, Vec<u8>, u32) {
    let Some(f) = cd.pfnCardEnumFiles else { return (0x8010_0022, Vec::new(), 0) };
    let dir = dir.map(ansi);
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    // SAFETY: valid strings and out-pointers; the block is copied and freed once.
    unsafe {
        let code = f(ptr::from_ref(cd), dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()), &mut pb, &mut cb, 0);
        let data = take(pb, cb);
        (code, data, cb)
    }
}

/// Every file and directory function with the name `name` (ANSI bytes) where a name goes:
/// (function, code). The functions that create, write or delete only with `writes`.
pub fn name_codes(cd: &CARD_DATA, name: &[u8], writes: bool) -> Vec<(&'static str, u32)> {
    let c = ptr::from_ref(cd);
    let (bad, mscp) = (ansi(name), ansi(b"mscp"));
    let mut out = Vec::new();
    let (mut pb, mut cb) = (ptr::null_mut::<u8>(), 0u32);
    let data = [0u8; 6];
    // SAFETY: valid strings and out-pointers; anything allocated is freed.
    unsafe {
        if let Some(f) = cd.pfnCardReadFile {
            out.push(("CardReadFile(file)", f(c, mscp.as_ptr(), bad.as_ptr(), 0, &mut pb, &mut cb)));
            free_output(pb);
            pb = ptr::null_mut();
            out.push(("CardReadFile(directory)", f(c, bad.as_ptr(), ansi(b"cmapfile").as_ptr(), 0, &mut pb, &mut cb)));
            free_output(pb);
        }
        if let Some(f) = cd.pfnCardWriteFile.filter(|_| writes) {
            out.push(("CardWriteFile", f(c, mscp.as_ptr(), bad.as_ptr(), 0, data.as_ptr(), 6)));
        }
        if let Some(f) = cd.pfnCardCreateFile.filter(|_| writes) {
            out.push(("CardCreateFile", f(c, mscp.as_ptr(), bad.as_ptr(), 0, 1)));
        }
        if let Some(f) = cd.pfnCardDeleteFile.filter(|_| writes) {
            out.push(("CardDeleteFile", f(c, mscp.as_ptr(), bad.as_ptr(), 0)));
        }
        if let Some(f) = cd.pfnCardGetFileInfo {
            let mut i = CARD_FILE_INFO { dwVersion: 1, cbFileSize: 0, AccessCondition: 0 };
            out.push(("CardGetFileInfo", f(c, mscp.as_ptr(), bad.as_ptr(), &mut i)));
        }
        if let Some(f) = cd.pfnCardEnumFiles {
            pb = ptr::null_mut();
            out.push(("CardEnumFiles", f(c, bad.as_ptr(), &mut pb, &mut cb, 0)));
            free_output(pb);
        }
        if let Some(f) = cd.pfnCardCreateDirectory.filter(|_| writes) {
            out.push(("CardCreateDirectory", f(c, bad.as_ptr(), 1)));
        }
        if let Some(f) = cd.pfnCardDeleteDirectory.filter(|_| writes) {
            out.push(("CardDeleteDirectory", f(c, bad.as_ptr())));
        }
    }
    out
}

/// `CardCreateDirectory` with any access condition.
pub fn create_directory(cd: &CARD_DATA, name: &str, access_condition: i32) -> u32 {
    let Some(f) = cd.pfnCardCreateDirectory else { return 0x8010_0022 };
    let n = ansi(name.as_bytes());
    // SAFETY: a valid string.
    unsafe { f(ptr::from_ref(cd), n.as_ptr(), access_condition) }
}

/// `CardCreateFile` (`dir` `None` = NULL, the root) with any access condition and size.
pub fn create_file(cd: &CARD_DATA, dir: Option<&str>, file: &str, size: u32, access_condition: i32) -> u32 {
    let Some(f) = cd.pfnCardCreateFile else { return 0x8010_0022 };
    let dir = dir.map(|d| ansi(d.as_bytes()));
    let file = ansi(file.as_bytes());
    // SAFETY: valid strings.
    unsafe {
        f(ptr::from_ref(cd), dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()), file.as_ptr(), size, access_condition)
    }
}

/// `CardDeleteDirectory`.
pub fn delete_directory(cd: &CARD_DATA, name: &str) -> u32 {
    let Some(f) = cd.pfnCardDeleteDirectory else { return 0x8010_0022 };
    let n = ansi(name.as_bytes());
    // SAFETY: a valid string.
    unsafe { f(ptr::from_ref(cd), n.as_ptr()) }
}

/// `CardWriteFile` (`dir` `None` = NULL, the root) with any flags.
pub fn write_file(cd: &CARD_DATA, dir: Option<&str>, file: &str, data: &[u8], flags: u32) -> u32 {
    let Some(f) = cd.pfnCardWriteFile else { return 0x8010_0022 };
    let dir = dir.map(|d| ansi(d.as_bytes()));
    let file = ansi(file.as_bytes());
    // SAFETY: valid strings and data.
    unsafe {
        f(
            ptr::from_ref(cd),
            dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            file.as_ptr(),
            flags,
            data.as_ptr(),
            data.len() as u32,
        )
    }
}

/// `CardDeleteFile` (`dir` `None` = NULL, the root) with any flags.
pub fn delete_file(cd: &CARD_DATA, dir: Option<&str>, file: &str, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardDeleteFile else { return 0x8010_0022 };
    let dir = dir.map(|d| ansi(d.as_bytes()));
    let file = ansi(file.as_bytes());
    // SAFETY: valid strings.
    unsafe { f(ptr::from_ref(cd), dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()), file.as_ptr(), flags) }
}

// ----- cryptography -----

/// Runs `call` through `CardSignData`, with a sentinel in `pbSignedData`.
pub fn sign(cd: &CARD_DATA, call: &SignCall) -> SignOut {
    let Some(f) = cd.pfnCardSignData else {
        return SignOut { code: 0x8010_0022, signature: None, cb: 0, pb_untouched: true };
    };
    let mut data = call.data.clone();
    let alg = call.padding.as_ref().and_then(|(_, a)| a.as_deref()).map(wide);
    let mut pkcs1 = BCRYPT_PKCS1_PADDING_INFO { pszAlgId: alg.as_ref().map_or(ptr::null(), |a| a.as_ptr()) };
    let mut info =
        signing_info(call.index, call.key_spec, call.flags, call.alg_id, data.as_mut_ptr(), data.len() as u32);
    info.dwVersion = call.version;
    info.pbSignedData = SENTINEL as *mut u8;
    if let Some((kind, _)) = &call.padding {
        info.dwPaddingType = *kind;
        info.pPaddingInfo = (&raw mut pkcs1).cast();
    }
    // SAFETY: a valid structure whose buffers outlive the call; a returned signature is copied
    // and freed once.
    unsafe {
        let code = f(ptr::from_ref(cd), &mut info);
        let pb_untouched = info.pbSignedData as usize == SENTINEL;
        let signature = (!pb_untouched && !info.pbSignedData.is_null()).then(|| {
            let v = core::slice::from_raw_parts(info.pbSignedData, info.cbSignedData as usize).to_vec();
            free_output(info.pbSignedData);
            v
        });
        SignOut { code, signature, cb: info.cbSignedData, pb_untouched }
    }
}

/// `CardRSADecrypt` in place on `data` with any version, key spec and padding type (OAEP takes
/// a hash name and label): (code, `cbData` after the call).
pub fn rsa_decrypt(
    cd: &CARD_DATA,
    version: u32,
    index: u8,
    key_spec: u32,
    data: &mut [u8],
    padding: u32,
    oaep: Option<(&str, &[u8])>,
) -> (u32, u32) {
    let Some(f) = cd.pfnCardRSADecrypt else { return (0x8010_0022, 0) };
    let alg = oaep.map(|(a, _)| wide(a));
    let mut label = oaep.map(|(_, l)| l.to_vec()).unwrap_or_default();
    let mut info_oaep = BCRYPT_OAEP_PADDING_INFO {
        pszAlgId: alg.as_ref().map_or(ptr::null(), |a| a.as_ptr()),
        pbLabel: if label.is_empty() { ptr::null_mut() } else { label.as_mut_ptr() },
        cbLabel: label.len() as u32,
    };
    let mut info = decrypt_info(version, index, key_spec, data.as_mut_ptr(), data.len() as u32, padding);
    if oaep.is_some() {
        info.pPaddingInfo = (&raw mut info_oaep).cast();
    }
    // SAFETY: a valid structure; `data` is the in/out buffer of its stated length.
    let code = unsafe { f(ptr::from_ref(cd), &mut info) };
    (code, info.cbData)
}

/// `CardConstructDHAgreement` with any version and flags: (code, agreement index).
pub fn construct_agreement(cd: &CARD_DATA, version: u32, index: u8, flags: u32, blob: &[u8]) -> (u32, u8) {
    let Some(f) = cd.pfnCardConstructDHAgreement else { return (0x8010_0022, 0) };
    let mut blob = blob.to_vec();
    let mut info = agreement_info(version, index, flags, blob.as_mut_ptr(), blob.len() as u32);
    info.bSecretAgreementIndex = 0xEE;
    // SAFETY: a valid structure and blob.
    let code = unsafe { f(ptr::from_ref(cd), &mut info) };
    (code, info.bSecretAgreementIndex)
}

/// Runs `call` through `CardDeriveKey` with a caller buffer filled with 0xA5.
pub fn derive(cd: &CARD_DATA, call: &DeriveCall) -> DeriveOut {
    let Some(f) = cd.pfnCardDeriveKey else {
        return DeriveOut { code: 0x8010_0022, cb: 0, key: Vec::new(), untouched: true };
    };
    let mut kdf = wide(&call.kdf);
    let mut buffers: Vec<BCryptBuffer> = call
        .params
        .iter()
        .map(|(kind, data)| BCryptBuffer {
            cbBuffer: data.len() as u32,
            BufferType: *kind,
            pvBuffer: data.as_ptr().cast_mut().cast(),
        })
        .collect();
    if let Some(h) = call.secret_handle {
        buffers.push(BCryptBuffer { cbBuffer: 8, BufferType: 6, pvBuffer: h as *mut c_void });
    }
    let mut desc = BCryptBufferDesc { ulVersion: 0, cBuffers: buffers.len() as u32, pBuffers: buffers.as_mut_ptr() };
    let mut out = vec![0xA5u8; call.capacity as usize];
    let params = if buffers.is_empty() { ptr::null_mut() } else { (&raw mut desc).cast() };
    let out_ptr = if out.is_empty() { ptr::null_mut() } else { out.as_mut_ptr() };
    let mut info =
        derive_info(call.version, call.flags, kdf.as_mut_ptr(), call.agreement, params, out_ptr, call.capacity);
    // SAFETY: a valid structure whose strings, parameter list and output buffer outlive the
    // call (the secret handle is an opaque value resolved by the CSP's callback).
    let code = unsafe { f(ptr::from_ref(cd), &mut info) };
    let untouched = out.iter().all(|b| *b == 0xA5);
    out.truncate(info.cbDerivedKey.min(call.capacity) as usize);
    DeriveOut { code, cb: info.cbDerivedKey, key: out, untouched }
}

/// `CardDestroyDHAgreement` with any flags.
pub fn destroy_agreement(cd: &CARD_DATA, index: u8, flags: u32) -> u32 {
    let Some(f) = cd.pfnCardDestroyDHAgreement else { return 0x8010_0022 };
    // SAFETY: no pointers.
    unsafe { f(ptr::from_ref(cd), index, flags) }
}

// ----- padding callbacks that count -----

static PAD_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Calls the driver made to `pfnCspPadData`/`pfnCspUnpadData` installed by
/// [`counting_padding_callbacks`].
pub fn padding_callback_calls() -> usize {
    PAD_CALLS.load(Ordering::SeqCst)
}

unsafe extern "system" fn pad_data(
    _info: *const CARD_SIGNING_INFO,
    _width: u32,
    pcb: *mut u32,
    ppb: *mut *mut u8,
) -> u32 {
    PAD_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the driver's out-pointers, per the callback contract.
    unsafe {
        if !pcb.is_null() {
            pcb.write(0);
        }
        if !ppb.is_null() {
            ppb.write(ptr::null_mut());
        }
    }
    0x8010_001F
}

unsafe extern "system" fn unpad_data(_info: *const CARD_RSA_DECRYPT_INFO, pcb: *mut u32, ppb: *mut *mut u8) -> u32 {
    PAD_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the driver's out-pointers, per the callback contract.
    unsafe {
        if !pcb.is_null() {
            pcb.write(0);
        }
        if !ppb.is_null() {
            ppb.write(ptr::null_mut());
        }
    }
    0x8010_001F
}

/// Installs `pfnCspPadData` and `pfnCspUnpadData` that count their calls (and fail).
pub fn counting_padding_callbacks(cd: &mut CARD_DATA) {
    cd.pfnCspPadData = Some(pad_data);
    cd.pfnCspUnpadData = Some(unpad_data);
}

// ----- callbacks that call back into their context -----

/// The code the re-entrant call of [`with_reentrant_dh`] or [`with_reentrant_cache`] got
/// (`u32::MAX`: not made yet).
pub static REENTRY: AtomicU32 = AtomicU32::new(u32::MAX);
/// The `CARD_DATA` the cache callback calls back into.
static CARD_DATA_OF_CACHE: AtomicPtr<CARD_DATA> = AtomicPtr::new(ptr::null_mut());

/// `CardReadFile(cardcf)` on `cd` from inside a callback: its code (a buffer is freed).
///
/// # Safety
/// `cd` must be a `CARD_DATA` with an acquired context.
unsafe fn read_cardcf(cd: *const CARD_DATA) -> u32 {
    // SAFETY: per contract, the table is filled.
    let Some(read) = (unsafe { (*cd).pfnCardReadFile }) else { return u32::MAX - 1 };
    let (mut p, mut len) = (ptr::null_mut(), 0u32);
    // SAFETY: valid strings and out-pointers.
    let rv = unsafe { read(cd, ptr::null(), c"cardcf".as_ptr().cast(), 0, &mut p, &mut len) };
    free_output(p);
    rv
}

/// `pfnCspGetDHAgreement` that first calls `CardReadFile` on the same context, then resolves
/// every handle to agreement 0.
unsafe extern "system" fn reentrant_get_dh_agreement(
    cd: *const CARD_DATA,
    _handle: *const c_void,
    index: *mut u8,
    _flags: u32,
) -> u32 {
    // SAFETY: the driver passes the CARD_DATA of the call it is in.
    REENTRY.store(unsafe { read_cardcf(cd) }, Ordering::SeqCst);
    if index.is_null() {
        return 0x8010_0004;
    }
    // SAFETY: checked non-NULL; the driver's out-parameter.
    unsafe { index.write(0) };
    0
}

/// `pfnCspCacheLookupFile` that calls `CardReadFile` on its context, then misses.
unsafe extern "system" fn reentrant_cache_lookup(
    _ctx: *const c_void,
    _tag: *const u16,
    _flags: u32,
    _ppb: *mut *mut u8,
    _pcb: *mut u32,
) -> u32 {
    let cd = CARD_DATA_OF_CACHE.load(Ordering::SeqCst);
    if !cd.is_null() {
        // SAFETY: the CARD_DATA the tamper hook recorded, alive for the caller's context.
        REENTRY.store(unsafe { read_cardcf(cd) }, Ordering::SeqCst);
    }
    0x490
}

/// Tamper hook: a CSP whose `pfnCspGetDHAgreement` calls back into the context.
pub fn with_reentrant_dh(cd: &mut CARD_DATA) {
    cd.pfnCspGetDHAgreement = Some(reentrant_get_dh_agreement);
}

/// Tamper hook: a CSP whose cache lookup calls back into the context. The structure must stay
/// where it is for as long as the context lives (a `Csp`'s boxed `CARD_DATA` does).
pub fn with_reentrant_cache(cd: &mut CARD_DATA) {
    CARD_DATA_OF_CACHE.store(&raw mut *cd, Ordering::SeqCst);
    cd.pfnCspCacheLookupFile = Some(reentrant_cache_lookup);
}
