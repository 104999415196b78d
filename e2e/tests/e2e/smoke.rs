//! Smoke tests proving the e2e cluster is a real Kubernetes: the version the build stamped, a
//! StatefulSet with a dynamically provisioned volume behind a headless Service, pod DNS through
//! CoreDNS, a ClusterIP Service through kube-proxy, data surviving a pod's deletion, and Helm.
//!
//! They skip (with a printed reason) when `SHINYDB_E2E_KUBECONFIG` is not set.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use shinydb_e2e::{
    Cluster, Error, Result, run_script_pod, run_tool, testbox_image, tool, wait_until,
};

const MINUTE: Duration = Duration::from_secs(60);

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(message()))
    }
}

#[tokio::test]
async fn cluster_is_v1_37_2_with_a_ready_node_and_a_default_storage_class() -> Result<()> {
    let Some(cluster) = Cluster::from_env().await? else {
        return Ok(());
    };
    let client = cluster.client();
    let version = client.apiserver_version().await?;
    check(version.git_version == "v1.37.2", || {
        format!("server version {}", version.git_version)
    })?;

    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    check(nodes.items.len() == 1, || {
        format!("{} nodes", nodes.items.len())
    })?;
    let ready = nodes.items[0]
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    check(ready, || "node is not Ready".into())?;

    let classes = Api::<StorageClass>::all(client)
        .list(&ListParams::default())
        .await?;
    let default = classes.items.iter().any(|sc| {
        sc.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            == Some(&"true".to_string())
    });
    check(default, || "no default StorageClass".into())
}

/// StatefulSet + PVC + headless Service; DNS from a second pod; ClusterIP through kube-proxy
/// (from a pod); the host reaches the pod IP; the pod deleted comes back with its data.
#[tokio::test]
async fn statefulset_with_volume_dns_service_and_restart() -> Result<()> {
    let Some(cluster) = Cluster::from_env().await? else {
        return Ok(());
    };
    let ns = cluster.namespace("e2e-sts").await?;
    let n = ns.name().to_string();
    let pp = PostParams::default();

    // Headless Service for the pods' DNS names, ClusterIP Service for load-balanced access.
    let headless: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 8080}]},
    }))?;
    let cluster_ip: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-lb"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }))?;
    let services: Api<Service> = ns.api();
    services.create(&pp, &headless).await?;
    let cluster_ip = services.create(&pp, &cluster_ip).await?;
    let vip = cluster_ip
        .spec
        .and_then(|s| s.cluster_ip)
        .ok_or_else(|| Error::Check("web-lb has no ClusterIP".into()))?;

    // On first start the pod writes a random id to its volume; every start appends a boot line.
    let script = "set -e; [ -s /data/id ] || cat /proc/sys/kernel/random/uuid > /data/id; \
                  echo boot >> /data/boots; mkdir -p /data/www; cp /data/id /data/www/id; \
                  wc -l < /data/boots | tr -d ' ' > /data/www/boots; hostname > /data/www/host; \
                  exec httpd -f -p 8080 -h /data/www";
    let sts: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "web",
                        "image": testbox_image(),
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", script],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/id", "port": 8080},
                                           "periodSeconds": 1},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }],
                },
            },
            // No storageClassName: the default class must be picked.
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "16Mi"}}},
            }],
        },
    }))?;
    let sets: Api<StatefulSet> = ns.api();
    sets.create(&pp, &sts).await?;
    let ready = || {
        let sets = sets.clone();
        async move {
            let s = sets.get("web").await?;
            let ready = s.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            Ok((ready == 1).then_some(()))
        }
    };
    wait_until("StatefulSet web to be Ready", 3 * MINUTE, ready).await?;

    let pods: Api<Pod> = ns.api();
    let pod = pods.get("web-0").await?;
    let pod_ip = pod.status.and_then(|s| s.pod_ip).unwrap_or_default();
    let first_uid = pod.metadata.uid.unwrap_or_default();
    let pvc = ns.api::<PersistentVolumeClaim>().get("data-web-0").await?;
    let pv_name = pvc.spec.and_then(|s| s.volume_name).unwrap_or_default();
    check(
        pvc.status.and_then(|s| s.phase).as_deref() == Some("Bound"),
        || "PVC not Bound".into(),
    )?;

    // A second pod resolves the StatefulSet pod's stable name through CoreDNS and connects.
    let fqdn = format!("web-0.web.{n}.svc.cluster.local");
    let out = run_script_pod(
        &ns,
        "dns-client",
        &format!("set -e; nslookup {fqdn}; echo ID=$(wget -qO- http://{fqdn}:8080/id)"),
        2 * MINUTE,
    )
    .await?;
    check(out.contains(&pod_ip), || {
        format!("{fqdn} did not resolve to {pod_ip}:\n{out}")
    })?;
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    check(id.len() == 36, || format!("no id served by web-0:\n{out}"))?;

    // The ClusterIP Service, by name and by address, from a pod (kube-proxy DNAT).
    let out = run_script_pod(
        &ns,
        "svc-client",
        &format!(
            "set -e; wget -qO- http://web-lb.{n}.svc.cluster.local/id; wget -qO- http://{vip}/id"
        ),
        2 * MINUTE,
    )
    .await?;
    check(out.matches(&id).count() == 2, || {
        format!("ClusterIP {vip} did not serve {id}:\n{out}")
    })?;

    // From the host, pod IPs are reachable over the bridge (an operator running on the host
    // uses these). ClusterIPs are not: the blackhole route for the Service range is consulted
    // by connect() before kube-proxy's OUTPUT DNAT, so the host gets EINVAL by design.
    let ip = pod_ip.clone();
    let body = tokio::task::spawn_blocking(move || http_get(&ip, 8080, "/id"))
        .await
        .map_err(|e| Error::Check(e.to_string()))??;
    check(body.trim() == id, || {
        format!("host -> pod {pod_ip} served {body:?}")
    })?;

    // Delete the pod: the StatefulSet recreates it on the same claim, with the same data.
    pods.delete("web-0", &DeleteParams::default()).await?;
    wait_until("web-0 to come back", 3 * MINUTE, || {
        let pods = pods.clone();
        let first_uid = first_uid.clone();
        async move {
            let Some(p) = pods.get_opt("web-0").await? else {
                return Ok(None);
            };
            let new = p.metadata.uid.as_deref() != Some(first_uid.as_str());
            let ready = p
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            Ok((new && ready).then_some(()))
        }
    })
    .await?;
    let out = run_script_pod(
        &ns,
        "after-restart",
        &format!("set -e; echo ID=$(wget -qO- http://{fqdn}:8080/id) BOOTS=$(wget -qO- http://{fqdn}:8080/boots)"),
        2 * MINUTE,
    )
    .await?;
    check(out.contains(&format!("ID={id} BOOTS=2")), || {
        format!("data not kept across restart:\n{out}")
    })?;

    // Deleting the StatefulSet and its claim lets the provisioner reclaim the volume.
    sets.delete("web", &DeleteParams::default()).await?;
    ns.api::<PersistentVolumeClaim>()
        .delete("data-web-0", &DeleteParams::default())
        .await?;
    let pvs: Api<PersistentVolume> = Api::all(cluster.client());
    wait_until(&format!("PV {pv_name} to be reclaimed"), 2 * MINUTE, || {
        let pvs = pvs.clone();
        let pv_name = pv_name.clone();
        async move { Ok(pvs.get_opt(&pv_name).await?.is_none().then_some(())) }
    })
    .await?;
    ns.delete().await
}

