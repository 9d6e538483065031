"""Real long polling over HTTP against the Bot API stand-in on 127.0.0.1, with the real trained model."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from cli.main import main
from tests.support import ROOT


@pytest.mark.slow
def test_wanqi_demo_plays_the_whole_journey_over_http(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.yml"), "demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    for seen in ("校验位不正确", "登记完成", "诉求编号", "新派单", "已由市税务局签收", "非常满意", "已办结",
                 "差评督办", "差评重办", "demo 完成"):
        assert seen in out, seen
    db = Database(tmp_path / "demo.db")
    appeals = list(db.query("SELECT status, rating, reopen_count, department_id FROM appeals ORDER BY id"))
    assert appeals == [
        {"status": "closed", "rating": 4, "reopen_count": 0, "department_id": "tax"},
        {"status": "reopened", "rating": 2, "reopen_count": 1, "department_id": "tax"},
    ]
    moves = [r["to_status"] for r in db.query("SELECT to_status FROM appeal_events WHERE appeal_id = 1 ORDER BY id")]
    assert moves == ["submitted", "dispatched", "accepted", "replied", "closed"]
    inbox = dict(db.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall())
    assert inbox["done"] > 20 and set(inbox) == {"done"}  # every update went through the inbox


@pytest.mark.slow
def test_wanqi_demo_runs_again_in_the_same_workdir_and_leaves_no_temporary_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    workdir = tmp_path / "kept"
    for _ in range(2):  # a second run replays the journey on a fresh database
        again = CliRunner().invoke(main, ["--config", str(ROOT / "config.yml"), "demo", "--workdir", str(workdir)],
                                   env={"WANQI_LANG": ""})
        assert again.exit_code == 0, again.output
    assert (workdir / "demo.db").is_file()
    last = again.output.strip().splitlines()
    assert last[-2].startswith("结果：") and "已办结（评价：满意）" in last[-2] and "已重新办理 1 次" in last[-2]
    assert last[-1] == "demo 完成 ✅"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    fresh = CliRunner().invoke(main, ["--config", str(ROOT / "config.yml"), "demo"])
    assert fresh.exit_code == 0, fresh.output
    assert list(scratch.iterdir()) == []
