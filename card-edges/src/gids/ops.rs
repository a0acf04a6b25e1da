//! Private-key operations and key creation: MANAGE SECURITY ENVIRONMENT + PERFORM SECURITY
//! OPERATION for signatures and decryption, GENERATE ASYMMETRIC KEY PAIR and PUT KEY for new
//! keys, and the key files they need (ISO 7816-4 and -8; GIDS v2.0 key files and mechanisms).
//!
//! Mechanisms follow the container's key size as OpenSC's card-gids.c does: `5x` (the card
//! pads a DigestInfo) for PKCS#1 v1.5 signatures, `1x` (the host's whole block) for PSS and
//! raw signatures. Decryption always uses raw RSA (`0x`) and removes PKCS#1 or OAEP padding on
//! the host in constant time (`crypto::pkcs1`, `crypto::oaep`): the card's own unpadding would
//! be a padding oracle in its status words, and cards differ in which OAEP hashes and labels
//! they take. PSO DECIPHER carries no padding-indicator byte (the Microsoft TPM virtual smart
//! card rejects it; OpenSC issue #1866).
//!
//! Key creation never leaves a dangling container (GidsApplet issue #17): the key file is
//! created and the key generated or imported first, and only then are the keymap and
//! `cmapfile` written; when the key step fails the new key file is deleted again.

use zeroize::Zeroizing;

use super::containers::Container;
use super::edge::{Freshness, GidsEdge, status_error};
use super::keyfile::{self, RsaPrivateParts, key_file_fcp, key_ref, rsa_key_type, scheme};
use crate::crypto::{self, HashAlg};
use crate::error::{Error, Result};
use crate::iso7816::{Command, Status, StatusWord, apdu::ins};
use crate::key::{KeyAlgorithm, KeyRole, PublicKey};
use crate::transport::Transport;

/// INS of MANAGE SECURITY ENVIRONMENT.
const MSE: u8 = 0x22;
/// INS of PERFORM SECURITY OPERATION.
const PSO: u8 = 0x2A;
/// INS of CREATE FILE.
const CREATE_FILE: u8 = 0xE0;
/// INS of ACTIVATE FILE.
const ACTIVATE_FILE: u8 = 0x44;
/// INS of DELETE FILE.
const DELETE_FILE: u8 = 0xE4;

/// How to remove RSA encryption padding after the card's raw decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptPadding<'a> {
    /// Return the raw block (left-padded to the modulus length).
    Raw,
    /// EME-PKCS1-v1_5.
    Pkcs1,
    /// EME-OAEP with MGF1 of the same hash.
    Oaep {
        /// Hash of the label and of MGF1.
        hash_alg: HashAlg,
        /// The label.
        label: &'a [u8],
    },
}

/// The key of a container, as a private-key operation needs it.
#[derive(Clone, Debug)]
struct KeyUse {
    key_ref: u8,
    key_type: u8,
    /// Modulus length in bytes.
    len: usize,
    bits: u16,
    role: KeyRole,
    /// The public key, to check what the card computed.
    public: PublicKey,
}

/// How far a key file creation got, for the rollback.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// An existing key file was deleted to make room.
    replaced: bool,
    /// The new key file exists.
    created: bool,
}

impl<T: Transport> GidsEdge<T> {
    /// The public key in key file `key_ref` (GET DATA `3FFF` with `70 { 84 kref, A5 { 7F49 } }`),
    /// cached; `None` when the key file holds none.
    pub(crate) fn read_public_key(&mut self, key_ref: u8) -> Result<Option<PublicKey>> {
        if let Some(k) = self.cache.public_keys.get(&key_ref) {
            return Ok(k.clone());
        }
        let [p1, p2] = super::edge::APPLICATION.to_be_bytes();
        let cmd =
            Command::new(0x00, ins::GET_DATA_ODD, p1, p2).with_data(keyfile::public_key_query(key_ref)).with_le(256);
        let rsp = self.transmit(&cmd)?;
        let key = match rsp.sw.status() {
            Status::Success => Some(keyfile::parse_public_key(&rsp.data)?),
            Status::NotFound | Status::ReferenceNotFound => None,
            _ => return Err(status_error(rsp.sw)),
        };
        self.cache.public_keys.insert(key_ref, key.clone());
        Ok(key)
    }

