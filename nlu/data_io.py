"""Training and evaluation examples: Rasa NLU YAML (file or directory), CSV and Excel in; Rasa YAML out."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from appeals.ports import Entity

YAML_SUFFIXES = (".yml", ".yaml")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
ENCODINGS = ("utf-8-sig", "gb18030", "utf-16")

# [text](label), [text](label:value), [text]{"entity": "label", "value": "..."}
_MARKUP = re.compile(r"\[(?P<text>[^\]\n]+)\](?:\((?P<paren>[^)\n]+)\)|(?P<json>\{[^}\n]*\}))")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text; entity spans refer to the plain text."""

    text: str
    label: str
    entities: tuple[Entity, ...] = field(default=())


class DataError(ValueError):
    """The data file cannot be read as training data: an English message (logs, library use), and ``key``
    and ``params`` for the operator's language (``cli.nlu.data.<key>`` in the catalogue)."""

    def __init__(self, message: str, key: str = "", **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


def strip_markup(annotated: str) -> tuple[str, tuple[Entity, ...]]:
    """Plain text and entity spans from a Rasa-annotated example line."""
    parts: list[str] = []
    entities: list[Entity] = []
    pos = length = 0
    for m in _MARKUP.finditer(annotated):
        before = annotated[pos:m.start()]
        parts.append(before)
        length += len(before)
        text = m.group("text")
        label, value = _entity_label(m.group("paren"), m.group("json"), text)
        if label is None:  # not entity markup after all: keep it verbatim
            parts.append(m.group())
            length += len(m.group())
        else:
            entities.append(Entity(label, text, length, length + len(text), value))
            parts.append(text)
            length += len(text)
        pos = m.end()
    parts.append(annotated[pos:])
    return "".join(parts), tuple(entities)


def _entity_label(paren: str | None, js: str | None, text: str) -> tuple[str | None, str]:
    if paren is not None:
        label, _, value = paren.partition(":")
        return label.strip(), (value.strip() or text)
    try:
        spec = json.loads(js or "")
    except json.JSONDecodeError:
        return None, text
    if not isinstance(spec, dict) or "entity" not in spec:
        return None, text
    return str(spec["entity"]), str(spec.get("value", text))


def annotate(text: str, entities: Iterable[Entity]) -> str:
    """Rasa markup for ``text`` with ``entities`` (non-overlapping ones, in order)."""
    out: list[str] = []
    pos = 0
    for ent in sorted(entities, key=lambda e: e.start):
        if ent.start < pos or ent.end > len(text):
            continue
        out.append(text[pos:ent.start])
        span = text[ent.start:ent.end]
        if ent.value and ent.value != span:
            out.append(f"[{span}]{json.dumps({'entity': ent.label, 'value': ent.value}, ensure_ascii=False)}")
        else:
            out.append(f"[{span}]({ent.label})")
        pos = ent.end
    out.append(text[pos:])
    return "".join(out)


def load_rasa_yaml(path: Path) -> list[Example]:
    """Examples from one Rasa 3 NLU YAML file (intents only; synonyms, regexes, lookups skipped)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}", "yaml", path=path) from exc
    examples: list[Example] = []
    for item in doc.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        label = str(item["intent"]).strip()
        raw = item.get("examples") or []
        lines: list[str] = []
        if isinstance(raw, str):
            lines = [ln.strip()[1:].strip() for ln in raw.splitlines() if ln.strip().startswith("-")]
        else:
            lines = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in raw]
        for line in lines:
            text, entities = strip_markup(line)
            if text.strip():
                examples.append(Example(text, label, entities))
    return examples


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: unknown text encoding (tried {', '.join(ENCODINGS)})", "encoding", path=path,
                    tried=", ".join(ENCODINGS))


def _delimiter(text: str, suffix: str) -> str:
    """The field delimiter, from the header line only (the first line before any quoted field can start)."""
    if suffix == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _rows_csv(path: Path) -> list[list[str]]:
    """Rows of a CSV as Excel writes it (RFC 4180: quoted fields, doubled quotes, line breaks inside
    quotes); only the delimiter is guessed. ``csv.Sniffer`` is not used: it guesses ``doublequote`` and
    ``quotechar`` from a sample and splits rows wrongly on real data."""
    text = _read_text(path)
    delimiter = _delimiter(text, path.suffix.lower())
    reader = csv.reader(io.StringIO(text, newline=""), dialect=csv.excel, delimiter=delimiter)
    return [row for row in reader if any(cell.strip() for cell in row)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a label column of numbers: 3, not 3.0
    return str(value)


def _rows_excel(path: Path) -> list[list[str]]:
    import zipfile

    from openpyxl import load_workbook  # only needed for spreadsheets
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:  # text named .xlsx, a broken file
        raise DataError(f"{path}: not an Excel workbook ({type(exc).__name__})", "not_excel", path=path) from exc
    try:
        sheet = workbook.worksheets[0]
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)
                if any(v is not None for v in row)]
    finally:
        workbook.close()


def load_table(path: Path, text_column: str = "text", label_column: str = "label") -> list[Example]:
    """Examples from a CSV/TSV (utf-8, utf-8-sig or gbk) or Excel file with a header row."""
    rows = _rows_excel(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _rows_csv(path)
    if not rows:
        raise DataError(f"{path}: empty file", "empty", path=path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)}; columns are: {', '.join(header)}", "columns",
                        path=path, missing=", ".join(missing), found=", ".join(header) or "-")
    ti, li = header.index(text_column), header.index(label_column)
    examples = []
    for row in rows[1:]:
        text = row[ti].strip() if ti < len(row) else ""
        label = row[li].strip() if li < len(row) else ""
        if text and label:
            examples.append(Example(text, label))
    return examples


def load_examples(path: str | Path, text_column: str = "text", label_column: str = "label") -> list[Example]:
    """Examples from a Rasa YAML file, a directory of them, or a CSV/Excel table."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in YAML_SUFFIXES)
        if not files:
            raise DataError(f"{path}: no .yml files", "no_yaml", path=path)
        return [ex for f in files for ex in load_rasa_yaml(f)]
    if not path.exists():
        raise DataError(f"{path}: no such file", "missing", path=path)
    if path.suffix.lower() in YAML_SUFFIXES:
        return load_rasa_yaml(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return load_table(path, text_column, label_column)
    raise DataError(f"{path}: unsupported file type (use .yml, .csv or .xlsx)", "file_type", path=path)


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def _yaml_label(label: str) -> str:
    """The label as a YAML scalar that reads back as the same string (``yes``, ``[a, b]``, ``1.0`` are quoted)."""
    try:
        plain_reads_back = yaml.safe_load(f"k: {label}") == {"k": label}
    except yaml.YAMLError:
        plain_reads_back = False
    return label if plain_reads_back and label == label.strip() else json.dumps(label, ensure_ascii=False)


def intent_file_name(label: str, used: set[str]) -> str:
    """A file name per intent: the label where it is a safe name, else a slug with a hash of the label,
    so ``税务/发票`` and ``税务_发票`` never share a file (``used`` holds lower-cased names taken)."""
    slug = re.sub(r"[^0-9A-Za-z_一-龥-]+", "_", label) or "intent"
    name = slug
    if slug != label or slug.lower() in used:
        name = f"{slug}-{hashlib.sha1(label.encode('utf-8')).hexdigest()[:8]}"
    used.add(name.lower())
    return f"{name}.yml"


def rasa_yaml(examples: Sequence[Example]) -> str:
    """Rasa 3 NLU YAML text for ``examples``, one block per intent in first-seen order."""
    by_label: dict[str, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(ex.label, []).append(ex)
    out = ['version: "3.1"', "nlu:"]
    for label, items in by_label.items():
        out.append(f"- intent: {_yaml_label(label)}")
        out.append("  examples: |")
        for ex in items:
            out.append(f"    - {_one_line(annotate(ex.text, ex.entities))}")
    return "\n".join(out) + "\n"


def write_rasa_yaml(examples: Sequence[Example], out: str | Path) -> list[Path]:
    """Write ``examples`` to one .yml file, or to one file per intent when ``out`` is a directory."""
    out = Path(out)
    if out.suffix.lower() in YAML_SUFFIXES:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rasa_yaml(examples), encoding="utf-8")
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    labels = list(dict.fromkeys(ex.label for ex in examples))
    used: set[str] = set()
    for label in labels:
        target = out / intent_file_name(label, used)
        target.write_text(rasa_yaml([ex for ex in examples if ex.label == label]), encoding="utf-8")
        written.append(target)
    return written
