//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/`) through the entry points the
//! cargo-fuzz targets call, so plain `cargo test` runs every seed and regression input on stable,
//! without cargo-fuzz. A seed that panics here is a bug in the code under test.

use std::fs;
use std::io;

use card_edges::fuzzing;
use card_edges::iso7816::Tag;
use card_edges::iso7816::tlv;

use test_vectors::corpus::{dir as corpus_dir, replay};

#[test]
fn tlv_corpus() -> io::Result<()> {
    replay("tlv", 24, fuzzing::tlv)
}

#[test]
fn card_id_corpus() -> io::Result<()> {
    replay("card_id", 24, fuzzing::card_id)
}

#[test]
fn atr_corpus() -> io::Result<()> {
    replay("atr", 26, fuzzing::atr)
}

#[test]
fn session_corpus() -> io::Result<()> {
    replay("session", 15, fuzzing::session_responses)
}

#[test]
fn gids_masterfile_corpus() -> io::Result<()> {
    replay("gids_masterfile", 10, fuzzing::gids_masterfile)
}

#[test]
fn gids_keymap_corpus() -> io::Result<()> {
    replay("gids_keymap", 6, fuzzing::gids_keymap)
}

#[test]
fn gids_certificate_corpus() -> io::Result<()> {
    replay("gids_certificate", 10, fuzzing::gids_certificate)
}

#[test]
fn gids_edge_corpus() -> io::Result<()> {
    replay("gids_edge", 6, fuzzing::gids_edge)
}

/// The GIDS seeds hold the bytes recorded from GidsApplet driven by OpenSC 0.23, and the
/// malformed ones fail as they are meant to.
#[test]
fn gids_seeds_are_what_they_say() -> io::Result<()> {
    use card_edges::gids::{certificate, keymap::KeyMap, masterfile::MasterFile};
    let read = |target: &str, name: &str| fs::read(corpus_dir(target).join(name));
    assert_eq!(MasterFile::decode(&read("gids_masterfile", "recorded_six_records")?).unwrap().records().len(), 6);
    assert_eq!(MasterFile::decode(&read("gids_masterfile", "initial_five_records")?).unwrap(), MasterFile::initial());
    for bad in ["empty", "wrong_version", "truncated_by_one", "unterminated_file_name", "unterminated_directory_name"] {
        assert!(MasterFile::decode(&read("gids_masterfile", bad)?).is_err(), "{bad}");
    }
    assert_eq!(KeyMap::decode(&read("gids_keymap", "recorded_one_record")?).unwrap().len(), 1);
    let der = certificate::decompress(&read("gids_certificate", "recorded_kxc00")?).unwrap();
    assert_eq!(der, read("gids_certificate", "recorded_kxc00_plain_der")?);
    card_edges::key::PublicKey::from_certificate(&der).unwrap();
    for bad in ["huge_claim", "claims_one_more", "claims_one_less", "truncated_stream", "wrong_header", "short_header"]
    {
        assert!(certificate::decompress(&read("gids_certificate", bad)?).is_err(), "{bad}");
    }
    Ok(())
}

/// The seeds named after test vectors still hold those vectors' bytes.
#[test]
fn seeds_match_test_vectors() -> io::Result<()> {
    for (name, bytes) in test_vectors::atr::ALL {
        assert_eq!(fs::read(corpus_dir("atr").join(name.to_lowercase()))?, *bytes, "atr seed {name}");
    }
    for (name, bytes) in test_vectors::cardid::ALL {
        assert_eq!(fs::read(corpus_dir("card_id").join(name.to_lowercase()))?, *bytes, "card_id seed {name}");
    }
    let object = fs::read(corpus_dir("tlv").join("piv_cert_9a_rsa2048"))?;
    let cert = tlv::find(&object, &[Tag(0x53), Tag(0x70)]);
    assert_eq!(cert, Ok(Some(test_vectors::certs::PIV_AUTH_9A)));
    Ok(())
}
