//! Names and labels of a ShinyDB's children.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::BuildError;
use crate::crd::ShinyDB;

/// The names derived from one ShinyDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// The ShinyDB's name (also the StatefulSet's and the client Service's).
    pub instance: String,
    /// Its namespace.
    pub namespace: String,
}

impl Names {
    /// The names of `db`'s children.
    pub fn of(db: &ShinyDB) -> Result<Names, BuildError> {
        Ok(Names {
            instance: db
                .metadata
                .name
                .clone()
                .ok_or(BuildError::MissingMetadata("name"))?,
            namespace: db
                .namespace()
                .ok_or(BuildError::MissingMetadata("namespace"))?,
        })
    }

    /// The StatefulSet (pods are `<instance>-<ordinal>`).
    pub fn stateful_set(&self) -> String {
        self.instance.clone()
    }

    /// The data volume claim of pod `ordinal` (the StatefulSet's `data` claim template).
    pub fn data_claim(&self, ordinal: i32) -> String {
        format!("data-{}-{ordinal}", self.stateful_set())
    }

    /// The client Service.
    pub fn client_service(&self) -> String {
        self.instance.clone()
    }

    /// The headless Service that gives each pod a DNS name.
    pub fn headless_service(&self) -> String {
        format!("{}-hl", self.instance)
    }

    /// The ConfigMap with the server configuration.
    pub fn config_map(&self) -> String {
        format!("{}-config", self.instance)
    }

    /// The operator's CA Secret (certificate and key; never mounted into pods).
    pub fn ca_secret(&self) -> String {
        format!("{}-ca", self.instance)
    }

    /// The operator-managed server certificate Secret (`tls.crt`, `tls.key`, `ca.crt`).
    pub fn tls_secret(&self) -> String {
        format!("{}-tls", self.instance)
    }

    /// The generated admin password Secret.
    pub fn admin_secret(&self) -> String {
        format!("{}-admin", self.instance)
    }

    /// The PodDisruptionBudget.
    pub fn pdb(&self) -> String {
        self.instance.clone()
    }

    /// The client endpoint's host name in `domain`.
    pub fn client_host(&self, domain: &str) -> String {
        format!("{}.{}.svc.{domain}", self.client_service(), self.namespace)
    }

    /// The stable DNS name of pod `ordinal` in `domain`.
    pub fn pod_host(&self, ordinal: i32, domain: &str) -> String {
        format!(
            "{}-{ordinal}.{}.{}.svc.{domain}",
            self.stateful_set(),
            self.headless_service(),
            self.namespace
        )
    }
}

/// The label every pod of `instance` carries and Services select on.
pub fn selector_labels(instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "shinydb".to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            instance.to_string(),
        ),
    ])
}

/// The labels of every child object of `db`.
pub fn labels(db: &ShinyDB) -> BTreeMap<String, String> {
    let mut labels = selector_labels(&db.name_any());
    labels.insert(
        "app.kubernetes.io/managed-by".into(),
        "shinydb-operator".into(),
    );
    labels.insert("app.kubernetes.io/version".into(), db.spec.version.clone());
    labels
}
