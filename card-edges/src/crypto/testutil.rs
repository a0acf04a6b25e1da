//! Test helpers: the fixed keys and the raw RSA private operation a card performs.

use rand_core::UnwrapErr;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, RsaPrivateKey};

/// The fixed RSA test keys (never generated at run time), with their names.
pub(crate) fn rsa_keys() -> Vec<(&'static str, RsaPrivateKey)> {
    use test_vectors::keys::{RSA_1024, RSA_2048_A, RSA_3072, RSA_4096};
    [("RSA_1024", RSA_1024), ("RSA_2048_A", RSA_2048_A), ("RSA_3072", RSA_3072), ("RSA_4096", RSA_4096)]
        .into_iter()
        .map(|(name, der)| (name, RsaPrivateKey::from_pkcs8_der(der).unwrap()))
        .collect()
}

/// One fixed 2048-bit key.
pub(crate) fn rsa_2048() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_2048_A).unwrap()
}

/// What a card does: `block^d mod n` on a modulus-sized block, as `k` big-endian bytes.
/// Computed from `d` and `n` with `crypto-bigint` (no CRT, no padding), so that nothing of the
/// `rsa` crate's padding code is involved.
pub(crate) fn private_op(key: &RsaPrivateKey, block: &[u8]) -> Vec<u8> {
    let k = key.size();
    assert_eq!(block.len(), k, "a card takes exactly k bytes");
    let m = BoxedUint::from_be_slice(block, key.n_bits_precision()).unwrap();
    assert!(m < *key.n().as_ref(), "block is not less than n");
    let out = m.pow_mod(key.d(), key.n_params().modulus()).to_be_bytes();
    let (zeros, out) = out.split_at(out.len() - k);
    assert!(zeros.iter().all(|&b| b == 0));
    out.to_vec()
}

/// The operating system's random generator as an infallible `CryptoRng`.
pub(crate) fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

#[test]
fn private_op_matches_the_rsa_crate() {
    // An unpadded signature from `rsa` would need hazmat; instead check that our raw operation
    // inverts the public one and agrees with `rsa`'s own PKCS#1 v1.5 signature of a block.
    for (name, key) in rsa_keys() {
        let sig = key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), b"interop").unwrap();
        let mut block = vec![0x00, 0x01];
        block.resize(key.size() - b"interop".len() - 1, 0xFF);
        block.push(0);
        block.extend_from_slice(b"interop");
        assert_eq!(private_op(&key, &block), sig, "{name}");
    }
}
