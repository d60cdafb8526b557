"""The kubelet's keyring: upstream tables, Go's net/url and filepath.Match, SPEC "Matching"."""

import contextlib
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.core.images.go_glob import BadPattern, _decode_rune, glob, path_match
from app.core.images.go_url import parse_url, split_url
from app.core.images.keyring import (
    RegistryKey,
    is_default_registry_match,
    key_matches,
    lookup,
    parse_key,
)
from app.core.images.reference import parse_image
from tests.kit.objects import case_id

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "keyring_cases.json").read_text(encoding="utf-8")
)


def _table(name: str) -> list[dict[str, Any]]:
    return list(CASES[name]["cases"])


def key(raw: str) -> RegistryKey:
    parsed = parse_key(raw)
    assert parsed is not None, raw
    return parsed


def raws(found: list[RegistryKey]) -> list[str]:
    return [k.raw for k in found]


def for_image(keys: list[str], image: str) -> list[str]:
    """What the kubelet would use for a container image, as the webhook asks it."""
    name = parse_image(image)
    assert name is not None, image
    return raws(lookup([key(k) for k in keys], name))


# --- upstream tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", _table("urls_match"), ids=lambda c: case_id(f"{c['glob']}~{c['target']}")
)
def test_urls_match(case: dict[str, Any]) -> None:
    assert key_matches(key(case["glob"]), case["target"]) is case["match"]


@pytest.mark.parametrize("case", _table("keyring_for_glob"), ids=lambda c: case_id(c["key"]))
def test_keyring_for_glob(case: dict[str, str]) -> None:
    assert raws(lookup([key(case["key"])], case["target"] + "/foo/bar")) == [case["key"]]


@pytest.mark.parametrize("case", _table("keyring_miss"), ids=lambda c: case_id(c["key"]))
def test_keyring_miss(case: dict[str, str]) -> None:
    assert lookup([key(case["key"])], case["target"] + "/foo/bar") == []


@pytest.mark.parametrize("case", _table("docker_hub"), ids=lambda c: case_id(c["image"]))
def test_docker_hub_credentials(case: dict[str, Any]) -> None:
    hub = key(CASES["docker_hub"]["key"])
    assert lookup([hub], case["image"]) == ([hub] if case["hit"] else [])


@pytest.mark.parametrize(
    "case", _table("is_default_registry_match"), ids=lambda c: case_id(c["name"])
)
def test_is_default_registry_match(case: dict[str, Any]) -> None:
    assert is_default_registry_match(case["name"]) is case["match"]


@pytest.mark.parametrize("case", _table("lookup"), ids=lambda c: case_id(c["image"]))
def test_docker_keyring_lookup(case: dict[str, Any]) -> None:
    assert raws(lookup([key(k) for k in case["keys"]], case["image"])) == case["expected"]


@pytest.mark.parametrize(
    "case", _table("filepath_match"), ids=lambda c: case_id(f"{c['pattern']}~{c['name']}")
)
def test_go_filepath_match(case: dict[str, Any]) -> None:
    if case["result"] == "bad":
        with pytest.raises(BadPattern):
            path_match(case["pattern"], case["name"])
    else:
        assert path_match(case["pattern"], case["name"]) is case["result"]


# --- SPEC "Matching": one test per rule -------------------------------------------------------


def test_rule_image_is_normalised_before_matching() -> None:
    assert for_image(["docker.io/library"], "nginx:1.27") == ["docker.io/library"]
    assert for_image(["index.docker.io/team"], "index.docker.io/team/app@sha256:" + "a" * 64) == []
    assert for_image(["docker.io/team"], "index.docker.io/team/app@sha256:" + "a" * 64) == [
        "docker.io/team"
    ]


def test_rule_invalid_reference_matches_nothing() -> None:
    assert parse_image("Quay.io/Team/App") is None
    assert parse_image("quay.io/app:-bad") is None


def test_rule_key_loses_scheme_and_v1_v2() -> None:
    for raw in ("quay.io", "https://quay.io", "http://quay.io/v1/", "https://quay.io/v2/"):
        assert key(raw).normalized == "quay.io"
        assert for_image([raw], "quay.io/team/app") == [raw]
    assert key("https://quay.io/v2/team").normalized == "quay.io/team"
    assert key("quay.io/v1").normalized == "quay.io/v1"  # only a leading "/v1/" goes


def test_rule_ports_must_be_equal() -> None:
    assert for_image(["registry.example.com:5000"], "registry.example.com:5000/app") != []
    assert for_image(["registry.example.com:5000"], "registry.example.com/app") == []
    assert for_image(["registry.example.com"], "registry.example.com:5000/app") == []
    assert for_image(["registry.example.com:05000"], "registry.example.com:5000/app") == []


