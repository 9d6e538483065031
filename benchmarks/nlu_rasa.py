"""Rasa backend on the project's split: train on nlu/data/train, serve, evaluate on nlu/data/test.

Prints macro-F1, accuracy, training time, training peak memory, model load time, server memory
and parse latency. Needs nlu/rasa/.venv (bash nlu/rasa/setup_env.sh).

    .venv/bin/python benchmarks/nlu_rasa.py [--train DIR] [--test DIR] [--epochs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.data_io import load_examples  # noqa: E402
from nlu.evaluate import evaluate  # noqa: E402
from nlu.rasa_client import RasaClassifier, RasaServer, train_rasa  # noqa: E402


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a live process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", default=str(ROOT / "nlu" / "data" / "train"))
    ap.add_argument("--test", default=str(ROOT / "nlu" / "data" / "test"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "rasa"))
    ap.add_argument("--epochs", type=int, default=None, help="DIET epochs (default: nlu/rasa/config.yml)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    train, test = load_examples(args.train), load_examples(args.test)
    started = time.perf_counter()
    model = train_rasa(args.train, args.out, epochs=args.epochs)
    train_s = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    train_peak_mb, train_cpu_s = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime

    with RasaServer(model, port=0) as server:
        assert server.pid is not None and server.load_seconds is not None
        result = evaluate(RasaClassifier(server.url, timeout=10.0), test, progress=False)
        serve_peak_mb = vm_hwm_mb(server.pid)
        load_s = server.load_seconds

    figures = {
        "backend": "rasa 3.6.21 (DIET, nlu/rasa/config.yml)",
        "train_examples": len(train), "test_examples": len(test),
        "macro_f1": round(result["macro_f1"], 4), "accuracy": round(result["accuracy"], 4),
        "auto_route_coverage": result.get("auto_route_coverage"), "threshold": result.get("threshold"),
        "train_s": round(train_s, 1), "train_cpu_s": round(train_cpu_s, 1),
        "train_peak_mb": round(train_peak_mb),
        "load_s": round(load_s, 1), "serve_peak_mb": round(serve_peak_mb),
        "p50_ms": round(result["p50_ms"], 2), "p95_ms": round(result["p95_ms"], 2),
        "model_mb": round(model.stat().st_size / 2**20, 1),
        "cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 1),  # contention check
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
