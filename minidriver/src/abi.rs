//! The numbers of the minidriver ABI (Microsoft's CPDK `cardmod.h`, Windows x64), in one place.
//!
//! Structures come from `windows-sys` (its `CARD_DATA` is the CPDK v7 layout); the values here
//! are checked against `shared/reference/cardmod-layout.txt` and against `windows-sys` in tests.

/// Return codes (`DWORD`) the entry points use.
pub mod code {
    /// Success.
    pub const SUCCESS: u32 = 0;
    /// `SCARD_F_INTERNAL_ERROR`.
    pub const SCARD_F_INTERNAL_ERROR: u32 = 0x8010_0001;
    /// `SCARD_E_INVALID_HANDLE`.
    pub const SCARD_E_INVALID_HANDLE: u32 = 0x8010_0003;
    /// `SCARD_E_INVALID_PARAMETER`.
    pub const SCARD_E_INVALID_PARAMETER: u32 = 0x8010_0004;
    /// `SCARD_E_NO_MEMORY`.
    pub const SCARD_E_NO_MEMORY: u32 = 0x8010_0006;
    /// `SCARD_E_INSUFFICIENT_BUFFER`.
    pub const SCARD_E_INSUFFICIENT_BUFFER: u32 = 0x8010_0008;
    /// `SCARD_E_NO_SMARTCARD`.
    pub const SCARD_E_NO_SMARTCARD: u32 = 0x8010_000C;
    /// `SCARD_E_UNKNOWN_CARD`.
    pub const SCARD_E_UNKNOWN_CARD: u32 = 0x8010_000D;
    /// `SCARD_E_UNEXPECTED`.
    pub const SCARD_E_UNEXPECTED: u32 = 0x8010_001F;
    /// `SCARD_E_UNSUPPORTED_FEATURE`.
    pub const SCARD_E_UNSUPPORTED_FEATURE: u32 = 0x8010_0022;
    /// `SCARD_E_DIR_NOT_FOUND`.
    pub const SCARD_E_DIR_NOT_FOUND: u32 = 0x8010_0023;
    /// `SCARD_E_FILE_NOT_FOUND`.
    pub const SCARD_E_FILE_NOT_FOUND: u32 = 0x8010_0024;
    /// `SCARD_E_WRITE_TOO_MANY`.
    pub const SCARD_E_WRITE_TOO_MANY: u32 = 0x8010_0028;
    /// `SCARD_E_NO_KEY_CONTAINER`.
    pub const SCARD_E_NO_KEY_CONTAINER: u32 = 0x8010_0030;
    /// `SCARD_E_NO_READERS_AVAILABLE`.
    pub const SCARD_E_NO_READERS_AVAILABLE: u32 = 0x8010_002E;
    /// `SCARD_E_NO_SERVICE`.
    pub const SCARD_E_NO_SERVICE: u32 = 0x8010_001D;
    /// `SCARD_W_RESET_CARD`.
    pub const SCARD_W_RESET_CARD: u32 = 0x8010_0068;
    /// `SCARD_W_REMOVED_CARD`.
    pub const SCARD_W_REMOVED_CARD: u32 = 0x8010_0069;
    /// `SCARD_W_SECURITY_VIOLATION`.
    pub const SCARD_W_SECURITY_VIOLATION: u32 = 0x8010_006A;
    /// `SCARD_W_WRONG_CHV`.
    pub const SCARD_W_WRONG_CHV: u32 = 0x8010_006B;
    /// `SCARD_W_CHV_BLOCKED`.
    pub const SCARD_W_CHV_BLOCKED: u32 = 0x8010_006C;
    /// `SCARD_W_CANCELLED_BY_USER`.
    pub const SCARD_W_CANCELLED_BY_USER: u32 = 0x8010_006E;
    /// `ERROR_NOT_ENOUGH_MEMORY`.
    pub const ERROR_NOT_ENOUGH_MEMORY: u32 = 0x8;
    /// `ERROR_BAD_LENGTH`.
    pub const ERROR_BAD_LENGTH: u32 = 0x18;
    /// `ERROR_FILE_EXISTS`.
    pub const ERROR_FILE_EXISTS: u32 = 0x50;
    /// `ERROR_INSUFFICIENT_BUFFER`.
    pub const ERROR_INSUFFICIENT_BUFFER: u32 = 0x7A;
    /// `ERROR_DIR_NOT_EMPTY`.
    pub const ERROR_DIR_NOT_EMPTY: u32 = 0x91;
    /// `ERROR_NOT_FOUND`.
    pub const ERROR_NOT_FOUND: u32 = 0x490;
    /// `ERROR_REVISION_MISMATCH`.
    pub const ERROR_REVISION_MISMATCH: u32 = 0x51A;
}

