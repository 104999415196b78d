//! Server-side apply under the operator's single field manager, and deleting children that are
//! no longer wanted.

use std::fmt::Debug;

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ownership::controlled_by;
use crate::build::FIELD_MANAGER;
use crate::error::Error;

fn what<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{} {name}", K::kind(&()))
}

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
    let name = obj.name_any();
    api.patch(&name, &params, &Patch::Apply(&body))
        .await
        .map_err(|source| Error::Apply {
            what: what::<K>(&name),
            source,
        })
}

/// Deletes `existing` if it is controlled by the object with `owner_uid`; objects of the same
/// name that the operator does not own are left alone. Whether it deleted.
pub async fn delete_owned<K>(
    api: &Api<K>,
    existing: Option<&K>,
    owner_uid: &str,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let Some(existing) = existing else {
        return Ok(false);
    };
    if !controlled_by(existing.meta(), owner_uid) {
        return Ok(false);
    }
    let name = existing.name_any();
    api.delete(&name, &DeleteParams::default())
        .await
        .map_err(|source| Error::Apply {
            what: format!("deleting {}", what::<K>(&name)),
            source,
        })?;
    Ok(true)
}

/// Creates `obj` unless an object of its name exists (a run decided twice: its fixed name
/// makes the repeat find it). Returns whether it created it.
pub async fn create_once<K>(api: &Api<K>, obj: &K) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(source) => Err(Error::Apply {
            what: format!("creating {}", what::<K>(&obj.name_any())),
            source,
        }),
    }
}

/// Writes `status` of `obj` through the status subresource (server-side apply: fields it no
/// longer holds are removed) unless it equals `current`, conditional on `obj`'s version: a
/// status decided from an old reading is refused with a conflict (409) instead of
/// overwriting a newer one. Returns whether it wrote.
pub async fn write_status_of<K, S>(
    api: &Api<K>,
    obj: &K,
    current: Option<&S>,
    status: &S,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"resourceVersion": obj.resource_version()},
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(Error::Status)?;
    Ok(true)
}
