"""Console and partner-API benchmark on a city-sized database, over HTTP on 127.0.0.1 in one process.

    .venv/bin/python benchmarks/console.py                       # 100,000 appeals, 20,000 enterprises
    .venv/bin/python benchmarks/console.py --appeals 20000 --enterprises 5000 --posts 1000
    .venv/bin/python benchmarks/console.py --keep /tmp/bench.db  # keep the generated database (screenshots)

Generates a year of appeals in every state (with their history rows), serves the console and the Open311
API exactly as `wanqi web` does, and prints p50/p95 of every page: 总览 for a year (counted afresh and kept),
超期与督办 (as it opens, filtered, a later page), the appeal list (first page, filters, a search, a deep page,
a link from 总览), an appeal page and 热点 (grouped afresh, and kept until the next filing); first with the
machine as it is, then with ``--busy`` (default 2) processes spinning on the cores (a busy machine). Then the
Open311 POST throughput with concurrent clients (service_code given, and without it so the embedded NLU
classifies each one). The target is p95 ≤ 300 ms for every page, busy included (issue 18).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from appeals.calendar import OfficialCalendar  # noqa: E402
from appeals.credit_code import check_char  # noqa: E402
from appeals.reference import DISTRICTS  # noqa: E402
from appeals.sla import add_working_days  # noqa: E402
from bootstrap import NoClassifier, build_classifier, build_core, settle_heap  # noqa: E402
from config import load_settings  # noqa: E402
from web.context import WebContext  # noqa: E402
from web.server import start  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PROBLEMS = {
    "tax": ["增值税专用发票无法开具，税控盘提示异常", "出口退税申报一直没有审核结果", "电子税务局登录不了，影响申报"],
    "finance": ["申请的贷款贴息迟迟没有到账", "银行要求追加抵押，融资困难", "小微企业担保贷款如何申请"],
    "labor": ["社保缴费基数调整后系统无法申报", "招工难，希望组织专场招聘会", "稳岗补贴申请材料被退回"],
    "utilities": ["工业园停电三天，影响生产，请尽快恢复供电", "用电增容申请提交一个月没有回复", "厂区供水压力不足"],
    "construction": ["施工许可审批超过时限仍未办结", "竣工验收需要的材料清单不清楚"],
    "land": ["不动产登记证书迟迟办不下来", "工业用地出让手续进展缓慢"],
    "environment": ["环评审批需要补充什么材料", "排污许可证延续申请没有回音"],
    "policy": ["高新技术企业认定奖励什么时候发放", "专精特新补贴如何申报"],
    "registration": ["营业执照变更需要多久", "企业注销流程太复杂"],
    "transport": ["货车通行证办理难", "物流园周边道路拥堵"],
}


def credit(n: int) -> str:
    first = f"914412{n:011d}"[:17]
    return first + check_char(first)


def generate(db_path: Path, appeals: int, enterprises: int, seed: int = 7) -> None:
    """A year of appeals written straight into a migrated database (the benchmark's fixture, not a use case)."""
    import sqlite3

    from storage.db import open_db

    settings = load_settings(HERE.parent / "config.yml", env={"WANQI_DATABASE": str(db_path)})
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=True)
    core.close()
    rng = random.Random(seed)
    cal = OfficialCalendar()
    now = datetime.now(UTC)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous = OFF")
    districts = list(DISTRICTS)
    db.executemany(
        "INSERT INTO users (id, name, lang, role, enterprise_id, active, created_at) VALUES (?, ?, 'zh-CN', "
        "'enterprise', ?, 1, ?)", [(10_000_000 + i, f"经办人{i}", None, now.isoformat()) for i in range(enterprises)])
    db.executemany(
        "INSERT INTO enterprises (id, name, credit_code, contact, phone, industry, scale, district, owner_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, 'C', '小型', ?, ?, ?)",
        [(i + 1, f"肇庆测试企业{i + 1:05d}有限公司", credit(i + 1), "张经理", f"138{i:08d}",
          rng.choice(districts), 10_000_000 + i, now.isoformat()) for i in range(enterprises)])
    db.execute("UPDATE users SET enterprise_id = id - 10000000 + 1 WHERE id >= 10000000")
    db.execute("INSERT OR IGNORE INTO users (id, name, lang, role, active, created_at) VALUES "
               "(900, '督办', 'zh-CN', 'supervisor', 1, ?)", [now.isoformat()])
    categories = {c.id: c for c in settings.routing.categories}
    rows, events = [], []
    per_day: dict[str, int] = {}
    for i in range(appeals):
        created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        cat_id = rng.choice(list(PROBLEMS))
        cat = categories[cat_id]
        text = rng.choice(PROBLEMS[cat_id]) + f"（编号{i}）"
        day = created.astimezone(TZ).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        number = f"ZQ{day}-{per_day[day]:04d}"
        accept_due = add_working_days(created, cat.accept_days, cal, TZ)
        reply_due = add_working_days(created, cat.reply_days, cal, TZ)
        age = (now - created).days
        roll = rng.random()
        status, accepted, replied, closed, rating, reopen, ret = "dispatched", None, None, None, None, 0, 0
        if age > 10 or roll < 0.8:
            accepted = created + timedelta(hours=rng.uniform(1, 40))
            status = "accepted"
            if age > 8 or roll < 0.6:
                replied = created + timedelta(days=rng.uniform(1, 9))
                status = "replied"
                if age > 12 or roll < 0.5:
                    closed = replied + timedelta(days=rng.uniform(0, 3))
                    status = "closed"
                    rating = rng.choices([5, 4, 3, 2, 1, None], [40, 30, 12, 5, 3, 10])[0]
        if rng.random() < 0.04:
            ret = 1
        if rating in (1, 2) and rng.random() < 0.5:
            status, reopen, replied, closed, accepted = "reopened", 1, None, None, None
        for dt in (accepted, replied, closed):
            if dt is not None and dt > now:
                status = "accepted" if dt is replied else status
        rows.append((number, i % enterprises + 1, 10_000_000 + i % enterprises, text, cat_id, 0.9, cat.department_id,
                     status, created.isoformat(), (closed or replied or accepted or created).isoformat(),
                     created.isoformat(), accept_due.isoformat(), reply_due.isoformat(),
                     replied.isoformat() if replied else None, rating,
                     closed.isoformat() if closed and status == "closed" else None, reopen, ret,
                     accepted.isoformat() if accepted else None, rng.choice(["telegram"] * 8 + ["open311", "console"])))
    db.executemany(
        "INSERT INTO appeals (number, enterprise_id, user_id, text, category, confidence, department_id, status, "
        "created_at, updated_at, dispatched_at, accept_due, reply_due, replied_at, rating, closed_at, reopen_count, "
        "return_count, accepted_at, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    for appeal_id, (_n, _e, user, _t, _c, _p, _d, status, created, *_rest) in enumerate(rows, start=1):
        events.append((appeal_id, created, user, "enterprise", "submit", None, "submitted", ""))
        events.append((appeal_id, created, 0, "system", "dispatch", "submitted", "dispatched", "auto"))
        if status != "dispatched":
            events.append((appeal_id, created, 0, "handler", "accept", "dispatched", "accepted", ""))
        # 督办 on a third of the appeals still running past their deadline, a day after it (some twice)
        due = datetime.fromisoformat(_rest[3] if status == "accepted" else _rest[2])
        if status in ("dispatched", "accepted", "reopened") and due + timedelta(days=1) < now and rng.random() < 0.33:
            for times in range(rng.choice((1, 1, 2))):
                events.append((appeal_id, (due + timedelta(days=1 + 2 * times)).isoformat(), 900, "supervisor",
                               "supervise", status, status, "请尽快办理并答复企业"))
    db.executemany("INSERT OR REPLACE INTO appeal_counters (day, last) VALUES (?, ?)",
                   [(f"ZQ{day}-", n) for day, n in per_day.items()])  # as create_appeal numbers them
    db.executemany("INSERT INTO appeal_events (appeal_id, at, actor_id, actor_role, action, from_status, to_status, "
                   "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
    db.commit()
    db.close()
    open_db(db_path).close()  # WAL and pragmas as the application sets them


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` Python processes spinning on the CPU while the block runs (a busy machine), then stopped."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(0.5 if spinning else 0)
        yield
    finally:
        for proc in spinning:
            proc.kill()
            proc.wait()


async def timed(http: aiohttp.ClientSession, url: str, n: int, before: Callable[[], None] | None = None
                ) -> tuple[float, float, float]:
    """p50 and p95 of ``n`` GETs (``before`` runs ahead of each, off the clock), and the median CPU time the
    process spent on one (server and client, all threads: what a page costs whatever the neighbours do)."""
    times, cpu = [], []
    for _ in range(n):
        if before is not None:
            before()
        t0, c0 = time.perf_counter(), time.process_time()
        async with http.get(url) as resp:
            await resp.read()
            assert resp.status == 200, (url, resp.status)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(times), pct(times, 0.95), statistics.median(cpu)


async def posts(base: str, key: str, total: int, concurrency: int, with_code: bool) -> float:
    sent = 0
    codes: dict[int, int] = {}

    async def worker(http: aiohttp.ClientSession, wid: int) -> None:
        nonlocal sent
        while sent < total:
            sent += 1
            n = sent
            form = {"api_key": key, "description": f"园区企业反映：增值税发票无法开具，影响出口（{wid}-{n}）",
                    "attribute[credit_code]": credit(1 + n % 5000), "phone": "13900001111"}
            if with_code:
                form["service_code"] = "tax"
            async with http.post(f"{base}/open311/v2/requests.json", data=form) as resp:
                await resp.read()
                codes[resp.status] = codes.get(resp.status, 0) + 1

    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http, w) for w in range(concurrency)))
    elapsed = time.perf_counter() - t0
    assert set(codes) == {201}, codes
    return total / elapsed


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wanqi-bench-"))
    db_path = Path(args.keep) if args.keep else workdir / "bench.db"
    if args.reuse and db_path.exists():
        print(f"reusing {db_path} ({db_path.stat().st_size / 1e6:.0f} MB)")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        t0 = time.perf_counter()
        generate(db_path, args.appeals, args.enterprises)
        print(f"generated {args.appeals:,} appeals, {args.enterprises:,} enterprises in "
              f"{time.perf_counter() - t0:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)")
    settings = load_settings(HERE.parent / "config.yml", env={"WANQI_DATABASE": str(db_path),
                                                              "WANQI_SUPERVISORS": "900"})
    classifier = build_classifier(settings) if args.nlu else NoClassifier()
    core = build_core(settings, classifier=classifier, sync_catalogue=False)
    services = core.services()
    ctx = WebContext(settings, services, core.clock)
    year = (datetime.now(TZ).date() - timedelta(days=364)).isoformat()
    pages: tuple[tuple[str, str, Callable[[], None] | None], ...] = (
        ("总览, a year, counted afresh", "/console?period=365d&fresh=1", None),
        ("总览, a year (kept a minute)", "/console?period=365d", None),
        ("超期与督办, as it opens", "/console/overdue", None),
        ("超期与督办, yellow", "/console/overdue?light=yellow", None),
        ("超期与督办, one department, red", "/console/overdue?department=tax&light=red", None),
        ("超期与督办, not yet urged, page 3", "/console/overdue?urged=no&page=3", None),
        ("诉求 list, first page", "/console/appeals", None),
        ("诉求 list, status filter", "/console/appeals?status=accepted", None),
        ("诉求 list, overdue", "/console/appeals?overdue=1", None),
        ("诉求 list, 签收超时 of a year (总览)", f"/console/appeals?late=accept&start={year}", None),
        ("诉求 list, search", "/console/appeals?q=退税", None),
        ("诉求 list, page 500", "/console/appeals?page=500", None),
        ("appeal page", f"/console/appeals/{min(4242, args.appeals)}", None),
        ("热点, 30 days, grouped afresh", "/console/hotspots?days=30", ctx.hotspots.clear),
        ("热点, 30 days (kept till a filing)", "/console/hotspots?days=30", None),
    )
    runner = await start(ctx, "127.0.0.1:0")
    settle_heap()  # as `wanqi web` and `wanqi run` do once serving
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    token = core.web.create_login_link(900, datetime.now(UTC))
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{base}/console/login", data={"token": token}) as resp:
            assert resp.status == 200
        await http.get(base + "/console/hotspots?days=30")  # the keyword dictionary is read once per process
        results: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _ in pages}
        rounds = (("idle", 0), ("busy", args.busy)) if not args.posts_only else ()
        for name, spinners in rounds:
            print(f"{name} round: load average {os.getloadavg()[0]:.1f} before it (2 cores)")
            with busy(spinners):
                for label, path, before in pages:
                    results[label].append(await timed(http, base + path, args.repeat, before))
        if rounds:
            print(f"\nconsole, {args.repeat} requests each (ms)        idle p50   p95   "
                  f"{args.busy} busy processes: p50   p95")
            for label, _, _ in pages:
                (p50, p95, cpu), (b50, b95, _) = results[label]
                print(f"  {label:<38} {p50:7.1f} {p95:7.1f}   {b50:26.1f} {b95:6.1f}   cpu {cpu:6.1f}")
            worst = max(v[1][1] for v in results.values())
            print(f"  slowest busy p95: {worst:.1f} ms (target ≤ 300 ms)")
    key = core.web.create_key(f"bench-{time.time_ns()}", datetime.now(UTC), rate_per_minute=1_000_000)
    print(f"\nOpen311 POST, {args.posts} requests, {args.concurrency} concurrent clients")
    rate = await posts(base, key, args.posts, args.concurrency, with_code=True)
    print(f"  with service_code (no NLU)       {rate:8.0f} requests/s")
    if args.nlu:
        rate = await posts(base, key, args.posts, args.concurrency, with_code=False)
        print(f"  without service_code (NLU)       {rate:8.0f} requests/s")
    await runner.cleanup()
    core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--busy", type=int, default=2, help="processes spinning on the CPU in the second round")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-nlu", dest="nlu", action="store_false", help="skip the POSTs classified by the model")
    parser.add_argument("--keep", default=None, help="write the database here and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the database already there")
    parser.add_argument("--posts-only", action="store_true", help="measure only the Open311 POSTs")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