def test_rule_same_label_count_each_label_a_glob() -> None:
    assert for_image(["*.corp.example"], "eu.corp.example/app") == ["*.corp.example"]
    assert for_image(["*.corp.example"], "corp.example/app") == []
    assert for_image(["*.corp.example"], "a.eu.corp.example/app") == []
    assert for_image(["reg-*.corp.*"], "reg-eu.corp.example/app") == ["reg-*.corp.*"]
    assert for_image(["Quay.io"], "quay.io/app") == []  # globs are case-sensitive


def test_rule_key_path_is_a_plain_prefix() -> None:
    assert for_image(["example.com/team-a"], "example.com/team-a/app") == ["example.com/team-a"]
    assert for_image(["example.com/team-a"], "example.com/team-ab/app") == ["example.com/team-a"]
    assert for_image(["example.com/team-a/"], "example.com/team-ab/app") == []
    assert for_image(["example.com/team-a"], "example.com/team-b/app") == []


def test_rule_all_matching_keys_apply() -> None:
    keys = ["quay.io", "quay.io/team", "*.io", "https://quay.io/v1/", "gcr.io"]
    assert for_image(keys, "quay.io/team/app") == [
        "quay.io/team",
        "quay.io",
        "https://quay.io/v1/",
        "*.io",
    ]


def test_rule_docker_hub_keys_only_when_nothing_matched_directly() -> None:
    hub = ["https://index.docker.io/v1/", "index.docker.io"]
    assert for_image(hub, "nginx") == hub
    assert for_image(hub, "team/app:1") == hub
    assert for_image([*hub, "docker.io"], "nginx") == ["docker.io"]
    assert for_image(hub, "quay.io/app") == []
    assert for_image(["docker.io"], "quay.io/app") == []
    assert for_image(["index.docker.io/v1/team"], "team/app") == []  # stored key has a path


# --- order, duplicates, quirks kept from the kubelet ------------------------------------------


def test_lookup_keeps_every_key_in_the_order_given_for_equal_stored_keys() -> None:
    a, b = key("quay.io"), key("https://quay.io")
    assert lookup([a, b], "quay.io/app") == [a, b]
    assert lookup([b, a], "quay.io/app") == [b, a]
    first, second = key("quay.io"), key("quay.io")
    found = lookup([first, second], "quay.io/app")
    assert [id(k) for k in found] == [id(first), id(second)]


def test_docker_hub_fallback_follows_is_default_registry_match() -> None:
    hub = key("index.docker.io")
    assert lookup([hub], parse_image("localhost/app") or "") == [hub]
    assert lookup([hub], parse_image("Registry/app") or "") == [hub]
    assert lookup([hub], parse_image("localhost:5000/app") or "") == []


def test_single_star_key_matches_every_single_label_host() -> None:
    assert for_image(["*"], "localhost/app") == ["*"]
    assert for_image(["*"], "nginx") == []


def test_image_without_domain_still_looked_up_by_its_name() -> None:
    assert for_image(["foo_bar.com"], "foo_bar.com/app") == ["foo_bar.com"]


