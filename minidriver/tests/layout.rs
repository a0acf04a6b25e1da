//! The ABI: sizes and field offsets of `CARD_DATA` and the structures of the minidriver
//! interface (as `windows-sys` defines them and this crate uses them) against Microsoft's CPDK
//! `cardmod.h` for Windows x64. The numbers were generated from
//! `shared/reference/cardmod-layout.txt` (compiled with mingw-w64 against the CPDK header).
#![cfg(target_pointer_width = "64")]

use core::mem::{align_of, offset_of, size_of};

use windows_sys::Win32::Security::Cryptography as c;

#[test]
fn layout_bcrypt_ecckey_blob() {
    assert_eq!(size_of::<c::BCRYPT_ECCKEY_BLOB>(), 8);
    assert_eq!(align_of::<c::BCRYPT_ECCKEY_BLOB>(), 4);
    assert_eq!(offset_of!(c::BCRYPT_ECCKEY_BLOB, dwMagic), 0);
    assert_eq!(offset_of!(c::BCRYPT_ECCKEY_BLOB, cbKey), 4);
}

#[test]
fn layout_bcrypt_oaep_padding_info() {
    assert_eq!(size_of::<c::BCRYPT_OAEP_PADDING_INFO>(), 24);
    assert_eq!(align_of::<c::BCRYPT_OAEP_PADDING_INFO>(), 8);
    assert_eq!(offset_of!(c::BCRYPT_OAEP_PADDING_INFO, pszAlgId), 0);
    assert_eq!(offset_of!(c::BCRYPT_OAEP_PADDING_INFO, pbLabel), 8);
    assert_eq!(offset_of!(c::BCRYPT_OAEP_PADDING_INFO, cbLabel), 16);
}

#[test]
fn layout_bcrypt_pkcs1_padding_info() {
    assert_eq!(size_of::<c::BCRYPT_PKCS1_PADDING_INFO>(), 8);
    assert_eq!(align_of::<c::BCRYPT_PKCS1_PADDING_INFO>(), 8);
    assert_eq!(offset_of!(c::BCRYPT_PKCS1_PADDING_INFO, pszAlgId), 0);
}

#[test]
fn layout_bcrypt_pss_padding_info() {
    assert_eq!(size_of::<c::BCRYPT_PSS_PADDING_INFO>(), 16);
    assert_eq!(align_of::<c::BCRYPT_PSS_PADDING_INFO>(), 8);
    assert_eq!(offset_of!(c::BCRYPT_PSS_PADDING_INFO, pszAlgId), 0);
    assert_eq!(offset_of!(c::BCRYPT_PSS_PADDING_INFO, cbSalt), 8);
}

#[test]
fn layout_bcrypt_rsakey_blob() {
    assert_eq!(size_of::<c::BCRYPT_RSAKEY_BLOB>(), 24);
    assert_eq!(align_of::<c::BCRYPT_RSAKEY_BLOB>(), 4);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, Magic), 0);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, BitLength), 4);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, cbPublicExp), 8);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, cbModulus), 12);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, cbPrime1), 16);
    assert_eq!(offset_of!(c::BCRYPT_RSAKEY_BLOB, cbPrime2), 20);
}

#[test]
fn layout_bcryptbuffer() {
    assert_eq!(size_of::<c::BCryptBuffer>(), 16);
    assert_eq!(align_of::<c::BCryptBuffer>(), 8);
    assert_eq!(offset_of!(c::BCryptBuffer, cbBuffer), 0);
    assert_eq!(offset_of!(c::BCryptBuffer, BufferType), 4);
    assert_eq!(offset_of!(c::BCryptBuffer, pvBuffer), 8);
}

#[test]
fn layout_bcryptbufferdesc() {
    assert_eq!(size_of::<c::BCryptBufferDesc>(), 16);
    assert_eq!(align_of::<c::BCryptBufferDesc>(), 8);
    assert_eq!(offset_of!(c::BCryptBufferDesc, ulVersion), 0);
    assert_eq!(offset_of!(c::BCryptBufferDesc, cBuffers), 4);
    assert_eq!(offset_of!(c::BCryptBufferDesc, pBuffers), 8);
}

#[test]
fn layout_card_authenticate() {
    // The C struct ends in a zero-length array `pbPinData[0]` (its size is that field's offset, 16);
    // windows-sys declares it with one element, so only the offset is compared.
    assert_eq!(align_of::<c::CARD_AUTHENTICATE>(), 4);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE, dwFlags), 4);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE, PinId), 8);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE, cbPinData), 12);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE, pbPinData), 16);
}

