//! What the card holds, as a CSP learns it through the driver: `mscp/cmapfile` and, for each valid record, `CardGetContainerInfo`'s public keys (parsed
//! from their CAPI and CNG blobs, so that signatures and ciphertexts can be checked against
//! them), its `CCP_PIN_IDENTIFIER`, and the PIN list. Nothing here comes from the card's own
//! view: only from what the driver returns.

use minidriver::abi::{crypt, keyspec, prop};

use crate::csp::Csp;

/// One `CONTAINER_MAP_RECORD` is 86 bytes (Minidriver Specification §5.4.4).
pub(crate) const RECORD_LEN: usize = 86;
/// `bFlags` of a record: `CONTAINER_MAP_VALID_CONTAINER`.
pub(crate) const RECORD_VALID: u8 = 1;
/// `bFlags` of a record: `CONTAINER_MAP_DEFAULT_CONTAINER`.
pub(crate) const RECORD_DEFAULT: u8 = 2;

/// A public key read back through `CardGetContainerInfo`.
#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    /// RSA, from a `PUBLICKEYBLOB`.
    Rsa(rsa::RsaPublicKey),
    /// NIST P-256, from a `BCRYPT_ECCKEY_BLOB`.
    P256(p256::PublicKey),
    /// NIST P-384, from a `BCRYPT_ECCKEY_BLOB`.
    P384(p384::PublicKey),
}

impl PublicKey {
    /// The key's size in bits.
    pub(crate) fn bits(&self) -> u32 {
        use rsa::traits::PublicKeyParts;
        match self {
            Self::Rsa(k) => k.n().bits(),
            Self::P256(_) => 256,
            Self::P384(_) => 384,
        }
    }

    /// Bytes of a signature: the modulus for RSA, `r || s` for ECDSA.
    pub(crate) fn signature_len(&self) -> u32 {
        match self {
            Self::Rsa(_) => self.bits().div_ceil(8),
            Self::P256(_) => 64,
            Self::P384(_) => 96,
        }
    }
}

/// One key of a container: its `dwKeySpec` and public key.
#[derive(Clone, Debug)]
pub(crate) struct ContainerKey {
    /// `AT_KEYEXCHANGE`, `AT_SIGNATURE`, `AT_ECDSA_P*`, `AT_ECDHE_P*`.
    pub(crate) key_spec: u32,
    /// The public key.
    pub(crate) key: PublicKey,
}

/// A valid container of the card.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    /// Its index (its record's position in `cmapfile`).
    pub(crate) index: u8,
    /// Its record's `bFlags`.
    pub(crate) flags: u8,
    /// Its record's `wSigKeySizeBits` and `wKeyExchangeKeySizeBits`.
    pub(crate) record_bits: (u16, u16),
    /// Its keys (the signature slot's first).
    pub(crate) keys: Vec<ContainerKey>,
    /// Its `CCP_PIN_IDENTIFIER`, when the driver answers it.
    pub(crate) pin_id: Option<u32>,
}

/// What the card holds.
#[derive(Clone, Debug)]
pub(crate) struct Survey {
    /// `cmapfile`.
    pub(crate) cmapfile: Vec<u8>,
    /// The valid containers whose keys could be read and parsed.
    pub(crate) containers: Vec<Container>,
    /// Valid records whose container info failed or did not parse: (index, why).
    pub(crate) unreadable: Vec<(u8, String)>,
    /// `CP_CARD_LIST_PINS`, when answered.
    pub(crate) pins: Option<u32>,
}

impl Survey {
    /// Reads the card through `csp`.
    ///
    /// # Errors
    /// `cmapfile` could not be read.
    pub(crate) fn read(csp: &Csp) -> Result<Self, String> {
        let cmapfile = csp.read_file(Some("mscp"), "cmapfile").map_err(|c| format!("mscp/cmapfile: {c}"))?;
        let mut containers = Vec::new();
        let mut unreadable = Vec::new();
        for (i, record) in cmapfile.chunks_exact(RECORD_LEN).enumerate() {
            let Ok(index) = u8::try_from(i) else { break };
            let flags = record.get(80).copied().unwrap_or(0);
            if flags & RECORD_VALID == 0 {
                continue;
            }
            let at = |o: usize| record.get(o..o + 2).and_then(word).unwrap_or(0);
            let record_bits = (at(82), at(84));
            match csp.container_info(index) {
                Err(code) => unreadable.push((index, format!("CardGetContainerInfo: {code}"))),
                Ok((sig, kx)) => match keys_of(&sig, &kx) {
                    Err(why) => unreadable.push((index, why)),
                    Ok(keys) => {
                        let pin_id =
                            csp.get_container_property(index, prop::PIN_IDENTIFIER).ok().and_then(|v| dword(&v));
                        containers.push(Container { index, flags, record_bits, keys, pin_id });
                    }
                },
            }
        }
        let pins = csp.get_property(prop::LIST_PINS, 0).ok().and_then(|v| dword(&v));
        Ok(Self { cmapfile, containers, unreadable, pins })
    }

