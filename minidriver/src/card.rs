//! The safe Rust API: the minidriver's session for Rust programs, over PC/SC or any transport,
//! with card keys usable through the RustCrypto `signature` traits.
//!
//! It runs the very code the C function table runs (the same [`Context`]), so a Rust program
//! and the Base CSP see one behaviour.

use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use card_edges::crypto::HashAlg;
use card_edges::iso7816::Counters;
use card_edges::key::KeyAlgorithm;
use card_edges::transport::Transport;
use card_edges::transport::pcsc::PcscCard;
use sha2::{Digest, Sha256, Sha384};
use zeroize::Zeroizing;

use crate::abi::pin;
use crate::context::{Context, NoCache};
use crate::edge::{Container, DecryptPadding, OpenOptions, SignRequest};
use crate::error::{Error, Result};
use crate::link::Link;

/// A card, opened for a Rust program.
#[derive(Clone)]
pub struct Card {
    inner: Arc<Mutex<Context>>,
}

impl core::fmt::Debug for Card {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Card").finish_non_exhaustive()
    }
}

impl Card {
    /// Opens the card in `reader` (or the first reader holding a card) over PC/SC.
    ///
    /// # Errors
    /// PC/SC failures (service not running, no reader, no card); [`Error::UnknownCard`] for a
    /// card without a PIV or GIDS application.
    pub fn open(reader: Option<&str>) -> Result<Self> {
        let card = match reader {
            Some(name) => {
                let name = CString::new(name).map_err(|_| Error::InvalidParameter("reader name with NUL"))?;
                PcscCard::connect(&name)?
            }
            None => PcscCard::connect_first()?,
        };
        Self::with_transport(card)
    }

    /// Opens a card over any transport (an in-memory simulated card, a recording wrapper...).
    ///
    /// # Errors
    /// Transport failures; [`Error::UnknownCard`] for a card without a PIV or GIDS application.
    pub fn with_transport(transport: impl Transport + Send + 'static) -> Result<Self> {
        Self::with_options(transport, &OpenOptions::from_env())
    }

    /// Opens a card over any transport with explicit [`OpenOptions`] (a vendor GIDS AID).
    ///
    /// # Errors
    /// As [`Card::with_transport`].
    pub fn with_options(transport: impl Transport + Send + 'static, options: &OpenOptions) -> Result<Self> {
        let mut link = Link::Supplied(Box::new(transport));
        let atr = link.atr().map_err(Error::from)?;
        let edge = crate::edge::open(link, &atr, options)?;
        Ok(Self { inner: Arc::new(Mutex::new(Context::new(7, edge))) })
    }

