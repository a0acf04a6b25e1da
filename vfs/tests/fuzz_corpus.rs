//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/`) through the entry points the
//! cargo-fuzz targets call, so plain `cargo test` runs every seed and regression input on stable,
//! without cargo-fuzz. A seed that panics here is a bug in the code under test.

use std::fs;
use std::io;

use vfs::cmapfile::ContainerMap;
use vfs::fuzzing;

use test_vectors::corpus::{dir as corpus_dir, replay};

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
