//! PINs and roles (§4.2, §7.2, §7.3, §7.6): the PIN list and `PIN_INFO`, the right PIN, the
//! argument checks of `CardAuthenticateEx`, wrong PINs and the tries reported,
//! deauthentication, challenges, the administrator, and (with `--destructive`) a PIN change that
//! is undone at once and an unblock to the same PIN.
//!
//! A wrong PIN is presented only after the right one worked in this run, and each wrong PIN is
//! followed by the right one (which restores the card's counter). The first wrong PIN meets a
//! full counter; another is tried only while the count the card reported says at least 3 tries
//! remained before it. Without a count (`0xFFFFFFFF`), no further wrong PIN is tried.

use minidriver::abi::{code, keyspec, pin, prop};
use zeroize::Zeroizing;

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::dword;
use super::{INVALID, SECURITY, UNSUPPORTED, WRONG_CHV};
use crate::csp::Csp;
use crate::csp::raw::{
    authenticate_ex_outputs, authenticate_ex_without_tries, authenticate_pin, deauthenticate, get_challenge_ex,
};

pub(crate) const CHECKS: &[Check] = &[
    check("pins.ids", 51, "CP_CARD_LIST_PINS uses PIN ids 0 to 7 only", ids),
    check("pins.list_has_user", 59, "CP_CARD_LIST_PINS includes ROLE_USER", list_has_user),
    check("pins.roles", 52, "the card has ROLE_USER and ROLE_ADMIN (ROLE_ADMIN optional if read-only)", roles),
    check("pins.pin_info", 54, "every listed PIN's PIN_INFO has version 6 and values in range", pin_info),
    check("pins.permissions", 55, "the user PIN changes itself and is unblocked by another", permissions)
        .level(Level::Should),
    check("pins.right_pin", 3, "CardAuthenticateEx with the right user PIN returns 0", right_pin).pin(),
    check("pins.authenticated_state", 59, "CP_CARD_AUTHENTICATED_STATE follows authentication", state)
        .pin()
        .level(Level::May),
    check(
        "pins.authenticate_pin_user_ids",
        62,
        "CardAuthenticatePin takes L\"user\", refuses L\"anonymous\"",
        user_ids,
    )
    .pin(),
    check("pins.pin_ids", 65, "CardAuthenticateEx refuses PinId 0, 8 and 200", pin_ids).pin(),
    check("pins.flags", 66, "CardAuthenticateEx refuses undefined dwFlags bits", flags).pin(),
    check("pins.silent", 67, "CARD_PIN_SILENT_CONTEXT with PIN data verifies silently", silent).pin(),
    check("pins.session_pin", 70, "GENERATE_SESSION_PIN gives a session PIN that SESSION_PIN accepts", session).pin(),
    check(
        "pins.no_session_pin_outputs",
        75,
        "without a session PIN, *ppbSessionPin is NULL and *pcbSessionPin 0",
        no_session,
    )
    .pin()
    .level(Level::Should),
    check("pins.wrong_pin", 5, "a wrong PIN is SCARD_W_WRONG_CHV", wrong).pin(),
    check("pins.wrong_pin_tries", 64, "a wrong PIN reports the tries left; the right PIN restores them", tries).pin(),
    check(
        "pins.wrong_pin_authenticate_pin",
        64,
        "CardAuthenticatePin: a wrong PIN is WRONG_CHV with the tries",
        wrong_legacy,
    )
    .pin(),
    check("pins.wrong_pin_null_tries", 64, "a wrong PIN with pcAttemptsRemaining NULL is WRONG_CHV", wrong_null).pin(),
    check("pins.deauthenticate_ex", 81, "CardDeauthenticateEx ends the user's authentication", deauth_ex).pin(),
    check("pins.deauthenticate_all", 81, "CardDeauthenticateEx(PIN_SET_ALL_ROLES) is accepted", deauth_all),
    check("pins.deauthenticate", 80, "CardDeauthenticate takes L\"user\", refuses other names", deauth),
    check("pins.challenges", 76, "challenges are 8-byte blocks that do not repeat", challenges),
    check(
        "pins.challenge_pin_type",
        79,
        "CardGetChallengeEx of a PIN that is not challenge-response is refused",
        challenge_type,
    ),
    check("pins.unblock_only", 68, "authenticating an UnblockOnly PIN is refused", unblock_only).destructive(),
    check("pins.admin", 77, "the administrator key authenticates ROLE_ADMIN by 3DES challenge-response", admin).admin(),
    check("pins.several_at_once", 53, "ROLE_USER and ROLE_ADMIN authenticated at once", several).pin().admin(),
    check("pins.change", 84, "CardChangeAuthenticatorEx changes the PIN (and the run changes it back)", change)
        .pin()
        .destructive(),
    check("pins.change_legacy", 83, "CardChangeAuthenticator changes the PIN (and back)", change_legacy)
        .pin()
        .destructive(),
    check("pins.unblock", 82, "CardUnblockPin by the administrator's challenge-response", unblock)
        .pin()
        .admin()
        .destructive(),
];

