//! Principals, operations and access conditions (seed 003, "File Access Control").
//!
//! The rules, and where each one lives:
//! - A file's access condition is one of the `CARD_FILE_ACCESS_CONDITION` values; its meaning is
//!   the mnemonic table in [`AccessCondition::permits`]. What a mnemonic does not grant is denied,
//!   so `InvalidAc`, `UnknownAc` and values the specification does not define deny everything.
//! - Admin is a super-user except for Execute: wherever User may read or write, Admin may too,
//!   but only the user "executes" (uses) a private key.
//! - Listing a directory needs no permission; reading file info needs Read; deleting a file
//!   needs Write on it; creating a file needs the directory's create right
//!   ([`DirAccessCondition`]); these are checked by [`crate::Vfs`].
//! - The interface cannot create an E(W) directory, a private-key file owned by Admin or
//!   Everyone, or a PIN file (E(X) U(W) A(W)): none of them can be expressed with the values a
//!   file or directory may be created with ([`AccessCondition::is_creatable`],
//!   [`DirAccessCondition::is_creatable`]), and a test checks this.
//! - An access condition cannot change without deleting and re-creating the file: nothing in
//!   this crate sets one on an existing file.

/// Who asks (seed 003, "Known principals").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// Anyone, authenticated or not (`ROLE_EVERYONE`, mnemonic E).
    Everyone,
    /// The card's user, proved by PIN (`ROLE_USER`, mnemonic U).
    User,
    /// The card's administrator (`ROLE_ADMIN`, mnemonic A).
    Admin,
}

impl Principal {
    /// Every principal, in mnemonic order.
    pub const ALL: [Self; 3] = [Self::Everyone, Self::User, Self::Admin];

    /// The one-letter mnemonic of seed 003.
    pub const fn mnemonic(self) -> char {
        match self {
            Self::Everyone => 'E',
            Self::User => 'U',
            Self::Admin => 'A',
        }
    }
}

impl core::fmt::Display for Principal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Everyone => "Everyone",
            Self::User => "User",
            Self::Admin => "Admin",
        })
    }
}

/// What a principal does with a file (seed 003, "File access operations").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Receive the content (mnemonic R).
    Read,
    /// Change, create, replace or delete the content (mnemonic W).
    Write,
    /// Have the card use the content without revealing it, e.g. a private key (mnemonic X).
    /// Independent of Read and Write.
    Execute,
}

impl Operation {
    /// Every operation, in mnemonic order.
    pub const ALL: [Self; 3] = [Self::Read, Self::Write, Self::Execute];

    /// The one-letter mnemonic of seed 003.
    pub const fn mnemonic(self) -> char {
        match self {
            Self::Read => 'R',
            Self::Write => 'W',
            Self::Execute => 'X',
        }
    }
}

impl core::fmt::Display for Operation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Execute => "execute",
        })
    }
}

/// A file's `CARD_FILE_ACCESS_CONDITION`.
///
/// An open newtype rather than an enum: the value crosses the C ABI in both directions
/// (`CardCreateFile` in, `CARD_FILE_INFO` out), and a value outside the enum must be representable
/// so it can be refused rather than transmuted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessCondition(pub u32);

impl AccessCondition {
    /// `InvalidAc`: the access condition could not be retrieved. Grants nothing.
    pub const INVALID: Self = Self(0);
    /// `EveryoneReadUserWriteAc`: E(R) U(RW) A(RW).
    pub const EVERYONE_READ_USER_WRITE: Self = Self(1);
    /// `UserWriteExecuteAc`: U(WX) A(W), e.g. a user's private key.
    pub const USER_WRITE_EXECUTE: Self = Self(2);
    /// `EveryoneReadAdminWriteAc`: E(R) U(R) A(RW).
    pub const EVERYONE_READ_ADMIN_WRITE: Self = Self(3);
    /// `UnknownAc`: protected by a card condition outside this list. Grants nothing here,
    /// because seed 003 denies whatever a description does not grant and this one grants nothing.
    pub const UNKNOWN: Self = Self(4);
    /// `UserReadWriteAc`: U(RW) A(RW).
    pub const USER_READ_WRITE: Self = Self(5);
    /// `AdminReadWriteAc`: A(RW).
    pub const ADMIN_READ_WRITE: Self = Self(6);

