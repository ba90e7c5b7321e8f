"""Swarm simulator benchmark: prints one JSON document.

Robot-ticks per second at N = 20 (alone and 450 runs side by side), 1,000 and 10,000 robots;
contract votes per second through the same SwarmDecision bytecode on pyrevm and on the embedded
web3 chain (batched and one vote per transaction, with ratios); wall time of the AAMAS 2018
reproduction sweep. Medians of repeated runs.

    .venv/bin/python benchmarks/swarm.py [--quick] [--skip-sweep]
"""

from __future__ import annotations

import argparse
import json

from swarm_sim.bench import run_benchmarks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller measurements")
    parser.add_argument("--skip-sweep", action="store_true", help="do not time the sweep")
    args = parser.parse_args()
    print(json.dumps(run_benchmarks(quick=args.quick, sweep=not args.skip_sweep), indent=2))


if __name__ == "__main__":
    main()
