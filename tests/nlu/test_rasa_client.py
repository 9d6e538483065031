"""The Rasa client against a stub HTTP server on 127.0.0.1 (no Rasa needed), and the Rasa project files."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from appeals.ports import ClassifierUnavailable, Entity
from nlu import rasa_client
from nlu.rasa_client import RasaClassifier, RasaEnvMissing, free_port, train_rasa

ROOT = Path(__file__).resolve().parents[2]

TEXT = "我司在高要区的厂房报装用电两个月没通，请城管局处理，电话13812345678，代码91440000MA4UXXXX0X"


def _span(word: str) -> dict[str, int]:
    start = TEXT.index(word)
    return {"start": start, "end": start + len(word)}


CANNED: dict[str, Any] = {
    "text": TEXT,
    "intent": {"name": "utilities", "confidence": 0.3},
    # a truncated ranking (sums to 0.5) in no particular order
    "intent_ranking": [
        {"name": "construction", "confidence": 0.1},
        {"name": "utilities", "confidence": 0.3},
        {"name": "other", "confidence": 0.1},
    ],
    "entities": [
        {"entity": "district", **_span("在高要区"), "value": "高要区", "extractor": "DIETClassifier"},
        {"entity": "department", **_span("城管局"), "value": "城管局", "extractor": "RegexEntityExtractor"},
        {"entity": "credit_code", **_span("91440000MA4UXXXX0X"), "value": "x", "extractor": "RegexEntityExtractor"},
        {"entity": "product", **_span("用电"), "value": "用电", "extractor": "DIETClassifier"},
        {"entity": "phone", "start": 30, "end": 999, "value": "bad span", "extractor": "DIETClassifier"},
    ],
}


class _Stub(BaseHTTPRequestHandler):
    answer: Any = CANNED
    status = 200
    delay = 0.0
    seen: list[dict[str, Any]] = []  # noqa: RUF012 - reset per test by the fixture

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).seen.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        time.sleep(self.delay)
        payload = json.dumps(self.answer, ensure_ascii=False).encode()
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[type[_Stub]]:
    handler = type("Stub", (_Stub,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def no_rules(text: str) -> tuple[Entity, ...]:
    return ()


def test_ranking_is_sorted_and_renormalised(stub: Any) -> None:
    result = RasaClassifier(stub.url, entity_finder=no_rules).parse(TEXT)
    assert [s.category for s in result.ranking] == ["utilities", "construction", "other"]
    assert result.ranking[0].confidence == pytest.approx(0.6)
    assert sum(s.confidence for s in result.ranking) == pytest.approx(1.0)
    assert stub.seen == [{"path": "/model/parse", "body": {"text": TEXT}}]


def test_complete_ranking_is_kept_as_is(stub: Any) -> None:
    stub.answer = {**CANNED, "intent_ranking": [{"name": "tax", "confidence": 0.7},
                                                 {"name": "other", "confidence": 0.3}]}
    result = RasaClassifier(stub.url, entity_finder=no_rules).parse("发票")
    assert [(s.category, s.confidence) for s in result.ranking] == [("tax", 0.7), ("other", 0.3)]


def test_rasa_entities_keep_known_labels_and_valid_spans_but_never_credit_codes(stub: Any) -> None:
    result = RasaClassifier(stub.url, entity_finder=no_rules).parse(TEXT)
    assert [(e.label, e.text) for e in result.entities] == [("district", "在高要区"), ("department", "城管局")]


def test_rule_entities_win_overlapping_spans_and_normalise_values(stub: Any) -> None:
    def rules(text: str) -> tuple[Entity, ...]:
        found = []
        if "高要" in text:
            i = text.index("高要")
            found.append(Entity("district", "高要", i, i + 2, "高要区"))
        if "城管局" in text:
            i = text.index("城管局")
            found.append(Entity("department", "城管局", i, i + 3, "市城管局"))
        return tuple(found)

    result = RasaClassifier(stub.url, entity_finder=rules).parse(TEXT)
    assert [(e.label, e.text, e.value) for e in result.entities] == [
        ("district", "高要", "高要区"),  # the rule span, not DIET's overlapping one
        ("department", "城管局", "市城管局"),
    ]


def test_real_rule_extractor_is_merged_by_default(stub: Any) -> None:
    stub.answer = {**CANNED, "entities": []}
    result = RasaClassifier(stub.url).parse(TEXT)
    phones = [e for e in result.entities if e.label == "phone"]
    assert [e.value for e in phones] == ["13812345678"]
    assert "district" in {e.label for e in result.entities}


def test_timeout_raises_unavailable_naming_the_url(stub: Any) -> None:
    stub.delay = 1.0
    client = RasaClassifier(stub.url, timeout=0.2, entity_finder=no_rules)
    started = time.monotonic()
    with pytest.raises(ClassifierUnavailable) as info:
        client.parse("你好")
    assert time.monotonic() - started < 0.9
    assert stub.url in str(info.value) and "不可用" in str(info.value) and "unavailable" in str(info.value)


@pytest.mark.parametrize("status", [409, 500])
def test_http_error_raises_unavailable(stub: Any, status: int) -> None:
    stub.status = status
    with pytest.raises(ClassifierUnavailable, match=f"HTTP {status}"):
        RasaClassifier(stub.url, entity_finder=no_rules).parse("你好")


def test_server_down_raises_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ClassifierUnavailable, match=re.escape(url)):
        RasaClassifier(url, timeout=1.0, entity_finder=no_rules).parse("你好")


def test_not_json_raises_unavailable(stub: Any) -> None:
    stub.answer = ["not", "a", "parse", "result"]
    with pytest.raises(ClassifierUnavailable):
        RasaClassifier(stub.url, entity_finder=no_rules).parse("你好")


def test_training_without_the_environment_says_how_to_create_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANQI_RASA_VENV", str(tmp_path / "nothing"))
    with pytest.raises(RasaEnvMissing, match=r"setup_env\.sh"):
        train_rasa(ROOT / "nlu" / "data" / "train", tmp_path / "out")


def test_epochs_override_and_absolute_dictionary_path(tmp_path: Path) -> None:
    config = yaml.safe_load(rasa_client._write_config(tmp_path, epochs=3).read_text(encoding="utf-8"))
    by_name = {c["name"]: c for c in config["pipeline"] if c["name"] != "CountVectorsFeaturizer"}
    assert by_name["DIETClassifier"]["epochs"] == 3
    assert Path(by_name["JiebaTokenizer"]["dictionary_path"]).is_dir()


def test_training_data_is_converted_from_csv(tmp_path: Path) -> None:
    csv = tmp_path / "tickets.csv"
    csv.write_text("内容,类别\n发票开不出来,tax\n工资被拖欠,labor\n", encoding="utf-8")
    count = rasa_client._write_training_data(csv, tmp_path / "data", "内容", "类别")
    assert count == 2
    nlu = yaml.safe_load((tmp_path / "data" / "nlu.yml").read_text(encoding="utf-8"))["nlu"]
    assert {block["intent"] for block in nlu} == {"tax", "labor"}
    assert (tmp_path / "data" / "patterns.yml").exists()


def test_rasa_project_matches_the_center_config() -> None:
    center = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    domain = yaml.safe_load((ROOT / "nlu" / "rasa" / "domain.yml").read_text(encoding="utf-8"))
    assert domain["intents"] == [c["id"] for c in center["categories"]]
    config = yaml.safe_load((ROOT / "nlu" / "rasa" / "config.yml").read_text(encoding="utf-8"))
    assert config["language"] == "zh"
    vectorizers = [c for c in config["pipeline"] if c["name"] == "CountVectorsFeaturizer"]
    assert {c["analyzer"] for c in vectorizers} == {"word", "char_wb"}
    assert all(isinstance(c.get("max_features"), int) for c in vectorizers)  # memory cap
    diet = next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")
    assert diet["number_of_transformer_layers"] == 0 and "random_seed" in diet
    patterns = yaml.safe_load((ROOT / "nlu" / "rasa" / "data" / "patterns.yml").read_text(encoding="utf-8"))
    names = {p.get("regex") or p.get("lookup") for p in patterns["nlu"]}
    assert names == set(rasa_client.LABELS)


def test_rasa_pattern_matches_win_over_diet_guesses(stub: Any) -> None:
    text = "电话13912345678"
    span = {"start": 2, "end": 13, "value": "13912345678"}
    stub.answer = {"intent_ranking": [{"name": "other", "confidence": 1.0}], "entities": [
        {"entity": "money", **span, "confidence_entity": 0.5, "extractor": "DIETClassifier"},
        {"entity": "phone", **span, "extractor": "RegexEntityExtractor"},
    ]}
    result = RasaClassifier(stub.url, entity_finder=no_rules).parse(text)
    assert [(e.label, e.text) for e in result.entities] == [("phone", "13912345678")]