/// `PIN_INFO`'s fields: type, purpose, change and unblock permissions, cache policy version and
/// type, flags (§4.2.1; the x64 offsets 4, 8, 12, 16, 20, 24, 32).
fn pin_info_of(csp: &Csp, id: u32) -> Option<[u32; 7]> {
    let v = csp.get_property(prop::PIN_INFO, id).ok()?;
    let at = |o: usize| v.get(o..).and_then(dword);
    Some([at(4)?, at(8)?, at(12)?, at(16)?, at(20)?, at(24)?, at(32)?]).filter(|_| at(0) == Some(pin::PIN_INFO_VERSION))
}

fn list(run: &mut Run<'_>) -> Result<u32, Verdict> {
    let csp = run.main()?;
    let r = csp.get_property(prop::LIST_PINS, 0);
    run.expect("CardGetProperty(CP_CARD_LIST_PINS)", super::code_of(&r), &[0])?;
    Ok(r.ok().as_deref().and_then(dword).unwrap_or(0))
}

fn ids(run: &mut Run<'_>) -> Checked {
    let l = list(run)?;
    ensure(l & !0xFF == 0, || format!("PIN_SET 0x{l:08X} uses bits above 7"))?;
    Ok(Verdict::pass(format!("0x{l:02X}")))
}

fn list_has_user(run: &mut Run<'_>) -> Checked {
    let l = list(run)?;
    ensure(l & pin::set_of(pin::ROLE_USER) != 0, || format!("PIN_SET 0x{l:02X} lacks ROLE_USER"))?;
    Ok(Verdict::pass(format!("0x{l:02X}")))
}

fn roles(run: &mut Run<'_>) -> Checked {
    let l = list(run)?;
    let csp = run.main()?;
    let read_only = csp.get_property(prop::READ_ONLY, 0).ok().as_deref().and_then(dword).unwrap_or(0) != 0;
    ensure(l & 0x02 != 0, || "no ROLE_USER".to_owned())?;
    ensure(read_only || l & 0x04 != 0, || "no ROLE_ADMIN on a card that is not read-only".to_owned())?;
    Ok(Verdict::pass(format!("0x{l:02X}")))
}

fn pin_info(run: &mut Run<'_>) -> Checked {
    let l = list(run)?;
    let csp = run.main()?;
    let mut seen = Vec::new();
    for id in (0..8).filter(|id| l & (1 << id) != 0) {
        let Some([kind, purpose, _, _, cache_version, cache, flags]) = pin_info_of(csp, id) else {
            return Err(Verdict::fail(format!("PIN {id}: no 36-byte PIN_INFO of version 6")));
        };
        ensure(kind <= 3, || format!("PIN {id}: PinType {kind}"))?;
        ensure(purpose <= 6, || format!("PIN {id}: PinPurpose {purpose}"))?;
        ensure(cache_version == 6 && cache <= 3, || {
            format!("PIN {id}: cache policy version {cache_version}, type {cache}")
        })?;
        ensure(flags & !1 == 0, || format!("PIN {id}: dwFlags 0x{flags:X}"))?;
        seen.push(format!("PIN {id}: type {kind}, purpose {purpose}"));
    }
    Ok(Verdict::pass(seen.join("; ")))
}

