//! File and directory names.
//!
//! Seed 003: a name is at most 8 ANSI characters, without the characters Windows forbids in file
//! names, and minidrivers lower-case names so that they compare case-insensitively. A [`Name`]
//! can only hold a name that follows these rules, already lower-cased, so code below the
//! [`crate::Vfs`] never checks a name again.

use crate::error::{Error, NameError, Result};

/// Longest name, in characters (seed 003).
pub const MAX_LEN: usize = 8;

/// A valid, lower-cased file or directory name.
///
/// Only printable ASCII passes: the specification's "ANSI" would allow bytes above 0x7F, but
/// lower-casing them depends on the code page of each calling process, so the same bytes could
/// name two different files. Every name Windows and the known minidrivers use is ASCII.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl Name {
    /// Validates ANSI bytes (without the C string's NUL) and lower-cases them.
    ///
    /// # Errors
    /// [`Error::InvalidName`] with the first rule the bytes break.
    pub fn new(raw: &[u8]) -> Result<Self> {
        if raw.is_empty() {
            return Err(NameError::Empty.into());
        }
        if raw.len() > MAX_LEN {
            return Err(NameError::TooLong(raw.len()).into());
        }
        if raw == b"." || raw == b".." {
            return Err(NameError::Dots.into());
        }
        let mut bytes = [0u8; MAX_LEN];
        for (slot, &b) in bytes.iter_mut().zip(raw) {
            check_byte(b)?;
            *slot = b.to_ascii_lowercase();
        }
        Ok(Self {
            // `raw.len() <= MAX_LEN` was checked above, so this never saturates.
            len: u8::try_from(raw.len()).unwrap_or(u8::MAX),
            bytes,
        })
    }

    /// Validates a Rust string (see [`Name::new`]).
    ///
    /// # Errors
    /// [`Error::InvalidName`] with the first rule the string breaks.
    pub fn parse(s: &str) -> Result<Self> {
        Self::new(s.as_bytes())
    }

    /// Builds a name from a literal known to be valid, for the well-known names.
    ///
    /// Not validated: only for literals in this crate, each checked by a test.
    pub(crate) const fn from_literal<const N: usize>(lit: &[u8; N]) -> Self {
        const { assert!(N >= 1 && N <= MAX_LEN) };
        let mut bytes = [0u8; MAX_LEN];
        let mut i = 0;
        while i < N {
            // `i < N <= MAX_LEN` by the loop bound and the assertion above; a `const fn`
            // cannot use iterators.
            #[allow(clippy::indexing_slicing)]
            {
                bytes[i] = lit[i].to_ascii_lowercase();
            }
            i += 1;
        }
        // N <= MAX_LEN = 8 by the assertion above, so the cast keeps the value.
        Self { len: N as u8, bytes }
    }

    /// The name's bytes, lower-cased, without a NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The name as a string (always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Number of characters (1 to 8).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a name has at least one character. Here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn check_byte(b: u8) -> Result<(), Error> {
    match b {
        0x00..=0x1f => Err(NameError::ControlChar(b).into()),
        b'"' | b'*' | b'/' | b':' | b'<' | b'>' | b'?' | b'\\' | b'|' => Err(NameError::ReservedChar(b).into()),
        0x80..=0xff => Err(NameError::NotAscii(b).into()),
        _ => Ok(()),
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Name({:?})", self.as_str())
    }
}

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Name {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<[u8]> for Name {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(raw: &[u8]) -> NameError {
        match Name::new(raw) {
            Err(Error::InvalidName(e)) => e,
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    #[test]
    fn lower_cases() {
        let n = Name::new(b"CardCF").unwrap();
        assert_eq!(n.as_str(), "cardcf");
        assert_eq!(n, Name::parse("CARDCF").unwrap());
        assert_eq!(n.len(), 6);
        assert!(!n.is_empty());
        assert_eq!(n.to_string(), "cardcf");
        assert_eq!(format!("{n:?}"), "Name(\"cardcf\")");
    }

    #[test]
    fn eight_characters_is_the_limit() {
        assert_eq!(Name::new(b"12345678").unwrap().as_bytes(), b"12345678");
        assert_eq!(err(b"123456789"), NameError::TooLong(9));
    }

    #[test]
    fn rejects_each_reserved_character() {
        for &b in b"\"*/:<>?\\|" {
            assert_eq!(err(&[b'a', b]), NameError::ReservedChar(b));
        }
    }

    #[test]
    fn rejects_control_characters_and_high_bytes() {
        for b in 0x00..=0x1f {
            assert_eq!(err(&[b'a', b]), NameError::ControlChar(b));
        }
        assert_eq!(err(&[0x80]), NameError::NotAscii(0x80));
        assert_eq!(err(&[b'x', 0xff]), NameError::NotAscii(0xff));
    }

    #[test]
    fn rejects_empty_and_dots() {
        assert_eq!(err(b""), NameError::Empty);
        assert_eq!(err(b"."), NameError::Dots);
        assert_eq!(err(b".."), NameError::Dots);
        assert!(Name::new(b"...").is_ok());
        assert!(Name::new(b"a.b").is_ok());
        // DEL and space are allowed by Windows' rules.
        assert!(Name::new(&[b'a', 0x7f, b' ']).is_ok());
    }

    #[test]
    fn literal_matches_new() {
        assert_eq!(Name::from_literal(b"MsCp"), Name::new(b"mscp").unwrap());
    }

    #[test]
    fn orders_by_bytes() {
        let a = Name::new(b"ab").unwrap();
        let b = Name::new(b"b").unwrap();
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(s in "[ !#-)+-.0-9;=@-\\[\\]-{}~\\x7f]{1,8}") {
            prop_assume!(s != "." && s != "..");
            let n = Name::parse(&s).unwrap();
            prop_assert_eq!(n.as_str(), s.to_ascii_lowercase());
            prop_assert_eq!(Name::new(n.as_bytes()).unwrap(), n);
        }

        #[test]
        fn any_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(n) = Name::new(&raw) {
                prop_assert!(raw.len() <= MAX_LEN && !raw.is_empty());
                let lower = raw.to_ascii_lowercase();
                prop_assert_eq!(n.as_bytes(), lower.as_slice());
            }
        }

        #[test]
        fn a_forbidden_byte_anywhere_is_rejected(
            prefix in "[a-z]{0,3}",
            bad in prop_oneof![0x00u8..=0x1f, Just(b'"'), Just(b'*'), Just(b'/'), Just(b':'),
                Just(b'<'), Just(b'>'), Just(b'?'), Just(b'\\'), Just(b'|'), 0x80u8..=0xff],
            suffix in "[a-z]{0,3}",
        ) {
            let mut raw = prefix.into_bytes();
            raw.push(bad);
            raw.extend(suffix.bytes());
            prop_assert!(Name::new(&raw).is_err());
        }
    }
}
