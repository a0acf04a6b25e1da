//! The CSP side of the ABI: allocator and cache callbacks handed to the minidriver, and every
//! call through the function table, each wrapped in a safe method. The methods build on the
//! raw calls of [`super::raw`] (one FFI call per entry point) where the argument is plain;
//! signing, decryption, key derivation, `CardAuthenticateEx` and the properties keep their own
//! call here, because the raw forms fill structures differently on purpose (sentinels, fill
//! patterns, NULL padding information).
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr;
use std::alloc::{Layout, alloc, dealloc};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use card_edges::transport::Transport;
use windows_sys::Win32::Security::Cryptography::{
    BCRYPT_OAEP_PADDING_INFO, BCRYPT_PKCS1_PADDING_INFO, BCRYPT_PSS_PADDING_INFO, BCryptBuffer, BCryptBufferDesc,
    CARD_DATA, CARD_DERIVE_KEY, CARD_RSA_DECRYPT_INFO, CARD_SIGNING_INFO, CONTAINER_INFO,
};

use super::{AcquireOptions, Code, CspCache, Result, raw};

/// `CardAcquireContext`'s type.
pub(crate) type AcquireFn = unsafe extern "system" fn(*mut CARD_DATA, u32) -> u32;

/// `ERROR_NOT_FOUND`, the cache callbacks' miss.
const ERROR_NOT_FOUND: u32 = 0x490;
/// Bytes before each allocation that record its size.
const HEADER: usize = 16;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The addresses `csp_alloc` handed out and that are not freed yet: a buffer the driver returns
/// or frees that is not among them did not come from `pfnCspAlloc`.
static ADDRESSES: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn addresses() -> std::sync::MutexGuard<'static, BTreeSet<usize>> {
    ADDRESSES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `p` is a live buffer of this CSP's `pfnCspAlloc` (every output buffer the driver
/// returns must be one).
pub fn is_csp_allocation(p: *const c_void) -> bool {
    addresses().contains(&(p as usize))
}
static DRIVER_FREES: AtomicUsize = AtomicUsize::new(0);
static DIRTY_FREES: AtomicUsize = AtomicUsize::new(0);

/// Allocations made through `pfnCspAlloc`/`pfnCspReAlloc` and not yet freed, process-wide.
pub fn live_allocations() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Buffers the driver freed through `pfnCspFree`, and how many of them it had not zeroed first
/// (process-wide; a driver must zero what it frees, since it may have held secrets).
pub fn driver_frees() -> (usize, usize) {
    (DRIVER_FREES.load(Ordering::SeqCst), DIRTY_FREES.load(Ordering::SeqCst))
}

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

/// `pfnCspAlloc`. The bytes come filled with `0xCC`, not zeros, so a driver that relies on
/// zeroed memory shows, and one that frees a buffer without zeroing it can be told apart.
unsafe extern "system" fn csp_alloc(size: usize) -> *mut c_void {
    let Some(l) = layout(size) else { return ptr::null_mut() };
    // SAFETY: the layout has a non-zero size (HEADER is included).
    let base = unsafe { alloc(l) };
    if base.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `base` is valid for HEADER + size bytes, aligned to 16.
    unsafe {
        base.cast::<usize>().write(size);
        ptr::write_bytes(base.add(HEADER), 0xCC, size);
    }
    LIVE.fetch_add(1, Ordering::SeqCst);
    // SAFETY: within the allocation.
    let p: *mut c_void = unsafe { base.add(HEADER).cast() };
    addresses().insert(p as usize);
    p
}

/// The size of a `csp_alloc` buffer.
///
/// # Safety
/// `p` must be a live `csp_alloc` allocation.
unsafe fn size_of_allocation(p: *const c_void) -> usize {
    // SAFETY: per contract, the size is recorded HEADER bytes before `p`.
    unsafe { p.cast::<u8>().sub(HEADER).cast::<usize>().read() }
}

/// Frees a buffer of this allocator on the CSP's own behalf (not counted as the driver's free).
///
/// # Safety
/// `p` must be NULL or a live allocation of this CSP's `pfnCspAlloc`/`pfnCspReAlloc`.
///
/// # Panics
/// When `p` is not a live allocation of this allocator (a buffer the driver returned that did
/// not come from `pfnCspAlloc`, or one freed twice): checked before the header is read.
pub unsafe fn free_output(p: *const c_void) {
    if p.is_null() {
        return;
    }
    #[allow(clippy::panic, reason = "the CSP stand-in's check that outputs come from pfnCspAlloc")]
    if !addresses().remove(&(p as usize)) {
        panic!("a buffer that is not a live pfnCspAlloc allocation: {p:p}");
    }
    // SAFETY: per contract.
    unsafe {
        let size = size_of_allocation(p);
        if let Some(l) = layout(size) {
            dealloc(p.cast::<u8>().cast_mut().sub(HEADER), l);
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// `pfnCspFree`, which only the driver calls: counted, with whether the buffer was zeroed.
unsafe extern "system" fn csp_free(p: *const c_void) {
    if p.is_null() {
        return;
    }
    if !is_csp_allocation(p) {
        // Not unwinding through the driver's frame: a free of foreign memory ends the process.
        eprintln!("pfnCspFree of a buffer that is not a live pfnCspAlloc allocation: {p:p}");
        std::process::abort();
    }
    // SAFETY: `p` came from csp_alloc (the driver's contract): it holds its recorded size.
    let zeroed = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), size_of_allocation(p)).iter().all(|b| *b == 0) };
    DRIVER_FREES.fetch_add(1, Ordering::SeqCst);
    if !zeroed {
        DIRTY_FREES.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: as above.
    unsafe { free_output(p) };
}

unsafe extern "system" fn csp_realloc(p: *const c_void, size: usize) -> *mut c_void {
    // SAFETY: allocator functions of this module, used as documented.
    unsafe {
        if !p.is_null() && !is_csp_allocation(p) {
            eprintln!("pfnCspReAlloc of a buffer that is not a live pfnCspAlloc allocation: {p:p}");
            std::process::abort();
        }
        let q = csp_alloc(size);
        if !p.is_null() && !q.is_null() {
            ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), size_of_allocation(p).min(size));
            free_output(p);
        }
        q
    }
}

