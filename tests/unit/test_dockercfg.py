"""Registry keys out of credential Secrets, with the kubelet's own decoding rules."""

import base64
import json
import string
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.credentials import dockercfg
from app.core.credentials.dockercfg import BadDockerConfig, registry_keys, registry_keys_from_config
from app.core.credentials.keyset import KeyCaps

JSON_TYPE = "kubernetes.io/dockerconfigjson"
CFG_TYPE = "kubernetes.io/dockercfg"
SECRET = "hunter2-very-secret"
AUTH = base64.b64encode(f"robot:{SECRET}".encode()).decode()


def b64(document: Any) -> str:
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    return base64.b64encode(raw).decode()


def json_secret(document: Any) -> dict[str, str]:
    return {".dockerconfigjson": b64(document)}


def test_dockerconfigjson_keys_sorted_unique() -> None:
    data = json_secret(
        {
            "auths": {
                "quay.io": {"auth": AUTH},
                "https://index.docker.io/v1/": {"username": "u", "password": SECRET},
                "*.corp.example": {},
            }
        }
    )
    assert registry_keys(JSON_TYPE, data) == (
        "*.corp.example",
        "https://index.docker.io/v1/",
        "quay.io",
    )


def test_legacy_dockercfg_is_flat() -> None:
    data = {".dockercfg": b64({"registry.example.com:5000": {"auth": AUTH, "email": "a@b"}})}
    assert registry_keys(CFG_TYPE, data) == ("registry.example.com:5000",)


def test_decoded_payload_as_from_string_data() -> None:
    payload = orjson.dumps({"auths": {"quay.io": {}}})
    assert registry_keys_from_config(JSON_TYPE, payload) == ("quay.io",)
    assert registry_keys_from_config(JSON_TYPE, payload.decode()) == ("quay.io",)


@pytest.mark.parametrize(
    ("secret_type", "data"),
    [
        (JSON_TYPE, {}),
        (JSON_TYPE, {".dockerconfigjson": ""}),
        (JSON_TYPE, {".dockercfg": b64({"quay.io": {}})}),  # the other type's key is ignored
        (CFG_TYPE, {".dockerconfigjson": b64({"auths": {"quay.io": {}}})}),
        (JSON_TYPE, json_secret(None)),
        (JSON_TYPE, json_secret({})),
        (JSON_TYPE, json_secret({"auths": None})),
        (CFG_TYPE, {".dockercfg": b64(None)}),
    ],
)
def test_nothing_to_read_is_no_keys(secret_type: str, data: dict[str, str]) -> None:
    assert registry_keys(secret_type, data) == ()


def test_go_json_field_names_are_case_insensitive() -> None:
    assert registry_keys(JSON_TYPE, json_secret({"Auths": {"quay.io": {}}})) == ("quay.io",)
    doc = b'{"auths": {"a.io": {}}, "AUTHS": {"b.io": {}}, "auth\\u017f": {"c.io": {}}}'
    assert registry_keys(JSON_TYPE, json_secret(doc)) == ("a.io", "b.io", "c.io")
    doc = b'{"auths": {"a.io": {}}, "Auths": null, "AUTHS": {"b.io": {}}}'
    assert registry_keys(JSON_TYPE, json_secret(doc)) == ("b.io",)
    with pytest.raises(BadDockerConfig):
        registry_keys(JSON_TYPE, json_secret({"auths": {"q.io": {"AUTH": "not base64"}}}))