    /// The key of container `index`. Uses the containers already known without comparing
    /// `cardcf` again: a stale size only makes the card refuse the mechanism.
    fn key_use(&mut self, index: u8) -> Result<KeyUse> {
        let known: Option<Container> = match self.cached_containers() {
            Some(list) => list.into_iter().find(|c| c.index == index),
            None => self.container(index)?,
        };
        let c = known.ok_or(Error::NotFound("container"))?;
        let KeyAlgorithm::Rsa { bits } = c.public_key.algorithm() else {
            return Err(Error::Unsupported("GIDS keys are RSA"));
        };
        let key_type = rsa_key_type(bits).ok_or(Error::Unsupported("GIDS RSA keys are 1024 to 4096 bits"))?;
        Ok(KeyUse {
            key_ref: c.key_ref,
            key_type,
            len: usize::from(bits).div_ceil(8),
            bits,
            role: c.role,
            public: c.public_key,
        })
    }

    /// MSE SET for computation (`41`) with template `B6` (signature) or `B8` (decipher):
    /// `80 mechanism, 84 key reference`.
    fn set_environment(&mut self, template: u8, mechanism: u8, key_ref: u8) -> Result<()> {
        let data = vec![0x80, 0x01, mechanism, 0x84, 0x01, key_ref];
        self.command(&Command::new(0x00, MSE, 0x41, template).with_data(data))?;
        Ok(())
    }

    /// COMPUTE DIGITAL SIGNATURE of `input`; `block` is what the signature must give back under
    /// the public key (the card's padding of `input` for `5x`, `input` itself for `1x`), checked
    /// before the signature is returned.
    fn signature(&mut self, key: &KeyUse, mechanism: u8, input: &[u8], block: &[u8]) -> Result<Vec<u8>> {
        self.set_environment(0xB6, mechanism | key.key_type, key.key_ref)?;
        let out = self.command(&Command::new(0x00, PSO, 0x9E, 0x9A).with_data(input.to_vec()).with_le(256))?;
        if out.len() != key.len {
            return Err(Error::Malformed { what: "RSA signature of the wrong length" });
        }
        crypto::check::rsa_private_result(&key.public, block, &out)?;
        Ok(out)
    }

    /// RSA PKCS#1 v1.5 signature over `hash`: the DigestInfo of `hash_alg` (the bare 36 bytes
    /// for [`HashAlg::Md5Sha1`]) goes to the card, which pads (mechanism `5x`). With no hash
    /// algorithm (`None`: the caller's own value, a DigestInfo or not) the host pads
    /// (EMSA-PKCS1-v1_5, RFC 8017 §9.2) and the card signs the block raw (mechanism `1x`), as
    /// for PSS: GIDS cards may take only a DigestInfo (or MD5 || SHA-1) for `5x`. Big-endian.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a hash of the wrong length or too long for the key;
    /// [`Error::SecurityStatusNotSatisfied`] without the PIN; [`Error::NotFound`] for an empty
    /// container.
    pub fn sign_pkcs1(&mut self, index: u8, hash_alg: Option<HashAlg>, hash: &[u8]) -> Result<Vec<u8>> {
        let key = self.key_use(index)?;
        let prefix = match hash_alg {
            Some(alg) if hash.len() != alg.output_len() => {
                return Err(Error::InvalidArgument("hash length does not match the hash algorithm"));
            }
            Some(alg) => alg.digest_info_prefix().unwrap_or_default(),
            None if hash.is_empty() => return Err(Error::InvalidArgument("empty hash")),
            None => {
                if hash.len() + 11 > key.len {
                    return Err(Error::InvalidArgument("hash too long for the key"));
                }
                let block = crypto::pkcs1::encode_sign(None, hash, key.len)?;
                return self.signature(&key, scheme::SIGN_RAW, &block, &block);
            }
        };
        let mut input = Vec::with_capacity(prefix.len() + hash.len());
        input.extend_from_slice(prefix);
        input.extend_from_slice(hash);
        if input.len() + 11 > key.len {
            return Err(Error::InvalidArgument("hash too long for the key"));
        }
        // EMSA-PKCS1-v1_5 of what the card was given, as the card pads it (RFC 8017 §9.2).
        let block = crypto::pkcs1::encode_sign(None, &input, key.len)?;
        self.signature(&key, scheme::SIGN_PKCS1, &input, &block)
    }

    /// RSA-PSS signature over `hash` (MGF1 with the same hash, `salt_len` random bytes): the
    /// host builds the block, the card signs it raw (mechanism `1x`).
    ///
    /// # Errors
    /// As [`GidsEdge::sign_pkcs1`].
    pub fn sign_pss(&mut self, index: u8, hash_alg: HashAlg, hash: &[u8], salt_len: usize) -> Result<Vec<u8>> {
        let key = self.key_use(index)?;
        let block = crypto::pss::encode(hash_alg, hash, salt_len, usize::from(key.bits))?;
        let block = left_pad(&block, key.len)?;
        self.signature(&key, scheme::SIGN_RAW, &block, &block)
    }

