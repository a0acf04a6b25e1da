//! The specification checklist the runner reports against: the 174 numbered MUST/SHOULD/MAY
//! items of the Windows Smart Card Minidriver Specification v7.07 (and the reference
//! implementations it is read with), each with its level and the area of the specification it
//! belongs to. `minidriver/CHECKLIST.md` names the cargo test that proves each item for this
//! project's driver; the runner's checks carry the same numbers.

use core::fmt;

/// How strongly the specification asks for an item ("MUST NOT" is a MUST, "SHOULD NOT" a
/// SHOULD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Required: a failure ends the run with exit status 1.
    Must,
    /// Recommended.
    Should,
    /// Optional.
    May,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Self; 3] = [Self::Must, Self::Should, Self::May];

    /// `MUST`, `SHOULD`, `MAY`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::May => "MAY",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The part of the specification an item belongs to (the checklist's sections A to P).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    /// Binary interface and general conventions (§2.3, §4.x return values).
    General,
    /// `CardAcquireContext` and version negotiation (§2.5.1, §4.1.1).
    Acquire,
    /// `CardDeleteContext` (§4.1.2).
    Delete,
    /// Memory ownership: `pfnCspAlloc` outputs, in-place outputs (§2.3.4, §3.2).
    Memory,
    /// Transactions, handles, reset and removal (§2.3.1).
    Handles,
    /// The PIN model: roles, `PIN_INFO`, permissions (§4.2.1, §7.2).
    PinModel,
    /// `CardAuthenticatePin`, `CardAuthenticateEx`, session PINs (§4.2.2, §4.2.6).
    Authenticate,
    /// Challenge-response, deauthentication, unblock and change (§4.2.3-4.2.11).
    Challenge,
    /// The file system and the file functions (§4.3, §5).
    Files,
    /// Card and container properties, capabilities, key sizes (§4.4, §4.5, §4.7.6).
    Properties,
    /// Key containers and public-key blobs (§4.6).
    Containers,
    /// Signatures, decryption, key agreement (§4.7).
    Crypto,
    /// `cardcf` and the CSP's data cache (§3.2.2, §5.4.3).
    Cache,
    /// Read-only cards and write simulation (§5.2, §7.4).
    ReadOnly,
    /// Secure key injection (§4.8).
    Ski,
    /// Registration and certification (§3.1, appendix A).
    Registration,
}

impl Area {
    /// Every area, in the specification's order.
    pub const ALL: [Self; 16] = [
        Self::General,
        Self::Acquire,
        Self::Delete,
        Self::Memory,
        Self::Handles,
        Self::PinModel,
        Self::Authenticate,
        Self::Challenge,
        Self::Files,
        Self::Properties,
        Self::Containers,
        Self::Crypto,
        Self::Cache,
        Self::ReadOnly,
        Self::Ski,
        Self::Registration,
    ];