/// `CARD_DATA` versions and the byte extent of each (x64): no field past the negotiated
/// version's extent may be written.
pub mod version {
    /// The oldest `CARD_DATA` version accepted.
    pub const MINIMUM: u32 = 4;
    /// The newest `CARD_DATA` version implemented.
    pub const CURRENT: u32 = 7;

    /// Bytes of `CARD_DATA` that exist in `version` (4..=7).
    pub const fn card_data_extent(version: u32) -> usize {
        match version {
            4 => 328,
            5 => 352,
            6 => 416,
            _ => 504,
        }
    }
}

/// PIN roles and PIN-related values.
pub mod pin {
    /// `ROLE_EVERYONE`.
    pub const ROLE_EVERYONE: u32 = 0;
    /// `ROLE_USER`.
    pub const ROLE_USER: u32 = 1;
    /// `ROLE_ADMIN`.
    pub const ROLE_ADMIN: u32 = 2;
    /// `MAX_PINS`.
    pub const MAX_PINS: u32 = 8;
    /// `PIN_SET_ALL_ROLES`.
    pub const PIN_SET_ALL_ROLES: u32 = 0xFF;
    /// `PIN_INFO_CURRENT_VERSION` (and `PIN_CACHE_POLICY_CURRENT_VERSION`).
    pub const PIN_INFO_VERSION: u32 = 6;
    /// `AlphaNumericPinType`.
    pub const ALPHANUMERIC: u32 = 0;
    /// `ExternalPinType`.
    pub const EXTERNAL: u32 = 1;
    /// `ChallengeResponsePinType`.
    pub const CHALLENGE_RESPONSE: u32 = 2;
    /// `EmptyPinType`.
    pub const EMPTY: u32 = 3;
    /// `DigitalSignaturePin`.
    pub const PURPOSE_DIGITAL_SIGNATURE: u32 = 1;
    /// `AdministratorPin`.
    pub const PURPOSE_ADMINISTRATOR: u32 = 4;
    /// `PrimaryCardPin`.
    pub const PURPOSE_PRIMARY: u32 = 5;
    /// `UnblockOnlyPin`.
    pub const PURPOSE_UNBLOCK_ONLY: u32 = 6;
    /// `PinCacheNormal`.
    pub const CACHE_NORMAL: u32 = 0;
    /// `PinCacheAlwaysPrompt`.
    pub const CACHE_ALWAYS_PROMPT: u32 = 3;
    /// `CARD_AUTHENTICATE_GENERATE_SESSION_PIN`.
    pub const GENERATE_SESSION_PIN: u32 = 0x1000_0000;
    /// `CARD_AUTHENTICATE_SESSION_PIN`.
    pub const SESSION_PIN: u32 = 0x2000_0000;
    /// `CARD_PIN_SILENT_CONTEXT`.
    pub const SILENT_CONTEXT: u32 = 0x40;
    /// `CARD_PIN_STRENGTH_PLAINTEXT`.
    pub const STRENGTH_PLAINTEXT: u32 = 1;
    /// `CARD_PIN_STRENGTH_SESSION_PIN`.
    pub const STRENGTH_SESSION_PIN: u32 = 2;
    /// `CARD_AUTHENTICATE_PIN_CHALLENGE_RESPONSE`.
    pub const AUTH_CHALLENGE_RESPONSE: u32 = 1;
    /// `CARD_AUTHENTICATE_PIN_PIN`.
    pub const AUTH_PIN: u32 = 2;
    /// `PIN_CHANGE_FLAG_UNBLOCK`.
    pub const CHANGE_FLAG_UNBLOCK: u32 = 1;
    /// `PIN_CHANGE_FLAG_CHANGEPIN`.
    pub const CHANGE_FLAG_CHANGEPIN: u32 = 2;
    /// `CREATE_PIN_SET(id)`.
    pub const fn set_of(id: u32) -> u32 {
        if id < MAX_PINS { 1 << id } else { 0 }
    }
}

