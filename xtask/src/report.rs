//! The change report: what a new `orders.yaml` changes for the people who use the crates.
//!
//! Two specs (as JSON) are compared operation by operation and schema by schema, each
//! schema in the direction it travels (a request's fields are written by clients, an
//! answer's read by them), and every difference is classified:
//!
//! - **for an API client** (any language, the wire): breaking or not, by the usual rules
//!   (oasdiff's and drift's): removing an operation, field, parameter or value, a new
//!   required request field or parameter, a changed type or format, a new or changed
//!   `pattern` or a narrowed enum in a request, an answer's field that may now be absent or
//!   null, or a new value in a closed answer enum break clients; new optional request fields,
//!   new operations, new answer fields and new values of an open (`anyOf`) answer enum do
//!   not;
//! - **for Rust code that uses `sophic-client` and `sophic`**: the semver bump. The
//!   generated structs and enums are `#[non_exhaustive]` (decision 0015), so a new field
//!   or enum value is a minor change for both crates (`sophic` re-exports the types as
//!   `sophic::types`), except a new required request field (code that builds the request
//!   without it now fails); a removed field or variant, or a changed field type, is a
//!   major change for both; a new operation is a minor change of
//!   `sophic-client` (a new method) and none of `sophic` (its API is written by hand);
//!   a changed pattern or description alone is a patch (the types do not change).
//! - **what a request body must be**: a media type no longer taken, or a lower
//!   `x-max-body-bytes` (the document's or an operation's own), breaks clients that sent
//!   it; a new media type or a higher limit does not. Both change only constants of the
//!   operation table: a patch of `sophic-client`.
//!
//! A change to something the spec marks `x-undocumented` is listed apart: it was chosen
//! here, not published by Sophic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const SCHEMA_REF: &str = "#/components/schemas/";

/// A semver bump, smallest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    fn name(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// One difference between the specs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Where: `POST /accounts/{account_id}/orders`, `Order.note`, `OrderStatus`.
    pub at: String,
    /// What happened, for people.
    pub what: String,
    /// Whether it breaks an API client.
    pub breaking: bool,
    /// The bump it needs of `sophic-client` and of `sophic`.
    pub client: Bump,
    pub sdk: Bump,
    /// Whether what changed is marked `x-undocumented` (chosen here).
    pub chosen: bool,
    /// A short id of the rule (`response-enum-value-added`), for tests and readers.
    pub rule: &'static str,
}

/// Every change from `old` to `new`.
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let mut cx = Context {
        old,
        new,
        changes: Vec::new(),
        seen: BTreeSet::new(),
    };
    cx.operations();
    cx.body_limits();
    cx.changes
}

struct Context<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
    /// Components already compared, by name and direction (specs may be recursive).
    seen: BTreeSet<(String, bool)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

fn operations_of(spec: &Value) -> BTreeMap<String, (String, &Value, &Value)> {
    let mut out = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                let place = format!("{} {path}", method.to_ascii_uppercase());
                out.insert(id, (place, item, op));
            }
        }
    }
    out
}

fn is_chosen(value: &Value) -> bool {
    value.get("x-undocumented") == Some(&Value::Bool(true))
}

