//! Printing results: JSON (the YQL result shapes) or tables for people.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;
use shinydb_client::{QueryOutput, bson::Document};

use crate::cli::Output;

/// The text of a query result in the chosen form (no trailing newline).
pub fn render(out: &QueryOutput, how: Output) -> String {
    match how {
        Output::Json => out.to_json().to_string(),
        Output::Table => match out {
            QueryOutput::Documents { documents: d, .. } | QueryOutput::Groups(d) => {
                let mut t = docs_table(d);
                if let QueryOutput::Documents {
                    cursor: Some(c), ..
                } = out
                {
                    t.push_str(&format!("\nnext page: .after(\"{c}\")"));
                }
                t
            }
            QueryOutput::Aggregate(Some(row)) => docs_table(std::slice::from_ref(row)),
            other => value_table(&other.to_json()),
        },
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Rows as a table: one column per top-level field, in order of first appearance.
pub fn docs_table(docs: &[Document]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for d in docs {
        for k in d.keys() {
            if !columns.iter().any(|c| c == k) {
                columns.push(k.clone());
            }
        }
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(&columns);
    for d in docs {
        t.add_row(columns.iter().map(|c| {
            d.get(c)
                .map(|b| cell(&b.clone().into_relaxed_extjson()))
                .unwrap_or_default()
        }));
    }
    format!(
        "{t}\n({} row{})",
        docs.len(),
        if docs.len() == 1 { "" } else { "s" }
    )
}

/// A JSON object as a two-column table (other values as they are).
pub fn value_table(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            for (k, v) in m {
                t.add_row(vec![k.clone(), cell(v)]);
            }
            t.to_string()
        }
        other => other.to_string(),
    }
}
