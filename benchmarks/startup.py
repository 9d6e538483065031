"""How long `wanqi` takes to start, next to a bare `python -c pass` on the same machine in the same run.

Runs each command N times from a temporary folder outside the checkout (a fresh database for the data
commands) and prints the median and the best wall time, and the ratio to `python -c pass`. The machine is
shared and noisy: compare the ratios of one run, not figures across runs.

    .venv/bin/python benchmarks/startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WANQI = str(Path(sys.executable).parent / "wanqi")


def timed(argv: list[str], cwd: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    from tests.support import create_database, write_config

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = str(write_config(folder))
        create_database(Path(config))
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("wanqi --version", [WANQI, "--version"]),
            ("wanqi --help", [WANQI, "--help"]),
            ("wanqi staff --help", [WANQI, "staff", "--help"]),
            ("wanqi staff list", [WANQI, "--config", config, "staff", "list"]),
            ("wanqi db backup", [WANQI, "--config", config, "db", "backup", str(folder / "b.db")]),
            ("wanqi policies validate", [WANQI, "--config", config, "policies", "validate"]),
        ]
        results = {name: timed(argv, folder, args.repeat) for name, argv in cases}
    base = statistics.median(results["python -c pass"])
    print(f"{'command':<26}{'median':>10}{'best':>10}{'× pass':>9}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<26}{median * 1000:>8.0f} ms{min(times) * 1000:>7.0f} ms{median / base:>9.1f}")


if __name__ == "__main__":
    main()
