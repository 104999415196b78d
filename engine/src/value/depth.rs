//! Nesting depth of BSON documents, measured without recursion.
//!
//! Decoding, encoding and comparing BSON values recurse once per level, so a document nested
//! deeper than the thread's stack allows aborts the process. Anything that arrives from outside
//! (a client's document, a cursor, a stored body being rewritten) is measured here first and
//! refused past [`MAX_DEPTH`] levels, before any recursive code sees it.

use bson::{RawBsonRef, RawDocument};

/// The deepest nesting accepted, counting the top-level document as level 1 (MongoDB's limit is
/// the same 100). Arrays and JavaScript scopes count as levels.
pub const MAX_DEPTH: usize = 100;

/// Why a document's nesting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepthError {
    /// Nested deeper than the limit.
    #[error("nested deeper than {max} levels (documents and arrays count)")]
    TooDeep {
        /// The limit that was exceeded.
        max: usize,
    },
    /// The bytes are not well-formed BSON.
    #[error("malformed BSON: {0}")]
    Malformed(String),
}

/// Checks that `doc` is well-formed and nested at most `max` levels deep, walking it with an
/// explicit stack (constant native stack, whatever the input).
pub fn check_depth(doc: &RawDocument, max: usize) -> Result<(), DepthError> {
    let malformed = |e: bson::raw::Error| DepthError::Malformed(e.to_string());
    if max == 0 {
        return Err(DepthError::TooDeep { max });
    }
    let mut stack = vec![doc.iter_elements()];
    while let Some(level) = stack.last_mut() {
        let Some(element) = level.next() else {
            stack.pop();
            continue;
        };
        let nested = match element.map_err(malformed)?.value().map_err(malformed)? {
            RawBsonRef::Document(d) => d,
            RawBsonRef::Array(a) => RawDocument::from_bytes(a.as_bytes()).map_err(malformed)?,
            RawBsonRef::JavaScriptCodeWithScope(c) => c.scope,
            _ => continue,
        };
        if stack.len() >= max {
            return Err(DepthError::TooDeep { max });
        }
        stack.push(nested.iter_elements());
    }
    Ok(())
}

/// Checks the nesting of BSON bytes that are meant to hold one document.
pub fn check_depth_bytes(bytes: &[u8], max: usize) -> Result<(), DepthError> {
    let doc = RawDocument::from_bytes(bytes).map_err(|e| DepthError::Malformed(e.to_string()))?;
    check_depth(doc, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{RawDocumentBuf, doc};

    /// `{"a": {"a": … {"x": 1} …}}` with `levels` documents in all, built as bytes (building it as
    /// a `Document` and encoding it would recurse).
    pub(crate) fn nested_bytes(levels: usize) -> Vec<u8> {
        let mut inner = RawDocumentBuf::from_document(&doc! {"x": 1})
            .expect("leaf")
            .into_bytes();
        for _ in 1..levels {
            let mut next = Vec::with_capacity(inner.len() + 8);
            next.extend_from_slice(&((inner.len() + 8) as i32).to_le_bytes());
            next.extend_from_slice(&[0x03, b'a', 0]);
            next.extend_from_slice(&inner);
            next.push(0);
            inner = next;
        }
        inner
    }

    #[test]
    fn counts_documents_and_arrays_as_levels() {
        let flat = RawDocumentBuf::from_document(&doc! {"a": 1}).expect("doc");
        assert_eq!(check_depth(&flat, 1), Ok(()));
        let nested = RawDocumentBuf::from_document(&doc! {"a": [{"b": [1]}]}).expect("doc");
        assert_eq!(check_depth(&nested, 4), Ok(()));
        assert_eq!(check_depth(&nested, 3), Err(DepthError::TooDeep { max: 3 }));
    }

    #[test]
    fn the_limit_itself_is_accepted_one_more_is_refused() {
        assert_eq!(
            check_depth_bytes(&nested_bytes(MAX_DEPTH), MAX_DEPTH),
            Ok(())
        );
        assert_eq!(
            check_depth_bytes(&nested_bytes(MAX_DEPTH + 1), MAX_DEPTH),
            Err(DepthError::TooDeep { max: MAX_DEPTH })
        );
    }

    #[test]
    fn a_document_nested_far_past_the_stack_is_refused_without_recursion() {
        // 200,000 levels: any recursive walk of this overflows a 2 MiB test thread's stack.
        let bytes = nested_bytes(200_000);
        assert_eq!(
            check_depth_bytes(&bytes, MAX_DEPTH),
            Err(DepthError::TooDeep { max: MAX_DEPTH })
        );
    }

    #[test]
    fn malformed_bytes_are_named_as_such() {
        let mut bytes = nested_bytes(3);
        let n = bytes.len();
        bytes[n - 2] = 0x42; // an unknown element type where level 2 should end
        assert!(matches!(
            check_depth_bytes(&bytes, MAX_DEPTH),
            Err(DepthError::Malformed(_))
        ));
    }
}
