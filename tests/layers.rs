//! The module layering of `src/`, checked: no two top-level modules import each other (even
//! through others), and each module imports only from the layers below it. Reads the sources
//! as text (`crate::<module>` paths, comments ignored). The picture is in the README's code
//! tour; this test is what keeps it true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules by layer, lowest first. A module may import its own layer's modules only
/// where listed in `SIDEWAYS`, and any module of a lower layer.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &[
        "domain", "time", "settings", "crypto", "emoji", "cursor", "jwt",
    ],
    &["storage"],
    &["views", "http"],
    &["replay", "writes"],
    &["auth"],
    &["realtime"],
    &[
        "accounts",
        "users",
        "chats",
        "members",
        "messages",
        "reactions",
        "receipts",
        "rooms",
        "health",
        "config",
        "stream",
        "schema",
        "pages",
        "sso",
    ],
    &["routes"],
    &["lib"],
];

/// Imports within one layer that are allowed (the importer, the imported).
const SIDEWAYS: &[(&str, &str)] = &[
    ("chats", "members"),
    ("messages", "chats"),
    ("rooms", "chats"),
    ("reactions", "messages"),
    ("pages", "accounts"),
    ("sso", "accounts"),
];

/// `crate::X` references of every top-level module of `src/`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let deps = out.entry(module.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                let mut rest = line;
                while let Some(at) = rest.find("crate::") {
                    rest = &rest[at + 7..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    // `crate::args!` is the storage layer's macro.
                    let name = if name == "args" {
                        "storage".to_string()
                    } else {
                        name
                    };
                    if !name.is_empty() && name != module {
                        deps.insert(name);
                    }
                }
                // `use crate::{a, b}` lists.
                if let Some(list) = line.trim().strip_prefix("use crate::{") {
                    for name in list.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        if !name.is_empty()
                            && name != module
                            && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        {
                            deps.insert(name.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/layers.rs"))
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let imports = imports();
    assert!(imports.len() > 20, "read the modules: {imports:?}");
    let mut wrong = Vec::new();
    for (module, deps) in &imports {
        let mine = layer_of(module);
        for dep in deps {
            let theirs = layer_of(dep);
            let sideways = theirs == mine && SIDEWAYS.contains(&(module.as_str(), dep.as_str()));
            if theirs > mine || (theirs == mine && !sideways) {
                wrong.push(format!(
                    "{module} (layer {mine}) imports {dep} (layer {theirs})"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn storage_depends_on_nothing_above_the_foundation() {
    let imports = imports();
    let storage = &imports["storage"];
    for dep in storage {
        assert!(layer_of(dep) <= 1, "storage imports {dep}");
    }
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let imports = imports();
    // Depth-first search for a cycle.
    fn visit<'a>(
        m: &'a str,
        imports: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(at) = path.iter().position(|p| *p == m) {
            panic!("import cycle: {} -> {m}", path[at..].join(" -> "));
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for dep in imports.get(m).into_iter().flatten() {
            visit(dep, imports, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in imports.keys() {
        visit(m, &imports, &mut Vec::new(), &mut done);
    }
}
