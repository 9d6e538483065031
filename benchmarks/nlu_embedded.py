"""The embedded model as the issue measures it: quality at the model's own threshold on the short and long
test sets (and their traditional-character versions), serving cost in a fresh process, training cost.

    .venv/bin/python benchmarks/nlu_embedded.py [--model DIR] [--scale 3000]

Every figure comes from a subprocess, so load time and memory are what a starting `wanqi nlu parse` or bot
pays: load = import + model load; RSS after load (VmRSS) and peak (VmHWM); parse latency over the long
test messages of >= 200 characters, as wall time and as CPU time of the thread (the machine is shared:
wall p95 includes waiting for a core). Training runs in its own process too (time and VmHWM), on the
shipped data and on ``--scale`` real-length messages built from the training sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HEAVY = ("aiogram", "spacy", "jieba", "sklearn", "scipy", "sqlite_utils")


def _status(field: str) -> float:
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_serve(model: str) -> None:
    start = time.perf_counter()
    from nlu.factory import build_classifier

    clf = build_classifier("embedded", model)
    load_s = time.perf_counter() - start
    rss = _status("VmRSS")
    import numpy as np

    from nlu.data_io import load_examples

    texts = [e.text for e in load_examples(ROOT / "nlu/data/test/long") if len(e.text) >= 200]
    for t in texts[:20]:
        clf.parse(t)
    wall, cpu = [], []
    for _ in range(5):
        for t in texts:
            w, c = time.perf_counter_ns(), time.thread_time_ns()
            clf.parse(t)
            cpu.append((time.thread_time_ns() - c) / 1e6)
            wall.append((time.perf_counter_ns() - w) / 1e6)
    print(json.dumps({"load_s": load_s, "rss_mb": rss, "peak_mb": _status("VmHWM"), "n": len(texts),
                      "mean_chars": float(np.mean([len(t) for t in texts])),
                      "wall_p50": float(np.percentile(wall, 50)), "wall_p95": float(np.percentile(wall, 95)),
                      "cpu_p50": float(np.percentile(cpu, 50)), "cpu_p95": float(np.percentile(cpu, 95)),
                      "heavy_imports": [m for m in HEAVY if m in sys.modules]}))


def child_train(data: str, out: str) -> None:
    from nlu.data_io import load_examples
    from nlu.embedded import train_model

    examples = load_examples(data)
    start = time.perf_counter()
    train_model(examples, out)
    seconds = time.perf_counter() - start
    meta = json.loads((Path(out) / "model.json").read_text(encoding="utf-8"))
    print(json.dumps({"n": len(examples), "train_s": seconds, "peak_mb": _status("VmHWM"),
                      "threshold": meta["threshold"], "report": meta["report"]}))


def child_bot(model: str) -> None:
    """Idle memory of the bot process: the app built (aiogram, storage, services, model) and waiting."""
    import dataclasses

    from bot.app import build_app
    from config import load_settings

    settings = load_settings(ROOT / "config.yml", env={})
    with tempfile.TemporaryDirectory() as tmp:
        nlu = dataclasses.replace(settings.nlu, model_dir=model)
        settings = dataclasses.replace(settings, nlu=nlu, database=str(Path(tmp) / "idle.db"))
        app = build_app(settings, token="1:IDLE")
        print(json.dumps({"rss_mb": _status("VmRSS"), "peak_mb": _status("VmHWM"),
                          "heavy_imports": [m for m in HEAVY if m in sys.modules]}))
        import asyncio

        asyncio.run(app.close())


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _scored(model: Path, data: Path | list[Any]) -> dict[str, Any]:
    from nlu.data_io import load_examples
    from nlu.embedded import EmbeddedClassifier
    from nlu.evaluate import evaluate

    examples = load_examples(data) if isinstance(data, Path) else data
    return evaluate(EmbeddedClassifier(model), examples, progress=False)


def _reference(train: list[Any], test: list[Any]) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    svm = LinearSVC(random_state=0).fit(vec.fit_transform([e.text for e in train]), [e.label for e in train])
    return float(f1_score([e.label for e in test], svm.predict(vec.transform([e.text for e in test])),
                          average="macro"))


def _traditional(examples: list[Any]) -> list[Any]:
    import opencc

    from nlu.data_io import Example

    s2t = opencc.OpenCC("s2t")
    return [Example(str(s2t.convert(e.text)), e.label) for e in examples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="an already trained model (default: train one)")
    parser.add_argument("--scale", type=int, default=3000, help="real-length messages for the training cost")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "nlu/data"))
    from generate_long import test_long

    from nlu.data_io import Example, load_examples, write_rasa_yaml

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = Path(args.model) if args.model else tmp / "model"
        if not args.model:
            t = _child("train", str(ROOT / "nlu/data/train"), str(model))
            print(f"training on nlu/data/train ({t['n']} examples): {t['train_s']:.1f} s, peak {t['peak_mb']:.0f} MB; "
                  f"char {t['report']['char_ngrams']}, C={t['report']['C']}, threshold {t['threshold']:.4f} "
                  f"(out-of-fold {t['report']['oof_auto_route_coverage']:.1%} at "
                  f"{t['report']['oof_auto_route_precision']:.1%})")
        train = load_examples(ROOT / "nlu/data/train")
        print(f"\n{'test set':<26}{'n':>5}{'macro-F1':>10}{'reference':>11}{'threshold':>11}{'coverage':>10}"
              f"{'precision':>11}")
        for name in ("short", "long"):
            examples = load_examples(ROOT / "nlu/data/test" / name)
            for variant, items in ((name, examples), (f"{name}, traditional", _traditional(examples))):
                r = _scored(model, items)
                print(f"{variant:<26}{r['n']:>5}{r['macro_f1']:>10.4f}{_reference(train, items):>11.4f}"
                      f"{r['threshold']:>11.4f}{r['auto_route_coverage']:>10.1%}{r['auto_route_precision']:>11.1%}")
        s = _child("serve", str(model))
        print(f"\nserving (fresh process): load {s['load_s']:.3f} s, RSS {s['rss_mb']:.0f} MB after load "
              f"(peak {s['peak_mb']:.0f} MB); parse over {s['n']} messages of mean {s['mean_chars']:.0f} chars: "
              f"wall p50 {s['wall_p50']:.2f} / p95 {s['wall_p95']:.2f} ms, CPU p50 {s['cpu_p50']:.2f} / "
              f"p95 {s['cpu_p95']:.2f} ms; heavy modules imported: {s['heavy_imports'] or 'none'}")
        b = _child("bot", str(model))
        print(f"bot process idle: RSS {b['rss_mb']:.0f} MB (peak {b['peak_mb']:.0f} MB), "
              f"imported: {', '.join(b['heavy_imports'])}")
        if args.scale:
            written = load_examples(ROOT / "nlu/data/source/train")
            big: list[Example] = []
            seed = 10
            while len(big) < args.scale:
                big += test_long(written, seed)
                seed += 1
            rng = random.Random(0)  # join half of them with a second message of the label: real length ~240
            by_label: dict[str, list[Example]] = {}
            for e in big:
                by_label.setdefault(e.label, []).append(e)
            big = [Example(e.text + rng.choice(by_label[e.label]).text, e.label) if rng.random() < 0.5 else e
                   for e in big[: args.scale]]
            write_rasa_yaml(big, tmp / "scale.yml")
            chars = sorted(len(e.text) for e in big)
            t = _child("train", str(tmp / "scale.yml"), str(tmp / "scale-model"))
            print(f"training on {t['n']} real-length messages (median {chars[len(chars) // 2]} chars): "
                  f"{t['train_s']:.1f} s, peak {t['peak_mb']:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        {"serve": child_serve, "train": child_train, "bot": child_bot}[sys.argv[2]](*sys.argv[3:])
    else:
        main()