/// Key specs (`dwKeySpec`).
pub mod keyspec {
    /// `AT_KEYEXCHANGE` (RSA).
    pub const AT_KEYEXCHANGE: u32 = 1;
    /// `AT_SIGNATURE` (RSA).
    pub const AT_SIGNATURE: u32 = 2;
    /// `AT_ECDSA_P256`.
    pub const AT_ECDSA_P256: u32 = 3;
    /// `AT_ECDSA_P384`.
    pub const AT_ECDSA_P384: u32 = 4;
    /// `AT_ECDSA_P521`.
    pub const AT_ECDSA_P521: u32 = 5;
    /// `AT_ECDHE_P256`.
    pub const AT_ECDHE_P256: u32 = 6;
    /// `AT_ECDHE_P384`.
    pub const AT_ECDHE_P384: u32 = 7;
    /// `AT_ECDHE_P521`.
    pub const AT_ECDHE_P521: u32 = 8;
}

/// Signing, decryption and key-agreement values.
pub mod crypt {
    /// `CARD_PADDING_INFO_PRESENT`.
    pub const PADDING_INFO_PRESENT: u32 = 0x4000_0000;
    /// `CARD_BUFFER_SIZE_ONLY`.
    pub const BUFFER_SIZE_ONLY: u32 = 0x2000_0000;
    /// `CRYPT_NOHASHOID`.
    pub const NOHASHOID: u32 = 0x1;
    /// `CARD_PADDING_NONE`.
    pub const PADDING_NONE: u32 = 1;
    /// `CARD_PADDING_PKCS1`.
    pub const PADDING_PKCS1: u32 = 2;
    /// `CARD_PADDING_PSS`.
    pub const PADDING_PSS: u32 = 4;
    /// `CARD_PADDING_OAEP`.
    pub const PADDING_OAEP: u32 = 8;
    /// `CALG_MD5`.
    pub const CALG_MD5: u32 = 0x8003;
    /// `CALG_SHA1`.
    pub const CALG_SHA1: u32 = 0x8004;
    /// `CALG_SSL3_SHAMD5`.
    pub const CALG_SSL3_SHAMD5: u32 = 0x8008;
    /// `CALG_SHA_256`.
    pub const CALG_SHA_256: u32 = 0x800C;
    /// `CALG_SHA_384`.
    pub const CALG_SHA_384: u32 = 0x800D;
    /// `CALG_SHA_512`.
    pub const CALG_SHA_512: u32 = 0x800E;
    /// `CALG_RSA_SIGN`.
    pub const CALG_RSA_SIGN: u32 = 0x2400;
    /// `CALG_RSA_KEYX`.
    pub const CALG_RSA_KEYX: u32 = 0xA400;
    /// `CARD_RETURN_KEY_HANDLE`.
    pub const RETURN_KEY_HANDLE: u32 = 0x0100_0000;
    /// `KDF_USE_SECRET_AS_HMAC_KEY_FLAG`.
    pub const KDF_USE_SECRET_AS_HMAC_KEY: u32 = 0x1;
    /// `BCRYPT_ECDH_PUBLIC_P256_MAGIC`.
    pub const ECDH_PUBLIC_P256_MAGIC: u32 = 0x314B_4345;
    /// `BCRYPT_ECDH_PUBLIC_P384_MAGIC`.
    pub const ECDH_PUBLIC_P384_MAGIC: u32 = 0x334B_4345;
    /// `BCRYPT_ECDH_PUBLIC_P521_MAGIC`.
    pub const ECDH_PUBLIC_P521_MAGIC: u32 = 0x354B_4345;
    /// `BCRYPT_ECDSA_PUBLIC_P256_MAGIC`.
    pub const ECDSA_PUBLIC_P256_MAGIC: u32 = 0x3153_4345;
    /// `BCRYPT_ECDSA_PUBLIC_P384_MAGIC`.
    pub const ECDSA_PUBLIC_P384_MAGIC: u32 = 0x3353_4345;
    /// `BCRYPT_ECDSA_PUBLIC_P521_MAGIC`.
    pub const ECDSA_PUBLIC_P521_MAGIC: u32 = 0x3553_4345;
}

