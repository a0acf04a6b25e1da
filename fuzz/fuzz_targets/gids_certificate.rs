#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| card_edges::fuzzing::gids_certificate(data));
