//! Host-side cryptography around the card's raw private-key operations.
//!
//! A PIV (or GIDS) card does only the bare private-key step:
//!
//! - RSA: `m^d mod n` on a block exactly as long as the modulus. The card neither adds nor
//!   removes padding, so the host builds the EMSA-PKCS1-v1_5 ([`pkcs1::encode_sign`]) or
//!   EMSA-PSS ([`pss::encode`]) block before signing, and strips EME-PKCS1-v1_5
//!   ([`pkcs1::decode_encryption_block`]) or EME-OAEP ([`oaep::decode`]) padding after
//!   decrypting.
//! - ECDSA: the card signs a value of the field's length and answers DER
//!   `SEQUENCE { INTEGER r, INTEGER s }`. The host fits the hash to the field
//!   ([`ecdsa::fit_hash`]) and converts the answer to the fixed-width `r || s` that CNG and the
//!   Base CSP expect ([`ecdsa::der_to_fixed`]).
//! - ECDH: the card returns the shared point's x-coordinate, which needs no conversion.
//!
//! Decryption unpadding runs on secret data, so it is written in constant time with `subtle`:
//! the whole block is scanned, nothing branches on a secret byte before the final verdict, and
//! every padding fault gives the same [`Error::Crypto`] error
//! (Bleichenbacher's and the Marvin attack's oracles). Callers must keep it that way: map the
//! error to one status code and do not log which check failed.
//!
//! Everything that reads card output treats it as hostile: no function here panics, whatever
//! the card (or the CSP) sends. [`rsa_pub`] decodes RSA public keys and applies the raw public
//! operation; [`check`] uses it (and ECDSA verification) so that a card's signature or plaintext
//! is checked with the public key before it is returned.
//!
//! Random bytes (PSS salts, padding strings, OAEP seeds) come from the operating system
//! ([`getrandom::SysRng`]) or from a caller's [`rand_core::TryCryptoRng`].

pub mod block;
pub mod check;
pub mod ecdsa;
pub mod hash;
pub mod oaep;
pub mod pkcs1;
pub mod pss;
pub mod rsa_pub;

pub use block::{BlockCipher, challenge_response};
pub use ecdsa::{der_to_fixed, fit_hash, fixed_to_der};
pub use hash::{HashAlg, mgf1};
pub use rsa_pub::{
    modulus_bits, modulus_len, public_key_from_components, public_key_from_spki, raw_public, verify_pkcs1, verify_pss,
};

use crate::error::Error;

/// The error for a random generator that failed.
fn rng_error<E>(_: E) -> Error {
    Error::Crypto("the random number generator failed")
}

#[cfg(test)]
mod testutil;
