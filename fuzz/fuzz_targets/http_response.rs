#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| perfgate::fuzz::http_response(data));
