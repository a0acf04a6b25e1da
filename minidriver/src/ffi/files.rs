//! The file and directory functions (spec §4.3).

use windows_sys::Win32::Security::Cryptography::{CARD_DATA, CARD_FILE_INFO, CARD_FREE_SPACE_INFO};
use windows_sys::core::{PCSTR, PSTR};

use super::entry;
use super::util::{self, dword, need, put};
use crate::abi::misc;
use crate::error::Error;

/// `CardReadFile`: the whole file in a `pfnCspAlloc` buffer (`*pcbData` is ignored on input).
pub(super) unsafe extern "system" fn card_read_file(
    cd: *const CARD_DATA,
    dir: PCSTR,
    file: PCSTR,
    flags: u32,
    ppb: *mut *mut u8,
    pcb: *mut u32,
) -> u32 {
    entry("CardReadFile", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        need(ppb, "ppbData is NULL")?;
        need(pcb, "pcbData is NULL")?;
        // SAFETY: names are NUL-terminated ANSI strings or NULL (spec §4.3).
        let dir = unsafe { util::ansi(dir)? };
        // SAFETY: as above.
        let file = unsafe { util::ansi(file)? }.ok_or(Error::InvalidParameter("pszFileName is NULL"))?;
        let data = ctx.read_file(dir.as_deref(), &file, &mut &*csp)?;
        let len = dword(data.len())?;
        let p = csp.alloc_copy(&data)?;
        // SAFETY: both out-pointers checked non-NULL above.
        unsafe {
            put(ppb, p);
            put(pcb, len);
        }
        Ok(())
    })
}

/// `CardWriteFile`: replaces the whole content of an existing file.
pub(super) unsafe extern "system" fn card_write_file(
    cd: *const CARD_DATA,
    dir: PCSTR,
    file: PCSTR,
    flags: u32,
    pb: *const u8,
    cb: u32,
) -> u32 {
    entry("CardWriteFile", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        // SAFETY: NUL-terminated names or NULL.
        let dir = unsafe { util::ansi(dir)? };
        // SAFETY: as above.
        let file = unsafe { util::ansi(file)? }.ok_or(Error::InvalidParameter("pszFileName is NULL"))?;
        // SAFETY: pbData holds cbData bytes.
        let data = unsafe { util::bytes(pb, cb, "pbData is NULL")? };
        ctx.write_file(dir.as_deref(), &file, data, &mut &*csp)
    })
}

/// `CardCreateFile`.
pub(super) unsafe extern "system" fn card_create_file(
    cd: *const CARD_DATA,
    dir: PCSTR,
    file: PCSTR,
    initial_size: u32,
    access_condition: i32,
) -> u32 {
    entry("CardCreateFile", cd, |ctx, csp| {
        // SAFETY: NUL-terminated names or NULL.
        let dir = unsafe { util::ansi(dir)? };
        // SAFETY: as above.
        let file = unsafe { util::ansi(file)? }.ok_or(Error::InvalidParameter("pszFileName is NULL"))?;
        let ac = u32::try_from(access_condition).map_err(|_| Error::InvalidParameter("AccessCondition"))?;
        ctx.create_file(dir.as_deref(), &file, initial_size, ac, &mut &*csp)
    })
}

/// `CardDeleteFile`.
pub(super) unsafe extern "system" fn card_delete_file(
    cd: *const CARD_DATA,
    dir: PCSTR,
    file: PCSTR,
    flags: u32,
) -> u32 {
    entry("CardDeleteFile", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        // SAFETY: NUL-terminated names or NULL.
        let dir = unsafe { util::ansi(dir)? };
        // SAFETY: as above.
        let file = unsafe { util::ansi(file)? }.ok_or(Error::InvalidParameter("pszFileName is NULL"))?;
        ctx.delete_file(dir.as_deref(), &file, &mut &*csp)
    })
}

/// `CardEnumFiles`: a multi-string (`name\0name\0\0`) in one `pfnCspAlloc` block, whatever the
/// number of files.
pub(super) unsafe extern "system" fn card_enum_files(
    cd: *const CARD_DATA,
    dir: PCSTR,
    pmsz: *mut PSTR,
    pdwcb: *mut u32,
    flags: u32,
) -> u32 {
    entry("CardEnumFiles", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        need(pmsz, "pmszFileNames is NULL")?;
        need(pdwcb, "pdwcbFileName is NULL")?;
        // SAFETY: NUL-terminated name or NULL.
        let dir = unsafe { util::ansi(dir)? };
        let names = ctx.enum_files(dir.as_deref(), &mut &*csp)?;
        let mut multi = Vec::new();
        for n in names {
            multi.extend_from_slice(n.as_bytes());
            multi.push(0);
        }
        multi.push(0);
        let len = dword(multi.len())?;
        let p = csp.alloc_copy(&multi)?;
        // SAFETY: out-pointers checked above.
        unsafe {
            put(pmsz, p);
            put(pdwcb, len);
        }
        Ok(())
    })
}

