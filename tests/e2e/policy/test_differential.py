"""Differential: hypothesis's pods and credential sets, in webhook mode and in policy mode.

Each example lays the same credentials into two namespaces of the same project, one served by
`pullpass serve` as a registered webhook (label `pm-mode=webhook`; the policies' bindings are
narrowed to leave it out while this module runs), one by the MutatingAdmissionPolicies, and
creates the same pod in both with `kubectl create --dry-run=server` (dryRun=All). Their
`imagePullSecrets` must be identical, and equal to the webhook's decision over the cluster as it
is (so a lagging index or informer is waited for, never taken for an answer).
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.core.policy.manifests import manifests
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass, webhook_configuration
from tests.e2e.policy.fixtures import (
    CREDENTIALS_NAMESPACE,
    Object,
    PolicyCluster,
    as_list,
    key,
    namespace,
    secret,
)
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets
from tests.kit.objects import pod

MODE_LABEL = "pm-mode"
WEBHOOK_NAME = "pullpass-differential"
EXAMPLES = 25

KEYS = [
    "quay.io",
    "https://quay.io/v1/",
    "ghcr.io",
    "ghcr.io/team-a",
    "*.corp.example",
    "eu.corp.example:5000",
    "*.example.com:5000",
    "https://index.docker.io/v1/",
    "docker.io/library",
    "localhost:5000",
    "example.com/team-a/app",
]
DOMAINS = ["", "docker.io/", "quay.io/", "ghcr.io/", "eu.corp.example/", "eu.corp.example:5000/"]
DOMAINS += ["registry.example.com:5000/", "localhost:5000/", "example.com/", "Upper.example/"]
PATHS = ["app", "team-a/app", "library/nginx", "team-a/app/sub", "Bad/app"]
TAGS = ["", ":1", "@sha256:" + "a" * 64]

images = st.builds(lambda d, p, t: d + p + t, *(st.sampled_from(x) for x in (DOMAINS, PATHS, TAGS)))


def credentials(names: list[str]) -> st.SearchStrategy[list[tuple[str, set[str]]]]:
    """Up to three credentials with distinct names from `names`, one to three keys each."""
    keys = st.sets(st.sampled_from(KEYS), min_size=1, max_size=3)
    return st.lists(st.tuples(st.sampled_from(names), keys), max_size=3, unique_by=lambda c: c[0])


# Some names are shared between scopes, so a source can meet a namespace Secret of its name.
OWN = st.one_of(st.just([]), credentials(["a", "b", "c", "c1"]))  # often none: shared rules
PROJECT = credentials(["a", "p1"])
CLUSTER = credentials(["c1", "c2"])


@pytest.fixture(scope="module")
def both_modes(
    policy_mode: PolicyCluster,
    kubectl: Kubectl,
    kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PolicyCluster]:
    """A webhook for `pm-mode=webhook` namespaces; the policies' bindings leave them out."""
    bindings = [
        o
        for o in manifests(CREDENTIALS_NAMESPACE, "pullpass.io/project")
        if o["kind"].endswith("Binding")
    ]
    narrowed = json.loads(json.dumps(bindings))
    for binding in narrowed:
        selector = binding["spec"]["matchResources"]["namespaceSelector"]
        selector["matchExpressions"].append(
            {"key": MODE_LABEL, "operator": "NotIn", "values": ["webhook"]}
        )
    kubectl("apply", "-f", "-", input=as_list(narrowed))
    server = Pullpass(
        kubeconfig,
        tmp_path_factory.mktemp("pullpass-webhook"),
        credentials_namespace=CREDENTIALS_NAMESPACE,
        extra_args=("--no-replicate",),
        name="pullpass-webhook",
    )
    server.start()
    config = webhook_configuration(WEBHOOK_NAME, server.url, server.ca_pem)
    config["webhooks"][0]["namespaceSelector"]["matchLabels"][MODE_LABEL] = "webhook"
    try:
        kubectl.apply(config)
        yield policy_mode
    finally:
        kubectl("delete", "mutatingwebhookconfiguration", WEBHOOK_NAME, check=False)
        server.stop()
        kubectl("replace", "-f", "-", input=as_list(bindings))