/// # Safety
/// `tag` must be a NUL-terminated UTF-16 string.
unsafe fn tag_units(tag: *const u16) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..1024 {
        // SAFETY: NUL-terminated per contract.
        let u = unsafe { tag.add(i).read_unaligned() };
        if u == 0 {
            break;
        }
        out.push(u);
    }
    out
}

/// Cache callbacks called with arguments the CSP refused (a NULL context, tag or out-pointer,
/// nonzero `dwFlags`), process-wide.
static CACHE_MISUSE: AtomicUsize = AtomicUsize::new(0);

/// Calls of the cache callbacks this CSP refused for their arguments (§3.2.2: `dwFlags` 0,
/// valid pointers), process-wide.
pub fn cache_misuse() -> usize {
    CACHE_MISUSE.load(Ordering::SeqCst)
}

/// The cache a callback was called for, when its arguments are acceptable.
fn cache_of(ctx: *const c_void, tag: *const u16, flags: u32) -> Option<&'static Mutex<CspCache>> {
    if ctx.is_null() || tag.is_null() || flags != 0 {
        CACHE_MISUSE.fetch_add(1, Ordering::SeqCst);
        return None;
    }
    // SAFETY: pvCacheContext is the Arc<Mutex<CspCache>> pointer this CSP set and keeps alive
    // for as long as the context exists.
    Some(unsafe { &*ctx.cast::<Mutex<CspCache>>() })
}

unsafe extern "system" fn cache_add(ctx: *const c_void, tag: *const u16, flags: u32, pb: *const u8, cb: u32) -> u32 {
    let Some(cache) = cache_of(ctx, tag, flags) else { return 0x8010_0004 };
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    c.adds += 1;
    if cb == 0 || pb.is_null() {
        return 0;
    }
    // SAFETY: tag is NUL-terminated; pb holds cb bytes.
    let (key, data) = unsafe { (tag_units(tag), core::slice::from_raw_parts(pb, cb as usize).to_vec()) };
    c.entries.insert(key, data);
    0
}

unsafe extern "system" fn cache_lookup(
    ctx: *const c_void,
    tag: *const u16,
    flags: u32,
    ppb: *mut *mut u8,
    pcb: *mut u32,
) -> u32 {
    let Some(cache) = cache_of(ctx, tag, flags) else { return 0x8010_0004 };
    if ppb.is_null() || pcb.is_null() {
        CACHE_MISUSE.fetch_add(1, Ordering::SeqCst);
        return 0x8010_0004;
    }
    // SAFETY: tag is NUL-terminated.
    let key = unsafe { tag_units(tag) };
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    c.lookups += 1;
    let Some(data) = c.entries.get(&key).cloned() else { return ERROR_NOT_FOUND };
    c.hits += 1;
    // SAFETY: a fresh CSP allocation the minidriver frees with pfnCspFree; the out-pointers
    // are valid (checked non-NULL, the driver's own locals).
    unsafe {
        let p = csp_alloc(data.len()).cast::<u8>();
        if p.is_null() {
            return 0x8010_0006;
        }
        ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        ppb.write(p);
        pcb.write(data.len() as u32);
    }
    0
}

unsafe extern "system" fn cache_delete(ctx: *const c_void, tag: *const u16, flags: u32) -> u32 {
    let Some(cache) = cache_of(ctx, tag, flags) else { return 0x8010_0004 };
    // SAFETY: tag is NUL-terminated.
    let key = unsafe { tag_units(tag) };
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    c.deletes += 1;
    c.entries.remove(&key);
    0
}

/// Fills what the Base CSP supplies for memory and caching: `pfnCspAlloc`/`ReAlloc`/`Free`
/// (this module's counted allocator) and `pfnCspCache*` over `cache` (`pvCacheContext`). The
/// caller keeps `cache` alive for as long as a context uses the structure.
pub fn install_callbacks(raw: &mut CARD_DATA, cache: &Arc<Mutex<CspCache>>) {
    raw.pfnCspAlloc = Some(csp_alloc);
    raw.pfnCspReAlloc = Some(csp_realloc);
    raw.pfnCspFree = Some(csp_free);
    raw.pfnCspCacheAddFile = Some(cache_add);
    raw.pfnCspCacheLookupFile = Some(cache_lookup);
    raw.pfnCspCacheDeleteFile = Some(cache_delete);
    raw.pvCacheContext = Arc::as_ptr(cache).cast_mut().cast();
}

