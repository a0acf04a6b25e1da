//! Hash algorithms of the CSP/KSP interfaces, their PKCS#1 DigestInfo prefixes, and MGF1.

use digest::Digest;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A hash algorithm a caller can name when asking for a signature or an OAEP decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// MD5 (16 bytes). Only its DigestInfo prefix is known here; there is no MD5 code.
    Md5,
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-384 (48 bytes).
    Sha384,
    /// SHA-512 (64 bytes).
    Sha512,
    /// The SSL 3.0 / TLS 1.0 client-authentication hash `MD5(m) || SHA-1(m)` (36 bytes,
    /// `CALG_SSL3_SHAMD5`). It is signed with PKCS#1 v1.5 type 1 padding but without a DigestInfo.
    Md5Sha1,
}

impl HashAlg {
    /// Length of the hash value in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
            Self::Md5Sha1 => 36,
        }
    }

    /// The DER encoding of `DigestInfo` up to (and including) the header of the hash's
    /// OCTET STRING (RFC 8017 §9.2, note 1); the hash value follows it. `None` for
    /// [`HashAlg::Md5Sha1`], which is signed bare.
    pub const fn digest_info_prefix(self) -> Option<&'static [u8]> {
        match self {
            Self::Md5 => Some(&[
                0x30, 0x20, 0x30, 0x0C, 0x06, 0x08, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05, 0x05, 0x00, 0x04,
                0x10,
            ]),
            Self::Sha1 => {
                Some(&[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14])
            }
            Self::Sha256 => Some(&[
                0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
                0x04, 0x20,
            ]),
            Self::Sha384 => Some(&[
                0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
                0x04, 0x30,
            ]),
            Self::Sha512 => Some(&[
                0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
                0x04, 0x40,
            ]),
            Self::Md5Sha1 => None,
        }
    }

    /// Hashes `data`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for [`HashAlg::Md5`] and [`HashAlg::Md5Sha1`]: there is no MD5 code.
    pub fn hash(self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(self.hash_parts(&[data])?.to_vec())
    }

    /// Hashes the concatenation of `parts`; the result is zeroized on drop (MGF1 masks of a secret
    /// seed are secret).
    pub(super) fn hash_parts(self, parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
            let mut d = D::new();
            for part in parts {
                d.update(part);
            }
            Zeroizing::new(d.finalize().to_vec())
        }
        match self {
            Self::Sha1 => Ok(run::<sha1::Sha1>(parts)),
            Self::Sha256 => Ok(run::<sha2::Sha256>(parts)),
            Self::Sha384 => Ok(run::<sha2::Sha384>(parts)),
            Self::Sha512 => Ok(run::<sha2::Sha512>(parts)),
            Self::Md5 | Self::Md5Sha1 => Err(Error::Unsupported("MD5 hashing")),
        }
    }

    /// The output length of a hash that PSS, OAEP and MGF1 can use (SHA-1 and SHA-2).
    pub(super) fn sha_len(self) -> Result<usize> {
        match self {
            Self::Sha1 | Self::Sha256 | Self::Sha384 | Self::Sha512 => Ok(self.output_len()),
            Self::Md5 | Self::Md5Sha1 => Err(Error::Unsupported("MD5 in PSS, OAEP or MGF1")),
        }
    }
}

/// MGF1 (RFC 8017 §B.2.1) with `hash` over `seed`: `len` bytes of mask, zeroized on drop.
///
/// # Errors
/// [`Error::Unsupported`] for MD5-based algorithms; [`Error::InvalidArgument`] for a mask longer
/// than 64 KiB (masks are at most a modulus long).
pub fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if len > super::pkcs1::MAX_BLOCK {
        return Err(Error::InvalidArgument("MGF1 mask too long"));
    }
    let mut mask = Zeroizing::new(vec![0; len]);
    mgf1_xor(hash, seed, &mut mask)?;
    Ok(mask)
}

