"""Policy mode's warnings (ValidatingAdmissionPolicies, `Warn`) against the webhook's.

An image whose registry has a credential somewhere in the cluster but none in scope gets the
webhook's text, once per registry, in image order. The API server puts its own prefix before a
policy's message ("Validation failed for ValidatingAdmissionPolicy '...' with binding '...': "),
so the comparison reads from `pullpass: ` on.
"""

import json

import pytest

from app.core.policy.manifests import SHARED_OBJECT
from app.shell.cluster.index import Index
from tests.e2e.policy.fixtures import (
    CREDENTIALS_NAMESPACE,
    Object,
    PolicyCluster,
    as_list,
    namespace,
    secret,
)
from tests.e2e.policy.test_matching_tables import keyring_cases
from tests.kit.eventually import eventually
from tests.kit.objects import pod


def policy_warnings(cluster: PolicyCluster, manifest: Object) -> list[str]:
    done = cluster.kubectl(
        "create", "--dry-run=server", "-o", "name", "-f", "-", input=as_list([manifest])
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("Warning:")]
    return [line[line.index("pullpass: ") :] for line in lines if "pullpass: " in line]


def webhook_warnings(cluster: PolicyCluster, manifest: Object, index: Index) -> list[str]:
    return cluster.webhook_report(manifest, index)["warnings"]


def test_keyring_cases_warn_as_the_webhook(policy_mode: PolicyCluster) -> None:
    """Each keyring namespace holds its own keys; every other namespace's keys are elsewhere."""
    cases = keyring_cases()
    objects: list[Object] = []
    for i, (keys, _) in enumerate(cases):
        ns = f"pm-warn-{i:03d}"
        objects += [namespace(ns), *(secret(ns, f"k{j}", key) for j, key in enumerate(keys))]
    policy_mode.write(objects)
    index = policy_mode.index()
    warned = 0
    for i, (_, image) in enumerate(cases):
        others = [other for _, other in cases[i + 1 : i + 4]]
        manifest = pod(f"pm-warn-{i:03d}", image, *others, name="p")
        want = webhook_warnings(policy_mode, manifest, index)
        assert policy_warnings(policy_mode, manifest) == want, manifest["spec"]
        warned += bool(want)
    print(f"warnings: {len(cases)} pods agree, {warned} warned")
    assert warned > len(cases) // 2


def test_shared_rules_warn_and_truncate(policy_mode: PolicyCluster) -> None:
    long_registry = "r" * 60 + ".registry.example"
    policy_mode.write(
        [
            namespace("pm-warn-elsewhere", enabled=False),
            secret("pm-warn-elsewhere", "hub", "https://index.docker.io/v1/", long_registry),
            namespace("pm-warn-shared"),
            secret(
                CREDENTIALS_NAMESPACE,
                "everyone",
                "quay.io",
                labels={"pullpass.io/scope": "cluster"},
            ),
        ]
    )
    index = policy_mode.index()
    manifest = pod(
        "pm-warn-shared", "quay.io/a:1", "nginx", f"{long_registry}/x", "nginx:2", name="p"
    )
    want = webhook_warnings(policy_mode, manifest, index)
    assert len(want) == 2
    assert policy_warnings(policy_mode, manifest) == want
    opted_out = {
        **manifest,
        "metadata": {**manifest["metadata"], "labels": {"pullpass.io/inject": "disabled"}},
    }
    assert policy_warnings(policy_mode, opted_out) == []
    # The same opt-out keeps the mutating policies away, as the webhook's object selector does.
    assert policy_mode.secrets_of(manifest) == ["everyone"]
    assert policy_mode.secrets_of(opted_out) == []
    # The webhook is not called there (explain's report only says the namespace is not enabled).
    disabled = pod("pm-warn-elsewhere", "ghcr.io/x:1", "nginx", name="p")
    assert policy_warnings(policy_mode, disabled) == []
    assert policy_mode.secrets_of(disabled) == []  # its own hub credential is not injected