    /// Whether `principal` may perform `operation` on a file with this condition.
    ///
    /// This is the mnemonic column of seed 003's file access condition table, and nothing more.
    pub const fn permits(self, principal: Principal, operation: Operation) -> bool {
        use Operation::{Execute, Read, Write};
        use Principal::{Admin, Everyone, User};
        match self.0 {
            // E(R) U(RW) A(RW)
            1 => matches!((principal, operation), (Everyone, Read) | (User, Read | Write) | (Admin, Read | Write)),
            // U(WX) A(W)
            2 => matches!((principal, operation), (User, Write | Execute) | (Admin, Write)),
            // E(R) U(R) A(RW)
            3 => matches!((principal, operation), (Everyone | User, Read) | (Admin, Read | Write)),
            // U(RW) A(RW)
            5 => matches!((principal, operation), (User | Admin, Read | Write)),
            // A(RW)
            6 => matches!((principal, operation), (Admin, Read | Write)),
            // InvalidAc, UnknownAc and undefined values: no mnemonic, so nothing is granted.
            _ => false,
        }
    }

    /// The mnemonic of seed 003 (`"E(R) U(RW) A(RW)"`), or `None` for a value without one.
    pub const fn mnemonic(self) -> Option<&'static str> {
        match self.0 {
            1 => Some("E(R) U(RW) A(RW)"),
            2 => Some("U(WX) A(W)"),
            3 => Some("E(R) U(R) A(RW)"),
            5 => Some("U(RW) A(RW)"),
            6 => Some("A(RW)"),
            _ => None,
        }
    }

    /// The `cardmod.h` enumerator name, or `None` for an undefined value.
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            0 => Some("InvalidAc"),
            1 => Some("EveryoneReadUserWriteAc"),
            2 => Some("UserWriteExecuteAc"),
            3 => Some("EveryoneReadAdminWriteAc"),
            4 => Some("UnknownAc"),
            5 => Some("UserReadWriteAc"),
            6 => Some("AdminReadWriteAc"),
            _ => None,
        }
    }

    /// Whether `CardCreateFile` may create a file with this condition: every defined value
    /// except `InvalidAc` (an error marker) and `UnknownAc` (which a card reports, but which
    /// says nothing a new file could be given).
    pub const fn is_creatable(self) -> bool {
        matches!(self.0, 1 | 2 | 3 | 5 | 6)
    }
}

impl core::fmt::Display for AccessCondition {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.name(), self.mnemonic()) {
            (Some(name), Some(mnemonic)) => write!(f, "{name} {mnemonic}"),
            (Some(name), None) => f.write_str(name),
            _ => write!(f, "access condition {}", self.0),
        }
    }
}

/// A directory's `CARD_DIRECTORY_ACCESS_CONDITION`: who may create files in it and delete it.
/// Everyone may always list it; there is no separate list permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirAccessCondition(pub u32);

impl DirAccessCondition {
    /// `InvalidDirAc`: no valid condition. Grants nothing.
    pub const INVALID: Self = Self(0);
    /// `UserCreateDeleteDirAc`: User and Admin may create files in it and delete it.
    pub const USER_CREATE_DELETE: Self = Self(1);
    /// `AdminCreateDeleteDirAc`: only Admin may create files in it and delete it. Seed 003 marks
    /// it optional ("may be removed from a future revision").
    pub const ADMIN_CREATE_DELETE: Self = Self(2);

    /// Whether `principal` may create files in the directory, or delete it.
    pub const fn permits_create_delete(self, principal: Principal) -> bool {
        match self.0 {
            1 => matches!(principal, Principal::User | Principal::Admin),
            2 => matches!(principal, Principal::Admin),
            _ => false,
        }
    }

    /// Whether `CardCreateDirectory` accepts this value (only the two defined conditions;
    /// neither lets Everyone write, so no E(W) directory can be made).
    pub const fn is_creatable(self) -> bool {
        matches!(self.0, 1 | 2)
    }

    /// The `cardmod.h` enumerator name, or `None` for an undefined value.
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            0 => Some("InvalidDirAc"),
            1 => Some("UserCreateDeleteDirAc"),
            2 => Some("AdminCreateDeleteDirAc"),
            _ => None,
        }
    }
}

impl core::fmt::Display for DirAccessCondition {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "directory access condition {}", self.0),
        }
    }
}

