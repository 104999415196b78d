//! The ownership check: an object of a child's name that the ShinyDB does not control is never
//! adopted (a forced server-side apply would take it over, and the garbage collector would later
//! delete it with the ShinyDB). Pure: it compares what [`super::dereference`] fetched with what
//! was built.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::dereference::Fetched;
use crate::build::{Desired, RESTORE_LABEL};

/// Whether `existing` (if any) may be applied over as `desired` by the owner with `uid`: absent,
/// controlled by that owner, or, for an object the operator keeps beyond its instance (applied
/// without an owner, such as the admin Secret of a kept volume) or made by a restore before the
/// instance existed (the restore's label), ownerless and carrying the same `managed-by` and
/// `instance` labels.
fn ours(existing: Option<&ObjectMeta>, desired: &ObjectMeta, uid: &str) -> bool {
    let Some(existing) = existing else {
        return true;
    };
    if controlled_by(existing, uid) {
        return true;
    }
    let owners = existing.owner_references.as_deref().unwrap_or_default();
    // Kept beyond the instance, or made for it by a restore before it existed.
    let kept = desired
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .is_empty()
        || existing
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(RESTORE_LABEL));
    let same_label = |key: &str| {
        let want = desired.labels.as_ref().and_then(|l| l.get(key));
        want.is_some() && existing.labels.as_ref().and_then(|l| l.get(key)) == want
    };
    kept && owners.is_empty()
        && same_label("app.kubernetes.io/managed-by")
        && same_label("app.kubernetes.io/instance")
}

/// Whether the object with `uid` is `meta`'s controller.
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

fn check<K: Resource<DynamicType = ()>>(
    existing: Option<&K>,
    desired: &K,
    uid: &str,
) -> Option<String> {
    (!ours(existing.map(Resource::meta), desired.meta(), uid))
        .then(|| format!("{} {}", K::kind(&()), desired.name_any()))
}

/// The first child (as `Kind name`) whose name is taken by an object that the ShinyDB with
/// `uid` does not control.
pub fn foreign_child(fetched: &Fetched, desired: &Desired, uid: &str) -> Option<String> {
    let by_name = |name: String| {
        let observed = &fetched.observed;
        [
            &observed.ca_secret,
            &observed.tls_secret,
            &observed.admin_secret,
        ]
        .into_iter()
        .flatten()
        .find(|s| s.name_any() == name)
    };
    check(fetched.config_map.as_ref(), &desired.config_map, uid)
        .or_else(|| {
            desired
                .secrets
                .iter()
                .find_map(|s| check(by_name(s.name_any()), s, uid))
        })
        .or_else(|| {
            desired.services.iter().find_map(|s| {
                let existing = fetched
                    .services
                    .iter()
                    .find(|e| e.name_any() == s.name_any());
                check(existing, s, uid)
            })
        })
        .or_else(|| check(fetched.stateful_set.as_ref(), &desired.stateful_set, uid))
        .or_else(|| {
            desired
                .pdb
                .as_ref()
                .and_then(|p| check(fetched.pdb.as_ref(), p, uid))
        })
}
