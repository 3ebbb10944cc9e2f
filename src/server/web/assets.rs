//! The stylesheet and the script, embedded in the binary and served under a name that holds a
//! hash of their content: a new version is a new name, so browsers may keep them for good.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WebError;

struct Asset {
    name: String,
    content_type: &'static str,
    body: &'static str,
}

fn asset(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Asset {
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
    Asset {
        name: format!("{stem}.{hash}.{extension}"),
        content_type,
        body,
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        asset(
            "app",
            "css",
            "text/css; charset=utf-8",
            include_str!("../../../templates/web/app.css"),
        ),
        asset(
            "app",
            "js",
            "text/javascript; charset=utf-8",
            include_str!("../../../templates/web/app.js"),
        ),
    ]
});

/// The stylesheet's and the script's URL paths, for the pages.
pub fn paths() -> (String, String) {
    (
        format!("/assets/{}", ASSETS[0].name),
        format!("/assets/{}", ASSETS[1].name),
    )
}

pub async fn serve(Path(name): Path<String>) -> Result<Response, WebError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or(WebError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.body,
    )
        .into_response())
}
