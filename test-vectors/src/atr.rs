//! Answers to reset (ATRs) of real PIV and GIDS cards, a few others, and broken ones.
//!
//! Main source: `smartcard_list.txt` of pcsc-tools (Ludovic Rousseau,
//! <https://pcsc-tools.apdu.fr/smartcard_list.txt>; the copy read here is Debian pcsc-tools
//! 1.6.2, `/usr/share/pcsc/smartcard_list.txt`). Each doc comment quotes the description line of
//! that list. Other sources are named where used. Every TCK below was checked (the XOR of T0 up to
//! and including TCK is 0).
//!
//! Facts given for each ATR, per ISO/IEC 7816-3 and 7816-4 section 8:
//! * **Historical bytes**: the K bytes counted by T0's low nibble.
//! * **Protocols**: the T values of TD1, TD2, ... in order. No TD1 means T=0 only. T=15 is not a
//!   protocol (it only introduces global bytes). PC/SC part 3 contactless pseudo-ATRs
//!   (`3B 8n 80 01 ..`) read as T=0 then T=1; the card actually talks T=1 (T=CL).
//! * **TCK**: present when any TD indicates a T other than 0.
//! * **Extended length**: declared when the historical bytes carry a card capabilities data
//!   object (compact-TLV tag 7, `7x`) with 3 bytes whose third byte has bit b7 (`0x40`) set
//!   ("extended Lc and Le fields"); b8 (`0x80`) is command chaining.

use hex_literal::hex;

/// YubiKey 5 NFC over USB (CCID). smartcard_list.txt: "Yubico YubiKey 5 NFC (PKI)".
/// Historical bytes (13): `80 73 C0 21 C0 57 59 75 62 69 4B 65 79` = category 80, card
/// capabilities `73 C0 21 C0`, card issuer's data `57 "YubiKey"`. Protocols: T=1 (TD1=81,
/// TD2=31, IFSC TA3=FE). TCK `40`. Extended length: **declared** (third capability byte `C0`:
/// command chaining and extended Lc/Le). OpenSC (`card-piv.c`, `piv_match_card`) types it as a
/// YubiKey from the issuer data `"YubiKey"`.
pub const YUBIKEY_5_NFC_USB: &[u8] = &hex!("3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40");

/// YubiKey 5 NFC over NFC (PC/SC pseudo-ATR). smartcard_list.txt: "Yubikey 5 NFC (via NFC)
/// (Other)". Historical bytes (13): the same as [`YUBIKEY_5_NFC_USB`]. Protocols: TD1=80 (T=0),
/// TD2=01 (T=1); no TA1. TCK `F9`. Extended length: **declared** (`C0`).
pub const YUBIKEY_5_NFC_CONTACTLESS: &[u8] = &hex!("3B 8D 80 01 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 F9");

/// YubiKey 4. smartcard_list.txt: "Yubico Yubikey 4 OTP+CCID". Historical bytes (8): ASCII
/// `"Yubikey4"` (no category byte, so not compact-TLV). Protocols: T=1. TCK `D4`. Extended
/// length: not declared. OpenSC matches the historical bytes `"Yubikey4"` exactly.
pub const YUBIKEY_4: &[u8] = &hex!("3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4");

/// YubiKey NEO. smartcard_list.txt: "YubiKey NEO (PKI)". Historical bytes (12): ASCII
/// `"YubikeyNEOr3"`. Protocols: T=1. TCK `E1`. Extended length: not declared.
pub const YUBIKEY_NEO: &[u8] = &hex!("3B FC 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 4E 45 4F 72 33 E1");

/// Nitrokey 3C NFC. smartcard_list.txt: "\"Nitrokey 3C NFC\" USB authentication and security
/// token (Other)". Historical bytes (12): `80 5A "Nitrokey 3"` = category 80, card issuer's data
/// (tag 5, 10 bytes). Protocols: T=1 (TD1=01 only; no TA1). TCK `7D`. Extended length: not
/// declared (no card capabilities). OpenSC types a PIV card as Nitrokey from issuer data starting
/// `"Nitrokey"`.
pub const NITROKEY_3: &[u8] = &hex!("3B 8C 01 80 5A 4E 69 74 72 6F 6B 65 79 20 33 7D");

