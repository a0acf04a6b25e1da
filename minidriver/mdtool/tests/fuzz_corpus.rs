//! Replays the committed seed corpora of the fuzz targets that play the card against the whole
//! minidriver (`fuzz/corpus/card_data_{piv,gids,transcript}/`) through the entry points the
//! cargo-fuzz targets call (`mdtool::fuzzing`), so plain `cargo test` runs every seed on
//! stable, without cargo-fuzz. `WRITE_FUZZ_SEEDS=1` (re)writes the seeds made from the flows'
//! recorded transcripts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "tests")]

use std::fs;
use std::io;

use mdtool::fuzzing::{self, EdgeKind, FLOWS};
use test_vectors::corpus::{dir as corpus_dir, replay};

fn name(flow: usize) -> String {
    FLOWS[flow].replace([' ', '+'], "_")
}

/// Seeds from the recorded transcripts: each raw target gets its edge's flows as they were
/// answered; the transcript target gets every transcript unmutated and with a few mutations.
fn write_seeds() -> io::Result<()> {
    for t in fuzzing::transcripts() {
        let (target, edge) = match t.edge {
            EdgeKind::Piv => ("card_data_piv", "piv"),
            EdgeKind::Gids => ("card_data_gids", "gids"),
        };
        fs::create_dir_all(corpus_dir(target))?;
        fs::write(corpus_dir(target).join(format!("recorded_{}", name(t.flow))), t.raw_input())?;
        let i = fuzzing::transcripts().iter().position(|o| std::ptr::eq(o, t)).unwrap();
        let pick = u8::try_from(i).unwrap();
        let dir = corpus_dir("card_data_transcript");
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("{edge}_{}", name(t.flow))), [pick])?;
        // A flipped bit in answer 3, answer 5 cut short, answer 7's status word 6F00, and
        // answer 2's data doubled.
        let mutated = [pick, 3, 0, 0x21, 0x00, 5, 1, 0x07, 0x00, 7, 2, 0x00, 0x6F, 2, 9, 0, 0];
        fs::write(dir.join(format!("{edge}_{}_mutated", name(t.flow))), mutated)?;
        // Every answer's data replaced by a huge BER length.
        let mut huge = vec![pick];
        for a in 0..u8::try_from(t.answers.len().min(60)).unwrap() {
            huge.extend_from_slice(&[a, 6, 0x00, 0x80]);
        }
        fs::write(dir.join(format!("{edge}_{}_huge_lengths", name(t.flow))), huge)?;
    }
    for target in ["card_data_piv", "card_data_gids"] {
        fs::write(corpus_dir(target).join("empty"), [])?;
        fs::write(
            corpus_dir(target).join("status_words_only"),
            [0, 0, 2, 0x90, 0x00, 0, 2, 0x6A, 0x82, 0, 2, 0x61, 0x10],
        )?;
    }
    Ok(())
}

#[test]
fn every_flow_is_recorded_on_both_edges() {
    let all = fuzzing::transcripts();
    assert_eq!(all.len(), 2 * FLOWS.len(), "every flow recorded on both edges");
    for t in all {
        assert!(t.answers.len() >= 4, "{:?} {}: {} answers", t.edge, FLOWS[t.flow], t.answers.len());
        assert!(t.answers.iter().all(|a| a.len() >= 2), "every answer has a status word");
    }
    if std::env::var_os("WRITE_FUZZ_SEEDS").is_some() {
        write_seeds().unwrap();
    }
}

#[test]
fn card_data_piv_corpus() -> io::Result<()> {
    replay("card_data_piv", 7, fuzzing::card_data_piv)
}

#[test]
fn card_data_gids_corpus() -> io::Result<()> {
    replay("card_data_gids", 7, fuzzing::card_data_gids)
}

#[test]
fn card_data_transcript_corpus() -> io::Result<()> {
    replay("card_data_transcript", 30, fuzzing::card_data_transcript)
}
