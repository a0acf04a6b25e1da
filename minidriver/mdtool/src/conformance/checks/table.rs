//! The function table `CardAcquireContext` fills (§4.2.5, §4.7.1-4.7.4, §7.4): which entry
//! points must be there at each version, which may be NULL, and the two unused slots.

use minidriver::abi::keyspec;
use windows_sys::Win32::Security::Cryptography::CARD_DATA;

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use crate::csp::AcquireOptions;

pub(crate) const CHECKS: &[Check] = &[
    check("table.required_entries", 28, "the entry points every driver implements are in the table", required),
    check("table.other_entries", 28, "every other entry point is present (a stub at least)", others)
        .level(Level::Should),
    check("table.unused_slots", 28, "pvUnused3 and pvUnused4 are NULL", unused).level(Level::Should),
];

/// Why an entry point may be NULL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Never: the read-only card table (§7.4) says "must be implemented fully".
    Required,
    /// "Entry point must exist" as a stub at least (§7.4).
    Stub,
    /// `pfnCardDeauthenticate`: NULL makes the CSP reset the card instead (§4.2.5).
    Optional,
    /// `pfnCardRSADecrypt`: NULL for ECC-only cards (§4.7.1).
    Rsa,
    /// The DH agreement entry points: NULL for RSA-only cards (§4.7.2-4.7.4).
    Ecdh,
}

/// Each entry point: name, the version that brought it, its rule, and whether it is set.
fn entries(cd: &CARD_DATA) -> Vec<(&'static str, u32, Rule, bool)> {
    use Rule::{Ecdh, Optional, Required, Rsa, Stub};
    vec![
        ("CardDeleteContext", 4, Required, cd.pfnCardDeleteContext.is_some()),
        ("CardQueryCapabilities", 4, Required, cd.pfnCardQueryCapabilities.is_some()),
        ("CardDeleteContainer", 4, Stub, cd.pfnCardDeleteContainer.is_some()),
        ("CardCreateContainer", 4, Stub, cd.pfnCardCreateContainer.is_some()),
        ("CardGetContainerInfo", 4, Required, cd.pfnCardGetContainerInfo.is_some()),
        ("CardAuthenticatePin", 4, Required, cd.pfnCardAuthenticatePin.is_some()),
        ("CardGetChallenge", 4, Stub, cd.pfnCardGetChallenge.is_some()),
        ("CardAuthenticateChallenge", 4, Stub, cd.pfnCardAuthenticateChallenge.is_some()),
        ("CardUnblockPin", 4, Stub, cd.pfnCardUnblockPin.is_some()),
        ("CardChangeAuthenticator", 4, Stub, cd.pfnCardChangeAuthenticator.is_some()),
        ("CardDeauthenticate", 4, Optional, cd.pfnCardDeauthenticate.is_some()),
        ("CardCreateDirectory", 4, Stub, cd.pfnCardCreateDirectory.is_some()),
        ("CardDeleteDirectory", 4, Stub, cd.pfnCardDeleteDirectory.is_some()),
        ("CardCreateFile", 4, Stub, cd.pfnCardCreateFile.is_some()),
        ("CardReadFile", 4, Required, cd.pfnCardReadFile.is_some()),
        ("CardWriteFile", 4, Stub, cd.pfnCardWriteFile.is_some()),
        ("CardDeleteFile", 4, Stub, cd.pfnCardDeleteFile.is_some()),
        ("CardEnumFiles", 4, Required, cd.pfnCardEnumFiles.is_some()),
        ("CardGetFileInfo", 4, Required, cd.pfnCardGetFileInfo.is_some()),
        ("CardQueryFreeSpace", 4, Required, cd.pfnCardQueryFreeSpace.is_some()),
        ("CardQueryKeySizes", 4, Required, cd.pfnCardQueryKeySizes.is_some()),
        ("CardSignData", 4, Required, cd.pfnCardSignData.is_some()),
        ("CardRSADecrypt", 4, Rsa, cd.pfnCardRSADecrypt.is_some()),
        ("CardConstructDHAgreement", 4, Ecdh, cd.pfnCardConstructDHAgreement.is_some()),
        ("CardDeriveKey", 5, Ecdh, cd.pfnCardDeriveKey.is_some()),
        ("CardDestroyDHAgreement", 5, Ecdh, cd.pfnCardDestroyDHAgreement.is_some()),
        ("CardGetChallengeEx", 6, Stub, cd.pfnCardGetChallengeEx.is_some()),
        ("CardAuthenticateEx", 6, Required, cd.pfnCardAuthenticateEx.is_some()),
        ("CardChangeAuthenticatorEx", 6, Stub, cd.pfnCardChangeAuthenticatorEx.is_some()),
        ("CardDeauthenticateEx", 6, Required, cd.pfnCardDeauthenticateEx.is_some()),
        ("CardGetContainerProperty", 6, Required, cd.pfnCardGetContainerProperty.is_some()),
        ("CardSetContainerProperty", 6, Stub, cd.pfnCardSetContainerProperty.is_some()),
        ("CardGetProperty", 6, Required, cd.pfnCardGetProperty.is_some()),
        ("CardSetProperty", 6, Required, cd.pfnCardSetProperty.is_some()),
        ("MDImportSessionKey", 7, Stub, cd.pfnMDImportSessionKey.is_some()),
        ("MDEncryptData", 7, Stub, cd.pfnMDEncryptData.is_some()),
        ("CardImportSessionKey", 7, Stub, cd.pfnCardImportSessionKey.is_some()),
        ("CardGetSharedKeyHandle", 7, Stub, cd.pfnCardGetSharedKeyHandle.is_some()),
        ("CardGetAlgorithmProperty", 7, Stub, cd.pfnCardGetAlgorithmProperty.is_some()),
        ("CardGetKeyProperty", 7, Stub, cd.pfnCardGetKeyProperty.is_some()),
        ("CardSetKeyProperty", 7, Stub, cd.pfnCardSetKeyProperty.is_some()),
        ("CardDestroyKey", 7, Stub, cd.pfnCardDestroyKey.is_some()),
        ("CardProcessEncryptedData", 7, Stub, cd.pfnCardProcessEncryptedData.is_some()),
        ("CardCreateContainerEx", 7, Stub, cd.pfnCardCreateContainerEx.is_some()),
    ]
}