/// NIST test PIV card. smartcard_list.txt: "Test PIV Cards available for sale from NIST".
/// Historical bytes (15): `80 73 CC 91 CB F9 A0 00 00 03 08 00 00 10 00` = category 80, card
/// capabilities `73 CC 91 CB`, application identifier `F9` + the PIV AID
/// `A0 00 00 03 08 00 00 10 00`. Protocols: T=1 (TD1=81, TD2=B1), then TD3=1F (T=15, global
/// TA4=83). TCK `79`. Extended length: **declared** (`CB`: chaining + extended Lc/Le).
pub const NIST_TEST_PIV: &[u8] = &hex!("3B DF 96 00 81 B1 FE 45 1F 83 80 73 CC 91 CB F9 A0 00 00 03 08 00 00 10 00 79");

/// NASA PIV card (IDEMIA Cosmo V8.0). smartcard_list.txt: "NASA Personal Identity Verification
/// (PIV) card (eID)" / "IDEMIA Cosmo V8.0 with a PIV applet". Historical bytes (6):
/// `80 31 C1 52 11 18`. Protocols: T=1, then T=15 (TA4=07). TCK `F9`. Extended length: not
/// declared.
pub const NASA_PIV: &[u8] = &hex!("3B D6 97 00 81 B1 FE 45 1F 07 80 31 C1 52 11 18 F9");

/// US DoD CAC (Oberthur ID-One 128 v5.5 Dual). smartcard_list.txt: "DoD CAC, Oberthur ID One 128
/// v5.5 Dual"; also in OpenSC's `piv_atrs` (`card-piv.c`, "Oberthur Card System (PIV Endpoint)").
/// Historical bytes (11): `00 31 C0 64 B0 F3 10 00 07 90 00` = category 00 (compact-TLV, then a
/// 3-byte status indicator `07 90 00` at the end). Protocols: **T=0 only** (TD1=80), then TD2=1F
/// (T=15, global TA3=03). **TCK present** (`80`) because T=15 is indicated, even though the only
/// protocol is T=0. Extended length: not declared.
pub const DOD_CAC_OBERTHUR: &[u8] = &hex!("3B DB 96 00 80 1F 03 00 31 C0 64 B0 F3 10 00 07 90 00 80");

/// US DoD CAC (Gemalto TOP DL GX4 144K). smartcard_list.txt: "DoD CAC card issued Jan 14, 2010" /
/// "GEMALTO TOP DL GX4 144K"; also in OpenSC's `piv_atrs` ("Gemalto (PIV Endpoint)").
/// Historical bytes (13): `80 31 80 65 B0 83 11 17 D6 83 00 90 00` = category 80, `31 80`,
/// `65 ..` (pre-issuing data), status indicator `83 00 90 00`. Protocols: **T=0 only, implicit**
/// (TA1 TB1 TC1, no TD1). **No TCK.** Extended length: not declared.
pub const DOD_CAC_GEMALTO: &[u8] = &hex!("3B 7D 96 00 00 80 31 80 65 B0 83 11 17 D6 83 00 90 00");

/// ATR of the OpenSC `piv_atrs` entry for ID-One PIV 2.4.1 on Cosmo V8.1 (`card-piv.c`,
/// `SC_CARD_TYPE_PIV_II_800_73_4`), which OpenSC matches with [`ID_ONE_PIV_MASK`]. Historical
/// bytes (6): `80 31 C1 52 41 12`. Protocols: T=1, then T=15 (TA4=87). TCK `23`. Extended length:
/// not declared.
pub const ID_ONE_PIV: &[u8] = &hex!("3B D6 97 00 81 B1 FE 45 1F 87 80 31 C1 52 41 12 23");

/// The mask OpenSC pairs with [`ID_ONE_PIV`]: the last historical byte and TCK are ignored, so
/// any ATR that equals [`ID_ONE_PIV`] after AND-ing both with this mask matches.
pub const ID_ONE_PIV_MASK: &[u8] = &hex!("FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF 00 00");

/// Microsoft TPM virtual smart card (a GIDS card). smartcard_list.txt: "Microsoft Virtual
/// Smartcard Provider shared through VMWare Workstation. (Other)"; the same bytes appear in
/// public code as the ATR of the "Windows Hello for Business virtual device", and (per
/// `shared/research/gids.md`) in the log of OpenSC issue #1128. Historical bytes (13):
/// `80 FB A0 00 00 03 97 42 54 46 59 04 01` = category 80, application identifier (tag F,
/// 11 bytes) = the GIDS AID with version bytes `04 01`.
/// Protocols: T=1 (TD1=01 only). TCK `CF`. Extended length: not declared in the ATR.
pub const MS_VIRTUAL_SMART_CARD: &[u8] = &hex!("3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 04 01 CF");

