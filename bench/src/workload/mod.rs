//! YCSB's core workloads A–F: the operation mix, the key distribution, and what one client
//! thread draws next.

pub mod generator;
pub mod record;

use rand::Rng;

pub use generator::{Distribution, InsertCounter, KeyChooser};
pub use record::{Mismatch, Shape};

/// One of YCSB's core workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Letter {
    /// 50% reads, 50% updates, Zipfian (session store).
    A,
    /// 95% reads, 5% updates, Zipfian (photo tagging).
    B,
    /// 100% reads, Zipfian (profile cache).
    C,
    /// 95% reads, 5% inserts, latest (status updates).
    D,
    /// 95% short scans, 5% inserts, Zipfian start keys (threaded conversations).
    E,
    /// 50% reads, 50% read-modify-writes, Zipfian (user database).
    F,
}

impl Letter {
    /// Every workload, in YCSB's order.
    pub const ALL: [Letter; 6] = [
        Letter::A,
        Letter::B,
        Letter::C,
        Letter::D,
        Letter::E,
        Letter::F,
    ];

    /// The workload's mix and default distribution.
    pub fn spec(self) -> Mix {
        use Distribution::{Latest, Zipfian};
        let m = |read, update, insert, scan, rmw, distribution| Mix {
            read,
            update,
            insert,
            scan,
            rmw,
            distribution,
        };
        match self {
            Letter::A => m(0.5, 0.5, 0.0, 0.0, 0.0, Zipfian),
            Letter::B => m(0.95, 0.05, 0.0, 0.0, 0.0, Zipfian),
            Letter::C => m(1.0, 0.0, 0.0, 0.0, 0.0, Zipfian),
            Letter::D => m(0.95, 0.0, 0.05, 0.0, 0.0, Latest),
            Letter::E => m(0.0, 0.0, 0.05, 0.95, 0.0, Zipfian),
            Letter::F => m(0.5, 0.0, 0.0, 0.0, 0.5, Zipfian),
        }
    }

    /// The upper-case letter.
    pub fn name(self) -> &'static str {
        match self {
            Letter::A => "A",
            Letter::B => "B",
            Letter::C => "C",
            Letter::D => "D",
            Letter::E => "E",
            Letter::F => "F",
        }
    }
}

/// Proportions of each operation (summing to 1) and the request distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Reads of a whole record.
    pub read: f64,
    /// Updates of one field.
    pub update: f64,
    /// Inserts of a new record.
    pub insert: f64,
    /// Scans of 1..=scan_max records from a key.
    pub scan: f64,
    /// Read of a record, then update of one of its fields.
    pub rmw: f64,
    /// How keys are chosen.
    pub distribution: Distribution,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read record `key`.
    Read {
        /// Key number.
        key: u64,
    },
    /// Set field `field` of record `key`.
    Update {
        /// Key number.
        key: u64,
        /// Field number.
        field: usize,
    },
    /// Insert record `key` (allocated from the insert counter).
    Insert {
        /// Key number.
        key: u64,
    },
    /// Read up to `len` records from `key` on, in key order.
    Scan {
        /// Key number of the start key.
        key: u64,
        /// Records at most.
        len: usize,
    },
    /// Read record `key`, then set its field `field`.
    ReadModifyWrite {
        /// Key number.
        key: u64,
        /// Field number.
        field: usize,
    },
}

/// Draws the operations of one client thread.
#[derive(Debug, Clone)]
pub struct Chooser {
    mix: Mix,
    keys: KeyChooser,
    field_count: usize,
    scan_max: usize,
}

impl Chooser {
    /// A chooser for `mix` over `records` existing records, expecting `expected_inserts` more.
    pub fn new(
        mix: Mix,
        records: u64,
        expected_inserts: u64,
        field_count: usize,
        scan_max: usize,
    ) -> Chooser {
        Chooser {
            mix,
            keys: KeyChooser::new(mix.distribution, records, expected_inserts),
            field_count,
            scan_max,
        }
    }

    /// The next operation.
    pub fn next(&mut self, counter: &InsertCounter, rng: &mut impl Rng) -> Op {
        let m = self.mix;
        let mut p: f64 = rng.random();
        let field = |rng: &mut dyn rand::RngCore| rng.random_range(0..self.field_count);
        if p < m.read {
            return Op::Read {
                key: self.keys.next(counter, rng),
            };
        }
        p -= m.read;
        if p < m.update {
            let field = field(rng);
            return Op::Update {
                key: self.keys.next(counter, rng),
                field,
            };
        }
        p -= m.update;
        if p < m.insert {
            return Op::Insert {
                key: counter.allocate(),
            };
        }
        p -= m.insert;
        if p < m.scan {
            let len = rng.random_range(1..=self.scan_max);
            return Op::Scan {
                key: self.keys.next(counter, rng),
                len,
            };
        }
        if m.rmw > 0.0 {
            let field = field(rng);
            return Op::ReadModifyWrite {
                key: self.keys.next(counter, rng),
                field,
            };
        }
        // Rounding left p just above the sum: the last operation with a share.
        Op::Read {
            key: self.keys.next(counter, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::SmallRng};

    use super::*;

    #[test]
    fn mixes_follow_the_workload_definitions() {
        let mut rng = SmallRng::seed_from_u64(5);
        for letter in Letter::ALL {
            let spec = letter.spec();
            let sum = spec.read + spec.update + spec.insert + spec.scan + spec.rmw;
            assert!((sum - 1.0).abs() < 1e-9, "{letter:?}");
            let counter = InsertCounter::new(1000);
            let mut c = Chooser::new(spec, 1000, 1000, 10, 100);
            let mut n = [0u32; 5];
            for _ in 0..20_000 {
                match c.next(&counter, &mut rng) {
                    Op::Read { key } => {
                        assert!(key < counter.readable());
                        n[0] += 1;
                    }
                    Op::Update { field, .. } => {
                        assert!(field < 10);
                        n[1] += 1;
                    }
                    Op::Insert { key } => {
                        counter.acknowledge(key);
                        n[2] += 1;
                    }
                    Op::Scan { len, .. } => {
                        assert!((1..=100).contains(&len));
                        n[3] += 1;
                    }
                    Op::ReadModifyWrite { .. } => n[4] += 1,
                }
            }
            let want = [spec.read, spec.update, spec.insert, spec.scan, spec.rmw];
            for (got, want) in n.iter().zip(want) {
                let share = f64::from(*got) / 20_000.0;
                assert!((share - want).abs() < 0.02, "{letter:?}: {n:?}");
            }
        }
    }
}
