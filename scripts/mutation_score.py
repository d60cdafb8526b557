"""The mutation score per core module, from the results `mutmut run` leaves in mutants/.

mutmut reports one total; the goal in docs/testing.md is per module, so each module's killed
(and timed out) mutants are counted against those the tests were run on, and the survivors are
listed by name for `mutmut show NAME`.

mutmut files exit code 255 under "timeout", but with `process_isolation = "forkserver"` it is a
worker whose pytest run raised (such as node ids that pytest could not find): no test ran, so
it is no kill. Such mutants, and mutants never checked, make the run invalid: exit status 1.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check"}
INVALID = {"error", "not checked", "suspicious"}


def status(code: int | None) -> str:
    return "error" if code == 255 else status_by_exit_code[code]


def main() -> int:
    metas = sorted(Path("mutants").glob("app/**/*.py.meta"))
    if not metas:
        print("no results in mutants/: run `make mutation` first", file=sys.stderr)
        return 2
    survivors: list[str] = []
    invalid: list[str] = []
    print(f"{'module':40} {'killed':>7} {'tested':>7} {'score':>7}  other")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = Counter(status(code) for code in codes.values())
        killed = sum(statuses[s] for s in KILLED)
        tested = killed + statuses["survived"]
        other = {s: n for s, n in statuses.items() if s not in KILLED | {"survived"}}
        module = str(meta.relative_to("mutants")).removesuffix(".py.meta").replace("/", ".")
        score = f"{100 * killed / tested:.1f}%" if tested else "-"
        print(f"{module:40} {killed:>7} {tested:>7} {score:>7}  {other or ''}")
        survivors += [n for n, code in codes.items() if status(code) == "survived"]
        invalid += [n for n, code in codes.items() if status(code) in INVALID]
    print(f"\n{len(survivors)} survived:")
    for name in survivors:
        print(f"  {name}")
    if invalid:
        print(f"\ninvalid run: {len(invalid)} mutants errored or unchecked, e.g.:", file=sys.stderr)
        for name in invalid[:10]:
            print(f"  {name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