@pytest.mark.parametrize(
    "auth",
    [
        base64.b64encode(b"u:p").decode(),
        base64.b64encode(b"u:p").decode().rstrip("="),  # unpadded
        base64.b64encode(b"user:pass").decode()[:4]
        + "\n"
        + base64.b64encode(b"user:pass")[4:].decode(),
        base64.b64encode(b":").decode(),
        "",
    ],
)
def test_valid_auth_fields(auth: str) -> None:
    data = json_secret({"auths": {"quay.io": {"auth": auth}}})
    assert registry_keys(JSON_TYPE, data) == ("quay.io",)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([{"auths": {}}], "must be a JSON object"),
        ("auths", "must be a JSON object"),
        ({"auths": ["quay.io"]}, "auths must be an object"),
        ({"auths": {"quay.io": "x"}}, "must be an object"),
        ({"auths": {"quay.io": {"password": 5}}}, "password of a registry entry must be a string"),
        ({"auths": {"quay.io": {"auth": base64.b64encode(b"nocolon").decode()}}}, "auth"),
        ({"auths": {"quay.io": {"auth": SECRET}}}, "auth"),
        ({"auths": {"quay.io": {"auth": AUTH + "="}}}, "auth"),
        ({"auths": {"quay.io": {"auth": AUTH.rstrip("=") + " "}}}, "auth"),
        ({"auths": {}, "HttpHeaders": {"X": 1}}, "HttpHeaders"),
        ({"auths": {}, "httpheaders": "x"}, "HttpHeaders"),
    ],
)
def test_documents_the_kubelet_cannot_read(document: Any, problem: str) -> None:
    with pytest.raises(BadDockerConfig, match=problem) as raised:
        registry_keys(JSON_TYPE, json_secret(document))
    assert SECRET not in str(raised.value)
    assert "robot" not in str(raised.value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({".dockerconfigjson": "not base64!"}, "not valid base64"),
        ({".dockerconfigjson": 42}, "base64 string"),
        ({".dockerconfigjson": b64(b'{"auths": ')}, "not valid JSON"),
        ({".dockerconfigjson": b64(b'{"auths": {"' + SECRET.encode() + b'": NaN}}')}, "JSON"),
    ],
)
def test_bad_data_messages_never_echo_content(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadDockerConfig, match=problem) as raised:
        registry_keys(JSON_TYPE, data)
    assert SECRET not in str(raised.value)


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(BadDockerConfig):
        registry_keys("Opaque", {})


def test_what_go_accepts_and_orjson_does_not() -> None:
    invalid_utf8 = b'{"auths": {"q\xff.io": {}}}'
    assert registry_keys(JSON_TYPE, json_secret(invalid_utf8)) == ("q\ufffd.io",)
    lone_surrogate = b'{"auths": {"q\\ud800.io": {}}}'
    assert registry_keys(JSON_TYPE, json_secret(lone_surrogate)) == ("q\ufffd.io",)
    huge = b'{"auths": {"q.io": {"identitytoken": 1e999}}}'
    assert registry_keys(JSON_TYPE, json_secret(huge)) == ("q.io",)


def test_only_keys_come_back() -> None:
    keys = registry_keys(JSON_TYPE, json_secret({"auths": {"quay.io": {"auth": AUTH}}}))
    assert all(SECRET not in k and AUTH not in k for k in keys)


def test_a_config_seen_before_is_not_decoded_again_and_not_kept() -> None:
    data = json_secret({"auths": {"remembered.example": {"auth": AUTH}}})
    first = registry_keys(JSON_TYPE, data)
    assert registry_keys(JSON_TYPE, dict(data)) is first
    # The same bytes under the other data key are another config.
    assert registry_keys(CFG_TYPE, {".dockercfg": data[".dockerconfigjson"]}) == ("auths",)
    remembered = repr(dockercfg._known)
    assert SECRET not in remembered
    assert AUTH not in remembered
    assert data[".dockerconfigjson"] not in remembered


def test_an_unreadable_config_fails_every_time() -> None:
    data = json_secret({"auths": {"x.example": {"auth": 5}}})
    for _ in range(2):
        with pytest.raises(BadDockerConfig):
            registry_keys(JSON_TYPE, data)


# --- any document, against a second, plain reading of the kubelet's structs -------------------


class Unreadable(Exception):
    """The plain reading's BadDockerConfig."""


def go_field(name: str) -> str:
    """Go's case-insensitive field match, written another way: long s and Kelvin fold too."""
    return name.replace("\u017f", "s").replace("\u212a", "k").lower()


def plain_auth_ok(field: str) -> bool:
    data = field.replace("\r", "").replace("\n", "")
    body = data.rstrip("=") if field.strip().endswith("=") else data
    padding = len(data) - len(body)
    if not set(body) <= set(string.ascii_letters + string.digits + "+/") or len(body) % 4 == 1:
        return False
    if padding and (len(data) % 4 or padding != -len(body) % 4):
        return False
    return b":" in base64.b64decode(body + "=" * (-len(body) % 4))