/// The principals authenticated now. Everyone is always among them.
///
/// The access check asks whether *any* of them is granted the operation: a session where the
/// user and the admin are both authenticated may do what either may.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Principals {
    user: bool,
    admin: bool,
}

impl Principals {
    /// Nobody authenticated.
    pub const EVERYONE: Self = Self::new(false, false);
    /// The user authenticated.
    pub const USER: Self = Self::new(true, false);
    /// The admin authenticated.
    pub const ADMIN: Self = Self::new(false, true);
    /// Both authenticated.
    pub const USER_AND_ADMIN: Self = Self::new(true, true);

    /// Everyone, plus the user and the admin when they are authenticated.
    pub const fn new(user: bool, admin: bool) -> Self {
        Self { user, admin }
    }

    /// This set with `principal` added.
    #[must_use]
    pub const fn with(self, principal: Principal) -> Self {
        match principal {
            Principal::Everyone => self,
            Principal::User => Self::new(true, self.admin),
            Principal::Admin => Self::new(self.user, true),
        }
    }

    /// This set with `principal` removed (Everyone cannot be removed).
    #[must_use]
    pub const fn without(self, principal: Principal) -> Self {
        match principal {
            Principal::Everyone => self,
            Principal::User => Self::new(false, self.admin),
            Principal::Admin => Self::new(self.user, false),
        }
    }

    /// Whether `principal` is in the set.
    pub const fn contains(self, principal: Principal) -> bool {
        match principal {
            Principal::Everyone => true,
            Principal::User => self.user,
            Principal::Admin => self.admin,
        }
    }

    /// The principals in the set, in mnemonic order.
    pub fn iter(self) -> impl Iterator<Item = Principal> {
        Principal::ALL.into_iter().filter(move |&p| self.contains(p))
    }

    /// Whether any principal in the set may perform `operation` on a file with `condition`.
    pub fn permits(self, condition: AccessCondition, operation: Operation) -> bool {
        self.iter().any(|p| condition.permits(p, operation))
    }

    /// Whether any principal in the set may create files in, or delete, a directory with
    /// `condition`.
    pub fn may_create_delete(self, condition: DirAccessCondition) -> bool {
        self.iter().any(|p| condition.permits_create_delete(p))
    }
}

