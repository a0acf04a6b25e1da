//! The application DF: SELECT (by DF name, by FID), its FCI/FCP/FMD, EF.ATR/INFO, and the
//! file management commands CREATE FILE, ACTIVATE FILE, DELETE FILE and TERMINATE DF with the
//! life cycle they drive (GIDS v2.0 file system; ISO 7816-4 7.1 and ISO 7816-9).

use card_edges::iso7816::apdu::{CommandView, Response};
use card_edges::iso7816::status::StatusWord;

use super::access::{LifeCycle, op};
use super::fs::{APPLICATION_FCP, APPLICATION_FID, Ef, FileSystem, MAX_FILES};
use super::{AID, Applet, PARTIAL_AID, sw};

/// Java Card's `SW_APPLET_SELECT_FAILED`, what a card answers SELECT of an unknown AID with
/// while no applet is selected.
const APPLET_SELECT_FAILED: StatusWord = StatusWord(0x6999);

/// MANAGE SECURITY ENVIRONMENT.
pub(super) const MANAGE_SECURITY_ENVIRONMENT: u8 = 0x22;
/// PERFORM SECURITY OPERATION.
pub(super) const PERFORM_SECURITY_OPERATION: u8 = 0x2A;
/// ISO 7816-9 file management.
pub(super) const CREATE_FILE: u8 = 0xE0;
pub(super) const DELETE_FILE: u8 = 0xE4;
pub(super) const ACTIVATE_FILE: u8 = 0x44;
pub(super) const TERMINATE_DF: u8 = 0xE6;

/// The FCI the application answers SELECT with (P2 `00`): application template `61` with the
/// full AID and discretionary data `73 { 40 01 C0 }`, the "supported authentication
/// protocols" byte of GIDS v2.0 that lets Windows use the short (external) administrator
/// challenge besides mutual authentication. Windows 10 refuses a GIDS card without it.
fn fci() -> Vec<u8> {
    let mut out = vec![0x61, 0x12, 0x4F, 0x0B];
    out.extend_from_slice(&AID);
    out.extend_from_slice(&[0x73, 0x03, 0x40, 0x01, 0xC0]);
    out
}

/// The FMD (P2 `08`): PIN usage policy `5F2F` = `60` (application and global PIN present),
/// and `7F65 { 80 00 }`, as GidsApplet returns them.
const FMD: [u8; 11] = [0x64, 0x09, 0x5F, 0x2F, 0x01, 0x60, 0x7F, 0x65, 0x02, 0x80, 0x00];

/// EF.ATR/INFO (GET DATA `2F01`): card service data `F4`, card capabilities `08 01 80`
/// (command chaining, no extended Lc/Le), and the pre-issuing data naming the card.
fn ef_atr() -> Vec<u8> {
    let mut out = vec![0x43, 0x01, 0xF4, 0x47, 0x03, 0x08, 0x01, 0x80, 0x46];
    out.push(u8::try_from(super::ATR_NAME.len()).unwrap_or(0));
    out.extend_from_slice(super::ATR_NAME);
    out
}

/// What SELECT returns, from P2 bits 4-3 (ISO 7816-4 table 40).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Fci,
    Fcp,
    Fmd,
    Nothing,
}

impl Answer {
    /// P2 with only "first or only occurrence" (b2b1 = 00) and b8-b5 clear.
    fn from_p2(p2: u8) -> Option<Self> {
        if p2 & 0xF3 != 0 {
            return None;
        }
        Some(match p2 & 0x0C {
            0x00 => Self::Fci,
            0x04 => Self::Fcp,
            0x08 => Self::Fmd,
            _ => Self::Nothing,
        })
    }
}

impl Applet {
    /// SELECT: by DF name (P1 `04`) the application, matching its AID or a prefix of at least
    /// the 9 bytes hosts send (Java Card partial selection), which re-selects it and so ends
    /// every authentication, as a Java Card deselect does; by FID (P1 `00`) the application
    /// (`3FFF`, `3F00`, or no data) or one of its EFs, which becomes the current EF. Every
    /// other DF name and a FID that does not exist answer `6A 82` and change nothing (`69 99`
    /// for a DF name before the application is selected, as a Java Card runtime does); other
    /// P1 (paths, `08`/`09`) `6A 86`.
    pub(super) fn select(&mut self, cmd: &CommandView<'_>) -> Response {
        let Some(answer) = Answer::from_p2(cmd.p2) else {
            return Response::status(StatusWord::INCORRECT_P1P2);
        };
        match cmd.p1 {
            0x04 => self.select_by_name(cmd.data, answer),
            0x00 if self.selected => self.select_by_fid(cmd.data, answer),
            0x00 => Response::status(StatusWord::FILE_NOT_FOUND),
            _ => Response::status(StatusWord::INCORRECT_P1P2),
        }
    }

    fn select_by_name(&mut self, name: &[u8], answer: Answer) -> Response {
        if name.len() < PARTIAL_AID.len() || !AID.starts_with(name) {
            // With the application selected, it looks the name up among its DFs; before, the
            // Java Card runtime finds no applet ("applet selection failed").
            return Response::status(if self.selected { StatusWord::FILE_NOT_FOUND } else { APPLET_SELECT_FAILED });
        }
        self.selected = true;
        self.fs.current = None;
        self.deauthenticate();
        self.answer_application(answer)
    }