def plain_keys(secret_type: str, document: Any) -> tuple[str, ...]:
    if document is None:
        return ()
    if not isinstance(document, dict):
        raise Unreadable
    entries: dict[str, Any] = {}
    if secret_type == CFG_TYPE:
        entries = document
    for name, value in document.items() if secret_type == JSON_TYPE else ():
        if go_field(name) == "auths":
            if value is not None and not isinstance(value, dict):
                raise Unreadable
            entries = {**entries, **value} if value is not None else {}
        elif go_field(name) == "httpheaders" and value is not None:
            strings = isinstance(value, dict) and all(
                v is None or isinstance(v, str) for v in value.values()
            )
            if not strings:
                raise Unreadable
    for entry in entries.values():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise Unreadable
        auth = ""
        for name, value in entry.items():
            if go_field(name) in ("username", "password", "email", "auth") and value is not None:
                if not isinstance(value, str):
                    raise Unreadable
                auth = value if go_field(name) == "auth" else auth
        if auth and not plain_auth_ok(auth):
            raise Unreadable
    return tuple(sorted(entries))


def check_against_plain(secret_type: str, document: Any, payload: bytes) -> None:
    try:
        expected: tuple[str, ...] | type[Unreadable] = plain_keys(secret_type, document)
    except Unreadable:
        expected = Unreadable
    if expected is Unreadable:
        with pytest.raises(BadDockerConfig):
            registry_keys_from_config(secret_type, payload)
    else:
        assert registry_keys_from_config(secret_type, payload) == expected


