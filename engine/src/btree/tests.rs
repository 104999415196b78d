//! The tree against a `BTreeMap` model: random batches, ranges both ways, reopen.

use std::{collections::BTreeMap, ops::Bound};

use proptest::prelude::*;

use super::{Pager, TreeVersion, TreeWriter};
use crate::kv::KvOp;

fn key(n: u32) -> Vec<u8> {
    format!("key{n:06}").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn tree_matches_model(batches in prop::collection::vec(prop::collection::vec((0u32..3000, 0usize..600, any::<bool>()), 1..400), 1..8)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.db");
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let (pager, mut meta) = Pager::open(&path, 1 << 20).expect("open");
        for batch in &batches {
            let mut ops: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for &(k, len, del) in batch {
                let v = if del { None } else { Some(vec![(k % 251) as u8; len]) };
                ops.insert(key(k), v);
            }
            let ops: Vec<KvOp> = ops.into_iter().map(|(key, value)| KvOp { key, value: value.map(Into::into) }).collect();
            let mut replaced = 0usize;
            let mut w = TreeWriter::new(&pager, meta);
            w.apply(&ops, &mut |_, _| replaced += 1).expect("apply");
            meta = w.commit(0).expect("commit");
            let mut expected_replaced = 0;
            for op in &ops {
                if model.contains_key(&op.key) { expected_replaced += 1; }
                match &op.value { Some(v) => { model.insert(op.key.clone(), v.to_vec()); } None => { model.remove(&op.key); } }
            }
            prop_assert_eq!(replaced, expected_replaced);
        }
        drop(pager);
        let (pager, meta2) = Pager::open(&path, 1 << 20).expect("reopen");
        prop_assert_eq!(meta, meta2);
        let tree = TreeVersion::new(pager.clone(), meta2);
        let reachable = tree.reachable_pages().expect("walk");
        pager.set_free_from_reachable(&reachable);
        let all = tree.range(Bound::Unbounded, Bound::Unbounded, false, usize::MAX).expect("range");
        let got: Vec<(Vec<u8>, Vec<u8>)> = all.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        prop_assert_eq!(&got, &want);
        for probe in [0u32, 17, 1500, 2999, 3001] {
            let k = key(probe);
            prop_assert_eq!(tree.get(&k).expect("get").map(|b| b.to_vec()), model.get(&k).cloned());
            let lo = key(probe.saturating_sub(40));
            let rev = tree.range(Bound::Included(&lo[..]), Bound::Excluded(&k[..]), true, 7).expect("rev");
            let want_rev: Vec<Vec<u8>> = model.range(lo.clone()..k.clone()).rev().take(7).map(|(k, _)| k.clone()).collect();
            prop_assert_eq!(rev.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), want_rev);
        }
    }
}

#[test]
fn pages_are_reused_only_after_readers_leave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pager, meta) = Pager::open(&dir.path().join("data.db"), 1 << 20).expect("open");
    let ops: Vec<KvOp> = (0..2000).map(|i| KvOp::put(key(i), vec![1; 100])).collect();
    let mut w = TreeWriter::new(&pager, meta);
    w.apply(&ops, &mut |_, _| {}).expect("apply");
    let meta = w.commit(1).expect("commit");
    let old = TreeVersion::new(pager.clone(), meta);
    // Rewrite everything; the old version must stay readable while pinned.
    let ops2: Vec<KvOp> = (0..2000).map(|i| KvOp::put(key(i), vec![2; 100])).collect();
    let mut w = TreeWriter::new(&pager, meta);
    w.apply(&ops2, &mut |_, _| {}).expect("apply");
    let meta2 = w.commit(2).expect("commit");
    let new = TreeVersion::new(pager.clone(), meta2);
    let ops3: Vec<KvOp> = (0..2000).map(|i| KvOp::put(key(i), vec![3; 100])).collect();
    let mut w = TreeWriter::new(&pager, meta2);
    w.apply(&ops3, &mut |_, _| {}).expect("apply");
    let _meta3 = w.commit(3).expect("commit");
    assert_eq!(old.get(&key(5)).expect("get").map(|b| b[0]), Some(1));
    assert_eq!(new.get(&key(5)).expect("get").map(|b| b[0]), Some(2));
    let pages_before = pager.page_count();
    drop(old);
    drop(new);
    let free_after = pager.stats().free_pages;
    assert!(free_after > 0, "released pages become free once unpinned");
    assert_eq!(pager.page_count(), pages_before);
}