impl<'a> Context<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        at: &str,
        what: String,
        breaking: bool,
        client: Bump,
        sdk: Bump,
        chosen: bool,
        rule: &'static str,
    ) {
        self.changes.push(Change {
            at: at.to_string(),
            what,
            breaking,
            client,
            sdk,
            chosen,
            rule,
        });
    }

    fn operations(&mut self) {
        let old = operations_of(self.old);
        let new = operations_of(self.new);
        let old_places: BTreeMap<&String, &String> =
            old.iter().map(|(id, (place, ..))| (place, id)).collect();
        let new_places: BTreeMap<&String, &String> =
            new.iter().map(|(id, (place, ..))| (place, id)).collect();
        for (id, (place, _, op)) in &old {
            if new.contains_key(id) {
                continue;
            }
            match new_places.get(place) {
                Some(renamed) => self.push(
                    place,
                    format!("operation id `{id}` renamed `{renamed}` (the wire is unchanged)"),
                    false,
                    Bump::Major,
                    Bump::Patch,
                    is_chosen(op),
                    "operation-id-renamed",
                ),
                None => self.push(
                    place,
                    format!("operation `{id}` removed"),
                    true,
                    Bump::Major,
                    Bump::Major,
                    is_chosen(op),
                    "operation-removed",
                ),
            }
        }
        for (id, (place, _, op)) in &new {
            if !old.contains_key(id) && !old_places.contains_key(place) {
                self.push(
                    place,
                    format!("operation `{id}` added"),
                    false,
                    Bump::Minor,
                    Bump::None,
                    is_chosen(op),
                    "operation-added",
                );
            }
        }
        for (id, (place, old_item, old_op)) in &old {
            let Some((_, new_item, new_op)) = new.get(id) else {
                continue;
            };
            self.parameters(place, (old_item, old_op), (new_item, new_op));
            let media = |op: &'a Value| {
                op.pointer("/requestBody/content")
                    .and_then(Value::as_object)
            };
            if let (Some(a), Some(b)) = (media(old_op), media(new_op)) {
                for (kind, content) in a {
                    if let Some(other) = b.get(kind) {
                        self.schema(
                            &format!("{place} body"),
                            &content["schema"],
                            &other["schema"],
                            Direction::Request,
                            false,
                        );
                    }
                }
            }
            // Every answer a client decodes: successes and the error bodies.
            for (status, answer) in old_op["responses"].as_object().into_iter().flatten() {
                let schema = "/content/application~1json/schema";
                let a = self.resolve_response(self.old, answer).pointer(schema);
                let b = new_op["responses"]
                    .get(status)
                    .map(|r| self.resolve_response(self.new, r))
                    .and_then(|r| r.pointer(schema));
                if let (Some(a), Some(b)) = (a, b) {
                    self.schema(
                        &format!("{place} {status}"),
                        a,
                        b,
                        Direction::Response,
                        false,
                    );
                }
            }
        }
    }

    /// The largest request body, the document's and each operation's own: lowered is
    /// breaking (a body that was taken is now refused), raised is not; and the media types
    /// a request body is taken as.
    fn body_limits(&mut self) {
        const LIMIT: &str = "x-max-body-bytes";
        let (old_root, new_root) = (self.old[LIMIT].as_u64(), self.new[LIMIT].as_u64());
        let limit = |cx: &mut Self, at: &str, old: Option<u64>, new: Option<u64>, chosen| {
            let show = |v: Option<u64>| v.map_or("none".to_string(), |v| format!("{v} bytes"));
            let what = format!("request body limit {} -> {}", show(old), show(new));
            // No limit stated is no limit promised: any stated limit lowers it.
            let lowered = match (old, new) {
                (Some(a), Some(b)) => b < a,
                (None, Some(_)) => true,
                _ => false,
            };
            let rule = if lowered {
                "request-body-limit-lowered"
            } else {
                "request-body-limit-raised"
            };
            cx.push(at, what, lowered, Bump::Patch, Bump::None, chosen, rule);
        };
        if old_root != new_root {
            limit(self, "document", old_root, new_root, false);
        }
        let old = operations_of(self.old);
        for (id, (place, _, new_op)) in operations_of(self.new) {
            let Some((_, _, old_op)) = old.get(&id) else {
                continue;
            };
            let own = |op: &Value| {
                op.pointer("/requestBody/x-max-body-bytes")
                    .and_then(Value::as_u64)
            };
            let (own_old, own_new) = (own(old_op), own(new_op));
            let (a, b) = (own_old.or(old_root), own_new.or(new_root));
            // A change of the document's limit alone is reported once, above.
            if (own_old.is_some() || own_new.is_some()) && a != b {
                limit(self, &place, a, b, is_chosen(new_op));
            }
            let media = |op: &'a Value| -> BTreeSet<&'a String> {
                op.pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .map(|content| content.keys().collect())
                    .unwrap_or_default()
            };
            let (before, after) = (media(old_op), media(new_op));
            for gone in before.difference(&after) {
                self.push(
                    &place,
                    format!("request body no longer taken as `{gone}`"),
                    true,
                    Bump::Patch,
                    Bump::None,
                    is_chosen(new_op),
                    "request-media-type-removed",
                );
            }
            for added in after.difference(&before) {
                self.push(
                    &place,
                    format!("request body also taken as `{added}`"),
                    false,
                    Bump::Patch,
                    Bump::None,
                    is_chosen(new_op),
                    "request-media-type-added",
                );
            }
        }
    }

    fn resolve_response(&self, spec: &'a Value, answer: &'a Value) -> &'a Value {
        match answer["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/responses/"))
        {
            Some(name) => &spec["components"]["responses"][name],
            None => answer,
        }
    }

    fn parameters(
        &mut self,
        place: &str,
        old: (&'a Value, &'a Value),
        new: (&'a Value, &'a Value),
    ) {
        fn collect<'v>(
            spec: &'v Value,
            (item, op): (&'v Value, &'v Value),
        ) -> BTreeMap<(String, String), &'v Value> {
            let mut out = BTreeMap::new();
            for p in [item, op]
                .into_iter()
                .filter_map(|l| l["parameters"].as_array())
                .flatten()
            {
                let p = match p["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/parameters/"))
                {
                    Some(name) => &spec["components"]["parameters"][name],
                    None => p,
                };
                let key = (
                    p["in"].as_str().unwrap_or_default().to_string(),
                    p["name"].as_str().unwrap_or_default().to_string(),
                );
                out.insert(key, p);
            }
            out
        }
        let (a, b) = (collect(self.old, old), collect(self.new, new));
        for ((place_in, name), p) in &a {
            let at = format!("{place} {place_in}.{name}");
            match b.get(&(place_in.clone(), name.clone())) {
                None => self.push(
                    &at,
                    "parameter removed".into(),
                    true,
                    Bump::Major,
                    Bump::Major,
                    is_chosen(p),
                    "parameter-removed",
                ),
                Some(q) => {
                    if q["required"] == Value::Bool(true) && p["required"] != Value::Bool(true) {
                        self.push(
                            &at,
                            "parameter now required".into(),
                            true,
                            Bump::Major,
                            Bump::Major,
                            is_chosen(q),
                            "parameter-now-required",
                        );
                    }
                    self.schema(
                        &at,
                        &p["schema"],
                        &q["schema"],
                        Direction::Request,
                        is_chosen(q),
                    );
                }
            }
        }
        for ((place_in, name), q) in &b {
            if a.contains_key(&(place_in.clone(), name.clone())) {
                continue;
            }
            let at = format!("{place} {place_in}.{name}");
            let required = q["required"] == Value::Bool(true);
            self.push(
                &at,
                format!(
                    "{} parameter added",
                    if required { "required" } else { "optional" }
                ),
                required,
                // An optional one is one more setter of the operation's builder; the SDK's
                // API is written by hand and does not change by itself.
                if required { Bump::Major } else { Bump::Minor },
                if required { Bump::Major } else { Bump::None },
                is_chosen(q),
                if required {
                    "required-parameter-added"
                } else {
                    "optional-parameter-added"
                },
            );
        }
    }

    /// The component a schema names, if it is a `$ref` (or an `allOf` of one).
    fn named(schema: &Value) -> Option<String> {
        let direct = schema["$ref"].as_str();
        let wrapped = match schema["allOf"].as_array().map(Vec::as_slice) {
            Some([one]) => one["$ref"].as_str(),
            _ => None,
        };
        direct
            .or(wrapped)
            .and_then(|r| r.strip_prefix(SCHEMA_REF))
            .map(str::to_string)
    }

    fn component<'v>(spec: &'v Value, name: &str) -> &'v Value {
        &spec["components"]["schemas"][name]
    }

    /// An enum's values and whether it is open (`anyOf: [{enum}, {type: string}]`).
    /// (A `null` among the values is the schema's nullability, not a value.)
    fn enum_of(schema: &Value) -> Option<(Vec<Value>, bool)> {
        let values = |v: &Value| -> Vec<Value> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter(|x| !x.is_null())
                .cloned()
                .collect()
        };
        if schema["enum"].is_array() {
            return Some((values(&schema["enum"]), false));
        }
        match schema["anyOf"].as_array().map(Vec::as_slice) {
            Some([known, open]) if known["enum"].is_array() && open.get("enum").is_none() => {
                Some((values(&known["enum"]), true))
            }
            _ => None,
        }
    }

    /// Whether a schema allows `null` (`nullable`, or `null` among its values).
    fn nullable(schema: &Value) -> bool {
        schema["nullable"] == Value::Bool(true)
            || schema["enum"]
                .as_array()
                .is_some_and(|e| e.contains(&Value::Null))
    }

    /// The JSON type a schema's values have: its `type`, or `string` for an open enum.
    fn type_of(schema: &Value) -> Option<&str> {
        schema["type"].as_str().or_else(|| {
            Self::enum_of(schema)
                .filter(|(_, open)| *open)
                .map(|_| "string")
        })
    }

    /// The properties of an object, its union's variants' included (own ones first).
    fn all_properties(&self, spec: &'a Value, schema: &'a Value) -> BTreeMap<String, &'a Value> {
        let mut out: BTreeMap<String, &'a Value> = BTreeMap::new();
        let mut add = |s: &'a Value| {
            for (name, p) in s["properties"].as_object().into_iter().flatten() {
                out.entry(name.clone()).or_insert(p);
            }
        };
        add(schema);
        for key in ["oneOf", "anyOf", "allOf"] {
            for variant in schema[key].as_array().into_iter().flatten() {
                match Self::named(variant) {
                    Some(name) => add(Self::component(spec, &name)),
                    None => add(variant),
                }
            }
        }
        out
    }

    /// Whether an object refuses fields it does not name (it, or every variant of its
    /// union, has `additionalProperties: false`).
    fn closed<'v>(spec: &'v Value, schema: &'v Value) -> bool {
        if schema["additionalProperties"] == Value::Bool(false) {
            return true;
        }
        schema["oneOf"].as_array().is_some_and(|variants| {
            !variants.is_empty()
                && variants.iter().all(|v| {
                    let v = Self::named(v).map_or(v, |n| Self::component(spec, &n));
                    v["additionalProperties"] == Value::Bool(false)
                })
        })
    }

    fn schema(&mut self, at: &str, old: &'a Value, new: &'a Value, dir: Direction, chosen: bool) {
        let (old_name, new_name) = (Self::named(old), Self::named(new));
        // A field that refers to a component may carry its own `nullable` beside the
        // reference (`allOf: [$ref]`, `nullable: true`): compare it here, before the
        // component is (once per direction).
        if let (Some(a), Some(b)) = (&old_name, &new_name)
            && a == b
        {
            let (was, is) = (Self::nullable(old), Self::nullable(new));
            if was != is {
                self.push(
                    at,
                    format!("now {}", if is { "nullable" } else { "not nullable" }),
                    is != (dir == Direction::Request),
                    Bump::Major,
                    Bump::Major,
                    chosen || is_chosen(new),
                    "nullability-changed",
                );
            }
        }
        let (old_s, new_s) = match (&old_name, &new_name) {
            (Some(a), Some(b)) if a == b => {
                // Compare a component once per direction; its place is its name.
                if !self.seen.insert((a.clone(), dir == Direction::Request)) {
                    return;
                }
                (Self::component(self.old, a), Self::component(self.new, b))
            }
            (Some(a), Some(b)) => {
                self.push(
                    at,
                    format!("type changed from `{a}` to `{b}`"),
                    true,
                    Bump::Major,
                    Bump::Major,
                    chosen,
                    "type-changed",
                );
                return;
            }
            (Some(a), None) => (Self::component(self.old, a), new),
            (None, Some(b)) => (old, Self::component(self.new, b)),
            (None, None) => (old, new),
        };
        let at = match (&old_name, &new_name) {
            // An enum travels both ways; say which way this finding is about.
            (Some(a), Some(b)) if a == b && Self::enum_of(new_s).is_some() => {
                format!(
                    "{a} (in {})",
                    if dir == Direction::Request {
                        "requests"
                    } else {
                        "answers"
                    }
                )
            }
            (Some(a), Some(b)) if a == b => a.clone(),
            _ => at.to_string(),
        };
        let chosen = chosen || is_chosen(new_s);
        let request = dir == Direction::Request;
        // Types and formats.
        if let (Some(a), Some(b)) = (Self::type_of(old_s), Self::type_of(new_s))
            && a != b
        {
            self.push(
                &at,
                format!("type changed from {a} to {b}"),
                true,
                Bump::Major,
                Bump::Major,
                chosen,
                "type-changed",
            );
        }
        if old_s.get("format").is_some() && old_s.get("format") != new_s.get("format") {
            self.push(
                &at,
                format!(
                    "format changed from {} to {}",
                    old_s["format"], new_s["format"]
                ),
                true,
                Bump::Major,
                Bump::Major,
                chosen,
                "format-changed",
            );
        }
        if let (Some((_, was_open)), Some((_, is_open))) =
            (Self::enum_of(old_s), Self::enum_of(new_s))
            && was_open != is_open
        {
            // An opened enum accepts or sends nothing new by itself. A closed one refuses,
            // in a request, values the server accepted before.
            let breaking = !is_open && request;
            self.push(
                &at,
                format!(
                    "enum {}",
                    if is_open {
                        "opened (values a client does not know are allowed)"
                    } else {
                        "closed"
                    }
                ),
                breaking,
                Bump::Patch,
                Bump::Patch,
                chosen,
                if is_open {
                    "enum-opened"
                } else {
                    "enum-closed"
                },
            );
        }
        if request && Self::closed(self.new, new_s) && !Self::closed(self.old, old_s) {
            self.push(
                &at,
                "now refuses fields it does not name (additionalProperties: false)".into(),
                true,
                Bump::Patch,
                Bump::Patch,
                chosen,
                "request-closed-to-unknown-fields",
            );
        }
        // Patterns and bounds: a new or changed one may refuse what a client sends. In
        // Rust, typify makes a constrained string or number a newtype (a major change),
        // except a decimal, whose pattern sophic-codegen keeps out of the type.
        let decimal = new_s["format"] == "decimal" || old_s["format"] == "decimal";
        let rust = if decimal { Bump::Patch } else { Bump::Major };
        for key in [
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minItems",
            "maxItems",
        ] {
            if old_s.get(key) == new_s.get(key) {
                continue;
            }
            let breaking = request && new_s.get(key).is_some();
            self.push(
                &at,
                format!(
                    "{key} changed from {} to {}",
                    old_s.get(key).unwrap_or(&Value::Null),
                    new_s.get(key).unwrap_or(&Value::Null)
                ),
                breaking,
                rust,
                rust,
                chosen,
                if breaking {
                    "request-constraint-tightened"
                } else {
                    "constraint-changed"
                },
            );
        }
        // Values now listed: the Rust type becomes an enum.
        if Self::enum_of(old_s).is_none()
            && let Some((_, open)) = Self::enum_of(new_s)
        {
            let breaking = request || !open;
            self.push(
                &at,
                format!(
                    "values now listed ({} enum)",
                    if open { "an open" } else { "a closed" }
                ),
                breaking,
                Bump::Major,
                Bump::Major,
                chosen,
                "enum-introduced",
            );
        }
        // Nullability.
        if Self::nullable(old_s) != Self::nullable(new_s) {
            let now = Self::nullable(new_s);
            let breaking = now != request; // an answer that may be null; a request that may not
            self.push(
                &at,
                format!("now {}", if now { "nullable" } else { "not nullable" }),
                breaking,
                Bump::Major,
                Bump::Major,
                chosen,
                "nullability-changed",
            );
        }
        self.enums(&at, old_s, new_s, dir, chosen);
        self.properties(&at, old_s, new_s, dir, chosen);
        for key in ["items"] {
            if let (Some(a), Some(b)) = (old_s.get(key), new_s.get(key)) {
                self.schema(&format!("{at}[]"), a, b, dir, chosen);
            }
        }
        if Self::enum_of(old_s).is_none() && Self::enum_of(new_s).is_none() {
            for key in ["oneOf", "anyOf", "allOf"] {
                if let (Some(a), Some(b)) = (old_s[key].as_array(), new_s[key].as_array()) {
                    self.variants(&at, key, a, b, dir, chosen);
                }
            }
        }
    }

    /// The variants of a `oneOf`/`anyOf`/`allOf`: `$ref`s paired by name (an added or
    /// removed one reported), inline ones by position.
    fn variants(
        &mut self,
        at: &str,
        key: &str,
        old: &'a [Value],
        new: &'a [Value],
        dir: Direction,
        chosen: bool,
    ) {
        let request = dir == Direction::Request;
        let names =
            |list: &[Value]| -> Vec<String> { list.iter().filter_map(Self::named).collect() };
        let (a, b) = (names(old), names(new));
        // A named variant that took the place of an inline one (or the reverse) is the
        // same variant, written as a component: it is compared, not added or removed.
        let inline_at =
            |list: &[Value], i: usize| list.get(i).is_some_and(|v| Self::named(v).is_none());
        for (i, x) in old.iter().enumerate() {
            let Some(gone) = Self::named(x).filter(|n| !b.contains(n)) else {
                continue;
            };
            if inline_at(new, i) {
                continue;
            }
            // A request shape no longer accepted; an answer shape no longer sent.
            self.push(
                at,
                format!("{key} variant `{gone}` removed"),
                request,
                Bump::Major,
                Bump::Major,
                chosen,
                "variant-removed",
            );
        }
        for (i, y) in new.iter().enumerate() {
            let Some(added) = Self::named(y).filter(|n| !a.contains(n)) else {
                continue;
            };
            if inline_at(old, i) {
                continue;
            }
            // A request shape more is accepted; an answer may come in a shape clients
            // do not know.
            self.push(
                at,
                format!("{key} variant `{added}` added"),
                !request,
                Bump::Major,
                Bump::Major,
                chosen,
                "variant-added",
            );
        }
        for (i, x) in old.iter().enumerate() {
            let pair = match Self::named(x) {
                Some(name) => new
                    .iter()
                    .find(|y| Self::named(y).as_deref() == Some(&name))
                    .or_else(|| new.get(i).filter(|y| Self::named(y).is_none())),
                None => new.get(i),
            };
            if let Some(y) = pair {
                self.schema(at, x, y, dir, chosen);
            }
        }
    }

    fn enums(&mut self, at: &str, old: &'a Value, new: &'a Value, dir: Direction, chosen: bool) {
        let (Some((a, _)), Some((b, open))) = (Self::enum_of(old), Self::enum_of(new)) else {
            return;
        };
        let request = dir == Direction::Request;
        for value in a.iter().filter(|v| !b.contains(v)) {
            // A client may still send it; an answer simply never has it again.
            self.push(
                at,
                format!("enum value {value} removed"),
                request,
                Bump::Major,
                Bump::Major,
                chosen,
                if request {
                    "request-enum-value-removed"
                } else {
                    "response-enum-value-removed"
                },
            );
        }
        for value in b.iter().filter(|v| !a.contains(v)) {
            let breaking = !request && !open;
            self.push(
                at,
                format!(
                    "enum value {value} added{}",
                    if request {
                        ""
                    } else if open {
                        " (open enum: clients accept it)"
                    } else {
                        " (closed enum)"
                    }
                ),
                breaking,
                // A `#[non_exhaustive]` enum gains a variant (decision 0015).
                Bump::Minor,
                Bump::Minor,
                chosen,
                if request {
                    "request-enum-value-added"
                } else {
                    "response-enum-value-added"
                },
            );
        }
    }

    fn properties(
        &mut self,
        at: &str,
        old: &'a Value,
        new: &'a Value,
        dir: Direction,
        chosen: bool,
    ) {
        let (Some(a), Some(b)) = (old["properties"].as_object(), new["properties"].as_object())
        else {
            return;
        };
        // A field that moved into a variant of the new union is still there.
        let everywhere = self.all_properties(self.new, new);
        let required = |s: &Value, name: &str| {
            s["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|v| v == name))
        };
        let request = dir == Direction::Request;
        for (name, p) in a {
            let here = format!("{at}.{name}");
            let chosen = chosen || is_chosen(p);
            match b.get(name).or_else(|| everywhere.get(name).copied()) {
                None => self.push(
                    &here,
                    "field removed".into(),
                    true,
                    Bump::Major,
                    Bump::Major,
                    chosen,
                    "field-removed",
                ),
                Some(q) => {
                    let (was, is) = (required(old, name), required(new, name));
                    if was != is {
                        // A request field now required; an answer field that may be absent.
                        let breaking = if request { is } else { !is };
                        self.push(
                            &here,
                            format!("now {}", if is { "required" } else { "optional" }),
                            breaking,
                            Bump::Major,
                            Bump::Major,
                            chosen || is_chosen(q),
                            "field-requiredness-changed",
                        );
                    }
                    self.schema(&here, p, q, dir, chosen || is_chosen(q));
                }
            }
        }
        for (name, q) in b {
            if a.contains_key(name) {
                continue;
            }
            let needed = required(new, name);
            let breaking = request && needed;
            self.push(
                &format!("{at}.{name}"),
                format!(
                    "{} field added",
                    if needed { "required" } else { "optional" }
                ),
                breaking,
                // A `#[non_exhaustive]` struct gains a field (decision 0015): minor, unless
                // code that builds the request now fails without it.
                if breaking { Bump::Major } else { Bump::Minor },
                if breaking { Bump::Major } else { Bump::Minor },
                chosen || is_chosen(q),
                if breaking {
                    "required-request-field-added"
                } else {
                    "field-added"
                },
            );
        }
    }
}

