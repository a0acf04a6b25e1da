#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mdtool::fuzzing::card_data_transcript(data));
