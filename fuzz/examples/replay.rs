//! `cargo run --example replay -- TARGET FILE...`: runs saved inputs through a target's checks
//! (set `PXE_FUZZ_DEBUG=1` to print the decoded input of structured targets).

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay TARGET FILE...");
    let (_, check) = pxe_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .unwrap_or_else(|| panic!("unknown target {target}"));
    for file in args {
        let data = std::fs::read(&file).expect("readable input");
        check(&data);
        eprintln!("{file}: ok");
    }
}
