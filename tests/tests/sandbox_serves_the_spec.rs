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
    for (method, path) in operations(&spec("sandbox.yaml")) {
        assert!(
            routed(&sandbox, &method, &path).await,
            "{method} {path} is not served"
        );
    }
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
