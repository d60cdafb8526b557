"""The progress line: only on a terminal, only after a second, erased at the end."""

import io

from app.shell.cli.progress import Progress


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def run(tty: bool, seconds: list[float]) -> str:
    clock = iter([0.0, *seconds])
    stream = Terminal(tty)
    items = list(Progress(stream, "read", lambda: next(clock)).track(range(len(seconds))))
    assert items == list(range(len(seconds)))
    return stream.getvalue()


def test_a_fast_run_shows_nothing() -> None:
    assert run(True, [0.1, 0.5, 0.9]) == ""


def test_a_slow_run_on_a_terminal_shows_a_count_then_erases_it() -> None:
    out = run(True, [0.5, 1.2, 1.25, 1.4])
    assert out == "\rread: 2 (1s)\rread: 4 (1s)\r\x1b[K"


def test_no_terminal_no_progress() -> None:
    assert run(False, [0.5, 2.0, 3.0]) == ""