def auth_field(user: str, password: str, unpadded: bool, newline: int) -> str:
    """base64(user:password), maybe unpadded, maybe with a line break the kubelet ignores."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    auth = auth.rstrip("=") if unpadded else auth
    return auth[:newline] + "\n" + auth[newline:] if newline else auth


AUTHS = st.builds(
    auth_field,
    st.text("ab", max_size=3),
    st.text("ab", max_size=3),
    st.booleans(),
    st.integers(0, 3),
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(["", "x", "YQ==", "YTpi", "YTpi=", " YTpi", "YTo=", "Og", "=", "a==="])
    | AUTHS
    | st.lists(st.none(), max_size=1)
    | st.dictionaries(st.sampled_from(["X", "y"]), st.none() | st.text(max_size=2) | st.just(1))
)
FIELDS = st.sampled_from(
    ["auth", "Auth", "AUTH", "username", "Password", "email", "u\u017fername", "x", "identitytoken"]
)
ENTRIES = st.none() | st.integers() | st.text(max_size=3) | st.dictionaries(FIELDS, VALUES)
HOSTS = st.sampled_from(["quay.io", "a.io", "*.b.io"]) | st.text(max_size=4)
CONFIGS = st.none() | st.text(max_size=3) | st.dictionaries(HOSTS, ENTRIES, max_size=3)
TOP = st.sampled_from(["auths", "Auths", "AUTH\u017f", "HttpHeaders", "httpheaders", "other"])
DOCUMENTS = st.none() | st.lists(st.none(), max_size=1) | st.dictionaries(TOP, CONFIGS | VALUES)


@given(CONFIGS)
def test_any_dockercfg_reads_as_the_plain_reading(document: Any) -> None:
    check_against_plain(CFG_TYPE, document, json.dumps(document).encode())


@given(DOCUMENTS)
def test_any_dockerconfigjson_reads_as_the_plain_reading(document: Any) -> None:
    check_against_plain(JSON_TYPE, document, json.dumps(document).encode())


def no_constants(name: str) -> Any:
    raise ValueError(name)  # Go's decoder has no NaN or Infinity


@given(st.binary(max_size=200))
def test_any_payload_reads_as_the_plain_reading(payload: bytes) -> None:
    """Bytes that are no JSON at all, or JSON that is no config: Go's decoder read as Python's."""
    try:
        document = json.loads(payload.decode("utf-8", "replace"), parse_constant=no_constants)
    except ValueError:
        document = Unreadable
    for secret_type in (JSON_TYPE, CFG_TYPE):
        if not payload:
            assert registry_keys_from_config(secret_type, payload) == ()
        elif document is Unreadable:
            with pytest.raises(BadDockerConfig):
                registry_keys_from_config(secret_type, payload)
        else:
            check_against_plain(secret_type, document, payload)


@pytest.mark.parametrize(
    ("secret_type", "payload", "message"),
    [
        (JSON_TYPE, b'{"auths": ', ".dockerconfigjson is not valid JSON"),
        (JSON_TYPE, b"[]", ".dockerconfigjson must be a JSON object"),
        (JSON_TYPE, b'{"auths": []}', ".dockerconfigjson: auths must be an object"),
        (CFG_TYPE, b"[]", ".dockercfg must be a JSON object"),
        (CFG_TYPE, b'{"r": 1}', ".dockercfg: every registry entry must be an object"),
        (JSON_TYPE, b'{"auths": {"r": {"email": 1}}}', "email of a registry entry must be"),
        (JSON_TYPE, b'{"auths": {"r": {"username": 1}}}', "username of a registry entry"),
    ],
)
def test_messages_name_the_data_key_and_the_field(
    secret_type: str, payload: bytes, message: str
) -> None:
    with pytest.raises(BadDockerConfig) as raised:
        registry_keys_from_config(secret_type, payload)
    assert message in str(raised.value)


def test_message_of_bad_base64_and_of_an_unknown_type() -> None:
    with pytest.raises(BadDockerConfig, match=r"^data\[\.dockercfg\] is not valid base64$"):
        registry_keys(CFG_TYPE, {".dockercfg": "e3!0="})  # not skipped over, as Go does not
    with pytest.raises(BadDockerConfig, match=r"^type 'Opaque' is not a registry credential type$"):
        registry_keys("Opaque", {})


def test_lone_surrogates_in_the_data_are_bad_data_not_a_crash() -> None:
    with pytest.raises(BadDockerConfig):
        registry_keys(JSON_TYPE, {".dockerconfigjson": "e30=\ud800"})
    with pytest.raises(BadDockerConfig, match="auth"):
        registry_keys_from_config(JSON_TYPE, b'{"auths": {"r": {"auth": "\\ud800"}}}')


def test_an_unknown_or_null_field_does_not_end_the_entry_checks() -> None:
    for first in ('"x": 1', '"email": null'):
        payload = f'{{"auths": {{"r": {{{first}, "auth": "bm9jb2xvbg=="}}}}}}'.encode()
        with pytest.raises(BadDockerConfig, match="auth"):
            registry_keys_from_config(JSON_TYPE, payload)


def test_string_headers_and_string_payloads_are_read() -> None:
    headers = b'{"auths": {"r": {}}, "HttpHeaders": {"X-Meta": "v", "Y": null}}'
    assert registry_keys_from_config(JSON_TYPE, headers) == ("r",)
    assert registry_keys_from_config(JSON_TYPE, '{"auths": {"r": {}}, "n": 1e999}') == ("r",)


@pytest.mark.parametrize(
    "auth",
    [
        "dXNl\rcjpwYXNz",  # CR is dropped as LF is, wherever it stands
        "YWI\r6Yw==",  # "ab:c", the ':' split by the CR
        "YWI\n6Yw",
        "dXNlcjpwYXNzZg",  # unpadded, 2 short of a quantum ("user:passf")
        "dXNlcjpwYXNzZmY",  # 1 short ("user:passff")
    ],
)
def test_more_valid_auth_fields(auth: str) -> None:
    assert registry_keys(JSON_TYPE, json_secret({"auths": {"q.io": {"auth": auth}}})) == ("q.io",)


def test_unpadded_auth_one_past_a_quantum_is_invalid() -> None:
    with pytest.raises(BadDockerConfig, match="auth"):
        registry_keys(JSON_TYPE, json_secret({"auths": {"q.io": {"auth": "dXNlcjpwYXNzZ"}}}))


def test_capped_keys_are_the_first_that_fit_and_only_they_are_checked() -> None:
    caps = KeyCaps(per_secret=2, total=100, length=6)
    bad = {"auth": "not base64"}
    auths = {"d.io": bad, "long.io": {}, "b.io": {}, "a.io": {}, "c.io": bad}
    keys, left_out = dockercfg.capped_registry_keys(JSON_TYPE, json_secret({"auths": auths}), caps)
    assert (keys, left_out) == (("a.io", "b.io"), 3)
    with pytest.raises(BadDockerConfig):
        registry_keys(JSON_TYPE, json_secret({"auths": auths}))
    kept_bad = {"auths": {"a.io": bad, "b.io": {}, "c.io": {}}}
    with pytest.raises(BadDockerConfig):
        dockercfg.capped_registry_keys(JSON_TYPE, json_secret(kept_bad), caps)


def test_an_auth_keeps_every_colon_after_the_first_in_the_password() -> None:
    assert dockercfg.decode_auth(base64.b64encode(b"u:p:q").decode().rstrip("=")) == ("u", "p:q")


@pytest.mark.parametrize("field", ["YTpi=", "YTpi==", "YTpi====", "YTo==", "YQ=", "=", "YT*pi==="])
def test_an_auth_with_more_padding_than_its_last_quantum_needs_is_refused(field: str) -> None:
    """Go's StdEncoding refuses "YTpi=" (illegal data at byte 4), and "YT*pi===" (at byte 2);
    Python's b64decode reads both unless it validates."""
    assert dockercfg.decode_auth(field) is None