# --- Go's net/url, not urllib -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("quay.io?x=1", "quay.io"),  # a query is cut off, even a glob '?'
        ("registry?.example.com", "registry"),
        ("quay.io#frag", "quay.io"),
        ("user:pa$$@quay.io", "quay.io"),
        ("u@s@quay.io", "quay.io"),  # the last '@' ends the userinfo
        ("quay.io:", "quay.io:"),  # an empty port is valid
        ("quay.io/a%2Fb", "quay.io/a/b"),  # the path is stored decoded
        ("%C3%A9.example.com", "é.example.com"),  # escapes allowed for non-ASCII host bytes
        ("[::1]:5000", "[::1]:5000"),
        ("[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]"),  # IPv4-mapped is still IPv6
        ("[::ffff:0.0.0.0]", "[::ffff:0.0.0.0]"),  # a lone 0 is no leading zero
        ("[::ffff:255.255.255.255]", "[::ffff:255.255.255.255]"),
        ("[::1.2.3.4]", "[::1.2.3.4]"),
        ("[1:2:3:4:5:6:1.2.3.4]", "[1:2:3:4:5:6:1.2.3.4]"),  # IPv4 in the last 32 bits
        ("a:b:80", "a:b:80"),  # only the last colon starts the port (Go 1.25)
        ("HTTPS://quay.io", "HTTPS://quay.io"),  # scheme prefixes are case-sensitive
        ("oci://quay.io", "oci://quay.io"),
        ("", ""),
    ],
)
def test_key_normalisation_the_go_way(raw: str, normalized: str) -> None:
    assert key(raw).normalized == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "quay.io:abc",  # port must be digits
        "quay.io:80x",
        "quay.io:x5000",
        "%41.example.com",  # ASCII bytes may not be escaped in a host
        "quay.io/%zz",
        "quay.io/%4",
        "quay.io#%zz",  # the fragment's escapes are checked too
        "qu ay.io",
        "quay.io\n",  # control characters
        "quay.io/a\nb",  # anywhere, as Go's url.Parse checks the whole string
        "quay.io/a\x7fb",
        "quay\\.io",
        "quay.io{1}",
        "us er@quay.io",  # invalid userinfo
        "u%zz@quay.io",
        "f[a-z]o.example.com",  # '[' only opens an IPv6 literal (CVE-2025-47912)
        "[1.2.3.4]",  # IPv4 in brackets
        "[::ffff:1.2.3.256]",  # netip parseIPv4Fields: each field at most 255,
        "[::ffff:01.2.3.4]",  # no leading zero,
        "[::ffff:1.2.3]",  # exactly four fields,
        "[::ffff:1.2.3.4.5]",
        "[::ffff:1..2.3]",  # none empty,
        "[::ffff:1.2.3.]",
        "[::ffff:1.2.3.a]",  # digits only
        "[1:2:3:4:5:1.2.3.4]",  # IPv4 only in the last 32 bits
        "[v1.x]",
        "[::1",
        "[::1]x",
        "[::1::]",
        "[12345::]",
        "[fe80::1%25en0]:5000",  # zone decoded in Add, then '%en' fails to parse in Lookup
    ],
)
def test_keys_the_kubelet_skips_or_never_matches(raw: str) -> None:
    assert parse_key(raw) is None


IPV6_OK = ["::", "::1", "1::", "1::8", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8"]
IPV6_OK += ["ffff::", "FFFF:0:0::", "fe80::1%en0", "::ffff:1.2.3.4"]
IPV6_BAD = ["", "abc", "00000::", "fe80::1%", "::g", ":1", "1:", "1::g", "1::2::3", "1:2:3:4:5:6:7"]
IPV6_BAD += ["1:2:3:4:5:6:7:8:9", "::1:2:3:4:5:6:7:8", "1:2:3:4::5:6:7:8"]


def test_bracketed_hosts_hold_what_netip_parses_as_ipv6() -> None:
    """netip `ParseAddr` decides `[...]` hosts: at most 4 hex digits a group, 8 groups or one
    `::` for at least one, a non-empty zone."""
    for address, ok in [(a, True) for a in IPV6_OK] + [(a, False) for a in IPV6_BAD]:
        host = b"[" + address.replace("%", "%25").encode() + b"]"
        assert (parse_url(host) is not None) is ok, address


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (b"a%25b.example.com", b"a%b.example.com"),  # '%' may be escaped in a host
        (b"%80.example.com", b"\x80.example.com"),  # non-ASCII bytes may
        (b"[fe80::1%25en0]", b"[fe80::1%en0]"),
        (b"[fe80::1%25en%200]", b"[fe80::1%en 0]"),  # a zone may escape a space,
        (b"[fe80::1%25en%41]", b"[fe80::1%enA]"),  # and what a host holds unescaped
        (b"[fe80::1%25a%20%25]", b"[fe80::1%a %]"),  # the first %25 starts the zone
        (b"[fe80::1%25en%2F]", None),  # '/' is neither
        (b"[fe%380::1%25en0]", None),  # ASCII escapes before the zone are still errors,
        (b"[%3A%3A1]", None),  # and in a bracketed host without one
        (b"%7A.example.com", None),
        (b"quay.io/%g1", None),
        (b"quay.io/%2F%zz", None),  # every escape is checked, not only the first
        (b"quay.io/%2F%", None),
    ],
)
def test_hosts_and_zones_unescape_the_go_way(url: bytes, host: bytes | None) -> None:
    parsed = parse_url(url)
    assert (parsed[0] if parsed else None) == host


def test_escapes_at_the_end_and_non_ascii_hosts() -> None:
    assert key("quay.io/a%2F").normalized == "quay.io/a/"
    assert key("quay.io/a b").normalized == "quay.io/a b"  # a space is no control character
    assert key("\u0100.example.com").labels[0] == b"\xc4\x80"