    fn select_by_fid(&mut self, data: &[u8], answer: Answer) -> Response {
        let fid = match data {
            [] => APPLICATION_FID,
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            _ => return Response::status(StatusWord::WRONG_LENGTH),
        };
        if FileSystem::is_application(fid) {
            self.fs.current = None;
            return self.answer_application(answer);
        }
        let Some(ef) = self.fs.files.get(&fid) else {
            return Response::status(StatusWord::FILE_NOT_FOUND);
        };
        let rsp = match answer {
            Answer::Fcp => Response::ok(ef.fcp.clone()),
            Answer::Nothing => Response::ok(Vec::new()),
            // EFs have neither an FCI of their own nor management data.
            Answer::Fci | Answer::Fmd => return Response::status(StatusWord::INCORRECT_P1P2),
        };
        self.fs.current = Some(fid);
        rsp
    }

    fn answer_application(&self, answer: Answer) -> Response {
        let data = match answer {
            Answer::Fci => fci(),
            Answer::Fcp => APPLICATION_FCP.to_vec(),
            Answer::Fmd => FMD.to_vec(),
            Answer::Nothing => Vec::new(),
        };
        let sw = if self.fs.state == LifeCycle::Terminated { sw::TERMINATED } else { StatusWord::SUCCESS };
        Response { data, sw }
    }

    /// EF.ATR/INFO, read with `00 CB 2F 01 02 5C 00`.
    pub(super) fn read_ef_atr(cmd: &CommandView<'_>) -> Response {
        if cmd.data == [0x5C, 0x00] { Response::ok(ef_atr()) } else { Response::status(sw::DATA_INVALID) }
    }

    /// CREATE FILE `00 E0 00 00 <FCP>`: a BER-TLV EF or a key file in the application, in its
    /// creation state, which becomes the current EF. Needs the application's CREATE EF
    /// condition (user PIN or administrator once operational).
    pub(super) fn create_file(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if let Err(sw) = self.fs.check_application(op::CREATE_EF, self.authority()) {
            return Response::status(sw);
        }
        let (fid, ef) = match Ef::from_fcp(cmd.data) {
            Ok(parsed) => parsed,
            Err(sw) => return Response::status(sw),
        };
        if self.fs.files.contains_key(&fid) {
            return Response::status(StatusWord::FILE_EXISTS);
        }
        if self.fs.files.len() >= MAX_FILES {
            return Response::status(StatusWord::NOT_ENOUGH_MEMORY);
        }
        self.fs.files.insert(fid, ef);
        self.fs.current = Some(fid);
        Response::ok(Vec::new())
    }

    /// ACTIVATE FILE `00 44 00 00`: the current EF, or with none the application, becomes
    /// operational. Activating the application ends its creation state: from then on every
    /// security condition is enforced, and the authentications made so far are forgotten.
    pub(super) fn activate_file(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if !cmd.data.is_empty() {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let who = self.authority();
        match self.fs.current {
            Some(fid) => {
                if let Err(sw) = self.fs.check_file(fid, op::ACTIVATE, who) {
                    return Response::status(sw);
                }
                if let Some(ef) = self.fs.files.get_mut(&fid) {
                    ef.state = LifeCycle::Operational;
                }
            }
            None => {
                if let Err(sw) = self.fs.check_application(op::ACTIVATE, who) {
                    return Response::status(sw);
                }
                self.fs.state = LifeCycle::Operational;
                self.deauthenticate();
            }
        }
        Response::ok(Vec::new())
    }

    /// DELETE FILE `00 E4 00 00` (no data): deletes the current EF. Needs the EF's own DELETE
    /// condition, if it has one, and, stricter than GidsApplet, the application's DELETE
    /// CHILD condition (user PIN or administrator): ISO 7816-9 makes deletion depend on both.
    /// A file still in its creation state cannot be deleted (`69 85`); with no current EF the
    /// target would be the application itself (`69 86`).
    pub(super) fn delete_file(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if !cmd.data.is_empty() {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let Some(fid) = self.fs.current else {
            return Response::status(StatusWord::COMMAND_NOT_ALLOWED);
        };
        let who = self.authority();
        if let Err(sw) = self.fs.check_file(fid, op::DELETE_SELF, who) {
            return Response::status(sw);
        }
        if let Err(sw) = self.fs.check_application(op::DELETE_CHILD, who) {
            return Response::status(sw);
        }
        self.fs.files.remove(&fid);
        self.fs.current = None;
        // A deleted key can no longer be the one an environment names.
        let [hi, kref] = fid.to_be_bytes();
        if hi == 0xB0 {
            if self.security.env.as_ref().is_some_and(|e| e.kref == kref) {
                self.security.env = None;
            }
            if self.security.auth_key == Some(kref) {
                self.security.auth_key = None;
            }
        }
        Response::ok(Vec::new())
    }

    /// TERMINATE DF `00 E6 00 00`: the application is terminated for good; only SELECT works
    /// afterwards, and everything answers `62 85`.
    pub(super) fn terminate_df(&mut self, cmd: &CommandView<'_>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if let Err(sw) = self.fs.check_application(op::TERMINATE, self.authority()) {
            return Response::status(sw);
        }
        self.fs.state = LifeCycle::Terminated;
        self.deauthenticate();
        Response::ok(Vec::new())
    }
}