@pytest.mark.parametrize(
    ("field", "login"),
    [("YTpi", ("a", "b")), ("YTo=", ("a", "")), ("dTpwXX==", ("u", "p]"))],
)
def test_an_auth_with_the_padding_it_needs_or_none_is_read(field: str, login: Any) -> None:
    """ "dTpwXX==" has non-zero bits past its last byte: Go's StdEncoding (not Strict) reads it."""
    assert dockercfg.decode_auth(field) == login


def test_an_auth_that_is_not_utf8_is_read_with_replacement_characters() -> None:
    """Go's string conversion never fails on bad bytes; neither may the index."""
    assert dockercfg.decode_auth(base64.b64encode(b"u\xff:p\xfe").decode().rstrip("=")) == (
        "u\ufffd",
        "p\ufffd",
    )


@pytest.mark.parametrize(
    ("entry", "login"),
    [
        ({"username": "u", "password": "p"}, ("u", "p")),
        ({"Username": "u", "PASSWORD": "p"}, ("u", "p")),  # Go's JSON matches names by case fold
        ({"username": "u"}, ("u", "")),
        ({"password": "p"}, ("", "p")),
        ({"auth": base64.b64encode(b"a:b").decode(), "username": "u", "password": "p"}, ("a", "b")),
        ({"auth": "", "username": "u", "password": "p"}, ("u", "p")),  # an empty auth is unset
        ({"username": 7, "password": "p"}, ("", "p")),  # only strings are read
        ({"email": "e@example.com"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_an_entry_login_is_what_the_kubelet_would_send(entry: Any, login: Any) -> None:
    assert dockercfg.entry_login(entry) == login


def test_registry_entries_are_the_entries_with_what_they_hold() -> None:
    config = {"auths": {"q.example": {"username": "u", "password": "p"}, "r.example": {}}}
    entries = dockercfg.registry_entries("kubernetes.io/dockerconfigjson", json.dumps(config))
    assert entries == config["auths"]
    with pytest.raises(BadDockerConfig):
        dockercfg.registry_entries(
            "kubernetes.io/dockerconfigjson", '{"auths": {"q": {"auth": "!"}}}'
        )


def test_a_key_of_exactly_the_length_cap_is_kept() -> None:
    config = {"auths": {"a" * 8: {}, "b" * 9: {}}}
    data = {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}
    caps = KeyCaps(per_secret=10, total=10, length=8)
    assert dockercfg.capped_registry_keys("kubernetes.io/dockerconfigjson", data, caps) == (
        ("a" * 8,),
        1,
    )
    for empty in ({}, {".dockerconfigjson": ""}):
        assert dockercfg.capped_registry_keys("kubernetes.io/dockerconfigjson", empty, caps) == (
            (),
            0,
        )


def test_a_bad_entry_names_the_data_key_it_is_in() -> None:
    with pytest.raises(BadDockerConfig, match=r"^\.dockerconfigjson: "):
        dockercfg.registry_entries("kubernetes.io/dockerconfigjson", '{"auths": {"q": 1}}')
