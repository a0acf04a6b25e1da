//! Provisioning: a factory-new card, or an operational one whose files are what Windows' GIDS
//! minidriver and OpenSC's `card-gids.c` write when they initialise a card and create
//! containers (the Microsoft "electrical profile" for GIDS): the six data object EFs, the
//! administrator key file, the master file `A000/DF1F`, keymap `A000/DF20`, `cardid`
//! `A012/DF20`, `cardapps`/`cardcf`/`cmapfile` `A010/DF21`-`DF23`, one key file per container and
//! compressed certificates in `A010/DF24`... Every derived value (cardid, container GUIDs,
//! generated keys) comes from the builder's seed, so one seed always gives one card.

use std::io::{Read, Write};

use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use zeroize::Zeroizing;

use super::access::LifeCycle;
use super::fs::{Content, Ef, FileSystem};
use super::keys::{self, KeyMaterial, TDES_KEY_LEN};
use super::pin::Pin;
use super::{Applet, GidsSim, Security};
use crate::rng::SimRng;
use crate::{Error, Result, rsa_key, x509};
use card_edges::iso7816::tlv::{self, Tag};

/// The default card's seed (its cardid and container names derive from it).
const DEFAULT_SEED: &[u8] = b"card-edges default simulated GIDS card";
/// The default user PIN and its tries.
const DEFAULT_PIN: &[u8] = b"123456";
const DEFAULT_PIN_TRIES: u8 = 3;
/// The administrator key Windows' TPM virtual smart cards are created with by default.
const DEFAULT_ADMIN_KEY: [u8; TDES_KEY_LEN] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02, 0x03,
    0x04, 0x05, 0x06, 0x07, 0x08,
];
/// Bytes of data objects a card holds unless told otherwise: room for the minidriver files and
/// a dozen certificates, small enough that a host filling it sees `6A 84`.
const DEFAULT_CAPACITY: usize = 32 * 1024;

/// The data object EFs with their FCP (CREATE FILE data), from the GIDS electrical profile:
/// `A000` user create/delete dir, `A010` everyone read / user write, `A011` user write /
/// execute (no read), `A012` everyone read / admin write, `A013` user read/write, `A014` admin
/// read/write. The compact SA's two condition bytes are PUT DATA then GET DATA.
pub(super) const DO_FILES: [(u16, [u8; 14]); 6] = [
    (0xA000, fcp_do(0x00, 0x30, 0x00)),
    (0xA010, fcp_do(0x10, 0x30, 0x00)),
    (0xA011, fcp_do(0x11, 0x30, 0xFF)),
    (0xA012, fcp_do(0x12, 0x20, 0x00)),
    (0xA013, fcp_do(0x13, 0x30, 0x30)),
    (0xA014, fcp_do(0x14, 0x20, 0x20)),
];

const fn fcp_do(fid_lo: u8, put: u8, get: u8) -> [u8; 14] {
    [0x62, 0x0C, 0x82, 0x01, 0x39, 0x83, 0x02, 0xA0, fid_lo, 0x8C, 0x03, 0x03, put, get]
}

/// The administrator key file `B080`: MSE always, PUT KEY admin, GET PUBLIC KEY never; CRT
/// authentication with 3-key 3DES.
pub(super) const ADMIN_KEY_FCP: [u8; 28] = [
    0x62, 0x1A, 0x82, 0x01, 0x18, 0x83, 0x02, 0xB0, 0x80, 0x8C, 0x04, 0x87, 0x00, 0x20, 0xFF, 0xA5, 0x0B, 0xA4, 0x09,
    0x80, 0x01, 0x02, 0x83, 0x01, 0x80, 0x95, 0x01, 0xC0,
];
/// The administrator key's reference.
const ADMIN_KREF: u8 = 0x80;
/// The first container's key reference: container `i` uses `0x81 + i` and key file `B0 || kref`.
const FIRST_KREF: u8 = 0x81;

/// Where things live (GIDS electrical profile, OpenSC `card-gids.h`).
const MASTER_FILE: (u16, u16) = (0xA000, 0xDF1F);
const KEYMAP: (u16, u16) = (0xA000, 0xDF20);
const CARDID: (u16, u16) = (0xA012, 0xDF20);
const CARDAPPS: (u16, u16) = (0xA010, 0xDF21);
const CARDCF: (u16, u16) = (0xA010, 0xDF22);
const CMAPFILE: (u16, u16) = (0xA010, 0xDF23);
/// Certificates go to the first DO of `A010` from `DF21` up that the master file does not use.
const FIRST_FILE_DO: u16 = 0xDF24;

