"""Loading the YAML catalogue: the shipped sample validates; every error names file, record and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.catalogue import CatalogueError, load_catalogue

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_sample_catalogue_validates_and_is_marked_sample() -> None:
    policies = load_catalogue(ROOT / "policies" / "catalogue")
    assert len(policies) >= 45
    assert len({p.id for p in policies}) == len(policies)
    assert all(p.sample for p in policies)


GOOD = """
sample: true
policies:
  - id: ok-001
    title: 示例政策
    issuer: 示例局
    summary: 摘要
    published: 2026-01-01
    valid_from: 2026-01-01
    topics: [融资]
"""

BAD = """
policies:
  - id: bad-001
    title: 缺发文单位
    summary: 摘要
    published: 2026-13-01
    valid_from: 2026-01-01
    valid_until: 2025-12-31
    url: http://example.com
    topics: [融资, 宇宙]
    criteria:
      industries: [C, Z]
      scales: [巨型]
      founded_min_years: 5
      founded_max_years: 2
      colour: red
  - title: 无编号
    issuer: 示例局
    summary: 摘要
    published: 2026-01-01
    valid_from: 2026-01-01
    topics: [融资]
  - id: ok-001
    title: 重复编号
    issuer: 示例局
    summary: 摘要
    published: 2026-01-01
    valid_from: 2026-01-01
    topics: [税费]
"""


def test_all_errors_reported_at_once_with_file_record_and_field(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yml").write_text(BAD, encoding="utf-8")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(tmp_path)
    got = {(i.source, i.record, i.field) for i in err.value.issues}
    rec = "policies[0] (bad-001)"
    for field in ("issuer", "published", "valid_until", "url", "topics", "criteria.industries",
                  "criteria.scales", "criteria.founded_max_years", "criteria.colour"):
        assert ("b.yml", rec, field) in got, field
    assert ("b.yml", "policies[1]", "id") in got
    assert ("b.yml", "policies[2] (ok-001)", "id") in got  # duplicate of a.yml
    text = str(err.value)
    assert "b.yml: policies[0] (bad-001): criteria.industries: 未知取值 'Z'" in text
    assert "a.yml" in text  # the duplicate names where the first one lives
    assert not any(i.source == "a.yml" for i in err.value.issues)


def test_a_file_without_policies_list_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text("sample: true\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"x.yml: policies: "):
        load_catalogue(tmp_path / "x.yml")


def test_overlong_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD.replace("ok-001", "x" * 49), encoding="utf-8")
    with pytest.raises(CatalogueError, match="不超过 48 个字符"):
        load_catalogue(tmp_path)


def test_sample_flag_only_when_set(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD.replace("sample: true\n", ""), encoding="utf-8")
    [p] = load_catalogue(tmp_path)
    assert p.sample is False and p.criteria.industries == ()