/// XORs `out` with the MGF1 mask of `seed` (as long as `out`).
pub(super) fn mgf1_xor(hash: HashAlg, seed: &[u8], out: &mut [u8]) -> Result<()> {
    let h_len = hash.sha_len()?;
    for (counter, chunk) in out.chunks_mut(h_len.max(1)).enumerate() {
        let counter = u32::try_from(counter).map_err(|_| Error::InvalidArgument("MGF1 mask too long"))?;
        let block = hash.hash_parts(&[seed, &counter.to_be_bytes()])?;
        for (o, m) in chunk.iter_mut().zip(block.iter()) {
            *o ^= m;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use der::asn1::{AnyRef, Null, ObjectIdentifier, OctetStringRef};
    use der::{Decode, Reader, SliceReader};
    use hex_literal::hex;
    use proptest::prelude::*;
    use rsa::Pkcs1v15Sign;

    use super::*;

    const ALL: [HashAlg; 6] =
        [HashAlg::Md5, HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512, HashAlg::Md5Sha1];
    const SHA: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// Parses `DigestInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }` with the `der`
    /// crate: the algorithm, its parameters and the digest.
    fn parse_digest_info(der: &[u8]) -> (ObjectIdentifier, Option<AnyRef<'_>>, Vec<u8>) {
        let mut reader = SliceReader::new(der).unwrap();
        let out = reader
            .sequence(|r| {
                let alg = spki::AlgorithmIdentifierRef::decode(r)?;
                let digest = <&OctetStringRef>::decode(r)?;
                Ok::<_, der::Error>((alg.oid, alg.parameters, digest.as_bytes().to_vec()))
            })
            .unwrap();
        reader.finish().unwrap();
        out
    }

    #[test]
    fn digest_info_prefixes_parse_as_digest_info() {
        let oids = [
            (HashAlg::Md5, "1.2.840.113549.2.5"),
            (HashAlg::Sha1, "1.3.14.3.2.26"),
            (HashAlg::Sha256, "2.16.840.1.101.3.4.2.1"),
            (HashAlg::Sha384, "2.16.840.1.101.3.4.2.2"),
            (HashAlg::Sha512, "2.16.840.1.101.3.4.2.3"),
        ];
        for (alg, oid) in oids {
            let mut der = alg.digest_info_prefix().unwrap().to_vec();
            der.extend(vec![0xA5; alg.output_len()]);
            let (parsed_oid, parameters, digest) = parse_digest_info(&der);
            assert_eq!(parsed_oid, ObjectIdentifier::new_unwrap(oid), "{alg:?}");
            assert_eq!(parameters, Some(AnyRef::from(Null)), "{alg:?}");
            assert_eq!(digest, vec![0xA5; alg.output_len()], "{alg:?}");
        }
        assert_eq!(HashAlg::Md5Sha1.digest_info_prefix(), None);
    }

    #[test]
    fn digest_info_prefixes_match_the_rsa_crate() {
        let theirs = [
            (HashAlg::Sha1, Pkcs1v15Sign::new::<sha1::Sha1>()),
            (HashAlg::Sha256, Pkcs1v15Sign::new::<sha2::Sha256>()),
            (HashAlg::Sha384, Pkcs1v15Sign::new::<sha2::Sha384>()),
            (HashAlg::Sha512, Pkcs1v15Sign::new::<sha2::Sha512>()),
        ];
        for (alg, scheme) in theirs {
            assert_eq!(alg.digest_info_prefix().unwrap(), &*scheme.prefix, "{alg:?}");
            assert_eq!(Some(alg.output_len()), scheme.hash_len, "{alg:?}");
        }
    }

    #[test]
    fn known_answers() {
        // FIPS 180 examples for "abc".
        assert_eq!(HashAlg::Sha1.hash(b"abc").unwrap(), hex!("a9993e364706816aba3e25717850c26c9cd0d89d"));
        assert_eq!(
            HashAlg::Sha256.hash(b"abc").unwrap(),
            hex!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            HashAlg::Sha384.hash(b"abc").unwrap(),
            hex!(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                "8086072ba1e7cc2358baeca134c825a7"
            )
        );
        assert_eq!(
            HashAlg::Sha512.hash(b"abc").unwrap(),
            hex!(
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            )
        );
        for alg in ALL {
            match alg.hash(b"abc") {
                Ok(h) => assert_eq!(h.len(), alg.output_len()),
                Err(e) => {
                    assert!(matches!(alg, HashAlg::Md5 | HashAlg::Md5Sha1));
                    assert_eq!(e, Error::Unsupported("MD5 hashing"));
                }
            }
        }
    }

    /// MGF1-SHA-1 of "foo" and "bar" (the widely quoted examples, e.g. Wikipedia's MGF1 page and
    /// the test suite of Python's `cryptography`).
    #[test]
    fn mgf1_known_answers() {
        assert_eq!(*mgf1(HashAlg::Sha1, b"foo", 3).unwrap(), hex!("1ac907"));
        assert_eq!(*mgf1(HashAlg::Sha1, b"foo", 5).unwrap(), hex!("1ac9075cd4"));
        assert_eq!(*mgf1(HashAlg::Sha1, b"bar", 5).unwrap(), hex!("bc0c655e01"));
        assert_eq!(
            *mgf1(HashAlg::Sha1, b"bar", 50).unwrap(),
            hex!(
                "bc0c655e016bc2931d85a2e675181adcef7f581f76df2739da74faac41627be2"
                "f7f415c89e983fd0ce80ced9878641cb4876"
            )
        );
        assert_eq!(
            *mgf1(HashAlg::Sha256, b"bar", 50).unwrap(),
            hex!(
                "382576a7841021cc28fc4c0948753fb8312090cea942ea4c4e735d10dc724b15"
                "5f9f6069f289d61daca0cb814502ef04eae1"
            )
        );
        assert!(mgf1(HashAlg::Sha1, b"foo", 0).unwrap().is_empty());
        assert_eq!(mgf1(HashAlg::Sha1, b"foo", usize::MAX).unwrap_err(), Error::InvalidArgument("MGF1 mask too long"));
        assert_eq!(mgf1(HashAlg::Md5, b"foo", 16).unwrap_err(), Error::Unsupported("MD5 in PSS, OAEP or MGF1"));
    }

    proptest! {
        /// MGF1 is a prefix-stable stream: a shorter mask is a prefix of a longer one.
        #[test]
        fn mgf1_prefix_stable(alg in prop::sample::select(SHA.to_vec()), seed in prop::collection::vec(any::<u8>(), 0..80), a in 0usize..300, b in 0usize..300) {
            let (short, long) = (a.min(b), a.max(b));
            let m_long = mgf1(alg, &seed, long).unwrap();
            let m_short = mgf1(alg, &seed, short).unwrap();
            prop_assert_eq!(&m_long[..short], &m_short[..]);
            // The first block is Hash(seed || 00000000).
            let first = alg.hash(&[seed.as_slice(), &[0, 0, 0, 0]].concat()).unwrap();
            let n = long.min(alg.output_len());
            prop_assert_eq!(&m_long[..n], &first[..n]);
        }
    }
}
