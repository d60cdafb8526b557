"""Policy mode's compiled keys agree with the keyring: Go's globs as RE2, ports, path prefixes.

Python's `re` is the bridge to RE2 here: the compiler emits only syntax both engines read the
same way (`\\xHH`, plain classes, `*`, anchors), and the targets are ASCII, where the engines'
only differences (Unicode classes, `\\x{...}`, lookaround, backreferences) cannot arise.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import Scoped, ScopeSettings, resolve
from app.core.images.go_glob import BadPattern, glob
from app.core.images.go_string import go_bytes
from app.core.images.go_url import parse_url, split_url
from app.core.images.keyring import key_matches, parse_key
from app.core.images.reference import parse_image
from app.core.policy import parameters
from app.core.policy.compile import (
    CompiledKey,
    KeyCache,
    compile_entries,
    compile_key,
    compile_keys,
    index_entries,
    index_keys,
    parameter_entries,
)
from app.core.policy.glob_regex import NeverMatches, label_regex
from app.core.policy.manifests import MAX_ANYWHERE, MAX_ENTRIES, MAX_KEYS
from app.core.policy.parameters import (
    anywhere,
    desired,
    held,
    namespace_spec,
    quiet,
    shared_spec,
)

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "keyring_cases.json").read_text(encoding="utf-8")
)
IMAGE_LABEL = re.compile(r"[\x21-\x7e]*")


def go_answer(pattern: bytes, name: bytes) -> bool:
    try:
        return glob(pattern, name)
    except BadPattern:
        return False


def regex_answer(pattern: bytes, name: str) -> bool:
    try:
        return re.fullmatch(label_regex(pattern), name) is not None
    except NeverMatches:
        return False


def in_image_domain(name: str) -> bool:
    return IMAGE_LABEL.fullmatch(name) is not None and not set(name) & {".", "/"}


@pytest.mark.parametrize("case", CASES["filepath_match"]["cases"], ids=lambda c: c["pattern"])
def test_go_match_table(case: dict[str, Any]) -> None:
    pattern = go_bytes(case["pattern"])
    if case["result"] == "bad":
        with pytest.raises(NeverMatches):
            label_regex(pattern)
    elif in_image_domain(case["name"]):
        assert regex_answer(pattern, case["name"]) is case["result"]


@settings(max_examples=3000)
@given(
    st.text("ab*?[]^-\\.:", max_size=8),
    st.text("ab-:^[]\\*", max_size=6).filter(in_image_domain),
)
def test_globs_agree_with_go(pattern: str, name: str) -> None:
    assert regex_answer(go_bytes(pattern), name) is go_answer(go_bytes(pattern), go_bytes(name))


def target(name: str) -> tuple[str, str, str]:
    """The keyring's parse of a looked-up name: host, port, path (as the CEL computes them)."""
    parsed = parse_url(go_bytes(name))
    assert parsed is not None, name
    labels, port = split_url(parsed[0])
    return ".".join(x.decode() for x in labels), port.decode(), parsed[1].decode()


def suffix_answer(key: CompiledKey, host: str) -> bool:
    """The CEL's test of a leading-star glob: the literal suffix, and as many labels."""
    return host.endswith(key["suffix"]) and len(host.split(".")) == key["labels"]


@settings(max_examples=2000)
@given(
    st.integers(1, 3),
    st.lists(st.sampled_from(["corp", "example", "a-b", "x1"]), max_size=3),
    st.lists(st.sampled_from(["corp", "example", "a-b", "x1", "", "q"]), min_size=1, max_size=6),
)
def test_leading_stars_match_by_suffix_as_the_keyring(
    stars: int, rest: list[str], host: list[str]
) -> None:
    key = parse_key(".".join(["*"] * stars + rest))
    assert key is not None
    compiled = compile_key(key)
    assert compiled is not None
    assert compiled["labels"] == stars + len(rest)
    name = ".".join(host)
    assert suffix_answer(compiled, name) is key_matches(key, name + "/app")


@pytest.mark.parametrize("raw", ["a.*.example", "*x.example", "*.x*.example", "a*"])
def test_other_globs_keep_the_regex(raw: str) -> None:
    key = parse_key(raw)
    assert key is not None
    compiled = compile_key(key)
    assert compiled is not None
    assert (compiled["exact"], compiled["suffix"], compiled["labels"]) == ("", "", 0)


