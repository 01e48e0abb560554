//! The `pxe` binary (work in progress).

fn main() {}