/// Key types of the keymap (`AT_KEYEXCHANGE`, `AT_SIGNATURE`).
const KEYTYPE_EXCHANGE: u8 = 0x9A;
const KEYTYPE_SIGNATURE: u8 = 0x9C;
/// CONTAINER_MAP_RECORD flags.
const CONTAINER_VALID: u8 = 0x01;
const CONTAINER_DEFAULT: u8 = 0x02;

/// Where a container's key comes from.
#[derive(Clone)]
pub enum ContainerKey {
    /// A fixed key: unencrypted PKCS#8 DER (RSA 1024, 2048, 3072 or 4096).
    Fixed(Vec<u8>),
    /// An RSA key of this many bits, generated from the builder's seed.
    Generated(usize),
}

impl core::fmt::Debug for ContainerKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Fixed(..)"),
            Self::Generated(bits) => write!(f, "Generated({bits})"),
        }
    }
}

#[derive(Clone, Debug)]
struct ContainerPlan {
    key: ContainerKey,
    certificate: bool,
    key_exchange: bool,
}

/// Builds a [`GidsSim`].
pub struct GidsSimBuilder {
    seed: Vec<u8>,
    factory_new: bool,
    pin: Zeroizing<Vec<u8>>,
    pin_tries: u8,
    puk: Option<(Zeroizing<Vec<u8>>, u8)>,
    admin_key: Zeroizing<[u8; TDES_KEY_LEN]>,
    containers: Vec<ContainerPlan>,
    capacity: usize,
    cardid: Option<[u8; 16]>,
}

impl core::fmt::Debug for GidsSimBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GidsSimBuilder")
            .field("factory_new", &self.factory_new)
            .field("containers", &self.containers)
            .field("puk", &self.puk.is_some())
            .finish_non_exhaustive()
    }
}

impl GidsSimBuilder {
    /// A builder for an operational card derived from `seed`: no containers yet, user PIN
    /// `123456` with 3 tries, no PUK, the default administrator key.
    pub fn new(seed: &[u8]) -> Self {
        Self {
            seed: seed.to_vec(),
            factory_new: false,
            pin: Zeroizing::new(DEFAULT_PIN.to_vec()),
            pin_tries: DEFAULT_PIN_TRIES,
            puk: None,
            admin_key: Zeroizing::new(DEFAULT_ADMIN_KEY),
            containers: Vec::new(),
            capacity: DEFAULT_CAPACITY,
            cardid: None,
        }
    }

    /// Builds a factory-new card instead (see [`GidsSim::factory_new`]); PIN, PUK, key and
    /// container settings are then ignored.
    #[must_use]
    pub fn factory_new(mut self) -> Self {
        self.factory_new = true;
        self
    }

    /// Sets the user PIN (4 to 16 bytes).
    #[must_use]
    pub fn pin(mut self, pin: &[u8]) -> Self {
        self.pin = Zeroizing::new(pin.to_vec());
        self
    }

    /// Sets the user PIN's try limit (1 to 15).
    #[must_use]
    pub fn pin_tries(mut self, tries: u8) -> Self {
        self.pin_tries = tries;
        self
    }

    /// Gives the card a PUK (4 to 16 bytes) with `tries` tries (1 to 15).
    #[must_use]
    pub fn puk(mut self, puk: &[u8], tries: u8) -> Self {
        self.puk = Some((Zeroizing::new(puk.to_vec()), tries));
        self
    }

    /// Sets the administrator key (3-key 3DES).
    #[must_use]
    pub fn admin_key(mut self, key: [u8; TDES_KEY_LEN]) -> Self {
        self.admin_key = Zeroizing::new(key);
        self
    }

    /// Adds a key-exchange container (the key decrypts and signs; certificate file `kxcNN`),
    /// with a certificate issued by the test-vector CA if `certificate`. The first container
    /// is the default one.
    #[must_use]
    pub fn container(mut self, key: ContainerKey, certificate: bool) -> Self {
        self.containers.push(ContainerPlan { key, certificate, key_exchange: true });
        self
    }