    /// Raw RSA signature of a caller-formatted `block` (left-padded with zeros to the
    /// modulus length; mechanism `1x`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a block longer than the modulus; as
    /// [`GidsEdge::sign_pkcs1`].
    pub fn sign_raw(&mut self, index: u8, block: &[u8]) -> Result<Vec<u8>> {
        let key = self.key_use(index)?;
        if block.len() > key.len {
            return Err(Error::InvalidArgument("block longer than the modulus"));
        }
        let block = left_pad(block, key.len)?;
        self.signature(&key, scheme::SIGN_RAW, &block, &block)
    }

    /// RSA decryption of a big-endian `ciphertext` (left-padded to the modulus length): raw on
    /// the card, padding removed on the host.
    ///
    /// # Errors
    /// [`Error::Crypto`] (one error for every padding fault) for a bad padding;
    /// [`Error::InvalidArgument`] for a ciphertext longer than the modulus or a signature-only
    /// key; [`Error::SecurityStatusNotSatisfied`] without the PIN.
    pub fn decrypt(
        &mut self,
        index: u8,
        ciphertext: &[u8],
        padding: &DecryptPadding<'_>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.key_use(index)?;
        if key.role == KeyRole::Signature {
            return Err(Error::InvalidArgument("a signature key cannot decrypt"));
        }
        if ciphertext.len() > key.len {
            return Err(Error::InvalidArgument("ciphertext longer than the modulus"));
        }
        let input = left_pad(ciphertext, key.len)?;
        self.set_environment(0xB8, scheme::DECIPHER_RAW | key.key_type, key.key_ref)?;
        // No padding-indicator byte; chained in the parts the session allows.
        let cmd = Command::new(0x00, PSO, 0x80, 0x86).with_data(input.to_vec()).with_le(256).with_secret_response();
        let rsp = self.transmit(&cmd)?;
        let block = Zeroizing::new(rsp.data);
        if !rsp.sw.is_success() {
            return Err(status_error(rsp.sw));
        }
        if block.len() != key.len {
            return Err(Error::Malformed { what: "RSA plaintext block of the wrong length" });
        }
        // The recovered block must encrypt back to the ciphertext: a corrupted plaintext is
        // never unpadded, let alone returned.
        crypto::check::rsa_private_result(&key.public, &input, &block)?;
        match padding {
            DecryptPadding::Raw => left_pad(&block, key.len),
            DecryptPadding::Pkcs1 => crypto::pkcs1::decode_encryption_block(&block, key.len),
            DecryptPadding::Oaep { hash_alg, label } => crypto::oaep::decode(&block, key.len, *hash_alg, label),
        }
    }

    /// Generates an RSA key in container `index` on the card, in the key file templates of
    /// the GIDS electrical profile, and records it in the keymap and `cmapfile`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for non-RSA keys or sizes other than 1024/2048/3072/4096;
    /// [`Error::SecurityStatusNotSatisfied`] without the PIN; `OutOfSpace` (`6A 84`).
    pub fn generate_key(&mut self, index: u8, algorithm: KeyAlgorithm, role: KeyRole) -> Result<PublicKey> {
        let KeyAlgorithm::Rsa { bits } = algorithm else {
            return Err(Error::Unsupported("GIDS keys are RSA"));
        };
        let key_type = rsa_key_type(bits).ok_or(Error::Unsupported("GIDS RSA keys are 1024 to 4096 bits"))?;
        let kref = key_ref(index).ok_or(Error::InvalidArgument("GIDS has 126 containers"))?;
        self.create_key(index, kref, key_type, role, |edge| edge.generate(kref, key_type, bits))
    }

    /// Imports an RSA key into container `index` (PUT KEY, command-chained; the key bytes are
    /// never logged) and records it in the keymap and `cmapfile`.
    ///
    /// # Errors
    /// As [`GidsEdge::generate_key`]; [`Error::Malformed`] for components no RSA key has.
    pub fn import_key(&mut self, index: u8, key: &RsaPrivateParts, role: KeyRole) -> Result<()> {
        let bits = u16::try_from(key.bits()).map_err(|_| Error::Unsupported("GIDS RSA keys are 1024 to 4096 bits"))?;
        let key_type = rsa_key_type(bits).ok_or(Error::Unsupported("GIDS RSA keys are 1024 to 4096 bits"))?;
        let kref = key_ref(index).ok_or(Error::InvalidArgument("GIDS has 126 containers"))?;
        let public = key.public_key()?;
        let data = keyfile::import_data(kref, key)?;
        self.create_key(index, kref, key_type, role, |edge| {
            let [p1, p2] = super::edge::APPLICATION.to_be_bytes();
            edge.command(&Command::new(0x00, ins::PUT_DATA_ODD, p1, p2).with_secret(data.to_vec()))?;
            Ok(public.clone())
        })?;
        Ok(())
    }

