//! Key choosers, as YCSB's `CoreWorkload` builds them: a Zipfian generator (Gray et al.,
//! "Quickly Generating Billion-Record Synthetic Databases", SIGMOD 1994) with constant 0.99, its
//! scrambled form (item numbers spread by an FNV-1a hash, so hot keys are not neighbours), the
//! skewed-latest generator of workload D, a uniform one, and the acknowledged insert counter that
//! tells readers which keys exist.

use std::{
    collections::BTreeSet,
    hash::Hasher,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use fnv::FnvHasher;
use rand::Rng;

/// YCSB's Zipfian constant.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;

/// The item count YCSB's scrambled generator draws from before hashing into the key space.
const SCRAMBLED_ITEMS: u64 = 10_000_000_000;

/// zeta(`SCRAMBLED_ITEMS`, 0.99), as YCSB precomputes it.
const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// YCSB's `Utils.fnvhash64`: FNV-1a over the eight little-endian bytes of `n`, made
/// non-negative as Java's `Math.abs` on a `long` does.
pub fn fnv_hash64(n: u64) -> u64 {
    let mut h = FnvHasher::default();
    h.write(&n.to_le_bytes());
    // Math.abs(Long.MIN_VALUE) stays Long.MIN_VALUE in Java; wrapping_abs keeps that bit pattern.
    h.finish().cast_signed().wrapping_abs().cast_unsigned()
}

fn zeta(from: u64, to: u64, theta: f64, initial: f64) -> f64 {
    (from..to).fold(initial, |sum, i| sum + 1.0 / ((i + 1) as f64).powf(theta))
}

/// Gray's Zipfian generator over `0..items` (item 0 the most popular).
#[derive(Debug, Clone)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    zeta2theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `0..items`, computing zeta(items).
    pub fn new(items: u64) -> Zipfian {
        let theta = ZIPFIAN_CONSTANT;
        Zipfian::with_zetan(items, zeta(0, items, theta, 0.0))
    }

    fn with_zetan(items: u64, zetan: f64) -> Zipfian {
        let theta = ZIPFIAN_CONSTANT;
        let zeta2theta = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian {
            items,
            theta,
            zeta2theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: 0.0,
        };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2theta / self.zetan)
    }

    /// Grows (or shrinks) the item range, updating zeta incrementally when it grows.
    fn resize(&mut self, items: u64) {
        if items == self.items {
            return;
        }
        self.zetan = if items > self.items {
            zeta(self.items, items, self.theta, self.zetan)
        } else {
            zeta(0, items, self.theta, 0.0)
        };
        self.items = items;
        self.eta = self.eta_for(items);
    }

    /// The next item in `0..items`.
    pub fn next(&mut self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5_f64.powf(self.theta) {
            return 1;
        }
        let v = (self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        v.min(self.items.saturating_sub(1))
    }
}

/// Inserted keys are numbered from the record count up; a key is readable once its insert and
/// every insert numbered below it were acknowledged (YCSB's `AcknowledgedCounterGenerator`).
#[derive(Debug)]
pub struct InsertCounter {
    next: AtomicU64,
    acked: Mutex<Acked>,
}

#[derive(Debug)]
struct Acked {
    /// Keys `0..limit` all exist.
    limit: u64,
    /// Acknowledged keys at or above `limit`.
    ahead: BTreeSet<u64>,
}

impl InsertCounter {
    /// Keys `0..existing` exist; new ones start at `existing`.
    pub fn new(existing: u64) -> InsertCounter {
        InsertCounter {
            next: AtomicU64::new(existing),
            acked: Mutex::new(Acked {
                limit: existing,
                ahead: BTreeSet::new(),
            }),
        }
    }

