"""`wanqi` from any folder: the packaged default config, data in the per-user folder, `wanqi init`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from config import DEFAULT_CONFIG, load_settings
from tests.support import ROOT

WANQI = str(Path(sys.executable).parent / "wanqi")


def _run(cwd: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANQI_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), WANQI_LANG="zh-CN")
    return subprocess.run([WANQI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_outside_the_checkout_the_packaged_config_and_the_user_data_folder_are_used(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    migrated = _run(elsewhere, "db", "migrate", home=tmp_path)
    assert migrated.returncode == 0 and "Traceback" not in migrated.stderr, migrated.stderr
    assert (tmp_path / "data" / "wanqi" / "wanqi.db").is_file()
    assert not list(elsewhere.iterdir())  # nothing dropped in the working folder
    valid = _run(elsewhere, "policies", "validate", home=tmp_path)
    assert valid.returncode == 0 and "条政策均有效" in valid.stdout, valid.stderr


def test_init_writes_an_editable_config_and_the_sample_catalogue(tmp_path: Path) -> None:
    center = tmp_path / "center"
    made = _run(tmp_path, "init", str(center), home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (center / "config.yml").is_file() and list((center / "policies").glob("*.yml"))
    again = _run(tmp_path, "init", str(center), home=tmp_path)
    assert again.returncode == 1 and "已存在" in again.stderr and "--force" in again.stderr
    validated = _run(center, "policies", "validate", home=tmp_path)  # ./config.yml is found
    assert validated.returncode == 0, validated.stderr
    settings = load_settings(center / "config.yml", env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert Path(settings.policies.catalogue) == center / "policies"
    assert Path(settings.nlu.train_data).is_dir()  # the shipped training data, wherever wanqi is installed


def test_the_checkout_config_is_the_packaged_default_with_data_kept_here() -> None:
    checkout = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    packaged = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    assert checkout.pop("data_dir") == "." and packaged.pop("data_dir") is None
    assert checkout == packaged, "config.yml and config/default_config.yml must say the same (but data_dir)"
    settings = load_settings(ROOT / "config.yml", env={})
    assert Path(settings.database) == ROOT / "wanqi.db"
    assert Path(settings.nlu.model_dir) == ROOT / "models" / "appeals"
    assert Path(settings.policies.catalogue) == ROOT / "policies" / "catalogue"
