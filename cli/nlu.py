"""``wanqi nlu``: train, evaluate, parse and import (heavy modules are imported per command)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from config import PACKAGE_ROOT
from texts import cli_text

DEFAULT_MODEL = "models/appeals"
DEFAULT_TRAIN = "nlu/data/train"
DEFAULT_TEST = str(PACKAGE_ROOT / "nlu" / "data" / "test")  # shipped with the package


def _settings(ctx: click.Context) -> Any:
    """The validated settings from the root command (``wanqi``), or None when this group runs alone."""
    root = ctx.find_root()
    loader = root.obj.get("settings_loader") if isinstance(root.obj, dict) else None
    return loader() if loader is not None else None


def _nlu_setting(ctx: click.Context, key: str, default: Any) -> Any:
    settings = _settings(ctx)
    return getattr(settings.nlu, key) if settings is not None else default


def _category_names(ctx: click.Context) -> dict[str, str]:
    settings = _settings(ctx)
    return {c.id: c.name for c in settings.routing.categories} if settings is not None else {}


def _department_names(ctx: click.Context) -> list[str]:
    settings = _settings(ctx)
    return list(settings.departments.values()) if settings is not None else []


def _load(data: str, text_column: str, label_column: str) -> list[Any]:
    from nlu.data_io import DataError, load_examples

    try:
        examples = load_examples(data, text_column, label_column)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    if not examples:
        raise click.ClickException(f"{data}: no labelled examples")
    return examples


def _classifier(ctx: click.Context, backend: str | None, model: str | None, rasa_url: str | None) -> Any:
    from appeals.ports import ClassifierUnavailable
    from nlu.factory import build_classifier

    backend = backend or _nlu_setting(ctx, "backend", "spacy")
    try:
        return build_classifier(backend, model or _nlu_setting(ctx, "model_dir", DEFAULT_MODEL),
                                rasa_url or _nlu_setting(ctx, "rasa_url", "http://127.0.0.1:5005"),
                                float(_nlu_setting(ctx, "rasa_timeout", 5.0)))
    except ClassifierUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def _routing(ctx: click.Context, labels: list[str]) -> Any:
    """The bot's routing (appeals.routing) for config.yml's categories; a model label config.yml does not
    know (a model trained on other data) counts as a category with a department of its own."""
    from appeals.routing import Category, Routing

    settings = _settings(ctx)
    known: tuple[Category, ...] = settings.routing.categories if settings is not None else ()
    ids = {c.id for c in known}
    extra = tuple(Category(label, label, label) for label in labels if label not in ids)
    return Routing(known + extra, threshold=_threshold(ctx, None))


_text_column = click.option("--text-column", default="text", show_default=True, help="CSV/Excel text column.")
_label_column = click.option("--label-column", default="label", show_default=True,
                             help="CSV/Excel label column.")
_backend = click.option("--backend", type=click.Choice(["embedded", "spacy", "rasa"]), default=None,
                        help="NLU backend (default: nlu.backend of config.yml).")


@click.group()
def nlu() -> None:
    """训练、评估和试用诉求分类模型 (NLU tools)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@nlu.command()
@click.option("--data", default=None, help="Rasa YAML file or directory, or CSV/Excel table.")
@click.option("--out", default=None, help="Model directory (default: nlu.model_dir of config.yml).")
@_backend
@_text_column
@_label_column
@click.option("--seed", default=0, show_default=True, type=int)
@click.pass_context
def train(ctx: click.Context, data: str | None, out: str | None, backend: str | None, text_column: str,
          label_column: str, seed: int) -> None:
    """训练模型 Train a model from labelled examples."""
    data = data or _nlu_setting(ctx, "train_data", DEFAULT_TRAIN)
    out = out or _nlu_setting(ctx, "model_dir", DEFAULT_MODEL)
    examples = _load(data, text_column, label_column)
    labels = sorted({ex.label for ex in examples})
    click.echo(f"训练数据 {len(examples)} 条, {len(labels)} 个类别 ({data})", err=True)
    if (backend or "spacy") == "rasa":
        from tqdm import tqdm

        from nlu.rasa_client import RasaEnvMissing, train_rasa

        with tqdm(desc="Rasa 训练 train", unit="行", file=sys.stderr) as bar:
            try:
                model_file = train_rasa(data, out, text_column=text_column, label_column=label_column,
                                        on_line=lambda _line: bar.update(1))
            except (RasaEnvMissing, RuntimeError) as exc:
                raise click.ClickException(str(exc)) from exc
        click.echo(f"Rasa 模型已保存: {model_file}")
        return
    path = _train_embedded(ctx, examples, out, seed)
    click.echo(f"模型已保存 model saved: {path}")


def _train_embedded(ctx: click.Context, examples: list[Any], out: str | Path, seed: int) -> Path:
    from nlu.embedded import train_model
    from nlu.linear_model import META_FILE

    start = time.perf_counter()
    target = float(_nlu_setting(ctx, "target_precision", 0.95))
    try:
        path = train_model(examples, out, seed=seed, departments=_department_names(ctx), target_precision=target)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    meta = json.loads((Path(path) / META_FILE).read_text(encoding="utf-8"))
    r = meta.get("report", {})
    cv = r.get("best_cv_macro_f1")
    cv_text = f", {r.get('folds')}-fold CV macro-F1 {cv:.4f} ± {r.get('cv_fold_std') or 0:.4f}" if cv else ""
    click.echo(f"训练完成 trained in {time.perf_counter() - start:.1f} s: char {r.get('char_ngrams')}-grams, "
               f"{'sublinear' if r.get('sublinear_tf') else 'raw'} tf, C={r.get('C')}{cv_text}", err=True)
    click.echo(f"自动分拨阈值 threshold {meta['threshold']:.4f} (out-of-fold: {r.get('oof_auto_route_coverage', 0):.1%}"
               f" auto-routed at precision {r.get('oof_auto_route_precision', 0):.1%}, target {target:.2f})", err=True)
    return Path(path)


