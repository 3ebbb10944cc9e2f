//! Request bodies as serenity sends them: JSON, or `multipart/form-data` when a message
//! carries files, whose parts are read here and whose `payload_json` part stands for the JSON.

use axum::http::{HeaderMap, header};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

pub(super) fn files_of(parts: &[Part]) -> Vec<(String, Vec<u8>)> {
    parts
        .iter()
        .filter(|p| p.name.starts_with("files[") || p.name.starts_with("file"))
        .filter_map(|p| Some((p.filename.clone()?, p.data.clone())))
        .collect()
}

/// A JSON body, or a multipart body's parts with its `payload_json` as the JSON.
pub(super) fn parse_body(headers: &HeaderMap, body: &[u8]) -> (Option<Value>, Vec<Part>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        let boundary = boundary.split(';').next().unwrap().trim().trim_matches('"');
        let parts = parse_multipart(body, boundary);
        let json = parts
            .iter()
            .find(|p| p.name == "payload_json")
            .and_then(|p| serde_json::from_slice(&p.data).ok());
        return (json, parts);
    }
    (serde_json::from_slice(body).ok(), Vec::new())
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    // Everything before the first delimiter is preamble.
    let Some(start) = find(rest, &delimiter) else {
        return parts;
    };
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(end) = find(rest_after_crlf, &delimiter) else {
            break;
        };
        let chunk = &rest_after_crlf[..end];
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        if let Some(split) = find(chunk, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&chunk[..split]).into_owned();
            let data = chunk[split + 4..].to_vec();
            let mut part = Part {
                name: String::new(),
                filename: None,
                content_type: None,
                data,
            };
            for line in head.split("\r\n") {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("content-disposition") {
                    for param in value.split(';').skip(1) {
                        if let Some((k, v)) = param.trim().split_once('=') {
                            let v = v.trim().trim_matches('"').to_owned();
                            match k.trim() {
                                "name" => part.name = v,
                                "filename" => part.filename = Some(v),
                                _ => {}
                            }
                        }
                    }
                } else if key.trim().eq_ignore_ascii_case("content-type") {
                    part.content_type = Some(value.trim().to_owned());
                }
            }
            parts.push(part);
        }
        rest = &rest_after_crlf[end + delimiter.len()..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
