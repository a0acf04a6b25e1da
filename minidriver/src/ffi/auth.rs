//! PINs, challenges and (de)authentication (spec §4.2).

use core::ptr;

use windows_sys::Win32::Security::Cryptography::CARD_DATA;
use windows_sys::core::PCWSTR;

use super::entry;
use super::util::{self, Csp, need, put};
use crate::abi::pin;
use crate::context::Context;
use crate::error::{Error, Result};

/// `L"user"` / `L"admin"` to a role; anything else (`L"anonymous"` included) is invalid.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated UTF-16 string.
unsafe fn role(p: PCWSTR) -> Result<u32> {
    // SAFETY: forwarded contract.
    match unsafe { util::wide(p)? }.as_deref() {
        Some("user") => Ok(pin::ROLE_USER),
        Some("admin") => Ok(pin::ROLE_ADMIN),
        _ => Err(Error::InvalidParameter("pwszUserId must be \"user\" or \"admin\"")),
    }
}

/// Writes the tries left of a failed PIN check.
///
/// # Safety
/// `pc` must be NULL or valid for a `u32` write.
unsafe fn report_tries(result: &Result<()>, pc: *mut u32) {
    if let Err(e) = result
        && let Some(n) = e.attempts_remaining()
    {
        // SAFETY: forwarded contract; NULL is skipped.
        unsafe { put(pc, n) };
    }
}

fn valid_pin_id(ctx: &mut Context, id: u32) -> Result<()> {
    if id == pin::ROLE_EVERYONE || id >= pin::MAX_PINS || !ctx.has_pin(id)? {
        Err(Error::InvalidParameter("no such PIN id"))
    } else {
        Ok(())
    }
}

fn challenge_out(ctx: &mut Context, csp: &Csp, id: u32, ppb: *mut *mut u8, pcb: *mut u32) -> Result<()> {
    need(ppb, "ppbChallengeData is NULL")?;
    need(pcb, "pcbChallengeData is NULL")?;
    let challenge = ctx.challenge(id)?;
    let len = util::dword(challenge.len())?;
    let p = csp.alloc_copy(&challenge)?;
    // SAFETY: both out-pointers checked.
    unsafe {
        put(ppb, p);
        put(pcb, len);
    }
    Ok(())
}

/// `CardAuthenticatePin` (deprecated form of `CardAuthenticateEx`).
pub(super) unsafe extern "system" fn card_authenticate_pin(
    cd: *const CARD_DATA,
    user: PCWSTR,
    pb: *const u8,
    cb: u32,
    pc: *mut u32,
) -> u32 {
    entry("CardAuthenticatePin", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 user id or NULL.
        let id = unsafe { role(user)? };
        // SAFETY: pbPin holds cbPin bytes.
        let pin_bytes = unsafe { util::required_bytes(pb, cb, "pbPin is NULL")? };
        let result = ctx.authenticate(id, pin_bytes, &mut &*csp);
        // SAFETY: pc is NULL or a DWORD out-pointer.
        unsafe { report_tries(&result, pc) };
        result
    })
}

/// `CardGetChallenge`: an administrator challenge (the edge's external authentication).
pub(super) unsafe extern "system" fn card_get_challenge(cd: *const CARD_DATA, ppb: *mut *mut u8, pcb: *mut u32) -> u32 {
    entry("CardGetChallenge", cd, |ctx, csp| challenge_out(ctx, csp, pin::ROLE_ADMIN, ppb, pcb))
}

/// `CardAuthenticateChallenge`: the response to the last challenge.
pub(super) unsafe extern "system" fn card_authenticate_challenge(
    cd: *const CARD_DATA,
    pb: *const u8,
    cb: u32,
    pc: *mut u32,
) -> u32 {
    entry("CardAuthenticateChallenge", cd, |ctx, csp| {
        // SAFETY: pbResponseData holds cbResponseData bytes.
        let response = unsafe { util::required_bytes(pb, cb, "pbResponseData is NULL")? };
        let result = ctx.authenticate(pin::ROLE_ADMIN, response, &mut &*csp);
        // SAFETY: pc is NULL or a DWORD out-pointer.
        unsafe { report_tries(&result, pc) };
        result
    })
}

