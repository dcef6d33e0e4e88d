#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| perfgate::fuzz::cli_values(data));