def direct(key: CompiledKey, name: str) -> bool:
    host, port, path = target(name)
    by_regex = re.search(key["host"], host) is not None
    if key["exact"]:
        assert (host == key["exact"]) is by_regex, (key, host)
    if key["labels"]:
        assert suffix_answer(key, host) is by_regex, (key, host)
    return key["port"] == port and path.startswith(key["path"]) and by_regex


def key_pairs() -> list[tuple[str, str]]:
    pairs = [(c["glob"], c["target"]) for c in CASES["urls_match"]["cases"]]
    for table in ("keyring_for_glob", "keyring_miss"):
        pairs += [(c["key"], c["target"] + "/foo/bar") for c in CASES[table]["cases"]]
    pairs += [(k, c["image"]) for c in CASES["lookup"]["cases"] for k in c["keys"]]
    return pairs


@pytest.mark.parametrize(("raw", "image"), key_pairs())
def test_compiled_keys_match_as_the_keyring(raw: str, image: str) -> None:
    key = parse_key(raw)
    assert key is not None
    compiled = compile_key(key)
    expected = key_matches(key, image)
    assert (compiled is not None and direct(compiled, image)) is expected


def test_docker_hub_keys_are_flagged() -> None:
    for raw in ("https://index.docker.io/v1/", "index.docker.io"):
        key = parse_key(raw)
        assert key is not None
        compiled = compile_key(key)
        assert compiled is not None, raw
        assert compiled["dockerHub"], raw
    quay = parse_key("quay.io")
    assert quay is not None
    assert compile_key(quay) == {
        "host": "^quay\\.io$",
        "exact": "quay.io",
        "suffix": "",
        "labels": 0,
        "port": "",
        "path": "",
        "dockerHub": False,
    }


def test_joined_host_splits_at_dots() -> None:
    """`*` never eats a dot: as many labels as the image, each matching its own glob."""
    key = parse_key("*.corp.example")
    assert key is not None
    compiled = compile_key(key)
    assert compiled is not None
    assert direct(compiled, "eu.corp.example/app")
    assert not direct(compiled, "a.b.corp.example/app")
    wild = parse_key("a?b.io")
    assert wild is not None
    assert not key_matches(wild, "a.b.io/app")
    compiled = compile_key(wild)
    assert compiled is not None
    assert not direct(compiled, "a.b.io/app")
    # url.Parse rejects '[' in a key's host, yet a class must keep the dot out all the same.
    for pattern in (b"a[.x]b", b"a[^x]b"):
        assert re.fullmatch(label_regex(pattern) + "\\.io", "a.b.io") is None, pattern
    name = parse_image("eu.corp.example/app:1")
    assert name is not None
    assert key_matches(key, name)


def test_parameters_keep_webhook_order_and_cover_namespaces_with_own_rules() -> None:
    scope = ScopeSettings("pullpass-system")
    dockercfg = "kubernetes.io/dockerconfigjson"
    own = Credential("team", "regcred", dockercfg, {}, {}, ("quay.io",))
    project = Credential("pullpass-system", "p", dockercfg, {"pullpass.io/project": "a"}, {}, ())
    cluster = Credential(
        "pullpass-system", "c", dockercfg, {"pullpass.io/scope": "cluster"}, {}, ()
    )
    labels = {"pullpass.io/inject": "enabled", "pullpass.io/project": "a"}
    with_own = resolve(NamespaceInfo("team", labels), [own], [cluster, project], scope)
    fresh = resolve(NamespaceInfo("fresh", labels), [], [cluster, project], scope)
    assert [e["name"] for e in namespace_spec(with_own)["credentials"]] == ["regcred", "p", "c"]
    shared = shared_spec([cluster, project], scope, {"team": with_own, "fresh": fresh})
    assert [e["name"] for e in shared["projects"]["a"] + shared["cluster"]] == ["p", "c"]
    assert shared["covered"] == {"team": True}