/// Card and container property names (`wszProperty`), compared after UTF-16 decoding.
pub mod prop {
    /// `CP_CARD_FREE_SPACE`.
    pub const FREE_SPACE: &str = "Free Space";
    /// `CP_CARD_CAPABILITIES`.
    pub const CAPABILITIES: &str = "Capabilities";
    /// `CP_CARD_KEYSIZES`.
    pub const KEY_SIZES: &str = "Key Sizes";
    /// `CP_CARD_READ_ONLY`.
    pub const READ_ONLY: &str = "Read Only Mode";
    /// `CP_CARD_CACHE_MODE`.
    pub const CACHE_MODE: &str = "Cache Mode";
    /// `CP_SUPPORTS_WIN_X509_ENROLLMENT`.
    pub const X509_ENROLLMENT: &str = "Supports Windows x.509 Enrollment";
    /// `CP_CARD_GUID`.
    pub const CARD_GUID: &str = "Card Identifier";
    /// `CP_CARD_SERIAL_NO`.
    pub const SERIAL_NO: &str = "Card Serial Number";
    /// `CP_CARD_PIN_INFO`.
    pub const PIN_INFO: &str = "PIN Information";
    /// `CP_CARD_LIST_PINS`.
    pub const LIST_PINS: &str = "PIN List";
    /// `CP_CARD_AUTHENTICATED_STATE`.
    pub const AUTHENTICATED_STATE: &str = "Authenticated State";
    /// `CP_CARD_PIN_STRENGTH_VERIFY`.
    pub const PIN_STRENGTH_VERIFY: &str = "PIN Strength Verify";
    /// `CP_CARD_PIN_STRENGTH_CHANGE`.
    pub const PIN_STRENGTH_CHANGE: &str = "PIN Strength Change";
    /// `CP_CARD_PIN_STRENGTH_UNBLOCK`.
    pub const PIN_STRENGTH_UNBLOCK: &str = "PIN Strength Unblock";
    /// `CP_PARENT_WINDOW`.
    pub const PARENT_WINDOW: &str = "Parent Window";
    /// `CP_PIN_CONTEXT_STRING`.
    pub const PIN_CONTEXT_STRING: &str = "PIN Context String";
    /// `CP_KEY_IMPORT_SUPPORT`.
    pub const KEY_IMPORT_SUPPORT: &str = "Key Import Support";
    /// `CP_ENUM_ALGORITHMS`.
    pub const ENUM_ALGORITHMS: &str = "Algorithms";
    /// `CP_PADDING_SCHEMES`.
    pub const PADDING_SCHEMES: &str = "Padding Schemes";
    /// `CP_CHAINING_MODES`.
    pub const CHAINING_MODES: &str = "Chaining Modes";
    /// `CCP_CONTAINER_INFO`.
    pub const CONTAINER_INFO: &str = "Container Info";
    /// `CCP_PIN_IDENTIFIER`.
    pub const PIN_IDENTIFIER: &str = "PIN Identifier";
    /// `CCP_ASSOCIATED_ECDH_KEY`.
    pub const ASSOCIATED_ECDH_KEY: &str = "Associated ECDH Key";
    /// `CP_CACHE_MODE_GLOBAL_CACHE`.
    pub const CACHE_MODE_GLOBAL: u32 = 1;
    /// `CP_CACHE_MODE_SESSION_ONLY`.
    pub const CACHE_MODE_SESSION_ONLY: u32 = 2;
    /// `CP_CACHE_MODE_NO_CACHE`.
    pub const CACHE_MODE_NO_CACHE: u32 = 3;
    /// `CARD_CIPHER_OPERATION`.
    pub const CIPHER_OPERATION: u32 = 1;
    /// `CARD_ASYMMETRIC_OPERATION`.
    pub const ASYMMETRIC_OPERATION: u32 = 2;
}

/// Miscellaneous flags and versions.
pub mod misc {
    /// `CARD_SECURE_KEY_INJECTION_NO_CARD_MODE`.
    pub const NO_CARD_MODE: u32 = 1;
    /// `CARD_CREATE_CONTAINER_KEY_GEN`.
    pub const CREATE_CONTAINER_KEY_GEN: u32 = 1;
    /// `CARD_CREATE_CONTAINER_KEY_IMPORT`.
    pub const CREATE_CONTAINER_KEY_IMPORT: u32 = 2;
    /// `UserCreateDeleteDirAc`.
    pub const USER_CREATE_DELETE_DIR_AC: u32 = 1;
    /// `AdminCreateDeleteDirAc`.
    pub const ADMIN_CREATE_DELETE_DIR_AC: u32 = 2;
    /// `CARD_DATA_VALUE_UNKNOWN`.
    pub const VALUE_UNKNOWN: u32 = 0xFFFF_FFFF;
}
