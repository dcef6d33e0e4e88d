#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| perfgate::fuzz::request_writer(data));