def test_desired_objects_only_where_the_shared_rules_fall_short() -> None:
    scope = ScopeSettings("pullpass-system")
    dockercfg = "kubernetes.io/dockerconfigjson"
    own = Credential("team", "regcred", dockercfg, {}, {}, ("quay.io", "ghcr.io"))
    cluster = Credential(
        "pullpass-system", "c", dockercfg, {"pullpass.io/scope": "cluster"}, {}, ("quay.io",)
    )
    enabled = {"pullpass.io/inject": "enabled"}
    resolutions = {
        "team": resolve(NamespaceInfo("team", enabled), [own], [cluster], scope),
        "fresh": resolve(NamespaceInfo("fresh", enabled), [], [cluster], scope),
        "pullpass-system": resolve(NamespaceInfo("pullpass-system", enabled), [], [cluster], scope),
    }
    wanted = desired(resolutions, [own, cluster], scope)
    # team's resolution is held in the shared object: no object of its own, one policy run.
    assert sorted(wanted) == [
        ("pullpass-system", "pullpass"),
        ("pullpass-system", "pullpass-shared"),
    ]
    shared = wanted[("pullpass-system", "pullpass-shared")]
    team = namespace_spec(resolutions["team"])
    assert shared["held"] == {
        "team": {"credentials": team["credentials"], "credentialsIndex": team["credentialsIndex"]}
    }
    assert [e["name"] for e in shared["held"]["team"]["credentials"]] == ["regcred", "c"]
    assert [k["host"] for k in anywhere([own, cluster])] == ["^ghcr\\.io$", "^quay\\.io$"]
    assert shared["anywhere"] == index_keys(anywhere([own, cluster]))
    assert sorted(shared["anywhere"]["exact"]) == ["ghcr.io", "quay.io"]
    assert shared["covered"] == {"pullpass-system": True, "team": True}
    # Every key of the cluster is in team's scope: no warning can arise there, so the warnings
    # policy skips it and needs no keys of it; fresh and pullpass-system lack ghcr.io.
    assert shared["quiet"] == {"team": True}
    assert shared["scopes"] == {"pullpass-system": index_keys([])}
    # There, only images starting with a host of the cluster's keys can get a warning.
    assert shared["gaps"] == {"pullpass-system": ["ghcr.io", "quay.io"]}
    assert (shared["projectGaps"], shared["clusterGaps"]) == ({}, ["ghcr.io"])
    # Past the budget, team gets an object of its own, which holds nothing for the warnings.
    past = desired(resolutions, [own, cluster], scope, held_bytes=0)
    assert sorted(past) == [*sorted(wanted), ("team", "pullpass")]
    assert past[("team", "pullpass")] == team
    assert team["anywhere"] == index_keys([])
    assert team["quiet"] == team["held"] == {}
    assert past[("pullpass-system", "pullpass-shared")] == {**shared, "held": {}}