impl core::fmt::Display for Principals {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.user, self.admin) {
            (false, false) => f.write_str("Everyone"),
            (true, false) => f.write_str("User"),
            (false, true) => f.write_str("Admin"),
            (true, true) => f.write_str("User and Admin"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003's file access condition table, written out: for each value, the operations
    /// Everyone, User and Admin are granted. 7 stands for every undefined value.
    const TABLE: [(u32, &str, &str, &str); 8] = [
        (0, "", "", ""),      // InvalidAc
        (1, "R", "RW", "RW"), // EveryoneReadUserWriteAc  E(R) U(RW) A(RW)
        (2, "", "WX", "W"),   // UserWriteExecuteAc       U(WX) A(W)
        (3, "R", "R", "RW"),  // EveryoneReadAdminWriteAc E(R) U(R) A(RW)
        (4, "", "", ""),      // UnknownAc
        (5, "", "RW", "RW"),  // UserReadWriteAc          U(RW) A(RW)
        (6, "", "", "RW"),    // AdminReadWriteAc         A(RW)
        (7, "", "", ""),      // undefined
    ];

    #[test]
    fn every_principal_operation_and_condition_matches_the_table() {
        let mut checked = 0;
        for (value, e, u, a) in TABLE {
            let ac = AccessCondition(value);
            for (principal, granted) in [(Principal::Everyone, e), (Principal::User, u), (Principal::Admin, a)] {
                for op in Operation::ALL {
                    let expected = granted.contains(op.mnemonic());
                    assert_eq!(ac.permits(principal, op), expected, "{ac} {principal} {op}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8 * 3 * 3);
        for value in [8, 0x100, u32::MAX] {
            for p in Principal::ALL {
                for op in Operation::ALL {
                    assert!(!AccessCondition(value).permits(p, op));
                }
            }
        }
    }

    #[test]
    fn mnemonic_agrees_with_permits() {
        for value in 0..=7 {
            let ac = AccessCondition(value);
            let Some(mnemonic) = ac.mnemonic() else {
                assert!(Principal::ALL.iter().all(|&p| Operation::ALL.iter().all(|&op| !ac.permits(p, op))));
                continue;
            };
            let mut built = Vec::new();
            for p in Principal::ALL {
                let ops: String =
                    Operation::ALL.iter().filter(|&&op| ac.permits(p, op)).map(|op| op.mnemonic()).collect();
                if !ops.is_empty() {
                    built.push(format!("{}({ops})", p.mnemonic()));
                }
            }
            assert_eq!(built.join(" "), mnemonic);
        }
    }

    #[test]
    fn admin_is_a_super_user_except_for_execute() {
        for value in 0..=7 {
            let ac = AccessCondition(value);
            for op in [Operation::Read, Operation::Write] {
                if ac.permits(Principal::User, op) {
                    assert!(ac.permits(Principal::Admin, op), "{ac} {op}");
                }
            }
            assert!(!ac.permits(Principal::Admin, Operation::Execute));
        }
    }

    #[test]
    fn creatable_conditions_respect_the_interface_limits() {
        let creatable: Vec<_> = (0..=7).map(AccessCondition).filter(|ac| ac.is_creatable()).collect();
        assert_eq!(creatable.len(), 5);
        for ac in creatable {
            // No file Everyone may write (that includes a PIN file, E(X) U(W) A(W)).
            assert!(!ac.permits(Principal::Everyone, Operation::Write), "{ac}");
            assert!(!ac.permits(Principal::Everyone, Operation::Execute), "{ac}");
            // A private-key (executable) file is owned by the user, never Admin or Everyone.
            assert!(!ac.permits(Principal::Admin, Operation::Execute), "{ac}");
        }
        for value in 0..=3 {
            let dac = DirAccessCondition(value);
            assert_eq!(dac.is_creatable(), value == 1 || value == 2);
            assert!(!dac.permits_create_delete(Principal::Everyone), "{dac}");
        }
    }

    #[test]
    fn directory_conditions() {
        let user = DirAccessCondition::USER_CREATE_DELETE;
        let admin = DirAccessCondition::ADMIN_CREATE_DELETE;
        assert!(user.permits_create_delete(Principal::User));
        assert!(user.permits_create_delete(Principal::Admin));
        assert!(!admin.permits_create_delete(Principal::User));
        assert!(admin.permits_create_delete(Principal::Admin));
        assert!(!DirAccessCondition::INVALID.permits_create_delete(Principal::Admin));
        assert!(Principals::USER.may_create_delete(user));
        assert!(!Principals::USER.may_create_delete(admin));
        assert!(!Principals::EVERYONE.may_create_delete(user));
        assert_eq!(admin.to_string(), "AdminCreateDeleteDirAc");
        assert_eq!(DirAccessCondition(9).to_string(), "directory access condition 9");
    }

    #[test]
    fn principal_sets() {
        assert_eq!(Principals::EVERYONE.iter().collect::<Vec<_>>(), [Principal::Everyone]);
        assert_eq!(Principals::EVERYONE.with(Principal::Admin).with(Principal::User), Principals::USER_AND_ADMIN);
        assert_eq!(Principals::USER_AND_ADMIN.without(Principal::User), Principals::ADMIN);
        assert!(Principals::ADMIN.without(Principal::Everyone).contains(Principal::Everyone));
        // Set union: user + admin may execute a key file (the user may) and read cardid.
        let both = Principals::USER_AND_ADMIN;
        assert!(both.permits(AccessCondition::USER_WRITE_EXECUTE, Operation::Execute));
        assert!(!Principals::ADMIN.permits(AccessCondition::USER_WRITE_EXECUTE, Operation::Execute));
        assert!(Principals::EVERYONE.permits(AccessCondition::EVERYONE_READ_ADMIN_WRITE, Operation::Read));
        assert!(!Principals::USER.permits(AccessCondition::ADMIN_READ_WRITE, Operation::Read));
        assert_eq!(both.to_string(), "User and Admin");
    }

    #[test]
    fn display() {
        assert_eq!(AccessCondition::EVERYONE_READ_USER_WRITE.to_string(), "EveryoneReadUserWriteAc E(R) U(RW) A(RW)");
        assert_eq!(AccessCondition::UNKNOWN.to_string(), "UnknownAc");
        assert_eq!(AccessCondition(7).to_string(), "access condition 7");
    }
}
