"""The kubelet's per-label host globs as anchored RE2, for CEL's `matches` (pure).

CEL cannot run Go's `filepath.Match`, so each key label is translated once, by Go's own grammar
(`scanChunk`, `matchChunk`, `getEsc` in go/src/path/filepath/match.go), into a regex with the
same answers on every host label an image can have: ASCII without `.` or `/` (a valid image
reference has nothing else in its host). On such labels Go's chunk-by-chunk search equals regex
semantics, since every chunk has a fixed length and a star never meets a `/`.

The output stays in the syntax RE2 and Python's `re` share (`\\xHH` escapes, raw non-ASCII,
plain classes; no `\\x{...}`, `\\u`, lookaround), so Python's `re` can be the test oracle's bridge.
Every class that could match a `.` excludes it, so labels joined by `\\.` make one host regex
whose match splits at exactly the host's dots: equal label count and a match per label, as
`URLsMatch` asks.
"""

_DOT, _SLASH, _BACKSLASH, _DASH, _CLOSE, _CARET = 0x2E, 0x2F, 0x5C, 0x2D, 0x5D, 0x5E
_STAR = "[^./]*"
_ONE = "[^./]"


class NeverMatches(ValueError):
    """The label matches no image label: Go's `ErrBadPattern` (the kubelet then skips the key),
    a literal non-ASCII byte, or a class left empty."""


def _char(rune: int) -> str:
    """A rune as a regex atom valid inside and outside a class."""
    if rune >= 0x80:
        return chr(rune)
    return chr(rune) if chr(rune).isalnum() else f"\\x{rune:02x}"


def _rune(pattern: bytes, i: int) -> tuple[int, int]:
    """`utf8.DecodeRune` at `i`; an invalid encoding in a class is ErrBadPattern in Go."""
    lead = pattern[i]
    size = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        return ord(pattern[i : i + size].decode("utf-8")), size
    except UnicodeDecodeError:
        raise NeverMatches("bad pattern") from None


def _get_esc(pattern: bytes, i: int) -> tuple[int, int]:
    """`getEsc`: one class endpoint at `i`, and where the rest starts."""
    if i >= len(pattern) or pattern[i] in (_DASH, _CLOSE):
        raise NeverMatches("bad pattern")
    if pattern[i] == _BACKSLASH:
        i += 1
        if i >= len(pattern):
            raise NeverMatches("bad pattern")
    rune, size = _rune(pattern, i)
    if i + size >= len(pattern):
        raise NeverMatches("bad pattern")
    return rune, i + size


def _class(pattern: bytes, i: int) -> tuple[str, int]:
    """`[...]` from just after its `[`: the regex, and where the rest starts."""
    negated = i < len(pattern) and pattern[i] == _CARET
    i += negated
    ranges: list[tuple[int, int]] = []
    while not (i < len(pattern) and pattern[i] == _CLOSE and ranges):
        lo, i = _get_esc(pattern, i)
        hi = lo
        if pattern[i] == _DASH:
            hi, i = _get_esc(pattern, i + 1)
        ranges.append((lo, hi))
    kept = []
    for lo, hi in ranges:  # Go lets lo > hi match nothing; regex engines reject such a range
        if lo <= _DOT <= hi and not negated:
            kept += [(lo, _DOT - 1), (_DOT + 1, hi)]
        else:
            kept.append((lo, hi))
    kept = [(lo, hi) for lo, hi in kept if lo <= hi]
    if negated:
        kept += [(_DOT, _DOT), (_SLASH, _SLASH)]
    elif not kept:
        raise NeverMatches("empty class")
    body = "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in kept)
    return ("[^" if negated else "[") + body + "]", i + 1


def label_regex(pattern: bytes) -> str:
    """The unanchored regex of one key label (Go glob syntax, UTF-8 bytes).

    Raises NeverMatches when no image label can match it.
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == 0x2A:  # '*'
            out.append(_STAR)
            i += 1
        elif c == 0x3F:  # '?'
            out.append(_ONE)
            i += 1
        elif c == 0x5B:  # '['
            atom, i = _class(pattern, i + 1)
            out.append(atom)
        else:
            if c == _BACKSLASH:
                i += 1
                if i >= len(pattern):
                    raise NeverMatches("bad pattern")
                c = pattern[i]
            if c >= 0x80 or c in (_DOT, _SLASH):
                raise NeverMatches("a literal no image label holds")
            out.append(_char(c))
            i += 1
    return "".join(out)


def host_regex(labels: tuple[bytes, ...]) -> str:
    """The anchored regex of a whole key host: its labels' regexes joined by a literal dot."""
    return "^" + "\\.".join(label_regex(label) for label in labels) + "$"
