//! Certificate files (`mscp/kxcNN`, `mscp/kscNN`) in the Base CSP's compressed form:
//! `01 00 | uncompressed length (uint16 LE) | zlib (RFC 1950) stream of the DER`.
//!
//! The GIDS edge reports `fCertificateCompression = FALSE` (Smart Card Minidriver Specification
//! v7, 4.4.1 CARD_CAPABILITIES), so the CSP compresses certificates itself and the files are
//! stored byte for byte. This codec is for the edge's own view of a container (its plain DER
//! certificate and public key) and for writes that do not come from the CSP. OpenSC reads only
//! this form (card-gids.c refuses other first bytes); a plain DER certificate (first byte `30`,
//! as minidrivers that compress on the host store them) is accepted when reading too.
//!
//! The header's length bounds inflation: a hostile stream cannot make the host allocate more
//! than [`MAX_CERTIFICATE_LEN`] bytes or run past what it claims.

use std::io::Write;

use flate2::{Compression, Decompress, FlushDecompress, Status};

use crate::error::{Error, Result};

/// The two bytes that start a compressed certificate (`CERT_COMPRESSED` format version 1).
pub const HEADER: [u8; 2] = [0x01, 0x00];
/// Bytes before the zlib stream.
pub const HEADER_LEN: usize = 4;
/// Largest certificate inflated. Real certificates stay far below it; the format itself allows
/// at most 65535 bytes.
pub const MAX_CERTIFICATE_LEN: usize = 32 * 1024;

/// The DER certificate in a stored certificate file: inflated from the compressed form, or as
/// is when the file holds plain DER.
///
/// # Errors
/// [`Error::Malformed`] for a file shorter than its header, another format, a claimed length
/// above [`MAX_CERTIFICATE_LEN`], a broken or truncated zlib stream, or an inflated length
/// other than the header's.
pub fn decode_stored(stored: &[u8]) -> Result<Vec<u8>> {
    match stored.first() {
        Some(0x30) => Ok(stored.to_vec()),
        _ => decompress(stored),
    }
}

/// Inflates a compressed certificate file.
///
/// # Errors
/// As [`decode_stored`], and for plain DER.
pub fn decompress(stored: &[u8]) -> Result<Vec<u8>> {
    let (header, stream) = stored
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(Error::Malformed { what: "compressed certificate shorter than its header" })?;
    let [v0, v1, l0, l1] = *header;
    if [v0, v1] != HEADER {
        return Err(Error::Malformed { what: "certificate file is not in the 01 00 compressed form" });
    }
    let claimed = usize::from(u16::from_le_bytes([l0, l1]));
    if claimed > MAX_CERTIFICATE_LEN {
        return Err(Error::Malformed { what: "compressed certificate claims more than 32 KiB" });
    }
    // One byte of room beyond the claim tells a longer stream from an exact one.
    let mut out = Vec::with_capacity(claimed + 1);
    let mut inflater = Decompress::new(true);
    let status = inflater
        .decompress_vec(stream, &mut out, FlushDecompress::Finish)
        .map_err(|_| Error::Malformed { what: "compressed certificate is not a valid zlib stream" })?;
    if out.len() > claimed {
        return Err(Error::Malformed { what: "compressed certificate inflates to more than its header says" });
    }
    if status != Status::StreamEnd {
        return Err(Error::Malformed { what: "compressed certificate zlib stream is truncated" });
    }
    if out.len() != claimed {
        return Err(Error::Malformed { what: "compressed certificate inflates to less than its header says" });
    }
    Ok(out)
}

/// The compressed form of a DER certificate, as the Base CSP writes it.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty certificate or one longer than 65535 bytes.
pub fn compress(der: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(der.len()).map_err(|_| Error::InvalidArgument("certificate longer than 65535 bytes"))?;
    if len == 0 {
        return Err(Error::InvalidArgument("empty certificate"));
    }
    let mut out = Vec::with_capacity(HEADER_LEN + der.len());
    out.extend_from_slice(&HEADER);
    out.extend_from_slice(&len.to_le_bytes());
    let mut encoder = flate2::write::ZlibEncoder::new(out, Compression::default());
    let compressed = encoder.write_all(der).and_then(|()| encoder.finish());
    compressed.map_err(|_| Error::Crypto("zlib compression failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::transcript;
    use crate::key::PublicKey;
    use proptest::prelude::*;

    #[test]
    fn recorded_certificate_inflates_to_the_card_key() {
        // GET DATA A010/DF24 with its 61xx chunks (bytes recorded from GidsApplet driven by
        // OpenSC 0.23): 01 00 4E 03 = 846 bytes of DER.
        let stored = transcript::certificate_value();
        assert_eq!(&stored[..4], &[0x01, 0x00, 0x4E, 0x03]);
        let der = decompress(&stored).unwrap();
        assert_eq!(der.len(), 846);
        let from_cert = PublicKey::from_certificate(&der).unwrap();
        let from_card = crate::gids::keyfile::parse_public_key(&transcript::public_key_response()).unwrap();
        assert_eq!(from_cert, from_card);
        assert_eq!(decode_stored(&stored).unwrap(), der);
        assert_eq!(decode_stored(&der).unwrap(), der);
    }

    #[test]
    fn compress_round_trips() {
        let der = test_vectors::certs::PIV_AUTH_9A;
        let stored = compress(der).unwrap();
        assert_eq!(&stored[..2], &HEADER);
        assert_eq!(u16::from_le_bytes([stored[2], stored[3]]) as usize, der.len());
        assert_eq!(decompress(&stored).unwrap(), der);
        assert!(compress(&[]).is_err());
        assert!(compress(&vec![0; 70_000]).is_err());
    }

    #[test]
    fn malformed_certificates() {
        let stored = compress(test_vectors::certs::PIV_AUTH_9A).unwrap();
        let mut claims_more = stored.clone();
        claims_more[2] = claims_more[2].wrapping_add(1);
        let mut claims_less = stored.clone();
        claims_less[2] = claims_less[2].wrapping_sub(1);
        let mut huge = stored.clone();
        huge[2..4].copy_from_slice(&0xFFFFu16.to_le_bytes());
        let mut bad_stream = stored.clone();
        bad_stream[4] ^= 0xFF;
        for (bytes, what) in [
            (&stored[..3], "compressed certificate shorter than its header"),
            (&[0x02, 0x00, 0x01, 0x00, 0x78][..], "certificate file is not in the 01 00 compressed form"),
            (&huge[..], "compressed certificate claims more than 32 KiB"),
            (&bad_stream[..], "compressed certificate is not a valid zlib stream"),
            (&stored[..stored.len() - 10], "compressed certificate zlib stream is truncated"),
            (&claims_more[..], "compressed certificate inflates to less than its header says"),
            (&claims_less[..], "compressed certificate inflates to more than its header says"),
        ] {
            assert_eq!(decompress(bytes), Err(Error::Malformed { what }), "{what}");
        }
        assert!(decode_stored(&[]).is_err());
    }

    proptest! {
        #[test]
        fn decompress_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(out) = decompress(&bytes) {
                prop_assert!(out.len() <= MAX_CERTIFICATE_LEN);
            }
        }

        #[test]
        fn any_data_round_trips(data in proptest::collection::vec(any::<u8>(), 1..3000)) {
            prop_assert_eq!(decompress(&compress(&data).unwrap()).unwrap(), data);
        }
    }
}