def test_a_shared_spec_past_its_budget_sheds_warnings_detail_not_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tenants' namespaces and Secrets grow `gaps`, `scopes` and `projectOf`; past the budget
    the gaps go first (pods looked at in full), then the largest scopes become `quiet` (no
    false warning), then `projectOf` entries go."""
    spec = {
        "covered": {"a": True, "b": True},
        "scopes": {"a": index_keys(compile_keys(["quay.io"])), "b": index_keys([])},
        "quiet": {},
        "projectOf": {"x": "p", "y": "p"},
    }
    size = len(json.dumps(spec, separators=(",", ":")))
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", size)
    assert parameters.fit(json.loads(json.dumps(spec))) == spec
    without = {**spec, "gaps": {}, "projectGaps": {}}
    room = len(json.dumps(without, separators=(",", ":")))
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", room)
    gapped = {**spec, "gaps": {"a": ["x.example"]}, "projectGaps": {"p": ["a.example"] * 2}}
    assert parameters.fit(json.loads(json.dumps(gapped))) == without
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", size)
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", size - 30)
    trimmed = parameters.fit(json.loads(json.dumps(spec)))
    assert trimmed["scopes"] == {"b": index_keys([])}
    assert trimmed["quiet"] == {"a": True}
    assert trimmed["projectOf"] == spec["projectOf"]
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", 10)
    bare = parameters.fit(json.loads(json.dumps(spec)))
    assert (bare["scopes"], bare["quiet"], bare["projectOf"]) == ({}, {"a": True, "b": True}, {})
    assert bare["covered"] == spec["covered"], "the rules stay whole"


def test_held_resolutions_never_take_the_shared_object_past_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolutions = {name: _scope(name, ("quay.io",)) for name in ("a", "b")}
    room = desired(resolutions, [], ScopeSettings("pullpass-system"))
    shared = room[("pullpass-system", "pullpass-shared")]
    assert list(shared["held"]) == ["a", "b"]
    rest = len(json.dumps({**shared, "held": {}}, separators=(",", ":")))
    one = len(json.dumps({"a": shared["held"]["a"]}, separators=(",", ":")))
    monkeypatch.setattr(parameters, "MAX_SHARED_BYTES", rest + one)
    tight = desired(resolutions, [], ScopeSettings("pullpass-system"))
    assert list(tight[("pullpass-system", "pullpass-shared")]["held"]) == ["a"]
    assert ("b", "pullpass") in tight


def test_the_shared_object_holds_the_smallest_resolutions_within_its_budget() -> None:
    specs = {name: namespace_spec(_scope(name, ("quay.io",))) for name in ("b", "a", "c")}
    one = len(json.dumps({"a": held(specs)["a"]}, separators=(",", ":")))
    assert list(held(specs)) == ["a", "b", "c"]
    assert list(held(specs, 2 * one)) == ["a", "b"]  # equal sizes: by name
    assert list(held(specs, one - 1)) == []
    big = {**specs, "a": namespace_spec(_scope("a", *[(f"r{i}.example",) for i in range(40)]))}
    # A namespace too large for what is left is passed over; the next ones still fit.
    assert list(held(big, 2 * one + 10)) == ["b", "c"]
    # A larger namespace first by name does not take the room of two smaller ones.
    wider = {**specs, "a": namespace_spec(_scope("a", ("quay.io",), ("ghcr.io",)))}
    larger = len(json.dumps({"a": held(wider)["a"]}, separators=(",", ":")))
    assert one < larger < 2 * one
    assert list(held(wider, 2 * one)) == ["b", "c"]
    assert list(held(wider, larger + one)) == ["b", "c"]
    assert list(held(wider, larger + 2 * one)) == ["a", "b", "c"]
    # One namespace's share is bounded whatever is left: its tenant cannot fill the object.
    keys = [(f"r{i}.example",) for i in range(200)]
    crowded = {**specs, "a": namespace_spec(_scope("a", *keys))}
    assert list(held(crowded, 10**9)) == ["b", "c"]


def _scope(name: str, *keys: tuple[str, ...]) -> Any:
    enabled = {"pullpass.io/inject": "enabled"}
    dockercfg = "kubernetes.io/dockerconfigjson"
    own = [Credential(name, f"c{i}", dockercfg, {}, {}, k) for i, k in enumerate(keys)]
    return resolve(NamespaceInfo(name, enabled), own, [], ScopeSettings("pullpass-system"))


def test_quiet_namespaces_have_every_key_of_the_cluster_in_scope() -> None:
    """The same key, port and path included: a key elsewhere that only a port or a path tells
    apart could serve an image that nothing in scope serves. Keys are compared, not the images
    they serve: another spelling of Docker Hub's key is not looked into, and the namespace is
    evaluated as before."""
    keys = ("quay.io", "index.docker.io", "r.example:5000/team")
    dockercfg = "kubernetes.io/dockerconfigjson"
    everywhere = anywhere([Credential("x", "y", dockercfg, {}, {}, keys)])
    resolutions = {
        "all": _scope("all", keys[:1], keys[1:]),
        "more": _scope("more", (*keys, "ghcr.io")),
        "no-port": _scope("no-port", ("quay.io", "index.docker.io", "r.example/team")),
        "no-path": _scope("no-path", ("quay.io", "index.docker.io", "r.example:5000")),
        "hub-as-docker-io": _scope("hub-as-docker-io", ("quay.io", "docker.io", keys[2])),
        "none": _scope("none"),
    }
    assert quiet(resolutions, everywhere) == ["all", "more"]
    assert quiet(resolutions, []) == sorted(resolutions)


def test_shared_rules_namespaces_that_can_warn_have_their_project_listed() -> None:
    """The warnings policy's condition reads a namespace's project from `projectOf`, as the
    shared policy reads it from the namespace's label: "" when no project source serves it."""
    scope = ScopeSettings("pullpass-system")
    dockercfg = "kubernetes.io/dockerconfigjson"
    source = Credential("pullpass-system", "p", dockercfg, {"pullpass.io/project": "a"}, {}, ())
    elsewhere = Credential("other", "x", dockercfg, {}, {}, ("elsewhere.example",))
    resolutions = {
        name: resolve(NamespaceInfo(name, labels), [], [source], scope)
        for name, labels in (
            ("in-a", {"pullpass.io/project": "a"}),
            ("in-b", {"pullpass.io/project": "b"}),
            ("none", {}),
        )
    }
    resolutions["own"] = _scope("own", ("quay.io",))
    shared = desired(resolutions, [source, elsewhere], scope)[
        ("pullpass-system", "pullpass-shared")
    ]
    assert shared["projectOf"] == {"in-a": "a", "in-b": "", "none": ""}
    assert "own" in shared["scopes"]
    # The condition's prefixes for each scope it reads: own's, project a's, the cluster's.
    assert shared["gaps"] == {"own": ["elsewhere.example"]}
    assert shared["projectGaps"] == {"a": ["elsewhere.example"]}
    assert shared["clusterGaps"] == ["elsewhere.example"]
    hub = Credential("other", "hub", dockercfg, {}, {}, ("https://index.docker.io/v1/",))
    unbounded = desired(resolutions, [source, elsewhere, hub], scope)
    shared = unbounded[("pullpass-system", "pullpass-shared")]
    assert (shared["gaps"], shared["projectGaps"]) == ({}, {})
    assert "clusterGaps" not in shared, "Docker Hub images need not name their host"
    assert (
        desired(resolutions, [source], scope)[("pullpass-system", "pullpass-shared")]["projectOf"]
        == {}
    )  # no key anywhere: every namespace is quiet


