//! Raw calls through a `CARD_DATA` table: what the CSP stand-in's safe methods cannot express
//! (NULL and out-of-range arguments, sentinels in out-pointers, poisoned caller buffers, a bare
//! `CARD_DATA` inspected after a refused acquire, an allocator that fails, callbacks that count
//! or call back into their context). The one raw CARD_DATA caller of the project: the
//! checklist and threads tests and `mdtool conformance` all use it, and the stand-in's safe
//! methods build their plain calls on it. The `unsafe` is in its `ffi` module; this module
//! holds what the calls take and return.

mod ffi;

pub use ffi::*;

/// One call with a NULL (or otherwise missing) argument: its code, and whether every output
/// the caller initialised (NULL/0) is still NULL/0 afterwards.
#[derive(Debug)]
pub struct NullCase {
    pub what: &'static str,
    pub code: u32,
    pub outputs_clean: bool,
    /// Card commands the call sent (when the caller counts them).
    pub apdus: u64,
}

/// One output buffer: the allocations live right after the call and after the caller's
/// single `pfnCspFree`, both relative to before the call.
#[derive(Debug)]
pub struct Output {
    pub what: &'static str,
    pub code: u32,
    pub live_after_call: isize,
    pub live_after_free: isize,
    pub len: u32,
}

/// Which containers of a card the allocating calls use.
#[derive(Clone, Copy, Debug)]
pub struct Outputs {
    /// A container with a key-exchange key only.
    pub kx: Option<u8>,
    /// A container with a signature key only, for `CardGetContainerInfo`.
    pub sig: Option<u8>,
    /// A container with a signature key only, for `CCP_CONTAINER_INFO`.
    pub sig_property: Option<u8>,
    /// `CardSignData`'s container, key spec and `aiHashAlg` (over a 32-byte hash): a key the
    /// context may use now.
    pub sign: Option<(u8, u32, u32)>,
    /// Whether the card has a challenge-response administrator (`CardGetChallenge(Ex)`).
    pub challenge: bool,
}

/// A `CardSignData` request built field by field.
#[derive(Clone, Debug)]
pub struct SignCall {
    pub version: u32,
    pub index: u8,
    pub key_spec: u32,
    pub flags: u32,
    pub alg_id: u32,
    pub data: Vec<u8>,
    /// `(dwPaddingType, pszAlgId)` for a `BCRYPT_PKCS1_PADDING_INFO`.
    pub padding: Option<(u32, Option<String>)>,
}

/// What `CardSignData` did: the code, the signature (copied and freed), `cbSignedData`, and
/// whether `pbSignedData` still holds the sentinel the caller put there.
#[derive(Debug)]
pub struct SignOut {
    pub code: u32,
    pub signature: Option<Vec<u8>>,
    pub cb: u32,
    pub pb_untouched: bool,
}

/// A `CardDeriveKey` request.
#[derive(Clone, Debug, Default)]
pub struct DeriveCall {
    pub version: u32,
    pub flags: u32,
    pub kdf: String,
    pub agreement: u8,
    /// `(BufferType, bytes)` parameters.
    pub params: Vec<(u32, Vec<u8>)>,
    /// A `KDF_NCRYPT_SECRET_HANDLE` parameter carrying this handle value.
    pub secret_handle: Option<usize>,
    /// The caller's buffer size (`cbDerivedKey` in).
    pub capacity: u32,
}

/// What `CardDeriveKey` did: code, `cbDerivedKey` after, the caller's buffer, and whether the
/// buffer still holds its fill pattern.
#[derive(Debug)]
pub struct DeriveOut {
    pub code: u32,
    pub cb: u32,
    pub key: Vec<u8>,
    pub untouched: bool,
}
