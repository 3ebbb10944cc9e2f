//! The file tree is the architecture: the domain core stays pure (no I/O, no clock, nothing
//! about platforms, SQL, templates or git); nothing below the application state knows the HTTP
//! server, the adapters or the assembly; serenity stays in the Discord adapter and axum in the
//! HTTP server and Slack's HTTP routes. Adapters depend on the core, never the reverse.

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

/// Lines of `files` (comments aside) holding one of `words`, as `path:line: word`.
fn uses(files: &[std::path::PathBuf], words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(file).unwrap();
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in words {
                if code.contains(word) {
                    found.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    found
}

fn source_files(under: &str) -> Vec<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(under);
    let mut files = Vec::new();
    if path.is_dir() {
        rust_files(&path, &mut files);
    } else {
        assert!(path.exists(), "{} moved: update this test", path.display());
        files.push(path);
    }
    files
}

#[test]
fn nothing_below_the_application_state_knows_the_server_or_an_adapter() {
    let below = [
        "domain",
        "storage",
        "recorder.rs",
        "drafting",
        "jobs.rs",
        "config",
        "metrics.rs",
        "outbound.rs",
        "clock.rs",
        "insights.rs",
        "outbound",
        "signing.rs",
        "redact.rs",
        "app.rs",
    ];
    let files: Vec<_> = below.iter().flat_map(|m| source_files(m)).collect();
    let found = uses(
        &files,
        &[
            "crate::server",
            "crate::adapters",
            "crate::startup",
            "crate::publish",
            "crate::followups",
            "crate::replay",
            "axum",
            "serenity",
        ],
    );
    assert!(
        found.is_empty(),
        "the application core must not depend on what sits on it:\n{}",
        found.join("\n")
    );
}

/// The follow-up trackers are clients of other services, like the publish targets beside
/// them, but use only the layers below the application state (config, jobs, outbound): the
/// jobs that call them are wired above. Neither of the two knows the other.
#[test]
fn the_trackers_know_only_the_layers_below_the_application() {
    let found = uses(
        &source_files("followups"),
        &[
            "crate::app",
            "crate::server",
            "crate::adapters",
            "crate::startup",
            "crate::replay",
            "crate::publish",
            "axum",
            "serenity",
        ],
    );
    assert!(
        found.is_empty(),
        "the trackers must not depend on what sits beside or above them:\n{}",
        found.join("\n")
    );
    let publish = uses(&source_files("publish"), &["crate::followups"]);
    assert!(publish.is_empty(), "{}", publish.join("\n"));
}

#[test]
fn serenity_stays_in_the_discord_adapter_and_axum_in_the_http_layer() {
    let all = source_files("");
    let outside = |words: &[&str], allowed: &[&str]| -> Vec<String> {
        let files: Vec<_> = all
            .iter()
            .filter(|f| {
                let relative = f.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
                let relative = relative.unwrap().to_string_lossy().into_owned();
                !allowed.iter().any(|a| relative.starts_with(a))
            })
            .cloned()
            .collect();
        uses(&files, words)
    };
    let serenity = outside(&["serenity"], &["adapters/discord/"]);
    assert!(
        serenity.is_empty(),
        "serenity outside Discord:\n{}",
        serenity.join("\n")
    );
    let axum = outside(&["axum"], &["server/", "adapters/slack/http.rs"]);
    assert!(
        axum.is_empty(),
        "axum outside the HTTP layer:\n{}",
        axum.join("\n")
    );
}
