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
