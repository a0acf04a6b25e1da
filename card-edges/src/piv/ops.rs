//! Private-key operations and key management. The card only does the raw operation
//! (RSA block, ECDSA over a hash, ECDH); padding and format conversion happen here.

use zeroize::Zeroizing;

use super::auth::dynamic_element;
use super::edge::{PivEdge, SlotContent, status_error};
use super::objects;
use super::slot::Slot;
use crate::crypto::{self, HashAlg};
use crate::error::{Error, Result};
use crate::iso7816::tlv::{self, Tag};
use crate::iso7816::{Command, apdu::ins};
use crate::key::{KeyAlgorithm, PublicKey};
use crate::transport::Transport;

impl<T: Transport> PivEdge<T> {
    /// The raw private-key operation: GENERAL AUTHENTICATE with `82 00` (response wanted) and
    /// `81 <input>` (challenge: an RSA block or an EC hash of the field's length).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the PIN (9C: without a VERIFY just before);
    /// [`Error::NotFound`] for an empty slot; malformed responses.
    pub fn private_operation(&mut self, slot: Slot, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let alg = self.public_key(slot)?.algorithm();
        let id = super::algorithm::id(alg).ok_or(Error::Unsupported("key size without a PIV algorithm identifier"))?;
        if input.len() != alg.byte_len() {
            return Err(Error::InvalidArgument("input length does not match the key"));
        }
        // An RSA answer (7C 82 01 04 82 82 01 00 ...) exceeds a short Le; ECDSA's does not.
        let le = if alg.is_rsa() { 65_536 } else { 256 };
        let rsp = self.general_authenticate(id, slot.key_ref(), &[(0x82, &[]), (0x81, input)], false, le)?;
        let out = Zeroizing::new(dynamic_element(&rsp, 0x82)?.to_vec());
        if alg.is_rsa() {
            if out.len() != alg.byte_len() {
                return Err(Error::Malformed { what: "RSA result of the wrong length" });
            }
            // Signature or plaintext block: checked with the public key before anyone uses it.
            crypto::check::rsa_private_result(&self.public_key(slot)?, input, &out)?;
        }
        Ok(out)
    }

    /// RSA PKCS#1 v1.5 signature over `hash` (with the DigestInfo of `hash_alg`, or the bare
    /// hash when `None`), big-endian.
    ///
    /// # Errors
    /// As [`PivEdge::private_operation`]; [`Error::InvalidArgument`] for a hash that does not fit.
    pub fn sign_pkcs1(&mut self, slot: Slot, hash_alg: Option<HashAlg>, hash: &[u8]) -> Result<Vec<u8>> {
        let k = self.rsa_len(slot)?;
        let block = crypto::pkcs1::encode_sign(hash_alg, hash, k)?;
        Ok(self.private_operation(slot, &block)?.to_vec())
    }

    /// RSA-PSS signature over `hash` (MGF1 with the same hash, `salt_len` random bytes).
    ///
    /// # Errors
    /// As [`PivEdge::sign_pkcs1`].
    pub fn sign_pss(&mut self, slot: Slot, hash_alg: HashAlg, hash: &[u8], salt_len: usize) -> Result<Vec<u8>> {
        let bits = usize::from(self.public_key(slot)?.algorithm().bits());
        let block = crypto::pss::encode(hash_alg, hash, salt_len, bits)?;
        Ok(self.private_operation(slot, &block)?.to_vec())
    }

    /// ECDSA over `hash`, returned as fixed-width `r || s`. A short hash is left-padded, a long
    /// one truncated to the field (FIPS 186), so the card sees exactly the field's length.
    ///
    /// # Errors
    /// As [`PivEdge::private_operation`]; [`Error::Malformed`] for a bad DER signature.
    pub fn sign_ecdsa(&mut self, slot: Slot, hash: &[u8]) -> Result<Vec<u8>> {
        let alg = self.public_key(slot)?.algorithm();
        if alg.is_rsa() {
            return Err(Error::InvalidArgument("ECDSA with an RSA key"));
        }
        let field = alg.byte_len();
        let input = crypto::ecdsa::fit_hash(hash, field);
        let der = self.private_operation(slot, &input)?;
        let rs = crypto::ecdsa::der_to_fixed(&der, field)?;
        crypto::check::ecdsa_signature(&self.public_key(slot)?, &input, &rs)?;
        Ok(rs)
    }

    /// The raw RSA private operation on a ciphertext: the padded plaintext block.
    ///
    /// # Errors
    /// As [`PivEdge::private_operation`].
    pub fn decrypt_raw(&mut self, slot: Slot, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.rsa_len(slot)?;
        if ciphertext.len() != k {
            return Err(Error::InvalidArgument("ciphertext length is not the modulus length"));
        }
        self.private_operation(slot, ciphertext)
    }