def test_entries_stay_within_the_schema_bounds() -> None:
    """A write past a bound would fail and stall every parameter update: the rest is left out."""
    many_keys = tuple(f"r{i}.example" for i in range(MAX_KEYS + 4))
    wide = Credential("team", "wide", "kubernetes.io/dockerconfigjson", {}, {}, many_keys)
    scoped = [Scoped(f"s{i:03d}", "namespace", wide) for i in range(MAX_ENTRIES + 3)]
    entries = compile_entries(scoped)
    assert len(entries) == MAX_ENTRIES
    assert all(len(e["keys"]) == MAX_KEYS for e in entries)
    long_host = parse_key("-" * 300 + ".example")
    assert long_host is not None
    assert compile_key(long_host) is None


def test_index_holds_every_key_by_exact_host_in_entry_order() -> None:
    """The CEL looks a target's host up here instead of looping over every entry's keys, so each
    key must be here once, with its entry's name, the glob hosts apart."""
    keys = ("quay.io", "quay.io/team", "*.corp.example", "https://index.docker.io/v1/")
    wide = Credential("team", "wide", "kubernetes.io/dockerconfigjson", {}, {}, keys)
    other = Credential("team", "other", "kubernetes.io/dockerconfigjson", {}, {}, ("quay.io",))
    entries = compile_entries([Scoped("a", "namespace", wide), Scoped("b", "namespace", other)])
    index = index_entries(entries)
    assert {h: [(k["name"], k["path"]) for k in v] for h, v in index["exact"].items()} == {
        "quay.io": [("a", ""), ("a", "/team"), ("b", "")],
        "index.docker.io": [("a", "")],
    }
    assert [(k["name"], k["host"]) for k in index["globs"]] == [("a", "^[^./]*\\.corp\\.example$")]
    indexed = len(index["globs"]) + sum(len(v) for v in index["exact"].values())
    assert indexed == sum(len(e["keys"]) for e in entries)
    resolution = resolve(NamespaceInfo("team", {}), [wide], [], ScopeSettings("x"))
    spec = namespace_spec(resolution)
    assert spec["credentialsIndex"] == index_entries(compile_entries(resolution.credentials))
    assert spec["credentials"] == [{"name": "wide", "scope": "namespace", "hub": True}]
    assert parameter_entries(entries) == [
        {"name": "a", "scope": "namespace", "hub": True},
        {"name": "b", "scope": "namespace", "hub": False},
    ]


def test_a_namespace_with_more_keys_than_scopes_holds_gets_no_warnings() -> None:
    """Past `scopes`' bound the warnings policy would take an image served by a key left out
    for one served only elsewhere (a false warning), and a tenant's Secrets would grow the
    shared object: the namespace is listed quiet instead, and its keys stay out of it."""
    keys = [tuple(f"r{c}k{k}.example" for k in range(30)) for c in range(10)]
    dockercfg = "kubernetes.io/dockerconfigjson"
    elsewhere = Credential("other", "x", dockercfg, {}, {}, ("elsewhere.example",))
    big, small = _scope("big", *keys), _scope("small", keys[0])
    everyone = [elsewhere, *(c.source for c in big.credentials)]
    wanted = desired({"big": big, "small": small}, everyone, ScopeSettings("pullpass-system"))
    shared = wanted[("pullpass-system", "pullpass-shared")]
    assert len(anywhere(everyone)) == MAX_ANYWHERE < 300
    assert shared["quiet"] == {"big": True}
    assert sorted(shared["scopes"]) == ["small"]
    assert len(shared["scopes"]["small"]["exact"]) == 30


def test_a_pass_compiles_each_credentials_keys_once() -> None:
    """The views of a leader's pass read the same list, equal to what `compile_keys` gives."""
    cache = KeyCache()
    raw = ("quay.io", "quay.io", "*.corp.example:5000/team")
    assert cache(raw) is cache(raw)
    assert cache(raw) == compile_keys(raw)
    assert len(cache(raw)) == 2