#[test]
fn layout_card_authenticate_response() {
    // The C struct ends in a zero-length array `pbSessionPin[0]` (its size is that field's offset, 12);
    // windows-sys declares it with one element, so only the offset is compared.
    assert_eq!(align_of::<c::CARD_AUTHENTICATE_RESPONSE>(), 4);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE_RESPONSE, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE_RESPONSE, cbSessionPin), 4);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE_RESPONSE, cAttemptsRemaining), 8);
    assert_eq!(offset_of!(c::CARD_AUTHENTICATE_RESPONSE, pbSessionPin), 12);
}

#[test]
fn layout_card_cache_file_format() {
    assert_eq!(size_of::<c::CARD_CACHE_FILE_FORMAT>(), 6);
    assert_eq!(align_of::<c::CARD_CACHE_FILE_FORMAT>(), 2);
    assert_eq!(offset_of!(c::CARD_CACHE_FILE_FORMAT, bVersion), 0);
    assert_eq!(offset_of!(c::CARD_CACHE_FILE_FORMAT, bPinsFreshness), 1);
    assert_eq!(offset_of!(c::CARD_CACHE_FILE_FORMAT, wContainersFreshness), 2);
    assert_eq!(offset_of!(c::CARD_CACHE_FILE_FORMAT, wFilesFreshness), 4);
}

#[test]
fn layout_card_capabilities() {
    assert_eq!(size_of::<c::CARD_CAPABILITIES>(), 12);
    assert_eq!(align_of::<c::CARD_CAPABILITIES>(), 4);
    assert_eq!(offset_of!(c::CARD_CAPABILITIES, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_CAPABILITIES, fCertificateCompression), 4);
    assert_eq!(offset_of!(c::CARD_CAPABILITIES, fKeyGen), 8);
}

#[test]
fn layout_card_change_authenticator() {
    // The C struct ends in a zero-length array `pbData[0]` (its size is that field's offset, 28);
    // windows-sys declares it with one element, so only the offset is compared.
    assert_eq!(align_of::<c::CARD_CHANGE_AUTHENTICATOR>(), 4);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, dwFlags), 4);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, dwAuthenticatingPinId), 8);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, cbAuthenticatingPinData), 12);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, dwTargetPinId), 16);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, cbTargetData), 20);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, cRetryCount), 24);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR, pbData), 28);
}

#[test]
fn layout_card_change_authenticator_response() {
    assert_eq!(size_of::<c::CARD_CHANGE_AUTHENTICATOR_RESPONSE>(), 8);
    assert_eq!(align_of::<c::CARD_CHANGE_AUTHENTICATOR_RESPONSE>(), 4);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR_RESPONSE, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_CHANGE_AUTHENTICATOR_RESPONSE, cAttemptsRemaining), 4);
}

#[test]
fn layout_card_data() {
    assert_eq!(size_of::<c::CARD_DATA>(), 504);
    assert_eq!(align_of::<c::CARD_DATA>(), 8);
    assert_eq!(offset_of!(c::CARD_DATA, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_DATA, pbAtr), 8);
    assert_eq!(offset_of!(c::CARD_DATA, cbAtr), 16);
    assert_eq!(offset_of!(c::CARD_DATA, pwszCardName), 24);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspAlloc), 32);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspReAlloc), 40);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspFree), 48);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspCacheAddFile), 56);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspCacheLookupFile), 64);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspCacheDeleteFile), 72);
    assert_eq!(offset_of!(c::CARD_DATA, pvCacheContext), 80);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspPadData), 88);
    assert_eq!(offset_of!(c::CARD_DATA, hSCardCtx), 96);
    assert_eq!(offset_of!(c::CARD_DATA, hScard), 104);
    assert_eq!(offset_of!(c::CARD_DATA, pvVendorSpecific), 112);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeleteContext), 120);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardQueryCapabilities), 128);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeleteContainer), 136);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardCreateContainer), 144);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetContainerInfo), 152);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardAuthenticatePin), 160);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetChallenge), 168);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardAuthenticateChallenge), 176);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardUnblockPin), 184);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardChangeAuthenticator), 192);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeauthenticate), 200);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardCreateDirectory), 208);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeleteDirectory), 216);
    assert_eq!(offset_of!(c::CARD_DATA, pvUnused3), 224);
    assert_eq!(offset_of!(c::CARD_DATA, pvUnused4), 232);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardCreateFile), 240);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardReadFile), 248);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardWriteFile), 256);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeleteFile), 264);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardEnumFiles), 272);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetFileInfo), 280);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardQueryFreeSpace), 288);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardQueryKeySizes), 296);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardSignData), 304);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardRSADecrypt), 312);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardConstructDHAgreement), 320);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeriveKey), 328);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDestroyDHAgreement), 336);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspGetDHAgreement), 344);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetChallengeEx), 352);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardAuthenticateEx), 360);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardChangeAuthenticatorEx), 368);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDeauthenticateEx), 376);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetContainerProperty), 384);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardSetContainerProperty), 392);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetProperty), 400);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardSetProperty), 408);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCspUnpadData), 416);
    assert_eq!(offset_of!(c::CARD_DATA, pfnMDImportSessionKey), 424);
    assert_eq!(offset_of!(c::CARD_DATA, pfnMDEncryptData), 432);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardImportSessionKey), 440);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetSharedKeyHandle), 448);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetAlgorithmProperty), 456);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardGetKeyProperty), 464);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardSetKeyProperty), 472);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardDestroyKey), 480);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardProcessEncryptedData), 488);
    assert_eq!(offset_of!(c::CARD_DATA, pfnCardCreateContainerEx), 496);
}

