//! The committed fuzz seed corpus (`fuzz/corpus/<target>/`), for the tests that replay it
//! through the fuzz targets' entry points on stable, without cargo-fuzz.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `fuzz/corpus/<target>/`.
pub fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

/// Every file of a target's corpus, sorted by path, with its bytes.
///
/// # Errors
/// I/O errors reading the directory.
pub fn files(target: &str) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir(target))? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Runs `entry` on every file of `target`'s corpus, which must hold at least `min` files (an
/// emptied corpus fails the test).
///
/// # Errors
/// I/O errors reading the corpus.
///
/// # Panics
/// When the corpus holds fewer than `min` files, or when `entry` panics on an input.
pub fn replay(target: &str, min: usize, entry: fn(&[u8])) -> io::Result<()> {
    let files = files(target)?;
    assert!(files.len() >= min, "fuzz/corpus/{target} holds {} files, expected at least {min}", files.len());
    for (path, bytes) in &files {
        // Shown with the panic message if this input fails.
        eprintln!("replaying {}", path.display());
        entry(bytes);
    }
    Ok(())
}