    /// The common path of key creation: containers counter, key file, `key_step`, then the
    /// metadata; a failed key step deletes the new key file and leaves the metadata alone
    /// (unless an existing key was replaced, whose records then lose their size).
    fn create_key(
        &mut self,
        index: u8,
        kref: u8,
        key_type: u8,
        role: KeyRole,
        key_step: impl FnOnce(&mut Self) -> Result<PublicKey>,
    ) -> Result<PublicKey> {
        let md = self.metadata()?;
        self.bump(Freshness::Containers)?;
        let mut progress = Progress::default();
        let outcome = self.create_key_file(kref, key_type, role, &mut progress).and_then(|()| key_step(self));
        match outcome {
            Ok(key) => {
                self.commit_container(md, index, role, &key)?;
                Ok(key)
            }
            Err(e) => {
                tracing::debug!(target: "gids", error = %e, "key creation failed: rolling back");
                if progress.created
                    && let Err(rollback) = self.delete_key_file(kref)
                {
                    tracing::debug!(target: "gids", error = %rollback, "rollback of the key file failed");
                }
                if progress.replaced && md.holds_key(index) {
                    self.cache.public_keys.remove(&kref);
                    let _ = self.uncommit_container(md, index, false);
                }
                Err(e)
            }
        }
    }

    /// GENERATE ASYMMETRIC KEY PAIR (case 3, as OpenSC sends it), then the new public key from
    /// the answer when the card gave one, else from the key file.
    fn generate(&mut self, kref: u8, key_type: u8, bits: u16) -> Result<PublicKey> {
        let cmd = Command::new(0x00, ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, 0x00)
            .with_data(keyfile::generate_data(kref, key_type)?);
        let answer = self.command(&cmd)?;
        self.cache.public_keys.remove(&kref);
        let key =
            if crate::iso7816::tlv::Reader::new(&answer).find(crate::iso7816::Tag(0x7F49)).ok().flatten().is_some() {
                keyfile::parse_public_key(&answer)?
            } else {
                self.read_public_key(kref)?.ok_or(Error::Malformed { what: "no public key after GENERATE" })?
            };
        if key.algorithm() != (KeyAlgorithm::Rsa { bits }) {
            return Err(Error::Malformed { what: "generated key is not of the requested size" });
        }
        self.cache.public_keys.insert(kref, Some(key.clone()));
        Ok(key)
    }

    /// CREATE FILE + ACTIVATE FILE of the key file; an existing one (`6A 89`) is deleted first.
    fn create_key_file(&mut self, kref: u8, key_type: u8, role: KeyRole, progress: &mut Progress) -> Result<()> {
        let create = Command::new(0x00, CREATE_FILE, 0x00, 0x00).with_data(key_file_fcp(kref, key_type, role)?);
        let rsp = self.transmit(&create)?;
        if rsp.sw == StatusWord::FILE_EXISTS {
            progress.replaced = self.delete_key_file(kref)?;
            self.command(&create)?;
        } else if !rsp.sw.is_success() {
            return Err(status_error(rsp.sw));
        }
        progress.created = true;
        // The new file is the current EF: activate it before anything else is selected.
        self.command(&Command::new(0x00, ACTIVATE_FILE, 0x00, 0x00))?;
        Ok(())
    }

    /// SELECT of key file `kref` by file identifier, no answer data; false when absent.
    fn select_key_file(&mut self, kref: u8) -> Result<bool> {
        let fid = keyfile::key_file_id(kref).to_be_bytes().to_vec();
        let rsp = self.transmit(&Command::new(0x00, ins::SELECT, 0x00, 0x0C).with_data(fid))?;
        match rsp.sw.status() {
            Status::Success => Ok(true),
            Status::NotFound => Ok(false),
            _ => Err(status_error(rsp.sw)),
        }
    }

    /// Whether key file `kref` exists.
    pub(crate) fn key_file_exists(&mut self, kref: u8) -> Result<bool> {
        self.select_key_file(kref)
    }