def _threshold(ctx: click.Context, given: float | None) -> float | None:
    """--threshold, else nlu.threshold of config.yml, else None (the model's own)."""
    if given is not None:
        return given
    configured = _nlu_setting(ctx, "threshold", None)
    return None if configured is None else float(configured)


@nlu.command()
@click.option("--model", default=None, help="Model directory (default: nlu.model_dir of config.yml).")
@click.option("--data", default=DEFAULT_TEST, show_default="nlu/data/test shipped with wanqi",
              help="Held-out Rasa YAML or CSV/Excel.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Auto-route threshold (default: nlu.threshold of config.yml, else the model's own).")
@_backend
@click.option("--rasa-url", default=None, help="Rasa server URL (default: nlu.rasa_url of config.yml).")
@_text_column
@_label_column
@click.pass_context
def evaluate(ctx: click.Context, model: str | None, data: str, as_json: bool, threshold: float | None,
             backend: str | None, rasa_url: str | None, text_column: str, label_column: str) -> None:
    """评估模型 Score a model on held-out examples."""
    from nlu.evaluate import evaluate as run_evaluation
    from nlu.evaluate import format_report

    examples = _load(data, text_column, label_column)
    start = time.perf_counter()
    classifier = _classifier(ctx, backend, model, rasa_url)
    load_s = time.perf_counter() - start
    try:
        result = run_evaluation(classifier, examples, _threshold(ctx, threshold),
                                float(_nlu_setting(ctx, "target_precision", 0.95)), progress=not as_json)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    result["load_s"] = round(load_s, 3)
    if result["unknown_labels"]:
        click.echo(f"警告 warning: {sum(result['unknown_labels'].values())} examples have labels the model does not "
                   f"know ({', '.join(result['unknown_labels'])}); scored over the model's labels only", err=True)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(format_report(result, _category_names(ctx)))
        click.echo(f"模型加载 model load: {load_s:.2f} s")


@nlu.command()
@click.argument("text")
@click.option("--model", default=None, help="Model directory (default: nlu.model_dir of config.yml).")
@_backend
@click.option("--rasa-url", default=None)
@click.option("--top", default=5, show_default=True, type=int, help="How many categories to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def parse(ctx: click.Context, text: str, model: str | None, backend: str | None, rasa_url: str | None,
          top: int, as_json: bool) -> None:
    """试用模型 Classify one text and show its entities."""
    from dataclasses import asdict

    from appeals.ports import ClassifierUnavailable
    from appeals.routing import Step

    if not text.strip():
        raise click.UsageError(cli_text("cli.usage.empty_text"), ctx)
    classifier = _classifier(ctx, backend, model, rasa_url)
    try:
        result = classifier.parse(text)
    except ClassifierUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    routing = _routing(ctx, [s.category for s in result.ranking])
    threshold = routing.threshold_for(result)
    top_score = result.top
    auto = routing.triage(text, result).step is Step.FILE and routing.decide(result).automatic
    if as_json:
        click.echo(json.dumps({
            "category": top_score.category if top_score else None,
            "confidence": top_score.confidence if top_score else 0.0,
            "ranking": [asdict(s) for s in result.ranking[:top]], "entities": [asdict(e) for e in result.entities],
            "is_appeal": result.is_appeal, "act": result.act, "candidates": list(result.candidates),
            "auto_route": auto, "threshold": round(threshold, 4)}, ensure_ascii=False))
        return
    names = _category_names(ctx)
    if not result.is_appeal:
        click.echo(f"不是诉求 not an appeal: {result.act}")
    click.echo(f"自动分拨 auto-route: {'是 yes' if auto else '否 no'} (threshold {threshold:.4f})")
    if result.candidates:
        click.echo("多个问题 several topics: " + ", ".join(result.candidates))
    click.echo("类别 categories:")
    for score in result.ranking[:top]:
        click.echo(f"  {score.confidence:6.3f}  {score.category:<14} {names.get(score.category, '')}")
    click.echo("实体 entities:" + ("" if result.entities else " 无"))
    for ent in result.entities:
        click.echo(f"  {ent.label:<12} {ent.text}  →  {ent.value}  [{ent.start}:{ent.end}]")


@nlu.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, help="A .yml file, or a directory for one file per category.")
@_text_column
@_label_column
def import_table(file: str, out: str, text_column: str, label_column: str) -> None:
    """导入数据 Convert a CSV/Excel table of labelled appeals to Rasa NLU YAML."""
    from nlu.data_io import write_rasa_yaml

    examples = _load(file, text_column, label_column)
    written = write_rasa_yaml(examples, out)
    labels = len({ex.label for ex in examples})
    click.echo(f"已导入 {len(examples)} 条, {labels} 个类别 → {', '.join(str(p) for p in written)}")