    fn ctx(&self) -> MutexGuard<'_, Context> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run<T>(&self, op: impl FnOnce(&mut Context) -> Result<T>) -> Result<T> {
        let mut ctx = self.ctx();
        let result = op(&mut ctx);
        if let Err(e) = &result {
            ctx.observe(e);
        }
        result
    }

    /// APDUs and bytes exchanged so far.
    pub fn counters(&self) -> Counters {
        self.ctx().counters()
    }

    /// The 16-byte card identifier (`cardid`).
    ///
    /// # Errors
    /// Card failures.
    pub fn card_id(&self) -> Result<[u8; 16]> {
        self.run(Context::card_guid)
    }

    /// Every key container, in index order.
    ///
    /// # Errors
    /// Card failures.
    pub fn containers(&self) -> Result<Vec<Container>> {
        self.run(|c| c.containers(&mut NoCache))
    }

    /// A logical file (`cardid`, `mscp/cmapfile`, `mscp/kxc00`...), as the CSP would read it.
    ///
    /// # Errors
    /// [`Error::FileNotFound`], [`Error::DirNotFound`], [`Error::SecurityViolation`], card failures.
    pub fn read_file(&self, dir: Option<&str>, file: &str) -> Result<Vec<u8>> {
        self.run(|c| c.read_file(dir.map(str::as_bytes), file.as_bytes(), &mut NoCache))
    }

    /// The file names in the root (`None`) or a directory.
    ///
    /// # Errors
    /// As [`Card::read_file`].
    pub fn list_files(&self, dir: Option<&str>) -> Result<Vec<String>> {
        self.run(|c| c.enum_files(dir.map(str::as_bytes), &mut NoCache))
    }

    /// Verifies the user PIN.
    ///
    /// # Errors
    /// [`Error::WrongPin`] with the tries left, [`Error::PinBlocked`].
    pub fn verify_pin(&self, pin_bytes: &[u8]) -> Result<()> {
        self.run(|c| c.authenticate(pin::ROLE_USER, pin_bytes, &mut NoCache))
    }

    /// Tries left for the user PIN (`None` while it is verified and the card does not say).
    ///
    /// # Errors
    /// Card failures.
    pub fn pin_tries(&self) -> Result<Option<u32>> {
        self.run(|c| c.tries_left(pin::ROLE_USER))
    }

    /// Changes the user PIN.
    ///
    /// # Errors
    /// As [`Card::verify_pin`]; [`Error::InvalidParameter`] for a new PIN the card refuses.
    pub fn change_pin(&self, old: &[u8], new: &[u8]) -> Result<()> {
        self.run(|c| c.change_pin(pin::ROLE_USER, old, new))
    }

    /// Unblocks the user PIN with the PUK and sets `new_pin`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a card without a PUK; [`Error::WrongPin`] (PUK tries left),
    /// [`Error::PinBlocked`] (PUK blocked).
    pub fn unblock_pin(&self, puk: &[u8], new_pin: &[u8]) -> Result<()> {
        self.run(|c| {
            let puk_id = c.typed_unblocker(pin::ROLE_USER)?;
            c.unblock(puk_id, puk, pin::ROLE_USER, new_pin)
        })
    }

    /// Proves the administrator key by challenge-response: the card's challenge encrypted under
    /// `key` (PIV's card management key, 3DES or AES; GIDS's 3-key 3DES administrator key).
    ///
    /// # Errors
    /// [`Error::WrongPin`] for a wrong key; [`Error::InvalidParameter`] for a key that does not
    /// fit the card's challenge.
    pub fn authenticate_admin(&self, key: &[u8]) -> Result<()> {
        self.run(|c| {
            let response = Self::admin_response(c, key)?;
            c.authenticate(pin::ROLE_ADMIN, &response, &mut NoCache)
        })
    }

    /// Unblocks the user PIN with the administrator key (GIDS) and sets `new_pin`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] on a card whose administrator may not unblock the PIN (PIV:
    /// the PUK does, [`Card::unblock_pin`]); [`Error::WrongPin`] for a wrong key.
    pub fn unblock_pin_as_admin(&self, key: &[u8], new_pin: &[u8]) -> Result<()> {
        self.run(|c| {
            if c.pin_info(pin::ROLE_USER)?.unblock_permission & pin::set_of(pin::ROLE_ADMIN) == 0 {
                return Err(Error::InvalidParameter("the administrator may not unblock this card's PIN"));
            }
            let response = Self::admin_response(c, key)?;
            c.unblock(pin::ROLE_ADMIN, &response, pin::ROLE_USER, new_pin)
        })
    }

    fn admin_response(c: &mut Context, key: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let challenge = c.challenge(pin::ROLE_ADMIN)?;
        card_edges::crypto::challenge_response(key, &challenge)
            .map_err(|_| Error::InvalidParameter("the key does not fit the card's challenge"))
    }

    /// Ends the PIN's verified state.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the card must be reset instead.
    pub fn logout(&self) -> Result<()> {
        self.run(|c| c.deauthenticate(pin::set_of(pin::ROLE_USER), &mut NoCache))
    }

    /// Signs a hash with container `index`: PKCS#1 v1.5 (`hash_alg` selects the DigestInfo)
    /// for RSA keys, ECDSA (`r || s`) for EC keys. RSA signatures are big-endian.
    ///
    /// # Errors
    /// [`Error::SecurityViolation`] without the PIN; [`Error::NoKeyContainer`].
    pub fn sign_hash(&self, index: u8, hash_alg: Option<HashAlg>, hash: &[u8]) -> Result<Vec<u8>> {
        self.run(|c| {
            let alg = c.container(index, &mut NoCache)?.public_key.algorithm();
            let request =
                if alg.is_rsa() { SignRequest::Pkcs1 { hash_alg, hash } } else { SignRequest::Ecdsa { hash } };
            c.sign(index, &request, &mut NoCache)
        })
    }

    /// Signs a hash with RSA-PSS.
    ///
    /// # Errors
    /// As [`Card::sign_hash`].
    pub fn sign_pss(&self, index: u8, hash_alg: HashAlg, hash: &[u8], salt_len: usize) -> Result<Vec<u8>> {
        self.run(|c| c.sign(index, &SignRequest::Pss { hash_alg, hash, salt_len }, &mut NoCache))
    }

    /// RSA decryption (big-endian ciphertext): PKCS#1 v1.5, OAEP or raw.
    ///
    /// # Errors
    /// [`Error::BadData`] for a bad padding; as [`Card::sign_hash`].
    pub fn decrypt(&self, index: u8, ciphertext: &[u8], padding: Decryption<'_>) -> Result<Zeroizing<Vec<u8>>> {
        let padding = match padding {
            Decryption::Raw => DecryptPadding::None,
            Decryption::Pkcs1 => DecryptPadding::Pkcs1,
            Decryption::Oaep { hash_alg, label } => DecryptPadding::Oaep { hash_alg, label },
        };
        self.run(|c| c.decrypt(index, ciphertext, &padding, &mut NoCache))
    }

    /// ECDH with container `index` and the peer's uncompressed point: the shared secret.
    ///
    /// # Errors
    /// As [`Card::sign_hash`].
    pub fn ecdh(&self, index: u8, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.run(|c| c.agree(index, peer_point, &mut NoCache))
    }

    /// A signing handle for container `index`, for the `signature` traits.
    ///
    /// # Errors
    /// [`Error::NoKeyContainer`].
    pub fn key(&self, index: u8) -> Result<CardKey> {
        let container = self.run(|c| c.container(index, &mut NoCache))?;
        Ok(CardKey {
            card: self.clone(),
            index,
            algorithm: container.public_key.algorithm(),
            spki: container.public_key.spki().to_vec(),
            pin_id: container.pin,
            pin: None,
        })
    }
}

