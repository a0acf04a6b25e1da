//! NULL and bad arguments, entry point by entry point (§2.3.2: `SCARD_E_INVALID_PARAMETER`
//! for every NULL or invalid parameter, bad flags included), with every output the caller
//! initialised left as it was.

use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::INVALID;
use crate::csp::raw::{nonzero_flag_codes, null_argument_codes, null_card_data_codes};

/// One check per entry point, under item 4 (§2.3.2) unless an item names that entry point's
/// argument checks itself (63 CardAuthenticatePin, 109 CardGetProperty, 134 CardSignData).
macro_rules! null_checks {
    ($(($id:literal, $item:literal, $function:literal, $fn_name:ident)),* $(,)?) => {
        $(
            fn $fn_name(run: &mut Run<'_>) -> Checked {
                null_arguments(run, $function)
            }
        )*
        pub(crate) const CHECKS: &[Check] = &[
            check("args.null_card_data", 4, "every entry point refuses pCardData NULL", null_card_data),
            $(check($id, $item, concat!($function, " refuses each NULL pointer argument"), $fn_name),)*
            check("args.nonzero_flags", 4, "every dwFlags that must be 0 refuses a set bit", nonzero_flags),
            check("args.nonzero_flags_writes", 4, "write functions refuse a set dwFlags bit", nonzero_flags_writes)
                .destructive(),
            check("args.unblock_null", 4, "CardUnblockPin refuses each NULL pointer argument", unblock_null).destructive(),
        ];
    };
}

null_checks![
    ("args.query_capabilities", 4, "CardQueryCapabilities", query_capabilities),
    ("args.get_container_info", 4, "CardGetContainerInfo", get_container_info),
    ("args.authenticate_pin", 63, "CardAuthenticatePin", authenticate_pin),
    ("args.get_challenge", 4, "CardGetChallenge", get_challenge),
    ("args.authenticate_challenge", 4, "CardAuthenticateChallenge", authenticate_challenge),
    ("args.change_authenticator", 4, "CardChangeAuthenticator", change_authenticator),
    ("args.deauthenticate", 4, "CardDeauthenticate", deauthenticate),
    ("args.create_directory", 4, "CardCreateDirectory", create_directory),
    ("args.delete_directory", 4, "CardDeleteDirectory", delete_directory),
    ("args.create_file", 4, "CardCreateFile", create_file),
    ("args.read_file", 4, "CardReadFile", read_file),
    ("args.write_file", 4, "CardWriteFile", write_file),
    ("args.delete_file", 4, "CardDeleteFile", delete_file),
    ("args.enum_files", 4, "CardEnumFiles", enum_files),
    ("args.get_file_info", 4, "CardGetFileInfo", get_file_info),
    ("args.query_free_space", 4, "CardQueryFreeSpace", query_free_space),
    ("args.query_key_sizes", 4, "CardQueryKeySizes", query_key_sizes),
    ("args.sign_data", 134, "CardSignData", sign_data),
    ("args.rsa_decrypt", 4, "CardRSADecrypt", rsa_decrypt),
    ("args.construct_dh_agreement", 4, "CardConstructDHAgreement", construct_dh_agreement),
    ("args.derive_key", 4, "CardDeriveKey", derive_key),
    ("args.get_challenge_ex", 4, "CardGetChallengeEx", get_challenge_ex),
    ("args.authenticate_ex", 4, "CardAuthenticateEx", authenticate_ex),
    ("args.change_authenticator_ex", 4, "CardChangeAuthenticatorEx", change_authenticator_ex),
    ("args.get_container_property", 4, "CardGetContainerProperty", get_container_property),
    ("args.set_container_property", 4, "CardSetContainerProperty", set_container_property),
    ("args.get_property", 109, "CardGetProperty", get_property),
    ("args.set_property", 4, "CardSetProperty", set_property),
];

fn null_card_data(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let codes = null_card_data_codes(csp.raw());
    let count = codes.len();
    for (what, code) in codes {
        run.expect(&format!("{} with pCardData NULL", &what[3..]), code, &[INVALID])?;
    }
    Ok(Verdict::pass(format!("{count} entry points refused it")))
}

/// `function`'s NULL-argument cases (with the run's PIN where a case carries a secret).
fn null_arguments(run: &mut Run<'_>, function: &str) -> Checked {
    let secret = run.usable_pin().ok();
    let csp = run.main()?;
    let table = csp.raw();
    let cases = null_argument_codes(table, &|| 0, secret.as_deref().map(Vec::as_slice), false, Some(function));
    if cases.is_empty() {
        return Err(Verdict::skip(format!("the table has no {function} (or its cases need the user PIN)")));
    }
    let count = cases.len();
    for case in cases {
        run.expect(case.what, case.code, &[INVALID])?;
        ensure(case.outputs_clean, || format!("{}: refused, but an output was written", case.what))?;
    }
    let note = if secret.is_none() && matches!(function, "CardAuthenticatePin" | "CardAuthenticateEx") {
        " (the cases that carry a PIN need the user PIN)"
    } else {
        ""
    };
    Ok(Verdict::pass(format!("{count} cases refused, outputs untouched{note}")))
}

fn unblock_null(run: &mut Run<'_>) -> Checked {
    let secret = run.usable_pin().ok();
    let csp = run.main()?;
    let cases =
        null_argument_codes(csp.raw(), &|| 0, secret.as_deref().map(Vec::as_slice), true, Some("CardUnblockPin"));
    if cases.is_empty() {
        return Err(Verdict::skip("the table has no CardUnblockPin"));
    }
    for case in cases {
        run.expect(case.what, case.code, &[INVALID])?;
    }
    Ok(Verdict::pass("refused"))
}

fn flags_with(run: &mut Run<'_>, writes: bool) -> Checked {
    let mut count = 0;
    for flag in [1, 0x8000_0000] {
        let csp = run.main()?;
        let codes = nonzero_flag_codes(csp.raw(), flag, writes);
        for (what, code) in codes {
            if writes
                && !matches!(
                    what,
                    "CardWriteFile" | "CardDeleteFile" | "CardDeleteContainer(dwReserved)" | "CardSetContainerProperty"
                )
            {
                continue;
            }
            count += 1;
            run.expect(&format!("{what} with dwFlags 0x{flag:X}"), code, &[INVALID])?;
        }
    }
    Ok(Verdict::pass(format!("{count} calls refused (bits 0x1 and 0x80000000)")))
}

fn nonzero_flags(run: &mut Run<'_>) -> Checked {
    flags_with(run, false)
}

fn nonzero_flags_writes(run: &mut Run<'_>) -> Checked {
    flags_with(run, true)
}