    /// Adds a signature-only container (certificate file `kscNN`).
    #[must_use]
    pub fn signature_container(mut self, key: ContainerKey, certificate: bool) -> Self {
        self.containers.push(ContainerPlan { key, certificate, key_exchange: false });
        self
    }

    /// Sets how many bytes of data objects the card holds (`6A 84` beyond).
    #[must_use]
    pub fn capacity(mut self, bytes: usize) -> Self {
        self.capacity = bytes;
        self
    }

    /// Uses this cardid instead of the one derived from the seed.
    #[must_use]
    pub fn cardid(mut self, cardid: [u8; 16]) -> Self {
        self.cardid = Some(cardid);
        self
    }

    /// Builds the card.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed PIN or PUK, a key that is not RSA
    /// 1024-4096, more than 126 containers or data beyond the capacity; [`Error::Crypto`] if
    /// key generation or certificate signing fails.
    pub fn build(self) -> Result<GidsSim> {
        if self.factory_new {
            return Ok(factory_new_with(self.capacity));
        }
        if self.containers.len() > usize::from(0xFE - FIRST_KREF) + 1 {
            return Err(Error::InvalidArgument("at most 126 containers"));
        }
        let mut fs = FileSystem::new();
        fs.state = LifeCycle::Operational;
        for (fid, fcp) in DO_FILES {
            add_file(&mut fs, fid, &fcp, None)?;
        }
        add_file(
            &mut fs,
            FileSystem::key_fid(ADMIN_KREF),
            &ADMIN_KEY_FCP,
            Some(KeyMaterial::Tdes(self.admin_key.clone())),
        )?;

        let mut certificates = Objects::default();
        let mut masterfile = initial_masterfile();
        let mut cmapfile = Vec::new();
        let mut keymap = vec![0x01];
        let mut next_do = FIRST_FILE_DO;
        for (i, plan) in self.containers.iter().enumerate() {
            let index = u8::try_from(i).map_err(|_| Error::InvalidArgument("too many containers"))?;
            let kref = FIRST_KREF + index;
            let key = match &plan.key {
                ContainerKey::Fixed(pkcs8) => rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
                    .map_err(|_| Error::InvalidArgument("not a PKCS#8 RSA private key"))?,
                ContainerKey::Generated(bits) => {
                    keys::rsa_mechanism(*bits).ok_or(Error::InvalidArgument("RSA size not 1024-4096"))?;
                    rsa_key::generate(*bits, &mut SimRng::from_seed(&self.seed, &[b'k', b'e', b'y', index]))?
                }
            };
            let bits = key.size() * 8;
            let algid = keys::rsa_mechanism(bits).ok_or(Error::InvalidArgument("RSA size not 1024-4096"))?;
            let bits16 = u16::try_from(bits).map_err(|_| Error::InvalidArgument("RSA size"))?;
            let name = container_guid(&self.seed, index);
            let flags = if i == 0 { CONTAINER_VALID | CONTAINER_DEFAULT } else { CONTAINER_VALID };
            let (sig, kx) = if plan.key_exchange { (0, bits16) } else { (bits16, 0) };
            cmapfile.extend_from_slice(&container_record(&name, flags, sig, kx));
            let keytype = if plan.key_exchange { KEYTYPE_EXCHANGE } else { KEYTYPE_SIGNATURE };
            keymap.extend_from_slice(&keymap_record(algid, keytype, kref));
            if plan.certificate {
                let spki = spki_der(&key)?;
                let der = x509::issue(&certificate_subject(index), &spki, certificate_usage(plan.key_exchange))?;
                let file = format!("{}{index:02X}", if plan.key_exchange { "kxc" } else { "ksc" });
                masterfile.extend_from_slice(&masterfile_record(b"mscp", file.as_bytes(), next_do, CMAPFILE.0));
                certificates.push((CMAPFILE.0, next_do), compress_certificate(&der)?);
                next_do += 1;
            }
            let fcp = key_file_fcp(kref, algid, plan.key_exchange);
            add_file(&mut fs, FileSystem::key_fid(kref), &fcp, Some(KeyMaterial::Rsa(Box::new(key))))?;
        }
        let cardid = self.cardid.unwrap_or_else(|| SimRng::from_seed(&self.seed, b"cardid").array());
        // cardcf as OpenSC leaves it after creating the containers: each new key bumps the
        // containers counter once and the files counter twice, each certificate the files
        // counter twice more (GIDS: cardcf is bumped before every change).
        let with_certificate = self.containers.iter().filter(|c| c.certificate).count();
        let containers = u16::try_from(self.containers.len()).unwrap_or(u16::MAX);
        let files = u16::try_from(2 * self.containers.len() + 2 * with_certificate).unwrap_or(u16::MAX);
        let mut cardcf = vec![0x00, 0x00];
        cardcf.extend_from_slice(&containers.to_le_bytes());
        cardcf.extend_from_slice(&files.to_le_bytes());

        // In the order a card is written: initialisation, then the containers.
        let mut objects = Objects::default();
        objects.push(MASTER_FILE, masterfile);
        objects.push(CARDAPPS, b"mscp\0\0\0\0".to_vec());
        objects.push(CARDCF, cardcf);
        objects.push(CMAPFILE, cmapfile);
        objects.push(CARDID, cardid.to_vec());
        if !self.containers.is_empty() {
            objects.push(KEYMAP, keymap);
        }
        objects.apply(&mut fs)?;
        certificates.apply(&mut fs)?;
        if fs.data_bytes() > self.capacity {
            return Err(Error::InvalidArgument("the card's files exceed its capacity"));
        }

        let pin = Pin::new(&self.pin, self.pin_tries).ok_or(Error::InvalidArgument("PIN: 4-16 bytes, 1-15 tries"))?;
        let puk = match &self.puk {
            Some((value, tries)) => {
                Some(Pin::new(value, *tries).ok_or(Error::InvalidArgument("PUK: 4-16 bytes, 1-15 tries"))?)
            }
            None => None,
        };
        let app = Applet {
            selected: false,
            fs,
            pin: Some(pin),
            puk,
            security: Security::default(),
            rng: SimRng::from_os(),
            capacity: self.capacity,
            key_operations: 0,
        };
        Ok(GidsSim::from_applet(app))
    }
}

