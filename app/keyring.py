"""The kubelet's keyring: which registry keys serve an image (pkg/credentialprovider/keyring.go).

`BasicDockerKeyring.Add` turns each key into `host + effectivePath`; `Lookup` re-parses that as a
schemeless URL and matches it with `URLsMatch`: equal ports, as many dot-separated host labels as
the image, each key label a Go `filepath.Match` glob of the image's label, the key path a plain
prefix of the image path. When nothing matched directly, keys that normalise to
`index.docker.io` serve images `isDefaultRegistryMatch` accepts.

Exactness depends on Go's `net/url` (Go 1.25 with the bracketed-host fix of CVE-2025-47912) and
`path/filepath.Match`, which differ from urllib and fnmatch; both are emulated here on UTF-8
bytes, as Go sees strings. Keys are parsed once (`parse_key`) so lookups only compare. Pure.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from app.reference import ImageName

DEFAULT_REGISTRY_HOST = b"index.docker.io"

_SLASH = 0x2F
_HOST_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,;=:[]<>\"-_.~"
)
_USERINFO_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
_GLOB_META = frozenset(b"*?[\\")


class BadPattern(ValueError):
    """Go's `filepath.ErrBadPattern`: the kubelet treats such a key label as matching nothing."""


# --- Go net/url -------------------------------------------------------------------------------

_PATH, _HOST, _ZONE, _USERINFO, _FRAGMENT = range(5)


def _unescape(s: bytes, mode: int) -> bytes | None:
    """`url.unescape`: None where Go returns an EscapeError or InvalidHostError."""
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == 0x25:  # '%'
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                return None
            escape = s[i : i + 3]
            value = int(escape[1:], 16)
            if mode == _HOST and value < 0x80 and escape != b"%25":
                return None
            if mode == _ZONE and escape != b"%25" and value != 0x20 and value not in _HOST_SAFE:
                return None
            i += 3
            continue
        if mode in (_HOST, _ZONE) and c < 0x80 and c not in _HOST_SAFE:
            return None
        i += 1
    if b"%" not in s:
        return s
    out = bytearray()
    i = 0
    while i < n:
        if s[i] == 0x25:
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(s[i])
            i += 1
    return bytes(out)


def _valid_optional_port(port: bytes) -> bool:
    return not port or (port[0] == 0x3A and all(b in _DIGITS for b in port[1:]))


def _ipv4_fields_ok(s: bytes) -> bool:
    """netip `parseIPv4Fields`."""
    value, fields, digits = 0, 0, 0
    for i, c in enumerate(s):
        if c in _DIGITS:
            if digits == 1 and value == 0:
                return False
            value = value * 10 + c - 0x30
            digits += 1
            if value > 255:
                return False
        elif c == 0x2E:
            if i == 0 or i == len(s) - 1 or s[i - 1] == 0x2E or fields == 3:
                return False
            fields, value, digits = fields + 1, 0, 0
        else:
            return False
    return fields == 3


def _ipv6_ok(address: bytes) -> bool:  # noqa: PLR0911, PLR0912 - one branch per netip check
    """netip `parseIPv6`: whether Go accepts the text as an IPv6 address (zone allowed)."""
    s, percent, zone = address.partition(b"%")
    if percent and not zone:
        return False
    ellipsis = -1
    if s.startswith(b"::"):
        ellipsis, s = 0, s[2:]
        if not s:
            return True
    i = 0
    while i < 16:
        off, acc = 0, 0
        while off < len(s) and s[off] in _HEX:
            acc = (acc << 4) + int(s[off : off + 1], 16)
            if off > 3 or acc > 0xFFFF:
                return False
            off += 1
        if off == 0:
            return False
        if off < len(s) and s[off] == 0x2E:
            if (ellipsis < 0 and i != 12) or i + 4 > 16 or not _ipv4_fields_ok(s):
                return False
            s, i = b"", i + 4
            break
        i += 2
        s = s[off:]
        if not s:
            break
        if s[0] != 0x3A or len(s) == 1:
            return False
        s = s[1:]
        if s[0] == 0x3A:
            if ellipsis >= 0:
                return False
            ellipsis, s = i, s[1:]
            if not s:
                break
    if s:
        return False
    return ellipsis >= 0 if i < 16 else ellipsis < 0