    /// Deletes key file `kref` (SELECT then DELETE FILE of the current EF, back to back: a
    /// GET or PUT DATA in between would make its EF the current one). False when absent.
    ///
    /// A key file still in its creation state (an interrupted key creation: CREATE FILE acted,
    /// ACTIVATE FILE never came) refuses DELETE FILE with `69 85`, conditions of use not
    /// satisfied: it is activated (it is the current EF) and deleted then (ISO 7816-9 life
    /// cycle: creation, then operational).
    pub(crate) fn delete_key_file(&mut self, kref: u8) -> Result<bool> {
        if !self.select_key_file(kref)? {
            return Ok(false);
        }
        let delete = Command::new(0x00, DELETE_FILE, 0x00, 0x00);
        let rsp = self.transmit(&delete)?;
        if rsp.sw == StatusWord::CONDITIONS_NOT_SATISFIED {
            self.command(&Command::new(0x00, ACTIVATE_FILE, 0x00, 0x00))?;
            self.command(&delete)?;
        } else if !rsp.sw.is_success() {
            return Err(status_error(rsp.sw));
        }
        self.cache.public_keys.insert(kref, None);
        Ok(true)
    }
}

/// `value` as a big-endian number of exactly `len` bytes.
fn left_pad(value: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    let significant = value.get(start..).unwrap_or_default();
    if significant.len() > len {
        return Err(Error::Malformed { what: "RSA value longer than the modulus" });
    }
    let mut out = Zeroizing::new(vec![0u8; len - significant.len()]);
    out.extend_from_slice(significant);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gids::testcard::Script;
    use crate::gids::transcript as t;
    use crate::transport::memory::MemoryCard;

    /// An edge that has listed the recorded card (9 APDUs, checked by the containers tests).
    fn listed() -> (Script, GidsEdge<MemoryCard>) {
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000010004009000");
        script.expect(t::MASTER_FILE_COMMAND, t::MASTER_FILE_RESPONSE);
        script.expect(t::CMAPFILE_COMMAND, t::CMAPFILE_RESPONSE);
        script.expect(t::CERTIFICATE_COMMAND, t::CERTIFICATE_RESPONSE_1);
        script.expect(t::CERTIFICATE_GET_RESPONSE_2, t::CERTIFICATE_RESPONSE_2);
        script.expect(t::CERTIFICATE_GET_RESPONSE_3, t::CERTIFICATE_RESPONSE_3);
        script.expect(t::CERTIFICATE_GET_RESPONSE_4, t::CERTIFICATE_RESPONSE_4);
        assert_eq!(edge.containers().unwrap().len(), 1);
        script.done();
        (script, edge)
    }

    #[test]
    fn pin_and_sign_is_three_apdus() {
        // VERIFY, MSE and PSO of `pkcs11-tool --sign --mechanism SHA256-RSA-PKCS`, and the
        // card's signature (bytes recorded from GidsApplet driven by OpenSC 0.23).
        let (script, mut edge) = listed();
        script.expect(t::VERIFY_COMMAND, "9000");
        script.expect(t::MSE_SIGN_COMMAND, "9000");
        script.expect(t::SIGN_COMMAND, t::SIGN_RESPONSE);
        edge.verify_pin(b"123456").unwrap();
        let sign = t::bytes(t::SIGN_COMMAND);
        let hash = &sign[sign.len() - 33..sign.len() - 1];
        let signature = edge.sign_pkcs1(0, Some(HashAlg::Sha256), hash).unwrap();
        assert_eq!(script.done(), 3);
        assert_eq!(signature, t::data(t::SIGN_RESPONSE));
        let key = edge.container(0).unwrap().unwrap().public_key;
        let rsa = crypto::public_key_from_spki(key.spki()).unwrap();
        crypto::verify_pkcs1(&rsa, Some(HashAlg::Sha256), hash, &signature).unwrap();
        assert!(edge.auth_state().user);
    }

    /// The commands each signing input makes; the scripted answers are not signatures of this
    /// card's key, so each is refused after it arrived (what a corrupted answer gets).
    #[test]
    fn signing_inputs() {
        let (script, mut edge) = listed();
        let wrong = Error::Malformed { what: "the card's result does not verify with the key's public key" };
        // SSL3 MD5+SHA-1: 36 bytes without a DigestInfo.
        script.expect("002241B606800157840181", "9000");
        let mut pso = hex::decode("002A9E9A24").unwrap();
        pso.extend_from_slice(&[0x11; 36]);
        pso.push(0);
        script.expect_bytes(&pso, &[0xAA; 258][..256].iter().chain(&[0x90, 0x00]).copied().collect::<Vec<_>>());
        assert_eq!(edge.sign_pkcs1(0, Some(HashAlg::Md5Sha1), &[0x11; 36]), Err(wrong.clone()));
        // Raw: the block is left-padded to 256 bytes (so chained) and signed with mechanism 17.
        script.expect("002241B606800117840181", "9000");
        let mut first = hex::decode("102A9E9AFF").unwrap();
        first.extend_from_slice(&[0; 254]);
        first.push(1);
        script.expect_bytes(&first, &[0x90, 0x00]);
        let answer: Vec<u8> = [0xBB; 256].iter().chain(&[0x90, 0x00]).copied().collect();
        script.expect_bytes(&hex::decode("002A9E9A010200").unwrap(), &answer);
        assert_eq!(edge.sign_raw(0, &[1, 2]), Err(wrong));
        // A signature shorter than the modulus is malformed as such.
        script.expect("002241B606800117840181", "9000");
        script.expect_bytes(&first, &[0x90, 0x00]);
        let short: Vec<u8> = [0xBB; 255].iter().chain(&[0x90, 0x00]).copied().collect();
        script.expect_bytes(&hex::decode("002A9E9A010200").unwrap(), &short);
        assert_eq!(edge.sign_raw(0, &[1, 2]), Err(Error::Malformed { what: "RSA signature of the wrong length" }));
        script.done();
        assert!(matches!(edge.sign_pkcs1(0, Some(HashAlg::Sha256), &[0; 20]), Err(Error::InvalidArgument(_))));
        assert!(matches!(edge.sign_raw(0, &[1; 257]), Err(Error::InvalidArgument(_))));
        assert!(matches!(edge.sign_pkcs1(1, None, &[1; 20]), Err(Error::NotFound(_))));
        assert_eq!(script.done(), 0);
    }

    /// Decipher is MSE + PSO chained in 255-byte parts with no padding-indicator byte. The
    /// scripted plaintext is not this key's decryption of the ciphertext, so it is refused
    /// before any unpadding (the round trip on a real key is in the simulated-card tests).
    #[test]
    fn decrypt_chains_without_padding_indicator() {
        let (script, mut edge) = listed();
        let wrong = Error::Malformed { what: "the card's result does not verify with the key's public key" };
        let ciphertext: Vec<u8> = (0..=255u8).collect();
        let mut block = vec![0x00, 0x02];
        block.extend_from_slice(&[0x5A; 200]);
        block.push(0);
        block.extend_from_slice(&[0x42; 53]);
        let mut first = hex::decode("102A8086FF").unwrap();
        first.extend_from_slice(&ciphertext[..255]);
        let mut rsp = block.clone();
        rsp.extend_from_slice(&[0x90, 0x00]);
        for padding in [DecryptPadding::Pkcs1, DecryptPadding::Raw] {
            script.expect("002241B806800107840181", "9000");
            script.expect_bytes(&first, &[0x90, 0x00]);
            script.expect_bytes(&hex::decode("002A808601FF00").unwrap(), &rsp);
            assert_eq!(edge.decrypt(0, &ciphertext, &padding), Err(wrong.clone()));
            assert_eq!(script.done(), 3);
        }
        // A plaintext block of the wrong length.
        script.expect("002241B806800107840181", "9000");
        script.expect_bytes(&first, &[0x90, 0x00]);
        script.expect_bytes(&hex::decode("002A808601FF00").unwrap(), &rsp[1..]);
        assert_eq!(
            edge.decrypt(0, &ciphertext, &DecryptPadding::Raw),
            Err(Error::Malformed { what: "RSA plaintext block of the wrong length" })
        );
        assert!(matches!(edge.decrypt(0, &[1; 257], &DecryptPadding::Raw), Err(Error::InvalidArgument(_))));
    }

    /// The commands of a chained case 3 command (255-byte parts, CLA 10 on all but the last).
    fn chained(header: [u8; 4], data: &[u8]) -> Vec<Vec<u8>> {
        let parts: Vec<&[u8]> = data.chunks(255).collect();
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut cmd = header.to_vec();
                if i + 1 < parts.len() {
                    cmd[0] |= 0x10;
                }
                cmd.push(u8::try_from(part.len()).unwrap());
                cmd.extend_from_slice(part);
                cmd
            })
            .collect()
    }

    /// A PUT DATA of `value` into (`fi`, `tag`).
    fn put(fi: u16, tag: u16, value: &[u8]) -> Vec<Vec<u8>> {
        let data = crate::iso7816::tlv::encode(crate::iso7816::Tag(u32::from(tag)), value).unwrap();
        let [f0, f1] = fi.to_be_bytes();
        chained([0x00, 0xDB, f0, f1], &data)
    }

    fn expect_all(script: &Script, commands: Vec<Vec<u8>>) {
        for c in commands {
            script.expect_bytes(&c, &[0x90, 0x00]);
        }
    }

    /// A freshly initialised card (the recorded one before `--keypairgen`): cardcf zero,
    /// initial master file, `cmapfile` as given, no keymap.
    fn initialised(cmapfile: &[u8]) -> (Script, GidsEdge<MemoryCard>) {
        let (script, edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000000000009000");
        script.expect(t::MASTER_FILE_COMMAND, t::INITIAL_MASTER_FILE_RESPONSE);
        let mut answer = crate::iso7816::tlv::encode(crate::iso7816::Tag(0xDF23), cmapfile).unwrap();
        answer.extend_from_slice(&[0x90, 0x00]);
        script.expect_bytes(&t::bytes(t::CMAPFILE_COMMAND), &answer);
        script.expect("00CBA000045C02DF2000", "6A88");
        (script, edge)
    }

    /// The CSP's reservation of container 0: "GIDS RSA-2048", valid, no key yet.
    fn reserved() -> Vec<u8> {
        vfs::cmapfile::ContainerRecord::new("GIDS RSA-2048", 0x01, 0, 0).unwrap().encode().to_vec()
    }

    /// Key generation: containers counter, key file (recorded template), GENERATE with its
    /// public key in 61xx parts, keymap and, after the files counter, `cmapfile` (both the
    /// bytes OpenSC wrote for this key; recorded from GidsApplet driven by OpenSC 0.23). Then
    /// the certificate in OpenSC's order, each write after its counter.
    #[test]
    fn key_generation_then_certificate() {
        let (script, mut edge) = initialised(&reserved());
        script.expect("00DBA01009DF2206000001000000", "9000");
        script.expect(t::CREATE_EXCHANGE_KEY_FILE_COMMAND, "9000");
        script.expect("00440000", "9000");
        script.expect(t::GENERATE_COMMAND, "6100");
        script.expect("00C0000000", t::PUBLIC_KEY_RESPONSE_1);
        script.expect(t::PUBLIC_KEY_GET_RESPONSE, t::PUBLIC_KEY_RESPONSE_2);
        script.expect(t::KEYMAP_PUT_COMMAND, "9000");
        script.expect("00DBA01009DF2206000001000100", "9000");
        script.expect(t::CMAPFILE_PUT_COMMAND, "9000");
        let key = edge.generate_key(0, KeyAlgorithm::Rsa { bits: 2048 }, KeyRole::Exchange).unwrap();
        assert_eq!(script.done(), 14);
        assert_eq!(key, keyfile::parse_public_key(&t::public_key_response()).unwrap());
        let c = edge.container(0).unwrap().unwrap();
        assert_eq!((c.name.as_str(), c.default, c.role), ("GIDS RSA-2048", true, KeyRole::Exchange));
        assert!(c.certificate.is_empty());
        assert_eq!(script.done(), 0, "the new container is known without reading the card");

        let der = super::super::certificate::decompress(&t::certificate_value()).unwrap();
        script.expect("00DBA01009DF2206000001000200", "9000");
        script.expect(t::MASTER_FILE_PUT_COMMAND, "9000");
        script.expect("00DBA01009DF2206000001000300", "9000");
        expect_all(&script, put(0xA010, 0xDF24, &super::super::certificate::compress(&der).unwrap()));
        edge.write_certificate(0, &der).unwrap();
        script.done();
        assert_eq!(edge.container(0).unwrap().unwrap().certificate, der);
        assert!(matches!(edge.write_certificate(0, test_vectors::certs::PIV_AUTH_9A), Err(Error::InvalidArgument(_))));
        assert_eq!(script.done(), 0);
    }

    /// A key generation the card refuses (6A84, as a 4096-bit key on a small card) deletes
    /// the new key file and writes neither keymap nor `cmapfile`.
    #[test]
    fn failed_generation_leaves_no_container() {
        let (script, mut edge) = initialised(&[]);
        script.expect("00DBA01009DF2206000001000000", "9000");
        script.expect(
            t::CREATE_EXCHANGE_KEY_FILE_COMMAND
                .replace("800107", "800109")
                .replace("800187", "800189")
                .replace("800147", "800149")
                .replace("800117", "800119")
                .replace("800157", "800159")
                .as_str(),
            "9000",
        );
        script.expect("00440000", "9000");
        script.expect("0047000008AC06800109830181", "6A84");
        script.expect("00A4000C02B081", "9000");
        script.expect("00E40000", "9000");
        let result = edge.generate_key(0, KeyAlgorithm::Rsa { bits: 4096 }, KeyRole::Exchange);
        assert_eq!(result, Err(Error::Vfs(vfs::Error::OutOfSpace)));
        assert_eq!(script.done(), 11);
        assert!(edge.containers().unwrap().is_empty());
        assert!(edge.keymap().unwrap().is_empty());
        assert_eq!(script.done(), 0);
        assert!(matches!(edge.generate_key(0, KeyAlgorithm::P256, KeyRole::Signature), Err(Error::Unsupported(_))));
        assert!(matches!(
            edge.generate_key(0, KeyAlgorithm::Rsa { bits: 1536 }, KeyRole::Exchange),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            edge.generate_key(126, KeyAlgorithm::Rsa { bits: 2048 }, KeyRole::Exchange),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(script.done(), 0);
    }

    /// Import into an index whose key file exists (6A89): the old key file goes, the new one
    /// is created and the key sent with PUT KEY in chained parts; the CSP's credit for the
    /// containers counter saves a bump. Then deletion clears keymap and `cmapfile`.
    #[test]
    fn import_replaces_then_delete() {
        let key = keyfile::tests::test_key();
        let (script, mut edge) = Script::edge();
        script.expect(t::SELECT_COMMAND, t::SELECT_RESPONSE);
        script.expect("00CBA010045C02DF2200", "DF22060000000000009000");
        // The CSP bumps the containers counter itself before CardCreateContainer.
        script.expect("00DBA01009DF2206000001000000", "9000");
        edge.write_cardcf(&[0, 0, 1, 0, 0, 0]).unwrap();
        script.expect(t::MASTER_FILE_COMMAND, t::INITIAL_MASTER_FILE_RESPONSE);
        script.expect(t::CMAPFILE_COMMAND, "DF23009000");
        script.expect("00CBA000045C02DF2000", "6A88");
        let fcp = key_file_fcp(0x81, 0x07, KeyRole::Signature).unwrap();
        let mut create = vec![0x00, 0xE0, 0x00, 0x00, u8::try_from(fcp.len()).unwrap()];
        create.extend_from_slice(&fcp);
        script.expect_bytes(&create, &hex::decode("6A89").unwrap());
        script.expect("00A4000C02B081", "9000");
        script.expect("00E40000", "9000");
        script.expect_bytes(&create, &[0x90, 0x00]);
        script.expect("00440000", "9000");
        let data = keyfile::import_data(0x81, &key).unwrap();
        let put_key = chained([0x00, 0xDB, 0x3F, 0xFF], &data);
        assert!(put_key.len() >= 5);
        expect_all(&script, put_key);
        let mut keymap = super::super::keymap::KeyMap::default();
        keymap.set(0, super::super::keymap::KeyMapRecord::in_use(0x07, KeyRole::Signature, 0x81), |_| unreachable!());
        expect_all(&script, put(0xA000, 0xDF20, &keymap.encode()));
        script.expect("00DBA01009DF2206000001000100", "9000");
        let public = key.public_key().unwrap();
        let name = super::super::containers::generated_name(public.spki());
        let record = vfs::cmapfile::ContainerRecord::new(&name, 0x03, 2048, 0).unwrap();
        expect_all(&script, put(0xA010, 0xDF23, &record.encode()));
        edge.import_key(0, &key, KeyRole::Signature).unwrap();
        script.done();
        let c = edge.container(0).unwrap().unwrap();
        assert_eq!((c.role, c.public_key.clone(), c.name), (KeyRole::Signature, public, name));
        assert!(matches!(edge.decrypt(0, &[1; 256], &DecryptPadding::Raw), Err(Error::InvalidArgument(_))));

        // Deletion: containers counter, files counter, zero cmapfile record, keymap record
        // deleted, key file last (readers list cmapfile: never a listed container without key).
        script.expect("00DBA01009DF2206000002000100", "9000");
        script.expect("00DBA01009DF2206000002000200", "9000");
        expect_all(&script, put(0xA010, 0xDF23, &[0; 86]));
        expect_all(
            &script,
            put(0xA000, 0xDF20, &hex::decode("01 00000000 00 00 FFFF FFFF 0000".replace(' ', "")).unwrap()),
        );
        script.expect("00A4000C02B081", "9000");
        script.expect("00E40000", "9000");
        edge.delete_container(0).unwrap();
        assert_eq!(script.done(), 6);
        assert_eq!(edge.container(0).unwrap(), None);
        // Deleting an empty container asks the card whether a stray key file is there.
        script.expect("00A4000C02B082", "6A82");
        edge.delete_container(1).unwrap();
        assert_eq!(script.done(), 1);
    }
}
