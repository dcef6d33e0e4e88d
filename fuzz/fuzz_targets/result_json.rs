#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| perfgate::fuzz::result_json(data));
