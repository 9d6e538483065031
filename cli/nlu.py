"""``wanqi nlu``: train, evaluate, parse, import, retrain from the desk's feedback (heavy modules are
imported per command; the group is loaded only when ``wanqi nlu`` is named)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from cli.base import Failure, HelpGroup, fail, open_data, write_xlsx
from texts import cli_locale, cli_text, has_cli_text, translator

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # where the shipped data is installed (config.PACKAGE_ROOT)

DEFAULT_MODEL = "models/appeals"
DEFAULT_TRAIN = "nlu/data/train"
DEFAULT_TEST = str(PACKAGE_ROOT / "nlu" / "data" / "test")  # shipped with the package
MIN_PER_CATEGORY = 5  # the threshold is chosen on 5-fold out-of-fold scores: every fold needs each category


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


def data_problem(exc: Any) -> Failure:
    """A ``DataError`` as one line in the operator's language."""
    if exc.key:
        return fail(f"cli.nlu.data.{exc.key}", **exc.params)
    return Failure(str(exc))  # pragma: no cover - every raise names its key


def _load(data: str | Path, text_column: str, label_column: str) -> list[Any]:
    from nlu.data_io import DataError, load_examples

    try:
        examples = load_examples(data, text_column, label_column)
    except DataError as exc:
        raise data_problem(exc) from None
    if not examples:
        raise fail("cli.nlu.no_examples", path=data)
    return examples


def _check_training_data(ctx: click.Context, examples: list[Any], allow_unknown: bool) -> list[Any]:
    """Categories config.yml knows (by id, or by name: the name becomes the id), at least two of them, each
    with enough examples for the 5-fold choice of the threshold: a model trained otherwise would route to
    categories nobody handles, or guess. ``allow_unknown`` keeps other labels (experiments)."""
    from collections import Counter
    from dataclasses import replace

    settings = _settings(ctx)
    if settings is not None:
        ids = {c.name: c.id for c in settings.routing.categories} | {c.id: c.id for c in settings.routing.categories}
        unknown = sorted({ex.label for ex in examples} - set(ids))
        if unknown and not allow_unknown:
            raise fail("cli.nlu.unknown_labels", labels=", ".join(unknown),
                       known=", ".join(c.id for c in settings.routing.categories))
        examples = [replace(ex, label=ids.get(ex.label, ex.label)) for ex in examples]
    counts = Counter(ex.label for ex in examples)
    if len(counts) < 2:
        raise fail("cli.nlu.too_few_labels", labels=", ".join(counts) or "-")
    few = sorted(f"{label} ({n})" for label, n in counts.items() if n < MIN_PER_CATEGORY)
    if few:
        raise fail("cli.nlu.too_few", min=MIN_PER_CATEGORY, labels=", ".join(few))
    return examples


def _classifier(ctx: click.Context, backend: str | None, model: str | None, rasa_url: str | None) -> Any:
    from appeals.ports import ClassifierUnavailable
    from nlu.factory import build_classifier

    backend = backend or _nlu_setting(ctx, "backend", "embedded")
    try:
        return build_classifier(backend, model or _nlu_setting(ctx, "model_dir", DEFAULT_MODEL),
                                rasa_url or _nlu_setting(ctx, "rasa_url", "http://127.0.0.1:5005"),
                                float(_nlu_setting(ctx, "rasa_timeout", 5.0)))
    except ClassifierUnavailable as exc:
        raise fail("cli.nlu.unavailable", problem=str(exc)) from exc


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
_backend = click.option("--backend", type=click.Choice(["embedded", "rasa"]), default=None,
                        help="NLU backend (default: nlu.backend of config.yml).")