    /// The number of the next key to insert.
    pub fn allocate(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks key `n` as inserted.
    pub fn acknowledge(&self, n: u64) {
        let mut a = self
            .acked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        a.ahead.insert(n);
        loop {
            let limit = a.limit;
            if !a.ahead.remove(&limit) {
                break;
            }
            a.limit += 1;
        }
    }

    /// Keys `0..readable()` all exist.
    pub fn readable(&self) -> u64 {
        self.acked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .limit
    }

    /// Keys allocated so far (inserted or in flight): the next key number.
    pub fn allocated(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

/// How keys of reads, updates and scans are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Distribution {
    /// YCSB's scrambled Zipfian, constant 0.99.
    Zipfian,
    /// Zipfian skewed towards the most recently inserted keys (workload D).
    Latest,
    /// Every existing key equally likely.
    Uniform,
}

/// A key chooser of one client thread.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    /// `min + fnv(zipfian over 10^10) % items`, as YCSB's `ScrambledZipfianGenerator`.
    Scrambled {
        /// Zipfian over YCSB's fixed item count.
        zipf: Zipfian,
        /// The key space: loaded records plus expected inserts.
        items: u64,
    },
    /// `newest - zipfian(readable)`.
    Latest(Zipfian),
    /// Uniform over the readable keys.
    Uniform,
}

impl KeyChooser {
    /// A chooser over `records` loaded keys, expecting about `expected_inserts` more.
    pub fn new(dist: Distribution, records: u64, expected_inserts: u64) -> KeyChooser {
        match dist {
            Distribution::Zipfian => KeyChooser::Scrambled {
                zipf: Zipfian::with_zetan(SCRAMBLED_ITEMS + 1, SCRAMBLED_ZETAN),
                items: (records + expected_inserts).max(1),
            },
            Distribution::Latest => KeyChooser::Latest(Zipfian::new(records.max(1))),
            Distribution::Uniform => KeyChooser::Uniform,
        }
    }

    /// A key number below `counter.readable()` (which must be at least 1).
    pub fn next(&mut self, counter: &InsertCounter, rng: &mut impl Rng) -> u64 {
        let readable = counter.readable().max(1);
        match self {
            KeyChooser::Scrambled { zipf, items } => {
                // Keys not yet inserted are drawn again, as YCSB's `nextKeynum` does.
                for _ in 0..64 {
                    let k = fnv_hash64(zipf.next(rng)) % *items;
                    if k < readable {
                        return k;
                    }
                }
                rng.random_range(0..readable)
            }
            KeyChooser::Latest(zipf) => {
                zipf.resize(readable);
                readable - 1 - zipf.next(rng)
            }
            KeyChooser::Uniform => rng.random_range(0..readable),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::SmallRng};

    use super::*;

    #[test]
    fn fnv_matches_ycsb_reference_values() {
        // Utils.fnvhash64 (FNV-1a over the little-endian bytes, then Math.abs), computed
        // independently.
        assert_eq!(fnv_hash64(0), 6_284_781_860_667_377_211);
        assert_eq!(fnv_hash64(1), 8_517_097_267_634_966_620);
        assert_eq!(fnv_hash64(12_345), 1_792_800_413_050_876_852);
    }

    #[test]
    fn zipfian_favours_low_items() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut z = Zipfian::new(1000);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            let v = z.next(&mut rng) as usize;
            counts[v] += 1;
        }
        // Item 0 gets about 1/zeta(1000) ≈ 13% of draws; the top 10 about 40%.
        assert!(counts[0] > 10_000 && counts[0] < 16_000, "{}", counts[0]);
        let top10: u32 = counts[..10].iter().sum();
        assert!(top10 > 35_000 && top10 < 45_000, "{top10}");
        assert!(counts[999] < 100);
    }

    #[test]
    fn scrambled_spreads_hot_keys_and_stays_in_range() {
        let mut rng = SmallRng::seed_from_u64(1);
        let counter = InsertCounter::new(1000);
        let mut c = KeyChooser::new(Distribution::Zipfian, 1000, 0);
        let mut counts = vec![0u32; 1000];
        for _ in 0..50_000 {
            counts[c.next(&counter, &mut rng) as usize] += 1;
        }
        let mut hot: Vec<usize> = (0..1000).collect();
        hot.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        // Skewed: the hottest key far above the mean of 50; hot keys are not neighbours.
        assert!(counts[hot[0]] > 1000, "{}", counts[hot[0]]);
        assert!(hot[..3].windows(2).any(|w| w[0].abs_diff(w[1]) > 1));
    }

    #[test]
    fn latest_prefers_newest_keys() {
        let mut rng = SmallRng::seed_from_u64(3);
        let counter = InsertCounter::new(100);
        let mut c = KeyChooser::new(Distribution::Latest, 100, 0);
        let n = counter.allocate();
        counter.acknowledge(n);
        let draws: Vec<u64> = (0..10_000).map(|_| c.next(&counter, &mut rng)).collect();
        assert!(draws.iter().all(|&k| k <= 100));
        let newest = draws.iter().filter(|&&k| k == 100).count();
        assert!(newest > 1000, "{newest}");
    }

    #[test]
    fn counter_exposes_only_contiguous_acknowledged_keys() {
        let c = InsertCounter::new(10);
        let (a, b) = (c.allocate(), c.allocate());
        assert_eq!((a, b), (10, 11));
        c.acknowledge(b);
        assert_eq!(c.readable(), 10);
        c.acknowledge(a);
        assert_eq!(c.readable(), 12);
        assert_eq!(c.allocated(), 12);
    }
}
