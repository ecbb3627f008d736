//! Faults on request: make the next N requests (optionally of one operation) fail, so
//! clients' retry and idempotency paths meet a real server.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// What an armed fault does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer 500 `internal_error` without handling the request (a failing gateway).
    InternalError,
    /// Answer 429 `rate_limited` with `Retry-After`, without handling the request.
    RateLimited,
    /// Handle the request (an order is stored, its idempotent answer kept), then drop
    /// the connection before answering.
    DropConnection,
    /// Hold the request after it claimed its idempotency key, until released from the
    /// handle: a request "still in progress" for `idempotency_request_in_progress`.
    Stall,
    /// Handle the request as if it carried no `Idempotency-Key` (Sophic marks its
    /// idempotency support as under development): a retry of a stored placement places a
    /// second order, as a service that does not honour keys would.
    IgnoreIdempotencyKey,
}

/// An armed fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// What it does.
    pub kind: FaultKind,
    /// How many requests it hits.
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests of this operation (an `operationId` of orders.yaml); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// `Retry-After` seconds of `rate_limited` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

fn one() -> u32 {
    1
}

impl FaultSpec {
    /// `count` requests get `kind`.
    pub fn new(kind: FaultKind, count: u32) -> Self {
        Self {
            kind,
            count,
            operation: None,
            retry_after: None,
        }
    }

    /// Only requests of this operation.
    ///
    /// # Panics
    ///
    /// If `operation` is not an `operationId` of orders.yaml: such a fault would never
    /// fire (over HTTP the same fault is refused with a field error).
    pub fn on(mut self, operation: &str) -> Self {
        assert!(
            Self::knows(operation),
            "{operation:?} is not an operationId of orders.yaml"
        );
        self.operation = Some(operation.into());
        self
    }

    /// Whether `operation` is an `operationId` of orders.yaml.
    pub fn knows(operation: &str) -> bool {
        sophic_client::Operation::by_id(operation).is_some()
    }

    /// `Retry-After` of a `rate_limited` fault.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// The armed faults, first armed first used.
#[derive(Debug, Default)]
pub struct Faults {
    armed: VecDeque<FaultSpec>,
}

impl Faults {
    /// Arms a fault.
    pub fn arm(&mut self, spec: FaultSpec) {
        if spec.count > 0 {
            self.armed.push_back(spec);
        }
    }

    /// Whether no fault is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// Disarms every fault.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// The armed faults.
    pub fn armed(&self) -> Vec<FaultSpec> {
        self.armed.iter().cloned().collect()
    }

    /// Uses up one hit of the first fault that applies to `operation`.
    pub fn take(&mut self, operation: &str) -> Option<FaultSpec> {
        let index = self
            .armed
            .iter()
            .position(|f| f.operation.as_deref().is_none_or(|op| op == operation))?;
        let fault = &mut self.armed[index];
        fault.count -= 1;
        let hit = fault.clone();
        if fault.count == 0 {
            self.armed.remove(index);
        }
        Some(hit)
    }
}