def _is_ipv6_literal(s: bytes) -> bool:
    """netip `ParseAddr` succeeds and the address is not IPv4: what a `[...]` host must hold."""
    for c in s:
        if c == 0x3A:
            return _ipv6_ok(s)
        if c in (0x2E, 0x25):
            return False
    return False


def _parse_host(host: bytes) -> bytes | None:
    """`url.parseHost`."""
    open_bracket = host.rfind(b"[")
    if open_bracket > 0:
        return None
    if open_bracket == 0:
        close = host.rfind(b"]")
        colon_port = host[close + 1 :]
        if close < 0 or not _valid_optional_port(colon_port):
            return None
        hostname = host[1:close]
        zone = hostname.find(b"%25")
        if zone >= 0:
            head, tail = _unescape(hostname[:zone], _HOST), _unescape(hostname[zone:], _ZONE)
            unescaped = None if head is None or tail is None else head + tail
        else:
            unescaped = _unescape(hostname, _HOST)
        if unescaped is None or not _is_ipv6_literal(unescaped):
            return None
        return b"[" + unescaped + b"]" + colon_port
    colon = host.rfind(b":")
    if colon != -1 and not _valid_optional_port(host[colon:]):
        return None
    return _unescape(host, _HOST)


def _valid_userinfo(userinfo: bytes) -> bool:
    """`validUserinfo`, then the escapes of user and password that `parseAuthority` decodes."""
    if not all(c in _USERINFO_SAFE for c in userinfo):
        return False
    return all(_unescape(part, _USERINFO) is not None for part in userinfo.split(b":", 1))


def _parse_url(after_slashes: bytes) -> tuple[bytes, bytes] | None:
    """`url.Parse("https://" + after_slashes)`: (Host, Path), or None where Go errors."""
    rest, _, fragment = after_slashes.partition(b"#")
    if fragment and _unescape(fragment, _FRAGMENT) is None:
        return None
    if any(c < 0x20 or c == 0x7F for c in rest):
        return None
    rest = rest.partition(b"?")[0]
    authority, slash, path = rest.partition(b"/")
    at = authority.rfind(b"@")
    host = _parse_host(authority[at + 1 :])
    if host is None:
        return None
    if at >= 0 and not _valid_userinfo(authority[:at]):
        return None
    decoded = _unescape(slash + path, _PATH)
    if decoded is None:
        return None
    return host, decoded


def _split_host_port(hostport: bytes) -> tuple[bytes, bytes] | None:
    """`net.SplitHostPort`, None on error."""
    i = hostport.rfind(b":")
    if i < 0:
        return None
    if hostport.startswith(b"["):
        end = hostport.find(b"]")
        if end < 0 or end + 1 != i:
            return None
        host, j, k = hostport[1:end], 1, end + 1
    else:
        host, j, k = hostport[:i], 0, 0
        if b":" in host:
            return None
    if b"[" in hostport[j:] or b"]" in hostport[k:]:
        return None
    return host, hostport[i + 1 :]


def _split_url(host: bytes) -> tuple[tuple[bytes, ...], bytes]:
    """`SplitURL`: host labels and port; without a parsable port the whole Host is split."""
    split = _split_host_port(host)
    name, port = split if split is not None else (host, b"")
    return tuple(name.split(b".")), port


# --- Go path/filepath.Match -------------------------------------------------------------------


