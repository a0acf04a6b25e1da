//! The defects, one table: the `MD_DEFECT` name of each and what it breaks.

/// One injected departure from the Minidriver Specification v7.07.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// No defect: every call passes through unchanged.
    None,
    /// `pfnCardQueryFreeSpace` is NULL in the table (§4.3.9: a required entry point).
    NullSlot,
    /// `dwVersion` 3 is accepted (§2.5.1: below the minimum is `ERROR_REVISION_MISMATCH`).
    AcceptVersion3,
    /// Every context leaks one `pfnCspAlloc` block (§4.1.2: `CardDeleteContext` frees all).
    Leak,
    /// A failed `CardReadFile` writes `*pcbData` (§3.2.1: outputs stay clear on failure).
    WriteOnFailure,
    /// RSA signatures come back big-endian (§4.7.5: CAPI wants them byte-reversed).
    BigEndianSignature,
    /// The user PIN is remembered and a new context authenticated with it (§2.3.1).
    PinCached,
    /// `CardReadFile` with `ppbData` NULL is `SCARD_E_UNEXPECTED` (§2.3.2: INVALID_PARAMETER).
    NullArgumentCode,
    /// A short `CardGetProperty` buffer leaves `*pdwDataLen` 0 (§4.5.4: the size needed).
    ShortBufferLength,
    /// `CP_CARD_GUID` is not `cardid` (§4.5.4, §6.2: the same 16 bytes).
    CardidNotGuid,
    /// A version 4 context gets a pointer written past its 328 bytes (H: the version's extent).
    TailWrite,
    /// `CardQueryFreeSpace` never returns.
    Hang,
    /// `CardGetFileInfo` ends the process.
    Crash,
}

/// Each defect's `MD_DEFECT` name.
const NAMES: [(&str, Defect); 13] = [
    ("none", Defect::None),
    ("null_slot", Defect::NullSlot),
    ("accept_v3", Defect::AcceptVersion3),
    ("leak", Defect::Leak),
    ("write_on_failure", Defect::WriteOnFailure),
    ("be_signature", Defect::BigEndianSignature),
    ("pin_cached", Defect::PinCached),
    ("null_arg_code", Defect::NullArgumentCode),
    ("short_buffer_len", Defect::ShortBufferLength),
    ("cardid_not_guid", Defect::CardidNotGuid),
    ("tail_write", Defect::TailWrite),
    ("hang", Defect::Hang),
    ("crash", Defect::Crash),
];

impl Defect {
    /// The defect `MD_DEFECT` names (unset, empty or unknown: none).
    pub fn from_env() -> Self {
        let name = std::env::var("MD_DEFECT").unwrap_or_default();
        NAMES.iter().find(|(n, _)| *n == name).map_or(Self::None, |(_, d)| *d)
    }

    /// Every defect's name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }
}