/// The entry points missing from a table acquired at each version from 4 to 7 under `rules`.
fn missing(run: &mut Run<'_>, rules: &[Rule]) -> Result<Vec<String>, Verdict> {
    let mut out = Vec::new();
    for v in 4..=7 {
        let csp = match run.acquire(&AcquireOptions { version: v, ..run.bench.options() }) {
            Ok(csp) => csp,
            Err(_) if v < 7 => continue,
            Err(c) => return Err(Verdict::skip(format!("no version 7 context: CardAcquireContext returned {c}"))),
        };
        for (name, since, rule, present) in entries(csp.raw()) {
            if since <= v && rules.contains(&rule) && !present {
                out.push(format!("{name} (version {v})"));
            }
        }
    }
    out.dedup();
    Ok(out)
}

fn required(run: &mut Run<'_>) -> Checked {
    let absent = missing(run, &[Rule::Required])?;
    ensure(absent.is_empty(), || format!("NULL in the table: {}", absent.join(", ")))?;
    Ok(Verdict::pass("all 16 present at every version the driver takes"))
}

fn others(run: &mut Run<'_>) -> Checked {
    let survey = run.survey()?;
    let has = |specs: &[u32]| survey.keys().any(|(_, k)| specs.contains(&k.key_spec));
    let rsa = has(&[keyspec::AT_KEYEXCHANGE]);
    let ecdh = has(&[keyspec::AT_ECDHE_P256, keyspec::AT_ECDHE_P384, keyspec::AT_ECDHE_P521]);
    let mut rules = vec![Rule::Stub];
    if rsa {
        rules.push(Rule::Rsa);
    }
    if ecdh {
        rules.push(Rule::Ecdh);
    }
    let absent = missing(run, &rules)?;
    ensure(absent.is_empty(), || format!("NULL in the table: {}", absent.join(", ")))?;
    let dh = if ecdh {
        "with the DH agreement entry points (the card has ECDH keys)"
    } else {
        "DH agreement entry points may be NULL (no ECDH key)"
    };
    Ok(Verdict::pass(format!("present at every version; {dh}")))
}

fn unused(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let cd = csp.raw();
    ensure(cd.pvUnused3.is_null() && cd.pvUnused4.is_null(), || "pvUnused3 or pvUnused4 is set".to_owned())?;
    Ok(Verdict::pass("both NULL"))
}