def test_a_quiet_namespace_skips_the_warnings_policy(policy_mode: PolicyCluster) -> None:
    """The API server evaluates the warnings policy's condition on the shared object: a namespace
    listed `quiet` gets no warnings however its pods look. The writer lists only namespaces
    with every key of the cluster in scope (unit tests), so none of this one's would be lost;
    here it is listed by hand to show the skip, then the writer's pass takes it back."""
    policy_mode.write([namespace("pm-quiet"), secret("pm-quiet", "own", "quay.io")])
    manifest = pod("pm-quiet", "quay.io/a:1", "sentinel.registry.example/x:1", name="p")
    want = webhook_warnings(policy_mode, manifest, policy_mode.index())
    assert len(want) == 1
    assert policy_warnings(policy_mode, manifest) == want
    names = policy_mode.secrets_of(manifest)
    assert "own" in names
    shared = ["-n", CREDENTIALS_NAMESPACE, "pullpassrules", SHARED_OBJECT]
    stored = policy_mode.kubectl.json("get", *shared)
    assert "pm-quiet" not in stored["spec"]["quiet"]
    patch = json.dumps({"spec": {"quiet": {**stored["spec"]["quiet"], "pm-quiet": True}}})
    policy_mode.kubectl("patch", *shared, "--type=merge", "-p", patch)
    eventually(lambda: policy_warnings(policy_mode, manifest) == [], 30, "the warnings skipped")
    assert policy_mode.secrets_of(manifest) == names
    policy_mode.write_parameters()
    eventually(lambda: policy_warnings(policy_mode, manifest) == want, 30, "the warnings back")


def skipped_by_condition(cluster: PolicyCluster) -> int:
    """How many times the API server's match condition has skipped the warnings policy: it
    times a condition only when one is false (or fails), and none fails here."""
    metrics = cluster.kubectl("get", "--raw", "/metrics").stdout
    series = "apiserver_admission_match_condition_evaluation_seconds_count{"
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith(series) and 'name="pullpass-warnings"' in line
    )


@pytest.mark.parametrize("scope", ["own", "project"])
def test_the_warnings_policy_stops_at_its_condition_when_nothing_warns(
    policy_mode: PolicyCluster, scope: str
) -> None:
    """The condition reads the scope from the shared object (a covered namespace's keys, or the
    project `projectOf` lists and the cluster's), so a pod whose every image is served in scope
    (or served nowhere) stops there, and one with an image served only elsewhere gets its
    warning as from the webhook."""
    ns = f"pm-skip-{scope}"
    if scope == "own":
        objects = [namespace(ns), secret(ns, "own", "quay.io")]
    else:
        team = {"pullpass.io/project": "skip-team"}
        objects = [
            namespace(ns, labels=team),
            secret(CREDENTIALS_NAMESPACE, "skip-team-quay", "quay.io", labels=team),
        ]
    policy_mode.write(objects)
    index = policy_mode.index()
    served = pod(ns, "quay.io/a:1", "unknown.example/b:2", name="p")
    warned = pod(ns, "quay.io/a:1", "sentinel.registry.example/x:1", name="p")
    assert webhook_warnings(policy_mode, served, index) == []
    want = webhook_warnings(policy_mode, warned, index)
    assert len(want) == 1
    eventually(lambda: policy_warnings(policy_mode, warned) == want, 30, "the warning")
    before = skipped_by_condition(policy_mode)
    assert policy_warnings(policy_mode, served) == []
    assert skipped_by_condition(policy_mode) == before + 1
    assert policy_warnings(policy_mode, warned) == want
    assert skipped_by_condition(policy_mode) == before + 1


