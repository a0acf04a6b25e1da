//! Provisioning: a card's keys, certificates and objects, derived deterministically from a
//! seed so that tests and demos get the same card every run and different seeds give
//! different cards (keys, CHUID GUID, serial, certificates).
//!
//! Certificates for provisioned or generated keys are issued by the test-vector CA
//! (`test_vectors::certs::CA`, key `RSA_2048_C`), so hosts can build a chain; their serial
//! numbers derive from the public key, their validity is fixed (2025-2045).

use card_edges::iso7816::tlv::{self, Tag};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use zeroize::Zeroizing;

use super::keys::{KeyAlgorithm, SlotKey};
use super::mgmt::{ManagementKey, MgmtAlgorithm};
use super::objects::{self, Objects};
use super::pin::{Kind, Reference};
use super::{Applet, Origin, PivSim, Security, Slot};
use crate::rng::SimRng;
use crate::{Error, Result};

/// Yubico's ADMIN DATA object and PRINTED, for [`PivSimBuilder::pin_protected_management_key`].
const ADMIN_DATA: u32 = 0x5FFF00;
const PRINTED: u32 = objects::tag::PRINTED_INFORMATION;

/// The default card's seed (its serial and CCC card identifier derive from it).
const DEFAULT_SEED: &[u8] = b"card-edges default simulated PIV card";
/// The default card's CHUID GUID: the card UUID in the 9A test-vector certificate's
/// subjectAltName (`urn:uuid:44a38407-356c-45ca-b037-6bf76cb4cb07`), as FIPS 201 pairs them.
const DEFAULT_GUID: [u8; 16] =
    [0x44, 0xA3, 0x84, 0x07, 0x35, 0x6C, 0x45, 0xCA, 0xB0, 0x37, 0x6B, 0xF7, 0x6C, 0xB4, 0xCB, 0x07];

/// Factory PIN and PUK, and their retry limits (YubiKey defaults).
const DEFAULT_PIN: &[u8] = b"123456";
const DEFAULT_PUK: &[u8] = b"12345678";
const DEFAULT_TRIES: u8 = 3;

/// Where a slot's key comes from.
enum Source {
    Generate(KeyAlgorithm),
    Fixed { pkcs8: Zeroizing<Vec<u8>>, certificate: Option<Vec<u8>> },
}

struct SlotPlan {
    slot: u8,
    source: Source,
    gzip: bool,
}

/// Builds a [`PivSim`]: factory defaults unless told otherwise, every derived value taken
/// from the seed.
pub struct PivSimBuilder {
    seed: Vec<u8>,
    slots: Vec<SlotPlan>,
    pin: Zeroizing<Vec<u8>>,
    puk: Zeroizing<Vec<u8>>,
    pin_tries: u8,
    puk_tries: u8,
    mgmt: Option<(MgmtAlgorithm, Zeroizing<Vec<u8>>)>,
    extended: bool,
    guid: Option<[u8; 16]>,
    serial: Option<u32>,
    objects: Vec<(u32, Vec<u8>)>,
}

impl core::fmt::Debug for PivSimBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let slots: Vec<String> = self.slots.iter().map(|p| format!("{:02X}", p.slot)).collect();
        f.debug_struct("PivSimBuilder").field("slots", &slots).field("extended", &self.extended).finish_non_exhaustive()
    }
}

impl PivSimBuilder {
    /// A builder for a card derived from `seed`: no keys yet, PIN `123456`, PUK `12345678`
    /// (3 tries each), the default 3DES management key, extended length enabled.
    pub fn new(seed: &[u8]) -> Self {
        Self {
            seed: seed.to_vec(),
            slots: Vec::new(),
            pin: Zeroizing::new(DEFAULT_PIN.to_vec()),
            puk: Zeroizing::new(DEFAULT_PUK.to_vec()),
            pin_tries: DEFAULT_TRIES,
            puk_tries: DEFAULT_TRIES,
            mgmt: None,
            extended: true,
            guid: None,
            serial: None,
            objects: Vec::new(),
        }
    }

    /// Puts a key of `alg` derived from the seed into `slot`, with a certificate issued for it.
    #[must_use]
    pub fn generate(mut self, slot: u8, alg: KeyAlgorithm) -> Self {
        self.plan(slot, Source::Generate(alg));
        self
    }

    /// Puts a fixed key (unencrypted PKCS#8 DER) into `slot`, with `certificate` (DER) or, if
    /// `None`, a certificate issued for it.
    #[must_use]
    pub fn key(mut self, slot: u8, pkcs8: &[u8], certificate: Option<&[u8]>) -> Self {
        let source =
            Source::Fixed { pkcs8: Zeroizing::new(pkcs8.to_vec()), certificate: certificate.map(<[u8]>::to_vec) };
        self.plan(slot, source);
        self
    }