#[test]
fn layout_card_derive_key() {
    assert_eq!(size_of::<c::CARD_DERIVE_KEY>(), 72);
    assert_eq!(align_of::<c::CARD_DERIVE_KEY>(), 8);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, dwFlags), 4);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, pwszKDF), 8);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, bSecretAgreementIndex), 16);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, pParameterList), 24);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, pbDerivedKey), 32);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, cbDerivedKey), 40);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, pwszAlgId), 48);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, dwKeyLen), 56);
    assert_eq!(offset_of!(c::CARD_DERIVE_KEY, hKey), 64);
}

#[test]
fn layout_card_dh_agreement_info() {
    assert_eq!(size_of::<c::CARD_DH_AGREEMENT_INFO>(), 40);
    assert_eq!(align_of::<c::CARD_DH_AGREEMENT_INFO>(), 8);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, bContainerIndex), 4);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, dwFlags), 8);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, dwPublicKey), 12);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, pbPublicKey), 16);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, pbReserved), 24);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, cbReserved), 32);
    assert_eq!(offset_of!(c::CARD_DH_AGREEMENT_INFO, bSecretAgreementIndex), 36);
}

#[test]
fn layout_card_encrypted_data() {
    assert_eq!(size_of::<c::CARD_ENCRYPTED_DATA>(), 16);
    assert_eq!(align_of::<c::CARD_ENCRYPTED_DATA>(), 8);
    assert_eq!(offset_of!(c::CARD_ENCRYPTED_DATA, pbEncryptedData), 0);
    assert_eq!(offset_of!(c::CARD_ENCRYPTED_DATA, cbEncryptedData), 8);
}

#[test]
fn layout_card_file_info() {
    assert_eq!(size_of::<c::CARD_FILE_INFO>(), 12);
    assert_eq!(align_of::<c::CARD_FILE_INFO>(), 4);
    assert_eq!(offset_of!(c::CARD_FILE_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_FILE_INFO, cbFileSize), 4);
    assert_eq!(offset_of!(c::CARD_FILE_INFO, AccessCondition), 8);
}

#[test]
fn layout_card_free_space_info() {
    assert_eq!(size_of::<c::CARD_FREE_SPACE_INFO>(), 16);
    assert_eq!(align_of::<c::CARD_FREE_SPACE_INFO>(), 4);
    assert_eq!(offset_of!(c::CARD_FREE_SPACE_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_FREE_SPACE_INFO, dwBytesAvailable), 4);
    assert_eq!(offset_of!(c::CARD_FREE_SPACE_INFO, dwKeyContainersAvailable), 8);
    assert_eq!(offset_of!(c::CARD_FREE_SPACE_INFO, dwMaxKeyContainers), 12);
}

#[test]
fn layout_card_import_keypair() {
    // The C struct ends in a zero-length array `pbInput[0]` (its size is that field's offset, 24);
    // windows-sys declares it with one element, so only the offset is compared.
    assert_eq!(align_of::<c::CARD_IMPORT_KEYPAIR>(), 4);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, bContainerIndex), 4);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, PinId), 8);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, dwKeySpec), 12);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, dwKeySize), 16);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, cbInput), 20);
    assert_eq!(offset_of!(c::CARD_IMPORT_KEYPAIR, pbInput), 24);
}

