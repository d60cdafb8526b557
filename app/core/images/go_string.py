"""Go strings are UTF-8 bytes: the byte view every Go-parity helper works on (pure)."""


def go_bytes(s: str) -> bytes:
    """UTF-8, with lone surrogates as U+FFFD the way Go's JSON decoder would have left them."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
