"""`admission.mode=policy`: the chart renders policy mode's objects instead of the webhook's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.policy.manifests import manifests
from tests.kit.chart import CHART, NAMESPACE, RELEASE, Manifest, container, find, one, render

pytestmark = pytest.mark.timeout(1800)

POLICY: dict[str, Any] = {"admission": {"mode": "policy"}}
POLICY_KINDS = [
    "CustomResourceDefinition",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
]


def policy_objects(objects: list[Manifest]) -> list[Manifest]:
    """The policy-mode objects without the chart's labels, in the order rendered."""
    out = []
    for obj in objects:
        # The chart's guards: the Secret write and namespace label policies serve both modes,
        # the parameter write policy is policy mode's own (test_parameter_write_guard).
        guard = obj["metadata"]["name"].endswith(
            ("-secret-writes", "-namespace-labels", "-rules-writes")
        )
        if obj["kind"] in POLICY_KINDS and not guard:
            meta = {k: v for k, v in obj["metadata"].items() if k != "labels"}
            out.append({**obj, "metadata": meta})
    return sorted(out, key=lambda o: (o["kind"], o["metadata"]["name"]))


def expected(
    namespace: str, label: str, excluded: list[str], warnings: bool = True
) -> list[Manifest]:
    """`manifests`, the bindings also leaving out what the chart's webhook leaves out."""
    rancher = label == "field.cattle.io/projectId"
    out = json.loads(json.dumps(manifests(namespace, label, warnings, rancher)))
    for obj in out:
        if obj["kind"].endswith("Binding"):
            obj["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"].append(
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}
            )
    return sorted(out, key=lambda o: (o["kind"], o["metadata"]["name"]))


@pytest.mark.parametrize(
    ("values", "namespace", "label"),
    [
        (POLICY, NAMESPACE, "pullpass.io/project"),
        ({**POLICY, "rancher": True}, NAMESPACE, "field.cattle.io/projectId"),
        (
            {
                **POLICY,
                "credentialsNamespace": "creds",
                "projectLabel": "team",
                "webhook": {"excludeNamespaces": ["tenant-a"]},
            },
            "creds",
            "team",
        ),
    ],
)
def test_policy_objects_are_what_pullpass_prints(
    helm_path: str, values: dict[str, Any], namespace: str, label: str
) -> None:
    """A stale files/policy-mode.json fails here; the template says how to regenerate it."""
    objects = render(values)
    excluded = ["kube-system", NAMESPACE, *values.get("webhook", {}).get("excludeNamespaces", [])]
    assert policy_objects(objects) == expected(namespace, label, excluded)
    for obj in objects:
        if obj["kind"] in POLICY_KINDS:
            assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_policy_warnings_false_is_what_no_warnings_prints(helm_path: str) -> None:
    objects = render({"admission": {"mode": "policy", "policyWarnings": False}})
    excluded = ["kube-system", NAMESPACE]
    lean = expected(NAMESPACE, "pullpass.io/project", excluded, warnings=False)
    assert policy_objects(objects) == lean
    assert all(o["kind"] != "ValidatingAdmissionPolicy" for o in lean)


def test_policy_mode_has_no_webhook_and_no_certificate(helm_path: str) -> None:
    for certificates in ("self-managed", "cert-manager"):
        objects = render({**POLICY, "certificates": {"mode": certificates}})
        for kind in ("MutatingWebhookConfiguration", "Certificate", "Issuer"):
            assert find(objects, kind) == [], (certificates, kind)
        pullpass = container(objects)
        assert "--admission=policy" in pullpass["args"]
        assert not [a for a in pullpass["args"] if a.startswith(("--cert", "--key", "--tls"))]
        assert [m["name"] for m in pullpass["volumeMounts"]] == ["tmp"]
        role = one(objects, "Role")
        assert all(rule["resources"] == ["leases"] for rule in role["rules"])


def test_policy_mode_rbac_writes_only_parameters(helm_path: str) -> None:
    objects = render({**POLICY, "replication": {"enabled": False}})
    rules = one(objects, "ClusterRole")["rules"]
    assert {
        "apiGroups": ["pullpass.io"],
        "resources": ["pullpassrules"],
        "verbs": ["list", "create", "update", "delete"],
    } in rules
    for rule in rules:
        if rule["resources"] == ["secrets"]:
            assert rule["verbs"] == ["get", "list", "watch"]
    # The leader still needs its Lease without replication: it writes the parameters.
    args = container(objects)["args"]
    assert f"--lease-name={RELEASE}" in args
    assert "--no-replicate" in args
    assert [r["resources"] for r in one(objects, "Role")["rules"]] == [["leases"], ["leases"]]


def test_webhook_mode_renders_no_policy_object(helm_path: str) -> None:
    objects = render({})
    assert policy_objects(objects) == []
    assert not [a for a in container(objects)["args"] if a.startswith("--admission")]
    one(objects, "MutatingWebhookConfiguration")
    assert (CHART / "files" / "policy-mode.json").is_file()


def test_parameter_write_guard(helm_path: str) -> None:
    """Whoever writes a PullpassRules object decides what pods get: only pullpass may."""
    name = f"{RELEASE}-rules-writes"
    policy = one(render(POLICY), "ValidatingAdmissionPolicy", name)
    binding = one(render(POLICY), "ValidatingAdmissionPolicyBinding", name)
    assert binding["spec"] == {"policyName": name, "validationActions": ["Deny"]}
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"]) == (["pullpass.io"], ["pullpassrules"])
    assert rule["operations"] == ["CREATE", "UPDATE", "DELETE"]
    [condition] = spec["matchConditions"]
    username = f"system:serviceaccount:{NAMESPACE}:{RELEASE}"
    assert condition["expression"] == f'request.userInfo.username != "{username}"'
    assert find(render({}), "ValidatingAdmissionPolicy", name) == []
