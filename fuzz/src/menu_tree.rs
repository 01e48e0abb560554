//! The pxelinux tree reader (`pxe_menu::Tree`): INCLUDE / MENU INCLUDE / CONFIG / menu.c32
//! graphs with cycles, deep chains and missing files.

use arbitrary::Arbitrary;
use pxe_menu::{Code, EntryPoint, LintMode, LintOptions, MAX_TREE_ITEMS, MemTree, Tree};

/// The file names a generated tree uses (the last one is never created: a missing file).
const NAMES: &[&str] = &[
    "pxelinux.cfg/default",
    "a.cfg",
    "b.cfg",
    "sub/c.cfg",
    "m.menu",
    "missing.cfg",
];

/// One line of a generated config.
#[derive(Debug, Arbitrary)]
enum Line {
    Include(u8),
    MenuInclude(u8, Option<u8>),
    Config(u8, bool),
    Label(u8),
    Kernel(u8),
    Com32Menu(u8),
    MenuBegin,
    MenuEnd,
    Default(u8),
    Raw(Vec<u8>),
}

/// A tree: for each of the first five names, its lines (or no file).
#[derive(Debug, Arbitrary)]
pub struct Input {
    files: Vec<Option<Vec<Line>>>,
}

fn name(i: u8) -> &'static str {
    NAMES[usize::from(i) % NAMES.len()]
}

fn render(lines: &[Line]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        let text = match l {
            Line::Include(i) => format!("INCLUDE {}", name(*i)),
            Line::MenuInclude(i, None) => format!("MENU INCLUDE {}", name(*i)),
            Line::MenuInclude(i, Some(t)) => format!("MENU INCLUDE {} Tag {t}", name(*i)),
            Line::Config(i, dir) => {
                format!(
                    "LABEL c{i}\n CONFIG {}{}",
                    name(*i),
                    if *dir { " sub/" } else { "" }
                )
            }
            Line::Label(i) => format!("LABEL l{}", i % 8),
            Line::Kernel(i) => format!(" KERNEL k{}", i % 4),
            Line::Com32Menu(i) => format!("LABEL m\n COM32 menu.c32\n APPEND {} ~", name(*i)),
            Line::MenuBegin => "MENU BEGIN t".into(),
            Line::MenuEnd => "MENU END".into(),
            Line::Default(i) => format!("DEFAULT l{}", i % 8),
            Line::Raw(b) => {
                out.extend_from_slice(b);
                out.push(b'\n');
                continue;
            }
        };
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Reading never panics and always ends; every item and finding points at a file the reader
/// met; the whole tree expands no further than the item cap; a file that includes itself is reported as a
/// loop at that line; linting every root never panics.
pub fn menu_tree(data: &[u8]) {
    let Some(input) = crate::decode::<Input>(data) else {
        return;
    };
    let mut tree = MemTree::new();
    let mut self_includes: Vec<(&str, u32)> = Vec::new();
    for (i, lines) in input.files.iter().enumerate().take(NAMES.len() - 1) {
        let Some(lines) = lines else { continue };
        let bytes = render(lines);
        let path = NAMES[i];
        // Lines that include the file itself, by line number.
        let mut line = 1u32;
        for l in lines {
            if let Line::Include(t) = l
                && name(*t) == path
            {
                self_includes.push((path, line));
            }
            line += match l {
                Line::Config(..) | Line::Com32Menu(_) => {
                    2 + u32::from(matches!(l, Line::Com32Menu(_)))
                }
                Line::Raw(b) => {
                    1 + u32::try_from(b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
                }
                _ => 1,
            };
        }
        tree.insert_bytes(path, &bytes);
    }
    tree.insert("k0", 1).insert("menu.c32", 1);
    let t = Tree::read(
        &tree,
        &[EntryPoint {
            path: NAMES[0].into(),
            prefix: String::new(),
            mode: LintMode::Entry,
        }],
    );
    let files = u32::try_from(t.files().len()).expect("few files");
    // One budget for the whole tree: the cap, plus the end markers of tagged MENU INCLUDEs
    // written after a capped one.
    let items: usize = t.roots.iter().map(|r| r.config.items.len()).sum();
    assert!(items <= MAX_TREE_ITEMS * 2, "{items} items");
    for r in &t.roots {
        assert!(r.config.items.iter().all(|i| i.file < files));
    }
    let findings = t.lint(&LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    });
    assert!(findings.iter().all(|f| f.file < files));
    // A file that includes itself and is read (the entry point always is, if it exists) is a
    // loop at that line. Raw lines may have shifted the count, so only without them.
    let raw = input
        .files
        .iter()
        .flatten()
        .flatten()
        .any(|l| matches!(l, Line::Raw(_)));
    for (path, line) in self_includes {
        if path != NAMES[0] || raw || t.roots.is_empty() {
            continue;
        }
        let full = t.roots[0].config.items.len() >= MAX_TREE_ITEMS;
        let reported = findings
            .iter()
            .any(|f| f.code == Code::IncludeLoop && t.path(f.file) == path && f.line == line);
        assert!(
            reported || full,
            "self-include at {path}:{line} not reported: {findings:#?}"
        );
    }
}