/// `CardUnblockPin`: `CARD_AUTHENTICATE_PIN_PIN` takes the typed-in PIN that may unblock the
/// user PIN (a PUK); `..._CHALLENGE_RESPONSE` the administrator's response, where the card
/// allows it (the edge answers unsupported otherwise).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_unblock_pin(
    cd: *const CARD_DATA,
    user: PCWSTR,
    pb_auth: *const u8,
    cb_auth: u32,
    pb_new: *const u8,
    cb_new: u32,
    retry_count: u32,
    flags: u32,
) -> u32 {
    entry("CardUnblockPin", cd, |ctx, _| {
        // SAFETY: a NUL-terminated UTF-16 user id or NULL.
        if unsafe { role(user)? } != pin::ROLE_USER {
            return Err(Error::InvalidParameter("only the user PIN can be unblocked"));
        }
        // SAFETY: the buffers hold their stated lengths.
        let auth = unsafe { util::required_bytes(pb_auth, cb_auth, "pbAuthenticationData is NULL")? };
        // SAFETY: as above.
        let new = unsafe { util::required_bytes(pb_new, cb_new, "pbNewPinData is NULL")? };
        if retry_count != 0 {
            return Err(Error::InvalidParameter("the retry limit cannot be changed"));
        }
        let auth_pin = match flags {
            pin::AUTH_PIN => ctx.typed_unblocker(pin::ROLE_USER)?,
            pin::AUTH_CHALLENGE_RESPONSE => pin::ROLE_ADMIN,
            _ => return Err(Error::InvalidParameter("dwFlags")),
        };
        ctx.unblock(auth_pin, auth, pin::ROLE_USER, new)
    })
}

/// `CardChangeAuthenticator`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_change_authenticator(
    cd: *const CARD_DATA,
    user: PCWSTR,
    pb_cur: *const u8,
    cb_cur: u32,
    pb_new: *const u8,
    cb_new: u32,
    retry_count: u32,
    flags: u32,
    pc: *mut u32,
) -> u32 {
    entry("CardChangeAuthenticator", cd, |ctx, _| {
        // SAFETY: a NUL-terminated UTF-16 user id or NULL.
        let id = unsafe { role(user)? };
        // SAFETY: the buffers hold their stated lengths.
        let cur = unsafe { util::required_bytes(pb_cur, cb_cur, "pbCurrentAuthenticator is NULL")? };
        // SAFETY: as above.
        let new = unsafe { util::required_bytes(pb_new, cb_new, "pbNewAuthenticator is NULL")? };
        if retry_count != 0 {
            return Err(Error::InvalidParameter("the retry limit cannot be changed"));
        }
        match (flags, id) {
            (pin::AUTH_PIN, pin::ROLE_USER) | (pin::AUTH_CHALLENGE_RESPONSE, pin::ROLE_ADMIN) => {}
            _ => return Err(Error::InvalidParameter("dwFlags does not fit the principal")),
        }
        let result = ctx.change_pin(id, cur, new);
        // SAFETY: pc is NULL or a DWORD out-pointer.
        unsafe { report_tries(&result, pc) };
        result
    })
}

/// `CardDeauthenticate`.
pub(super) unsafe extern "system" fn card_deauthenticate(cd: *const CARD_DATA, user: PCWSTR, flags: u32) -> u32 {
    entry("CardDeauthenticate", cd, |ctx, csp| {
        // SAFETY: a NUL-terminated UTF-16 user id or NULL.
        let id = unsafe { role(user)? };
        util::flags_zero(flags)?;
        ctx.deauthenticate(pin::set_of(id), &mut &*csp)
    })
}

/// `CardGetChallengeEx`: a challenge for a challenge-response PIN.
pub(super) unsafe extern "system" fn card_get_challenge_ex(
    cd: *const CARD_DATA,
    id: u32,
    ppb: *mut *mut u8,
    pcb: *mut u32,
    flags: u32,
) -> u32 {
    entry("CardGetChallengeEx", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        // Pointers first: knowing which PINs the card has may take card I/O (spec §4.6.1).
        need(ppb, "ppbChallengeData is NULL")?;
        need(pcb, "pcbChallengeData is NULL")?;
        valid_pin_id(ctx, id)?;
        if ctx.pin_info(id)?.pin_type != pin::CHALLENGE_RESPONSE {
            return Err(Error::InvalidParameter("not a challenge-response PIN"));
        }
        challenge_out(ctx, csp, id, ppb, pcb)
    })
}