fn permissions(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let Some([_, _, change, unblock, ..]) = pin_info_of(csp, pin::ROLE_USER) else {
        return Err(Verdict::fail("no PIN_INFO for ROLE_USER"));
    };
    ensure(change & 0x02 != 0, || format!("ROLE_USER's dwChangePermission 0x{change:X} lacks ROLE_USER"))?;
    ensure(unblock != 0 && unblock & 0x02 == 0, || format!("ROLE_USER's dwUnblockPermission 0x{unblock:X}"))?;
    Ok(Verdict::pass(format!("change 0x{change:02X}, unblock 0x{unblock:02X}")))
}

/// The user PIN through `CardAuthenticateEx` (0 expected).
fn verify(run: &mut Run<'_>) -> Result<(), Verdict> {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let r = csp.authenticate_ex(pin::ROLE_USER, 0, &value);
    let got = r.as_ref().err().map_or(0, |(c, _)| c.0);
    run.expect("CardAuthenticateEx(ROLE_USER, the right PIN)", got, &[0])?;
    run.pin.right_pin_worked = true;
    Ok(())
}

fn right_pin(run: &mut Run<'_>) -> Checked {
    verify(run)?;
    Ok(Verdict::pass("authenticated"))
}

fn authenticated_state(run: &mut Run<'_>) -> Result<Option<u32>, Verdict> {
    let csp = run.main()?;
    match csp.get_property(prop::AUTHENTICATED_STATE, 0) {
        Ok(v) => Ok(dword(&v)),
        Err(c) if c.0 == INVALID || c.0 == UNSUPPORTED => Ok(None),
        Err(c) => Err(Verdict::fail(format!("CardGetProperty(CP_CARD_AUTHENTICATED_STATE) returned {c}"))),
    }
}

fn state(run: &mut Run<'_>) -> Checked {
    verify(run)?;
    let Some(after) = authenticated_state(run)? else {
        return Err(Verdict::skip("CP_CARD_AUTHENTICATED_STATE is not supported (it is optional)"));
    };
    ensure(after & 0x02 != 0, || format!("0x{after:02X} after the user PIN"))?;
    let csp = run.main()?;
    let d = csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER));
    if d.is_err() {
        return Err(Verdict::skip("CardDeauthenticateEx of ROLE_USER is not supported"));
    }
    let gone = authenticated_state(run)?.unwrap_or(0);
    ensure(gone & 0x02 == 0, || format!("0x{gone:02X} after CardDeauthenticateEx(ROLE_USER)"))?;
    Ok(Verdict::pass(format!("0x{after:02X} after the PIN, 0x{gone:02X} after deauthentication")))
}

fn user_ids(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let (user, _) = authenticate_pin(csp.raw(), "user", &value);
    let (anonymous, _) = authenticate_pin(csp.raw(), "anonymous", &value);
    let (nobody, _) = authenticate_pin(csp.raw(), "nobody", &value);
    run.expect("CardAuthenticatePin(L\"user\")", user, &[0])?;
    run.pin.right_pin_worked = true;
    run.expect("CardAuthenticatePin(L\"anonymous\")", anonymous, &[INVALID])?;
    run.expect("CardAuthenticatePin(L\"nobody\")", nobody, &[INVALID])?;
    Ok(Verdict::pass("user taken; anonymous and nobody refused"))
}

fn pin_ids(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    for id in [pin::ROLE_EVERYONE, 8, 200] {
        let csp = run.main()?;
        let (got, ..) = authenticate_ex_outputs(csp.raw(), id, 0, Some(&value));
        run.expect(&format!("CardAuthenticateEx(PinId {id})"), got, &[INVALID])?;
    }
    Ok(Verdict::pass("refused"))
}

