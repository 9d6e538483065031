"""Weekly-push benchmark: N digests through the outbox and the delivery worker to the Bot API stand-in (a
separate process on 127.0.0.1, limits enforced) at the configured rate, with the sender killed -9 part-way
and restarted (it takes the dead sender's lease over); counts from the stand-in's log.

    .venv/bin/python benchmarks/push.py                      # 10,000 digests (+20 to repeat chats), 30 msg/s
    .venv/bin/python benchmarks/push.py --count 3000 --kills 3

Prints: achieved messages/s against the limit, the busiest 1-second window, the closest two messages
to one chat, duplicates, missing, 429s the (limit-enforcing) stand-in had to give, and how long the
"accepted by Telegram but not yet committed" window was (the only place a kill can cause a duplicate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def log_lines(path: Path) -> list[dict[str, object]]:
    """The stand-in's JSON lines (a half-written last line is ignored)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def count_sends(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def db_status(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    finally:
        conn.close()


def start_sender(args: argparse.Namespace, url: str, db: Path, out: Path, run: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(HERE / "push_sender.py"), "--url", url, "--db", str(db), "--count", str(args.count),
           "--repeats", str(args.repeats), "--rate", str(args.rate)]
    with (out / f"sender-{run}.out").open("wb") as stdout, (out / f"sender-{run}.err").open("wb") as stderr:
        return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=ROOT)


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most messages the server saw in any window of ``width`` seconds."""
    best, left = 0, 0
    for right, t in enumerate(times):
        while t - times[left] >= width:
            left += 1
        best = max(best, right - left + 1)
    return best


def covered(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of intervals."""
    total, reach = 0.0, float("-inf")
    for begin, end in sorted(intervals):
        if end > reach:
            total += end - max(begin, reach)
            reach = end
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="digests, one per chat")
    parser.add_argument("--repeats", type=int, default=10, help="chats that get two extra messages")
    parser.add_argument("--rate", type=float, default=30, help="messages/s overall (Telegram: 30)")
    parser.add_argument("--kills", type=int, default=1, help="kill -9 the sender this many times, evenly spaced")
    parser.add_argument("--no-enforce", action="store_true", help="stand-in does not answer 429 when over the limit")
    parser.add_argument("--workdir", help="keep the database, logs and stand-in log here")
    args = parser.parse_args()

    out = Path(args.workdir or tempfile.mkdtemp(prefix="wanqi-push-"))
    out.mkdir(parents=True, exist_ok=True)
    log, db = out / "standin.jsonl", out / "push.db"
    for stale in (log, db, out / "push.db-wal", out / "push.db-shm"):
        stale.unlink(missing_ok=True)
    log.touch()
    expected = args.count + 2 * args.repeats

    cmd = [sys.executable, "-m", "demo.standin", "--port", "0", "--log", str(log), "--global-rate", str(int(args.rate))]
    if not args.no_enforce:
        cmd.append("--enforce-limits")
    standin = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, text=True)
    assert standin.stdout is not None
    url = standin.stdout.readline().strip()
    print(f"stand-in {url} (pid {standin.pid}); sending {expected} messages at {args.rate:g}/s; "
          f"work dir {out}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    spans: list[tuple[float, float]] = []
    kills: list[dict[str, object]] = []
    rng = random.Random()
    try:
        for k in range(args.kills):
            target = expected * (k + 1) // (args.kills + 1)
            sender = start_sender(args, url, db, out, k)
            started = time.time()
            while count_sends(log) < target:
                if sender.poll() is not None:
                    raise SystemExit(f"sender exited early with {sender.returncode}; see {out}/sender-{k}.err")
                time.sleep(0.02)
            # Kill at a random moment, not right after a send was logged (that would aim at the window
            # between Telegram accepting a message and our commit): anywhere in the next ~60 sends.
            time.sleep(rng.uniform(0.0, 2.0))
            os.kill(sender.pid, signal.SIGKILL)
            sender.wait()
            killed = time.time()
            spans.append((started, killed))
            status = db_status(db)
            kills.append({"after": count_sends(log), "status": status})
            print(f"kill -9 #{k + 1} after {kills[-1]['after']} sends; rows then: {status}")
        sender = start_sender(args, url, db, out, args.kills)
        started = time.time()
        if sender.wait() != 0:
            raise SystemExit(f"sender failed; see {out}/sender-{args.kills}.err")
        spans.append((started, time.time()))
        report = json.loads((out / f"sender-{args.kills}.out").read_text().strip().splitlines()[-1])
    finally:
        standin.send_signal(signal.SIGTERM)
        standin.wait(timeout=30)

    entries = log_lines(log)
    sends = [e for e in entries if e.get("method") == "sendMessage"]
    violations = [e for e in entries if "violation" in e]
    keys = Counter(str(e["text"]).split("\n", 1)[0] for e in sends)
    sys.path.insert(0, str(HERE))
    from push_sender import digests  # the same synthetic items the sender queued

    wanted = {item.dedupe for item in digests(args.count, args.repeats)}
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    missing = len(wanted - set(keys))
    unexpected = len(set(keys) - wanted)

    times = sorted(float(e["time"]) for e in sends)  # type: ignore[arg-type]
    by_chat: dict[int, list[float]] = defaultdict(list)
    for e in sends:
        by_chat[int(e["chat_id"])].append(float(e["time"]))  # type: ignore[call-overload, arg-type]
    chat_gaps = [b - a for ts in by_chat.values() if len(ts) > 1 for a, b in pairwise(ts)]

    # Achieved rate while a sender was running and sending (a restart's start-up time is not sending time).
    # A fresh process starts with an empty window and may send N at once; the steady rate leaves out
    # each run's first second.
    sending_time, steady_time, steady_count = 0.0, 0.0, 0
    for begin, end in spans:
        inside = [t for t in times if begin <= t <= end]
        if len(inside) > 1:
            sending_time += inside[-1] - inside[0]
            later = [t for t in inside if t >= inside[0] + 1.0]
            if len(later) > 1:
                steady_time += later[-1] - later[0]
                steady_count += len(later) - 1
    steady = steady_count / steady_time if steady_time else 0.0

    # The crash window: Telegram (stand-in) accepted -> our 'sent' commit, per message.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sent_at = {k: datetime.fromisoformat(v).timestamp() for k, v in
               conn.execute("SELECT dedupe, sent_at FROM outbox WHERE status = 'sent'")}
    final_status = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    conn.close()
    accepted = {str(e["text"]).split("\n", 1)[0]: float(e["time"]) for e in sends}  # type: ignore[arg-type]
    pairs = [(accepted[k], sent_at[k]) for k in sent_at if k in accepted]
    windows = sorted(end - begin for begin, end in pairs)
    exposure = covered(pairs) / sending_time if sending_time else 0.0

    print()
    print(f"messages expected           {expected}")
    print(f"delivered (stand-in log)    {len(sends)}  unique keys {len(keys)}")
    print(f"duplicates                  {duplicates}")
    print(f"missing                     {missing}")
    print(f"unexpected                  {unexpected}")
    print(f"kill -9 / restarts          {args.kills}; rows left 'sending' at the kills: "
          f"{[k['status'].get('sending', 0) for k in kills]}")  # type: ignore[attr-defined]
    print(f"outbox at the end           {final_status}")
    print(f"achieved rate (steady)      {steady:.2f} msg/s against a limit of {args.rate:g} "
          f"({100 * steady / args.rate:.1f}%)")
    print(f"whole run incl. restarts    {len(times) / (spans[-1][1] - spans[0][0]):.2f} msg/s over "
          f"{spans[-1][1] - spans[0][0]:.0f} s")
    print(f"busiest 1-second window     {max_in_window(times)} messages")
    print(f"closest two to one chat     {min(chat_gaps):.3f} s" if chat_gaps else "closest two to one chat     n/a")
    print(f"429s from the stand-in      {len(violations)}")
    if windows:
        print(f"accept->commit window       median {1000 * statistics.median(windows):.2f} ms, "
              f"p99 {1000 * windows[int(0.99 * (len(windows) - 1))]:.2f} ms, max {1000 * windows[-1]:.2f} ms; "
              f"some message is in that window {100 * exposure:.2f}%")
    print(f"last sender's report        {report}")
    print(f"load average at the end     {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
