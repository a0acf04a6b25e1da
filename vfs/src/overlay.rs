//! Write simulation: changes a card cannot store, kept in memory for the card's insertion.
//!
//! Seed 003 ("File naming virtualization"): a card that does not allow writes in normal use may
//! simulate them, but must keep the "written" files while the card stays inserted and return
//! them on read. The [`Overlay`] is that memory: created files and written contents, deleted files
//! and directories as tombstones, and directories created by simulation. [`crate::Vfs`] consults
//! it before the card and clears it when the card is reset or removed.

use std::collections::BTreeMap;

use crate::access::{AccessCondition, DirAccessCondition};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::path::FilePath;

/// The simulated state of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEntry {
    /// The file exists with this content and access condition.
    Present {
        /// The content last written.
        data: Vec<u8>,
        /// The condition it was created with (or had on the card).
        access_condition: AccessCondition,
    },
    /// The file was deleted.
    Deleted,
}

/// The simulated state of one application directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirEntry {
    /// Created by simulation: the card does not have it, so its files live only here.
    Present(DirAccessCondition),
    /// Deleted by simulation.
    Deleted,
}

/// Simulated changes, keyed by path. Once a path (or its directory) has an entry, the overlay
/// answers for it until [`Overlay::clear`], even if the card could write later: the card and the
/// overlay never both hold a newer copy of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    files: BTreeMap<FilePath, FileEntry>,
    dirs: BTreeMap<Name, DirEntry>,
}

impl Overlay {
    /// An empty overlay.
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulated state of a file, if any.
    pub fn file(&self, path: &FilePath) -> Option<&FileEntry> {
        self.files.get(path)
    }

    /// The simulated state of a directory, if any.
    pub fn dir(&self, name: &Name) -> Option<DirEntry> {
        self.dirs.get(name).copied()
    }

    /// Whether the overlay answers for `path`: it has an entry for the file, or for its
    /// directory.
    pub fn covers(&self, path: &FilePath) -> bool {
        self.files.contains_key(path) || path.dir.is_some_and(|d| self.dirs.contains_key(&d))
    }

    /// Whether the overlay answers for directory `name`: it has an entry for the directory, or
    /// for a file in it (a simulated deletion leaves the file on the card).
    pub fn covers_dir(&self, name: &Name) -> bool {
        self.dirs.contains_key(name) || self.files.keys().any(|p| p.dir.as_ref() == Some(name))
    }

    /// Records that `path` holds `data` with `access_condition`.
    ///
    /// # Errors
    /// [`Error::OutOfSpace`] when `data` is longer than a `DWORD` can describe.
    pub fn put(&mut self, path: FilePath, data: Vec<u8>, access_condition: AccessCondition) -> Result<()> {
        if u32::try_from(data.len()).is_err() {
            return Err(Error::OutOfSpace);
        }
        self.files.insert(path, FileEntry::Present { data, access_condition });
        Ok(())
    }

    /// Records that `path` was deleted.
    pub fn delete(&mut self, path: FilePath) {
        self.files.insert(path, FileEntry::Deleted);
    }

    /// Records that directory `name` was created with `access_condition`.
    pub fn create_dir(&mut self, name: Name, access_condition: DirAccessCondition) {
        self.dirs.insert(name, DirEntry::Present(access_condition));
    }

    /// Records that directory `name` was deleted, forgetting its files' entries.
    pub fn delete_dir(&mut self, name: Name) {
        self.files.retain(|path, _| path.dir != Some(name));
        self.dirs.insert(name, DirEntry::Deleted);
    }

    /// Applies the overlay to a listing from the card (`card` is `None` when the card has no
    /// such directory): deleted files leave, simulated ones join.
    pub fn merge_list(&self, dir: Option<&Name>, card: Vec<Name>) -> Vec<Name> {
        let in_dir = |path: &&FilePath| path.dir.as_ref() == dir;
        let mut names: Vec<Name> = card
            .into_iter()
            .filter(|file| {
                !matches!(self.files.get(&FilePath { dir: dir.copied(), file: *file }), Some(FileEntry::Deleted))
            })
            .collect();
        for (path, entry) in self.files.iter().filter(|(p, _)| in_dir(p)) {
            if matches!(entry, FileEntry::Present { .. }) && !names.contains(&path.file) {
                names.push(path.file);
            }
        }
        names
    }

    /// Applies the overlay to the card's list of directories.
    pub fn merge_dirs(&self, card: Vec<Name>) -> Vec<Name> {
        let mut names: Vec<Name> = card.into_iter().filter(|d| self.dir(d) != Some(DirEntry::Deleted)).collect();
        for (name, entry) in &self.dirs {
            if matches!(entry, DirEntry::Present(_)) && !names.contains(name) {
                names.push(*name);
            }
        }
        names
    }

    /// Whether nothing is simulated.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }

    /// Forgets every simulated change (card reset or removal).
    pub fn clear(&mut self) {
        self.files.clear();
        self.dirs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FilePath {
        FilePath::parse(s).unwrap()
    }

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn merges_listings() {
        let mut o = Overlay::new();
        o.put(p("mscp/kxc01"), vec![1], AccessCondition::EVERYONE_READ_USER_WRITE).unwrap();
        o.delete(p("mscp/kxc00"));
        o.put(p("cardcf"), vec![0; 6], AccessCondition::EVERYONE_READ_USER_WRITE).unwrap();
        let card = vec![n("cmapfile"), n("kxc00")];
        assert_eq!(o.merge_list(Some(&n("mscp")), card), [n("cmapfile"), n("kxc01")]);
        assert_eq!(o.merge_list(None, vec![n("cardcf")]), [n("cardcf")]);
        assert!(o.covers(&p("mscp/kxc00")));
        assert!(!o.covers(&p("mscp/cmapfile")));
    }

    #[test]
    fn directories() {
        let mut o = Overlay::new();
        o.create_dir(n("app"), DirAccessCondition::USER_CREATE_DELETE);
        o.put(p("app/f"), vec![], AccessCondition::USER_READ_WRITE).unwrap();
        assert!(o.covers(&p("app/g")));
        o.delete_dir(n("mscp"));
        assert_eq!(o.merge_dirs(vec![n("mscp"), n("other")]), [n("other"), n("app")]);
        o.delete_dir(n("app"));
        assert_eq!(o.file(&p("app/f")), None);
        assert_eq!(o.dir(&n("app")), Some(DirEntry::Deleted));
        assert!(!o.is_empty());
        o.clear();
        assert!(o.is_empty());
    }
}
