"""Intake benchmark: the real `wanqi run` (a child process, the real trained model) against the Bot API
stand-in on 127.0.0.1, next to a plain aiogram echo bot measured the same way.

    .venv/bin/python benchmarks/intake.py                       # 1000-appeal burst, 100/s for 10 s
    .venv/bin/python benchmarks/intake.py --burst 2000 --rate 150 --seconds 20

Prints, for each bot: idle RSS, burst throughput (messages in -> acknowledgements out, per second),
CPU per message, and the latency of the acknowledgement (and of the department's card) at a paced rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from demo.standin import BotAPIStandin, StandinUser  # noqa: E402
from tests.bot.process import ENTERPRISE_BASE, WanqiProcess, appeal_texts, seed  # noqa: E402

PROBE = 999_999  # an unregistered user whose /start shows the process is up


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Bench:
    """One bot process under test; ``answered(chat)`` says how many replies the chat got."""

    def __init__(self, api: BotAPIStandin, pid: int, texts: list[str], users: list[StandinUser],
                 reply_marker: str) -> None:
        self.api, self.pid, self.texts, self.users, self.marker = api, pid, texts, users, reply_marker
        self.sent_at: dict[int, float] = {}  # update_id -> when the user sent it
        self.chat_of: dict[int, int] = {}
        self.wall_offset = time.time() - time.monotonic()  # stand-in times are monotonic, the database's UTC

    def replies(self) -> list[tuple[int, float, str]]:
        return [(m.chat_id, m.at, m.text or "") for m in self.api.sent
                if m.method == "sendMessage" and self.marker in (m.text or "")
                and ENTERPRISE_BASE <= m.chat_id < ENTERPRISE_BASE + len(self.users)]

    async def ready(self) -> float:
        start = time.monotonic()
        probe = self.api.user(PROBE, "探针")
        await probe.send("/start")
        await probe.wait_for(timeout=180)
        return time.monotonic() - start

    async def send(self, k: int) -> None:
        user = self.users[k % len(self.users)]
        await user.send(self.texts[k % len(self.texts)])
        self.sent_at[self.api.last_update_id] = time.monotonic()
        self.chat_of[self.api.last_update_id] = user.id

    async def wait_replies(self, total: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while len(self.replies()) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def burst(self, n: int) -> dict[str, float]:
        before, cpu0, t0 = len(self.replies()), cpu_seconds(self.pid), time.monotonic()
        for k in range(n):
            await self.send(k)
        await self.wait_replies(before + n)
        got = self.replies()[before:]
        t1 = max(at for _, at, _ in got)
        return {"n": len(got), "seconds": t1 - t0, "per_s": len(got) / (t1 - t0),
                "cpu_ms": (cpu_seconds(self.pid) - cpu0) * 1000 / max(1, len(got))}

    async def paced(self, rate: float, seconds: float) -> list[float]:
        """Latency of each reply: the i-th reply to a chat answers the i-th message that chat sent."""
        before = len(self.replies())
        start, n = time.monotonic(), int(rate * seconds)
        sent: dict[int, list[float]] = {}
        for k in range(n):
            await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
            await self.send(k + 10_000)
            sent.setdefault(self.users[(k + 10_000) % len(self.users)].id, []).append(time.monotonic())
        await self.wait_replies(before + n)
        seen: dict[int, int] = {}
        latencies = []
        for chat, at, _ in self.replies()[before:]:
            i = seen.get(chat, 0)
            seen[chat] = i + 1
            if i < len(sent.get(chat, [])):
                latencies.append((at - sent[chat][i]) * 1000)
        return latencies


def stages(db: Path, bench: Bench, since_update: int) -> dict[str, list[float]]:
    """Where an acknowledgement's time goes (ms, per appeal): sent -> stored in the inbox -> appeal
    committed -> the acknowledgement arrived at the stand-in -> its row marked sent."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT a.source_update_id, i.received_at, a.created_at, o.sent_at FROM appeals a "
        "JOIN inbox i ON i.update_id = a.source_update_id "
        "JOIN outbox o ON o.appeal_id = a.id AND o.chat_id = a.user_id AND o.sent_at IS NOT NULL "
        "WHERE a.source_update_id > ? GROUP BY a.id HAVING o.id = MIN(o.id)", [since_update]).fetchall()
    conn.close()
    arrived: dict[int, list[float]] = {}
    for chat, at, _ in bench.replies():
        arrived.setdefault(chat, []).append(at + bench.wall_offset)
    out: dict[str, list[float]] = {"inbox": [], "filed": [], "delivered": [], "marked": []}
    for update_id, received, created, sent in rows:
        if update_id not in bench.sent_at:
            continue
        t0 = bench.sent_at[update_id] + bench.wall_offset
        t1, t2, t3 = (datetime.fromisoformat(x).timestamp() for x in (received, created, sent))
        at = min((a for a in arrived.get(bench.chat_of[update_id], []) if a >= t2), default=None)
        out["inbox"].append((t1 - t0) * 1000)
        out["filed"].append((t2 - t1) * 1000)
        if at is not None:
            out["delivered"].append((at - t2) * 1000)
            out["marked"].append((t3 - at) * 1000)
    return out


