"""Go's `path/filepath.Match` on Unix, the glob the kubelet applies to each host label (pure).

fnmatch differs from it (no `/` rule, other escapes, other errors), so Go's rules are emulated on
UTF-8 bytes. Upstream: go/src/path/filepath/match.go.
"""

from app.core.images.go_string import go_bytes

_SLASH = 0x2F


class BadPattern(ValueError):
    """Go's `filepath.ErrBadPattern`: the kubelet treats such a key label as matching nothing."""


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


def glob(pattern: bytes, name: bytes) -> bool:
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
    return glob(go_bytes(pattern), go_bytes(name))