@pytest.mark.parametrize(
    ("host", "labels", "port"),
    [
        (b"quay.io:5000", (b"quay", b"io"), b"5000"),
        (b"[::1]:5000", (b"::1",), b"5000"),
        (b":5000", (b"",), b"5000"),
        (b"quay.io", (b"quay", b"io"), b""),  # net.SplitHostPort fails: the whole Host is split
        (b"a:b:80", (b"a:b:80",), b""),  # too many colons
        (b"[a]b]:80", (b"[a]b]:80",), b""),  # the first ']' must end the brackets
        (b"[[a]:80", (b"[[a]:80",), b""),
        (b"]a:80", (b"]a:80",), b""),
        (b"a[b:80", (b"a[b:80",), b""),
        (b"a]b:80", (b"a]b:80",), b""),
    ],
)
def test_split_url_the_go_way(host: bytes, labels: tuple[bytes, ...], port: bytes) -> None:
    assert split_url(host) == (labels, port)


def test_ports_compare_whole() -> None:
    assert for_image(["quay.io:5000"], "quay.io:6000/app") == []


def test_a_malformed_glob_label_matches_nothing() -> None:
    # Split at its dots, an IPv4-mapped key leaves an unterminated class in its first label.
    assert lookup([key("[::ffff:1.2.3.4]")], "[::ffff:1.2.3.4]/app") == []


def test_ipv6_keys() -> None:
    assert for_image(["[::1]:5000"], "[::1]:5000/app") == ["[::1]:5000"]
    assert for_image(["[::1]:5000"], "[0::1]:5000/app") == []  # compared as text
    # Without a port, SplitHostPort fails and "[::1]" becomes a glob class that cannot match.
    assert for_image(["[::1]"], "[::1]/app") == []
    assert lookup([key("[::1]:5000")], "[::1::]:5000/app") == []  # image fails url.Parse


def test_non_ascii_key_labels_compare_as_utf8_bytes() -> None:
    assert key("%C3%A9.example.com").labels == (b"\xc3\xa9", b"example", b"com")
    assert key("%FF.example.com").labels[0] == b"\xff"
    assert lookup([key("%FF.example.com")], "a.example.com/app") == []


# --- Go's filepath.Match, not fnmatch ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("[!a]", "b", False),  # '!' is no negation in Go
        ("[!a]", "!", True),
        ("[^a]", "b", True),
        ("*", "a/b", False),  # '*' and '?' never match '/'
        ("?", "/", False),
        ("a*", "A", False),  # case-sensitive
        ("\\*", "*", True),
        ("[a-c]", "b", True),
        ("?", "é", True),  # '?' is one rune, not one byte
        ("b", "ab", False),  # no star, no search
        ("a?", "ba", False),
        ("[*]", "*", True),  # a '*' in a class ends no chunk
        ("\\**", "*abc", True),  # an escaped '*' then a star
    ],
)
def test_glob_differs_from_fnmatch(pattern: str, name: str, expected: bool) -> None:
    assert path_match(pattern, name) is expected


@pytest.mark.parametrize(
    ("pattern", "name"), [("a[", "x"), ("[]", "a"), ("x\\", "x"), ("[z-", "z")]
)
def test_malformed_globs_are_errors(pattern: str, name: str) -> None:
    with pytest.raises(BadPattern):
        path_match(pattern, name)


@pytest.mark.parametrize("pattern", [b"[\xff]", b"[a-\xff]", b"[\x80-z]", b"[\xc3]"])
def test_invalid_utf8_in_a_class_is_malformed(pattern: bytes) -> None:
    """Go's getEsc: an invalid encoding in a class is ErrBadPattern (a key label such as %FF)."""
    with pytest.raises(BadPattern):
        glob(pattern, b"b")


def test_a_real_replacement_character_in_a_class_is_fine() -> None:
    assert path_match("[\ufffd]", "\ufffd")
    assert path_match("[a-\ufffd]", "b")


def plain_decode_rune(s: bytes) -> tuple[int, int]:
    """Go's `utf8.DecodeRune` by the strict UTF-8 decoder: the shortest prefix that is one
    character (surrogates, overlong forms and values past U+10FFFF are none), else (U+FFFD, 1)."""
    for size in range(1, 5):
        with contextlib.suppress(UnicodeDecodeError):
            text = s[:size].decode("utf-8")
            if len(text) == 1:
                return ord(text), size
    return 0xFFFD, 1


TAILS = [b"", b"\x80", b"\xbf", b"\x80\x80", b"\x9f\xbf", b"\xa0\x80", b"\xbf\xbf"]
TAILS += [b"\x80\x80\x80", b"\x8f\xbf\xbf", b"\x90\x80\x80", b"\xbf\xbf\xbfx", b"a"]