#[test]
fn layout_card_key_sizes() {
    assert_eq!(size_of::<c::CARD_KEY_SIZES>(), 20);
    assert_eq!(align_of::<c::CARD_KEY_SIZES>(), 4);
    assert_eq!(offset_of!(c::CARD_KEY_SIZES, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_KEY_SIZES, dwMinimumBitlen), 4);
    assert_eq!(offset_of!(c::CARD_KEY_SIZES, dwDefaultBitlen), 8);
    assert_eq!(offset_of!(c::CARD_KEY_SIZES, dwMaximumBitlen), 12);
    assert_eq!(offset_of!(c::CARD_KEY_SIZES, dwIncrementalBitlen), 16);
}

#[test]
fn layout_card_rsa_decrypt_info() {
    assert_eq!(size_of::<c::CARD_RSA_DECRYPT_INFO>(), 48);
    assert_eq!(align_of::<c::CARD_RSA_DECRYPT_INFO>(), 8);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, bContainerIndex), 4);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, dwKeySpec), 8);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, pbData), 16);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, cbData), 24);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, pPaddingInfo), 32);
    assert_eq!(offset_of!(c::CARD_RSA_DECRYPT_INFO, dwPaddingType), 40);
}

#[test]
fn layout_card_signing_info() {
    assert_eq!(size_of::<c::CARD_SIGNING_INFO>(), 72);
    assert_eq!(align_of::<c::CARD_SIGNING_INFO>(), 8);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, bContainerIndex), 4);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, dwKeySpec), 8);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, dwSigningFlags), 12);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, aiHashAlg), 16);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, pbData), 24);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, cbData), 32);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, pbSignedData), 40);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, cbSignedData), 48);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, pPaddingInfo), 56);
    assert_eq!(offset_of!(c::CARD_SIGNING_INFO, dwPaddingType), 64);
}

#[test]
fn layout_container_info() {
    assert_eq!(size_of::<c::CONTAINER_INFO>(), 40);
    assert_eq!(align_of::<c::CONTAINER_INFO>(), 8);
    assert_eq!(offset_of!(c::CONTAINER_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::CONTAINER_INFO, dwReserved), 4);
    assert_eq!(offset_of!(c::CONTAINER_INFO, cbSigPublicKey), 8);
    assert_eq!(offset_of!(c::CONTAINER_INFO, pbSigPublicKey), 16);
    assert_eq!(offset_of!(c::CONTAINER_INFO, cbKeyExPublicKey), 24);
    assert_eq!(offset_of!(c::CONTAINER_INFO, pbKeyExPublicKey), 32);
}

#[test]
fn layout_container_map_record() {
    assert_eq!(size_of::<c::CONTAINER_MAP_RECORD>(), 86);
    assert_eq!(align_of::<c::CONTAINER_MAP_RECORD>(), 2);
    assert_eq!(offset_of!(c::CONTAINER_MAP_RECORD, wszGuid), 0);
    assert_eq!(offset_of!(c::CONTAINER_MAP_RECORD, bFlags), 80);
    assert_eq!(offset_of!(c::CONTAINER_MAP_RECORD, bReserved), 81);
    assert_eq!(offset_of!(c::CONTAINER_MAP_RECORD, wSigKeySizeBits), 82);
    assert_eq!(offset_of!(c::CONTAINER_MAP_RECORD, wKeyExchangeKeySizeBits), 84);
}

#[test]
fn layout_pin_cache_policy() {
    assert_eq!(size_of::<c::PIN_CACHE_POLICY>(), 12);
    assert_eq!(align_of::<c::PIN_CACHE_POLICY>(), 4);
    assert_eq!(offset_of!(c::PIN_CACHE_POLICY, dwVersion), 0);
    assert_eq!(offset_of!(c::PIN_CACHE_POLICY, PinCachePolicyType), 4);
    assert_eq!(offset_of!(c::PIN_CACHE_POLICY, dwPinCachePolicyInfo), 8);
}

#[test]
fn layout_pin_info() {
    assert_eq!(size_of::<c::PIN_INFO>(), 36);
    assert_eq!(align_of::<c::PIN_INFO>(), 4);
    assert_eq!(offset_of!(c::PIN_INFO, dwVersion), 0);
    assert_eq!(offset_of!(c::PIN_INFO, PinType), 4);
    assert_eq!(offset_of!(c::PIN_INFO, PinPurpose), 8);
    assert_eq!(offset_of!(c::PIN_INFO, dwChangePermission), 12);
    assert_eq!(offset_of!(c::PIN_INFO, dwUnblockPermission), 16);
    assert_eq!(offset_of!(c::PIN_INFO, PinCachePolicy), 20);
    assert_eq!(offset_of!(c::PIN_INFO, dwFlags), 32);
}