/// RSA decryption padding for [`Card::decrypt`].
#[derive(Clone, Copy, Debug)]
pub enum Decryption<'a> {
    /// The raw block.
    Raw,
    /// PKCS#1 v1.5.
    Pkcs1,
    /// OAEP with a hash and label.
    Oaep {
        /// Hash for the label and MGF1.
        hash_alg: HashAlg,
        /// Label.
        label: &'a [u8],
    },
}

/// A card key behind the RustCrypto `signature::Signer` traits: ECDSA P-256 (SHA-256),
/// ECDSA P-384 (SHA-384), RSA PKCS#1 v1.5 and PSS (SHA-256).
#[derive(Clone)]
pub struct CardKey {
    card: Card,
    index: u8,
    algorithm: KeyAlgorithm,
    spki: Vec<u8>,
    /// The PIN that guards the key (`CCP_PIN_IDENTIFIER`).
    pin_id: u32,
    pin: Option<Zeroizing<Vec<u8>>>,
}

impl core::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CardKey")
            .field("index", &self.index)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl CardKey {
    /// Verifies `pin` right before every signature: for keys whose card requires the PIN
    /// immediately before each use (PIV 9C). The PIN is kept zeroized in this handle only.
    #[must_use]
    pub fn with_pin(mut self, pin_bytes: &[u8]) -> Self {
        self.pin = Some(Zeroizing::new(pin_bytes.to_vec()));
        self
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public key (SubjectPublicKeyInfo DER).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    fn sign_raw(
        &self,
        request: impl FnOnce(&mut Context, u8) -> Result<Vec<u8>>,
    ) -> core::result::Result<Vec<u8>, signature::Error> {
        let result = self.card.run(|c| {
            if let Some(p) = &self.pin
                && self.pin_id != pin::ROLE_EVERYONE
            {
                c.authenticate(self.pin_id, p, &mut NoCache)?;
            }
            request(c, self.index)
        });
        result.map_err(signature::Error::from_source)
    }
}

impl signature::Signer<p256::ecdsa::Signature> for CardKey {
    fn try_sign(&self, msg: &[u8]) -> core::result::Result<p256::ecdsa::Signature, signature::Error> {
        if self.algorithm != KeyAlgorithm::P256 {
            return Err(signature::Error::new());
        }
        let hash = Sha256::digest(msg);
        let rs = self.sign_raw(|c, i| c.sign(i, &SignRequest::Ecdsa { hash: &hash }, &mut NoCache))?;
        p256::ecdsa::Signature::from_slice(&rs)
    }
}

impl signature::Signer<p384::ecdsa::Signature> for CardKey {
    fn try_sign(&self, msg: &[u8]) -> core::result::Result<p384::ecdsa::Signature, signature::Error> {
        if self.algorithm != KeyAlgorithm::P384 {
            return Err(signature::Error::new());
        }
        let hash = Sha384::digest(msg);
        let rs = self.sign_raw(|c, i| c.sign(i, &SignRequest::Ecdsa { hash: &hash }, &mut NoCache))?;
        p384::ecdsa::Signature::from_slice(&rs)
    }
}

impl signature::Signer<rsa::pkcs1v15::Signature> for CardKey {
    fn try_sign(&self, msg: &[u8]) -> core::result::Result<rsa::pkcs1v15::Signature, signature::Error> {
        if !self.algorithm.is_rsa() {
            return Err(signature::Error::new());
        }
        let hash = Sha256::digest(msg);
        let sig = self.sign_raw(|c, i| {
            c.sign(i, &SignRequest::Pkcs1 { hash_alg: Some(HashAlg::Sha256), hash: &hash }, &mut NoCache)
        })?;
        rsa::pkcs1v15::Signature::try_from(sig.as_slice())
    }
}

impl signature::Signer<rsa::pss::Signature> for CardKey {
    fn try_sign(&self, msg: &[u8]) -> core::result::Result<rsa::pss::Signature, signature::Error> {
        if !self.algorithm.is_rsa() {
            return Err(signature::Error::new());
        }
        let hash = Sha256::digest(msg);
        let sig = self.sign_raw(|c, i| {
            c.sign(i, &SignRequest::Pss { hash_alg: HashAlg::Sha256, hash: &hash, salt_len: 32 }, &mut NoCache)
        })?;
        rsa::pss::Signature::try_from(sig.as_slice())
    }
}
