//! Status words (SW1 SW2), decoded totally: every 16-bit value has a meaning, unknown ones are kept.

use core::fmt;

/// A status word as the card sent it. An open newtype: unknown values round-trip and print in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// `90 00`: normal processing.
    pub const SUCCESS: Self = Self(0x9000);
    /// `62 83`: selected file deactivated (GIDS reports a terminated applet this way).
    pub const FILE_DEACTIVATED: Self = Self(0x6283);
    /// `67 00`: wrong length.
    pub const WRONG_LENGTH: Self = Self(0x6700);
    /// `68 82`: secure messaging not supported.
    pub const SM_NOT_SUPPORTED: Self = Self(0x6882);
    /// `68 83`: last command of the chain expected.
    pub const LAST_COMMAND_EXPECTED: Self = Self(0x6883);
    /// `68 84`: command chaining not supported.
    pub const CHAINING_NOT_SUPPORTED: Self = Self(0x6884);
    /// `69 82`: security status not satisfied.
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    /// `69 83`: authentication method blocked.
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6983);
    /// `69 84`: reference data not usable.
    pub const REFERENCE_DATA_NOT_USABLE: Self = Self(0x6984);
    /// `69 85`: conditions of use not satisfied.
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    /// `69 86`: command not allowed (no current EF).
    pub const COMMAND_NOT_ALLOWED: Self = Self(0x6986);
    /// `6A 80`: incorrect parameters in the data field.
    pub const INCORRECT_DATA: Self = Self(0x6A80);
    /// `6A 81`: function not supported.
    pub const FUNCTION_NOT_SUPPORTED: Self = Self(0x6A81);
    /// `6A 82`: file or application not found.
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    /// `6A 84`: not enough memory space in the file.
    pub const NOT_ENOUGH_MEMORY: Self = Self(0x6A84);
    /// `6A 86`: incorrect parameters P1-P2.
    pub const INCORRECT_P1P2: Self = Self(0x6A86);
    /// `6A 88`: referenced data or reference data not found.
    pub const REFERENCED_DATA_NOT_FOUND: Self = Self(0x6A88);
    /// `6A 89`: file already exists.
    pub const FILE_EXISTS: Self = Self(0x6A89);
    /// `6B 00`: wrong parameters P1-P2.
    pub const WRONG_P1P2: Self = Self(0x6B00);
    /// `6D 00`: instruction code not supported or invalid.
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    /// `6E 00`: class not supported.
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    /// `6F 00`: no precise diagnosis.
    pub const NO_PRECISE_DIAGNOSIS: Self = Self(0x6F00);

    /// Builds a status word from its two bytes.
    pub const fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self(u16::from_be_bytes([sw1, sw2]))
    }

    /// SW1.
    pub const fn sw1(self) -> u8 {
        self.0.to_be_bytes()[0]
    }

    /// SW2.
    pub const fn sw2(self) -> u8 {
        self.0.to_be_bytes()[1]
    }

    /// The two bytes as sent on the wire.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// True for `90 00` only.
    pub const fn is_success(self) -> bool {
        self.0 == 0x9000
    }

    /// Classifies the status word. Total: every value maps to some [`Status`].
    pub const fn status(self) -> Status {
        let (sw1, sw2) = (self.sw1(), self.sw2());
        match (sw1, sw2) {
            (0x90, 0x00) => Status::Success,
            // 61xx: xx more bytes available (00 means 256 or more).
            (0x61, n) => Status::MoreData(if n == 0 { 256 } else { n as u16 }),
            // 6Cxx: wrong Le, exact length is xx (00 means 256).
            (0x6C, n) => Status::WrongLe(if n == 0 { 256 } else { n as u16 }),
            // 63Cx: verification failed, x tries left. Some cards (YubiKey NEO) send 630x.
            (0x63, n) if n & 0xF0 == 0xC0 || n & 0xF0 == 0x00 => Status::VerifyFailed { tries_left: n & 0x0F },
            (0x69, 0x83) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x6A, 0x82) => Status::NotFound,
            (0x6A, 0x88) => Status::ReferenceNotFound,
            (0x62, _) | (0x63, _) => Status::Warning,
            (0x64, _) | (0x65, _) | (0x66, _) => Status::ExecutionError,
            (0x67, _) | (0x68, _) | (0x69, _) | (0x6A, _) | (0x6B, _) | (0x6D, _) | (0x6E, _) | (0x6F, _) => {
                Status::CheckingError
            }
            _ => Status::Unknown,
        }
    }
}

/// What a status word means to the host, coarse enough to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `90 00`.
    Success,
    /// `61 xx`: this many bytes (1..=256) wait for GET RESPONSE.
    MoreData(u16),
    /// `6C xx`: resend with this Le (1..=256).
    WrongLe(u16),
    /// `63 Cx` (or `63 0x`): a PIN or key check failed, x tries left.
    VerifyFailed {
        /// Tries left, 0..=15.
        tries_left: u8,
    },
    /// `69 83`: authentication method blocked.
    Blocked,
    /// `69 82`: security status not satisfied.
    SecurityNotSatisfied,
    /// `6A 82`: file or application not found.
    NotFound,
    /// `6A 88`: referenced data not found.
    ReferenceNotFound,
    /// Other `62 xx` / `63 xx` warnings.
    Warning,
    /// Other `64 xx`..`66 xx` execution errors.
    ExecutionError,
    /// Other `67 xx`..`6F xx` checking errors.
    CheckingError,
    /// Anything ISO 7816-4 does not define (proprietary or garbage); kept as is.
    Unknown,
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusWord({:04X})", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X} {:02X}", self.sw1(), self.sw2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_is_total_and_keeps_the_value() {
        for raw in 0..=u16::MAX {
            let sw = StatusWord(raw);
            let _ = sw.status();
            assert_eq!(StatusWord::from_bytes(sw.sw1(), sw.sw2()), sw);
        }
    }

    #[test]
    fn known_words() {
        assert_eq!(StatusWord(0x9000).status(), Status::Success);
        assert_eq!(StatusWord(0x6100).status(), Status::MoreData(256));
        assert_eq!(StatusWord(0x6108).status(), Status::MoreData(8));
        assert_eq!(StatusWord(0x6C10).status(), Status::WrongLe(16));
        assert_eq!(StatusWord(0x63C2).status(), Status::VerifyFailed { tries_left: 2 });
        assert_eq!(StatusWord(0x6302).status(), Status::VerifyFailed { tries_left: 2 });
        assert_eq!(StatusWord(0x6983).status(), Status::Blocked);
        assert_eq!(StatusWord(0x6A82).status(), Status::NotFound);
        assert_eq!(StatusWord(0x6A81).status(), Status::CheckingError);
        assert_eq!(StatusWord(0x1234).status(), Status::Unknown);
        assert_eq!(StatusWord(0x6A82).to_string(), "6A 82");
    }
}