    /// Every key of every container, with its container.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (&Container, &ContainerKey)> {
        self.containers.iter().flat_map(|c| c.keys.iter().map(move |k| (c, k)))
    }

    /// An index no record of `cmapfile` uses and the driver cannot hold (beyond 255 records
    /// there is no index): the first index past the file's records, or 255.
    pub(crate) fn unused_index(&self) -> u8 {
        u8::try_from(self.cmapfile.len() / RECORD_LEN).unwrap_or(255).max(1).saturating_add(100).max(200)
    }
}

/// A little-endian `WORD` at the start of `v`.
pub(crate) fn word(v: &[u8]) -> Option<u16> {
    v.get(..2).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes)
}

/// A little-endian `DWORD` at the start of `v`.
pub(crate) fn dword(v: &[u8]) -> Option<u32> {
    v.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
}

/// The keys of a `CONTAINER_INFO`'s two blobs.
fn keys_of(sig: &[u8], kx: &[u8]) -> Result<Vec<ContainerKey>, String> {
    let mut keys = Vec::new();
    for (blob, signature_slot) in [(sig, true), (kx, false)] {
        if blob.is_empty() {
            continue;
        }
        keys.push(parse_blob(blob, signature_slot)?);
    }
    if keys.is_empty() {
        return Err("CardGetContainerInfo returned no key".to_owned());
    }
    Ok(keys)
}

/// Parses a `PUBLICKEYBLOB` (§4.6.4: `BLOBHEADER` + `RSAPUBKEY` + little-endian modulus) or a
/// `BCRYPT_ECCKEY_BLOB` (magic, `cbKey`, X, Y).
pub(crate) fn parse_blob(blob: &[u8], signature_slot: bool) -> Result<ContainerKey, String> {
    let word = |at: usize| blob.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if blob.first() == Some(&0x06) {
        let alg = word(4).ok_or("a PUBLICKEYBLOB shorter than its header")?;
        if word(8) != Some(0x3141_5352) {
            return Err("a PUBLICKEYBLOB without the RSA1 magic".to_owned());
        }
        let bits = word(12).ok_or("a PUBLICKEYBLOB without bitlen")?;
        let exponent = word(16).ok_or("a PUBLICKEYBLOB without pubexp")?;
        let len = usize::try_from(bits.div_ceil(8)).map_err(|_| "bitlen")?;
        let modulus = blob.get(20..20 + len).ok_or("a PUBLICKEYBLOB shorter than its bitlen")?;
        let mut be = modulus.to_vec();
        be.reverse();
        let key = rsa::RsaPublicKey::new(rsa::BoxedUint::from_be_slice_vartime(&be), rsa::BoxedUint::from(exponent))
            .map_err(|e| format!("not an RSA public key: {e}"))?;
        let key_spec = match (alg, signature_slot) {
            (crypt::CALG_RSA_SIGN, true) => keyspec::AT_SIGNATURE,
            (crypt::CALG_RSA_KEYX, false) => keyspec::AT_KEYEXCHANGE,
            (a, slot) => {
                return Err(format!(
                    "aiKeyAlg 0x{a:04X} in the {} slot",
                    if slot { "signature" } else { "key exchange" }
                ));
            }
        };
        return Ok(ContainerKey { key_spec, key: PublicKey::Rsa(key) });
    }
    let magic = word(0).ok_or("an empty key blob")?;
    let len = word(4).and_then(|n| usize::try_from(n).ok()).ok_or("a BCRYPT_ECCKEY_BLOB without cbKey")?;
    let xy = blob.get(8..8 + 2 * len).ok_or("a BCRYPT_ECCKEY_BLOB shorter than 2 x cbKey")?;
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(xy);
    let (key_spec, key) = match magic {
        crypt::ECDSA_PUBLIC_P256_MAGIC | crypt::ECDH_PUBLIC_P256_MAGIC => {
            let k = p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| "not a P-256 point")?;
            let spec =
                if magic == crypt::ECDSA_PUBLIC_P256_MAGIC { keyspec::AT_ECDSA_P256 } else { keyspec::AT_ECDHE_P256 };
            (spec, PublicKey::P256(k))
        }
        crypt::ECDSA_PUBLIC_P384_MAGIC | crypt::ECDH_PUBLIC_P384_MAGIC => {
            let k = p384::PublicKey::from_sec1_bytes(&sec1).map_err(|_| "not a P-384 point")?;
            let spec =
                if magic == crypt::ECDSA_PUBLIC_P384_MAGIC { keyspec::AT_ECDSA_P384 } else { keyspec::AT_ECDHE_P384 };
            (spec, PublicKey::P384(k))
        }
        m => return Err(format!("a key blob with the unknown magic 0x{m:08X}")),
    };
    let ecdsa = matches!(key_spec, keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384);
    if ecdsa != signature_slot {
        return Err(format!(
            "an {} key in the {} slot",
            if ecdsa { "ECDSA" } else { "ECDH" },
            if signature_slot { "signature" } else { "key exchange" }
        ));
    }
    Ok(ContainerKey { key_spec, key })
}
