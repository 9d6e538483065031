"""Benchmark: match 100,000 synthetic enterprises against 2,000 policies (top 5 each, and weekly digests).

    .venv/bin/python benchmarks/policy_match.py [--enterprises 100000] [--policies 2000] [--seed 1]

Prints index build time, total and per-enterprise matching time, digest building time, the naive
reference's extrapolated time, and peak memory (RSS and Python heap). Times are wall clock and
process CPU time, since a shared machine inflates wall time.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from policies.digest import Sent, build
from policies.matching import PolicyIndex, rank
from policies.model import TAGS, TOPICS, Criteria, Policy, Profile, Recipient

TODAY = date(2026, 11, 25)
WORDS = ["五金", "模具", "出口", "研发", "软件", "物流", "仓储", "餐饮", "贷款", "贴息", "专利", "商标", "厂房",
         "用电", "招聘", "培训", "社保", "数字化", "云计算", "新能源", "环保", "农产品", "电商", "跨境", "检测",
         "设备", "技改", "上市", "融资", "担保"]


def synthetic_policies(rng: random.Random, n: int) -> list[Policy]:
    out = []
    letters = list(INDUSTRIES)
    for i in range(n):
        published = TODAY - timedelta(days=rng.randint(0, 700))
        until = rng.choice([None, TODAY + timedelta(days=rng.randint(-60, 700))])
        deadline = rng.choice([None, None, TODAY + timedelta(days=rng.randint(-30, 120))])
        if until is not None and deadline is not None and deadline > until:
            deadline = until
        lo = rng.choice([None, None, None, 1, 2, 3])
        out.append(Policy(
            id=f"bench-{i:05d}", title=f"示例政策{i}", issuer="示例局", summary="示例", published=published,
            valid_from=published, valid_until=until, deadline=deadline,
            topics=tuple(rng.sample(TOPICS, rng.randint(1, 2))),
            criteria=Criteria(
                industries=tuple(rng.sample(letters, rng.choice([0, 0, 1, 2, 4]))),
                scales=tuple(rng.sample(SCALES, rng.choice([0, 0, 2, 3]))),
                districts=tuple(rng.sample(DISTRICTS, rng.choice([0, 0, 0, 1, 2]))),
                tags=tuple(rng.sample(TAGS, rng.choice([0, 0, 0, 1, 2]))),
                founded_min_years=lo, founded_max_years=rng.choice([None, None, None, 5, 10]),
                keywords=tuple(rng.sample(WORDS, rng.randint(0, 4))),
            )))
    return out


def synthetic_profiles(rng: random.Random, n: int) -> list[Profile]:
    letters = list(INDUSTRIES)
    return [Profile(
        enterprise_id=i, industry=rng.choice(letters), scale=rng.choice(SCALES), district=rng.choice(DISTRICTS),
        tags=tuple(rng.sample(TAGS, rng.choice([0, 1, 1, 2, 3]))), founded_year=rng.randint(1990, 2026),
        business="、".join(rng.sample(WORDS, 3)) + "等业务",
        appeal_texts=tuple(f"关于{rng.choice(WORDS)}的诉求，希望协调解决{rng.choice(WORDS)}问题"
                           for _ in range(rng.choice([0, 0, 1, 2]))),
    ) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-sample", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tracemalloc.start()
    policies = synthetic_policies(rng, args.policies)
    profiles = synthetic_profiles(rng, args.enterprises)
    data_heap = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()  # tracing slows allocation-heavy code; heap figure above covers the synthetic data

    t0 = time.perf_counter()
    index = PolicyIndex(policies, TODAY)
    t_index = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    eligible_total = 0
    per: list[float] = []
    for p in profiles:
        s = time.perf_counter()
        eligible_total += index.eligible_mask(p).bit_count()
        index.match(p, limit=5)
        per.append(time.perf_counter() - s)
    t_match, c_match = time.perf_counter() - t0, time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    digests = 0
    for p in profiles:
        if build(Recipient(p.enterprise_id, p.enterprise_id), p, index, Sent(), max_items=5) is not None:
            digests += 1
    t_digest, c_digest = time.perf_counter() - t0, time.process_time() - c0

    sample = profiles[: args.naive_sample]
    c0 = time.process_time()
    for p in sample:
        rank(p, policies, TODAY, 5)
    t_naive = (time.process_time() - c0) / len(sample)

    per.sort()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    n = len(profiles)
    print(f"policies: {len(policies)} ({len(index.policies)} open on {TODAY}), enterprises: {n}")
    print(f"index build: {t_index * 1000:.1f} ms")
    print(f"match top-5, all enterprises: {t_match:.2f} s wall ({c_match:.2f} s CPU), "
          f"{c_match / n * 1e6:.1f} us CPU/enterprise "
          f"(p50 {per[n // 2] * 1e6:.1f} us, p99 {per[int(n * 0.99)] * 1e6:.1f} us); "
          f"mean eligible {eligible_total / n:.1f} policies/enterprise")
    print(f"weekly digests (new + closing within 14 days): {t_digest:.2f} s wall ({c_digest:.2f} s CPU), "
          f"{c_digest / n * 1e6:.1f} us CPU/enterprise, {digests} non-empty")
    print(f"naive reference (scan every policy): {t_naive * 1e3:.2f} ms CPU/enterprise, "
          f"~{t_naive * n:.0f} s extrapolated for {n}")
    print(f"peak RSS: {peak_rss:.0f} MiB; synthetic data on the Python heap: {data_heap / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