/// A plain HTTP/1.0 GET from the host; returns the body.
fn http_get(host: &str, port: u16, path: &str) -> Result<String> {
    let mut s = TcpStream::connect((host, port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error::Check(format!("bad HTTP response {response:?}")))?;
    check(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        || format!("HTTP {head}"),
    )?;
    Ok(body.to_string())
}

/// `helm install --wait` of a trivial chart (with a `kubeVersion` constraint that needs the
/// stamped server version) and `helm uninstall`.
#[tokio::test]
async fn helm_install_and_uninstall() -> Result<()> {
    let Some(cluster) = Cluster::from_env().await? else {
        return Ok(());
    };
    let ns = cluster.namespace("e2e-helm").await?;
    let helm = tool("helm");
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/charts/smoke");
    let image = testbox_image();
    let (repo, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "v1"));
    let (repo_arg, tag_arg) = (
        format!("image.repository={repo}"),
        format!("image.tag={tag}"),
    );
    let common = [
        "--kubeconfig",
        kubeconfig.as_str(),
        "--namespace",
        ns.name(),
    ];

    let mut install = vec!["install", "smoke", chart, "--wait", "--timeout", "3m"];
    install.extend(["--set", &repo_arg, "--set", &tag_arg]);
    install.extend(common);
    run_tool(&helm, &install).await?;

    let cm = ns.api::<ConfigMap>().get("smoke-info").await?;
    let kube_version = cm
        .data
        .and_then(|d| d.get("kubeVersion").cloned())
        .unwrap_or_default();
    check(kube_version == "v1.37.2", || {
        format!("chart saw kubeVersion {kube_version:?}")
    })?;
    let mut list = vec!["list", "--short"];
    list.extend(common);
    let releases = run_tool(&helm, &list).await?;
    check(releases.lines().any(|l| l.trim() == "smoke"), || {
        format!("helm list: {releases}")
    })?;

    let mut uninstall = vec!["uninstall", "smoke", "--wait"];
    uninstall.extend(common);
    run_tool(&helm, &uninstall).await?;
    let gone = ns.api::<ConfigMap>().get_opt("smoke-info").await?.is_none();
    check(gone, || {
        "ConfigMap smoke-info still there after uninstall".into()
    })?;
    ns.delete().await
}

/// A pod whose image was never imported fails fast on the local dead-end registry mirror
/// (127.0.0.1:9) instead of pulling from the Internet.
#[tokio::test]
async fn image_pulls_never_leave_the_machine() -> Result<()> {
    let Some(cluster) = Cluster::from_env().await? else {
        return Ok(());
    };
    let ns = cluster.namespace("e2e-pull").await?;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "missing-image"},
        "spec": {"containers": [{"name": "main", "image": "shinydb/not-imported:0.0.0",
                                 "imagePullPolicy": "IfNotPresent"}]},
    }))?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &pod).await?;
    let message = wait_until("the image pull to fail", 2 * MINUTE, || {
        let pods = pods.clone();
        async move {
            let p = pods.get("missing-image").await?;
            let waiting = p
                .status
                .and_then(|s| s.container_statuses)
                .and_then(|c| c.into_iter().next())
                .and_then(|c| c.state)
                .and_then(|s| s.waiting);
            Ok(waiting
                .filter(|w| {
                    matches!(
                        w.reason.as_deref(),
                        Some("ErrImagePull" | "ImagePullBackOff")
                    )
                })
                .map(|w| w.message.unwrap_or_default()))
        }
    })
    .await?;
    check(message.contains("127.0.0.1:9"), || {
        format!("pull did not go to the local dead end: {message}")
    })?;
    ns.delete().await
}
