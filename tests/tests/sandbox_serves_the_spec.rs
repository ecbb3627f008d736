//! The sandbox serves every operation of `openapi/orders.yaml`, its control endpoints are
//! exactly those of `openapi/sandbox.yaml`, and neither spec strays into the other's paths.

use serde_json::Value;
use sophic_sandbox::{Sandbox, SandboxConfig};
use sophic_tests::workspace_root;

fn spec(name: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("openapi").join(name)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// (method, path with placeholders filled) of every operation.
fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                let filled = path
                    .replace("{account_id}", "acc_x")
                    .replace("{order_id}", "ord_x")
                    .replace("{instrument_id}", "ins_xyz789")
                    .replace("{webhook_id}", "wh_x");
                found.push((method.to_uppercase(), filled));
            }
        }
    }
    found
}

async fn routed(sandbox: &Sandbox, method: &str, path: &str) -> bool {
    let url = format!("{}{path}", sandbox.base_url());
    let response = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    status != 405 && body["detail"] != "No such operation."
}

/// The operations of `spec` the sandbox does not route, as `METHOD path`.
async fn unserved(sandbox: &Sandbox, spec: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (method, path) in operations(spec) {
        if !routed(sandbox, &method, &path).await {
            missing.push(format!("{method} {path}"));
        }
    }
    missing
}

#[tokio::test]
async fn every_operation_of_orders_yaml_is_served() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let spec = spec("orders.yaml");
    // The table compiled into the client is the spec's own, operation for operation.
    assert_eq!(operations(&spec).len(), sophic_client::OPERATIONS.len());
    assert_eq!(unserved(&sandbox, &spec).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_coverage_check_fails_for_an_operation_the_sandbox_does_not_serve() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let mut spec = spec("orders.yaml");
    spec["paths"]["/throwaway/{account_id}"] = serde_json::json!({
        "get": {"operationId": "throwaway", "responses": {"200": {"description": "ok"}}}
    });
    assert_eq!(unserved(&sandbox, &spec).await, ["GET /throwaway/acc_x"]);
}

#[tokio::test]
async fn every_control_endpoint_of_sandbox_yaml_is_served() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let spec = spec("sandbox.yaml");
    assert_eq!(
        operations(&spec).len(),
        sophic_sandbox::CONTROL_OPERATIONS.len()
    );
    for (method, path) in operations(&spec) {
        assert!(
            routed(&sandbox, &method, &path).await,
            "{method} {path} is not served"
        );
    }
}

/// Each operation's body rules as `spec` writes them: (method, path, media type, limit).
fn body_rules(spec: &Value) -> Vec<(String, String, Option<String>, u64)> {
    let root = spec["x-max-body-bytes"].as_u64().unwrap();
    let mut rules = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let body = &op["requestBody"];
            let media = body["content"]
                .as_object()
                .map(|content| content.keys().next().unwrap().clone());
            let limit = body["x-max-body-bytes"].as_u64().unwrap_or(root);
            rules.push((method.to_uppercase(), path.clone(), media, limit));
        }
    }
    rules
}

#[test]
fn the_operation_tables_say_what_each_spec_says_of_bodies() {
    for (spec, table) in [
        (spec("orders.yaml"), sophic_client::OPERATIONS),
        (spec("sandbox.yaml"), sophic_sandbox::CONTROL_OPERATIONS),
    ] {
        let compiled: Vec<_> = table
            .iter()
            .map(|op| {
                (
                    op.method.to_string(),
                    op.path.to_string(),
                    op.media.map(str::to_string),
                    op.max_body_bytes as u64,
                )
            })
            .collect();
        let mut written = body_rules(&spec);
        let mut compiled_sorted = compiled.clone();
        written.sort();
        compiled_sorted.sort();
        assert_eq!(compiled_sorted, written);
    }
}

/// The status line of a request announcing a body of `length` bytes and sending none.
async fn announced(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    media: &str,
    length: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = sandbox.base_url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {media}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 512];
    let read = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn every_body_is_held_to_its_operations_media_type_and_limit_from_the_spec() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let http = reqwest::Client::new();
    let mut checked = Vec::new();
    let tables = sophic_client::OPERATIONS
        .iter()
        .chain(sophic_sandbox::CONTROL_OPERATIONS);
    for op in tables {
        let Some(media) = op.media else { continue };
        let path: Vec<&str> = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect();
        let path = path.join("/");
        let over = announced(&sandbox, op.method, &path, media, op.max_body_bytes + 1).await;
        assert_eq!(
            over, "HTTP/1.1 413 Payload Too Large",
            "{} {path}",
            op.method
        );
        let wrong = http
            .request(
                op.method.parse().unwrap(),
                format!("{}{path}", sandbox.base_url()),
            )
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 415, "{} {path}", op.method);
        checked.push(op.id);
    }
    assert!(checked.contains(&"place_order") && checked.contains(&"import_state"));
    // A snapshot's own limit (256 MiB) lets in what every other body's (1 MiB) refuses:
    // two MiB that are no snapshot are read, and refused as that.
    let import = http
        .put(format!("{}/sandbox/state", sandbox.base_url()))
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(import.status().as_u16(), 400);
}

#[test]
fn control_endpoints_never_appear_in_orders_yaml() {
    let orders = spec("orders.yaml");
    assert!(
        orders["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| !p.starts_with("/sandbox"))
    );
    let sandbox = spec("sandbox.yaml");
    assert!(
        sandbox["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| p.starts_with("/sandbox/"))
    );
}