fn flags(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    for f in [0x1, 0x8000_0000] {
        let csp = run.main()?;
        let (got, ..) = authenticate_ex_outputs(csp.raw(), pin::ROLE_USER, f, Some(&value));
        run.expect(&format!("CardAuthenticateEx(dwFlags 0x{f:X})"), got, &[INVALID])?;
    }
    Ok(Verdict::pass("0x1 and 0x80000000 refused"))
}

fn silent(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let (got, ..) = authenticate_ex_outputs(csp.raw(), pin::ROLE_USER, pin::SILENT_CONTEXT, Some(&value));
    run.expect("CardAuthenticateEx(CARD_PIN_SILENT_CONTEXT, the right PIN)", got, &[0])?;
    Ok(Verdict::pass("authenticated"))
}

fn session(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let strength =
        csp.get_property(prop::PIN_STRENGTH_VERIFY, pin::ROLE_USER).ok().as_deref().and_then(dword).unwrap_or(0);
    let generated = csp.authenticate_ex(pin::ROLE_USER, pin::GENERATE_SESSION_PIN, &value);
    if strength & pin::STRENGTH_SESSION_PIN == 0 {
        let got = generated.as_ref().err().map_or(0, |(c, _)| c.0);
        run.expect("CardAuthenticateEx(GENERATE_SESSION_PIN) on a card without session PINs", got, &[UNSUPPORTED])?;
        return Ok(Verdict::pass("no session PINs (CP_CARD_PIN_STRENGTH_VERIFY): refused"));
    }
    let session = match generated {
        Ok(Some(s)) if !s.is_empty() => Zeroizing::new(s),
        Ok(_) => return Err(Verdict::fail("GENERATE_SESSION_PIN returned no session PIN")),
        Err((c, _)) => {
            run.expect("CardAuthenticateEx(GENERATE_SESSION_PIN)", c.0, &[0])?;
            return Err(Verdict::fail("no session PIN"));
        }
    };
    ensure(*session != *value, || "the session PIN is the PIN itself".to_owned())?;
    let csp = run.main()?;
    let used = csp.authenticate_ex(pin::ROLE_USER, pin::SESSION_PIN, &session);
    run.expect("CardAuthenticateEx(SESSION_PIN)", used.as_ref().err().map_or(0, |(c, _)| c.0), &[0])?;
    Ok(Verdict::pass(format!("a {}-byte session PIN, accepted", session.len())))
}

fn no_session(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let (got, nulled, len, _) = authenticate_ex_outputs(csp.raw(), pin::ROLE_USER, 0, Some(&value));
    run.expect("CardAuthenticateEx(ROLE_USER)", got, &[0])?;
    ensure(nulled && len == 0, || {
        format!("*ppbSessionPin {}, *pcbSessionPin {len}", if nulled { "NULL" } else { "not NULL" })
    })?;
    Ok(Verdict::pass("NULL and 0"))
}

/// A wrong PIN of the right PIN's length and format: its last character moved on by one.
fn wrong_pin(value: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut w = Zeroizing::new(value.to_vec());
    if let Some(last) = w.last_mut() {
        *last = match *last {
            b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => *last + 1,
            b'9' => b'0',
            b'z' => b'a',
            b'Z' => b'A',
            other => other ^ 1,
        };
    }
    w
}

