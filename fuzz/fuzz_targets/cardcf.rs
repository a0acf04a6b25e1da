#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vfs::fuzzing::decode_cardcf(data));