def lay_out(
    suffix: str,
    project: bool,
    own: list[tuple[str, set[str]]],
    shared: list[tuple[str, set[str]]],
    cluster: list[tuple[str, set[str]]],
) -> tuple[list[Object], list[str]]:
    """The example's objects, and the namespaces of its two modes; its sources in the
    credentials namespace carry `pm-example`, to be deleted after it."""
    labels = {"pullpass.io/project": f"proj-{suffix}"} if project else {}
    spaces = [f"pm-diff-{suffix}-w", f"pm-diff-{suffix}-p"]
    objects: list[Object] = []
    for ns, mode in zip(spaces, ("webhook", "policy"), strict=True):
        objects.append(namespace(ns, labels={**labels, MODE_LABEL: mode}))
        objects += [secret(ns, name, *sorted(keys)) for name, keys in own]
    home, mine = CREDENTIALS_NAMESPACE, {"pm-example": suffix}
    in_project = {"pullpass.io/project": f"proj-{suffix}", **mine}
    objects += [secret(home, n, *sorted(k), labels=in_project) for n, k in shared]
    everyone = {"pullpass.io/scope": "cluster", **mine}
    objects += [secret(home, n, *sorted(k), labels=everyone) for n, k in cluster]
    return objects, spaces


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Always tried: project before cluster through the shared rules alone, and a name conflict.
@example(
    project=True,
    own=[],
    shared=[("p1", {"quay.io"})],
    cluster=[("c1", {"quay.io"})],
    containers=["quay.io/team-a/app:1"],
    init=[],
    listed=[],
)
@example(
    project=True,
    own=[("a", {"ghcr.io"})],
    shared=[("a", {"quay.io"}), ("p1", {"quay.io"})],
    cluster=[("c1", {"https://index.docker.io/v1/"})],
    containers=["quay.io/x", "nginx"],
    init=["ghcr.io/team-a/init"],
    listed=["x"],
)
@given(
    project=st.booleans(),
    own=OWN,
    shared=PROJECT,
    cluster=CLUSTER,
    containers=st.lists(images, min_size=1, max_size=3),
    init=st.lists(images, max_size=1),
    listed=st.lists(st.sampled_from(["a", "b", "x"]), max_size=2, unique=True),
)
def test_webhook_and_policy_mode_agree(
    both_modes: PolicyCluster,
    kubectl: Kubectl,
    project: bool,
    own: list[tuple[str, set[str]]],
    shared: list[tuple[str, set[str]]],
    cluster: list[tuple[str, set[str]]],
    containers: list[str],
    init: list[str],
    listed: list[str],
) -> None:
    suffix = uuid.uuid4().hex[:6]
    objects, spaces = lay_out(suffix, project, own, shared, cluster)
    both_modes.apply(objects)
    try:
        both_modes.write_parameters()
        pods = []
        for ns in spaces:
            manifest = pod(ns, *containers, name="p", pull_secrets=listed or None)
            if init:
                manifest["spec"]["initContainers"] = [{"name": "i0", "image": init[0]}]
            pods.append(manifest)
        index = both_modes.index()
        want = [both_modes.webhook_says(p, index) for p in pods]
        assert want[0] == want[1]
        last: dict[str, Any] = {}

        def settled() -> bool:
            created = both_modes.dry_run(pods)
            last["got"] = [
                pull_secrets(created[key(p)]) if key(p) in created else None for p in pods
            ]
            return last["got"] == want or all(g is None for g in last["got"])

        try:
            eventually(settled, 15, "both modes to settle", every=0.2)
        except AssertionError:
            got = last.get("got")
            raise AssertionError(f"webhook's decision {want}, the two modes gave {got}") from None
        print(f"differential {suffix}: {containers + init} listed {listed} -> {want[0]}")
    finally:
        # Sources and namespaces go, so later tests do not pay for rewriting their objects.
        selector = f"pm-example={suffix}"
        kubectl("delete", "secret", "-n", CREDENTIALS_NAMESPACE, "-l", selector, check=False)
        kubectl("delete", "namespace", *spaces, "--wait=false", check=False)