/// Data objects to write, in order, as `((fi, tag), value)`.
#[derive(Default)]
struct Objects(Vec<((u16, u16), Vec<u8>)>);

impl Objects {
    fn push(&mut self, at: (u16, u16), value: Vec<u8>) {
        self.0.push((at, value));
    }

    fn apply(self, fs: &mut FileSystem) -> Result<()> {
        for ((fi, tag), value) in self.0 {
            let objects = fs.data_mut(fi).ok_or(Error::NotFound("data object EF"))?;
            objects.store(Tag(u32::from(tag)), &value).map_err(|_| Error::InvalidArgument("too many data objects"))?;
        }
        Ok(())
    }
}

/// Adds an activated file from its FCP, with `key` for key files.
fn add_file(fs: &mut FileSystem, fid: u16, fcp: &[u8], key: Option<KeyMaterial>) -> Result<()> {
    let (parsed, mut ef) = Ef::from_fcp(fcp).map_err(|_| Error::InvalidArgument("file control parameters"))?;
    if parsed != fid {
        return Err(Error::InvalidArgument("file identifier"));
    }
    ef.state = LifeCycle::Operational;
    if let (Content::Key(file), Some(key)) = (&mut ef.content, key) {
        file.key = Some(key);
    }
    fs.files.insert(fid, ef);
    Ok(())
}

/// See [`GidsSim::default_card`].
pub(super) fn default_card() -> Result<GidsSim> {
    use test_vectors::keys;
    GidsSimBuilder::new(DEFAULT_SEED)
        .container(ContainerKey::Fixed(keys::RSA_2048_B.to_vec()), true)
        .container(ContainerKey::Fixed(keys::RSA_3072.to_vec()), true)
        .build()
}

/// See [`GidsSim::factory_new`].
pub(super) fn factory_new() -> GidsSim {
    factory_new_with(DEFAULT_CAPACITY)
}

fn factory_new_with(capacity: usize) -> GidsSim {
    GidsSim::from_applet(Applet {
        selected: false,
        fs: FileSystem::new(),
        pin: None,
        puk: None,
        security: Security::default(),
        rng: SimRng::from_os(),
        capacity,
        key_operations: 0,
    })
}

