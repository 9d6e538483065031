"""The Rasa backend: train with `rasa train nlu`, serve with `rasa run --enable-api`, parse over HTTP.

Rasa lives in its own Python 3.10 environment (``nlu/rasa/.venv``, made by ``nlu/rasa/setup_env.sh``),
so this module only starts its executables and talks JSON to its server; it never imports rasa.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from appeals.ports import CategoryScore, ClassifierUnavailable, Entity, ParseResult

log = logging.getLogger(__name__)

RASA_DIR = Path(__file__).resolve().parent / "rasa"
RASA_CONFIG = RASA_DIR / "config.yml"
RASA_PATTERNS = RASA_DIR / "data" / "patterns.yml"
DEFAULT_URL = "http://127.0.0.1:5005"
LABELS = ("credit_code", "phone", "money", "date", "district", "department")
# Entities only the rules may produce: a regex cannot check a credit code's check digit.
RULE_ONLY = frozenset({"credit_code"})

EntityFinder = Callable[[str], Sequence[Entity]]


class RasaEnvMissing(RuntimeError):
    """The Rasa environment (nlu/rasa/.venv) has not been created."""


def rasa_venv() -> Path:
    """The Rasa environment: ``$WANQI_RASA_VENV`` or ``nlu/rasa/.venv``."""
    return Path(os.environ.get("WANQI_RASA_VENV") or RASA_DIR / ".venv")


def rasa_executable() -> Path:
    """Path of the ``rasa`` command, or ``RasaEnvMissing`` with the fix."""
    exe = rasa_venv() / "bin" / "rasa"
    if not exe.exists():
        raise RasaEnvMissing(
            f"Rasa 环境不存在（{exe}）：请先运行 bash nlu/rasa/setup_env.sh。"
            f" Rasa environment missing ({exe}): run nlu/rasa/setup_env.sh first.")
    return exe


def _rasa_env() -> dict[str, str]:
    """Environment for rasa subprocesses: no telemetry, no model cache, less TensorFlow noise."""
    env = dict(os.environ)
    env.update({
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_MAX_CACHE_SIZE": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
    })
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


# ---------------------------------------------------------------- training


def _write_training_data(data_path: Path, target: Path, text_column: str, label_column: str) -> int:
    """Rasa YAML (file/dir) or a CSV/Excel table -> one nlu.yml plus the entity patterns; example count."""
    from nlu.data_io import load_examples, write_rasa_yaml

    examples = load_examples(data_path, text_column=text_column, label_column=label_column)
    if not examples:
        raise ValueError(f"{data_path}: no training examples")
    target.mkdir(parents=True, exist_ok=True)
    write_rasa_yaml(examples, target / "nlu.yml")
    (target / "patterns.yml").write_text(RASA_PATTERNS.read_text(encoding="utf-8"), encoding="utf-8")
    return len(examples)


def _write_config(target: Path, epochs: int | None) -> Path:
    """The project's config.yml with absolute paths, and DIET's epochs overridden when asked."""
    config = yaml.safe_load(RASA_CONFIG.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier" and epochs is not None:
            component["epochs"] = int(epochs)
        if component.get("dictionary_path"):
            component["dictionary_path"] = str((RASA_DIR / component["dictionary_path"]).resolve())
    path = target / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def train_rasa(
    data_path: str | Path,
    out_dir: str | Path,
    *,
    epochs: int | None = None,
    text_column: str = "text",
    label_column: str = "label",
    model_name: str = "appeals",
    on_line: Callable[[str], None] | None = None,
) -> Path:
    """Train a Rasa NLU model with ``rasa train nlu``; returns the ``.tar.gz`` model file.

    ``data_path`` is Rasa YAML (file or directory) or a CSV/Excel table with a text and a label
    column. ``on_line`` receives Rasa's output line by line (for a progress display).
    """
    exe = rasa_executable()
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wanqi-rasa-train-") as tmp:
        work = Path(tmp)
        count = _write_training_data(Path(data_path), work / "data", text_column, label_column)
        config = _write_config(work, epochs)
        cmd = [str(exe), "train", "nlu", "--config", str(config), "--nlu", str(work / "data"),
               "--out", str(out), "--fixed-model-name", model_name]
        log.info("rasa train nlu: %d examples -> %s", count, out)
        proc = subprocess.Popen(cmd, cwd=work, env=_rasa_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-39:], line.rstrip()]
            if on_line is not None:
                on_line(line.rstrip())
        rc = proc.wait()
    model = out / f"{model_name}.tar.gz"
    if rc != 0 or not model.exists():
        raise RuntimeError(f"rasa train nlu failed (exit {rc}):\n" + "\n".join(tail))
    return model


# ---------------------------------------------------------------- serving


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RasaServer:
    """Context manager running ``rasa run --enable-api`` on 127.0.0.1 until exit."""

    def __init__(self, model_path: str | Path, port: int = 5005, *, startup_timeout: float = 300.0,
                 log_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path).resolve()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.load_seconds: float | None = None
        self._log_path = Path(log_path) if log_path else None
        self._own_log = log_path is None  # a temporary log, removed on stop
        self._log_file: Any = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> RasaServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until the model is loaded (``GET /status`` names it)."""
        exe = rasa_executable()
        if not self.model_path.exists():
            raise FileNotFoundError(f"Rasa model not found: {self.model_path}")
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="wanqi-rasa-server-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log_file = self._log_path.open("wb")
        cmd = [str(exe), "run", "--enable-api", "-m", str(self.model_path),
               "--port", str(self.port), "-i", "127.0.0.1"]
        started = time.monotonic()
        self._proc = subprocess.Popen(cmd, cwd=RASA_DIR, env=_rasa_env(), stdout=self._log_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.load_seconds = time.monotonic() - started
        log.info("rasa server ready on %s after %.1f s", self.url, self.load_seconds)

    def _wait_ready(self, started: float) -> None:
        assert self._proc is not None
        while time.monotonic() - started < self.startup_timeout:
            if self._proc.poll() is not None:
                raise RuntimeError(f"rasa run exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/status", timeout=2) as resp:
                    status = json.loads(resp.read())
                if status.get("model_file") or status.get("model_id"):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"rasa server not ready within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM to its own process group, SIGKILL after 15 s)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None


# ---------------------------------------------------------------- client


def _default_finder() -> EntityFinder:
    from nlu.entities import extract

    return extract


def _rasa_priority(raw: dict[str, Any]) -> tuple[int, float]:
    """Rasa's pattern matches before DIET's guesses; surer guesses first."""
    from_patterns = raw.get("extractor") == "RegexEntityExtractor"
    return (0 if from_patterns else 1, -float(raw.get("confidence_entity") or 0.0))


def _overlaps(ent: Entity, taken: Iterable[Entity]) -> bool:
    return any(ent.start < t.end and t.start < ent.end for t in taken)


class RasaClassifier:
    """``appeals.ports.Classifier`` backed by a Rasa server's ``POST /model/parse``."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 5.0,
                 entity_finder: EntityFinder | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._find = entity_finder or _default_finder()

    def parse(self, text: str) -> ParseResult:
        """Ranked categories from Rasa, entities from the rules merged with Rasa's."""
        data = self._post({"text": text})
        rules = tuple(self._find(text))
        from nlu.dialogue import APPEAL, rule_act

        act = rule_act(text) or APPEAL  # the phrase rules of the dialogue gate; the server knows only appeals
        return ParseResult(ranking=self._ranking(data), entities=self._merge(text, rules, data),
                           is_appeal=act == APPEAL, act=act)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(f"{self.url}/model/parse", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise self._unavailable(f"HTTP {e.code}") from e
        except (OSError, ValueError) as e:  # refused, reset, timeout (socket.timeout is an OSError)
            raise self._unavailable(type(e).__name__ if isinstance(e, TimeoutError) else str(e)) from e
        if not isinstance(answer, dict):
            raise self._unavailable("unexpected answer")
        return answer

    def _unavailable(self, reason: str) -> ClassifierUnavailable:
        return ClassifierUnavailable(
            f"Rasa 语义服务暂不可用（{self.url}，{reason}），请稍后再试或转人工分拨。"
            f" Rasa NLU server unavailable at {self.url}: {reason}.")

    @staticmethod
    def _ranking(data: dict[str, Any]) -> tuple[CategoryScore, ...]:
        items = data.get("intent_ranking") or ([data["intent"]] if data.get("intent") else [])
        scores = [(str(i["name"]), max(float(i.get("confidence") or 0.0), 0.0))
                  for i in items if i.get("name")]
        total = sum(c for _, c in scores)
        if total > 0 and abs(total - 1.0) > 1e-6:
            scores = [(name, c / total) for name, c in scores]
        scores.sort(key=lambda s: -s[1])
        return tuple(CategoryScore(name, c) for name, c in scores)

    def _merge(self, text: str, rules: tuple[Entity, ...], data: dict[str, Any]) -> tuple[Entity, ...]:
        """Rule entities first; Rasa's only where they add a new span of a known label."""
        taken = list(rules)
        for raw in sorted(data.get("entities") or [], key=_rasa_priority):
            label = raw.get("entity")
            try:
                start, end = int(raw["start"]), int(raw["end"])
            except (KeyError, TypeError, ValueError):
                continue
            if label not in LABELS or label in RULE_ONLY or not 0 <= start < end <= len(text):
                continue
            span = text[start:end]
            ent = Entity(label, span, start, end, self._value(label, span, raw.get("value")))
            if not _overlaps(ent, taken):
                taken.append(ent)
        return tuple(sorted(taken, key=lambda e: (e.start, e.end)))

    def _value(self, label: str, span: str, rasa_value: Any) -> str:
        """Normalise like the rules do when they recognise the span alone; else Rasa's value."""
        for ent in self._find(span):
            if ent.label == label:
                return ent.value
        return str(rasa_value) if rasa_value not in (None, "") else span