/// Presents a wrong PIN through `attempt` (code and tries back), then the right one, keeping to
/// the rules of the module documentation.
fn try_wrong(run: &mut Run<'_>, attempt: impl FnOnce(&Csp, &[u8]) -> (u32, u32)) -> Result<(u32, u32), Verdict> {
    let value = run.pin_value()?;
    if !run.pin.right_pin_worked {
        verify(run).map_err(|v| Verdict::skip(format!("the right PIN did not work first: {}", v.detail)))?;
    }
    match run.pin.tries_after_wrong {
        Some(t) if t == u32::MAX => {
            return Err(Verdict::skip("the card did not report its tries: no further wrong PIN is tried"));
        }
        Some(t) if t.saturating_add(1) < 3 => {
            return Err(Verdict::skip(format!(
                "the card reported {} tries in all: no further wrong PIN is tried",
                t + 1
            )));
        }
        _ => {}
    }
    let wrong = wrong_pin(&value);
    let csp = run.main()?;
    let (got, tries) = attempt(csp, &wrong);
    // The right PIN restores the counter before anything else.
    let restored = csp.authenticate_ex(pin::ROLE_USER, 0, &value);
    if got == WRONG_CHV {
        run.pin.tries_after_wrong = Some(if tries < 16 { tries } else { u32::MAX });
    } else {
        // Without a WRONG_CHV there is no count to go by.
        run.pin.tries_after_wrong = Some(u32::MAX);
    }
    if let Err((c, _)) = restored {
        run.pin.tries_after_wrong = Some(u32::MAX);
        return Err(Verdict::fail(format!(
            "the right PIN after the wrong one returned {c}: the card's counter may be down by one"
        )));
    }
    Ok((got, tries))
}

fn wrong(run: &mut Run<'_>) -> Checked {
    let (got, tries) = try_wrong(run, |csp, w| match csp.authenticate_ex(pin::ROLE_USER, 0, w) {
        Ok(_) => (0, 0),
        Err((c, t)) => (c.0, t),
    })?;
    run.expect("CardAuthenticateEx(ROLE_USER, a wrong PIN)", got, &[WRONG_CHV])?;
    Ok(Verdict::pass(format!("refused, {tries} tries left")))
}

fn tries(run: &mut Run<'_>) -> Checked {
    let attempt = |csp: &Csp, w: &[u8]| match csp.authenticate_ex(pin::ROLE_USER, 0, w) {
        Ok(_) => (0, 0),
        Err((c, t)) => (c.0, t),
    };
    let (got, first) = try_wrong(run, attempt)?;
    run.expect("CardAuthenticateEx(ROLE_USER, a wrong PIN)", got, &[WRONG_CHV])?;
    ensure(first != 0xDEAD_BEEF, || "*pcAttemptsRemaining was not written".to_owned())?;
    ensure(first == u32::MAX || (1..16).contains(&first), || {
        format!("*pcAttemptsRemaining {first} after one wrong PIN")
    })?;
    if first == u32::MAX {
        return Ok(Verdict::pass("the count is unknown (0xFFFFFFFF)"));
    }
    let (got, second) = try_wrong(run, attempt)?;
    run.expect("CardAuthenticateEx(ROLE_USER, a wrong PIN again)", got, &[WRONG_CHV])?;
    ensure(second == first, || format!("{first} tries left, then {second} after the right PIN and another wrong one"))?;
    Ok(Verdict::pass(format!("{first} tries left each time")))
}

fn wrong_legacy(run: &mut Run<'_>) -> Checked {
    let (got, tries) = try_wrong(run, |csp, w| authenticate_pin(csp.raw(), "user", w))?;
    run.expect("CardAuthenticatePin(L\"user\", a wrong PIN)", got, &[WRONG_CHV])?;
    ensure(tries != 0xDEAD && (tries == u32::MAX || tries < 16), || format!("*pcAttemptsRemaining {tries:#X}"))?;
    Ok(Verdict::pass(format!("refused, {tries} tries left")))
}

fn wrong_null(run: &mut Run<'_>) -> Checked {
    let (got, _) = try_wrong(run, |csp, w| (authenticate_ex_without_tries(csp.raw(), pin::ROLE_USER, w), 0))?;
    run.expect("CardAuthenticateEx(a wrong PIN, pcAttemptsRemaining NULL)", got, &[WRONG_CHV])?;
    Ok(Verdict::pass("refused"))
}

/// A container whose key the user PIN unlocks and that signs.
fn user_signer(run: &mut Run<'_>) -> Result<Option<(u8, u32)>, Verdict> {
    Ok(run.survey()?.keys().find_map(|(c, k)| {
        let signs = matches!(
            k.key_spec,
            keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE | keyspec::AT_ECDSA_P256 | keyspec::AT_ECDSA_P384
        );
        (signs && c.pin_id == Some(pin::ROLE_USER)).then_some((c.index, k.key_spec))
    }))
}

fn deauth_ex(run: &mut Run<'_>) -> Checked {
    let signer = user_signer(run)?;
    verify(run)?;
    let csp = run.main()?;
    let got = super::code_of(&csp.deauthenticate_ex(pin::set_of(pin::ROLE_USER)));
    run.expect("CardDeauthenticateEx(ROLE_USER)", got, &[0, UNSUPPORTED])?;
    if got != 0 {
        return Ok(Verdict::pass("unsupported: the CSP resets the card instead"));
    }
    let Some((index, spec)) = signer else {
        return Ok(Verdict::pass("deauthenticated (no user-PIN key to prove it with)"));
    };
    let csp = run.main()?;
    let (alg, len) = if matches!(spec, keyspec::AT_KEYEXCHANGE | keyspec::AT_SIGNATURE) {
        (minidriver::abi::crypt::CALG_SHA_256, 32)
    } else {
        (0, if spec == keyspec::AT_ECDSA_P384 { 48 } else { 32 })
    };
    let signed = csp.sign_data(index, spec, alg, 0, &vec![0x5A; len], None);
    run.expect(
        &format!("CardSignData(container {index}) after the deauthentication"),
        super::code_of(&signed),
        &[SECURITY],
    )?;
    Ok(Verdict::pass(format!("container {index} no longer signs")))
}

fn deauth_all(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let got = super::code_of(&csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES));
    run.expect("CardDeauthenticateEx(PIN_SET_ALL_ROLES)", got, &[0, UNSUPPORTED])?;
    Ok(Verdict::pass("accepted"))
}

fn deauth(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    if csp.raw().pfnCardDeauthenticate.is_none() {
        return Err(Verdict::skip("pfnCardDeauthenticate is NULL (allowed: the CSP resets the card instead)"));
    }
    let user = deauthenticate(csp.raw(), "user", 0);
    let nobody = deauthenticate(csp.raw(), "nobody", 0);
    run.expect("CardDeauthenticate(L\"user\")", user, &[0, UNSUPPORTED])?;
    run.expect("CardDeauthenticate(L\"nobody\")", nobody, &[INVALID])?;
    Ok(Verdict::pass("user taken, nobody refused"))
}

/// Whether `ROLE_ADMIN` is a challenge-response PIN.
fn admin_is_challenge(run: &mut Run<'_>) -> Result<bool, Verdict> {
    let csp = run.main()?;
    Ok(pin_info_of(csp, pin::ROLE_ADMIN).is_some_and(|[kind, ..]| kind == pin::CHALLENGE_RESPONSE))
}

fn challenges(run: &mut Run<'_>) -> Checked {
    if !admin_is_challenge(run)? {
        return Err(Verdict::skip("ROLE_ADMIN is not a challenge-response PIN"));
    }
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for _ in 0..4 {
        let csp = run.main()?;
        let (got, challenge) = get_challenge_ex(csp.raw(), pin::ROLE_ADMIN, 0);
        run.expect("CardGetChallengeEx(ROLE_ADMIN)", got, &[0])?;
        ensure(!challenge.is_empty() && challenge.len() % 8 == 0, || format!("a {}-byte challenge", challenge.len()))?;
        ensure(!seen.contains(&challenge), || "a challenge repeated".to_owned())?;
        seen.push(challenge);
    }
    let csp = run.main()?;
    let legacy = csp.get_challenge();
    run.expect("CardGetChallenge", super::code_of(&legacy), &[0, UNSUPPORTED])?;
    if let Ok(c) = legacy {
        ensure(!seen.contains(&c) && c.len() % 8 == 0, || {
            "CardGetChallenge repeated a challenge or is not 8-byte blocks".to_owned()
        })?;
    }
    Ok(Verdict::pass(format!("4 distinct {}-byte challenges", seen.first().map_or(0, Vec::len))))
}

