//! The demo page at `/` and the npm package at `/pkg/`.

mod common;

use common::*;
use holdfast_server::ServerConfig;
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdfast-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn www_and_pkg_directories_are_served() {
    let www = temp_dir("www");
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    let pkg = temp_dir("pkg");
    std::fs::write(pkg.join("holdfast_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let config = ServerConfig {
        www_dir: Some(www.clone()),
        pkg_dir: Some(pkg.clone()),
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;

    let (status, head, body) = server.http("GET", "/").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert_eq!(body, "<h1>demo</h1>");

    let (status, head, _) = server.http("GET", "/pkg/holdfast_bg.wasm").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/wasm"), "{head}");

    let (status, _, _) = server.http("GET", "/missing.js").await;
    assert_eq!(status, 404);
    // The protocol endpoints still win over the static fallback.
    server.client().await;

    let _ = std::fs::remove_dir_all(www);
    let _ = std::fs::remove_dir_all(pkg);
}