/// The master file GIDS initialisation writes (141 bytes): version `01`, then the records of
/// the `mscp` directory and of `cardid`, `cardapps`, `cardcf` and `mscp\cmapfile`.
pub(super) fn initial_masterfile() -> Vec<u8> {
    let mut out = vec![0x01];
    out.extend_from_slice(&masterfile_record(b"mscp", b"", 0, MASTER_FILE.0));
    out.extend_from_slice(&masterfile_record(b"", b"cardid", CARDID.1, CARDID.0));
    out.extend_from_slice(&masterfile_record(b"", b"cardapps", CARDAPPS.1, CARDAPPS.0));
    out.extend_from_slice(&masterfile_record(b"", b"cardcf", CARDCF.1, CARDCF.0));
    out.extend_from_slice(&masterfile_record(b"mscp", b"cmapfile", CMAPFILE.1, CMAPFILE.0));
    out
}

/// One 28-byte master file record: directory and file name (NUL-padded to 9 bytes each),
/// 2 bytes of padding, the DO tag and the FI as 32-bit little-endian integers.
fn masterfile_record(directory: &[u8], file: &[u8], tag: u16, fi: u16) -> [u8; 28] {
    let mut out = [0u8; 28];
    for (dst, src) in out.iter_mut().zip(directory.iter().take(8)) {
        *dst = *src;
    }
    for (dst, src) in out.iter_mut().skip(9).zip(file.iter().take(8)) {
        *dst = *src;
    }
    for (dst, src) in
        out.iter_mut().skip(20).zip(u32::from(tag).to_le_bytes().iter().chain(&u32::from(fi).to_le_bytes()))
    {
        *dst = *src;
    }
    out
}

/// One 86-byte CONTAINER_MAP_RECORD: the name in UTF-16LE (NUL-padded to 40 characters),
/// flags, a reserved byte, the signature and key-exchange key sizes (little-endian).
fn container_record(name: &str, flags: u8, sig_bits: u16, kx_bits: u16) -> [u8; 86] {
    let mut out = [0u8; 86];
    let units = name.encode_utf16().take(39).flat_map(u16::to_le_bytes);
    for (dst, src) in out.iter_mut().zip(units) {
        *dst = src;
    }
    let tail = [flags, 0].into_iter().chain(sig_bits.to_le_bytes()).chain(kx_bits.to_le_bytes());
    for (dst, src) in out.iter_mut().skip(80).zip(tail) {
        *dst = src;
    }
    out
}

/// One 12-byte keymap record: state 1 (in use, 32-bit LE), the mechanism, the key type, the
/// key file FID (LE), `FFFF`, 2 bytes of padding.
fn keymap_record(algid: u8, keytype: u8, kref: u8) -> [u8; 12] {
    let [lo, hi] = FileSystem::key_fid(kref).to_le_bytes();
    [0x01, 0x00, 0x00, 0x00, algid, keytype, lo, hi, 0xFF, 0xFF, 0x00, 0x00]
}

/// A container name as Windows makes them: a lowercase GUID string, here derived from the seed
/// (version 4 form).
fn container_guid(seed: &[u8], index: u8) -> String {
    let mut g: [u8; 16] = SimRng::from_seed(seed, &[b'g', b'u', b'i', b'd', index]).array();
    if let Some(b) = g.get_mut(6) {
        *b = (*b & 0x0F) | 0x40;
    }
    if let Some(b) = g.get_mut(8) {
        *b = (*b & 0x3F) | 0x80;
    }
    let h = hex::encode(g);
    let part = |r: core::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

fn certificate_subject(index: u8) -> String {
    format!("CN=GIDS Container {index},O=Minidriver Test Vectors")
}

fn certificate_usage(key_exchange: bool) -> KeyUsage {
    if key_exchange {
        KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment)
    } else {
        KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)
    }
}

/// The FCP Windows' GIDS minidriver (and OpenSC) create a container's key file with: FD `18`,
/// FID `B0 || kref`, SA `8F 10 10 10 00` (GENERATE, MSE and PUT KEY need the user PIN, the
/// public key is free), and the CRT list: for a key-exchange key decipher raw, OAEP and PKCS#1
/// v1.5 and sign raw and PKCS#1 v1.5; for a signature key the two signature schemes.
pub(super) fn key_file_fcp(kref: u8, algid: u8, key_exchange: bool) -> Vec<u8> {
    let uses: &[(u8, u8)] = if key_exchange {
        &[(0xB8, 0x00), (0xB8, 0x80), (0xB8, 0x40), (0xB6, 0x10), (0xB6, 0x50)]
    } else {
        &[(0xB6, 0x10), (0xB6, 0x50)]
    };
    let mut crts = Vec::new();
    for (template, scheme) in uses {
        let body = [0x80, 0x01, scheme | algid, 0x83, 0x01, kref, 0x95, 0x01, 0x40];
        // Nine bytes never fail to encode.
        let _ = tlv::write(&mut crts, Tag(u32::from(*template)), &body);
    }
    let mut inner = vec![0x82, 0x01, 0x18, 0x83, 0x02, 0xB0, kref, 0x8C, 0x05, 0x8F, 0x10, 0x10, 0x10, 0x00];
    let _ = tlv::write(&mut inner, Tag(0xA5), &crts);
    tlv::encode(Tag(0x62), &inner).unwrap_or_default()
}

