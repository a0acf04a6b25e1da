//! Answer-to-Reset parsing (ISO 7816-3 8.2) and the historical bytes' compact-TLV (ISO 7816-4 8.1.1).
//!
//! Detection uses the historical bytes as the card's identity of last resort, and the APDU
//! session uses the card capabilities to decide whether extended length may be sent.

use crate::error::{Error, Result};

/// Longest ATR ISO 7816-3 allows (TS + 32 bytes).
pub const MAX_ATR_LEN: usize = 33;

/// A parsed ATR. The raw bytes are kept: registries and caches match on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atr {
    raw: Vec<u8>,
    /// Transmission protocols the card offers (`T=0`, `T=1`, `T=15` for global bytes), in ATR order.
    pub protocols: Vec<u8>,
    /// Historical bytes (T1..TK).
    pub historical: Vec<u8>,
    /// The check byte, present whenever a protocol other than T=0 is indicated.
    pub tck: Option<u8>,
}

impl Atr {
    /// Parses an ATR.
    ///
    /// # Errors
    /// [`Error::Malformed`] when TS is not `3B`/`3F`, the ATR is truncated or too long, bytes
    /// follow the end, or the TCK does not check.
    pub fn parse(raw: &[u8]) -> Result<Self> {
        if raw.len() > MAX_ATR_LEN {
            return Err(malformed("ATR longer than 33 bytes"));
        }
        let mut cur = raw.iter().copied();
        match cur.next() {
            Some(0x3B | 0x3F) => {}
            _ => return Err(malformed("ATR TS is neither 3B nor 3F")),
        }
        let t0 = cur.next().ok_or_else(|| malformed("ATR without T0"))?;
        let k = usize::from(t0 & 0x0F);
        let mut y = t0 >> 4;
        let mut protocols = Vec::new();
        let mut needs_tck = false;
        let mut level = 1;
        loop {
            // TA, TB, TC: skipped (their meaning does not matter to a minidriver).
            for bit in [0x1, 0x2, 0x4] {
                if y & bit != 0 {
                    cur.next().ok_or_else(|| malformed("ATR interface bytes truncated"))?;
                }
            }
            if y & 0x8 == 0 {
                break;
            }
            let td = cur.next().ok_or_else(|| malformed("ATR TD truncated"))?;
            let t = td & 0x0F;
            // T=15 in TD2+ announces global interface bytes, not a protocol a card speaks.
            if !protocols.contains(&t) {
                protocols.push(t);
            }
            needs_tck |= t != 0;
            y = td >> 4;
            level += 1;
            if level > 8 {
                return Err(malformed("ATR with too many interface byte groups"));
            }
        }
        if protocols.is_empty() {
            protocols.push(0);
        }
        let historical: Vec<u8> = cur.by_ref().take(k).collect();
        if historical.len() != k {
            return Err(malformed("ATR historical bytes truncated"));
        }
        let tck = if needs_tck {
            let tck = cur.next().ok_or_else(|| malformed("ATR TCK missing"))?;
            let xor = raw.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
            if xor != 0 {
                return Err(malformed("ATR TCK does not check"));
            }
            Some(tck)
        } else {
            None
        };
        if cur.next().is_some() {
            return Err(malformed("bytes after the end of the ATR"));
        }
        Ok(Self { raw: raw.to_vec(), protocols, historical, tck })
    }

    /// The ATR as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The historical bytes decoded as far as ISO 7816-4 defines them.
    pub fn historical_bytes(&self) -> HistoricalBytes {
        HistoricalBytes::parse(&self.historical)
    }

    /// The card capabilities from the historical bytes, if declared.
    pub fn card_capabilities(&self) -> Option<CardCapabilities> {
        self.historical_bytes().card_capabilities()
    }
}

/// Historical bytes, decoded by category indicator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoricalBytes {
    /// Category indicator (first byte): `00`, `80` and `10` are interindustry, the rest proprietary.
    pub category: Option<u8>,
    /// Compact-TLV objects (tag nibble, value), for categories `00` and `80`.
    pub objects: Vec<(u8, Vec<u8>)>,
    /// Status indicator: the last 3 bytes under category `00`, or compact-TLV tag `8`.
    pub status_indicator: Option<Vec<u8>>,
    /// Whether the compact-TLV objects parsed completely.
    pub well_formed: bool,
}

