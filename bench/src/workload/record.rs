//! Keys and field values. Keys are `user<fnv(n)>` (YCSB's `insertorder=hashed`). A value starts
//! with a 16-hex-digit nonce, followed by characters drawn from a generator seeded by the key,
//! the field and the nonce: every value is fresh on each write, yet any reader can check that
//! the value it got is one the driver wrote for exactly that key and field.

use std::hash::Hasher;

use fnv::FnvHasher;
use rand::{Rng, RngCore, SeedableRng, rngs::SmallRng};

use super::generator::fnv_hash64;

/// Hex digits of the nonce that opens every value.
pub const NONCE_LEN: usize = 16;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The key of record number `n`.
pub fn key(n: u64) -> String {
    format!("user{}", fnv_hash64(n).cast_signed())
}

/// The name of field `i`.
pub fn field_name(i: usize) -> String {
    format!("field{i}")
}

/// The shape of every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Fields per record (YCSB `fieldcount`).
    pub field_count: usize,
    /// Characters per field value (YCSB `fieldlength`), at least [`NONCE_LEN`].
    pub field_length: usize,
}

/// A read result that is not what the driver wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// A record the driver inserted was not found.
    #[error("record {key} is missing")]
    Missing {
        /// The key.
        key: String,
    },
    /// The record has other fields than `field0..fieldN`.
    #[error("record {key} has fields {found:?}, expected field0..field{last}")]
    Fields {
        /// The key.
        key: String,
        /// The field names found.
        found: Vec<String>,
        /// The last expected field number.
        last: usize,
    },
    /// A field's value was not written by the driver for this key and field.
    #[error("record {key} field {field} holds {value:?}, which the driver did not write there")]
    Value {
        /// The key.
        key: String,
        /// The field.
        field: String,
        /// The value found.
        value: String,
    },
    /// A scan returned keys out of order or outside its range.
    #[error("scan from {start} (at most {limit}) returned {got:?}")]
    Scan {
        /// The start key.
        start: String,
        /// The length asked for.
        limit: usize,
        /// The keys returned.
        got: Vec<String>,
    },
}

fn body(key: &str, field: &str, nonce: u64, len: usize, out: &mut String) {
    let mut h = FnvHasher::default();
    h.write(key.as_bytes());
    h.write(&[0]);
    h.write(field.as_bytes());
    h.write(&nonce.to_le_bytes());
    let mut rng = SmallRng::seed_from_u64(h.finish());
    let mut left = len;
    while left > 0 {
        let mut bits = rng.next_u64();
        for _ in 0..10.min(left) {
            out.push(char::from(ALPHABET[(bits & 63) as usize]));
            bits >>= 6;
        }
        left = left.saturating_sub(10);
    }
}

impl Shape {
    /// A fresh value for `field` of `key`.
    pub fn value(&self, key: &str, field: &str, rng: &mut impl Rng) -> String {
        let nonce: u64 = rng.random();
        let mut s = String::with_capacity(self.field_length);
        s.push_str(&format!("{nonce:016x}"));
        body(key, field, nonce, self.field_length - NONCE_LEN, &mut s);
        s
    }

    /// A whole record for `key`: `(field name, value)` for every field, in order.
    pub fn record(&self, key: &str, rng: &mut impl Rng) -> Vec<(String, String)> {
        (0..self.field_count)
            .map(|i| {
                let f = field_name(i);
                let v = self.value(key, &f, rng);
                (f, v)
            })
            .collect()
    }

    /// Checks that `value` is one the driver wrote for `field` of `key`.
    pub fn check_value(&self, key: &str, field: &str, value: &str) -> Result<(), Mismatch> {
        let bad = || Mismatch::Value {
            key: key.into(),
            field: field.into(),
            value: value.into(),
        };
        if value.len() != self.field_length {
            return Err(bad());
        }
        let nonce = value
            .get(..NONCE_LEN)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(bad)?;
        let mut expected = String::with_capacity(self.field_length - NONCE_LEN);
        body(
            key,
            field,
            nonce,
            self.field_length - NONCE_LEN,
            &mut expected,
        );
        if value.get(NONCE_LEN..) == Some(expected.as_str()) {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// Checks a whole record read back: every field present, nothing else, every value valid.
    pub fn check_record<'a>(
        &self,
        key: &str,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), Mismatch> {
        let mut names = Vec::new();
        let mut seen = vec![false; self.field_count];
        let mut ok = true;
        for (name, value) in fields {
            names.push(name.to_string());
            let slot = name
                .strip_prefix("field")
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| seen.get_mut(n));
            match slot {
                Some(s) if !*s => *s = true,
                _ => ok = false,
            }
            self.check_value(key, name, value)?;
        }
        if ok && seen.iter().all(|s| *s) {
            Ok(())
        } else {
            Err(Mismatch::Fields {
                key: key.into(),
                found: names,
                last: self.field_count.saturating_sub(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        field_count: 3,
        field_length: 40,
    };

    #[test]
    fn keys_are_hashed_like_ycsb() {
        assert_eq!(key(0), "user6284781860667377211");
    }

    #[test]
    fn written_values_check_and_others_do_not() {
        let mut rng = SmallRng::seed_from_u64(9);
        let v = SHAPE.value("user1", "field0", &mut rng);
        assert_eq!(v.len(), 40);
        assert_eq!(SHAPE.check_value("user1", "field0", &v), Ok(()));
        // The same value under another key or field, or altered, is rejected.
        assert!(SHAPE.check_value("user2", "field0", &v).is_err());
        assert!(SHAPE.check_value("user1", "field1", &v).is_err());
        let mut altered = v.clone().into_bytes();
        altered[30] = if altered[30] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert!(SHAPE.check_value("user1", "field0", &altered).is_err());
        assert!(SHAPE.check_value("user1", "field0", &v[..39]).is_err());
    }

    #[test]
    fn records_need_every_field_once() {
        let mut rng = SmallRng::seed_from_u64(9);
        let r = SHAPE.record("user7", &mut rng);
        let view = |r: &[(String, String)]| {
            r.iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect::<Vec<_>>()
        };
        let all = view(&r);
        assert_eq!(
            SHAPE.check_record("user7", all.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
            Ok(())
        );
        let short = &all[..2];
        assert!(matches!(
            SHAPE.check_record("user7", short.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
            Err(Mismatch::Fields { .. })
        ));
        let dup = [all[0].clone(), all[0].clone(), all[2].clone()];
        assert!(
            SHAPE
                .check_record("user7", dup.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .is_err()
        );
    }
}
