"""MkDocs hook: replaces each `<!-- results: NAME -->` with tables of `benchmarks/results/NAME.json`.

So every measurement on the site comes from the committed JSON a benchmark wrote. A run of seeds
(`{"accuracy": {TASK: {mean, sd, worst}}, "pointing": {TASK: [{mean, worst} per hop]}, …}`) becomes one
table per run, tasks by rows; any other list of records or mapping becomes a table, nested fields
flattened to dotted column names.
"""

import json
import pathlib
import re

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "results"
MARKER = re.compile(r"<!-- results: ([a-z0-9_]+) -->")
HEADER_FIELDS = ("command", "machine", "date")


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(lambda match: render(match[1]), markdown)


def render(name):
    """The Markdown of one results file: its provenance, then a table (or a line) per field."""
    data = json.loads((RESULTS / f"{name}.json").read_text())
    lines = [f"From `benchmarks/results/{name}.json`: {data.get('machine', '')}, {data.get('date', '')}.", ""]
    lines += [f"    {data.get('command', '')}", ""]
    for key, value in data.items():
        if key not in HEADER_FIELDS:
            lines += _field(key, value)
    return "\n".join(lines)


def _field(key, value):
    if key == "runs" and isinstance(value, dict):
        return [line for run, fields in value.items() for line in _run(run, fields)]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [f"**{key}**", "", *_table([_flat(v) for v in value]), ""]
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return [f"**{key}**", "", *_table([{"": k, **_flat(v)} for k, v in value.items()]), ""]
    if isinstance(value, dict):
        return [f"**{key}**", "", *_table([_flat(value)]), ""]
    return [f"**{key}**: {_cell(value)}", ""]


def _is_stat(value):
    return isinstance(value, dict) and {"mean", "worst"} <= set(value)


def _run(name, fields):
    """A run over seeds: accuracy (% mean ± sd, worst seed) and pointing per hop, tasks by rows."""
    accuracy = fields.get("accuracy") or {k: v for k, v in fields.items() if _is_stat(v)}
    if not accuracy or not all(_is_stat(v) for v in accuracy.values()):
        return [f"**{name}**", "", *_table([_flat(fields)]), ""]
    pointing = fields.get("pointing", {})
    hops = max((len(v) for v in pointing.values()), default=0)
    rows = []
    for task, stat in accuracy.items():
        row = {"task": task, "accuracy % (worst seed)": _percent(stat)}
        for hop in range(hops):
            per_hop = pointing.get(task, [])
            row[f"hop {hop + 1} pointing %"] = _percent(per_hop[hop]) if hop < len(per_hop) else ""
        rows.append(row)
    described = ("experiment", "overrides", "seeds", "eval_questions_per_task")
    about = ", ".join(f"{k} {_cell(fields[k])}" for k in described if k in fields)
    return [f"**{name}** ({about})", "", *_table(rows), ""]


def _percent(stat):
    sd = f" ± {100 * stat['sd']:.1f}" if "sd" in stat else ""
    return f"{100 * stat['mean']:.1f}{sd} ({100 * stat['worst']:.1f})"


def _flat(record, prefix=""):
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_stat(value):
            flat.update(_flat(value, name + "."))
        else:
            flat[name] = value
    return flat


def _cell(value):
    if _is_stat(value):
        sd = f" ± {value['sd']:.4g}" if "sd" in value else ""
        return f"{value['mean']:.4g}{sd} (worst {value['worst']:.4g})"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) <= 80 else text[:77] + "…"
    return str(value).replace("|", "\\|")


def _table(rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines
