//! Sums that keep integers exact and add doubles exactly.
//!
//! Integers are added in an `i128` (exact). Doubles are added with Shewchuk's algorithm (as in
//! Python's `math.fsum`): the result is the exact sum of every input rounded once, so it does not
//! depend on the order documents arrive in (index scans and full scans agree to the bit).

use bson::{Bson, RawBsonRef};

use crate::value::number_as_f64;

/// A running sum of numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactSum {
    int: i128,
    partials: Vec<f64>,
    /// The sum of non-finite inputs (and of overflowed partial sums).
    special: f64,
    has_special: bool,
    has_float: bool,
    /// How many numbers were added.
    pub count: u64,
}

impl ExactSum {
    /// Adds a value when it is a number; returns whether it was.
    pub fn add(&mut self, v: RawBsonRef<'_>) -> bool {
        match v {
            RawBsonRef::Int32(i) => self.add_int(i64::from(i)),
            RawBsonRef::Int64(i) => self.add_int(i),
            RawBsonRef::Double(_) | RawBsonRef::Decimal128(_) => {
                let Some(f) = number_as_f64(v) else {
                    return false;
                };
                self.has_float = true;
                self.add_float(f);
            }
            _ => return false,
        }
        self.count += 1;
        true
    }

    fn add_int(&mut self, i: i64) {
        if let Some(s) = self.int.checked_add(i128::from(i)) {
            self.int = s;
        } else {
            self.has_float = true;
            self.add_float(i as f64);
        }
    }

    fn add_float(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            self.has_special = true;
            return;
        }
        msum_add(
            &mut self.partials,
            x,
            &mut self.special,
            &mut self.has_special,
        );
    }

    /// The sum: an int64 while only integers were added and the sum fits, else a double.
    pub fn finish(&self) -> Bson {
        if !self.has_float
            && let Ok(i) = i64::try_from(self.int)
        {
            return Bson::Int64(i);
        }
        Bson::Double(self.total_f64())
    }

    /// The sum as a double, correctly rounded.
    pub fn total_f64(&self) -> f64 {
        let mut partials = self.partials.clone();
        let mut special = self.special;
        let mut has_special = self.has_special;
        // Split the integer sum into doubles that add up to it exactly.
        let mut rest = self.int;
        while rest != 0 {
            let piece = rest as f64;
            let back = piece as i128;
            msum_add(&mut partials, piece, &mut special, &mut has_special);
            if back == 0 || back == rest {
                break;
            }
            rest -= back;
        }
        if has_special {
            return special;
        }
        round_partials(&partials)
    }
}

/// Adds `x` to the non-overlapping partials (Shewchuk).
fn msum_add(partials: &mut Vec<f64>, mut x: f64, special: &mut f64, has_special: &mut bool) {
    let mut kept = 0;
    for idx in 0..partials.len() {
        let Some(&p) = partials.get(idx) else { break };
        let (mut a, mut b) = (x, p);
        if a.abs() < b.abs() {
            std::mem::swap(&mut a, &mut b);
        }
        let hi = a + b;
        if !hi.is_finite() {
            *special += hi;
            *has_special = true;
            return;
        }
        let lo = b - (hi - a);
        if lo != 0.0 {
            if let Some(slot) = partials.get_mut(kept) {
                *slot = lo;
            }
            kept += 1;
        }
        x = hi;
    }
    partials.truncate(kept);
    partials.push(x);
}

/// The correctly rounded sum of non-overlapping partials (the end of Python's `fsum`).
fn round_partials(partials: &[f64]) -> f64 {
    let mut n = partials.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = partials.get(n).copied().unwrap_or(0.0);
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials.get(n).copied().unwrap_or(0.0);
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    if n > 0 {
        let prev = partials.get(n - 1).copied().unwrap_or(0.0);
        if (lo < 0.0 && prev < 0.0) || (lo > 0.0 && prev > 0.0) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(values: &[RawBsonRef<'_>]) -> Bson {
        let mut s = ExactSum::default();
        for v in values {
            s.add(*v);
        }
        s.finish()
    }

    #[test]
    fn integers_stay_exact_int64() {
        use RawBsonRef::*;
        assert_eq!(sum(&[]), Bson::Int64(0));
        assert_eq!(
            sum(&[Int32(1), Int64(2), String("x"), Null]),
            Bson::Int64(3)
        );
        assert_eq!(
            sum(&[Int64(i64::MAX), Int64(1), Int64(-1)]),
            Bson::Int64(i64::MAX)
        );
        assert_eq!(
            sum(&[Int64(i64::MAX), Int64(1)]),
            Bson::Double(9_223_372_036_854_775_808.0)
        );
        assert_eq!(sum(&[Int32(1), Double(0.5)]), Bson::Double(1.5));
    }

    #[test]
    fn doubles_are_summed_exactly_in_any_order() {
        use RawBsonRef::Double;
        let vals = [1e100, 1.0, -1e100, 0.1, 0.2, 0.3];
        let a: Vec<RawBsonRef<'_>> = vals.iter().map(|v| Double(*v)).collect();
        let b: Vec<RawBsonRef<'_>> = vals.iter().rev().map(|v| Double(*v)).collect();
        assert_eq!(sum(&a), sum(&b));
        assert_eq!(sum(&a), Bson::Double(1.6));
        assert_eq!(sum(&[Double(0.1); 10]), Bson::Double(1.0));
        assert!(
            matches!(sum(&[Double(f64::INFINITY), Double(f64::NEG_INFINITY)]), Bson::Double(x) if x.is_nan())
        );
        assert_eq!(
            sum(&[Double(f64::MAX), Double(f64::MAX)]),
            Bson::Double(f64::INFINITY)
        );
    }

    proptest::proptest! {
        #[test]
        fn order_does_not_matter(v in proptest::collection::vec(-1e6f64..1e6, 0..20), i in proptest::collection::vec(proptest::num::i64::ANY, 0..5)) {
            let mut fwd = ExactSum::default();
            let mut back = ExactSum::default();
            for x in &v { fwd.add(RawBsonRef::Double(*x)); }
            for x in &i { fwd.add(RawBsonRef::Int64(*x)); }
            for x in i.iter().rev() { back.add(RawBsonRef::Int64(*x)); }
            for x in v.iter().rev() { back.add(RawBsonRef::Double(*x)); }
            proptest::prop_assert_eq!(fwd.total_f64().to_bits(), back.total_f64().to_bits());
        }
    }
}
