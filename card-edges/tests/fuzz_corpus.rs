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
