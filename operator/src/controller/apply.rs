//! Server-side apply under the operator's single field manager.

use std::fmt::Debug;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::build::FIELD_MANAGER;
use crate::error::Error;

/// Applies `obj` (server-side, forced, as [`FIELD_MANAGER`]) and returns the stored object.
pub async fn apply<K>(api: &Api<K>, obj: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let mut body = serde_json::to_value(obj).map_err(|source| Error::Serialize {
        kind: "object",
        source,
    })?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api
        .patch(&obj.name_any(), &params, &Patch::Apply(&body))
        .await?)
}

/// Whether `obj`'s name is free, or taken by an object the owner with `owner_uid` controls. An
/// object the operator keeps beyond its instance (applied without an owner, such as the admin
/// Secret of a kept volume) is also ours when it carries the same `managed-by` and `instance`
/// labels as `obj`.
pub async fn free_or_ours<K>(api: &Api<K>, obj: &K, owner_uid: &str) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let Some(existing) = api.get_opt(&obj.name_any()).await? else {
        return Ok(true);
    };
    if existing
        .owner_references()
        .iter()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
    {
        return Ok(true);
    }
    let kept = obj.owner_references().is_empty();
    let same_label = |key: &str| {
        obj.labels()
            .get(key)
            .is_some_and(|v| existing.labels().get(key) == Some(v))
    };
    Ok(kept
        && existing.owner_references().is_empty()
        && same_label("app.kubernetes.io/managed-by")
        && same_label("app.kubernetes.io/instance"))
}

/// Deletes `name` if it exists and is controlled by the object with `owner_uid`; objects of
/// the same name that the operator does not own are left alone.
pub async fn delete_owned<K>(api: &Api<K>, name: &str, owner_uid: &str) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let Some(existing) = api.get_opt(name).await? else {
        return Ok(false);
    };
    if !existing
        .owner_references()
        .iter()
        .any(|o| o.uid == owner_uid)
    {
        return Ok(false);
    }
    api.delete(name, &DeleteParams::default()).await?;
    Ok(true)
}
