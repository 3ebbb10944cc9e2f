//! Replay benchmark: `scribe draft` on generated Slack exports of 1k, 10k, 100k and 1M messages
//! (`cargo bench --bench replay`; `-- 1000 50000` runs other sizes). Prints wall time and peak
//! memory of the real binary per size, beside the floor: the time this process takes only to
//! read every file of the same export and parse it with serde_json into `serde_json::Value`,
//! without folding or drafting. Numbers, not assertions: see docs/benchmarks.md.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const USERS: usize = 40;
const PER_DAY: usize = 2_000;

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000, 1_000_000];
    }
    println!("| messages | export size | wall time | peak RSS | parse only | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let bytes = generate(dir.path(), n);
        // The best of three for both: the first run of each warms the page cache.
        let (seconds, peak_kib) = (0..3)
            .map(|_| measure(dir.path()))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap();
        let floor = (0..3)
            .map(|_| parse_only(dir.path()))
            .fold(f64::MAX, f64::min);
        println!(
            "| {n} | {:.1} MB | {:.3} s | {:.1} MB | {:.3} s | {:.1}× |",
            bytes as f64 / 1e6,
            seconds,
            peak_kib as f64 / 1024.0,
            floor,
            seconds / floor
        );
    }
}

/// The floor: read and parse every JSON file of the export, one at a time, and nothing else.
fn parse_only(export: &Path) -> f64 {
    let start = Instant::now();
    let mut files = vec![export.join("users.json"), export.join("channels.json")];
    let mut days: Vec<_> = fs::read_dir(export.join("inc-bench"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    days.sort();
    files.extend(days);
    let mut values = 0;
    for file in files {
        let text = fs::read(&file).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
        values += value.as_array().map_or(1, Vec::len);
    }
    assert!(values > 0);
    start.elapsed().as_secs_f64()
}

/// Runs the release binary once and reads its peak resident set from the kernel.
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4 below, which also reports its peak memory"
)]
fn measure(export: &Path) -> (f64, i64) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_scribe"))
        .args(["draft", export.to_str().unwrap(), "--out", "/dev/null"])
        .env("SCRIBE__LOG__LEVEL", "warn")
        .spawn()
        .expect("scribe starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain FFI into wait4 with pointers to live locals; `child` is never waited on.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid);
        usage
    };
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "scribe failed"
    );
    (elapsed, usage.ru_maxrss)
}

/// A Slack export of one incident channel with `n` messages: chatter, `/timeline` commands,
/// pushpin reactions, edits and thread replies, over as many day files as it takes.
fn generate(root: &Path, n: usize) -> u64 {
    let users: Vec<String> = (0..USERS)
        .map(|i| {
            format!(
                r#"{{"id":"U{i:05}","name":"user{i}","real_name":"User {i}","is_bot":false,"profile":{{"display_name":"User {i}","real_name":"User {i}"}}}}"#
            )
        })
        .collect();
    fs::write(root.join("users.json"), format!("[{}]", users.join(","))).unwrap();
    fs::write(
        root.join("channels.json"),
        r#"[{"id":"C00000001","name":"inc-bench","created":1700000000,"members":[],"pins":[]}]"#,
    )
    .unwrap();
    let channel = root.join("inc-bench");
    fs::create_dir_all(&channel).unwrap();
    let start = 1_700_000_000u64;
    let mut total = 0;
    for (day, chunk) in (0..n).collect::<Vec<_>>().chunks(PER_DAY).enumerate() {
        let messages: Vec<String> = chunk
            .iter()
            .map(|&i| {
                message(
                    i,
                    n,
                    start + day as u64 * 86_400 + (i % PER_DAY) as u64 * 40,
                )
            })
            .collect();
        let date = chrono::DateTime::from_timestamp((start + day as u64 * 86_400) as i64, 0)
            .unwrap()
            .format("%Y-%m-%d");
        let file = channel.join(format!("{date}.json"));
        let body = format!("[\n{}\n]", messages.join(",\n"));
        total += body.len() as u64;
        fs::write(file, body).unwrap();
    }
    total
}

fn message(i: usize, n: usize, secs: u64) -> String {
    let user = format!("U{:05}", i % USERS);
    let ts = format!("{secs}.{:06}", i % 1_000_000);
    let text = match i {
        0 => "/incident start Generated incident for the replay benchmark --sev sev2".to_string(),
        i if i == n - 1 => "/incident close".to_string(),
        i if i == n - 2 => "/incident resolve".to_string(),
        i if i % 10 == 3 => format!("/timeline step {i}: mitigation &amp; checks on <@U00001>"),
        i => format!(
            "message {i} from the war room: checking dashboards, logs and <https://grafana.example/d/{i}|graphs>"
        ),
    };
    let extra = match i % 50 {
        7 => r#","reactions":[{"name":"pushpin","users":["U00002"],"count":1}]"#.to_string(),
        11 => format!(r#","thread_ts":"{secs}.000000""#),
        13 => format!(r#","edited":{{"user":"{user}","ts":"{secs}.5"}}"#),
        _ => String::new(),
    };
    format!(
        r#"{{"type":"message","user":"{user}","text":"{text}","ts":"{ts}","client_msg_id":"{i:08x}-0000-4000-8000-000000000000"{extra}}}"#
    )
}