/// The bump each crate needs for all of `changes` (a patch when the generated code
/// changed in nothing the rules name, none when nothing changed).
pub fn bumps(changes: &[Change], code_changed: bool) -> (Bump, Bump) {
    let floor = if code_changed {
        Bump::Patch
    } else {
        Bump::None
    };
    let client = changes
        .iter()
        .map(|c| c.client)
        .max()
        .unwrap_or(floor)
        .max(floor);
    let sdk = changes
        .iter()
        .map(|c| c.sdk)
        .max()
        .unwrap_or(floor)
        .max(floor);
    (client, sdk)
}

/// The report, as text or Markdown.
pub fn render(changes: &[Change], code_changed: bool, markdown: bool) -> String {
    let breaking = changes.iter().filter(|c| c.breaking).count();
    let (client, sdk) = bumps(changes, code_changed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{breaking} breaking, {} non-breaking; sophic-client: {}, sophic: {}",
        changes.len() - breaking,
        client.name(),
        sdk.name()
    );
    let sections = [
        ("Published by Sophic", false),
        ("Chosen here (x-undocumented)", true),
    ];
    for (title, chosen) in sections {
        let rows: Vec<&Change> = changes.iter().filter(|c| c.chosen == chosen).collect();
        if rows.is_empty() {
            continue;
        }
        if markdown {
            let _ = writeln!(out, "\n### {title}\n");
            let _ = writeln!(
                out,
                "| | where | change | sophic-client | sophic |\n|---|---|---|---|---|"
            );
            for c in rows {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | {} |",
                    if c.breaking {
                        "breaking"
                    } else {
                        "non-breaking"
                    },
                    c.at,
                    c.what,
                    c.client.name(),
                    c.sdk.name()
                );
            }
        } else {
            let _ = writeln!(out, "\n{title}:");
            for c in rows {
                let _ = writeln!(
                    out,
                    "  {:12} {}: {} [sophic-client {}, sophic {}]",
                    if c.breaking {
                        "breaking"
                    } else {
                        "non-breaking"
                    },
                    c.at,
                    c.what,
                    c.client.name(),
                    c.sdk.name()
                );
            }
        }
    }
    out
}