def test_a_namespace_past_project_of_is_evaluated_in_full(policy_mode: PolicyCluster) -> None:
    """A namespace `projectOf` does not list (brand new, or past its bound) holds the condition:
    its pods are evaluated as before and get the webhook's warnings; the writer's next pass
    lists it again."""
    ns, team = "pm-unlisted", {"pullpass.io/project": "unlisted-team"}
    policy_mode.write(
        [
            namespace(ns, labels=team),
            secret(CREDENTIALS_NAMESPACE, "unlisted-team-quay", "quay.io", labels=team),
        ]
    )
    served = pod(ns, "quay.io/a:1", name="p")
    warned = pod(ns, "quay.io/a:1", "sentinel.registry.example/x:1", name="p")
    want = webhook_warnings(policy_mode, warned, policy_mode.index())
    assert len(want) == 1
    shared = ["-n", CREDENTIALS_NAMESPACE, "pullpassrules", SHARED_OBJECT]
    assert ns in policy_mode.kubectl.json("get", *shared)["spec"]["projectOf"]
    patch = json.dumps({"spec": {"projectOf": {ns: None}}})
    policy_mode.kubectl("patch", *shared, "--type=merge", "-p", patch)
    eventually(
        lambda: ns not in policy_mode.kubectl.json("get", *shared)["spec"]["projectOf"],
        30,
        "the entry removed",
    )
    eventually(lambda: policy_warnings(policy_mode, warned) == want, 30, "the warning")
    before = skipped_by_condition(policy_mode)
    assert policy_warnings(policy_mode, served) == []
    assert skipped_by_condition(policy_mode) == before, "evaluated in full, not skipped"
    policy_mode.write_parameters()
    assert ns in policy_mode.kubectl.json("get", *shared)["spec"]["projectOf"]
    eventually(
        lambda: (
            policy_warnings(policy_mode, served) == []
            and skipped_by_condition(policy_mode) > before
        ),
        30,
        "skipped again",
    )


@pytest.mark.parametrize("scope", ["own", "project", "cluster"])
def test_the_condition_rules_out_pods_by_their_scope_gaps(
    policy_mode: PolicyCluster, scope: str
) -> None:
    """A scope's `gaps` decide before any image is parsed: a pod none of whose images starts
    with one is skipped. Listed here by hand without the sentinel's registry, they skip even a
    pod the webhook warns about, which shows the API server reads them (the writer lists only
    prefixes no warning can escape: unit tests); a pod with an image that starts with one is
    evaluated in full and gets the webhook's warning. The writer's pass takes them back."""
    ns, team = f"pm-gaps-{scope}", {"pullpass.io/project": "gaps-team"}
    field, entry = {
        "own": ("gaps", ns),
        "project": ("projectGaps", "gaps-team"),
        "cluster": ("clusterGaps", None),
    }[scope]
    objects = {
        "own": [namespace(ns), secret(ns, "own", "quay.io")],
        "project": [
            namespace(ns, labels=team),
            secret(CREDENTIALS_NAMESPACE, "gaps-team-quay", "quay.io", labels=team),
        ],
        "cluster": [namespace(ns)],
    }[scope]
    policy_mode.write(objects)
    shared = ["-n", CREDENTIALS_NAMESPACE, "pullpassrules", SHARED_OBJECT]
    stored = policy_mode.kubectl.json("get", *shared)["spec"]
    if scope == "own":
        assert ns in stored["scopes"]
    else:
        assert stored["projectOf"][ns] == ("gaps-team" if scope == "project" else "")
    warned_image = "sentinel.registry.example/x:1"
    warned = pod(ns, warned_image, name="p")
    both = pod(ns, "gaps.nowhere.example/b:1", warned_image, name="p")
    index = policy_mode.index()
    want, want_both = (webhook_warnings(policy_mode, m, index) for m in (warned, both))
    assert len(want) == 1
    assert want_both == want
    eventually(lambda: policy_warnings(policy_mode, warned) == want, 30, "the warning")
    prefixes = ["gaps.nowhere.example"]
    value = prefixes if entry is None else {**stored.get(field, {}), entry: prefixes}
    patch = json.dumps({"spec": {field: value}})
    policy_mode.kubectl("patch", *shared, "--type=merge", "-p", patch)
    eventually(lambda: policy_warnings(policy_mode, warned) == [], 30, "the pod ruled out")
    before = skipped_by_condition(policy_mode)
    assert policy_warnings(policy_mode, warned) == []
    assert skipped_by_condition(policy_mode) == before + 1
    assert policy_warnings(policy_mode, both) == want
    assert skipped_by_condition(policy_mode) == before + 1, "evaluated in full"
    policy_mode.write_parameters()
    eventually(lambda: policy_warnings(policy_mode, warned) == want, 30, "the warning back")
