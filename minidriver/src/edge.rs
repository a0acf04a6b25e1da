//! What the minidriver needs from a card edge, independent of the C ABI, and the one dispatch
//! ([`open`]) that gives a card its edge. Each edge is its own module; nothing in `ffi` or in
//! [`crate::Card`] knows which one it talks to.

pub(crate) mod gids;
mod open;
pub(crate) mod piv;

pub(crate) use open::open;
pub use open::{GIDS_AID_ENV, OpenOptions, PIV_PROTECT_DEFAULT_MGMT_KEY_ENV, forget_hints};

use card_edges::crypto::HashAlg;
use card_edges::iso7816::Counters;
pub use card_edges::key::KeyRole;
use card_edges::key::{KeyAlgorithm, PublicKey};
use vfs::{FileInfo, FreeSpace, Principals};
use zeroize::Zeroizing;

use crate::error::Result;
use crate::link::Link;

/// A PIN identifier (`PIN_ID`, 0..=7).
pub(crate) type PinId = u32;
/// A set of PIN identifiers (`PIN_SET`, bit n = PIN n).
pub(crate) type PinSet = u32;

/// A PIN's description (`PIN_INFO` without its version fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PinInfo {
    /// `SECRET_TYPE`.
    pub pin_type: u32,
    /// `SECRET_PURPOSE`.
    pub purpose: u32,
    /// PINs that may change this one.
    pub change_permission: PinSet,
    /// PINs that may unblock this one.
    pub unblock_permission: PinSet,
    /// `PIN_CACHE_POLICY_TYPE`.
    pub cache_policy: u32,
    /// `dwPinCachePolicyInfo`.
    pub cache_policy_info: u32,
    /// `PIN_INFO` flags.
    pub flags: u32,
}

/// One key container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Index in `cmapfile`.
    pub index: u8,
    /// Container name.
    pub name: String,
    /// Which slot of the container the key is in.
    pub role: KeyRole,
    /// The public key.
    pub public_key: PublicKey,
    /// The certificate, plain DER (empty if none is written yet).
    pub certificate: Vec<u8>,
    /// The PIN that guards the key (`CCP_PIN_IDENTIFIER`).
    pub pin: PinId,
    /// Whether this is the default container.
    pub default: bool,
    /// The index of the ECDH container paired with this ECDSA one (`CCP_ASSOCIATED_ECDH_KEY`).
    pub associated_ecdh: Option<u8>,
}

impl Container {
    /// The `dwKeySpec` of this container's key.
    pub fn key_spec(&self) -> u32 {
        use crate::abi::keyspec as k;
        match (self.public_key.algorithm(), self.role) {
            (KeyAlgorithm::Rsa { .. }, KeyRole::Exchange) => k::AT_KEYEXCHANGE,
            (KeyAlgorithm::Rsa { .. }, KeyRole::Signature) => k::AT_SIGNATURE,
            (KeyAlgorithm::P256, KeyRole::Signature) => k::AT_ECDSA_P256,
            (KeyAlgorithm::P384, KeyRole::Signature) => k::AT_ECDSA_P384,
            (KeyAlgorithm::P256, KeyRole::Exchange) => k::AT_ECDHE_P256,
            (KeyAlgorithm::P384, KeyRole::Exchange) => k::AT_ECDHE_P384,
        }
    }
}

/// A signature request, hash already computed by the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SignRequest<'a> {
    /// RSA PKCS#1 v1.5, with the DigestInfo of `hash_alg` (none when `None`).
    Pkcs1 {
        /// The hash algorithm whose DigestInfo precedes the hash.
        hash_alg: Option<HashAlg>,
        /// The hash.
        hash: &'a [u8],
    },
    /// RSA-PSS with MGF1 of the same hash.
    Pss {
        /// The hash algorithm.
        hash_alg: HashAlg,
        /// The hash.
        hash: &'a [u8],
        /// Salt length.
        salt_len: usize,
    },
    /// Raw RSA on a caller-formatted block (left-padded with zeros to the modulus).
    Raw {
        /// The block.
        block: &'a [u8],
    },
    /// ECDSA over a hash.
    Ecdsa {
        /// The hash (fitted to the curve by the edge).
        hash: &'a [u8],
    },
}

/// How to remove RSA encryption padding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DecryptPadding<'a> {
    /// Return the raw block.
    None,
    /// PKCS#1 v1.5 type 2.
    Pkcs1,
    /// OAEP.
    Oaep {
        /// Hash for the label and MGF1.
        hash_alg: HashAlg,
        /// The label.
        label: &'a [u8],
    },
}

/// `CARD_CAPABILITIES` content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// The driver compresses certificates itself.
    pub certificate_compression: bool,
    /// The card generates keys.
    pub key_gen: bool,
}

/// `CARD_KEY_SIZES` content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeySizes {
    /// Smallest size in bits.
    pub minimum: u32,
    /// Default size.
    pub default: u32,
    /// Largest size.
    pub maximum: u32,
    /// Step between sizes.
    pub increment: u32,
}

impl KeySizes {
    /// Whether `bits` is one of these sizes.
    pub(crate) fn allows(&self, bits: u32) -> bool {
        let in_range = (self.minimum..=self.maximum).contains(&bits);
        match self.increment {
            0 => bits == self.minimum || bits == self.maximum,
            step => in_range && (bits - self.minimum).is_multiple_of(step),
        }
    }
}

/// A new key for `CardCreateContainer`.
#[derive(Clone, Debug)]
pub(crate) enum NewKey {
    /// Generate on the card.
    Generate(KeyAlgorithm, KeyRole),
    /// Import a CAPI `PRIVATEKEYBLOB` (its bytes; no PIV card can).
    #[allow(dead_code)]
    Import(Zeroizing<Vec<u8>>),
}

/// An item for the CSP's data cache (`pfnCspCacheAddFile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CacheEntry {
    /// The cache tag (the edge's name for what the bytes prove).
    pub tag: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Whether the bytes hold anything only an authenticated principal may read. Public
    /// entries (certificates, container maps) outlive a deauthentication; private ones stored
    /// while authenticated are deleted by it (Minidriver Specification §4.2.5, §4.2.8).
    pub private: bool,
}

/// The logical file system operations, with the principals authenticated now.
pub(crate) trait FileSystem {
    fn read_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<Vec<u8>>;
    fn write_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8], data: &[u8]) -> Result<()>;
    fn create_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8], ac: u32, size: u32) -> Result<()>;
    fn delete_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<()>;
    fn file_info(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<FileInfo>;
    fn enum_files(&mut self, dir: Option<&[u8]>) -> Result<Vec<String>>;
    fn create_dir(&mut self, who: Principals, dir: &[u8], ac: u32) -> Result<()>;
    fn delete_dir(&mut self, who: Principals, dir: &[u8]) -> Result<()>;
    fn free_space(&mut self) -> Result<FreeSpace>;
}

impl<S> FileSystem for vfs::Vfs<S>
where
    S: vfs::Storage,
    crate::error::Error: From<S::Error>,
{
    fn read_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<Vec<u8>> {
        Ok(Self::read_file(self, who, dir, file)?)
    }
    fn write_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8], data: &[u8]) -> Result<()> {
        Ok(Self::write_file(self, who, dir, file, data)?)
    }
    fn create_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8], ac: u32, size: u32) -> Result<()> {
        Ok(Self::create_file(self, who, dir, file, vfs::AccessCondition(ac), size)?)
    }
    fn delete_file(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<()> {
        Ok(Self::delete_file(self, who, dir, file)?)
    }
    fn file_info(&mut self, who: Principals, dir: Option<&[u8]>, file: &[u8]) -> Result<FileInfo> {
        Ok(Self::file_info(self, who, dir, file)?)
    }
    fn enum_files(&mut self, dir: Option<&[u8]>) -> Result<Vec<String>> {
        Ok(Self::enum_files(self, dir)?.iter().map(|n| n.as_str().to_owned()).collect())
    }
    fn create_dir(&mut self, who: Principals, dir: &[u8], ac: u32) -> Result<()> {
        Ok(Self::create_dir(self, who, dir, vfs::DirAccessCondition(ac))?)
    }
    fn delete_dir(&mut self, who: Principals, dir: &[u8]) -> Result<()> {
        Ok(Self::delete_dir(self, who, dir)?)
    }
    fn free_space(&mut self) -> Result<FreeSpace> {
        Ok(Self::free_space(self)?)
    }
}

/// A card edge as the minidriver drives it.
pub(crate) trait Edge: Send {
    /// "PIV" or "GIDS".
    fn name(&self) -> &'static str;
    /// The link, to rebind handles.
    fn link(&mut self) -> &mut Link;
    /// APDUs and bytes so far.
    fn counters(&self) -> Counters;
    /// Forgets the card's state (reset, removal, other card): authentication included.
    fn forget(&mut self);
    /// Who is authenticated now, for access conditions.
    fn principals(&self) -> Principals;
    /// The logical file system.
    fn files(&mut self) -> &mut dyn FileSystem;

    /// `cardid`.
    fn card_id(&mut self) -> Result<[u8; 16]>;
    /// The card's serial number, if it has one.
    fn serial_number(&mut self) -> Result<Option<Vec<u8>>>;
    /// Every container.
    fn containers(&mut self) -> Result<Vec<Container>>;
    /// The container at `index` (`NoKeyContainer` if none).
    fn container(&mut self, index: u8) -> Result<Container>;
    /// Checks a key creation request against what the card can hold, without card I/O (spec
    /// §4.6.1: "the minidriver should perform all parameter verification first without
    /// communicating to the card"). The default leaves every check to `create_container`.
    fn check_new_key(&self, _index: u8, _key: &NewKey, _pin: Option<PinId>) -> Result<()> {
        Ok(())
    }
    /// Creates (generates or imports) a key in container `index`, guarded by `pin` (the
    /// edge's default for that container when `None`).
    fn create_container(&mut self, index: u8, key: NewKey, pin: Option<PinId>) -> Result<()>;
    /// Deletes container `index`'s key material (succeeds for an empty index).
    fn delete_container(&mut self, index: u8) -> Result<()>;
    /// Sets the PIN that guards a container.
    fn set_container_pin(&mut self, index: u8, pin: PinId) -> Result<()>;
    /// Pairs an ECDSA container with an ECDH one.
    fn set_associated_ecdh(&mut self, index: u8, ecdh: u8) -> Result<()>;

