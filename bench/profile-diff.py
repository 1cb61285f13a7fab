#!/usr/bin/env python3
"""Where a request's instructions go: the difference between two callgrind profiles of one process run longer
(bench/coldstart.py --callgrind writes NAME.0.out = init, NAME.1.out = + first request, NAME.2.out = + warm one).

    bench/profile-diff.py DIR/NAME.0.out DIR/NAME.1.out    # what the first request adds to init
    bench/profile-diff.py DIR/NAME.1.out DIR/NAME.2.out    # what a warm request costs
    bench/profile-diff.py DIR/NAME.0.out                   # init alone

Prints the total and the functions with the largest inclusive cost difference (instructions, Ir).
"""

import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$")


def inclusive(path):
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs, total = {}, None
    for line in text.splitlines():
        if total is None and "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", "").replace(".", "0"))
            continue
        match = LINE.match(line)
        # "=> callee (Nx)" lines belong to the call tree, not to the per-function totals.
        if match and ":" in match.group(2) and not match.group(2).startswith("=>"):
            name = re.sub(r" \[.*\]$", "", match.group(2))
            costs[name] = costs.get(name, 0) + int(match.group(1).replace(",", ""))
    return total, costs


def main():
    paths = sys.argv[1:]
    if len(paths) not in (1, 2):
        sys.exit(__doc__)
    top = int(os.environ.get("TOP", "40"))
    if len(paths) == 1:
        total, costs = inclusive(paths[0])
    else:
        (base_total, base), (total, costs) = inclusive(paths[0]), inclusive(paths[1])
        total -= base_total
        costs = {name: cost - base.get(name, 0) for name, cost in costs.items()}
    print(f"total: {total:,} instructions")
    for name, cost in sorted(costs.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{cost:>15,} {100 * cost / total:6.1f}%  {name[:160]}")


if __name__ == "__main__":
    main()
