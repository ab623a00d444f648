#!/usr/bin/env python3
"""Two builds of PWS side by side: `compare.py DIST_A DIST_B` boots one Debian 12 container
per build (each as `make bench` does), sets up the same sites in both, then times mksite and
unchanged deploys in turns, A then B, so the load of a shared machine falls on both alike.
Prints the median total and step breakdown of each (the "… step done (N s)" lines)."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import bench
import container

RUNS = 3
COMMANDS = {
    "mksite wsgi (warm)": lambda i: f"mksite wsgi tw{i} --app tiny:app --from /root/tiny --yes",
    "mksite django (warm)": lambda i: f"mksite django td{i} --yes",
    "deploy wsgi, unchanged": lambda i: "pws deploy hello --from /root/hello",
    "deploy django, unchanged": lambda i: "pws apply dj",
}


def main() -> int:
    dists = [Path(a) for a in sys.argv[1:3]]
    image = container.ensure_image([*container.system_image_packages(), "wrk"])
    wheels = container.ensure_wheelhouse(container.site_requirements())
    with container.Container(image, wheels) as ct_a, container.Container(image, wheels) as ct_b:
        benches = []
        for ct, dist in ((ct_a, dists[0]), (ct_b, dists[1])):
            container.install_debs(ct, container.find_debs(dist))
            b = bench.Bench(ct)
            bench.setup(b)
            b.sh("mksite wsgi tw-first --app tiny:app --from /root/tiny --yes; "
                 "mksite django td-first --yes")
            benches.append(b)
        results = {label: ([], []) for label in COMMANDS}
        for label, cmd in COMMANDS.items():
            for i in range(RUNS):
                for side, b in enumerate(benches):
                    results[label][side].append(bench.timed_steps(b, cmd(i)))
    for label, sides in results.items():
        print(f"\n{label}")
        totals = []
        for name, runs in zip(("A", "B"), sides):
            total = statistics.median(t for t, _ in runs)
            totals.append(total)
            names = list(dict.fromkeys(n for _, s in runs for n in s))
            parts = {n: statistics.median(s.get(n, 0.0) for _, s in runs) for n in names}
            print(f"  {name} {dists[0 if name == 'A' else 1]}: {total:.2f} s = "
                  + ", ".join(f"{n} {v:.2f}" for n, v in parts.items() if v >= 0.005))
        print(f"  B/A {totals[1] / totals[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
