"""Registry keys out of a registry-credential Secret, and nothing else.

The kubelet decodes `.dockerconfigjson` / `.dockercfg` with Go's encoding/json into typed structs
(pkg/credentialprovider/config.go, secrets.go): a wrong type anywhere, or an `auth` that is not
base64 of `user:password`, fails the whole Secret, and then every pull of a pod that lists it.
So the same checks are made here, and such a Secret is reported instead of injected. Credentials
are looked at only to be validated and are never returned or kept. Error messages name the
problem, never the content.

Under `KeyCaps` (every Secret outside the credentials namespace), only the keys kept are checked:
a tenant's Secret of 1 MiB holds 30,000 entries, and checking each cost half a second of the
watch thread per event, so a flood of them left the index further behind with every update.
An entry past the cap that the kubelet would refuse fails only the pods that list that Secret,
in the namespace of whoever wrote it.
"""

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from app.core.credentials.digest import keyed
from app.core.credentials.keyset import KeyCaps

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DATA_KEYS = {DOCKER_CONFIG_JSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}

_BASE64 = re.compile(rb"[A-Za-z0-9+/]*")
_GO_FOLDS = str.maketrans({"\u017f": "s", "\u212a": "k"})

# Copies are byte-identical to their source, so a cluster holds far fewer distinct configs than
# Secrets. Known configs are remembered by a keyed digest (`digest.keyed`), never by content.
_KNOWN_LIMIT = 16384
_known: dict[bytes, tuple[tuple[str, ...], int]] = {}


class BadDockerConfig(ValueError):
    """A credential Secret whose data the kubelet could not read."""