    /// A short lower-case name (`acquire`, `pin-model`).
    pub fn name(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Acquire => "acquire",
            Self::Delete => "delete",
            Self::Memory => "memory",
            Self::Handles => "handles",
            Self::PinModel => "pin-model",
            Self::Authenticate => "authenticate",
            Self::Challenge => "challenge",
            Self::Files => "files",
            Self::Properties => "properties",
            Self::Containers => "containers",
            Self::Crypto => "crypto",
            Self::Cache => "cache",
            Self::ReadOnly => "read-only",
            Self::Ski => "ski",
            Self::Registration => "registration",
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One numbered checklist item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its number, 1 to 174.
    pub number: u16,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// Where in the specification.
    pub area: Area,
    /// Its title, as in `minidriver/CHECKLIST.md`.
    pub title: &'static str,
}

const fn item(number: u16, level: Level, area: Area, title: &'static str) -> Item {
    Item { number, level, area, title }
}

use Area::{
    Acquire, Authenticate, Cache, Challenge, Containers, Crypto, Delete, Files, General, Handles, Memory, PinModel,
    Properties, ReadOnly, Registration, Ski,
};
use Level::{May, Must, Should};

/// The checklist, in item order (`ITEMS[n - 1]` is item `n`).
pub const ITEMS: [Item; 174] = [
    item(1, Must, General, "Export undecorated CardAcquireContext (system ABI)"),
    item(2, Must, General, "CPDK x64 CARD_DATA layout and constants"),
    item(3, Must, General, "0 on success, nonzero on failure"),
    item(4, Must, General, "INVALID_PARAMETER for NULL or bad arguments"),
    item(5, Must, General, "WRONG_CHV for every wrong PIN"),
    item(6, Should, General, "Panics never cross the C boundary"),
    item(7, Should, General, "SCARD codes except spec-named Win32 codes"),
    item(8, Must, General, "ANSI file names, UTF-16 strings, byte PINs"),
    item(9, Must, General, "Validate parameters before card I/O"),
    item(10, Must, General, "Several independent contexts per process"),
    item(11, Should, General, "Threads sharing one context are safe"),
    item(12, Must, General, "No UI"),
    item(13, Should, General, "Fail cleanly without resources; twin cards coexist"),
    item(14, Should, General, "Microsoft signing, no shared sections"),
    item(15, Must, Acquire, "NULL pCardData refused"),
    item(16, Must, Acquire, "Acquire dwFlags checked"),
    item(17, Should, Acquire, "NO_CARD_MODE without SKI unsupported"),
    item(18, Must, Acquire, "dwVersion below minimum: revision mismatch"),
    item(19, Must, Acquire, "Negotiated version is min(requested, 7)"),
    item(20, Must, Acquire, "Nothing written past the version's extent"),
    item(21, Must, Acquire, "CSP-supplied members never modified"),
    item(22, May, Acquire, "Negotiated dwVersion stays fixed"),
    item(23, Must, Acquire, "pbAtr, cbAtr, pwszCardName checked"),
    item(24, Must, Acquire, "Unknown card: SCARD_E_UNKNOWN_CARD"),
    item(25, Must, Acquire, "NULL allocator callbacks refused"),
    item(26, Must, Acquire, "Zero handles: SCARD_E_INVALID_HANDLE"),
    item(27, Should, Acquire, "SELECT the application during acquire"),
    item(28, Must, Acquire, "Function table filled per version"),
    item(29, Should, Acquire, "pvVendorSpecific from pfnCspAlloc; nothing left on failure"),
    item(30, Must, Acquire, "Missing optional callbacks tolerated"),
    item(31, Must, Acquire, "NO_CARD_MODE limits the callable functions"),
    item(32, Must, Acquire, "Card ATR unique and stable"),
    item(33, Must, Delete, "CardDeleteContext releases everything"),
    item(34, Must, Delete, "CardDeleteContext needs no card"),
    item(35, Must, Delete, "CardDeleteContext after DLL_PROCESS_DETACH"),
    item(36, Must, Delete, "Never disconnect the CSP's handles"),
    item(37, Should, Delete, "Second or NULL CardDeleteContext refused"),
    item(38, Must, Memory, "Outputs allocated with pfnCspAlloc"),
    item(39, Must, Memory, "In-place outputs never allocated"),
    item(40, Must, Memory, "Allocation failure: no memory, clean outputs"),
    item(41, Must, Memory, "Free cache lookup buffers with pfnCspFree"),
    item(42, Must, Memory, "Free pad/unpad callback outputs"),
    item(43, Should, Memory, "Zero secrets before freeing"),
    item(44, Should, Handles, "No SCardBegin/EndTransaction"),
    item(45, Must, Handles, "Authentication state is the caller's"),
    item(46, Must, Handles, "Follow handle swaps on a live context"),
    item(47, Must, Handles, "No SCardConnect/Reconnect/Disconnect"),
    item(48, Must, Handles, "Reset/removal: codes, auth and agreements lost"),
    item(49, Must, Handles, "Expect a reset after failed deauthentication"),
    item(50, Should, Handles, "Drop driver caches on reset or new card"),
    item(51, Must, PinModel, "PIN ids 0-7 and PIN_SET bits"),
    item(52, Must, PinModel, "EVERYONE, USER, ADMIN roles provisioned"),
    item(53, Must, PinModel, "Several PINs authenticated at once"),
    item(54, Must, PinModel, "PIN_INFO per PIN id"),
    item(55, Should, PinModel, "Usual change/unblock permissions"),
    item(56, Must, PinModel, "PinType semantics respected"),
    item(57, Should, PinModel, "PinPurpose; UnblockOnly only unblocks"),
    item(58, Should, PinModel, "PinCachePolicy effects"),
    item(59, Must, PinModel, "CP_CARD_LIST_PINS and AUTHENTICATED_STATE"),
    item(60, Must, PinModel, "CP_CARD_PIN_STRENGTH_VERIFY"),
    item(61, Should, PinModel, "PIN bytes opaque; malformed PIN not sent"),
    item(62, Must, Authenticate, "AuthenticatePin user id user/admin only"),
    item(63, Must, Authenticate, "AuthenticatePin NULL PIN refused"),
    item(64, Must, Authenticate, "Wrong-PIN protocol and tries reporting"),
    item(65, Must, Authenticate, "AuthenticateEx PIN id checks"),
    item(66, Must, Authenticate, "AuthenticateEx flags checks"),
    item(67, Must, Authenticate, "AuthenticateEx NULL PIN data rules"),
    item(68, Must, Authenticate, "UnblockOnly PIN cannot authenticate"),
    item(69, Must, Authenticate, "Wrong PIN deauthenticates that role only"),
    item(70, Must, Authenticate, "GENERATE_SESSION_PIN rules"),
    item(71, Must, Authenticate, "SESSION_PIN rules, no real-PIN try spent"),
    item(72, Should, Authenticate, "Session PIN properties"),
    item(73, Must, Authenticate, "External PIN handling"),
    item(74, Must, Authenticate, "Secure PIN channel sequence"),
    item(75, Should, Authenticate, "No session PIN: NULL and 0"),
    item(76, Must, Challenge, "Challenges allocated, never repeated"),
    item(77, Must, Challenge, "3DES challenge-response algorithm"),
    item(78, Must, Challenge, "AuthenticateChallenge wrong-response protocol"),
    item(79, Must, Challenge, "GetChallengeEx flags and PIN type"),
    item(80, Must, Challenge, "CardDeauthenticate arguments"),
    item(81, Must, Challenge, "CardDeauthenticateEx PIN sets and flags"),
    item(82, Must, Challenge, "CardUnblockPin arguments and atomicity"),
    item(83, Must, Challenge, "CardChangeAuthenticator arguments and policy"),
    item(84, Must, Challenge, "CardChangeAuthenticatorEx arguments and permissions"),
    item(85, Must, Challenge, "PIN change voids session PINs"),
    item(86, Should, Challenge, "CSP, not driver, bumps PIN freshness"),
    item(87, Must, Files, "Logical file layout (cardid, cardcf, cardapps, mscp)"),
    item(88, Must, Files, "Name length and character rules"),
    item(89, Should, Files, "Case-insensitive names"),
    item(90, Must, Files, "NULL directory is the root"),
    item(91, Must, Files, "Atomic, handle-less file operations"),
    item(92, Must, Files, "CardReadFile rules and codes"),
    item(93, Must, Files, "FILE_NOT_FOUND never a catch-all"),
    item(94, Must, Files, "No cache callbacks for cardid/cardcf or acquire"),
    item(95, Must, Files, "CardCreateDirectory rules"),
    item(96, Must, Files, "CardDeleteDirectory rules"),
    item(97, Must, Files, "CardCreateFile rules"),
    item(98, Must, Files, "CardGetFileInfo rules"),
    item(99, Must, Files, "CardWriteFile rules"),
    item(100, Must, Files, "CardDeleteFile rules"),
    item(101, Must, Files, "CardEnumFiles multi-string and codes"),
    item(102, Must, Files, "CardQueryFreeSpace rules"),
    item(103, Must, Files, "File access conditions enforced"),
    item(104, Must, Files, "Directory access conditions enforced"),
    item(105, May, Files, "Write simulation keeps written files"),
    item(106, Must, Files, "cmapfile format, CSP writes stored"),
    item(107, Must, Files, "cardid unique, equals CP_CARD_GUID"),
    item(108, Should, Files, "Blank-card creation sequence"),
    item(109, Must, Properties, "CardGetProperty argument checks"),
    item(110, Must, Properties, "Unsupported properties refused"),
    item(111, Must, Properties, "Property buffer-size rules"),
    item(112, Must, Properties, "Property types and sizes"),
    item(113, Must, Properties, "CP_CARD_READ_ONLY only when truly read-only"),
    item(114, Must, Properties, "CardSetProperty flags and read-only properties"),
    item(115, Must, Properties, "CardSetProperty permissions; GUID consistency"),
    item(116, Should, Properties, "Parent window and context string rules"),
    item(117, Must, Properties, "Read-only cards: only two settable properties"),
    item(118, Must, Properties, "CardQueryCapabilities rules"),
    item(119, Must, Properties, "CardQueryKeySizes rules"),
    item(120, Must, Properties, "CardGetContainerProperty rules"),
    item(121, Must, Properties, "CardSetContainerProperty rules"),
    item(122, Must, Containers, "CSP-assigned one-byte container index"),
    item(123, Must, Containers, "CardCreateContainer flags (gen/import)"),
    item(124, Must, Containers, "dwKeySpec and dwKeySize rules"),
    item(125, Must, Containers, "Invalid index NO_KEY_CONTAINER; overwrite existing"),
    item(126, Must, Containers, "Import PRIVATEKEYBLOB validation"),
    item(127, Must, Containers, "Only users create containers"),
    item(128, Must, Containers, "CardCreateContainerEx PIN id"),
    item(129, Must, Containers, "CardDeleteContainer rules"),
    item(130, Must, Containers, "CardGetContainerInfo rules"),
    item(131, Must, Containers, "RSA PUBLICKEYBLOB format"),
    item(132, Must, Containers, "ECC BCRYPT_ECCKEY_BLOB format"),
    item(133, Should, Containers, "cmapfile sizes, stable GUIDs, one default"),
    item(134, Must, Crypto, "CardSignData NULL checks"),
    item(135, Must, Crypto, "CARD_SIGNING_INFO version checks"),
    item(136, Must, Crypto, "Sign container, key spec, algorithm codes"),
    item(137, Should, Crypto, "dwSigningFlags checks"),
    item(138, Must, Crypto, "PKCS#1 without padding info (aiHashAlg)"),
    item(139, Must, Crypto, "PKCS#1, PSS, raw with padding info"),
    item(140, Must, Crypto, "pbData is the finished hash"),
    item(141, Should, Crypto, "CARD_BUFFER_SIZE_ONLY for signatures"),
    item(142, Must, Crypto, "Signature output format and allocation"),
    item(143, Must, Crypto, "CardRSADecrypt NULL checks"),
    item(144, Must, Crypto, "CARD_RSA_DECRYPT_INFO version checks"),
    item(145, Must, Crypto, "Decrypt container and key spec"),
    item(146, Must, Crypto, "Short buffer; little-endian input"),
    item(147, Must, Crypto, "Decrypt output in place per padding"),
    item(148, Should, Crypto, "No padding oracle"),
    item(149, Must, Crypto, "pfnCspUnpadData limits"),
    item(150, Must, Crypto, "CardConstructDHAgreement rules; ephemeral agreements"),
    item(151, Must, Crypto, "CardDeriveKey rules"),
    item(152, Must, Crypto, "CardDestroyDHAgreement rules"),
    item(153, Must, Cache, "cardcf format (6 bytes)"),
    item(154, Must, Cache, "cardcf persists what the CSP writes"),
    item(155, Must, Cache, "Consistent answers for the CSP cache"),
    item(156, Must, Cache, "Changes outside the CSP bump counters"),
    item(157, Must, Cache, "Cache mode when cardcf cannot persist"),
    item(158, Must, Cache, "Driver-side cache callbacks used correctly"),
    item(159, Should, Cache, "Delete session cache entries after deauth"),
    item(160, Must, Cache, "cardid + cardcf validate the cache"),
    item(161, Must, ReadOnly, "Advertise read-only cards"),
    item(162, Must, ReadOnly, "Read-only cards implement the required set"),
    item(163, Must, ReadOnly, "Read-only cards: write stubs unsupported"),
    item(164, Must, ReadOnly, "Read-only content rules (space, enrollment)"),
    item(165, May, ReadOnly, "Write simulation for the whole insertion"),
    item(166, Should, Ski, "No SKI: property 0, entry points unsupported"),
    item(167, Must, Ski, "MDImportSessionKey/CardImportSessionKey rules"),
    item(168, Must, Ski, "MDEncryptData rules"),
    item(169, Must, Ski, "CardDestroyKey rules"),
    item(170, Must, Ski, "Algorithm/key property functions rules"),
    item(171, Must, Ski, "CardProcessEncryptedData rules"),
    item(172, Must, Registration, "INF registration"),
    item(173, Should, Registration, "cmck/HLK certification run"),
    item(174, Should, Registration, "CSP behaviour around the driver"),
];

/// Item `number`, if there is one.
pub fn item_of(number: u16) -> Option<&'static Item> {
    ITEMS.get(usize::from(number).checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_item_order() {
        for (i, item) in ITEMS.iter().enumerate() {
            assert_eq!(usize::from(item.number), i + 1);
        }
        assert_eq!(item_of(18).map(|i| i.level), Some(Must));
        assert_eq!(item_of(22).map(|i| i.level), Some(May));
        assert!(item_of(0).is_none() && item_of(175).is_none());
    }
}