/// `CardAuthenticateEx`, with session PINs.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_authenticate_ex(
    cd: *const CARD_DATA,
    id: u32,
    flags: u32,
    pb: *const u8,
    cb: u32,
    ppb_session: *mut *mut u8,
    pcb_session: *mut u32,
    pc: *mut u32,
) -> u32 {
    entry("CardAuthenticateEx", cd, |ctx, csp| {
        let known = pin::GENERATE_SESSION_PIN | pin::SESSION_PIN | pin::SILENT_CONTEXT;
        if flags & !known != 0 {
            return Err(Error::InvalidParameter("unknown dwFlags"));
        }
        // No edge has an external PIN (PIN pad, biometric): PIN data is always required. The
        // pointers are checked before the PIN id, whose check may take card I/O.
        // SAFETY: pbPinData holds cbPinData bytes.
        let data = unsafe { util::required_bytes(pb, cb, "pbPinData is NULL")? };
        let generate = flags & pin::GENERATE_SESSION_PIN != 0;
        let session = flags & pin::SESSION_PIN != 0;
        if generate && session {
            return Err(Error::InvalidParameter("both session PIN flags"));
        }
        if generate {
            need(ppb_session, "ppbSessionPin is NULL")?;
            need(pcb_session, "pcbSessionPin is NULL")?;
        }
        valid_pin_id(ctx, id)?;
        let result = match (generate, session) {
            (true, _) => {
                let token = ctx.generate_session_pin(id, data)?;
                let len = util::dword(token.len())?;
                let p = csp.alloc_copy(&token)?;
                // SAFETY: both out-pointers checked.
                unsafe {
                    put(ppb_session, p);
                    put(pcb_session, len);
                }
                return Ok(());
            }
            (false, true) => ctx.authenticate_session_pin(id, data, &mut &*csp),
            (false, false) => ctx.authenticate(id, data, &mut &*csp),
        };
        // SAFETY: out-pointers are NULL or valid for their types.
        unsafe {
            report_tries(&result, pc);
            if result.is_ok() {
                put(ppb_session, ptr::null_mut());
                put(pcb_session, 0);
            }
        }
        result
    })
}

/// `CardChangeAuthenticatorEx`: change a PIN, or unblock one with another.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn card_change_authenticator_ex(
    cd: *const CARD_DATA,
    flags: u32,
    auth_id: u32,
    pb_auth: *const u8,
    cb_auth: u32,
    target_id: u32,
    pb_target: *const u8,
    cb_target: u32,
    retry_count: u32,
    pc: *mut u32,
) -> u32 {
    entry("CardChangeAuthenticatorEx", cd, |ctx, _| {
        if flags != pin::CHANGE_FLAG_UNBLOCK && flags != pin::CHANGE_FLAG_CHANGEPIN {
            return Err(Error::InvalidParameter("dwFlags"));
        }
        // SAFETY: the buffers hold their stated lengths.
        let auth = unsafe { util::required_bytes(pb_auth, cb_auth, "pbAuthenticatingPinData is NULL")? };
        // SAFETY: as above.
        let target = unsafe { util::required_bytes(pb_target, cb_target, "pbTargetData is NULL")? };
        if retry_count != 0 {
            return Err(Error::InvalidParameter("the retry limit cannot be changed"));
        }
        // After the pointers: knowing which PINs the card has may take card I/O.
        valid_pin_id(ctx, auth_id)?;
        valid_pin_id(ctx, target_id)?;
        let info = ctx.pin_info(target_id)?;
        let result = if flags == pin::CHANGE_FLAG_UNBLOCK {
            if auth_id == target_id || info.unblock_permission & pin::set_of(auth_id) == 0 {
                return Err(Error::InvalidParameter("this PIN may not unblock the target"));
            }
            ctx.unblock(auth_id, auth, target_id, target)
        } else {
            if info.change_permission & pin::set_of(auth_id) == 0 || auth_id != target_id {
                return Err(Error::InvalidParameter("this PIN may not change the target"));
            }
            ctx.change_pin(target_id, auth, target)
        };
        // SAFETY: pc is NULL or a DWORD out-pointer.
        unsafe { report_tries(&result, pc) };
        result
    })
}

/// `CardDeauthenticateEx`: every PIN in the set (the `ROLE_EVERYONE` bit is ignored).
pub(super) unsafe extern "system" fn card_deauthenticate_ex(cd: *const CARD_DATA, pins: u32, flags: u32) -> u32 {
    entry("CardDeauthenticateEx", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        ctx.deauthenticate(pins, &mut &*csp)
    })
}
