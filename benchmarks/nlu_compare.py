"""Embedded backend vs the TF-IDF char 1-3 + LinearSVC reference (and Rasa, given a server) on the same
split: macro-F1, training time, model load time, parse p95, peak memory. Load time and memory are
measured in a fresh subprocess per model (what a starting bot pays).

    .venv/bin/python benchmarks/nlu_compare.py [--rasa-url URL | --rasa-model M.tar.gz | --rasa-train] [--no-hard]

Rasa's load time is the server's start-up until the model is loaded, its peak MB the server's VmHWM.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from nlu_data import committed_split, harden
from sklearn.metrics import f1_score

from nlu.data_io import Example


def _latencies(parse: Any, texts: list[str]) -> tuple[list[str], list[float]]:
    parse(texts[0])
    labels, ms = [], []
    for text in texts:
        start = time.perf_counter()
        labels.append(parse(text))
        ms.append((time.perf_counter() - start) * 1000)
    return labels, ms


def child(kind: str, model: str, data: str) -> None:
    """Runs in the subprocess: load, parse every test text, print the figures as JSON."""
    tests = json.loads(Path(data).read_text(encoding="utf-8"))
    start = time.perf_counter()
    if kind == "embedded":
        from nlu.embedded import EmbeddedClassifier

        clf = EmbeddedClassifier(model)

        def parse(t: str) -> str:
            return clf.parse(t).ranking[0].category
    else:
        with open(model, "rb") as fh:
            vec, svm = pickle.load(fh)

        def parse(t: str) -> str:
            return str(svm.predict(vec.transform([t]))[0])
    load_s = time.perf_counter() - start
    predicted, ms = _latencies(parse, [t["text"] for t in tests])
    print(json.dumps({
        "macro_f1": f1_score([t["label"] for t in tests], predicted, average="macro"),
        "load_s": load_s, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
        "peak_mb": _peak_mb(os.getpid()),  # VmHWM: ru_maxrss would carry the parent's peak over exec
    }))


def measure(kind: str, model: Path, tests: list[Example], tmp: Path) -> dict[str, Any]:
    data = tmp / "tests.json"
    data.write_text(json.dumps([{"text": e.text, "label": e.label} for e in tests], ensure_ascii=False),
                    encoding="utf-8")
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(model), str(data)],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_embedded(train: list[Example], tests: list[Example], tmp: Path) -> dict[str, Any]:
    from nlu.embedded import train_model

    start = time.perf_counter()
    model = train_model(train, tmp / "embedded", seed=0)
    train_s = time.perf_counter() - start
    meta = json.loads((model / "model.json").read_text(encoding="utf-8"))["report"]
    return {"train_s": train_s, **measure("embedded", model, tests, tmp),
            "note": f"char {meta['char_ngrams']}, {'sublinear' if meta['sublinear_tf'] else 'raw'} tf, C={meta['C']}"}


def run_reference(train: list[Example], tests: list[Example], tmp: Path) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    start = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    svm = LinearSVC(random_state=0).fit(vec.fit_transform([e.text for e in train]), [e.label for e in train])
    train_s = time.perf_counter() - start
    path = tmp / "reference.pkl"
    with path.open("wb") as fh:
        pickle.dump((vec, svm), fh)
    return {"train_s": train_s, **measure("reference", path, tests, tmp), "note": "sklearn defaults"}


def run_rasa(url: str, tests: list[Example], load_s: float | None = None, pid: int | None = None,
             train_s: float | None = None, note: str = "") -> dict[str, Any]:
    from nlu.rasa_client import RasaClassifier

    clf = RasaClassifier(url, timeout=30.0)
    predicted, ms = _latencies(lambda t: clf.parse(t).ranking[0].category, [e.text for e in tests])
    return {"macro_f1": f1_score([e.label for e in tests], predicted, average="macro"), "train_s": train_s,
            "load_s": load_s, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "peak_mb": _peak_mb(pid), "note": note or f"server at {url}"}


def _peak_mb(pid: int | None) -> float | None:
    """Peak resident memory (VmHWM) of a process, from /proc."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run_rasa_model(model: str | None, train_dir: str, tests: list[Example], tmp: Path) -> dict[str, Any]:
    """Start a Rasa server on a free port (training a model on ``train_dir`` first if none given)."""
    from nlu.rasa_client import RasaServer, train_rasa

    train_s = None
    if model is None:
        start = time.perf_counter()
        model = str(train_rasa(train_dir, tmp / "rasa"))
        train_s = time.perf_counter() - start
    with RasaServer(model, port=0) as server:
        return run_rasa(server.url, tests, server.load_seconds, server.pid, train_s,
                        f"rasa run --enable-api, model {Path(model).name}")


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", default="nlu/data/train")
    parser.add_argument("--test", default="nlu/data/test")
    parser.add_argument("--rasa-url", default=None, help="also score a running Rasa server (plain split)")
    parser.add_argument("--rasa-model", default=None, help="start a Rasa server with this model and score it")
    parser.add_argument("--rasa-train", action="store_true",
                        help="train a Rasa model on the same split, serve it and score it (slow)")
    parser.add_argument("--no-hard", action="store_true", help="skip the long, noisy variant")
    args = parser.parse_args()
    train, test = committed_split(args.train, args.test)
    splits = {"split": (train, test)}
    if not args.no_hard:
        splits["hard"] = (harden(train, 0), harden(test, 1))
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        for split, (tr, te) in splits.items():
            tmp = Path(tmp_name) / split
            tmp.mkdir()
            rows.append((split, "embedded (numpy, threshold stored)", run_embedded(tr, te, tmp)))
            rows.append((split, "reference char1-3 TF-IDF + LinearSVC", run_reference(tr, te, tmp)))
            if split == "split" and args.rasa_url:
                rows.append((split, "rasa (DIET, capped)", run_rasa(args.rasa_url, te)))
            elif split == "split" and (args.rasa_model or args.rasa_train):
                rows.append((split, "rasa (DIET, capped)", run_rasa_model(args.rasa_model, args.train, te, tmp)))
    hard_len = np.mean([len(e.text) for e in splits.get("hard", (train, test))[1]])
    print(f"train {len(train)} / test {len(test)} examples, {len({e.label for e in train})} labels; "
          f"hard = long noisy multi-paragraph variant (mean {hard_len:.0f} chars)")
    header = (f"{'data':<6}{'backend':<38}{'macro-F1':>9}{'train s':>9}{'load s':>8}{'p50 ms':>8}"
              f"{'p95 ms':>8}{'peak MB':>9}  note")
    print(header)
    print("-" * len(header))
    for split, name, r in rows:
        print(f"{split:<6}{name:<38}{r['macro_f1']:>9.4f}{_fmt(r['train_s'], '.2f'):>9}"
              f"{_fmt(r['load_s'], '.2f'):>8}{r['p50_ms']:>8.2f}{r['p95_ms']:>8.2f}"
              f"{_fmt(r['peak_mb'], '.0f'):>9}  {r['note']}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