    /// RSA PKCS#1 v1.5 decryption (constant-time unpadding; one error for every padding fault).
    ///
    /// # Errors
    /// [`Error::Crypto`] for a bad padding; as [`PivEdge::decrypt_raw`].
    pub fn decrypt_pkcs1(&mut self, slot: Slot, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.rsa_len(slot)?;
        let block = self.decrypt_raw(slot, ciphertext)?;
        crypto::pkcs1::decode_encryption_block(&block, k)
    }

    /// RSA-OAEP decryption with `hash_alg` (for the label hash and MGF1) and `label`.
    ///
    /// # Errors
    /// As [`PivEdge::decrypt_pkcs1`].
    pub fn decrypt_oaep(
        &mut self,
        slot: Slot,
        ciphertext: &[u8],
        hash_alg: HashAlg,
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.rsa_len(slot)?;
        let block = self.decrypt_raw(slot, ciphertext)?;
        crypto::oaep::decode(&block, k, hash_alg, label)
    }

    /// ECDH with the peer's uncompressed point (`04 X Y`): the shared secret's x-coordinate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a point of the wrong size; as [`PivEdge::private_operation`].
    pub fn ecdh(&mut self, slot: Slot, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let alg = self.public_key(slot)?.algorithm();
        let id = super::algorithm::id(alg).ok_or(Error::Unsupported("key without a PIV algorithm identifier"))?;
        if alg.is_rsa() || peer_point.len() != 2 * alg.byte_len() + 1 || peer_point.first() != Some(&0x04) {
            return Err(Error::InvalidArgument("peer key is not an uncompressed point on this curve"));
        }
        let rsp = self.general_authenticate(id, slot.key_ref(), &[(0x82, &[]), (0x85, peer_point)], false, 256)?;
        let z = Zeroizing::new(dynamic_element(&rsp, 0x82)?.to_vec());
        if z.len() != alg.byte_len() {
            return Err(Error::Malformed { what: "shared secret of the wrong length" });
        }
        Ok(z)
    }

    fn rsa_len(&mut self, slot: Slot) -> Result<usize> {
        let alg = self.public_key(slot)?.algorithm();
        if !alg.is_rsa() {
            return Err(Error::InvalidArgument("RSA operation with an EC key"));
        }
        Ok(alg.byte_len())
    }

