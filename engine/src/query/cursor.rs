//! Keyset-pagination cursors: the position (sort-key values, `_id`) of the last row of a page,
//! with the ordering it belongs to, as an opaque hex string of a small BSON document.

use bson::{Bson, Document, RawBson, RawDocumentBuf, doc};

use super::ir::{Direction, SortKey};
use crate::value;

/// The deepest cursor accepted: the cursor document, its key array, and a sort-key value that is
/// itself a stored document (at most [`value::MAX_DEPTH`] levels).
const CURSOR_DEPTH: usize = value::MAX_DEPTH + 2;

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    /// The sort-key values of the last row (null for missing).
    pub keys: Vec<RawBson>,
    /// The `_id` of the last row.
    pub id: RawBson,
}

fn order_text(order: &[SortKey]) -> Vec<Bson> {
    order
        .iter()
        .map(|k| {
            let dir = match k.direction {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            };
            Bson::String(format!("{} {dir}", k.path))
        })
        .collect()
}

/// Encodes the position of a row. `keys` are its sort-key values (`None` = missing).
pub(crate) fn encode(order: &[SortKey], keys: &[Option<Bson>], id: Bson) -> String {
    let keys: Vec<Bson> = keys
        .iter()
        .map(|k| k.clone().unwrap_or(Bson::Null))
        .collect();
    let d = doc! {"o": order_text(order), "k": keys, "i": id};
    match RawDocumentBuf::from_document(&d) {
        Ok(raw) => raw.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => String::new(),
    }
}

/// Decodes a cursor and checks that it belongs to this ordering.
pub(crate) fn decode(text: &str, order: &[SortKey]) -> Result<Cursor, String> {
    const MALFORMED: &str = "not a cursor returned by a previous page";
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MALFORMED.to_string());
    }
    let bytes: Vec<u8> = (0..text.len() / 2)
        .filter_map(|i| text.get(2 * i..2 * i + 2))
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    let raw = RawDocumentBuf::from_bytes(bytes).map_err(|_| MALFORMED.to_string())?;
    // A real cursor is three levels deep; anything deeper would recurse in `to_document`.
    value::check_depth(&raw, CURSOR_DEPTH).map_err(|_| MALFORMED.to_string())?;
    let d: Document = raw.to_document().map_err(|_| MALFORMED.to_string())?;
    let (Ok(o), Ok(k), Some(i)) = (d.get_array("o"), d.get_array("k"), d.get("i")) else {
        return Err(MALFORMED.to_string());
    };
    if *o != order_text(order) {
        return Err("it was returned by a query with a different orderBy".to_string());
    }
    if k.len() != order.len() {
        return Err(MALFORMED.to_string());
    }
    let to_raw = |b: &Bson| RawBson::try_from(b.clone()).map_err(|_| MALFORMED.to_string());
    Ok(Cursor {
        keys: k.iter().map(to_raw).collect::<Result<_, _>>()?,
        id: to_raw(i)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_the_ordering() {
        let order = vec![SortKey {
            path: "TotalDue".parse().expect("path"),
            direction: Direction::Desc,
        }];
        let c = encode(&order, &[Some(Bson::Double(12.5))], Bson::Int32(7));
        let back = decode(&c, &order).expect("decode");
        assert_eq!(back.keys, vec![RawBson::Double(12.5)]);
        assert_eq!(back.id, RawBson::Int32(7));
        assert!(decode(&c, &[]).is_err());
        assert!(decode("zz", &order).is_err());
        assert!(decode("abc", &order).is_err());
        assert!(decode("00000000", &order).is_err());
    }
}