impl HistoricalBytes {
    /// Decodes historical bytes; never fails (proprietary formats are simply not interpreted).
    pub fn parse(bytes: &[u8]) -> Self {
        let mut out =
            Self { category: bytes.first().copied(), objects: Vec::new(), status_indicator: None, well_formed: true };
        let body = match bytes {
            [0x00, rest @ ..] if rest.len() >= 3 => {
                let (objects, status) = rest.split_at(rest.len() - 3);
                out.status_indicator = Some(status.to_vec());
                objects
            }
            [0x80, rest @ ..] => rest,
            [0x00, ..] => {
                out.well_formed = false;
                return out;
            }
            _ => return out,
        };
        let mut rest = body;
        while let Some((&head, tail)) = rest.split_first() {
            let (tag, len) = (head >> 4, usize::from(head & 0x0F));
            if tail.len() < len {
                out.well_formed = false;
                break;
            }
            let (value, tail) = tail.split_at(len);
            if tag == 0x8 && out.status_indicator.is_none() {
                out.status_indicator = Some(value.to_vec());
            }
            out.objects.push((tag, value.to_vec()));
            rest = tail;
        }
        out
    }

    /// The value of compact-TLV tag `tag` (nibble), if present.
    pub fn object(&self, tag: u8) -> Option<&[u8]> {
        self.objects.iter().find(|(t, _)| *t == tag).map(|(_, v)| v.as_slice())
    }

    /// Card capabilities (compact tag `7`).
    pub fn card_capabilities(&self) -> Option<CardCapabilities> {
        self.object(0x7).map(CardCapabilities::from_bytes)
    }

    /// Card service data (compact tag `3`).
    pub fn card_service_data(&self) -> Option<u8> {
        self.object(0x3).and_then(|v| v.first().copied())
    }
}

/// The card capabilities data object (ISO 7816-4 table 117-119): up to three software
/// function tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CardCapabilities {
    /// First table: selection methods.
    pub selection_methods: Option<u8>,
    /// Second table: data coding byte.
    pub data_coding: Option<u8>,
    /// Third table: command chaining, extended length, logical channels.
    pub third: Option<u8>,
}

impl CardCapabilities {
    /// Decodes 0 to 3 bytes of card capabilities (extra bytes are ignored).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut it = bytes.iter().copied();
        Self { selection_methods: it.next(), data_coding: it.next(), third: it.next() }
    }

    /// b8 of the third table: the card accepts command chaining.
    pub fn command_chaining(&self) -> bool {
        self.third.is_some_and(|b| b & 0x80 != 0)
    }

    /// b7 of the third table: the card accepts extended Lc and Le fields.
    pub fn extended_length(&self) -> bool {
        self.third.is_some_and(|b| b & 0x40 != 0)
    }

    /// b6 of the third table: extended length information is in EF.ATR/INFO.
    pub fn extended_length_info_in_ef_atr(&self) -> bool {
        self.third.is_some_and(|b| b & 0x20 != 0)
    }

    /// Selection by full DF name (AID), b8 of the first table.
    pub fn select_by_full_df_name(&self) -> bool {
        self.selection_methods.is_some_and(|b| b & 0x80 != 0)
    }
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    /// YubiKey 5 NFC over CCID (pcsc-tools smartcard_list.txt).
    const YUBIKEY5: [u8; 23] = hex!("3BFD1300008131FE158073C021C057597562694B657940");

    #[test]
    fn yubikey5() {
        let atr = Atr::parse(&YUBIKEY5).unwrap();
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.historical, hex!("8073C021C057597562694B6579"));
        assert_eq!(atr.tck, Some(0x40));
        let caps = atr.card_capabilities().unwrap();
        assert!(caps.command_chaining());
        assert!(caps.extended_length());
        let hb = atr.historical_bytes();
        assert_eq!(hb.object(0x5), Some(&b"YubiKey"[..]));
    }

    #[test]
    fn t0_only_without_historical_bytes() {
        let atr = Atr::parse(&hex!("3B00")).unwrap();
        assert_eq!(atr.protocols, vec![0]);
        assert!(atr.historical.is_empty());
        assert_eq!(atr.tck, None);
        assert_eq!(atr.card_capabilities(), None);
    }

    #[test]
    fn category_00_has_a_status_indicator() {
        let hb = HistoricalBytes::parse(&hex!("00 31 C0 73 C0 01 00 00 90 00"));
        assert_eq!(hb.status_indicator.as_deref(), Some(&hex!("009000")[..]));
        assert_eq!(hb.card_service_data(), Some(0xC0));
        assert!(!hb.card_capabilities().unwrap().extended_length());
    }

    #[test]
    fn rejects_bad_atrs() {
        for bad in [
            &hex!("")[..],
            &hex!("3B"),
            &hex!("3A00"),
            &hex!("3B0201"),
            &hex!("3B8001"),
            &hex!("3B800100"),
            &hex!("3B0000"),
        ] {
            assert!(Atr::parse(bad).is_err(), "{bad:02X?}");
        }
        // A wrong TCK.
        let mut bad = YUBIKEY5;
        bad[22] ^= 1;
        assert!(Atr::parse(&bad).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(atr) = Atr::parse(&raw) {
                prop_assert_eq!(atr.as_bytes(), &raw[..]);
                let _ = atr.historical_bytes();
            }
        }
    }
}
