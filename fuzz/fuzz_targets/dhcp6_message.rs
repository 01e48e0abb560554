#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pxe_fuzz::dhcp6_message(data));