def test_decode_rune_agrees_with_the_utf8_decoder() -> None:
    for lead in range(256):
        for tail in TAILS:
            s = bytes([lead]) + tail
            assert _decode_rune(s) == plain_decode_rune(s), s


# --- properties -------------------------------------------------------------------------------

KEY_TEXT = st.text(alphabet="abcio.*?[]^-\\:/%25@#09", max_size=20)
IMAGES = st.sampled_from(
    ["nginx", "quay.io/team/app", "a.b.io:5000/x/y", "[::1]:5000/app", "localhost/app"]
)


@given(st.text())
def test_parse_key_never_raises(raw: str) -> None:
    parsed = parse_key(raw)
    assert parsed is None or parsed.raw == raw


def plain_glob(pattern: str, name: str) -> bool | None:
    """Go's `filepath.Match` for a `name` without '/', written plainly: parse the whole pattern
    into tokens (None where it is malformed anywhere, as Go reports it), then backtrack.

    Without a '/' in the name, Go's chunk-by-chunk search that never backtracks gives the same
    answer as full backtracking: every chunk has a fixed width and is followed by a star.
    """
    tokens: list[tuple[str, Any]] = []
    i = 0

    def escaped(at: int) -> tuple[str, int] | None:
        """One class bound: never '-' or ']' unescaped, and never the pattern's last char."""
        if at >= len(pattern) or pattern[at] in "-]":
            return None
        if pattern[at] == "\\":
            at += 1
        if at + 1 >= len(pattern):
            return None
        return pattern[at], at + 1

    while i < len(pattern):
        c = pattern[i]
        if c in "*?":
            tokens.append((c, None))
            i += 1
        elif c == "\\":
            if i + 1 == len(pattern):
                return None
            tokens.append(("=", pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negated = pattern[i : i + 1] == "^"
            i += negated
            ranges: list[tuple[str, str]] = []
            while not (pattern[i : i + 1] == "]" and ranges):
                low = escaped(i)
                if low is None:
                    return None
                high = low
                if pattern[low[1] : low[1] + 1] == "-":
                    high = escaped(low[1] + 1)
                    if high is None:
                        return None
                ranges.append((low[0], high[0]))
                i = high[1]
            tokens.append(("[", (negated, ranges)))
            i += 1
        else:
            tokens.append(("=", c))
            i += 1

    @functools.cache
    def match(t: int, s: int) -> bool:
        if t == len(tokens):
            return s == len(name)
        kind, arg = tokens[t]
        if kind == "*":
            return any(match(t + 1, at) for at in range(s, len(name) + 1))
        if s == len(name):
            return False
        char = name[s]
        if kind == "?":
            fits = True
        elif kind == "=":
            fits = char == arg
        else:
            negated, ranges = arg
            fits = any(low <= char <= high for low, high in ranges) != negated
        return fits and match(t + 1, s + 1)

    return match(0, 0)


GLOB_TEXT = st.text(alphabet="ab-^*?[]\\é/", max_size=10)
LABEL_TEXT = st.text(alphabet="ab-^]*?[\\é", max_size=8)


@given(GLOB_TEXT, LABEL_TEXT)
@example("[a-]", "a")  # a bound missing after '-'
@example("a*[", "b")  # malformed after a mismatch is still malformed
@example("[^a-b]b", "éb")  # a class is one rune, not one byte
@example("*a*?b", "aaéb")
def test_path_match_agrees_with_a_plain_glob(pattern: str, name: str) -> None:
    expected = plain_glob(pattern, name)
    if expected is None:
        with pytest.raises(BadPattern):
            path_match(pattern, name)
    else:
        assert path_match(pattern, name) is expected


VALID_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@given(VALID_TEXT, VALID_TEXT)
def test_path_match_on_any_text(pattern: str, name: str) -> None:
    """BadPattern exactly for malformed patterns, whatever the name; else the plain answer."""
    if plain_glob(pattern, "") is None:
        with pytest.raises(BadPattern):
            path_match(pattern, name)
        return
    result = path_match(pattern, name)
    if "/" not in name:
        assert result is plain_glob(pattern, name)


@given(st.lists(KEY_TEXT, max_size=8), IMAGES)
def test_lookup_is_deterministic(raw_keys: list[str], image: str) -> None:
    keys = [k for k in map(parse_key, raw_keys) if k is not None]
    name = parse_image(image)
    assert name is not None
    first = lookup(keys, name)
    assert lookup(keys, name) == first
    assert lookup(keys, name.name) == first
    again = lookup(list(reversed(keys)), name)
    assert sorted(map(id, again)) == sorted(map(id, first))
    if any(key_matches(k, name) for k in keys):
        assert [k.order for k in first] == sorted((k.order for k in first), reverse=True)
