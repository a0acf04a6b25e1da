//! The checks, one module per area of the specification. Each module's `CHECKS` lists its
//! checks in run order; [`super::registry`] runs them.

pub(super) mod acquire;
pub(super) mod args;
pub(super) mod cache;
pub(super) mod containers;
pub(super) mod contexts;
pub(super) mod crypto;
pub(super) mod files;
pub(super) mod general;
pub(super) mod memory;
pub(super) mod pins;
pub(super) mod properties;
pub(super) mod table;
pub(super) mod unchecked;
pub(super) mod writes;

use minidriver::abi::code;

/// `SCARD_E_INVALID_PARAMETER`, the answer to a NULL or bad argument (§2.3.2).
pub(super) const INVALID: u32 = code::SCARD_E_INVALID_PARAMETER;
/// `SCARD_E_UNSUPPORTED_FEATURE`.
pub(super) const UNSUPPORTED: u32 = code::SCARD_E_UNSUPPORTED_FEATURE;
/// `ERROR_REVISION_MISMATCH` (§2.5.1).
pub(super) const REVISION: u32 = code::ERROR_REVISION_MISMATCH;
/// `SCARD_W_SECURITY_VIOLATION`.
pub(super) const SECURITY: u32 = code::SCARD_W_SECURITY_VIOLATION;
/// `SCARD_E_NO_KEY_CONTAINER`.
pub(super) const NO_CONTAINER: u32 = code::SCARD_E_NO_KEY_CONTAINER;
/// `SCARD_W_WRONG_CHV`.
pub(super) const WRONG_CHV: u32 = code::SCARD_W_WRONG_CHV;

/// The error code of a result (0 for success).
pub(super) fn code_of<T>(r: &Result<T, crate::csp::Code>) -> u32 {
    r.as_ref().err().map_or(0, |c| c.0)
}
