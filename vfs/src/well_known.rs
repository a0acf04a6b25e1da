//! The files and directory every card presents (seed 003, "Logical data layout" and
//! "Data layout summary"), their names and their default access conditions.

use crate::access::{AccessCondition, DirAccessCondition};
use crate::name::Name;
use crate::path::FilePath;

/// `cardid` (root): the card's unique identifier.
pub const CARDID: Name = Name::from_literal(b"cardid");
/// `cardcf` (root): the cache file.
pub const CARDCF: Name = Name::from_literal(b"cardcf");
/// `cardapps` (root): the application directory.
pub const CARDAPPS: Name = Name::from_literal(b"cardapps");
/// `mscp`: the Base CSP's application directory.
pub const MSCP: Name = Name::from_literal(b"mscp");
/// `mscp/cmapfile`: the container map.
pub const CMAPFILE: Name = Name::from_literal(b"cmapfile");
/// `mscp/msroots`: enterprise trusted roots, a PKCS #7 certificate store (optional).
pub const MSROOTS: Name = Name::from_literal(b"msroots");

/// Path of `cardid`.
pub const CARDID_PATH: FilePath = FilePath::root(CARDID);
/// Path of `cardcf`.
pub const CARDCF_PATH: FilePath = FilePath::root(CARDCF);
/// Path of `cardapps`.
pub const CARDAPPS_PATH: FilePath = FilePath::root(CARDAPPS);
/// Path of `mscp/cmapfile`.
pub const CMAPFILE_PATH: FilePath = FilePath::in_dir(MSCP, CMAPFILE);
/// Path of `mscp/msroots`.
pub const MSROOTS_PATH: FilePath = FilePath::in_dir(MSCP, MSROOTS);

/// Access condition of `mscp` (summary table: "E(R) U(RW) A(RW)" on a directory, i.e. User and
/// Admin may create files in it).
pub const MSCP_DIR_ACCESS_CONDITION: DirAccessCondition = DirAccessCondition::USER_CREATE_DELETE;

/// Which key a certificate file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CertKind {
    /// `kxcNN`: the certificate of container NN's key-exchange key (`AT_KEYEXCHANGE`).
    KeyExchange,
    /// `kscNN`: the certificate of container NN's signature key (`AT_SIGNATURE`).
    Signature,
}