/// The CSP's side of `KDF_SECRET_HANDLE`: this CSP's secret handles are agreement index + 1.
unsafe extern "system" fn get_dh_agreement(
    _cd: *const CARD_DATA,
    handle: *const c_void,
    index: *mut u8,
    _flags: u32,
) -> u32 {
    let h = handle as usize;
    if index.is_null() || h == 0 || h > 256 {
        return 0x8010_0004;
    }
    // SAFETY: checked non-NULL.
    unsafe { index.write((h - 1) as u8) };
    0
}

/// Loads a minidriver library and finds `CardAcquireContext`.
pub(crate) fn load(path: &std::path::Path) -> core::result::Result<(libloading::Library, AcquireFn), String> {
    // SAFETY: loading a library runs its initialisers; the minidriver's are Rust's own.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: the export has the PFN_CARD_ACQUIRE_CONTEXT signature (cardmod.h).
    let f: AcquireFn = unsafe { *library.get::<AcquireFn>(b"CardAcquireContext\0").map_err(|e| e.to_string())? };
    Ok((library, f))
}

/// Padding for [`CardData::sign_data`] and [`CardData::rsa_decrypt`] (`CARD_PADDING_*` with its
/// `BCRYPT_*_PADDING_INFO`).
#[derive(Clone, Debug)]
pub enum Padding {
    /// `CARD_PADDING_PKCS1` with a hash name (`None`: no DigestInfo).
    Pkcs1(Option<String>),
    /// `CARD_PADDING_PSS` with a hash name and salt length.
    Pss(String, u32),
    /// `CARD_PADDING_OAEP` with a hash name and label.
    Oaep(String, Vec<u8>),
    /// `CARD_PADDING_NONE`.
    None,
}

fn wide_z(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(core::iter::once(0)).collect()
}

fn code(rv: u32) -> Result<()> {
    if rv == 0 { Ok(()) } else { Err(Code(rv)) }
}

/// A call's code with the tries the driver reported (`*pcAttemptsRemaining`) on failure.
fn with_tries((rv, tries): (u32, u32)) -> core::result::Result<(), (Code, u32)> {
    if rv == 0 { Ok(()) } else { Err((Code(rv), tries)) }
}

/// Copies a CSP-allocated buffer out and frees it.
///
/// # Safety
/// `p` must be NULL or a csp_alloc allocation of at least `len` bytes.
pub(crate) unsafe fn take(p: *mut u8, len: u32) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: per contract.
    unsafe {
        let v = core::slice::from_raw_parts(p, len as usize).to_vec();
        free_output(p.cast());
        v
    }
}

/// A `CARD_DATA` this CSP filled, with the minidriver context acquired on it.
#[allow(missing_debug_implementations)]
pub struct CardData {
    raw: Box<CARD_DATA>,
    _name: Box<[u16]>,
    _atr: Box<[u8]>,
    cache: Arc<Mutex<CspCache>>,
    deleted: bool,
    requested: u32,
}

macro_rules! table {
    ($self:ident, $field:ident) => {
        $self.raw.$field.ok_or(Code(0x8010_0022))?
    };
}