fn challenge_type(run: &mut Run<'_>) -> Checked {
    let csp = run.main()?;
    let user_kind = pin_info_of(csp, pin::ROLE_USER).map(|[kind, ..]| kind);
    if user_kind == Some(pin::CHALLENGE_RESPONSE) {
        return Err(Verdict::skip("the user PIN is challenge-response"));
    }
    let (got, _) = get_challenge_ex(csp.raw(), pin::ROLE_USER, 0);
    run.expect("CardGetChallengeEx(ROLE_USER)", got, &[INVALID])?;
    Ok(Verdict::pass("refused"))
}

fn unblock_only(run: &mut Run<'_>) -> Checked {
    let l = list(run)?;
    let csp = run.main()?;
    let Some(id) = (1..8)
        .find(|id| l & (1 << id) != 0 && pin_info_of(csp, *id).is_some_and(|i| i[1] == pin::PURPOSE_UNBLOCK_ONLY))
    else {
        return Err(Verdict::skip("the card has no UnblockOnly PIN"));
    };
    let (got, ..) = authenticate_ex_outputs(csp.raw(), id, 0, Some(b"00000000"));
    run.expect(&format!("CardAuthenticateEx(PIN {id}, UnblockOnly)"), got, &[INVALID, UNSUPPORTED])?;
    Ok(Verdict::pass(format!("PIN {id} refused")))
}

/// `ROLE_ADMIN` by challenge-response with the given administrator key.
fn admin_login(run: &mut Run<'_>) -> Result<(), Verdict> {
    if !admin_is_challenge(run)? {
        return Err(Verdict::skip("ROLE_ADMIN is not a challenge-response PIN"));
    }
    let key = run.options.admin_key.clone().ok_or_else(|| Verdict::skip("no administrator key"))?;
    let csp = run.main()?;
    let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN);
    run.expect("CardGetChallengeEx(ROLE_ADMIN)", super::code_of(&challenge), &[0])?;
    let challenge = challenge.unwrap_or_default();
    let response = card_edges::crypto::challenge_response(&key, &challenge).map_err(|_| {
        Verdict::skip(format!("a {}-byte key does not fit a {}-byte challenge", key.len(), challenge.len()))
    })?;
    let csp = run.main()?;
    let r = csp.authenticate_ex(pin::ROLE_ADMIN, 0, &response);
    run.expect("CardAuthenticateEx(ROLE_ADMIN, the response)", r.as_ref().err().map_or(0, |(c, _)| c.0), &[0])?;
    Ok(())
}

fn admin(run: &mut Run<'_>) -> Checked {
    admin_login(run)?;
    let state = authenticated_state(run)?;
    let csp = run.main()?;
    let _ = csp.deauthenticate_ex(pin::set_of(pin::ROLE_ADMIN));
    if let Some(s) = state {
        ensure(s & 0x04 != 0, || format!("CP_CARD_AUTHENTICATED_STATE 0x{s:02X} after the administrator"))?;
    }
    Ok(Verdict::pass("authenticated"))
}

fn several(run: &mut Run<'_>) -> Checked {
    verify(run)?;
    admin_login(run)?;
    let state = authenticated_state(run)?;
    let csp = run.main()?;
    let _ = csp.deauthenticate_ex(pin::PIN_SET_ALL_ROLES);
    match state {
        Some(s) => {
            ensure(s & 0x06 == 0x06, || format!("CP_CARD_AUTHENTICATED_STATE 0x{s:02X} with both"))?;
            Ok(Verdict::pass(format!("0x{s:02X}")))
        }
        None => Ok(Verdict::pass("both authentications succeeded (CP_CARD_AUTHENTICATED_STATE not supported)")),
    }
}

