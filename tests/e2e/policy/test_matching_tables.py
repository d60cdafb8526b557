"""The project's matching tables through the API server in policy mode, with no webhook.

Every image of the reference tables, and every key and image of the keyring tables, is created
with a server-side dry run; the `imagePullSecrets` the MutatingAdmissionPolicies write must be
what the webhook's decision (`pullpass explain`'s report over the same objects) gives.
"""

import json
from pathlib import Path
from typing import Any

from app.core.images.reference import parse_image
from tests.e2e.policy.fixtures import Object, PolicyCluster, key, namespace, secret
from tests.kit.kubectl import pull_secrets
from tests.kit.objects import pod

DATA = Path(__file__).parents[2] / "data"
REFERENCE: dict[str, Any] = json.loads((DATA / "reference_cases.json").read_text(encoding="utf-8"))
KEYRING: dict[str, Any] = json.loads((DATA / "keyring_cases.json").read_text(encoding="utf-8"))
DOCKER_HUB = "https://index.docker.io/v1/"


def reference_images() -> list[str]:
    """Every string the reference tables feed to the parsers, valid or not, in table order."""
    images: list[str] = []
    for name, table in REFERENCE.items():
        if name.startswith("_"):
            continue
        images += table.get("valid", []) + table.get("invalid", [])
        for case in table.get("cases", []):
            images += case.get("refs", []) + ([case["input"]] if "input" in case else [])
    return [i for i in dict.fromkeys(images) if i]


def reference_keys() -> tuple[list[str], list[str]]:
    """Keys that tell the images' normalised names apart: domains, and domain/first component."""
    domains: dict[str, None] = {}
    prefixes: dict[str, None] = {}
    for image in reference_images():
        name = parse_image(image)
        if name is not None:
            domains[name.domain] = None
            prefixes[f"{name.domain}/{name.path.split('/')[0]}"] = None
    return [*domains, DOCKER_HUB, "*", "*:5000", "*.com"], list(prefixes)


def keyring_cases() -> list[tuple[list[str], str]]:
    """(keys, image) of every keyring table, the image as a pod would name it."""
    cases = [([c["glob"]], c["target"]) for c in KEYRING["urls_match"]["cases"]]
    for table in ("keyring_for_glob", "keyring_miss"):
        cases += [([c["key"]], c["target"] + "/foo/bar") for c in KEYRING[table]["cases"]]
    hub = KEYRING["docker_hub"]
    cases += [([hub["key"]], c["image"]) for c in hub["cases"]]
    cases += [([DOCKER_HUB], c["name"]) for c in KEYRING["is_default_registry_match"]["cases"]]
    cases += [(c["keys"], c["image"]) for c in KEYRING["lookup"]["cases"]]
    return [(keys, image) for keys, image in cases if image]


def compare(cluster: PolicyCluster, pods: list[Object]) -> tuple[int, int]:
    """Dry-run the pods; every one the API server admits must carry the webhook's names.

    Returns how many were admitted, and how many of those got a name.
    """
    index = cluster.index()
    created = cluster.dry_run(pods)
    assert len(created) >= len(pods) * 0.9, f"only {len(created)} of {len(pods)} pods admitted"
    mismatches, served = [], 0
    for manifest in pods:
        if key(manifest) not in created:
            continue
        images = [c["image"] for c in manifest["spec"]["containers"]]
        got = pull_secrets(created[key(manifest)])
        want = cluster.webhook_says(manifest, index)
        served += bool(got)
        if got != want:
            mismatches.append(f"{key(manifest)} {images}: policy {got}, webhook {want}")
    assert mismatches == [], "\n".join(mismatches)
    return len(created), served


def test_reference_tables(policy_mode: PolicyCluster) -> None:
    domains, prefixes = reference_keys()
    objects: list[Object] = []
    for ns, keys in (("pm-ref-domains", domains), ("pm-ref-paths", prefixes)):
        objects.append(namespace(ns))
        objects += [secret(ns, f"k{i:02d}", key) for i, key in enumerate(keys)]
    policy_mode.write(objects)
    images = reference_images()
    for ns in ("pm-ref-domains", "pm-ref-paths"):
        pods = [pod(ns, image, name=f"p{i:03d}") for i, image in enumerate(images)]
        admitted, served = compare(policy_mode, pods)
        print(f"{ns}: {admitted} of {len(pods)} reference images agree, {served} get a name")


def test_keyring_tables(policy_mode: PolicyCluster) -> None:
    objects: list[Object] = []
    pods: list[Object] = []
    for i, (keys, image) in enumerate(keyring_cases()):
        ns = f"pm-keyring-{i:03d}"
        objects.append(namespace(ns))
        objects += [secret(ns, f"k{j}", key) for j, key in enumerate(keys)]
        pods.append(pod(ns, image, name="p"))
    policy_mode.write(objects)
    admitted, served = compare(policy_mode, pods)
    print(f"keyring: {admitted} of {len(pods)} cases agree, {served} get a name")


def test_every_key_in_one_secret(policy_mode: PolicyCluster) -> None:
    """One credential holding every table key: order, and one name however many keys match."""
    keys = [k for keys, _ in keyring_cases() for k in keys]
    ns = "pm-keyring-all"
    chunks = [list(dict.fromkeys(keys))[i : i + 16] for i in range(0, len(set(keys)), 16)]
    objects = [namespace(ns)] + [secret(ns, f"s{i}", *chunk) for i, chunk in enumerate(chunks)]
    policy_mode.write(objects)
    images = [image for _, image in keyring_cases()]
    pods = [
        pod(ns, *images[i : i + 3], name=f"p{i:03d}", pull_secrets=["s1"] if i % 2 else None)
        for i in range(len(images))
    ]
    admitted, served = compare(policy_mode, pods)
    print(f"one namespace: {admitted} of {len(pods)} pods agree, {served} get a name")


def test_policy_output_is_a_fixed_point(policy_mode: PolicyCluster) -> None:
    """Reinvocation-safe: a pod the policies mutated, sent again, comes back the same."""
    ns = "pm-fixed-point"
    keys = ["quay.io", "*.corp.example", DOCKER_HUB, "ghcr.io/team-a"]
    policy_mode.write([namespace(ns), *(secret(ns, f"k{i}", k) for i, k in enumerate(keys))])
    images = [image for _, image in keyring_cases()] + ["quay.io/a", "eu.corp.example/b", "nginx"]
    pods = [pod(ns, *images[i : i + 3], name=f"p{i:03d}") for i in range(len(images))]
    first = policy_mode.dry_run(pods)
    again = []
    for created in first.values():
        meta = created["metadata"]
        kept = {k: meta[k] for k in ("name", "namespace", "annotations") if k in meta}
        again.append({**pod(ns, name=meta["name"]), "metadata": kept, "spec": created["spec"]})
    second = policy_mode.dry_run(again)
    assert len(second) == len(first) > 0
    changed = 0
    for name, created in first.items():
        annotations = created["metadata"].get("annotations", {})
        changed += "pullpass.io/injected" in annotations
        assert pull_secrets(second[name]) == pull_secrets(created), name
        assert second[name]["metadata"].get("annotations", {}) == annotations, name
    assert changed > len(first) // 2