/// The Base CSP's compressed certificate file: `01 00`, the DER length (LE16), zlib(DER).
pub(super) fn compress_certificate(der: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(der.len()).map_err(|_| Error::InvalidArgument("certificate over 64 KiB"))?;
    let mut out = vec![0x01, 0x00];
    out.extend_from_slice(&len.to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
    z.write_all(der).map_err(|_| Error::Crypto("zlib"))?;
    z.finish().map_err(|_| Error::Crypto("zlib"))
}

/// See [`super::decompress_certificate`].
pub(super) fn decompress_certificate(file: &[u8]) -> Option<Vec<u8>> {
    let [0x01, 0x00, lo, hi, zlib @ ..] = file else { return None };
    let len = usize::from(u16::from_le_bytes([*lo, *hi]));
    let mut out = Vec::with_capacity(len);
    // One byte more than announced shows a length mismatch without inflating a bomb.
    let limit = u64::try_from(len).ok()?.checked_add(1)?;
    flate2::read::ZlibDecoder::new(zlib).take(limit).read_to_end(&mut out).ok()?;
    (out.len() == len).then_some(out)
}

/// The SubjectPublicKeyInfo of an RSA key.
fn spki_der(key: &rsa::RsaPrivateKey) -> Result<Vec<u8>> {
    use rsa::pkcs8::EncodePublicKey;
    let doc = key.to_public_key().to_public_key_der().map_err(|_| Error::Crypto("public key encoding"))?;
    Ok(doc.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn the_initial_masterfile_is_the_profile_s() {
        let expected = hex!(
            "016d736370000000000000000000000000000000000000000000a00000
             000000000000000000636172646964000000000020df000012a00000
             000000000000000000636172646170707300000021df000010a00000
             000000000000000000636172646366000000000022df000010a00000
             6d7363700000000000636d617066696c6500000023df000010a00000"
        );
        assert_eq!(initial_masterfile(), expected);
    }

    #[test]
    fn records() {
        assert_eq!(keymap_record(0x07, 0x9A, 0x81), hex!("01000000079A81B0FFFF0000"));
        let r = container_record("GIDS RSA-2048", 0x03, 0, 2048);
        assert_eq!(r[..4], hex!("47004900"));
        assert_eq!(r[80..], hex!("030000000008"));
        let g = container_guid(b"seed", 0);
        assert_eq!(g.len(), 36);
        assert_eq!(g, g.to_lowercase());
        assert_eq!(g.as_bytes()[14], b'4');
        assert_ne!(g, container_guid(b"seed", 1));
    }

    #[test]
    fn key_file_templates_are_opensc_s() {
        let kx = key_file_fcp(0x81, 0x07, true);
        assert_eq!(
            kx,
            hex!(
                "62478201188302B0818C058F10101000A537
                 B809800107830181950140 B809800187830181950140 B809800147830181950140
                 B609800117830181950140 B609800157830181950140"
            )
        );
        let sig = key_file_fcp(0x82, 0x07, false);
        assert_eq!(sig[..2], hex!("6226"));
    }

    #[test]
    fn certificates_round_trip() {
        let der = test_vectors::certs::CA;
        let file = compress_certificate(der).unwrap();
        assert_eq!(file[..2], hex!("0100"));
        assert_eq!(usize::from(u16::from_le_bytes([file[2], file[3]])), der.len());
        assert_eq!(file[4..6], hex!("789C"));
        assert_eq!(decompress_certificate(&file).unwrap(), der);
        let mut wrong = file.clone();
        wrong[2] ^= 1;
        assert!(decompress_certificate(&wrong).is_none());
        assert!(decompress_certificate(&file[1..]).is_none());
    }
}