/// The CHANGELOG.md entry for `changes` (Keep a Changelog sections).
pub fn changelog(changes: &[Change]) -> String {
    let mut sections: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in changes {
        let section = if c.what.contains("removed") {
            "Removed"
        } else if c.what.contains("added") && !c.breaking {
            "Added"
        } else {
            "Changed"
        };
        let mark = if c.breaking { "**Breaking** " } else { "" };
        sections
            .entry(section)
            .or_default()
            .push(format!("- {mark}Spec: `{}`: {}.", c.at, c.what));
    }
    let mut out = String::new();
    for section in ["Added", "Changed", "Removed"] {
        if let Some(lines) = sections.get(section) {
            let _ = writeln!(out, "### {section}\n\n{}\n", lines.join("\n"));
        }
    }
    out
}

/// Applies an RFC 6902 JSON Patch (`add`, `remove`, `replace`) to `doc`: how the fixtures
/// state their spec edits, so they apply to whatever the spec is today.
pub fn apply_patch(doc: &mut Value, patch: &[Value]) -> Result<(), String> {
    for op in patch {
        let path = op["path"]
            .as_str()
            .ok_or("a patch operation without a path")?;
        let (parent, last) = path.rsplit_once('/').ok_or("a path must start with /")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = doc
            .pointer_mut(parent)
            .ok_or_else(|| format!("{parent} is not in the document"))?;
        match (op["op"].as_str(), target) {
            (Some("add"), Value::Array(items)) if last == "-" => items.push(op["value"].clone()),
            (Some("add" | "replace"), Value::Object(map)) => {
                map.insert(last, op["value"].clone());
            }
            (Some("add"), Value::Array(items)) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                items.insert(i, op["value"].clone());
            }
            (Some("replace"), Value::Array(items)) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                *items.get_mut(i).ok_or_else(|| format!("no {path}"))? = op["value"].clone();
            }
            (Some("remove"), Value::Object(map)) => {
                map.shift_remove(&last)
                    .ok_or_else(|| format!("no {path}"))?;
            }
            (Some("remove"), Value::Array(items)) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                if i >= items.len() {
                    return Err(format!("no {path}"));
                }
                items.remove(i);
            }
            (other, _) => return Err(format!("unsupported patch operation {other:?} at {path}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_spec() -> Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/orders.yaml"
        ))
        .unwrap();
        serde_yaml::from_str(&text).unwrap()
    }

    #[test]
    fn the_spec_compared_with_itself_has_no_change() {
        let spec = current_spec();
        assert_eq!(compare(&spec, &spec), []);
        assert_eq!(bumps(&[], false), (Bump::None, Bump::None));
    }

    #[test]
    fn a_body_media_type_or_limit_taken_away_breaks_and_one_given_does_not() {
        let old = current_spec();
        let token = "/paths/~1auth~1token/post/requestBody";
        let mut new = old.clone();
        let content = new.pointer_mut(&format!("{token}/content")).unwrap();
        let form = content["application/x-www-form-urlencoded"].clone();
        *content = serde_json::json!({"application/json": form});
        new.pointer_mut(token).unwrap()["x-max-body-bytes"] = 4096.into();
        let rules: Vec<(&str, bool)> = compare(&old, &new)
            .iter()
            .map(|c| (c.rule, c.breaking))
            .collect();
        assert_eq!(
            rules,
            [
                ("request-body-limit-lowered", true),
                ("request-media-type-removed", true),
                ("request-media-type-added", false),
            ]
        );
        // Back again: a higher limit and a media type given back break nothing new.
        let rules: Vec<(&str, bool)> = compare(&new, &old)
            .iter()
            .map(|c| (c.rule, c.breaking))
            .collect();
        assert_eq!(
            rules,
            [
                ("request-body-limit-raised", false),
                ("request-media-type-removed", true),
                ("request-media-type-added", false),
            ]
        );
    }

    #[test]
    fn every_fixture_is_classified_as_it_expects() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut checked = 0;
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let fixture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let old = current_spec();
            let mut new = old.clone();
            apply_patch(&mut new, fixture["patch"].as_array().unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let changes = compare(&old, &new);
            let expect = &fixture["expect"];
            let breaking = changes.iter().filter(|c| c.breaking).count();
            let rules: Vec<&str> = changes.iter().map(|c| c.rule).collect();
            let (client, sdk) = bumps(&changes, true);
            let got = serde_json::json!({
                "breaking": breaking,
                "non_breaking": changes.len() - breaking,
                "rules": rules,
                "sophic-client": client.name(),
                "sophic": sdk.name(),
            });
            assert_eq!(&got, expect, "{}: {changes:#?}", path.display());
            checked += 1;
        }
        assert!(checked >= 9, "only {checked} fixtures");
    }

    #[test]
    fn the_report_starts_with_its_summary_and_lists_chosen_changes_apart() {
        let old = current_spec();
        let mut new = old.clone();
        apply_patch(
            &mut new,
            &[serde_json::json!({"op": "remove", "path": "/components/schemas/Position/properties/available_quantity"})],
        )
        .unwrap();
        let changes = compare(&old, &new);
        let text = render(&changes, true, false);
        assert!(
            text.starts_with("1 breaking, 0 non-breaking; sophic-client: major, sophic: major\n"),
            "{text}"
        );
        assert!(text.contains("Chosen here (x-undocumented):"), "{text}");
        let markdown = render(&changes, true, true);
        assert!(
            markdown.contains("| breaking | `Position.available_quantity` | field removed |"),
            "{markdown}"
        );
        assert!(changelog(&changes).contains(
            "### Removed\n\n- **Breaking** Spec: `Position.available_quantity`: field removed."
        ));
    }
}