def registry_keys(secret_type: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The registry keys of a Secret's `data` (base64 values, as the API returns them).

    Sorted and unique; empty when the kubelet would skip the Secret (its data key missing or
    empty). Raises BadDockerConfig when the kubelet would fail to read it.
    """
    return capped_registry_keys(secret_type, data, None)[0]


def capped_registry_keys(
    secret_type: str, data: Mapping[str, Any], caps: KeyCaps | None
) -> tuple[tuple[str, ...], int]:
    """As `registry_keys`, with at most `caps.per_secret` keys of at most `caps.length`
    characters (the first in sorted order), and how many keys were left out."""
    field = _data_key(secret_type)
    encoded = data.get(field)
    if encoded is None or encoded == "":
        return (), 0
    if not isinstance(encoded, str):
        raise BadDockerConfig(f"data[{field}] must be a base64 string")
    digest = keyed(field.encode(), encoded.encode("utf-8", "surrogatepass"), repr(caps).encode())
    known = _known.get(digest)
    if known is None:
        known = _decode(secret_type, field, encoded, caps)
        if len(_known) >= _KNOWN_LIMIT:
            _known.clear()
        _known[digest] = known
    return known


def _decode(
    secret_type: str, field: str, encoded: str, caps: KeyCaps | None
) -> tuple[tuple[str, ...], int]:
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadDockerConfig(f"data[{field}] is not valid base64") from None
    return _keys(secret_type, payload, caps)


def registry_keys_from_config(secret_type: str, payload: bytes | str) -> tuple[str, ...]:
    """As `registry_keys`, for the decoded content of the data key (e.g. from `stringData`)."""
    return _keys(secret_type, payload, None)[0]


def registry_entries(secret_type: str, payload: bytes | str) -> dict[str, Any]:
    """The registry entries of a decoded data key, each checked as the kubelet reads it.

    Only secretless mode's exchange (`registry_auth`) reads what an entry holds, to answer the
    kubelet within one request; everything else keeps only the keys.
    """
    field = _data_key(secret_type)
    entries = _entries(secret_type, field, payload)
    for entry in entries.values():
        _check_entry(entry, field)
    return entries


def _keys(
    secret_type: str, payload: bytes | str, caps: KeyCaps | None
) -> tuple[tuple[str, ...], int]:
    """The keys, each checked, and how many the caps left out (unchecked)."""
    field = _data_key(secret_type)
    entries = _entries(secret_type, field, payload)
    chosen: Iterable[str] = entries if caps is None else _first_fitting(entries, caps)
    keys = set()
    for key in chosen:
        _check_entry(entries[key], field)
        keys.add(_go_text(key))
    return tuple(sorted(keys)), len(entries) - len(keys)


def _entries(secret_type: str, field: str, payload: bytes | str) -> dict[str, Any]:
    """The registry entries, not yet checked."""
    if not payload:
        return {}
    document = _load(payload, field)
    if secret_type == DOCKER_CONFIG_JSON:
        return _auths(document, field)
    return _object_or_null(document, f"{field} must be a JSON object")


def _first_fitting(entries: dict[str, Any], caps: KeyCaps) -> list[str]:
    """The first `caps.per_secret` keys in sorted order of at most `caps.length` characters.

    Sorted whole (in C), then read only until enough fit: looking at each of 30,000 keys in
    Python cost more than everything else read from the Secret.
    """
    first: list[str] = []
    for key in sorted(entries):
        if len(first) == caps.per_secret:
            break
        if len(key) <= caps.length:
            first.append(key)
    return first


def _data_key(secret_type: str) -> str:
    field = DATA_KEYS.get(secret_type)
    if field is None:
        raise BadDockerConfig(f"type {secret_type!r} is not a registry credential type")
    return field


def _load(payload: bytes | str, field: str) -> Any:
    """JSON as Go's decoder reads it.

    orjson refuses a few documents Go accepts: invalid UTF-8 and lone surrogate escapes (Go
    reads U+FFFD) and numbers beyond a double; the standard library reads those, NaN excepted.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadDockerConfig(f"{field} is not valid JSON") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _go_text(text: str) -> str:
    """Lone surrogates as U+FFFD, as Go's decoder leaves them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _folds_to(name: str, target: str) -> bool:
    """Go's encoding/json field matching: ASCII case-insensitive, plus the two non-ASCII letters
    Go folds onto ASCII ones (long s onto 's', the Kelvin sign onto 'k')."""
    folded = name.translate(_GO_FOLDS)
    return len(folded) == len(target) and folded.isascii() and folded.lower() == target


def _object_or_null(value: Any, problem: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadDockerConfig(problem)
    return value


def _auths(document: Any, field: str) -> dict[str, Any]:
    """`DockerConfigJSON.Auths`: every case variant of "auths" lands in the same map.

    A null variant resets the map, a later object adds to it; `HttpHeaders` must be a map of
    strings, as the struct declares it.
    """
    top = _object_or_null(document, f"{field} must be a JSON object")
    auths: dict[str, Any] = {}
    for name, value in top.items():
        if _folds_to(name, "auths"):
            if value is None:
                auths = {}
            else:
                auths.update(_object_or_null(value, f"{field}: auths must be an object"))
        elif _folds_to(name, "httpheaders"):
            headers = _object_or_null(value, f"{field}: HttpHeaders must be an object")
            if not all(v is None or isinstance(v, str) for v in headers.values()):
                raise BadDockerConfig(f"{field}: HttpHeaders values must be strings")
    return auths


def _check_entry(entry: Any, field: str) -> None:
    """`DockerConfigEntry.UnmarshalJSON`: string fields, and an `auth` of base64(user:password)."""
    fields = _object_or_null(entry, f"{field}: every registry entry must be an object")
    auth = ""
    for name, value in fields.items():
        known = next(
            (k for k in ("username", "password", "email", "auth") if _folds_to(name, k)), None
        )
        if known is None or value is None:
            continue
        if not isinstance(value, str):
            raise BadDockerConfig(f"{field}: {known} of a registry entry must be a string")
        if known == "auth":
            auth = value
    if auth and not _valid_auth(auth):
        raise BadDockerConfig(f"{field}: auth of a registry entry is not base64(username:password)")


def entry_login(entry: Any) -> tuple[str, str] | None:
    """An entry's user name and password as the kubelet reads them: `auth`, when set, wins over
    `username` and `password`. None when the entry has neither."""
    found: dict[str, str] = {}
    for name, value in (entry or {}).items():
        known = next((k for k in ("username", "password", "auth") if _folds_to(name, k)), None)
        if known is not None and isinstance(value, str):
            found[known] = value
    if found.get("auth"):
        return decode_auth(found["auth"])
    if "username" in found or "password" in found:
        return found.get("username", ""), found.get("password", "")
    return None


def _valid_auth(field: str) -> bool:
    return decode_auth(field) is not None


def decode_auth(field: str) -> tuple[str, str] | None:
    """`decodeDockerConfigFieldAuth`: padded or raw standard base64 (CR/LF ignored), with a ':';
    the user name and password, or None where the kubelet fails."""
    data = field.replace("\r", "").replace("\n", "").encode("utf-8", "replace")
    if field.strip().endswith("="):
        # Go wants exactly the padding that completes the last quantum; Python takes more.
        body = data.rstrip(b"=")
        if len(data) % 4 or len(data) - len(body) != -len(body) % 4:
            return None
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        if len(data) % 4 == 1 or not _BASE64.fullmatch(data):
            return None
        decoded = base64.b64decode(data + b"=" * (-len(data) % 4))
    user, colon, password = decoded.decode("utf-8", "replace").partition(":")
    return (user, password) if colon else None