@click.group(cls=HelpGroup)
def nlu() -> None:
    """Train, score and try the appeal classifier."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@nlu.command()
@click.option("--data", default=None, help="Rasa YAML file or directory, or CSV/Excel table.")
@click.option("--out", default=None, help="Model directory (default: nlu.model_dir of config.yml).")
@_backend
@_text_column
@_label_column
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (same data and seed, same model).")
@click.option("--allow-unknown", is_flag=True,
              help="Keep categories config.yml does not know (experiments; the bot cannot route them).")
@click.pass_context
def train(ctx: click.Context, data: str | None, out: str | None, backend: str | None, text_column: str,
          label_column: str, seed: int, allow_unknown: bool) -> None:
    """Train a model from labelled examples."""
    data = data or _nlu_setting(ctx, "train_data", DEFAULT_TRAIN)
    out = out or _nlu_setting(ctx, "model_dir", DEFAULT_MODEL)
    examples = _check_training_data(ctx, _load(data, text_column, label_column), allow_unknown)
    labels = sorted({ex.label for ex in examples})
    click.echo(cli_text("cli.nlu.train_data", count=len(examples), labels=len(labels), path=data), err=True)
    if backend == "rasa":  # the embedded model unless asked (training Rasa needs its own environment)
        from tqdm import tqdm

        from nlu.rasa_client import RasaEnvMissing, train_rasa

        with tqdm(desc="Rasa", unit="行", file=sys.stderr) as bar:
            try:
                model_file = train_rasa(data, out, text_column=text_column, label_column=label_column,
                                        on_line=lambda _line: bar.update(1))
            except (RasaEnvMissing, RuntimeError) as exc:
                raise Failure(str(exc)) from exc
        click.echo(cli_text("cli.nlu.rasa_saved", path=model_file))
        return
    path = _train_embedded(ctx, examples, out, seed)
    click.echo(cli_text("cli.nlu.saved", path=path))


def _train_embedded(ctx: click.Context, examples: list[Any], out: str | Path, seed: int) -> Path:
    from nlu.embedded import train_model
    from nlu.linear_model import META_FILE

    start = time.perf_counter()
    target = float(_nlu_setting(ctx, "target_precision", 0.95))
    try:
        path = train_model(examples, out, seed=seed, departments=_department_names(ctx), target_precision=target)
    except ValueError as exc:
        raise Failure(str(exc)) from exc
    meta = json.loads((Path(path) / META_FILE).read_text(encoding="utf-8"))
    r = meta.get("report", {})
    cv = r.get("best_cv_macro_f1")
    cv_text = cli_text("cli.nlu.cv", folds=r.get("folds"), f1=f"{cv:.4f}",
                       std=f"{r.get('cv_fold_std') or 0:.4f}") if cv else ""
    click.echo(cli_text("cli.nlu.trained", seconds=f"{time.perf_counter() - start:.1f}", ngrams=r.get("char_ngrams"),
                        tf=cli_text("cli.nlu.tf_sublinear" if r.get("sublinear_tf") else "cli.nlu.tf_raw"),
                        c=r.get("C"), cv=cv_text), err=True)
    click.echo(cli_text("cli.nlu.threshold", threshold=f"{meta['threshold']:.4f}",
                        coverage=f"{r.get('oof_auto_route_coverage', 0):.1%}",
                        precision=f"{r.get('oof_auto_route_precision', 0):.1%}", target=f"{target:.2f}"), err=True)
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
    """Score a model on held-out examples."""
    from nlu.evaluate import evaluate as run_evaluation

    examples = _load(data, text_column, label_column)
    start = time.perf_counter()
    classifier = _classifier(ctx, backend, model, rasa_url)
    load_s = time.perf_counter() - start
    try:
        result = run_evaluation(classifier, examples, _threshold(ctx, threshold),
                                float(_nlu_setting(ctx, "target_precision", 0.95)), progress=not as_json)
    except ValueError as exc:
        raise fail("cli.nlu.no_known_labels", path=data) from exc
    result["load_s"] = round(load_s, 3)
    if result["unknown_labels"]:
        click.echo(cli_text("cli.nlu.unknown_eval", count=sum(result["unknown_labels"].values()),
                            labels=", ".join(result["unknown_labels"])), err=True)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(report_text(result, _category_names(ctx)))
        click.echo(cli_text("cli.nlu.load", seconds=f"{load_s:.2f}"))


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
    """Classify one text and show its entities."""
    from dataclasses import asdict

    from appeals.ports import ClassifierUnavailable
    from appeals.routing import Step

    if not text.strip():
        raise click.UsageError(cli_text("cli.usage.empty_text"), ctx)
    classifier = _classifier(ctx, backend, model, rasa_url)
    try:
        result = classifier.parse(text)
    except ClassifierUnavailable as exc:
        raise fail("cli.nlu.unavailable", problem=str(exc)) from exc
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
        click.echo(cli_text("cli.nlu.parse.not_appeal", act=cli_text(f"cli.nlu.act.{result.act}")
                            if has_cli_text(f"cli.nlu.act.{result.act}") else result.act))
    click.echo(cli_text("cli.nlu.parse.auto", answer=cli_text("cli.nlu.parse.yes" if auto else "cli.nlu.parse.no"),
                        threshold=f"{threshold:.4f}"))
    if result.candidates:
        click.echo(cli_text("cli.nlu.parse.several", categories=", ".join(result.candidates)))
    click.echo(cli_text("cli.nlu.parse.categories"))
    for score in result.ranking[:top]:
        click.echo(f"  {score.confidence:6.3f}  {score.category:<14} {names.get(score.category, '')}")
    click.echo(cli_text("cli.nlu.parse.entities" if result.entities else "cli.nlu.parse.no_entities"))
    for ent in result.entities:
        click.echo(f"  {ent.label:<12} {ent.text}  →  {ent.value}  [{ent.start}:{ent.end}]")


@nlu.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, help="A .yml file, or a directory for one file per category.")
@_text_column
@_label_column
def import_table(file: str, out: str, text_column: str, label_column: str) -> None:
    """Convert a CSV/Excel table of labelled appeals to Rasa NLU YAML."""
    from nlu.data_io import write_rasa_yaml

    examples = _load(file, text_column, label_column)
    written = write_rasa_yaml(examples, out)
    labels = len({ex.label for ex in examples})
    click.echo(cli_text("cli.nlu.imported", count=len(examples), labels=labels,
                        paths=", ".join(str(p) for p in written)))


@nlu.command("export-feedback")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="A Rasa NLU YAML file (or a folder: one file per category).")
@click.pass_context
def export_feedback(ctx: click.Context, out: Path) -> None:
    """Export category corrections, dispatcher decisions and re-dispatched returns as training examples."""
    from nlu.data_io import Example, write_rasa_yaml
    from storage.repository import SqliteRepository

    rows = SqliteRepository(open_data(_settings(ctx))).feedback_examples()
    if not rows:
        raise fail("cli.nlu.no_feedback")
    latest: dict[str, str] = {}
    for text, category, _source in rows:  # the last decision on a text wins
        latest[text] = category
    written = write_rasa_yaml([Example(text=text, label=category) for text, category in latest.items()], out)
    counts = {source: sum(1 for *_, s in rows if s == source) for source in ("correction", "dispatch", "return")}
    click.echo(cli_text("cli.nlu.exported", count=len(latest), paths=", ".join(map(str, written)),
                        corrections=counts["correction"], dispatches=counts["dispatch"], returns=counts["return"]))


@nlu.command("retrain")
@click.option("--test", "test_data", default=DEFAULT_TEST, show_default="nlu/data/test shipped with wanqi",
              help="Held-out data both models are scored on.")
@click.option("--rollback", "undo", is_flag=True, help="Put the previous model back instead.")
@click.pass_context
def retrain(ctx: click.Context, test_data: str, undo: bool) -> None:
    """Retrain on the training data plus the desk's feedback; swap only if not worse (keeps the previous)."""
    from nlu.retrain import previous_dir, rollback, with_feedback
    from nlu.retrain import retrain as run
    from storage.repository import SqliteRepository

    settings = _settings(ctx)
    nlu = settings.nlu
    model_dir = settings.path(nlu.model_dir)
    if undo:
        try:
            rollback(model_dir)
        except FileNotFoundError:
            raise fail("cli.nlu.retrain.no_previous", path=previous_dir(model_dir)) from None
        click.echo(cli_text("cli.nlu.retrain.rolled_back", path=model_dir))
        return
    examples, test = _load(settings.path(nlu.train_data), "text", "label"), _load(test_data, "text", "label")
    feedback = SqliteRepository(open_data(settings)).feedback_examples()
    click.echo(cli_text("cli.nlu.retrain.feedback", count=len(feedback)), err=True)
    examples = with_feedback(examples, feedback)
    click.echo(cli_text("cli.nlu.retrain.training", count=len(examples)), err=True)
    result = run(examples, test, model_dir, departments=list(settings.departments.values()),
                 target_precision=nlu.target_precision)

    def line(name: str, r: dict[str, Any] | None) -> str:
        if r is None:
            return cli_text("cli.nlu.retrain.none", name=cli_text(name))
        return cli_text("cli.nlu.retrain.line", name=cli_text(name), f1=f"{r['macro_f1']:.4f}",
                        accuracy=f"{r['accuracy']:.4f}", threshold=f"{r['threshold']:.4f}",
                        coverage=f"{r['auto_route_coverage']:.1%}", precision=f"{r['auto_route_precision']:.1%}")

    click.echo(line("cli.nlu.retrain.old", result.old))
    click.echo(line("cli.nlu.retrain.new", result.new))
    click.echo(cli_text("cli.nlu.retrain.swapped" if result.swapped else "cli.nlu.retrain.kept", path=model_dir))