async def drained(db: Path, timeout: float = 300) -> None:
    """Wait until the outbox has nothing left to send."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            (left,) = conn.execute("SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')").fetchone()
        finally:
            conn.close()
        if not left:
            return
        await asyncio.sleep(0.1)


def card_latencies(db: Path, bench: Bench, since_update: int) -> list[float]:
    """Enterprise message -> first message naming the appeal to its department (or the dispatcher)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT number, source_update_id FROM appeals WHERE source_update_id > ?",
                        [since_update]).fetchall()
    conn.close()
    first: dict[str, float] = {}
    for m in bench.api.sent:
        if m.chat_id >= 200_000 and m.text:
            for number, _ in rows:
                if number in m.text and number not in first:
                    first[number] = m.at
    return [(first[n] - bench.sent_at[u]) * 1000 for n, u in rows if n in first and u in bench.sent_at]


async def run_wanqi(args: argparse.Namespace, work: Path) -> dict[str, object]:
    config = seed(work, args.enterprises)
    # The stand-in has no flood limits, and this measures how fast the process files and answers, not
    # Telegram's 30 msg/s (each appeal is two messages: the acknowledgement and the department's card).
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["push"].update({"messages_per_second": args.messages_per_second, "per_chat_interval": 0})
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    texts = appeal_texts()
    async with BotAPIStandin() as api:
        users = [api.user(ENTERPRISE_BASE + i, f"企业用户{i}") for i in range(args.enterprises)]
        proc = WanqiProcess(config, api, work / "wanqi.log")
        t = time.monotonic()
        proc.start()
        assert proc.proc is not None
        bench = Bench(api, proc.proc.pid, texts, users, "诉求编号")
        try:
            await bench.ready()
            start_s = time.monotonic() - t
            await asyncio.sleep(2)
            idle = rss_mb(proc.proc.pid)
            first_burst = api.last_update_id
            burst = await bench.burst(args.burst)
            await drained(work / "wanqi.db")  # the burst's cards too: the paced run starts on an empty outbox
            cards_burst = card_latencies(work / "wanqi.db", bench, first_burst)
            paced_from = api.last_update_id
            lat = await bench.paced(args.rate, args.seconds)
            await asyncio.sleep(1)
            cards = card_latencies(work / "wanqi.db", bench, paced_from)
            split = stages(work / "wanqi.db", bench, paced_from)
            after = rss_mb(proc.proc.pid)
        finally:
            await proc.stop()
            if args.log is not None:
                args.log.write_bytes((work / "wanqi.log").read_bytes())
    return {"start_s": start_s, "idle_mb": idle, "after_mb": after, "burst": burst, "lat": lat, "cards": cards,
            "cards_burst": cards_burst, "stages": split}


async def run_echo(args: argparse.Namespace) -> dict[str, object]:
    async with BotAPIStandin() as api:
        users = [api.user(ENTERPRISE_BASE + i, f"企业用户{i}") for i in range(args.enterprises)]
        proc = subprocess.Popen([sys.executable, str(HERE / "echo_bot.py"), "--api", api.base_url])
        bench = Bench(api, proc.pid, ["回声测试：诉求编号"], users, "诉求编号")
        try:
            t = time.monotonic()
            await bench.ready()
            start_s = time.monotonic() - t
            await asyncio.sleep(2)
            idle = rss_mb(proc.pid)
            burst = await bench.burst(args.burst)
            lat = await bench.paced(args.rate, args.seconds)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    return {"start_s": start_s, "idle_mb": idle, "burst": burst, "lat": lat}


def show(name: str, r: dict[str, object], rate: float) -> None:
    b = r["burst"]
    assert isinstance(b, dict)
    lat = r["lat"]
    assert isinstance(lat, list)
    print(f"{name}: ready in {r['start_s']:.1f} s, idle RSS {r['idle_mb']:.0f} MB"
          + (f" ({r['after_mb']:.0f} MB after the runs)" if "after_mb" in r else ""))
    print(f"  burst of {b['n']}: {b['per_s']:.0f} msg/s sustained ({b['seconds']:.2f} s), "
          f"{b['cpu_ms']:.2f} ms CPU per message")
    print(f"  {rate:.0f} msg/s offered: reply latency p50 {statistics.median(lat):.0f} ms, "
          f"p95 {pct(lat, 0.95):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, max {max(lat):.0f} ms ({len(lat)} replies)")
    cards = r.get("cards")
    if isinstance(cards, list) and cards:
        print(f"  department card latency at {rate:.0f}/s: p50 {statistics.median(cards):.0f} ms, "
              f"p95 {pct(cards, 0.95):.0f} ms ({len(cards)} cards)")
    split = r.get("stages")
    if isinstance(split, dict) and split.get("inbox"):
        print("  where the acknowledgement's time goes (p50 / p95 ms): " + ", ".join(
            f"{name} {statistics.median(v):.0f} / {pct(v, 0.95):.0f}" for name, v in split.items() if v))
    burst_cards = r.get("cards_burst")
    if isinstance(burst_cards, list) and burst_cards:
        print(f"  department cards in the burst: {len(burst_cards)}, last {max(burst_cards) / 1000:.2f} s "
              "after the burst began")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--only", choices=["wanqi", "echo"])
    parser.add_argument("--messages-per-second", type=float, default=1000,
                        help="the outbox's overall limit for `wanqi run` (push.messages_per_second; at most 1000)")
    parser.add_argument("--log", type=Path, help="keep the log of `wanqi run` here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wanqi-intake-") as tmp:
        if args.only != "echo":
            show("wanqi run", asyncio.run(run_wanqi(args, Path(tmp))), args.rate)
        if args.only != "wanqi":
            show("aiogram echo bot", asyncio.run(run_echo(args)), args.rate)


if __name__ == "__main__":
    main()
