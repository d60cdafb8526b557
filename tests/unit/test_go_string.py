"""Go strings are UTF-8 bytes; a lone surrogate is U+FFFD, as Go's JSON decoder leaves it."""

from app.core.images.go_string import go_bytes


def test_go_bytes() -> None:
    assert go_bytes("é.io") == b"\xc3\xa9.io"
    assert go_bytes("a\ud800b\udfff") == b"a\xef\xbf\xbdb\xef\xbf\xbd"
    assert go_bytes("\ud83d\ude00") == "\U0001f600".encode()  # a pair is one rune, as in JSON
