"""The mutation score per core module, from the results `mutmut run` leaves in mutants/.

mutmut reports one total; the goal in docs/testing.md is per module: at least 90% of the
non-equivalent mutants killed. The equivalent mutants are the ones docs/testing.md lists, each
with the reason (a line "- `NAME`: why"); any other survivor is listed for `mutmut show NAME`.

mutmut files exit code 255 under "timeout", but with `process_isolation = "forkserver"` it is a
worker whose pytest run raised (such as node ids that pytest could not find): no test ran, so
it is no kill. Such mutants, and mutants never checked, make the run invalid. Exit status 1 for
an invalid run or a module under the goal.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

GOAL = 90.0
KILLED = {"killed", "timeout", "caught by type check"}
INVALID = {"error", "not checked", "suspicious"}
LISTED = re.compile(r"^- `(app\.core\.[^`]+)`", re.MULTILINE)


def status(code: int | None) -> str:
    return "error" if code == 255 else status_by_exit_code[code]


def main() -> int:
    metas = sorted(Path("mutants").glob("app/**/*.py.meta"))
    if not metas:
        print("no results in mutants/: run `make mutation` first", file=sys.stderr)
        return 2
    equivalent = set(LISTED.findall(Path("docs/testing.md").read_text(encoding="utf-8")))
    survivors: list[str] = []
    invalid: list[str] = []
    below: list[str] = []
    print(f"{'module':32} {'mutants':>7} {'killed':>7} {'equiv.':>7} {'survived':>8} {'score':>7}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = {name: status(code) for name, code in codes.items()}
        counts = Counter(statuses.values())
        killed = sum(counts[s] for s in KILLED)
        alive = [n for n, s in statuses.items() if s == "survived"]
        unexplained = [n for n in alive if n not in equivalent]
        module = str(meta.relative_to("mutants")).removesuffix(".py.meta").replace("/", ".")
        tested = killed + len(unexplained)
        score = 100 * killed / tested if tested else 100.0
        if score < GOAL:
            below.append(module)
        print(
            f"{module:32} {len(codes):>7} {killed:>7} {len(alive) - len(unexplained):>7}"
            f" {len(unexplained):>8} {score:>6.1f}%"
        )
        survivors += unexplained
        invalid += [n for n, s in statuses.items() if s in INVALID]
    print(f"\n{len(survivors)} survived and are not listed as equivalent in docs/testing.md:")
    for name in survivors:
        print(f"  {name}")
    if invalid:
        print(f"\ninvalid run: {len(invalid)} mutants errored or unchecked, e.g.:", file=sys.stderr)
        for name in invalid[:10]:
            print(f"  {name}", file=sys.stderr)
    if below:
        print(f"\nunder {GOAL:.0f}%: {', '.join(below)}", file=sys.stderr)
    return 1 if invalid or below else 0


if __name__ == "__main__":
    sys.exit(main())
