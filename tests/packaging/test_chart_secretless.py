"""The chart's secretless mode (`credentialProvider.enabled`): what it adds, rendered."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.shell.cli import main as cli
from tests.kit.chart import NAMESPACE, RELEASE, Manifest, container, find, one, render

pytestmark = pytest.mark.timeout(1800)

SECRETLESS: dict[str, Any] = {"credentialProvider": {"enabled": True}}
AUDIENCE = "pullpass.io/credentials"


@pytest.fixture(scope="module")
def objects(helm_path: str) -> list[Manifest]:
    return render(SECRETLESS)


def test_off_by_default(helm_path: str) -> None:
    default = render({})
    assert not find(default, "DaemonSet")
    assert not [o for o in default if "credentials-audience" in o["metadata"]["name"]]
    assert "--credentials-port=8444" not in container(default)["args"]


def test_pullpass_serves_credentials_with_the_clusters_client_ca(objects: list[Manifest]) -> None:
    pullpass = container(objects)
    args = pullpass["args"]
    assert "--credentials-port=8444" in args
    assert f"--credentials-audience={AUDIENCE}" in args
    assert "--client-ca-file=/run/pullpass/client-ca/ca.crt" in args
    parsed = cli.parse([*args, "--kubeconfig=k"])
    assert parsed.credentials_cache_seconds == 30
    assert {"name": "credentials", "containerPort": 8444, "protocol": "TCP"} in pullpass["ports"]
    volumes = one(objects, "Deployment", RELEASE)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "client-ca", "configMap": {"name": "kube-root-ca.crt"}} in volumes
    ports = one(objects, "Service", RELEASE)["spec"]["ports"]
    assert {
        "name": "credentials",
        "port": 8444,
        "targetPort": "credentials",
        "protocol": "TCP",
    } in (ports)
    role = one(objects, "ClusterRole", RELEASE)
    assert {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["tokenreviews"],
        "verbs": ["create"],
    } in role["rules"]


def test_the_webhooks_exclusions_reach_secretless_mode_too(helm_path: str) -> None:
    values = {**SECRETLESS, "detectMissing": {"enabled": False}}
    values["webhook"] = {"excludeNamespaces": ["legacy"]}
    args = container(render(values))["args"]
    parsed = cli.parse([*args, "--kubeconfig=k"])
    assert parsed.unserved_namespaces == ["kube-system", NAMESPACE, "legacy"]
    assert not parsed.detect_missing


def pod_rules(objects: list[Manifest]) -> list[dict[str, Any]]:
    return [r for r in one(objects, "ClusterRole", RELEASE)["rules"] if r["resources"] == ["pods"]]


def test_pullpass_may_get_pods_for_their_opt_out_and_no_more(
    objects: list[Manifest], helm_path: str
) -> None:
    """The exchange reads the token's pod (one GET); the pending-pods watch keeps its own rule,
    and with repair on its rule already holds `get`, so no second one is granted."""
    get = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    watch = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}
    assert pod_rules(objects) == [watch, get]
    assert pod_rules(render({**SECRETLESS, "detectMissing": {"enabled": False}})) == [get]
    repair = pod_rules(render({**SECRETLESS, "repair": {"enabled": True}}))
    assert repair == [{**get, "verbs": ["get", "list", "watch"]}]
    assert pod_rules(render({})) == [watch]


def test_nodes_and_only_nodes_may_request_the_audience(objects: list[Manifest]) -> None:
    name = f"{RELEASE}-credentials-audience"
    role = one(objects, "ClusterRole", name)
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": [AUDIENCE],
            "verbs": ["request-serviceaccounts-token-audience"],
        }
    ]
    binding = one(objects, "ClusterRoleBinding", name)
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}
    ]
    policy = one(objects, "ValidatingAdmissionPolicy", name)
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules[0]["resources"] == ["pods", "serviceaccounts/token"]
    assert one(objects, "ValidatingAdmissionPolicyBinding", name)["spec"]["validationActions"] == [
        "Deny"
    ]


def test_the_daemonset_places_the_plugin_and_the_kubelets_config(objects: list[Manifest]) -> None:
    config_map = one(objects, "ConfigMap", f"{RELEASE}-credential-provider")
    config = yaml.safe_load(config_map["data"]["credential-provider-config.yaml"])
    assert config["kind"] == "CredentialProviderConfig"
    [provider] = config["providers"]
    assert provider["name"] == "pullpass-credential-provider"
    assert provider["apiVersion"] == "credentialprovider.kubelet.k8s.io/v1"
    assert provider["tokenAttributes"] == {
        "serviceAccountTokenAudience": AUDIENCE,
        "requireServiceAccount": True,
        "cacheType": "ServiceAccount",
    }
    assert provider["args"] == [
        "--settings=/etc/kubernetes/pullpass/pullpass-credential-provider.json"
    ]
    daemon = one(objects, "DaemonSet", f"{RELEASE}-credential-provider")
    spec = daemon["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    [install] = spec["containers"]
    assert install["command"][:2] == ["/pullpass-credential-provider", "install"]
    assert "--url=https://$(PULLPASS_SERVICE_HOST):8444/credentials" in install["command"]
    assert f"--server-name={RELEASE}.{NAMESPACE}.svc" in install["command"]
    host = {v["name"]: v.get("hostPath", {}).get("path") for v in spec["volumes"]}
    assert host["host-bin"] == "/etc/kubernetes/image-credential-provider"
    assert host["host-config"] == "/etc/kubernetes/pullpass"


def test_the_webhook_can_be_turned_off(helm_path: str) -> None:
    objects = render({**SECRETLESS, "webhook": {"enabled": False}})
    assert not find(objects, "MutatingWebhookConfiguration")
    assert find(objects, "DaemonSet")
    # Self-managed certificates then trust no webhook; pullpass serve accepts that.
    args = container(objects)["args"]
    assert not [a for a in args if a.startswith("--webhook-config")]
    assert cli.parse([*args, "--kubeconfig=k"]).webhook_config is None
    rules = one(objects, "ClusterRole", RELEASE)["rules"]
    assert not [r for r in rules if "mutatingwebhookconfigurations" in r["resources"]]
