//! `pluck(...)`: keep only the listed paths, re-nested (`Address.City` becomes
//! `{"Address": {"City": ...}}`). Missing paths are left out; `_id` only when listed.

use bson::{Bson, Document, RawDocument, RawDocumentBuf};

use super::error::QueryError;
use crate::value::{FieldPath, lookup, set_path};

/// The projection of `doc` on `paths`.
pub fn pluck(doc: &RawDocument, paths: &[FieldPath]) -> Result<RawDocumentBuf, QueryError> {
    let mut out = Document::new();
    for path in paths {
        if let Some(v) = lookup(doc, path) {
            let v = Bson::try_from(v.to_raw_bson()).map_err(|e| QueryError::Bson(e.to_string()))?;
            // A listed path under another listed path that is not a document is already covered.
            let _ = set_path(&mut out, path, v);
        }
    }
    Ok(RawDocumentBuf::from_document(&out)?)
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn re_nests_listed_paths_only() {
        let d = RawDocumentBuf::from_document(&doc! {
            "_id": 1, "FullName": "Ann", "Address": {"City": "Austin", "State": "TX"}
        })
        .expect("raw");
        let paths: Vec<FieldPath> = ["FullName", "Address.City", "Missing.x"]
            .iter()
            .map(|p| p.parse().expect("path"))
            .collect();
        let got = pluck(&d, &paths)
            .expect("pluck")
            .to_document()
            .expect("doc");
        assert_eq!(got, doc! {"FullName": "Ann", "Address": {"City": "Austin"}});
        let both: Vec<FieldPath> = ["Address", "Address.City", "_id"]
            .iter()
            .map(|p| p.parse().expect("path"))
            .collect();
        let got = pluck(&d, &both).expect("pluck").to_document().expect("doc");
        assert_eq!(
            got,
            doc! {"Address": {"City": "Austin", "State": "TX"}, "_id": 1}
        );
    }
}
