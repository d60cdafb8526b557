"""Go's `net/url` parsing, as far as the kubelet's keyring uses it (pure).

The kubelet parses registry keys and image names with `url.Parse` (Go 1.25, with the
bracketed-host fix of CVE-2025-47912); urllib accepts and rejects other strings, so the Go rules
are emulated here on UTF-8 bytes. Upstream: go/src/net/url/url.go.
"""

_HOST_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,;=:[]<>\"-_.~"
)
_USERINFO_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


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


def parse_url(after_slashes: bytes) -> tuple[bytes, bytes] | None:
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


def split_url(host: bytes) -> tuple[tuple[bytes, ...], bytes]:
    """`SplitURL`: host labels and port; without a parsable port the whole Host is split."""
    split = _split_host_port(host)
    name, port = split if split is not None else (host, b"")
    return tuple(name.split(b".")), port