    /// `CARD_CAPABILITIES`.
    fn capabilities(&self) -> Capabilities;
    /// Whether `CardCreateContainer` can import a key (`CARD_CREATE_CONTAINER_KEY_IMPORT`).
    fn imports_keys(&self) -> bool;
    /// `CP_CARD_READ_ONLY`.
    fn read_only(&self) -> bool;
    /// `CP_CARD_CACHE_MODE`.
    fn cache_mode(&self) -> u32;
    /// `CP_SUPPORTS_WIN_X509_ENROLLMENT`: whether the user PIN alone lets Windows generate
    /// keys and write certificates on the card in the reader. May ask the card once.
    fn supports_x509_enrollment(&mut self) -> Result<bool>;
    /// Sizes for `dwKeySpec` (`Unsupported` for a valid spec the card lacks).
    fn key_sizes(&mut self, key_spec: u32) -> Result<KeySizes>;
    /// `CP_ENUM_ALGORITHMS` for asymmetric operations: the CNG names of the key algorithms
    /// the card takes (`RSA`, `ECDSA_P256`, `ECDH_P384`, ...). No card I/O.
    fn algorithms(&mut self) -> Vec<&'static str>;

    /// `CP_CARD_LIST_PINS`. May ask the card once (whether it has a PUK, say).
    fn list_pins(&mut self) -> Result<PinSet>;
    /// Whether the card has PIN `pin`: [`Edge::list_pins`], without asking the card about the
    /// PINs every card of the edge has.
    fn has_pin(&mut self, pin: PinId) -> Result<bool> {
        Ok(self.list_pins()? & crate::abi::pin::set_of(pin) != 0)
    }
    /// Whether `pin` must be verified right before each use of its key (`PinCacheAlwaysPrompt`).
    /// No card I/O.
    fn always_prompt(&self, _pin: PinId) -> bool {
        false
    }
    /// `CP_CARD_PIN_INFO` (`InvalidParameter` for a PIN the card lacks). May ask the card once.
    fn pin_info(&mut self, pin: PinId) -> Result<PinInfo>;
    /// `CP_CARD_AUTHENTICATED_STATE`.
    fn authenticated(&self) -> PinSet;
    /// Verifies a PIN (or, for a challenge-response PIN, the response).
    fn authenticate(&mut self, pin: PinId, data: &[u8]) -> Result<()>;
    /// Tries left for a PIN, without spending one.
    fn tries_left(&mut self, pin: PinId) -> Result<Option<u32>>;
    /// Deauthenticates the PINs in `pins` (`Unsupported` if the card needs a reset).
    fn deauthenticate(&mut self, pins: PinSet) -> Result<()>;
    /// A challenge for a challenge-response PIN.
    fn challenge(&mut self, pin: PinId) -> Result<Zeroizing<Vec<u8>>>;
    /// Changes a PIN (the current value authenticates).
    fn change_pin(&mut self, pin: PinId, current: &[u8], new: &[u8]) -> Result<()>;
    /// Unblocks `target` with `auth_pin`'s value and sets `new`.
    fn unblock(&mut self, auth_pin: PinId, auth: &[u8], target: PinId, new: &[u8]) -> Result<()>;

    /// Signs with container `index`: RSA big-endian, ECDSA `r || s`.
    fn sign(&mut self, index: u8, request: &SignRequest<'_>) -> Result<Vec<u8>>;
    /// RSA-decrypts a big-endian ciphertext with container `index`.
    fn decrypt(&mut self, index: u8, ciphertext: &[u8], padding: &DecryptPadding<'_>) -> Result<Zeroizing<Vec<u8>>>;
    /// ECDH with container `index`: the shared secret (x-coordinate, big-endian).
    fn agree(&mut self, index: u8, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>>;

    /// Whether container contents still have to come from the card (a CSP cache hit saves it).
    fn wants_contents(&self) -> bool;
    /// What to store in the CSP's cache once contents were read from the card.
    fn contents_snapshot(&mut self) -> Option<CacheEntry>;
    /// The tag under which a snapshot for the current card content would be cached.
    fn contents_tag(&mut self) -> Result<Option<String>>;
    /// Loads a snapshot from the CSP's cache; false when it does not fit the card.
    fn load_contents(&mut self, snapshot: &[u8]) -> bool;
}
