//! pxelinux config: parse and lint of a 500-entry site menu (with a served tree to check the
//! referenced kernels and initrds against).

#![allow(
    missing_docs,
    reason = "criterion_group!/criterion_main! generate undocumented public functions"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pxe_benches::fixtures::pxelinux_menu;
use pxe_menu::{Config, LintOptions, MemTree, lint};

fn menu(c: &mut Criterion) {
    let text = pxelinux_menu(500);
    let mut tree = MemTree::new();
    for f in ["pxelinux.0", "ldlinux.c32", "menu.c32", "libutil.c32"] {
        tree.insert(f, 64 << 10);
    }
    for i in 0..500 {
        tree.insert(&format!("images/sys{i}/vmlinuz"), 8 << 20);
        tree.insert(&format!("images/sys{i}/initrd.gz"), 40 << 20);
    }
    let mut g = c.benchmark_group("menu_500_entries");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| Config::parse(black_box(&text)).resolve().labels.len())
    });
    let cfg = Config::parse(&text);
    g.bench_function("lint_no_tree", |b| {
        b.iter(|| lint(black_box(&cfg), &LintOptions::default()).len())
    });
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    g.bench_function("lint_with_tree", |b| {
        b.iter(|| lint(black_box(&cfg), &opts).len())
    });
    g.bench_function("parse_and_lint_with_tree", |b| {
        b.iter(|| lint(&Config::parse(black_box(&text)), &opts).len())
    });
    g.finish();
}

criterion_group!(benches, menu);
criterion_main!(benches);