impl CardData {
    /// Fills `CARD_DATA` and calls `CardAcquireContext` (or, for a supplied transport, the
    /// linked driver's Rust-level entry). Bytes past the requested version's extent are set to
    /// `0xA5` first, so tests can prove the driver never wrote there.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn acquire(
        acquire: AcquireFn,
        options: &AcquireOptions,
        atr: &[u8],
        cache: Arc<Mutex<CspCache>>,
        context: usize,
        card: usize,
        transport: Option<Box<dyn Transport + Send>>,
    ) -> Result<Self> {
        let name: Box<[u16]> = wide_z(&options.card_name).into_boxed_slice();
        let atr: Box<[u8]> = atr.into();
        let mut raw = Box::<CARD_DATA>::default();
        let extent = minidriver::abi::version::card_data_extent(options.version.clamp(4, 7));
        // SAFETY: CARD_DATA is plain data; the bytes from `extent` to its end are inside it.
        unsafe {
            let base = (&raw mut *raw).cast::<u8>();
            ptr::write_bytes(base.add(extent), 0xA5, size_of::<CARD_DATA>() - extent);
        }
        raw.dwVersion = options.version;
        raw.pbAtr = atr.as_ptr().cast_mut();
        raw.cbAtr = atr.len() as u32;
        raw.pwszCardName = name.as_ptr().cast_mut();
        install_callbacks(&mut raw, &cache);
        raw.pfnCspPadData = None;
        raw.hSCardCtx = context;
        raw.hScard = card;
        raw.pvVendorSpecific = ptr::null_mut();
        if options.version >= 5 {
            raw.pfnCspGetDHAgreement = Some(get_dh_agreement);
        }
        if options.version >= 7 {
            raw.pfnCspUnpadData = None;
        }
        if let Some(tamper) = options.tamper {
            tamper(&mut raw);
        }
        let rv = match transport {
            // SAFETY: `raw` is a fully initialised CARD_DATA that outlives the context.
            None => unsafe { acquire(&raw mut *raw, options.flags) },
            // SAFETY: as above.
            Some(t) => unsafe { minidriver::ffi::acquire_with_transport(&raw mut *raw, options.flags, t) },
        };
        code(rv)?;
        Ok(Self { raw, _name: name, _atr: atr, cache, deleted: false, requested: options.version })
    }

    /// The negotiated version.
    pub fn version(&self) -> u32 {
        self.raw.dwVersion
    }

    /// Whether every byte past the requested version's extent still holds the canary.
    pub fn tail_untouched(&self) -> bool {
        let extent = minidriver::abi::version::card_data_extent(self.requested.clamp(4, 7));
        // SAFETY: reading the bytes of our own CARD_DATA.
        let bytes = unsafe { core::slice::from_raw_parts((&raw const *self.raw).cast::<u8>(), size_of::<CARD_DATA>()) };
        bytes.get(extent..).is_some_and(|t| t.iter().all(|b| *b == 0xA5))
    }

    /// The raw structure (for tests that inspect the table).
    pub fn raw(&self) -> &CARD_DATA {
        &self.raw
    }

    /// A pointer to the raw structure (for tests that call entry points with hostile arguments).
    pub fn raw_ptr(&mut self) -> *mut CARD_DATA {
        &raw mut *self.raw
    }

    /// The shared cache.
    pub fn cache(&self) -> &Arc<Mutex<CspCache>> {
        &self.cache
    }

    /// Swaps the PC/SC handles, as the CSP does after reconnecting.
    pub fn set_handles(&mut self, context: usize, card: usize) {
        self.raw.hSCardCtx = context;
        self.raw.hScard = card;
    }

    /// `CardDeleteContext` (done on drop too; a second call is refused).
    ///
    /// # Errors
    /// The returned code.
    pub fn delete_context(&mut self) -> Result<()> {
        if self.deleted {
            return Ok(());
        }
        self.deleted = true;
        let f = table!(self, pfnCardDeleteContext);
        // SAFETY: our CARD_DATA with a live context.
        code(unsafe { f(&raw mut *self.raw) })
    }

    fn cd(&self) -> *const CARD_DATA {
        &raw const *self.raw
    }

    /// `CardQueryCapabilities`: (certificate compression, key generation).
    ///
    /// # Errors
    /// The returned code.
    pub fn query_capabilities(&self) -> Result<(bool, bool)> {
        let (rv, [_, compression, key_gen]) = raw::capabilities(self.raw(), 1);
        code(rv)?;
        Ok((compression != 0, key_gen != 0))
    }

    /// `CardReadFile`.
    ///
    /// # Errors
    /// The returned code.
    pub fn read_file(&self, dir: Option<&str>, file: &str) -> Result<Vec<u8>> {
        let (rv, data) = raw::read_file_bytes(self.raw(), dir.map(str::as_bytes), file.as_bytes(), 0);
        code(rv)?;
        Ok(data)
    }

    /// `CardWriteFile`.
    ///
    /// # Errors
    /// The returned code.
    pub fn write_file(&self, dir: Option<&str>, file: &str, data: &[u8]) -> Result<()> {
        code(raw::write_file(self.raw(), dir, file, data, 0))
    }

    /// `CardCreateFile`.
    ///
    /// # Errors
    /// The returned code.
    pub fn create_file(&self, dir: Option<&str>, file: &str, size: u32, access_condition: i32) -> Result<()> {
        code(raw::create_file(self.raw(), dir, file, size, access_condition))
    }

    /// `CardDeleteFile`.
    ///
    /// # Errors
    /// The returned code.
    pub fn delete_file(&self, dir: Option<&str>, file: &str) -> Result<()> {
        code(raw::delete_file(self.raw(), dir, file, 0))
    }

    /// `CardEnumFiles`.
    ///
    /// # Errors
    /// The returned code.
    pub fn enum_files(&self, dir: Option<&str>) -> Result<Vec<String>> {
        let (rv, bytes, _) = raw::enum_files_bytes(self.raw(), dir.map(str::as_bytes));
        code(rv)?;
        Ok(bytes
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    /// `CardGetFileInfo`: (size, access condition).
    ///
    /// # Errors
    /// The returned code.
    pub fn file_info(&self, dir: Option<&str>, file: &str) -> Result<(u32, i32)> {
        let (rv, size, access_condition) = raw::file_info(self.raw(), dir, file, 1);
        code(rv)?;
        Ok((size, access_condition))
    }

    /// `CardQueryFreeSpace`: (bytes, containers available, max containers).
    ///
    /// # Errors
    /// The returned code.
    pub fn query_free_space(&self) -> Result<(u32, u32, u32)> {
        let (rv, [_, bytes, containers, max_containers]) = raw::free_space(self.raw(), 0, 1);
        code(rv)?;
        Ok((bytes, containers, max_containers))
    }

    /// `CardCreateDirectory`.
    ///
    /// # Errors
    /// The returned code.
    pub fn create_directory(&self, dir: &str, access_condition: i32) -> Result<()> {
        code(raw::create_directory(self.raw(), dir, access_condition))
    }

    /// `CardDeleteDirectory`.
    ///
    /// # Errors
    /// The returned code.
    pub fn delete_directory(&self, dir: &str) -> Result<()> {
        code(raw::delete_directory(self.raw(), dir))
    }

    /// `CardQueryKeySizes`: (min, default, max, increment).
    ///
    /// # Errors
    /// The returned code.
    pub fn query_key_sizes(&self, key_spec: u32) -> Result<[u32; 4]> {
        let (rv, [_, min, default, max, increment]) = raw::query_key_sizes(self.raw(), key_spec, 0);
        code(rv)?;
        Ok([min, default, max, increment])
    }

    /// `CardGetContainerInfo`: (signature key blob, key exchange key blob).
    ///
    /// # Errors
    /// The returned code.
    pub fn container_info(&self, index: u8) -> Result<(Vec<u8>, Vec<u8>)> {
        let (rv, sig, kx) = raw::container_info_blobs(self.raw(), index, 0);
        code(rv)?;
        Ok((sig.unwrap_or_default(), kx.unwrap_or_default()))
    }

    /// `CardCreateContainer`.
    ///
    /// # Errors
    /// The returned code.
    pub fn create_container(
        &self,
        index: u8,
        flags: u32,
        key_spec: u32,
        key_size: u32,
        key_data: Option<&[u8]>,
    ) -> Result<()> {
        code(raw::create_container(self.raw(), index, flags, key_spec, key_size, key_data, None))
    }

    /// `CardCreateContainerEx`.
    ///
    /// # Errors
    /// The returned code.
    pub fn create_container_ex(&self, index: u8, flags: u32, key_spec: u32, key_size: u32, pin_id: u32) -> Result<()> {
        code(raw::create_container(self.raw(), index, flags, key_spec, key_size, None, Some(pin_id)))
    }

    /// `CardDeleteContainer`.
    ///
    /// # Errors
    /// The returned code.
    pub fn delete_container(&self, index: u8) -> Result<()> {
        code(raw::delete_container(self.raw(), index, 0))
    }

    /// `CardAuthenticatePin`; the error carries the tries reported.
    ///
    /// # Errors
    /// The returned code and `*pcAttemptsRemaining`.
    pub fn authenticate_pin(&self, user: &str, pin: &[u8]) -> core::result::Result<(), (Code, u32)> {
        with_tries(raw::authenticate_pin(self.raw(), user, pin))
    }

    /// `CardAuthenticateEx`: returns the session PIN when one was generated.
    ///
    /// # Errors
    /// The returned code and `*pcAttemptsRemaining`.
    pub fn authenticate_ex(
        &self,
        pin_id: u32,
        flags: u32,
        data: &[u8],
    ) -> core::result::Result<Option<Vec<u8>>, (Code, u32)> {
        let f = self.raw.pfnCardAuthenticateEx.ok_or((Code(0x8010_0022), 0))?;
        let (mut sp, mut sl, mut tries) = (ptr::null_mut(), 0u32, 0xDEAD_BEEF);
        // SAFETY: valid data and out-pointers.
        let rv = unsafe { f(self.cd(), pin_id, flags, data.as_ptr(), data.len() as u32, &mut sp, &mut sl, &mut tries) };
        if rv != 0 {
            return Err((Code(rv), tries));
        }
        // SAFETY: allocated with our allocator when present.
        Ok((!sp.is_null()).then(|| unsafe { take(sp, sl) }))
    }

    /// `CardGetChallenge`.
    ///
    /// # Errors
    /// The returned code.
    pub fn get_challenge(&self) -> Result<Vec<u8>> {
        let (rv, challenge) = raw::get_challenge(self.raw());
        code(rv)?;
        Ok(challenge)
    }

    /// `CardGetChallengeEx`.
    ///
    /// # Errors
    /// The returned code.
    pub fn get_challenge_ex(&self, pin_id: u32) -> Result<Vec<u8>> {
        let (rv, challenge) = raw::get_challenge_ex(self.raw(), pin_id, 0);
        code(rv)?;
        Ok(challenge)
    }

    /// `CardAuthenticateChallenge`.
    ///
    /// # Errors
    /// The returned code and tries.
    pub fn authenticate_challenge(&self, response: &[u8]) -> core::result::Result<(), (Code, u32)> {
        with_tries(raw::authenticate_challenge(self.raw(), response))
    }

    /// `CardUnblockPin`.
    ///
    /// # Errors
    /// The returned code.
    pub fn unblock_pin(&self, user: &str, auth: &[u8], new_pin: &[u8], retry: u32, flags: u32) -> Result<()> {
        code(raw::unblock_pin(self.raw(), user, auth, new_pin, retry, flags))
    }

    /// `CardChangeAuthenticator`.
    ///
    /// # Errors
    /// The returned code and tries.
    pub fn change_authenticator(
        &self,
        user: &str,
        current: &[u8],
        new: &[u8],
        flags: u32,
    ) -> core::result::Result<(), (Code, u32)> {
        with_tries(raw::change_authenticator(self.raw(), user, current, new, 0, flags))
    }

    /// `CardChangeAuthenticatorEx`.
    ///
    /// # Errors
    /// The returned code and tries.
    pub fn change_authenticator_ex(
        &self,
        flags: u32,
        auth_id: u32,
        auth: &[u8],
        target_id: u32,
        target: &[u8],
    ) -> core::result::Result<(), (Code, u32)> {
        with_tries(raw::change_authenticator_ex(self.raw(), flags, auth_id, auth, target_id, target, 0))
    }

    /// `CardDeauthenticate`.
    ///
    /// # Errors
    /// The returned code.
    pub fn deauthenticate(&self, user: &str) -> Result<()> {
        code(raw::deauthenticate(self.raw(), user, 0))
    }

    /// `CardDeauthenticateEx`.
    ///
    /// # Errors
    /// The returned code.
    pub fn deauthenticate_ex(&self, pins: u32) -> Result<()> {
        code(raw::deauthenticate_ex(self.raw(), pins, 0))
    }

    /// `CardSignData`: the signature as returned (RSA little-endian, ECDSA `r || s`).
    ///
    /// # Errors
    /// The returned code.
    pub fn sign_data(
        &self,
        index: u8,
        key_spec: u32,
        alg_id: u32,
        flags: u32,
        data: &[u8],
        padding: Option<&Padding>,
    ) -> Result<Vec<u8>> {
        let f = table!(self, pfnCardSignData);
        let mut holder = PaddingHolder::new(padding);
        let mut info = CARD_SIGNING_INFO {
            dwVersion: 2,
            bContainerIndex: index,
            dwKeySpec: key_spec,
            dwSigningFlags: flags | if padding.is_some() { minidriver::abi::crypt::PADDING_INFO_PRESENT } else { 0 },
            aiHashAlg: alg_id,
            pbData: data.as_ptr().cast_mut(),
            cbData: data.len() as u32,
            pbSignedData: ptr::null_mut(),
            cbSignedData: 0,
            pPaddingInfo: holder.pointer(),
            dwPaddingType: holder.kind,
        };
        // SAFETY: valid structure and buffers.
        code(unsafe { f(self.cd(), &mut info) })?;
        if flags & minidriver::abi::crypt::BUFFER_SIZE_ONLY != 0 {
            return Ok(vec![0; info.cbSignedData as usize]);
        }
        // SAFETY: allocated with our allocator.
        Ok(unsafe { take(info.pbSignedData, info.cbSignedData) })
    }

    /// `CardRSADecrypt` (info version 2 unless `version` says otherwise): `data` little-endian.
    ///
    /// # Errors
    /// The returned code.
    pub fn rsa_decrypt(&self, index: u8, data: &[u8], version: u32, padding: &Padding) -> Result<Vec<u8>> {
        let f = table!(self, pfnCardRSADecrypt);
        let mut holder = PaddingHolder::new(Some(padding));
        let mut buf = data.to_vec();
        let mut info = CARD_RSA_DECRYPT_INFO {
            dwVersion: version,
            bContainerIndex: index,
            dwKeySpec: minidriver::abi::keyspec::AT_KEYEXCHANGE,
            pbData: buf.as_mut_ptr(),
            cbData: buf.len() as u32,
            pPaddingInfo: holder.pointer(),
            dwPaddingType: holder.kind,
        };
        // SAFETY: valid structure and buffer.
        code(unsafe { f(self.cd(), &mut info) })?;
        buf.truncate(info.cbData as usize);
        Ok(buf)
    }

    /// `CardConstructDHAgreement` with a peer `BCRYPT_ECCKEY_BLOB`: the agreement index.
    ///
    /// # Errors
    /// The returned code.
    pub fn construct_dh_agreement(&self, index: u8, peer_blob: &[u8]) -> Result<u8> {
        let (rv, agreement) = raw::construct_agreement(self.raw(), 2, index, 0, peer_blob);
        code(rv)?;
        Ok(agreement)
    }

    /// `CardDeriveKey` with a KDF name and `(BufferType, bytes)` parameters; `out_len` is the
    /// caller's buffer size (and the wanted length for SP 800-56A).
    ///
    /// # Errors
    /// The returned code.
    pub fn derive_key(
        &self,
        agreement: u8,
        kdf: &str,
        params: &[(u32, Vec<u8>)],
        flags: u32,
        out_len: u32,
    ) -> Result<Vec<u8>> {
        let f = table!(self, pfnCardDeriveKey);
        let kdf_w = wide_z(kdf);
        let mut buffers: Vec<BCryptBuffer> = params
            .iter()
            .map(|(kind, data)| BCryptBuffer {
                cbBuffer: data.len() as u32,
                BufferType: *kind,
                pvBuffer: data.as_ptr().cast_mut().cast(),
            })
            .collect();
        let desc = BCryptBufferDesc { ulVersion: 0, cBuffers: buffers.len() as u32, pBuffers: buffers.as_mut_ptr() };
        let mut out = vec![0u8; out_len as usize];
        let mut info = CARD_DERIVE_KEY {
            dwVersion: 2,
            dwFlags: flags,
            pwszKDF: kdf_w.as_ptr().cast_mut(),
            bSecretAgreementIndex: agreement,
            pParameterList: (&raw const desc).cast_mut().cast(),
            pbDerivedKey: if out.is_empty() { ptr::null_mut() } else { out.as_mut_ptr() },
            cbDerivedKey: out_len,
            pwszAlgId: ptr::null_mut(),
            dwKeyLen: 0,
            hKey: 0,
        };
        // SAFETY: valid structure, strings and buffers that outlive the call.
        code(unsafe { f(self.cd(), &mut info) })?;
        out.truncate(info.cbDerivedKey as usize);
        if flags & minidriver::abi::crypt::BUFFER_SIZE_ONLY != 0 {
            out = vec![0; info.cbDerivedKey as usize];
        }
        Ok(out)
    }

    /// `CardDestroyDHAgreement`.
    ///
    /// # Errors
    /// The returned code.
    pub fn destroy_dh_agreement(&self, agreement: u8) -> Result<()> {
        code(raw::destroy_agreement(self.raw(), agreement, 0))
    }

    /// `CardGetProperty`, asking the size first as a CSP does.
    ///
    /// # Errors
    /// The returned code.
    pub fn get_property(&self, name: &str, flags: u32) -> Result<Vec<u8>> {
        let f = table!(self, pfnCardGetProperty);
        let n = wide_z(name);
        let mut needed = 0u32;
        // SAFETY: a zero-length buffer: only the needed size is written.
        let rv = unsafe { f(self.cd(), n.as_ptr(), ptr::null_mut(), 0, &mut needed, flags) };
        if rv != 0 && rv != minidriver::abi::code::ERROR_INSUFFICIENT_BUFFER {
            return Err(Code(rv));
        }
        let mut buf = vec![0u8; needed as usize];
        if name == minidriver::abi::prop::PIN_INFO
            && let Some(head) = buf.get_mut(..4)
        {
            head.copy_from_slice(&6u32.to_le_bytes());
        }
        // SAFETY: a buffer of the needed size.
        code(unsafe { f(self.cd(), n.as_ptr(), buf.as_mut_ptr(), buf.len() as u32, &mut needed, flags) })?;
        buf.truncate(needed as usize);
        Ok(buf)
    }

    /// `CardGetProperty` with a caller-chosen buffer size: (code, `*pdwDataLen`).
    pub fn get_property_sized(&self, name: &str, flags: u32, cap: u32) -> (Code, u32, Vec<u8>) {
        let Some(f) = self.raw.pfnCardGetProperty else { return (Code(0x8010_0022), 0, Vec::new()) };
        let n = wide_z(name);
        let mut needed = 0u32;
        let mut buf = vec![0u8; cap as usize];
        // SAFETY: a buffer of `cap` bytes.
        let rv = unsafe { f(self.cd(), n.as_ptr(), buf.as_mut_ptr(), cap, &mut needed, flags) };
        (Code(rv), needed, buf)
    }

    /// `CardGetProperty` into the caller's `buffer` as it is (a poisoned one shows what the
    /// driver wrote): (code, `*pdwDataLen`).
    pub fn get_property_into(&self, name: &str, flags: u32, buffer: &mut [u8]) -> (u32, u32) {
        let Some(f) = self.raw.pfnCardGetProperty else { return (0x8010_0022, 0) };
        let n = wide_z(name);
        let mut needed = 0xDEAD_BEEF_u32;
        // SAFETY: a buffer of its stated length.
        let rv = unsafe { f(self.cd(), n.as_ptr(), buffer.as_mut_ptr(), buffer.len() as u32, &mut needed, flags) };
        (rv, needed)
    }

    /// `CardSetProperty`.
    ///
    /// # Errors
    /// The returned code.
    pub fn set_property(&self, name: &str, data: Option<&[u8]>, flags: u32) -> Result<()> {
        code(raw::set_property(self.raw(), name, data, flags))
    }

    /// `CardGetContainerProperty` (for `CCP_CONTAINER_INFO` the blobs are returned separately).
    ///
    /// # Errors
    /// The returned code.
    pub fn get_container_property(&self, index: u8, name: &str) -> Result<Vec<u8>> {
        let f = table!(self, pfnCardGetContainerProperty);
        let n = wide_z(name);
        let mut needed = 0u32;
        if name == minidriver::abi::prop::CONTAINER_INFO {
            let mut info = CONTAINER_INFO {
                dwVersion: 1,
                dwReserved: 0,
                cbSigPublicKey: 0,
                pbSigPublicKey: ptr::null_mut(),
                cbKeyExPublicKey: 0,
                pbKeyExPublicKey: ptr::null_mut(),
            };
            // SAFETY: a CONTAINER_INFO-sized buffer.
            code(unsafe {
                f(
                    self.cd(),
                    index,
                    n.as_ptr(),
                    (&raw mut info).cast(),
                    size_of::<CONTAINER_INFO>() as u32,
                    &mut needed,
                    0,
                )
            })?;
            // SAFETY: blobs allocated with our allocator.
            let (sig, kx) = unsafe {
                (take(info.pbSigPublicKey, info.cbSigPublicKey), take(info.pbKeyExPublicKey, info.cbKeyExPublicKey))
            };
            return Ok(if sig.is_empty() { kx } else { sig });
        }
        let mut buf = vec![0u8; 64];
        // SAFETY: a 64-byte buffer.
        code(unsafe { f(self.cd(), index, n.as_ptr(), buf.as_mut_ptr(), buf.len() as u32, &mut needed, 0) })?;
        buf.truncate(needed as usize);
        Ok(buf)
    }

    /// `CardSetContainerProperty`.
    ///
    /// # Errors
    /// The returned code.
    pub fn set_container_property(&self, index: u8, name: &str, data: &[u8]) -> Result<()> {
        code(raw::set_container_property(self.raw(), index, name, data, 0))
    }

    /// Calls one of the v7 secure-key-injection entry points with benign arguments: its code.
    pub fn ski_codes(&self) -> Vec<(&'static str, Code)> {
        let mut out = Vec::new();
        let cd = self.cd();
        let name = wide_z("KeyDataBlob");
        let alg = wide_z("AES");
        let mut key = 0usize;
        let (mut pout, mut lout) = (ptr::null_mut(), 0u32);
        // SAFETY: each call gets valid (if meaningless) arguments.
        unsafe {
            if let Some(f) = self.raw.pfnMDImportSessionKey {
                out.push(("MDImportSessionKey", Code(f(cd, name.as_ptr(), alg.as_ptr(), &mut key, ptr::null(), 0))));
            }
            if let Some(f) = self.raw.pfnMDEncryptData {
                let mut e = ptr::null_mut();
                out.push(("MDEncryptData", Code(f(cd, 0, name.as_ptr(), ptr::null(), 0, 0, &mut e, &mut lout))));
            }
            if let Some(f) = self.raw.pfnCardImportSessionKey {
                out.push((
                    "CardImportSessionKey",
                    Code(f(cd, 0, ptr::null(), name.as_ptr(), alg.as_ptr(), &mut key, ptr::null(), 0, 0)),
                ));
            }
            if let Some(f) = self.raw.pfnCardGetSharedKeyHandle {
                out.push(("CardGetSharedKeyHandle", Code(f(cd, ptr::null(), 0, &mut pout, &mut lout, &mut key))));
            }
            if let Some(f) = self.raw.pfnCardGetAlgorithmProperty {
                out.push((
                    "CardGetAlgorithmProperty",
                    Code(f(cd, alg.as_ptr(), name.as_ptr(), ptr::null_mut(), 0, &mut lout, 0)),
                ));
            }
            if let Some(f) = self.raw.pfnCardGetKeyProperty {
                out.push(("CardGetKeyProperty", Code(f(cd, 0, name.as_ptr(), ptr::null_mut(), 0, &mut lout, 0))));
            }
            if let Some(f) = self.raw.pfnCardSetKeyProperty {
                out.push(("CardSetKeyProperty", Code(f(cd, 0, name.as_ptr(), ptr::null(), 0, 0))));
            }
            if let Some(f) = self.raw.pfnCardDestroyKey {
                out.push(("CardDestroyKey", Code(f(cd, 0))));
            }
            if let Some(f) = self.raw.pfnCardProcessEncryptedData {
                out.push((
                    "CardProcessEncryptedData",
                    Code(f(cd, 0, name.as_ptr(), ptr::null(), 0, ptr::null_mut(), 0, &mut lout, 0)),
                ));
            }
        }
        out
    }
}

impl Drop for CardData {
    fn drop(&mut self) {
        let _ = self.delete_context();
    }
}

/// Keeps a `BCRYPT_*_PADDING_INFO` and its strings alive for one call.
struct PaddingHolder {
    kind: u32,
    alg: Vec<u16>,
    label: Vec<u8>,
    pkcs1: BCRYPT_PKCS1_PADDING_INFO,
    pss: BCRYPT_PSS_PADDING_INFO,
    oaep: BCRYPT_OAEP_PADDING_INFO,
}

impl PaddingHolder {
    fn new(padding: Option<&Padding>) -> Self {
        use minidriver::abi::crypt as c;
        let (kind, alg, label, salt) = match padding {
            None => (0, Vec::new(), Vec::new(), 0),
            Some(Padding::Pkcs1(alg)) => {
                (c::PADDING_PKCS1, alg.as_deref().map(wide_z).unwrap_or_default(), Vec::new(), 0)
            }
            Some(Padding::Pss(alg, salt)) => (c::PADDING_PSS, wide_z(alg), Vec::new(), *salt),
            Some(Padding::Oaep(alg, label)) => (c::PADDING_OAEP, wide_z(alg), label.clone(), 0),
            Some(Padding::None) => (c::PADDING_NONE, Vec::new(), Vec::new(), 0),
        };
        let mut h = Self {
            kind,
            alg,
            label,
            pkcs1: BCRYPT_PKCS1_PADDING_INFO { pszAlgId: ptr::null() },
            pss: BCRYPT_PSS_PADDING_INFO { pszAlgId: ptr::null(), cbSalt: salt },
            oaep: BCRYPT_OAEP_PADDING_INFO { pszAlgId: ptr::null(), pbLabel: ptr::null_mut(), cbLabel: 0 },
        };
        let alg_ptr = if h.alg.is_empty() { ptr::null() } else { h.alg.as_ptr() };
        h.pkcs1.pszAlgId = alg_ptr;
        h.pss.pszAlgId = alg_ptr;
        h.oaep.pszAlgId = alg_ptr;
        h.oaep.pbLabel = if h.label.is_empty() { ptr::null_mut() } else { h.label.as_mut_ptr() };
        h.oaep.cbLabel = h.label.len() as u32;
        h
    }

    fn pointer(&mut self) -> *mut c_void {
        use minidriver::abi::crypt as c;
        match self.kind {
            c::PADDING_PKCS1 => (&raw mut self.pkcs1).cast(),
            c::PADDING_PSS => (&raw mut self.pss).cast(),
            c::PADDING_OAEP => (&raw mut self.oaep).cast(),
            _ => ptr::null_mut(),
        }
    }
}
