"""`helm lint` and `helm template` of charts/pullpass, asserting the rendered objects."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from app.shell.cli import main as cli
from tests.kit.chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    Manifest,
    container,
    find,
    helm,
    one,
    render,
    render_notes,
)

# Building helm on first use can take minutes on two cores.
pytestmark = pytest.mark.timeout(1800)

DEFAULT: dict[str, Any] = {}
CERT_MANAGER: dict[str, Any] = {"certificates": {"mode": "cert-manager"}}
RANCHER: dict[str, Any] = {"rancher": True}
SERVICE_MONITOR: dict[str, Any] = {"serviceMonitor": {"enabled": True}}
LABEL_POLICY: dict[str, Any] = {"namespaceLabelPolicy": {"enabled": True}}
REPAIR: dict[str, Any] = {"repair": {"enabled": True, "after": 10, "rate": 3}}
COMBINATIONS = {
    "default": DEFAULT,
    "cert-manager": CERT_MANAGER,
    "rancher": RANCHER,
    "service-monitor": SERVICE_MONITOR,
    "label-policy": LABEL_POLICY,
    "repair": REPAIR,
}

RO = ["list", "watch"]


def _rules(obj: Manifest) -> list[dict[str, Any]]:
    return [{k: v for k, v in rule.items() if v} for rule in obj["rules"]]


def _args(objects: list[Manifest]) -> list[str]:
    args: list[str] = container(objects)["args"]
    return args


@pytest.fixture(scope="module")
def rendered(helm_path: str) -> dict[str, list[Manifest]]:
    return {name: render(values) for name, values in COMBINATIONS.items()}


def test_helm_lint_strict(helm_path: str) -> None:
    for values in COMBINATIONS.values():
        flags: list[str] = []
        for key, value in _flatten(values):
            flags += ["--set", f"{key}={str(value).lower()}"]
        done = helm("lint", "--strict", "--namespace", NAMESPACE, *flags, str(CHART))
        assert "0 chart(s) failed" in done.stdout, done.stdout


def test_schema_rejects_an_unknown_certificate_mode(helm_path: str) -> None:
    done = helm("template", RELEASE, str(CHART), "--set", "certificates.mode=vault", check=False)
    assert done.returncode != 0
    assert "certificates/mode" in done.stderr


def test_every_object_lives_in_the_release_namespace(rendered: dict[str, list[Manifest]]) -> None:
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for objects in rendered.values():
        for obj in objects:
            if obj["kind"] in cluster_scoped:
                assert "namespace" not in obj["metadata"], obj["kind"]
            else:
                assert obj["metadata"]["namespace"] == NAMESPACE, obj["kind"]


def test_default_objects(rendered: dict[str, list[Manifest]]) -> None:
    kinds = sorted(o["kind"] for o in rendered["default"])
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "MutatingWebhookConfiguration",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            # The Secret write and namespace label policies, both on by default.
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingAdmissionPolicyBinding",
        ]
    )


def test_the_chart_needs_the_kubernetes_its_policies_need(helm_path: str) -> None:
    """ValidatingAdmissionPolicy is served as v1 from Kubernetes 1.30."""
    old = helm("template", RELEASE, str(CHART), "--kube-version", "1.29.9", check=False)
    assert old.returncode != 0
    assert "requires kubeVersion: >=1.30.0-0" in old.stderr, old.stderr
    helm("template", RELEASE, str(CHART), "--kube-version", "1.30.0")


def test_webhook_configuration(rendered: dict[str, list[Manifest]]) -> None:
    for name, objects in rendered.items():
        config = one(objects, "MutatingWebhookConfiguration", RELEASE)
        [hook] = config["webhooks"]
        assert hook["clientConfig"]["service"] == {
            "name": RELEASE,
            "namespace": NAMESPACE,
            "path": "/mutate",
            "port": 443,
        }, name
        assert hook["rules"] == [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
                "scope": "Namespaced",
            },
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["UPDATE"],
                "resources": ["pods/ephemeralcontainers"],
                "scope": "Namespaced",
            },
        ]
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "pullpass.io/inject", "operator": "In", "values": ["enabled"]},
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": ["kube-system", NAMESPACE],
                },
            ]
        }
        assert hook["objectSelector"] == {
            "matchExpressions": [
                {"key": "pullpass.io/inject", "operator": "NotIn", "values": ["disabled"]}
            ]
        }
        assert hook["failurePolicy"] == "Ignore"
        assert hook["timeoutSeconds"] == 3
        assert hook["reinvocationPolicy"] == "IfNeeded"
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        # helm template has no cluster to look a live caBundle up in.
        assert "caBundle" not in hook["clientConfig"]


def test_extra_excluded_namespaces_follow_the_fixed_ones(helm_path: str) -> None:
    objects = render({"webhook": {"excludeNamespaces": ["monitoring"]}}, namespace="pp")
    [hook] = one(objects, "MutatingWebhookConfiguration")["webhooks"]
    names = hook["namespaceSelector"]["matchExpressions"][1]
    assert names["values"] == ["kube-system", "pp", "monitoring"]


def test_deployment_is_highly_available(rendered: dict[str, list[Manifest]]) -> None:
    objects = rendered["default"]
    deployment = one(objects, "Deployment", RELEASE)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod = deployment["spec"]["template"]
    anti = pod["spec"]["affinity"]["podAntiAffinity"]
    [term] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    pdb = one(objects, "PodDisruptionBudget", RELEASE)
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}
    assert one(objects, "Service", RELEASE)["spec"]["selector"] == selector
    # pullpass's own pods opt out, whatever namespace it is installed in.
    assert pod["metadata"]["labels"]["pullpass.io/inject"] == "disabled"


def test_one_replica_gets_no_budget(helm_path: str) -> None:
    # minAvailable 1 of 1 would block every node drain.
    assert find(render({"replicaCount": 1}), "PodDisruptionBudget") == []


def test_probes_and_ports(rendered: dict[str, list[Manifest]]) -> None:
    c = container(rendered["default"])
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"webhook": 8443, "metrics": 8080}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["resources"]["limits"]["memory"]
    assert c["resources"]["requests"]["cpu"]
    # A CPU quota throttles the one event loop in bursts, past the webhook's timeout.
    assert "cpu" not in c["resources"]["limits"]
    service = one(rendered["default"], "Service", RELEASE)
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"https": (443, "webhook"), "metrics": (8080, "metrics")}


def test_security_context(rendered: dict[str, list[Manifest]]) -> None:
    for objects in rendered.values():
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 65532
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is True
        sc = container(objects)["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == 65532
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        account = one(objects, "ServiceAccount", RELEASE)
        assert account["automountServiceAccountToken"] is False


def test_default_args_are_self_managed(rendered: dict[str, list[Manifest]]) -> None:
    args = _args(rendered["default"])
    assert args == [
        "serve",
        "--webhook-timeout=3",
        "--port=8443",
        "--metrics-port=8080",
        "--log-level=info",
        "--shutdown-delay=5",
        "--max-keys-per-secret=100",
        "--max-keys-total=10000",
        "--max-key-length=512",
        "--project-label=pullpass.io/project",
        f"--credentials-namespace={NAMESPACE}",
        "--replicate",
        "--detect-missing",
        f"--unserved-namespaces=kube-system,{NAMESPACE}",
        f"--lease-name={RELEASE}",
        f"--lease-namespace={NAMESPACE}",
        "--lease-duration=15",
        f"--tls-secret={RELEASE}-tls",
        f"--webhook-config={RELEASE}",
        f"--service={RELEASE}",
        "--cert-dir=/run/pullpass/certs",
        "--cert-days=365",
        "--cert-check-interval=60",
    ]
    pod = one(rendered["default"], "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30  # the drain's 5 s, then up to 25 to exit
    mounts = {m["name"]: m for m in container(rendered["default"])["volumeMounts"]}
    assert mounts["certs"]["mountPath"] == "/run/pullpass/certs"
    volumes = one(rendered["default"], "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {v["name"]: v for v in volumes}["certs"]["emptyDir"]["medium"] == "Memory"


def test_args_are_flags_pullpass_serve_accepts(rendered: dict[str, list[Manifest]]) -> None:
    # The chart and the CLI are written apart: parse what the chart passes with the real parser.
    for name, objects in rendered.items():
        parsed = cli.parse(_args(objects))
        assert parsed.command == "serve", name
        assert parsed.port == 8443
        assert parsed.metrics_port == 8080


def test_rancher_preset_passes_rancher(rendered: dict[str, list[Manifest]]) -> None:
    args = _args(rendered["rancher"])
    assert "--rancher" in args
    assert not [a for a in args if a.startswith("--project-label")]
    assert cli.parse(args).project_label == "field.cattle.io/projectId"
    assert "--rancher" not in _args(rendered["default"])


def test_scope_values_reach_the_args(helm_path: str) -> None:
    values = {
        "projectLabel": "example.com/team",
        "credentialsNamespace": "registry-creds",
        "logLevel": "debug",
    }
    parsed = cli.parse(_args(render(values)))
    assert parsed.project_label == "example.com/team"
    assert parsed.credentials_namespace == "registry-creds"
    assert parsed.log_level == "debug"


def test_extra_hosts_reach_the_self_managed_certificate(helm_path: str) -> None:
    hosts = ["pullpass.example.internal", "10.0.0.7"]
    args = _args(render({"certificates": {"selfManaged": {"extraHosts": hosts}}}))
    assert cli.parse(args).cert_host == hosts
    assert not [a for a in _args(render()) if a.startswith("--cert-host")]


def test_image_by_tag_or_digest(helm_path: str) -> None:
    assert container(render())["image"] == "pullpass:0.1.0"
    assert container(render({"image": {"repository": "r/p", "tag": "1.2.3"}}))["image"] == (
        "r/p:1.2.3"
    )
    digest = "sha256:" + "a" * 64
    assert container(render({"image": {"digest": digest}}))["image"] == f"pullpass@{digest}"


def test_cluster_role_is_exactly_what_pullpass_needs(rendered: dict[str, list[Manifest]]) -> None:
    role = one(rendered["default"], "ClusterRole", RELEASE)
    assert _rules(role) == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": RO},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", *RO]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": RO},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "update", "delete"]},
        # detectMissing: the pending pods watch that finds pods admitted without credentials.
        {"apiGroups": [""], "resources": ["pods"], "verbs": RO},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations"],
            "resourceNames": [RELEASE],
            "verbs": ["get", "patch"],
        },
    ]
    binding = one(rendered["default"], "ClusterRoleBinding", RELEASE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": RELEASE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    ]


def test_namespaced_role_covers_lease_and_tls_secret(rendered: dict[str, list[Manifest]]) -> None:
    role = one(rendered["default"], "Role", RELEASE)
    assert role["metadata"]["namespace"] == NAMESPACE
    assert _rules(role) == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [RELEASE],
            "verbs": ["get", "update"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [f"{RELEASE}-tls"],
            "verbs": ["get", "update"],
        },
    ]
    binding = one(rendered["default"], "RoleBinding", RELEASE)
    assert binding["roleRef"]["kind"] == "Role"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    ]


def test_no_rule_grants_wildcards_or_escalation(rendered: dict[str, list[Manifest]]) -> None:
    for objects in rendered.values():
        for role in find(objects, "ClusterRole") + find(objects, "Role"):
            for rule in role["rules"]:
                for key in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[key], rule
                assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_cert_manager_mode(rendered: dict[str, list[Manifest]]) -> None:
    objects = rendered["cert-manager"]
    config = one(objects, "MutatingWebhookConfiguration", RELEASE)
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NAMESPACE}/{RELEASE}"
    }
    certificate = one(objects, "Certificate", RELEASE)
    assert certificate["spec"]["secretName"] == f"{RELEASE}-tls"
    assert certificate["spec"]["issuerRef"]["name"] == f"{RELEASE}-ca"
    assert f"{RELEASE}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    ca = one(objects, "Certificate", f"{RELEASE}-ca")
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"]["name"] == f"{RELEASE}-selfsigned"
    assert one(objects, "Issuer", f"{RELEASE}-selfsigned")["spec"] == {"selfSigned": {}}
    assert one(objects, "Issuer", f"{RELEASE}-ca")["spec"] == {
        "ca": {"secretName": f"{RELEASE}-ca"}
    }

    args = _args(objects)
    assert "--cert-file=/run/pullpass/tls/tls.crt" in args
    assert "--key-file=/run/pullpass/tls/tls.key" in args
    assert not [a for a in args if a.split("=")[0] in ("--tls-secret", "--webhook-config")]
    mount = {m["name"]: m for m in container(objects)["volumeMounts"]}["tls"]
    assert mount == {"name": "tls", "mountPath": "/run/pullpass/tls", "readOnly": True}

    # cert-manager's cainjector writes caBundle: pullpass gets no webhook or TLS Secret rights.
    cluster_rules = one(objects, "ClusterRole", RELEASE)["rules"]
    assert "mutatingwebhookconfigurations" not in str(cluster_rules)
    role = one(objects, "Role", RELEASE)
    assert [r["resources"] for r in role["rules"]] == [["leases"], ["leases"]]
    # And the default mode renders no cert-manager objects.
    assert find(rendered["default"], "Certificate") == []
    assert find(rendered["default"], "Issuer") == []


def test_without_replication_no_secret_writes_or_lease(helm_path: str) -> None:
    objects = render({"replication": {"enabled": False}, "detectMissing": {"enabled": False}})
    assert "--no-replicate" in _args(objects)
    for rule in one(objects, "ClusterRole")["rules"]:
        if rule["resources"] == ["secrets"]:
            assert rule["verbs"] == ["get", "list", "watch"]
    role = one(objects, "Role")
    assert [r["resources"] for r in role["rules"]] == [["secrets"], ["secrets"]]
    objects = render(
        {
            "replication": {"enabled": False},
            "detectMissing": {"enabled": False},
            "certificates": {"mode": "cert-manager"},
        }
    )
    assert find(objects, "Role") == []
    assert find(objects, "RoleBinding") == []


POD_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", *RO]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
]


DETECT_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": RO}]


def _pod_rules(objects: list[Manifest]) -> list[dict[str, Any]]:
    return [r for r in _rules(one(objects, "ClusterRole")) if r["resources"][0].startswith("pods")]


def test_repair_is_off_by_default_and_then_grants_no_get_or_eviction(
    rendered: dict[str, list[Manifest]],
) -> None:
    for name, objects in rendered.items():
        if name == "repair":
            continue
        # Only the detection of pods admitted without credentials reads pods, and only so.
        assert _pod_rules(objects) == DETECT_RULES, name
        assert not [a for a in _args(objects) if a.startswith("--repair")], name
        assert cli.parse(_args(objects)).repair is False
    objects = render({"detectMissing": {"enabled": False}})
    assert _pod_rules(objects) == []
    assert not [a for a in _args(objects) if "missing" in a or "unserved" in a]
    excluded = render({"webhook": {"excludeNamespaces": ["tenant-x"]}})
    parsed = cli.parse(_args(excluded))
    assert parsed.detect_missing is True
    assert parsed.unserved_namespaces == ["kube-system", NAMESPACE, "tenant-x"]


def test_repair_grants_pods_and_evictions_and_passes_its_flags(
    rendered: dict[str, list[Manifest]],
) -> None:
    objects = rendered["repair"]
    rules = _rules(one(objects, "ClusterRole", RELEASE))
    assert [r for r in rules if r["resources"][0].startswith("pods")] == POD_RULES
    assert [r for r in rules if r not in POD_RULES] == [
        r for r in _rules(one(rendered["default"], "ClusterRole", RELEASE)) if r not in DETECT_RULES
    ]
    parsed = cli.parse(_args(objects))
    assert (parsed.repair, parsed.repair_after, parsed.repair_rate) == (True, 10, 3)
    assert (parsed.lease_name, parsed.replicate) == (RELEASE, True)
    defaults = cli.parse(_args(render({"repair": {"enabled": True}})))
    assert (defaults.repair_after, defaults.repair_rate) == (60, 10)


def test_repair_without_replication_still_elects_a_leader(helm_path: str) -> None:
    objects = render({"replication": {"enabled": False}, "repair": {"enabled": True}})
    parsed = cli.parse(_args(objects))
    assert (parsed.replicate, parsed.repair, parsed.lease_name) == (False, True, RELEASE)
    cluster_rules = _rules(one(objects, "ClusterRole"))
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", *RO]} in cluster_rules
    assert not [
        r for r in cluster_rules if "create" in r["verbs"] and r["resources"] == ["secrets"]
    ]
    assert [r["resources"] for r in one(objects, "Role")["rules"]] == [
        ["leases"],
        ["leases"],
        ["secrets"],
        ["secrets"],
    ]


def test_key_caps_reach_the_args_within_the_schema_bounds(helm_path: str) -> None:
    values = {"keyCaps": {"perSecret": 20, "total": 500, "keyLength": 100}}
    parsed = cli.parse(_args(render(values)))
    assert (parsed.max_keys_per_secret, parsed.max_keys_total, parsed.max_key_length) == (
        20,
        500,
        100,
    )
    bounds = ("keyCaps.perSecret=0", "keyCaps.total=0", "keyCaps.perSecret=10001")
    for bad in (*bounds, "keyCaps.keyLength=15", "keyCaps.keyLength=4097"):
        done = helm("template", RELEASE, str(CHART), "--set", bad, check=False)
        assert done.returncode != 0, bad
        assert "keyCaps" in done.stderr, done.stderr


def test_schema_bounds_the_repair_values(helm_path: str) -> None:
    for bad in ("repair.rate=0", "repair.after=0", "repair.after=3601"):
        done = helm("template", RELEASE, str(CHART), "--set", bad, check=False)
        assert done.returncode != 0, bad
        assert "repair" in done.stderr, done.stderr


def _policy(objects: list[Manifest], name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The policy's spec and its variables by name, after checking that its binding denies."""
    policy = one(objects, "ValidatingAdmissionPolicy", name)
    binding = one(objects, "ValidatingAdmissionPolicyBinding", name)
    assert binding["spec"] == {"policyName": name, "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    return policy["spec"], {v["name"]: v["expression"] for v in policy["spec"]["variables"]}


def test_secret_write_policy_binds_pullpass_to_its_own_secrets(
    rendered: dict[str, list[Manifest]],
) -> None:
    name = f"{RELEASE}-secret-writes"
    spec, variables = _policy(rendered["default"], name)
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["secrets"]
    assert rule["operations"] == ["CREATE", "UPDATE", "DELETE"]
    [condition] = spec["matchConditions"]
    username = f"system:serviceaccount:{NAMESPACE}:{RELEASE}"
    assert condition["expression"] == f'request.userInfo.username == "{username}"'
    for side in ("copyBefore", "copyAfter"):
        assert "'pullpass.io/managed-by'].orValue('') == 'pullpass'" in variables[side]
    assert f'request.name == "{RELEASE}-tls"' in variables["tlsSecret"]
    assert "object.type == 'kubernetes.io/tls'" in variables["tlsSecret"]
    assert f'request.namespace != "{NAMESPACE}"' in variables["copyPlace"]
    assert "[?'pullpass.io/inject'].orValue('') == 'enabled'" in variables["copyPlace"]
    assert "['pullpass.io/scope', 'pullpass.io/project']" in variables["copyUnscoped"]
    assert len(spec["validations"]) == 3
    # Copies go only where the replicator puts them, so the credentials namespace is named.
    creds = render({"credentialsNamespace": "creds"})
    assert 'request.namespace != "creds"' in _policy(creds, name)[1]["copyPlace"]
    # With cert-manager pullpass writes no TLS Secret, so the policy names none.
    assert _policy(rendered["cert-manager"], name)[1]["tlsSecret"] == "false"
    objects = render({"secretWritePolicy": {"enabled": False}})
    assert find(objects, "ValidatingAdmissionPolicy", name) == []


def test_namespace_label_policy_guards_the_scope_labels(
    rendered: dict[str, list[Manifest]], helm_path: str
) -> None:
    name = f"{RELEASE}-namespace-labels"
    off = render({"namespaceLabelPolicy": {"enabled": False}})
    assert find(off, "ValidatingAdmissionPolicy", name) == []
    spec, variables = _policy(rendered["default"], name)
    assert spec == _policy(rendered["label-policy"], name)[0]
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["CREATE", "UPDATE"]
    assert rule["resources"] == ["namespaces", "namespaces/status", "namespaces/finalize"]
    assert variables["guarded"] == '["pullpass.io/project","pullpass.io/inject"]'
    [condition] = spec["matchConditions"]
    assert condition["expression"].endswith('["system:masters"])')
    values = {
        "rancher": True,
        "namespaceLabelPolicy": {"enabled": True, "allowedGroups": ["a", "b"]},
    }
    spec, variables = _policy(render(values), name)
    # Under the preset the project comes from Rancher's guarded annotation: its label grants
    # nothing, and Rancher's agent keeps writing it.
    assert variables["guarded"] == '["pullpass.io/inject"]'
    assert spec["matchConditions"][0]["expression"].endswith('["a","b"])')
    # A refusal names the chart value that lets another group in.
    [validation] = spec["validations"]
    assert "namespaceLabelPolicy.allowedGroups" in validation["messageExpression"]
    assert f"(release {RELEASE} in namespace {NAMESPACE})" in validation["messageExpression"]


def test_install_notes_say_how_to_keep_labelling_and_what_uninstall_leaves(
    helm_path: str,
) -> None:
    notes = render_notes()
    # The installing admin may not be in system:masters: the notes say how to add their group.
    assert "kubectl auth whoami" in notes
    assert "--set-json 'namespaceLabelPolicy.allowedGroups=" in notes
    assert '["system:masters","YOUR-GROUP"]' in notes
    assert f"kubectl -n {NAMESPACE} delete lease {RELEASE}" in notes
    assert f"kubectl -n {NAMESPACE} delete secret {RELEASE}-tls" in notes
    # No policy, no paragraph about it; no leader, no Lease.
    quiet = render_notes(
        {
            "namespaceLabelPolicy": {"enabled": False},
            "replication": {"enabled": False},
            "detectMissing": {"enabled": False},
            "certificates": {"mode": "cert-manager"},
        }
    )
    assert "allowedGroups" not in quiet
    assert "lease" not in quiet.lower()
    assert "delete secret" not in quiet


def test_service_monitor(rendered: dict[str, list[Manifest]]) -> None:
    assert find(rendered["default"], "ServiceMonitor") == []
    monitor = one(rendered["service-monitor"], "ServiceMonitor", RELEASE)
    service = one(rendered["service-monitor"], "Service", RELEASE)
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_network_policy_opens_only_the_served_ports(rendered: dict[str, list[Manifest]]) -> None:
    policy = one(rendered["default"], "NetworkPolicy", RELEASE)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [
        {"port": "webhook", "protocol": "TCP"},
        {"port": "metrics", "protocol": "TCP"},
    ]


def test_api_server_sources_restrict_only_the_webhook_port(helm_path: str) -> None:
    """CIDRs become ipBlocks, peers pass through; the metrics port stays open to probes."""
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
    values = {"networkPolicy": {"apiServerSources": ["10.0.0.10/32", "fd00::1/128", peer]}}
    policy = one(render(values), "NetworkPolicy", RELEASE)
    webhook, metrics = policy["spec"]["ingress"]
    assert webhook == {
        "from": [{"ipBlock": {"cidr": "10.0.0.10/32"}}, {"ipBlock": {"cidr": "fd00::1/128"}}, peer],
        "ports": [{"port": "webhook", "protocol": "TCP"}],
    }
    assert metrics == {"ports": [{"port": "metrics", "protocol": "TCP"}]}


def test_schema_rejects_an_api_server_source_that_is_not_a_cidr(helm_path: str) -> None:
    done = helm(
        "template",
        RELEASE,
        str(CHART),
        "--set",
        "networkPolicy.apiServerSources[0]=kubernetes",
        check=False,
    )
    assert done.returncode != 0
    assert "apiServerSources" in done.stderr


def test_every_value_is_in_the_readme_table() -> None:
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)`", readme, re.MULTILINE))
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [
        key
        for key, _ in _flatten(values)
        if not any(key == d or key.startswith(f"{d}.") for d in documented)
    ]
    assert not missing, f"values without a row in the chart README: {missing}"


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out