@nlu.command("template")
@click.argument("out", required=False, default="nlu-template.xlsx",
                type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def nlu_template(ctx: click.Context, out: Path) -> None:
    """Write an example spreadsheet of labelled appeals (columns text, label) and the category ids."""
    from reports.templates import nlu_template as build

    write_xlsx(out, build(translator(cli_locale(), html=False), _settings(ctx)))


def report_text(result: dict[str, Any], names: dict[str, str]) -> str:
    """``nlu.evaluate``'s figures as the operator reads them (cli.nlu.report.* in the catalogue)."""
    h = result["hindsight"]
    threshold = "—" if result["threshold"] is None else f"{result['threshold']:.4f}"
    lines = [
        cli_text("cli.nlu.report.examples", n=result["n"]),
        cli_text("cli.nlu.report.accuracy", value=f"{result['accuracy']:.4f}"),
        cli_text("cli.nlu.report.macro_f1", value=f"{result['macro_f1']:.4f}"),
        cli_text("cli.nlu.report.auto", threshold=threshold, coverage=f"{result['auto_route_coverage']:.2%}",
                 precision=f"{result['auto_route_precision']:.2%}"),
        cli_text("cli.nlu.report.hindsight", target=f"{h['target_precision']:.2f}", threshold=f"{h['threshold']:.4f}",
                 coverage=f"{h['coverage']:.2%}"),
        cli_text("cli.nlu.report.latency", p50=f"{result['p50_ms']:.2f}", p95=f"{result['p95_ms']:.2f}"),
    ]
    if result.get("unknown_labels"):
        lines.append(cli_text("cli.nlu.report.unknown", labels=", ".join(
            f"{label} ×{n}" for label, n in result["unknown_labels"].items())))
    lines += ["", cli_text("cli.nlu.report.per_class")]
    lines.append(f"{'':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for label, c in result["per_class"].items():
        lines.append(f"{label:<16}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}"
                     f"{c['support']:>9}  {names.get(label, '')}")
    labels = result["confusion"]["labels"]
    lines += ["", cli_text("cli.nlu.report.confusion"), " " * 14 + "".join(f"{i:>5}" for i in range(len(labels)))]
    for i, (label, row) in enumerate(zip(labels, result["confusion"]["matrix"], strict=True)):
        lines.append(f"{i:>2} {label[:11]:<11}" + "".join(f"{v:>5}" for v in row))
    return "\n".join(lines)
