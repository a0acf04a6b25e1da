//! The Windows smart card framework's CardID (seed 002), read with GET DATA `7F68` after
//! selecting the SC Plug and Play AID:
//!
//! ```text
//! CardID ::= SEQUENCE {
//!     version Version DEFAULT v1,          -- must be v1 (0)
//!     vendor  VENDOR,                      -- IA5String (SIZE(0..8)), must be "MSFT"
//!     guids   GUIDS }                      -- SEQUENCE OF OCTET STRING (SIZE(16))
//! ```
//!
//! Parsed with `der`: this object is genuine DER, unlike the BER card data objects.

use der::asn1::{Ia5StringRef, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag};

use crate::error::{Error, Result};

/// The vendor string the seed requires.
pub const VENDOR_MSFT: &str = "MSFT";

/// A validated CardID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardId {
    /// The vendor (always "MSFT" once validated).
    pub vendor: String,
    /// Card/application GUIDs; the first is the device id Plug and Play uses.
    pub guids: Vec<[u8; 16]>,
}

impl CardId {
    /// Parses and validates a CardID. Accepts the bare SEQUENCE or the SEQUENCE wrapped in
    /// the `7F68` tag it was requested with (cards differ).
    ///
    /// # Errors
    /// [`Error::Malformed`] when the DER is malformed, has trailing bytes, the version is not
    /// 0, the vendor is not "MSFT" or longer than 8, a GUID is not 16 bytes, or there is none.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let inner = unwrap_7f68(bytes)?;
        let parsed = decode(inner).map_err(|_| malformed("CardID is not valid DER"))?;
        let (version, vendor, guids) = parsed;
        if version != 0 {
            return Err(malformed("CardID version is not v1 (0)"));
        }
        if vendor.len() > 8 {
            return Err(malformed("CardID vendor longer than 8 characters"));
        }
        if vendor != VENDOR_MSFT {
            return Err(malformed("CardID vendor is not MSFT"));
        }
        if guids.is_empty() {
            return Err(malformed("CardID without a GUID"));
        }
        Ok(Self { vendor, guids })
    }

    /// The device id: the first GUID.
    pub fn device_id(&self) -> [u8; 16] {
        self.guids.first().copied().unwrap_or_default()
    }
}

fn unwrap_7f68(bytes: &[u8]) -> Result<&[u8]> {
    match bytes {
        [0x7F, 0x68, ..] => {
            let tlv = crate::iso7816::tlv::read_single(bytes)?;
            Ok(tlv.value)
        }
        _ => Ok(bytes),
    }
}

type Parts = (u8, String, Vec<[u8; 16]>);

fn decode(bytes: &[u8]) -> der::Result<Parts> {
    let mut reader = SliceReader::new(bytes)?;
    let parts = reader.sequence(|seq: &mut SliceReader<'_>| -> der::Result<Parts> {
        let version = if Tag::peek(seq)? == Tag::Integer { u8::decode(seq)? } else { 0 };
        let vendor = Ia5StringRef::decode(seq)?.as_str().to_owned();
        let guids = seq.sequence(|list: &mut SliceReader<'_>| -> der::Result<Vec<[u8; 16]>> {
            let mut guids = Vec::new();
            while !list.is_finished() {
                let guid = <&OctetStringRef>::decode(list)?;
                let guid: [u8; 16] = guid
                    .as_bytes()
                    .try_into()
                    .map_err(|_| der::Error::from(der::ErrorKind::Length { tag: Tag::OctetString }))?;
                guids.push(guid);
            }
            Ok(guids)
        })?;
        Ok((version, vendor, guids))
    })?;
    reader.finish()?;
    Ok(parts)
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

/// Encodes a CardID (version omitted, as DER requires for a DEFAULT value): used by the
/// simulated cards.
pub fn encode(vendor: &str, guids: &[[u8; 16]]) -> Vec<u8> {
    use crate::iso7816::tlv::{Tag as T, encode as tlv};
    let mut list = Vec::new();
    for g in guids {
        list.extend(tlv(T(0x04), g).unwrap_or_default());
    }
    let mut body = tlv(T(0x16), vendor.as_bytes()).unwrap_or_default();
    body.extend(tlv(T(0x30), &list).unwrap_or_default());
    tlv(T(0x30), &body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let g1 = [0x11; 16];
        let g2 = [0x22; 16];
        let der = encode("MSFT", &[g1, g2]);
        let id = CardId::parse(&der).unwrap();
        assert_eq!(id.guids, vec![g1, g2]);
        assert_eq!(id.device_id(), g1);
        let mut wrapped = vec![0x7F, 0x68, u8::try_from(der.len()).unwrap()];
        wrapped.extend_from_slice(&der);
        assert_eq!(CardId::parse(&wrapped).unwrap(), id);
    }

    #[test]
    fn rejects_wrong_vendor_and_empty_list() {
        assert!(CardId::parse(&encode("ACME", &[[1; 16]])).is_err());
        assert!(CardId::parse(&encode("MSFT", &[])).is_err());
        assert!(CardId::parse(&encode("MSFTMSFTX", &[[1; 16]])).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = CardId::parse(&data);
        }
    }
}
