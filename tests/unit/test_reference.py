"""Image references: upstream distribution/reference and kubernetes tables, then properties."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.images.reference import ImageName, parse_image, parse_reference
from tests.kit.objects import case_id

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "reference_cases.json").read_text(encoding="utf-8")
)


def _table(name: str) -> list[dict[str, Any]]:
    return list(CASES[name]["cases"])


@pytest.mark.parametrize("ref", CASES["validate_reference_name"]["valid"])
def test_validate_reference_name_valid(ref: str) -> None:
    assert parse_image(ref) is not None


@pytest.mark.parametrize("ref", CASES["validate_reference_name"]["invalid"])
def test_validate_reference_name_invalid(ref: str) -> None:
    assert parse_image(ref) is None


@pytest.mark.parametrize("ref", CASES["validate_remote_name"]["valid"])
def test_validate_remote_name_valid(ref: str) -> None:
    assert parse_image(ref) is not None


@pytest.mark.parametrize("ref", CASES["validate_remote_name"]["invalid"])
def test_validate_remote_name_invalid(ref: str) -> None:
    assert parse_image(ref) is None


@pytest.mark.parametrize(
    ("ref", "domain", "remote"),
    [(r, c["domain"], c["remote"]) for c in _table("parse_repository_info") for r in c["refs"]],
)
def test_parse_repository_info(ref: str, domain: str, remote: str) -> None:
    assert parse_image(ref) == ImageName(domain, remote)


@pytest.mark.parametrize(
    "case", _table("normalized_split_hostname"), ids=lambda c: case_id(c["input"])
)
def test_normalized_split_hostname(case: dict[str, str]) -> None:
    assert parse_image(case["input"]) == ImageName(case["domain"], case["path"])


@pytest.mark.parametrize(
    "case",
    _table("parse_any_reference") + _table("parse_docker_ref"),
    ids=lambda c: case_id(c["input"][:50]),
)
def test_normalized_name(case: dict[str, Any]) -> None:
    image = parse_image(case["input"])
    assert (image.name if image else None) == case["name"]


@pytest.mark.parametrize("case", _table("parse_image_name"), ids=lambda c: case_id(c["input"][:50]))
def test_kubelet_parse_image_name(case: dict[str, Any]) -> None:
    image = parse_image(case["input"])
    assert (image.name if image else None) == case["repo"]


@pytest.mark.parametrize("case", _table("reference_parse"), ids=lambda c: case_id(c["input"][:50]))
def test_reference_parse(case: dict[str, Any]) -> None:
    parsed = parse_reference(case["input"])
    if "error" in case:
        assert parsed is None
        return
    assert parsed is not None
    assert (parsed.name, parsed.domain, parsed.tag, parsed.digest) == (
        case["repository"],
        case["domain"],
        case["tag"],
        case["digest"],
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        # A first component that only looks like a domain is no domain at all upstream.
        ("foo_bar.com/app", ImageName("", "foo_bar.com/app")),
        ("localhost/app", ImageName("localhost", "app")),
        ("localhost:5000", ImageName("docker.io", "library/localhost")),
        ("index.docker.io/app", ImageName("docker.io", "library/app")),
        ("docker.io/org/app:1@sha512:" + "a" * 128, ImageName("docker.io", "org/app")),
        ("sha256:" + "a" * 64, ImageName("docker.io", "library/sha256")),
    ],
)
def test_normalisation_quirks(ref: str, expected: ImageName) -> None:
    assert parse_image(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "app@sha256:" + "A" * 64,  # go-digest wants lowercase hex
        "app@sha256:" + "a" * 63,
        "app@sha384:" + "a" * 64,
        "app@md5:" + "a" * 32,
        "app:" + "t" * 129,
        "app:-tag",
        "app\n",
        "ápp",
        "a/" * 128 + "a",
        " app",
    ],
)
def test_invalid_references(ref: str) -> None:
    assert parse_image(ref) is None


def test_name_length_counts_the_normalised_path() -> None:
    assert parse_image("a" * (255 - len("library/"))) is not None
    assert parse_image("a" * (256 - len("library/"))) is None
    assert parse_image("registry.example.com/" + "a" * 255) is not None


def test_name_is_what_the_kubelet_looks_up() -> None:
    assert ImageName("quay.io", "org/app").name == "quay.io/org/app"
    assert ImageName("", "foo_bar.com/app").name == "foo_bar.com/app"


@given(st.text())
def test_parse_image_never_raises(text: str) -> None:
    image = parse_image(text)
    assert image is None or parse_image(image.name) == image


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("quay.io/team/app:V1", ImageName("quay.io", "team/app")),
        ("nginx:Latest", ImageName("docker.io", "library/nginx")),
        ("localhost:5000/app:RC-1_A.b", ImageName("localhost:5000", "app")),
        ("team/app:V1@sha256:" + "a" * 64, ImageName("docker.io", "team/app")),
    ],
)
def test_tags_may_be_uppercase(ref: str, expected: ImageName) -> None:
    """Only the repository must be lowercase; the tag grammar allows [A-Za-z]."""
    assert parse_image(ref) == expected


# --- generated references, each with the answer known from how it was built -------------------

# (domain as written, the domain ParseNormalizedNamed gives, whether one path component gains
# `library/`). "" stands for no domain at all.
DOMAINS = [
    ("", "docker.io", True),
    ("docker.io", "docker.io", True),
    ("index.docker.io", "docker.io", True),
    ("quay.io", "quay.io", False),
    ("localhost", "localhost", False),
    ("localhost:5000", "localhost:5000", False),
    ("Registry", "Registry", False),  # an uppercase first component is a domain
    ("reg-1.example.com:443", "reg-1.example.com:443", False),
    ("[::1]:5000", "[::1]:5000", False),
]
# No '.' in components, so a first component without a domain never looks like one.
COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:(?:_|__|-{1,2})[a-z0-9]{1,8}){0,2}", fullmatch=True)
TAG = st.from_regex(r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,20}", fullmatch=True)
DIGEST = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)


@st.composite
def references(draw: st.DrawFn) -> tuple[str, ImageName, str]:
    """A valid reference, its normalised name, and the same reference with an uppercase path."""
    written, domain, official = draw(st.sampled_from(DOMAINS))
    path = draw(st.lists(COMPONENT, min_size=1, max_size=4).filter(lambda p: p[0] != "localhost"))
    tag, digest = draw(st.none() | TAG), draw(st.none() | DIGEST)
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    head = f"{written}/" if written else ""
    remote = "/".join(path)
    expected = ImageName(domain, f"library/{remote}" if official and len(path) == 1 else remote)
    shouting = head + "/".join([*path[:-1], path[-1] + "X"]) + suffix
    return head + remote + suffix, expected, shouting


@given(references())
def test_generated_references_normalise_as_built(case: tuple[str, ImageName, str]) -> None:
    ref, expected, shouting = case
    assert parse_image(ref) == expected
    assert parse_image(expected.name) == expected
    assert parse_image(shouting) is None, "an uppercase repository is invalid"


def test_parse_image_on_huge_input() -> None:
    assert parse_image("a" * 1_000_000) is None
    assert parse_image("a-" * 500_000 + "!") is None
    assert parse_image("a." * 500_000 + "com/app") is not None
