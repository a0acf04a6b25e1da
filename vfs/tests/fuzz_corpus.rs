//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/`) through the entry points the
//! cargo-fuzz targets call, so plain `cargo test` runs every seed and regression input on stable,
//! without cargo-fuzz. A seed that panics here is a bug in the code under test.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use vfs::cmapfile::ContainerMap;
use vfs::fuzzing;

/// `fuzz/corpus/<target>/`.
fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

/// Every file of a target's corpus, sorted by path, with its bytes.
fn corpus(target: &str) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(corpus_dir(target))? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Runs `entry` on every file of `target`'s corpus, which must hold at least `min` files.
fn replay(target: &str, min: usize, entry: fn(&[u8])) -> io::Result<()> {
    let files = corpus(target)?;
    assert!(files.len() >= min, "fuzz/corpus/{target} holds {} files, expected at least {min}", files.len());
    for (path, bytes) in &files {
        // Shown with the panic message if this input fails.
        eprintln!("replaying {}", path.display());
        entry(bytes);
    }
    Ok(())
}

#[test]
fn cmapfile_corpus() -> io::Result<()> {
    replay("cmapfile", 14, fuzzing::decode_cmapfile)
}

#[test]
fn cardcf_corpus() -> io::Result<()> {
    replay("cardcf", 7, fuzzing::decode_cardcf)
}

#[test]
fn cardapps_corpus() -> io::Result<()> {
    replay("cardapps", 10, fuzzing::decode_cardapps)
}

/// The seeds named after test vectors still hold those vectors' bytes, and the valid ones decode.
#[test]
fn seeds_match_test_vectors() -> io::Result<()> {
    use test_vectors::cmapfile as tv;
    for (name, bytes) in [
        ("empty", tv::EMPTY),
        ("gids_slot_reserved", tv::GIDS_SLOT_RESERVED),
        ("gids_slot_default", tv::GIDS_SLOT_DEFAULT),
        ("gids_rsa2048_default", tv::GIDS_RSA2048_DEFAULT),
        ("opensc_piv_ec256_signature", tv::OPENSC_PIV_EC256_SIGNATURE),
        ("deleted_between_two_valid", tv::DELETED_BETWEEN_TWO_VALID),
    ] {
        let seed = fs::read(corpus_dir("cmapfile").join(name))?;
        assert_eq!(seed, bytes, "cmapfile seed {name}");
        assert!(ContainerMap::decode(&seed).is_ok(), "cmapfile seed {name} does not decode");
    }
    let map = ContainerMap::decode(&fs::read(corpus_dir("cmapfile").join("piv_24_slots"))?);
    assert_eq!(map.map(|m| (m.len(), m.valid().count(), m.default_index())), Ok((24, 12, Some(0))));
    Ok(())
}