#[test]
fn layout_publickeystruc() {
    assert_eq!(size_of::<c::PUBLICKEYSTRUC>(), 8);
    assert_eq!(align_of::<c::PUBLICKEYSTRUC>(), 4);
    assert_eq!(offset_of!(c::PUBLICKEYSTRUC, bType), 0);
    assert_eq!(offset_of!(c::PUBLICKEYSTRUC, bVersion), 1);
    assert_eq!(offset_of!(c::PUBLICKEYSTRUC, reserved), 2);
    assert_eq!(offset_of!(c::PUBLICKEYSTRUC, aiKeyAlg), 4);
}

#[test]
fn layout_rsapubkey() {
    assert_eq!(size_of::<c::RSAPUBKEY>(), 12);
    assert_eq!(align_of::<c::RSAPUBKEY>(), 4);
    assert_eq!(offset_of!(c::RSAPUBKEY, magic), 0);
    assert_eq!(offset_of!(c::RSAPUBKEY, bitlen), 4);
    assert_eq!(offset_of!(c::RSAPUBKEY, pubexp), 8);
}

/// `CARD_DATA`'s extent per version: where the table of each version ends (no pointer of a later
/// version is written for an older caller).
#[test]
fn card_data_version_extents() {
    use minidriver::abi::version::card_data_extent;
    assert_eq!(card_data_extent(4), offset_of!(c::CARD_DATA, pfnCardConstructDHAgreement) + 8);
    assert_eq!(card_data_extent(5), offset_of!(c::CARD_DATA, pfnCspGetDHAgreement) + 8);
    assert_eq!(card_data_extent(6), offset_of!(c::CARD_DATA, pfnCardSetProperty) + 8);
    assert_eq!(card_data_extent(7), size_of::<c::CARD_DATA>());
    assert_eq!(
        (card_data_extent(4), card_data_extent(5), card_data_extent(6), card_data_extent(7)),
        (328, 352, 416, 504)
    );
}

/// The crate's ABI constants equal `windows-sys`'s (and so the CPDK header's).
#[test]
fn constants_match_windows_sys() {
    use minidriver::abi::{crypt, keyspec, pin, prop, version};
    assert_eq!(version::CURRENT, c::CARD_DATA_CURRENT_VERSION);
    assert_eq!(
        (crypt::PADDING_NONE, crypt::PADDING_PKCS1, crypt::PADDING_PSS, crypt::PADDING_OAEP),
        (c::CARD_PADDING_NONE, c::CARD_PADDING_PKCS1, c::CARD_PADDING_PSS, c::CARD_PADDING_OAEP)
    );
    assert_eq!(crypt::PADDING_INFO_PRESENT, c::CARD_PADDING_INFO_PRESENT);
    assert_eq!(crypt::BUFFER_SIZE_ONLY, c::CARD_BUFFER_SIZE_ONLY);
    assert_eq!(crypt::RETURN_KEY_HANDLE, c::CARD_RETURN_KEY_HANDLE);
    assert_eq!((keyspec::AT_ECDSA_P256, keyspec::AT_ECDHE_P521), (c::AT_ECDSA_P256, c::AT_ECDHE_P521));
    assert_eq!((pin::ROLE_EVERYONE, pin::ROLE_USER, pin::ROLE_ADMIN), (c::ROLE_EVERYONE, c::ROLE_USER, c::ROLE_ADMIN));
    assert_eq!(pin::PIN_INFO_VERSION, c::PIN_INFO_CURRENT_VERSION);
    assert_eq!(
        (pin::GENERATE_SESSION_PIN, pin::SESSION_PIN, pin::SILENT_CONTEXT),
        (c::CARD_AUTHENTICATE_GENERATE_SESSION_PIN, c::CARD_AUTHENTICATE_SESSION_PIN, c::CARD_PIN_SILENT_CONTEXT)
    );
    assert_eq!(
        (prop::CACHE_MODE_GLOBAL, prop::CACHE_MODE_SESSION_ONLY, prop::CACHE_MODE_NO_CACHE),
        (c::CP_CACHE_MODE_GLOBAL_CACHE, c::CP_CACHE_MODE_SESSION_ONLY, c::CP_CACHE_MODE_NO_CACHE)
    );
}