    fn plan(&mut self, slot: u8, source: Source) {
        self.slots.retain(|p| p.slot != slot);
        self.slots.push(SlotPlan { slot, source, gzip: false });
    }

    /// Stores `slot`'s certificate gzip-compressed (CertInfo `01`), as large certificates are.
    #[must_use]
    pub fn compress_certificate(mut self, slot: u8) -> Self {
        if let Some(p) = self.slots.iter_mut().find(|p| p.slot == slot) {
            p.gzip = true;
        }
        self
    }

    /// Sets the PIN (6 to 8 digits).
    #[must_use]
    pub fn pin(mut self, pin: &[u8]) -> Self {
        self.pin = Zeroizing::new(pin.to_vec());
        self
    }

    /// Sets the PUK (6 to 8 bytes).
    #[must_use]
    pub fn puk(mut self, puk: &[u8]) -> Self {
        self.puk = Zeroizing::new(puk.to_vec());
        self
    }

    /// Sets the PIN and PUK retry limits (1 to 15).
    #[must_use]
    pub fn retries(mut self, pin: u8, puk: u8) -> Self {
        self.pin_tries = pin;
        self.puk_tries = puk;
        self
    }

    /// Sets the management key.
    #[must_use]
    pub fn management_key(mut self, alg: MgmtAlgorithm, key: &[u8]) -> Self {
        self.mgmt = Some((alg, Zeroizing::new(key.to_vec())));
        self
    }

    /// Sets the management key and stores it PIN-protected, as yubico-piv-tool and ykman do
    /// ("PIN-protected management key"): ADMIN DATA (`5FFF00`) `80 { 81 02 }` and PRINTED
    /// (`5FC109`, readable after VERIFY) `88 { 89 key }`.
    #[must_use]
    pub fn pin_protected_management_key(self, alg: MgmtAlgorithm, key: &[u8]) -> Self {
        let mut printed = Vec::new();
        let mut admin = Vec::new();
        let encoded = tlv::write(&mut printed, Tag(0x89), key)
            .and_then(|()| tlv::encode(Tag(0x88), &printed))
            .and_then(|p| tlv::write(&mut admin, Tag(0x81), &[0x02]).map(|()| p))
            .and_then(|p| tlv::encode(Tag(0x80), &admin).map(|a| (p, a)));
        let this = self.management_key(alg, key);
        match encoded {
            Ok((printed, admin)) => this.object(PRINTED, &printed).object(ADMIN_DATA, &admin),
            Err(_) => this,
        }
    }

    /// Accepts extended-length APDUs (default) or behaves like an older, short-only card.
    #[must_use]
    pub fn extended_length(mut self, on: bool) -> Self {
        self.extended = on;
        self
    }

    /// Uses this CHUID GUID instead of the one derived from the seed.
    #[must_use]
    pub fn guid(mut self, guid: [u8; 16]) -> Self {
        self.guid = Some(guid);
        self
    }

    /// Uses this serial number instead of the one derived from the seed.
    #[must_use]
    pub fn serial(mut self, serial: u32) -> Self {
        self.serial = Some(serial);
        self
    }

    /// Adds (or replaces, or with an empty content removes) a data object.
    #[must_use]
    pub fn object(mut self, tag: u32, content: &[u8]) -> Self {
        self.objects.push((tag, content.to_vec()));
        self
    }