/// The PIN a change goes to: every digit moved on by one (the same length and format).
fn changed_pin(value: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(value.iter().map(|b| if b.is_ascii_digit() { b'0' + (b - b'0' + 1) % 10 } else { *b }).collect())
}

/// Changes the user PIN from `from` to `to` through `change`, and proves `to` works.
fn change_with(
    run: &mut Run<'_>,
    what: &str,
    change: fn(&Csp, &[u8], &[u8]) -> u32,
    from: &[u8],
    to: &[u8],
) -> Result<(), Verdict> {
    let csp = run.main()?;
    let got = change(csp, from, to);
    run.expect(what, got, &[0])?;
    let csp = run.main()?;
    let r = csp.authenticate_ex(pin::ROLE_USER, 0, to);
    run.expect("CardAuthenticateEx with the changed PIN", r.as_ref().err().map_or(0, |(c, _)| c.0), &[0])
}

fn change_round_trip(run: &mut Run<'_>, what: &str, change: fn(&Csp, &[u8], &[u8]) -> u32) -> Checked {
    let value = run.pin_value()?;
    verify(run)?;
    let new = changed_pin(&value);
    change_with(run, what, change, &value, &new)?;
    if let Err(v) = change_with(run, &format!("{what}, back"), change, &new, &value) {
        return Err(Verdict::fail(format!(
            "{}; THE PIN COULD NOT BE CHANGED BACK: it is now the given PIN with every digit moved on by one",
            v.detail
        )));
    }
    Ok(Verdict::pass("changed and changed back"))
}

fn change(run: &mut Run<'_>) -> Checked {
    change_round_trip(run, "CardChangeAuthenticatorEx(PIN_CHANGE_FLAG_CHANGEPIN)", |csp, from, to| {
        super::code_of(&csp.change_authenticator_ex(pin::CHANGE_FLAG_CHANGEPIN, 1, from, 1, to).map_err(|(c, _)| c))
    })
}

fn change_legacy(run: &mut Run<'_>) -> Checked {
    change_round_trip(run, "CardChangeAuthenticator(L\"user\", CARD_AUTHENTICATE_PIN_PIN)", |csp, from, to| {
        super::code_of(&csp.change_authenticator("user", from, to, pin::AUTH_PIN).map_err(|(c, _)| c))
    })
}

fn unblock(run: &mut Run<'_>) -> Checked {
    let value = run.pin_value()?;
    let csp = run.main()?;
    let unblocker = pin_info_of(csp, pin::ROLE_USER).map_or(0, |i| i[3]);
    if unblocker & pin::set_of(pin::ROLE_ADMIN) == 0 {
        return Err(Verdict::skip(format!(
            "ROLE_ADMIN does not unblock the user PIN (dwUnblockPermission 0x{unblocker:02X})"
        )));
    }
    if !admin_is_challenge(run)? {
        return Err(Verdict::skip("ROLE_ADMIN is not a challenge-response PIN"));
    }
    let key = run.options.admin_key.clone().ok_or_else(|| Verdict::skip("no administrator key"))?;
    let csp = run.main()?;
    let challenge = csp.get_challenge_ex(pin::ROLE_ADMIN).unwrap_or_default();
    let response = card_edges::crypto::challenge_response(&key, &challenge)
        .map_err(|_| Verdict::skip("the administrator key does not fit the challenge"))?;
    let got = super::code_of(&csp.unblock_pin("user", &response, &value, 0, pin::AUTH_CHALLENGE_RESPONSE));
    run.expect("CardUnblockPin(L\"user\", CARD_AUTHENTICATE_PIN_CHALLENGE_RESPONSE, the same PIN)", got, &[0])?;
    verify(run)?;
    let _ = code::SCARD_W_CHV_BLOCKED;
    Ok(Verdict::pass("unblocked to the same PIN, which works"))
}
