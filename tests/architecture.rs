//! The domain core stays pure: no I/O, no clock, nothing about platforms, SQL, templates or git.
//! Adapters depend on the core, never the reverse.

use std::path::Path;

/// Text that would tie the core to the outside world.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "minijinja",
    "serenity",
    "reqwest",
    "axum",
    "figment",
    "zip::",
    "std::fs",
    "std::net",
    "std::io",
    "std::process",
    "std::env",
    "Utc::now",
    "Local::now",
    "SystemTime",
    "Instant::now",
    "crate::adapters",
    "crate::storage",
    "crate::drafting",
    "crate::config",
    "crate::recorder",
    "println!",
    "eprintln!",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_domain_core_depends_on_nothing_outside_it() {
    let domain = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    rust_files(&domain, &mut files);
    assert!(files.len() >= 5, "found the domain modules: {files:?}");
    let mut violations = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                if code.contains(word) {
                    violations.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the domain must stay pure:\n{}",
        violations.join("\n")
    );
}