def _decode_rune(s: bytes) -> tuple[int, int]:
    """`utf8.DecodeRuneInString`: (U+FFFD, 1) for any invalid encoding."""
    lead = s[0]
    if lead < 0x80:
        return lead, 1
    size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 0
    if 0xF0 <= lead <= 0xF4:
        size = 4
    if size and len(s) >= size:
        try:
            return ord(s[:size].decode("utf-8")), size
        except UnicodeDecodeError:
            pass
    return 0xFFFD, 1


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern[:1] == b"*":
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == 0x5C:  # '\\'
            if i + 1 < len(pattern):
                i += 1
        elif c == 0x5B:  # '['
            in_range = True
        elif c == 0x5D:  # ']'
            in_range = False
        elif c == 0x2A and not in_range:  # '*'
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    if not chunk or chunk[0] in (0x2D, 0x5D):  # '-' or ']'
        raise BadPattern
    if chunk[0] == 0x5C:
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern
    rune, size = _decode_rune(chunk)
    if (rune == 0xFFFD and size == 1) or len(chunk) == size:
        raise BadPattern
    return rune, chunk[size:]


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:  # noqa: PLR0912 - Go's switch
    """Go's `matchChunk`: the rest of `s`, None on mismatch; the whole chunk is always checked."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == 0x5B:  # '[': character class
            rune = 0
            if not failed:
                rune, size = _decode_rune(s)
                s = s[size:]
            chunk = chunk[1:]
            negated = chunk[:1] == b"^"
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while not (chunk[:1] == b"]" and ranges > 0):
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == 0x2D:
                    hi, chunk = _get_esc(chunk[1:])
                matched = matched or lo <= rune <= hi
                ranges += 1
            chunk = chunk[1:]
            failed = failed or matched == negated
        elif c == 0x3F:  # '?'
            if not failed:
                failed = s[0] == _SLASH
                s = s[_decode_rune(s)[1] :]
            chunk = chunk[1:]
        else:
            if c == 0x5C:  # '\\' escapes the next byte
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern
            if not failed:
                failed = chunk[0] != s[0]
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _glob(pattern: bytes, name: bytes) -> bool:
    """Go's `filepath.Match` on Unix; raises BadPattern where Go returns ErrBadPattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return _SLASH not in name
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        skipped = _skip_to_match(chunk, name, last=not pattern) if star else None
        if skipped is not None:
            name = skipped
            continue
        while pattern:  # Go reports a malformed remainder even after a mismatch
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, b"")
        return False
    return not name


def _skip_to_match(chunk: bytes, name: bytes, *, last: bool) -> bytes | None:
    """The star's search: skip 1, 2, ... bytes (never a '/') until `chunk` matches."""
    i = 0
    while i < len(name) and name[i] != _SLASH:
        rest = _match_chunk(chunk, name[i + 1 :])
        if rest is not None and not (last and rest):
            return rest
        i += 1
    return None


