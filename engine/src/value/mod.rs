//! The one value model shared by filters, sorting, grouping and index keys.
//!
//! - [`FieldPath`] names a field by its dotted path (`Address.City`); [`lookup`] finds it in a raw
//!   BSON document without deserialising anything else, and [`set_path`] / [`unset_path`] /
//!   [`get_path`] do the same on owned documents for updates.
//! - [`compare`] is the single total order over BSON values: the order of sorts, of group keys,
//!   of range predicates and of index keys (the engine's key encoding must agree with it, see
//!   [`type_class`] and [`TYPE_ORDER`]).
//!
//! # The order
//!
//! Values are first ordered by their type class, in MongoDB's order, then within the class:
//!
//! | class | tag | types | order within the class |
//! |---|---|---|---|
//! | MinKey | `0x05` | MinKey | all equal |
//! | Null | `0x10` | null, undefined (and a missing field, where one is ordered) | all equal |
//! | Number | `0x20` | int32, int64, double, decimal128 | exact numeric value, see below |
//! | String | `0x30` | string, symbol | UTF-8 bytes, a proper prefix first |
//! | Document | `0x40` | embedded document | field by field: name bytes, then value; a prefix first |
//! | Array | `0x50` | array | element by element; a prefix first |
//! | Binary | `0x60` | binary | subtype, then bytes (MongoDB orders by length first: we do not) |
//! | ObjectId | `0x70` | ObjectId | its 12 bytes |
//! | Boolean | `0x80` | boolean | `false < true` |
//! | DateTime | `0x90` | UTC datetime | milliseconds since the epoch |
//! | Timestamp | `0xA0` | timestamp | time, then increment |
//! | RegularExpression | `0xB0` | regular expression | pattern bytes, then options bytes |
//! | DbPointer | `0xB8` | DBPointer (deprecated) | all equal |
//! | JavaScript | `0xC0` | JavaScript code, with or without scope | code bytes (the scope is ignored) |
//! | MaxKey | `0xF0` | MaxKey | all equal |
//!
//! Numbers compare by their **exact** value across int32, int64 and double: `3 == 3i64 == 3.0`,
//! and `2^53 + 1` (an int64) is greater than the double `2^53`; no integer is ever rounded to a
//! double. `-0.0 == 0.0`. Every NaN is equal to every other NaN and below every other number
//! (including -infinity). A decimal128 compares as the nearest double to its decimal value
//! (NaN for NaN, ±infinity for infinities): an approximation, so two distinct decimal128 values
//! may compare equal.
//!
//! `compare` is a total preorder: values that compare `Equal` may still differ (`3` and `3.0`,
//! two DBPointers). [`values_equal`] is exactly `compare(a, b) == Equal`, which is the equality
//! filters use: `3 = 3.0` holds and `"3" = 3` does not (different classes are never equal).

mod depth;
mod order;
mod path;

pub use depth::{DepthError, MAX_DEPTH, check_depth, check_depth_bytes};
pub use order::{
    TYPE_ORDER, class, compare, compare_bson, compare_opt, hash_value, number_as_f64, type_class,
    values_equal,
};
pub use path::{FieldPath, PathError, get_path, lookup, lookup_id, set_path, unset_path};
