//! Plans as JSON, for `explain()`.

use bson::Bson;
use serde_json::{Value, json};

use super::{Access, Range};
use crate::query::source::IndexBound;

fn value_json(v: &Bson) -> Value {
    v.clone().into_relaxed_extjson()
}

fn bound_json(b: &Option<IndexBound>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => json!({
            "values": b.values.iter().map(value_json).collect::<Vec<_>>(),
            "inclusive": b.inclusive,
        }),
    }
}

fn range_json(r: &Range) -> Value {
    json!({"lower": bound_json(&r.lower), "upper": bound_json(&r.upper)})
}

impl Access {
    /// The access as JSON: `{"type": "scan"}`, `{"type": "index", "index": ..., "ranges": [...],
    /// "reverse": ...}`, `{"type": "union", "branches": [...]}`, `{"type": "id", "id": ...}` or
    /// `{"type": "empty"}`.
    pub fn to_json(&self) -> Value {
        match self {
            Access::Scan => json!({"type": "scan"}),
            Access::Empty => json!({"type": "empty"}),
            Access::Id(id) => json!({"type": "id", "id": value_json(id)}),
            Access::Index {
                index,
                ranges,
                reverse,
            } => json!({
                "type": "index",
                "index": index,
                "ranges": ranges.iter().map(range_json).collect::<Vec<_>>(),
                "reverse": reverse,
            }),
            Access::Union(branches) => json!({
                "type": "union",
                "branches": branches.iter().map(Access::to_json).collect::<Vec<_>>(),
            }),
        }
    }
}