/// Reference card for GidsApplet (mysmartlogon's GIDS applet), an NXP JCOP21 v2.4.2R3. The ATR is
/// listed as "NXP JCOP21 v2.4.2R3" in the README of crocs-muni/JCAlgTest; the project's GIDS
/// research (`shared/research/gids.md` section 1.4) found it as the ATR of a GidsApplet card
/// driven by Windows. Historical bytes (9): ASCII `"JCOP242R3"`. Protocols: T=1. TCK `A2`.
/// Extended length: not declared (GidsApplet's EF.ATR says no extended length either).
pub const GIDS_APPLET_JCOP: &[u8] = &hex!("3B F9 13 00 00 81 31 FE 45 4A 43 4F 50 32 34 32 52 33 A2");

/// **No historical bytes.** ATR that OpenSC's GIDS CI gives jcardsim running GidsApplet
/// (OpenSC `.github/test-gidsapplet.sh`: `com.licel.jcardsim.card.ATR=3B80800101`).
/// smartcard_list.txt: "ISO 14443 Type B without historical bytes". Historical bytes: none (K=0).
/// Protocols: TD1=80 (T=0), TD2=01 (T=1). TCK `01`. Extended length: not declared. Windows PnP
/// has no historical bytes to build a device ID from, so it falls back to the PIV or GIDS
/// compatible ID, or fails (Microsoft discovery-process.md, steps 5-10).
pub const NO_HISTORICAL_BYTES: &[u8] = &hex!("3B 80 80 01 01");

/// German eID card (nPA), also emulated by vsmartcard (`virtualsmartcard/cards/nPA.py`).
/// smartcard_list.txt: "ePerso - German ID card". Historical bytes (10):
/// `80 31 F8 73 F7 41 E0 82 90 00` = category 80, `31 F8`, card capabilities `73 F7 41 E0`,
/// status indicator `82 90 00`. Protocols: TD1=80 (T=0), TD2=01 (T=1). TCK `75`. Extended length:
/// **declared** (`E0`).
pub const GERMAN_EID: &[u8] = &hex!("3B 8A 80 01 80 31 F8 73 F7 41 E0 82 90 00 75");

/// vsmartcard's default ISO 7816 virtual card (`vicc`, type iso7816). smartcard_list.txt:
/// "vsmartcard - iso7816 (Other)"; also seen in vsmartcard issue #280. Historical bytes (5):
/// `80 73 FF 01 00` = card capabilities **present but third byte `00`**. Protocols: T=1. TCK `0B`.
/// Extended length: **not declared** (the bit is clear).
pub const VSMARTCARD_ISO7816: &[u8] = &hex!("3B 95 13 81 01 80 73 FF 01 00 0B");

/// Schlumberger Cryptoflex. smartcard_list.txt: "Schlumberger Cryptoflex"; also vsmartcard's
/// emulation (`virtualsmartcard/cards/cryptoflex.py`). Historical bytes (2): `49 06`. Protocols:
/// **T=0 only, explicit** (TD1=40, with TC2=20 as the T=0 waiting integer). **No TCK.** Extended
/// length: not declared.
pub const CRYPTOFLEX_T0: &[u8] = &hex!("3B E2 00 00 40 20 49 06");

/// **Malformed (real).** smartcard_list.txt: "Microsoft Virtual Smart Card 0 (PKI)": the same as
/// [`MS_VIRTUAL_SMART_CARD`] without its TCK. TD1=01 indicates T=1, so ISO 7816-3 requires a TCK;
/// a strict parser must reject it. Its 13 historical bytes are complete, so a lenient parser can
/// still recover them.
pub const MS_VIRTUAL_SMART_CARD_NO_TCK: &[u8] = &hex!("3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 04 01");

/// **Malformed (made for this project).** [`YUBIKEY_5_NFC_USB`] cut after 12 bytes: T0 promises
/// 13 historical bytes, only 3 arrive, and no TCK. A parser must reject it.
pub const TRUNCATED: &[u8] = &hex!("3B FD 13 00 00 81 31 FE 15 80 73 C0");