/// `CardGetFileInfo`: size and access condition (`dwVersion` 0 or 1).
pub(super) unsafe extern "system" fn card_get_file_info(
    cd: *const CARD_DATA,
    dir: PCSTR,
    file: PCSTR,
    info: *mut CARD_FILE_INFO,
) -> u32 {
    entry("CardGetFileInfo", cd, |ctx, csp| {
        // SAFETY: NULL or the caller's CARD_FILE_INFO, which starts with dwVersion.
        unsafe { util::versioned_out(info, "pCardFileInfo is NULL")? };
        // SAFETY: NUL-terminated names or NULL.
        let dir = unsafe { util::ansi(dir)? };
        // SAFETY: as above.
        let file = unsafe { util::ansi(file)? }.ok_or(Error::InvalidParameter("pszFileName is NULL"))?;
        let fi = ctx.file_info(dir.as_deref(), &file, &mut &*csp)?;
        let ac = i32::try_from(fi.access_condition.0).map_err(|_| Error::Unexpected("access condition"))?;
        // SAFETY: `info` checked non-NULL; the caller owns a CARD_FILE_INFO.
        unsafe { put(info, CARD_FILE_INFO { dwVersion: 1, cbFileSize: fi.size, AccessCondition: ac }) };
        Ok(())
    })
}

/// `CardQueryFreeSpace` (`dwVersion` 0 or 1; unknown values are `CARD_DATA_VALUE_UNKNOWN`).
pub(super) unsafe extern "system" fn card_query_free_space(
    cd: *const CARD_DATA,
    flags: u32,
    info: *mut CARD_FREE_SPACE_INFO,
) -> u32 {
    entry("CardQueryFreeSpace", cd, |ctx, csp| {
        util::flags_zero(flags)?;
        // SAFETY: NULL or the caller's CARD_FREE_SPACE_INFO, which starts with dwVersion.
        unsafe { util::versioned_out(info, "pCardFreeSpaceInfo is NULL")? };
        let fs = ctx.free_space(&mut &*csp)?;
        let value = |v: Option<u32>| v.unwrap_or(misc::VALUE_UNKNOWN);
        let out = CARD_FREE_SPACE_INFO {
            dwVersion: 1,
            dwBytesAvailable: value(fs.bytes_available),
            dwKeyContainersAvailable: value(fs.containers_available),
            dwMaxKeyContainers: value(fs.max_containers),
        };
        // SAFETY: `info` checked non-NULL.
        unsafe { put(info, out) };
        Ok(())
    })
}

/// `CardCreateDirectory`.
pub(super) unsafe extern "system" fn card_create_directory(
    cd: *const CARD_DATA,
    dir: PCSTR,
    access_condition: i32,
) -> u32 {
    entry("CardCreateDirectory", cd, |ctx, _csp| {
        // SAFETY: NUL-terminated name or NULL.
        let dir = unsafe { util::ansi(dir)? }.ok_or(Error::InvalidParameter("pszDirectoryName is NULL"))?;
        let ac = u32::try_from(access_condition).map_err(|_| Error::InvalidParameter("AccessCondition"))?;
        if ac != misc::USER_CREATE_DELETE_DIR_AC && ac != misc::ADMIN_CREATE_DELETE_DIR_AC {
            return Err(Error::InvalidParameter("directory access condition"));
        }
        ctx.create_dir(&dir, ac)
    })
}

/// `CardDeleteDirectory`.
pub(super) unsafe extern "system" fn card_delete_directory(cd: *const CARD_DATA, dir: PCSTR) -> u32 {
    entry("CardDeleteDirectory", cd, |ctx, _csp| {
        // SAFETY: NUL-terminated name or NULL.
        let dir = unsafe { util::ansi(dir)? }.ok_or(Error::InvalidParameter("pszDirectoryName is NULL"))?;
        ctx.delete_dir(&dir)
    })
}