    /// Builds the card.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a slot that is not a key slot, a key that is not RSA
    /// 1024-4096 / P-256 / P-384, a malformed PIN or PUK, or a management key of the wrong
    /// length; [`Error::Crypto`] if key generation or certificate signing fails.
    pub fn build(self) -> Result<PivSim> {
        let guid = self.guid.unwrap_or_else(|| derive_guid(&self.seed));
        let mut objects = Objects::default();
        objects.set(objects::tag::CHUID, objects::chuid(&guid)?);
        let card_id: [u8; 14] = SimRng::from_seed(&self.seed, b"ccc").array();
        objects.set(objects::tag::CCC, objects::ccc(&card_id)?);
        objects.set(objects::tag::DISCOVERY, objects::discovery()?);
        // Hosts look at retired slots 82.. only up to the on-card count of the key history.
        let retired = self.slots.iter().filter(|p| (0x82..=0x95).contains(&p.slot)).map(|p| p.slot - 0x81).max();
        objects.set(objects::tag::KEY_HISTORY, objects::key_history(retired.unwrap_or(0), 0)?);

        let mut keys = std::collections::BTreeMap::new();
        for plan in &self.slots {
            let cert_tag = objects::certificate_tag(plan.slot).ok_or(Error::InvalidArgument("not a key slot"))?;
            let (key, certificate) = match &plan.source {
                Source::Generate(alg) => {
                    let mut rng = SimRng::from_seed(&self.seed, &[b'k', b'e', b'y', plan.slot]);
                    (SlotKey::generate(*alg, &mut rng)?, None)
                }
                Source::Fixed { pkcs8, certificate } => (SlotKey::from_pkcs8(pkcs8)?, certificate.clone()),
            };
            let certificate = match certificate {
                Some(c) => c,
                None => issue_certificate(plan.slot, &key, &guid)?,
            };
            objects.set(cert_tag, objects::certificate_object(&certificate, plan.gzip)?);
            keys.insert(plan.slot, Slot { key, origin: Origin::Imported });
        }
        for (tag, content) in self.objects {
            if content.is_empty() {
                objects.remove(tag);
            } else {
                objects.set(tag, content);
            }
        }

        let pin = Reference::new(Kind::Pin, &self.pin, self.pin_tries, *self.pin == *DEFAULT_PIN)
            .ok_or(Error::InvalidArgument("the PIN must be 6 to 8 digits"))?;
        let puk = Reference::new(Kind::Puk, &self.puk, self.puk_tries, *self.puk == *DEFAULT_PUK)
            .ok_or(Error::InvalidArgument("the PUK must be 6 to 8 bytes"))?;
        let mgmt = match &self.mgmt {
            None => ManagementKey::factory(),
            Some((alg, key)) => ManagementKey::new(*alg, key, false)
                .ok_or(Error::InvalidArgument("management key length does not fit its algorithm"))?,
        };
        let serial = self.serial.unwrap_or_else(|| derive_serial(&self.seed));
        let app =
            Applet { objects, keys, pin, puk, mgmt, security: Security::default(), serial, rng: SimRng::from_os() };
        Ok(PivSim::from_applet(app, self.extended))
    }
}

/// See [`PivSim::default_card`].
pub(super) fn default_card() -> Result<PivSim> {
    use test_vectors::{certs, keys};
    PivSimBuilder::new(DEFAULT_SEED)
        .guid(DEFAULT_GUID)
        .key(0x9A, keys::RSA_2048_A, Some(certs::PIV_AUTH_9A))
        .key(0x9C, keys::P256_A, Some(certs::DIGITAL_SIGNATURE_9C))
        .key(0x9D, keys::RSA_2048_B, Some(certs::KEY_MANAGEMENT_9D))
        .key(0x9E, keys::P256_B, Some(certs::CARD_AUTH_9E))
        .build()
}

/// A random-looking (version 4) GUID from the seed.
fn derive_guid(seed: &[u8]) -> [u8; 16] {
    let mut guid: [u8; 16] = SimRng::from_seed(seed, b"guid").array();
    if let Some(b) = guid.get_mut(6) {
        *b = (*b & 0x0F) | 0x40;
    }
    if let Some(b) = guid.get_mut(8) {
        *b = (*b & 0x3F) | 0x80;
    }
    guid
}

/// An 8-digit serial number from the seed, like YubiKey serials.
fn derive_serial(seed: &[u8]) -> u32 {
    10_000_000 + u32::from_be_bytes(SimRng::from_seed(seed, b"serial").array()) % 90_000_000
}

/// Issues a certificate for `key` in `slot`, signed by the test-vector CA; `guid` (the card's
/// CHUID GUID) names the card in the subject.
pub(super) fn issue_certificate(slot: u8, key: &SlotKey, guid: &[u8; 16]) -> Result<Vec<u8>> {
    let (role, usage) = role(slot, key.algorithm());
    let card = hex::encode_upper(guid.get(..4).unwrap_or_default());
    let subject = format!("CN=Simulated PIV {slot:02X} {card},OU={role},O=Minidriver Simulated Card,C=US");
    crate::x509::issue(&subject, &key.spki_der()?, usage)
}

/// The role name and key usage a slot's certificate gets (what hosts map to key specs).
fn role(slot: u8, alg: KeyAlgorithm) -> (&'static str, KeyUsage) {
    use KeyUsages::{DigitalSignature, KeyAgreement, KeyEncipherment, NonRepudiation};
    match (slot, alg.is_rsa()) {
        (0x9A, true) => ("PIV Authentication", KeyUsage(DigitalSignature | KeyEncipherment)),
        (0x9A, false) => ("PIV Authentication", KeyUsage(DigitalSignature.into())),
        (0x9C, _) => ("Digital Signature", KeyUsage(DigitalSignature | NonRepudiation)),
        (0x9E, _) => ("Card Authentication", KeyUsage(DigitalSignature.into())),
        (0x9D, true) => ("Key Management", KeyUsage(KeyEncipherment.into())),
        (0x9D, false) => ("Key Management", KeyUsage(KeyAgreement.into())),
        (_, true) => ("Retired Key Management", KeyUsage(KeyEncipherment.into())),
        (_, false) => ("Retired Key Management", KeyUsage(KeyAgreement.into())),
    }
}
