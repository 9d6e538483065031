"""Benchmark: the cost of safe rendering — escaping translator, UTF-16 splitter — on realistic messages.

    .venv/bin/python benchmarks/rendering.py [--rounds 2000]

Prints per-call CPU time of ``t(key, **params)`` (every value escaped) against plain ``str.format``, and of
``split_message`` on a 10,000-character appeal card (with tags, entities and astral characters), so the
price of never sending broken HTML is known. CPU time (process), since a shared machine inflates wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.render import split_message, utf16_len
from texts import catalogue, translator


def per_call(fn: object, rounds: int) -> float:
    start = time.process_time()
    for _ in range(rounds):
        fn()  # type: ignore[operator]
    return (time.process_time() - start) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    t = translator("zh-CN")
    template = catalogue("zh-CN")["staff.card"]
    params = {"title": "新派单", "number": "ZQ20261125-0001", "enterprise": "星湖<科技>&贸易有限公司",
              "district": "端州区", "scale": "小型", "industry": "制造业", "contact": "张经理", "phone": "13800138000",
              "category": "税费与发票", "confidence": "93%", "accept_due": "2026-11-26 17:00",
              "reply_due": "2026-12-02 17:00", "entities": "", "attachments": "", "history": "",
              "text": "发票问题😀 <b>无法查验</b> & 税控盘报错。" * 300}
    escaped = per_call(lambda: t("staff.card", **params), rounds)
    plain = per_call(lambda: template.format(**params), rounds)
    card = t("staff.card", **params)
    split = per_call(lambda: split_message(card), max(1, rounds // 20))
    parts = split_message(card)
    print(f"card: {len(card):,} characters, {utf16_len(card):,} UTF-16 units of markup -> {len(parts)} parts")
    print(f"t('staff.card', …) escaping every value: {escaped:8.1f} µs per call")
    print(f"str.format, nothing escaped:             {plain:8.1f} µs per call")
    print(f"split_message of that card:              {split:8.1f} µs per call")


if __name__ == "__main__":
    main()
