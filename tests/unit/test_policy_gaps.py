"""The image prefixes where a warning can arise (`gaps`): the warnings policy's condition stops
at them, so they must never rule out a pod the webhook would warn about."""

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.credentials.credential import Credential
from app.core.images.keyring import RegistryKey, lookup, parse_key
from app.core.images.reference import parse_image
from app.core.policy.compile import compile_keys
from app.core.policy.gaps import Gaps
from app.core.policy.manifests import GAP_LENGTH, MAX_GAPS
from app.core.policy.parameters import anywhere

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "keyring_cases.json").read_text(encoding="utf-8")
)
HUB = "https://index.docker.io/v1/"


def _case_keys() -> list[str]:
    keys = [c["glob"] for c in CASES["urls_match"]["cases"]]
    keys += [c["key"] for t in ("keyring_for_glob", "keyring_miss") for c in CASES[t]["cases"]]
    keys += [k for c in CASES["lookup"]["cases"] for k in c["keys"]]
    return [*dict.fromkeys(keys), HUB, "docker.io/acme", "localhost:5000/team", "[::1]:5000"]


def _case_images() -> list[str]:
    images = [c["target"] for c in CASES["urls_match"]["cases"]]
    images += [
        c["target"] + "/foo/bar"
        for t in ("keyring_for_glob", "keyring_miss")
        for c in CASES[t]["cases"]
    ]
    images += [c["image"] for c in CASES["docker_hub"]["cases"]]
    images += [c["name"] for c in CASES["is_default_registry_match"]["cases"]]
    images += [c["image"] for c in CASES["lookup"]["cases"]]
    extra = [
        "nginx",
        "acme/app:1",
        "docker.io/acme/app",
        "localhost:5000/team/app@sha256:" + "a" * 64,
    ]
    return [i for i in dict.fromkeys([*images, *extra]) if i]


KEYS = _case_keys()
IMAGES = _case_images()


def _parsed(raw: list[str]) -> list[RegistryKey]:
    return [k for k in map(parse_key, raw) if k is not None]


def _warns(image: str, scope: list[str], everywhere: list[str]) -> bool:
    """The webhook's rule: an image nothing in scope serves and some key in the cluster does."""
    name = parse_image(image)
    if name is None:
        return False
    return not lookup(_parsed(scope), name) and bool(lookup(_parsed(everywhere), name))


def _gaps(scope: list[str], elsewhere: list[str]) -> list[str] | None:
    dockercfg = "kubernetes.io/dockerconfigjson"
    cluster = anywhere([Credential("x", "y", dockercfg, {}, {}, (*scope, *elsewhere))])
    return Gaps(cluster)(compile_keys(scope))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(KEYS), max_size=6, unique=True),
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=6, unique=True),
)
def test_no_image_the_webhook_warns_about_is_ruled_out(
    scope: list[str], elsewhere: list[str]
) -> None:
    prefixes = _gaps(scope, elsewhere)
    if prefixes is None:
        return
    for image in IMAGES:
        if _warns(image, scope, [*scope, *elsewhere]):
            assert any(image.startswith(p) for p in prefixes), (image, prefixes)


def test_the_keys_images_are_warned_about_somewhere() -> None:
    """The property above is not empty: the cases' images do get warnings, and most scopes have
    prefixes."""
    warned = [i for i in IMAGES if _warns(i, [], KEYS)]
    assert len(warned) > len(IMAGES) // 2
    assert _gaps([], ["quay.io", "r.example:5000/team"]) == ["quay.io", "r.example:5000/team"]


def test_keys_in_scope_close_their_gaps() -> None:
    assert _gaps(["quay.io"], ["elsewhere.example"]) == ["elsewhere.example"]
    assert _gaps(["quay.io"], []) == []
    # A key in scope with a shorter path subsumes one elsewhere; not the other way round.
    assert _gaps(["r.example/team"], ["r.example/team/a"]) == []
    assert _gaps(["r.example/team/a"], ["r.example/team"]) == ["r.example/team"]
    # Ports tell keys apart.
    assert _gaps(["r.example"], ["r.example:5000"]) == ["r.example:5000"]
    # A prefix of another is enough.
    assert _gaps([], ["a.example", "a.example/x", "b.example"]) == ["a.example", "b.example"]


def test_docker_hub_and_globs_have_no_prefix() -> None:
    """`nginx` is a Docker Hub image that does not start with its host: with a Docker Hub key
    elsewhere and none in scope, every pod is looked at in full; with one in scope, every Docker
    Hub image is served here."""
    assert _gaps(["quay.io"], [HUB]) is None
    assert _gaps(["quay.io"], ["docker.io/acme"]) is None
    assert _gaps([HUB], ["docker.io/acme", "quay.io"]) == ["quay.io"]
    assert _gaps(["quay.io"], ["*.example"]) is None
    assert _gaps(["*.example"], ["*.example/team"]) == []
    assert _gaps(["quay.io"], ["[::1]:5000"]) is None


def test_prefixes_are_bounded() -> None:
    long = "r.example/" + "p" * 200
    assert _gaps([], [long]) == [long[:GAP_LENGTH]]
    many = [f"r{i}.example" for i in range(MAX_GAPS)]
    assert _gaps([], many) == sorted(many)
    assert _gaps([], [*many, "one-more.example"]) is None