/// **Malformed (made for this project).** [`YUBIKEY_5_NFC_USB`] with TCK `41` instead of `40`.
/// A parser that checks TCK must reject it.
pub const WRONG_TCK: &[u8] = &hex!("3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 41");

/// **Malformed (made for this project).** [`NITROKEY_3`] with TS `3A`, which is neither direct
/// (`3B`) nor inverse (`3F`) convention. A parser must reject it.
pub const INVALID_TS: &[u8] = &hex!("3A 8C 01 80 5A 4E 69 74 72 6F 6B 65 79 20 33 7D");

/// Every ATR as `(name, bytes)`, for loops and fuzz seeds ([`ID_ONE_PIV_MASK`] is not an ATR and
/// is left out).
pub const ALL: &[(&str, &[u8])] = &[
    ("YUBIKEY_5_NFC_USB", YUBIKEY_5_NFC_USB),
    ("YUBIKEY_5_NFC_CONTACTLESS", YUBIKEY_5_NFC_CONTACTLESS),
    ("YUBIKEY_4", YUBIKEY_4),
    ("YUBIKEY_NEO", YUBIKEY_NEO),
    ("NITROKEY_3", NITROKEY_3),
    ("NIST_TEST_PIV", NIST_TEST_PIV),
    ("NASA_PIV", NASA_PIV),
    ("DOD_CAC_OBERTHUR", DOD_CAC_OBERTHUR),
    ("DOD_CAC_GEMALTO", DOD_CAC_GEMALTO),
    ("ID_ONE_PIV", ID_ONE_PIV),
    ("MS_VIRTUAL_SMART_CARD", MS_VIRTUAL_SMART_CARD),
    ("GIDS_APPLET_JCOP", GIDS_APPLET_JCOP),
    ("NO_HISTORICAL_BYTES", NO_HISTORICAL_BYTES),
    ("GERMAN_EID", GERMAN_EID),
    ("VSMARTCARD_ISO7816", VSMARTCARD_ISO7816),
    ("CRYPTOFLEX_T0", CRYPTOFLEX_T0),
    ("MS_VIRTUAL_SMART_CARD_NO_TCK", MS_VIRTUAL_SMART_CARD_NO_TCK),
    ("TRUNCATED", TRUNCATED),
    ("WRONG_TCK", WRONG_TCK),
    ("INVALID_TS", INVALID_TS),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tests read from an ATR.
    #[derive(Debug, PartialEq)]
    struct Atr<'a> {
        historical: &'a [u8],
        /// T of each TD, in order.
        protocols: Vec<u8>,
        tck: Option<u8>,
    }

    /// Minimal ISO 7816-3 walk, strict: TS, lengths, TCK presence and value, nothing left over.
    fn parse(atr: &[u8]) -> Option<Atr<'_>> {
        let (&ts, rest) = atr.split_first()?;
        if ts != 0x3B && ts != 0x3F {
            return None;
        }
        let (&t0, mut rest) = rest.split_first()?;
        let mut y = t0 >> 4;
        let mut protocols = Vec::new();
        loop {
            let count = y.count_ones() as usize;
            let interface = rest.get(..count)?;
            rest = &rest[count..];
            if y & 0x8 == 0 {
                break;
            }
            let td = *interface.last()?;
            protocols.push(td & 0x0F);
            y = td >> 4;
        }
        let k = usize::from(t0 & 0x0F);
        let historical = rest.get(..k)?;
        rest = &rest[k..];
        let tck = if protocols.iter().any(|&t| t != 0) {
            let (&tck, tail) = rest.split_first()?;
            rest = tail;
            let xor = atr[1..].iter().fold(0u8, |acc, b| acc ^ b);
            (xor == 0).then_some(tck)?;
            Some(tck)
        } else {
            None
        };
        rest.is_empty().then_some(Atr { historical, protocols, tck })
    }

    /// Third card-capabilities byte, if the historical bytes are compact-TLV and carry tag 7/len 3.
    fn extended_length_declared(historical: &[u8]) -> bool {
        let mut objects = match historical.first() {
            Some(0x80) => &historical[1..],
            Some(0x00) if historical.len() >= 4 => &historical[1..historical.len() - 3],
            _ => return false,
        };
        while let Some((&tl, rest)) = objects.split_first() {
            let len = usize::from(tl & 0x0F);
            let Some(value) = rest.get(..len) else {
                return false;
            };
            if tl == 0x73 {
                return value[2] & 0x40 != 0;
            }
            objects = &rest[len..];
        }
        false
    }

    #[test]
    fn documented_facts() {
        // (atr, historical bytes, protocols, TCK, extended length declared)
        type Row<'a> = (&'a [u8], &'a [u8], &'a [u8], Option<u8>, bool);
        let table: &[Row<'_>] = &[
            (YUBIKEY_5_NFC_USB, &YUBIKEY_5_NFC_USB[9..22], &[1, 1], Some(0x40), true),
            (YUBIKEY_5_NFC_CONTACTLESS, &YUBIKEY_5_NFC_USB[9..22], &[0, 1], Some(0xF9), true),
            (YUBIKEY_4, b"Yubikey4", &[1, 1], Some(0xD4), false),
            (YUBIKEY_NEO, b"YubikeyNEOr3", &[1, 1], Some(0xE1), false),
            (NITROKEY_3, b"\x80\x5ANitrokey 3", &[1], Some(0x7D), false),
            (NIST_TEST_PIV, &NIST_TEST_PIV[10..25], &[1, 1, 15], Some(0x79), true),
            (NASA_PIV, &hex!("80 31 C1 52 11 18"), &[1, 1, 15], Some(0xF9), false),
            (DOD_CAC_OBERTHUR, &DOD_CAC_OBERTHUR[7..18], &[0, 15], Some(0x80), false),
            (DOD_CAC_GEMALTO, &DOD_CAC_GEMALTO[5..], &[], None, false),
            (ID_ONE_PIV, &hex!("80 31 C1 52 41 12"), &[1, 1, 15], Some(0x23), false),
            (MS_VIRTUAL_SMART_CARD, &MS_VIRTUAL_SMART_CARD[3..16], &[1], Some(0xCF), false),
            (GIDS_APPLET_JCOP, b"JCOP242R3", &[1, 1], Some(0xA2), false),
            (NO_HISTORICAL_BYTES, &[], &[0, 1], Some(0x01), false),
            (GERMAN_EID, &GERMAN_EID[4..14], &[0, 1], Some(0x75), true),
            (VSMARTCARD_ISO7816, &hex!("80 73 FF 01 00"), &[1, 1], Some(0x0B), false),
            (CRYPTOFLEX_T0, &hex!("49 06"), &[0], None, false),
        ];
        for &(atr, historical, protocols, tck, extended) in table {
            let parsed = parse(atr).unwrap_or_else(|| panic!("{atr:02X?}"));
            let expected = Atr { historical, protocols: protocols.to_vec(), tck };
            assert_eq!(parsed, expected, "{atr:02X?}");
            assert_eq!(extended_length_declared(historical), extended, "{atr:02X?}");
            assert!(atr.len() <= 33);
        }
        assert_eq!(&MS_VIRTUAL_SMART_CARD[5..14], &hex!("A0 00 00 03 97 42 54 46 59"));
    }

    #[test]
    fn malformed_are_rejected() {
        for atr in [MS_VIRTUAL_SMART_CARD_NO_TCK, TRUNCATED, WRONG_TCK, INVALID_TS] {
            assert!(parse(atr).is_none(), "{atr:02X?}");
        }
    }

    #[test]
    fn mask_matches_its_atr_only() {
        let masked = |atr: &[u8]| -> Vec<u8> { atr.iter().zip(ID_ONE_PIV_MASK).map(|(a, m)| a & m).collect() };
        assert_eq!(ID_ONE_PIV.len(), ID_ONE_PIV_MASK.len());
        assert_eq!(masked(ID_ONE_PIV), masked(&hex!("3B D6 97 00 81 B1 FE 45 1F 87 80 31 C1 52 41 99 AA")));
        assert_ne!(masked(ID_ONE_PIV), masked(&NASA_PIV[..ID_ONE_PIV.len()]));
    }

    #[test]
    fn all_is_complete() {
        assert_eq!(ALL.len(), 20);
        for (name, atr) in ALL {
            assert!(matches!(atr.first(), Some(0x3B | 0x3F | 0x3A)), "{name}");
        }
    }
}