impl CertKind {
    const fn prefix(self) -> &'static [u8; 3] {
        match self {
            Self::KeyExchange => b"kxc",
            Self::Signature => b"ksc",
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The name of container `index`'s certificate file (`mscp/kxcNN` or `mscp/kscNN`).
///
/// `NN` is the index as two hexadecimal digits, so all 256 container indexes (a `BYTE`) have a
/// name. Seed 003 only shows `00` and `01`, where decimal and hexadecimal agree; for 10 and up,
/// hexadecimal follows the Gemalto .NET minidriver (`"kxc%02x"`) and OpenSC's GIDS driver, which
/// reads certificates Windows wrote to GIDS cards (`"kxc%02X"`, lower-cased by the naming rule).
/// OpenSC's own virtual minidriver uses decimal (`"kxc%02i"`).
pub fn cert_file_name(kind: CertKind, index: u8) -> Name {
    let [p0, p1, p2] = *kind.prefix();
    let hi = HEX.get(usize::from(index >> 4)).copied().unwrap_or(b'0');
    let lo = HEX.get(usize::from(index & 0x0f)).copied().unwrap_or(b'0');
    Name::from_literal(&[p0, p1, p2, hi, lo])
}

/// The path of container `index`'s certificate file.
pub fn cert_file_path(kind: CertKind, index: u8) -> FilePath {
    FilePath::in_dir(MSCP, cert_file_name(kind, index))
}

/// Reads a certificate file name back: `kxcNN`/`kscNN` with two hexadecimal digits.
pub fn parse_cert_file_name(name: &Name) -> Option<(CertKind, u8)> {
    let [a, b, c, hi, lo] = *<&[u8; 5]>::try_from(name.as_bytes()).ok()?;
    let kind = match &[a, b, c] {
        b"kxc" => CertKind::KeyExchange,
        b"ksc" => CertKind::Signature,
        _ => return None,
    };
    Some((kind, (hex_digit(hi)? << 4) | hex_digit(lo)?))
}

const fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// The access condition seed 003 gives a well-known file, or `None` for other paths.
///
/// `cardapps` gets E(R) U(R) A(RW) (`EveryoneReadAdminWriteAc`): seed 003 gives it two
/// conditions, E(R) U(RW) A(RW) in the "Application directory" text and E(R) U(R) A(RW) in the
/// "Data layout summary" table; the summary table is used because it is the one condition list
/// covering every file, and because only card personalisation (by the admin) needs to add an
/// application.
pub fn default_access_condition(path: &FilePath) -> Option<AccessCondition> {
    match (path.dir, path.file) {
        (None, f) if f == CARDID => Some(AccessCondition::EVERYONE_READ_ADMIN_WRITE),
        (None, f) if f == CARDCF => Some(AccessCondition::EVERYONE_READ_USER_WRITE),
        (None, f) if f == CARDAPPS => Some(AccessCondition::EVERYONE_READ_ADMIN_WRITE),
        (Some(d), f) if d == MSCP && (f == CMAPFILE || f == MSROOTS || parse_cert_file_name(&f).is_some()) => {
            Some(AccessCondition::EVERYONE_READ_USER_WRITE)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_names_are_valid() {
        for (name, s) in [
            (CARDID, "cardid"),
            (CARDCF, "cardcf"),
            (CARDAPPS, "cardapps"),
            (MSCP, "mscp"),
            (CMAPFILE, "cmapfile"),
            (MSROOTS, "msroots"),
        ] {
            assert_eq!(Name::parse(s).unwrap(), name);
        }
        for i in 0..=255 {
            for kind in [CertKind::KeyExchange, CertKind::Signature] {
                let n = cert_file_name(kind, i);
                assert_eq!(Name::new(n.as_bytes()).unwrap(), n);
            }
        }
    }

    #[test]
    fn cert_names_round_trip() {
        assert_eq!(cert_file_name(CertKind::KeyExchange, 0).as_str(), "kxc00");
        assert_eq!(cert_file_name(CertKind::Signature, 1).as_str(), "ksc01");
        assert_eq!(cert_file_name(CertKind::Signature, 0xab).as_str(), "kscab");
        assert_eq!(cert_file_path(CertKind::KeyExchange, 9).to_string(), "mscp/kxc09");
        for i in 0..=255 {
            for kind in [CertKind::KeyExchange, CertKind::Signature] {
                assert_eq!(parse_cert_file_name(&cert_file_name(kind, i)), Some((kind, i)));
            }
        }
        // Upper-case digits arrive lower-cased by the naming rule.
        assert_eq!(parse_cert_file_name(&Name::parse("KXC0A").unwrap()), Some((CertKind::KeyExchange, 10)));
        for bad in ["kxc0", "kxc000", "kxcg0", "kxc-1", "kyc00", "cmapfile", "ksc 1"] {
            assert_eq!(parse_cert_file_name(&Name::parse(bad).unwrap()), None, "{bad}");
        }
    }

    #[test]
    fn default_conditions_follow_the_summary_table() {
        let everyone_read_user_write = Some(AccessCondition::EVERYONE_READ_USER_WRITE);
        let everyone_read_admin_write = Some(AccessCondition::EVERYONE_READ_ADMIN_WRITE);
        for (path, expected) in [
            ("cardid", everyone_read_admin_write),
            ("cardcf", everyone_read_user_write),
            ("cardapps", everyone_read_admin_write),
            ("mscp/cmapfile", everyone_read_user_write),
            ("mscp/kxc00", everyone_read_user_write),
            ("mscp/ksc01", everyone_read_user_write),
            ("mscp/msroots", everyone_read_user_write),
            ("mscp/cardid", None),
            ("cmapfile", None),
            ("kxc00", None),
            ("other/kxc00", None),
        ] {
            assert_eq!(default_access_condition(&FilePath::parse(path).unwrap()), expected, "{path}");
        }
        assert_eq!(CMAPFILE_PATH.to_string(), "mscp/cmapfile");
        assert_eq!(CARDID_PATH.to_string(), "cardid");
    }
}