    /// GENERATE ASYMMETRIC KEY PAIR in `slot` (needs the management key). The new key is
    /// usable at once; until a certificate is written it exists only for this insertion.
    ///
    /// Without the management key authenticated, the user's PIN gets it where the card allows
    /// ([`PivEdge::authenticate_admin_for_user`]).
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the management key (nothing is sent that
    /// writes); [`Error::Unsupported`] for an algorithm the card refuses.
    pub fn generate_key(&mut self, slot: Slot, algorithm: KeyAlgorithm) -> Result<PublicKey> {
        let id =
            super::algorithm::id(algorithm).ok_or(Error::Unsupported("key size without a PIV algorithm identifier"))?;
        self.authenticate_admin_for_user()?;
        let mut template = Vec::new();
        tlv::write(&mut template, Tag(0x80), &[id])?;
        let data = tlv::encode(Tag(0xAC), &template)?;
        let cmd =
            Command::new(0x00, ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, slot.key_ref()).with_data(data).with_le(65_536);
        let rsp = self.transmit(&cmd)?;
        if !rsp.sw.is_success() {
            return Err(match rsp.sw.0 {
                0x6A80 | 0x6A86 => Error::Unsupported("the card cannot generate this key type"),
                _ => status_error(rsp.sw),
            });
        }
        let key = generated_public_key(&rsp.data, algorithm)?;
        self.cache.slots.remove(&slot);
        self.cache.mscuid.remove(&slot);
        self.cache.pending.insert(slot, key.clone());
        self.local_changes = self.local_changes.wrapping_add(1);
        Ok(key)
    }

    /// Writes `der` as `slot`'s certificate (PUT DATA, uncompressed; needs the management key).
    /// When a key was generated this insertion, the certificate must carry that key.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a certificate that does not parse or does not match the
    /// new key; [`Error::SecurityStatusNotSatisfied`] without the management key.
    pub fn write_certificate(&mut self, slot: Slot, der: &[u8]) -> Result<()> {
        let public_key =
            PublicKey::from_certificate(der).map_err(|_| Error::InvalidArgument("not an X.509 certificate"))?;
        if let Some(pending) = self.cache.pending.get(&slot)
            && pending.spki() != public_key.spki()
        {
            return Err(Error::InvalidArgument("the certificate is not for the key generated in this slot"));
        }
        self.authenticate_admin_for_user()?;
        // The container's name the CSP gave it goes with the certificate (its MSCUID): see
        // `winfiles` for why.
        let name = self.mapped_name(slot).or_else(|| self.cache.mscuid.get(&slot).cloned());
        self.put_data(slot.certificate_tag(), &objects::certificate_object(der, name.as_deref())?)?;
        self.cache.pending.remove(&slot);
        self.cache.slots.insert(slot, Some(SlotContent { certificate: der.to_vec(), public_key }));
        match name {
            Some(n) => self.cache.mscuid.insert(slot, n),
            None => self.cache.mscuid.remove(&slot),
        };
        if slot.is_retired() {
            self.cover_in_key_history(slot)?;
        }
        if self.cache.container_map.as_ref().is_some_and(|m| !m.is_empty()) {
            self.update_map_for(slot, Some(der))?;
        }
        Ok(())
    }

    /// Makes the Key History object count `slot` among the retired keys with on-card
    /// certificates: readers (this edge, OpenSC, Windows) look at no retired slot beyond it.
    fn cover_in_key_history(&mut self, slot: Slot) -> Result<()> {
        let history = self.key_history()?;
        let needed = u8::try_from(slot.container_index().saturating_sub(3)).unwrap_or(Slot::RETIRED_COUNT);
        if history.on_card >= needed {
            return Ok(());
        }
        let mut value = Vec::new();
        tlv::write(&mut value, Tag(0xC1), &[needed])?;
        tlv::write(&mut value, Tag(0xC2), &[history.off_card])?;
        tlv::write(&mut value, Tag(0xFE), &[])?;
        self.put_data(objects::tag::KEY_HISTORY, &value)?;
        self.cache.key_history = Some(objects::KeyHistory { on_card: needed, off_card: history.off_card });
        Ok(())
    }

    /// Deletes `slot`'s certificate (PUT DATA with an empty object; the key stays on the card
    /// but no longer shows as a container).
    ///
    /// Its record in Yubico's container map goes too.
    ///
    /// # Errors
    /// [`Error::SecurityStatusNotSatisfied`] without the management key (nothing is written).
    pub fn delete_certificate(&mut self, slot: Slot) -> Result<()> {
        self.authenticate_admin_for_user()?;
        self.put_data(slot.certificate_tag(), &[])?;
        self.cache.pending.remove(&slot);
        self.cache.slots.insert(slot, None);
        self.cache.mscuid.remove(&slot);
        self.update_map_for(slot, None)
    }
}

/// The SubjectPublicKeyInfo of a GENERATE response (`7F49 { 81 n, 82 e }` or `7F49 { 86 point }`).
fn generated_public_key(response: &[u8], algorithm: KeyAlgorithm) -> Result<PublicKey> {
    let template =
        tlv::find(response, &[Tag(0x7F49)])?.ok_or(Error::Malformed { what: "GENERATE response without 7F49" })?;
    let field = |tag| -> Result<&[u8]> {
        tlv::Reader::new(template).find(Tag(tag))?.ok_or(Error::Malformed { what: "GENERATE response field missing" })
    };
    let malformed = |_| Error::Malformed { what: "generated public key does not decode" };
    let spki = match algorithm {
        KeyAlgorithm::Rsa { .. } => {
            let n = rsa::BoxedUint::from_be_slice_vartime(field(0x81)?);
            let e = rsa::BoxedUint::from_be_slice_vartime(field(0x82)?);
            let key =
                rsa::RsaPublicKey::new(n, e).map_err(|_| Error::Malformed { what: "generated RSA key is invalid" })?;
            rsa::pkcs8::EncodePublicKey::to_public_key_der(&key).map_err(malformed)?.to_vec()
        }
        KeyAlgorithm::P256 => {
            let key = p256::PublicKey::from_sec1_bytes(field(0x86)?)
                .map_err(|_| Error::Malformed { what: "generated point not on P-256" })?;
            p256::pkcs8::EncodePublicKey::to_public_key_der(&key).map_err(malformed)?.to_vec()
        }
        KeyAlgorithm::P384 => {
            let key = p384::PublicKey::from_sec1_bytes(field(0x86)?)
                .map_err(|_| Error::Malformed { what: "generated point not on P-384" })?;
            p384::pkcs8::EncodePublicKey::to_public_key_der(&key).map_err(malformed)?.to_vec()
        }
    };
    let key = PublicKey::from_spki(&spki)?;
    if key.algorithm() != algorithm {
        return Err(Error::Malformed { what: "generated key is not of the requested size" });
    }
    Ok(key)
}