def path_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match(pattern, name)`; raises BadPattern for a malformed pattern."""
    return _glob(_go_bytes(pattern), _go_bytes(name))


# --- keyring ----------------------------------------------------------------------------------


def _go_bytes(s: str) -> bytes:
    """UTF-8, with lone surrogates as U+FFFD the way Go's JSON decoder would have left them."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Target:
    labels: tuple[bytes, ...]
    port: bytes
    path: bytes


def _parse_schemeless(url: bytes) -> _Target | None:
    """`ParseSchemelessURL` then `SplitURL`; None where `URLsMatchStr` would return an error."""
    parsed = _parse_url(url)
    if parsed is None:
        return None
    labels, port = _split_url(parsed[0])
    return _Target(labels, port, parsed[1])


@dataclass(frozen=True, slots=True)
class RegistryKey:
    """A registry key as the kubelet's keyring holds it, parsed once for the hot path.

    `raw` is the key as written in the Secret, `normalized` the keyring index entry it becomes
    (`host + effectivePath`). `globs[i]` says whether `labels[i]` needs Go's glob at all.
    """

    raw: str
    normalized: str
    labels: tuple[bytes, ...]
    port: bytes
    path: bytes
    globs: tuple[bool, ...]
    order: bytes
    docker_hub: bool


@functools.lru_cache(maxsize=65536)
def parse_key(raw: str) -> RegistryKey | None:
    """The key as `BasicDockerKeyring.Add` stores it and `Lookup` re-reads it.

    None when the kubelet skips it (`url.Parse` fails in `Add`) or could never match it (the
    stored `host + path` fails to parse again in `Lookup`, so `URLsMatchStr` always errors).
    Cached: the same keys recur in every namespace, and tables are rebuilt after each change.
    """
    value = _go_bytes(raw)
    if value.startswith(b"https://"):
        value = value[8:]
    elif value.startswith(b"http://"):
        value = value[7:]
    parsed = _parse_url(value)
    if parsed is None:
        return None
    host, path = parsed
    if path.startswith((b"/v2/", b"/v1/")):
        path = path[3:]
    stored = host + path if path and path != b"/" else host
    target = _parse_schemeless(stored)
    if target is None:
        return None
    return RegistryKey(
        raw=raw,
        normalized=stored.decode("utf-8", "replace"),
        labels=target.labels,
        port=target.port,
        path=target.path,
        globs=tuple(not _GLOB_META.isdisjoint(label) for label in target.labels),
        order=stored,
        docker_hub=stored == DEFAULT_REGISTRY_HOST,
    )


def _target(image: ImageName | str) -> _Target | None:
    name = image.name if isinstance(image, ImageName) else image
    return _parse_schemeless(_go_bytes(name))


def _matches(key: RegistryKey, target: _Target) -> bool:
    """`URLsMatch`; a malformed glob label is an error there, so no match."""
    if key.port != target.port or len(key.labels) != len(target.labels):
        return False
    if not target.path.startswith(key.path):
        return False
    if not any(key.globs):
        return key.labels == target.labels
    try:
        for label, wanted, glob in zip(key.labels, target.labels, key.globs, strict=True):
            if not (_glob(label, wanted) if glob else label == wanted):
                return False
    except BadPattern:
        return False
    return True


def key_matches(key: RegistryKey, image: ImageName | str) -> bool:
    """Whether the key matches the image directly (`URLsMatchStr`), Docker Hub fallback aside.

    `image` is a parsed ImageName or the exact string the kubelet's `Lookup` receives.
    """
    target = _target(image)
    return target is not None and _matches(key, target)


def is_default_registry_match(name: str) -> bool:
    """`isDefaultRegistryMatch`: whether Docker Hub keys may serve the image `name`.

    Note the kubelet's rule, not Docker's: any first component without '.' or ':' counts, so
    `localhost/app` and an uppercase single-label domain such as `Foo/app` are included.
    """
    first, slash, _ = name.partition("/")
    if not first:
        return False
    if not slash or first in ("docker.io", "index.docker.io"):
        return True
    return "." not in first and ":" not in first


def lookup(keys: Sequence[RegistryKey], image: ImageName | str) -> list[RegistryKey]:
    """`BasicDockerKeyring.Lookup` over keys added in this order: the keys whose credentials apply.

    Direct matches come in the keyring's order (stored key descending, bytewise; equal stored
    keys in the order given). Only when none matched do keys stored as `index.docker.io` apply,
    to images `is_default_registry_match` accepts. `image` is as for `key_matches`.
    """
    return Keyring(keys).lookup(image)


class Keyring:
    """`lookup` over a fixed set of keys, with the keys bucketed so a lookup reads only the keys
    that could match: those with the image's exact host and port, and globs of the same shape.

    A cluster-wide keyring holds tens of thousands of keys; scanning them all per image would
    cost milliseconds, bucketing costs two dict reads.
    """

    __slots__ = ("_exact", "_globs", "_hub", "keys")

    def __init__(self, keys: Sequence[RegistryKey]) -> None:
        self.keys = tuple(keys)
        self._exact: dict[tuple[tuple[bytes, ...], bytes], list[int]] = {}
        self._globs: dict[tuple[int, bytes], list[int]] = {}
        for position, key in enumerate(self.keys):
            if any(key.globs):
                bucket = self._globs.setdefault((len(key.labels), key.port), [])
            else:
                bucket = self._exact.setdefault((key.labels, key.port), [])
            bucket.append(position)
        self._hub = [position for position, key in enumerate(self.keys) if key.docker_hub]

    def lookup(self, image: ImageName | str) -> list[RegistryKey]:
        """As the module's `lookup` over the keys in the order given."""
        return [self.keys[position] for position in self.positions(image)]

    def positions(self, image: ImageName | str) -> list[int]:
        """Where in `keys` the matching keys stand, in the keyring's order."""
        target = _target(image)
        if target is not None:
            candidates = self._exact.get((target.labels, target.port), []) + self._globs.get(
                (len(target.labels), target.port), []
            )
            candidates.sort()
            direct = [p for p in candidates if _matches(self.keys[p], target)]
            if direct:
                direct.sort(key=lambda p: self.keys[p].order, reverse=True)
                return direct
        name = image.name if isinstance(image, ImageName) else image
        if not is_default_registry_match(name):
            return []
        return list(self._hub)
