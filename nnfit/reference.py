"""The config reference, generated from the schema's fields: docs/config.md and `nnfit explain [KEY]`.

tests/test_config.py fails when docs/config.md and the schema disagree; `python -m nnfit.reference >
docs/config.md` writes it again.
"""

from __future__ import annotations

import dataclasses

from .errors import ConfigError, did_you_mean
from .schema import SECTIONS, Config, SweepConfig


def keys(cls=Config, prefix: str = ""):
    """(dotted key, field, whether it is a nullable section) for every key, a section before its keys."""
    for f in dataclasses.fields(cls):
        section = SECTIONS.get((cls, f.name))
        yield prefix + f.name, f, bool(section and section[1])
        if section:
            yield from keys(section[0], f"{prefix}{f.name}.")


def _default(f) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "required"
    value = f.default_factory() if f.default is dataclasses.MISSING else f.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("'", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a table cell cannot hold a bare |


def reference() -> str:
    """docs/config.md: every key with its default, what it allows and what it does (Markdown)."""
    tables: dict[str, list[str]] = {"": []}  # section -> its rows; "" = the top level
    docs = {"": "What to predict, and the loss to train with"}
    for key, f, nullable in keys():
        section = key.rpartition(".")[0]
        doc = f.metadata["doc"]
        if f.metadata["check"] is None:  # a section of its own
            tables[key], docs[key] = [], doc[0].upper() + doc[1:]
            if nullable:  # a section that may be null is also a key of its parent
                tables[section].append(f"| `{key}` | `null` | null \\| a mapping (below) | {_cell(doc)} |")
            continue
        tables[section].append(f"| `{key}` | `{_default(f)}` | {_cell(f.metadata['check'].allowed)} | {_cell(doc)} |")
    lines = ["# The config reference", "",
             "Generated from `nnfit/schema.py`: `nnfit explain` prints it, `nnfit explain KEY` one key. Only",
             "`task`, `data.train` and `data.target` are required; every other key has the default shown.", ""]
    for section, rows in tables.items():
        lines += [f"## {'`' + section + '`' if section else 'Top level'}", "", docs[section] + ".", "",
                  "| key | default | allowed | what it does |", "|---|---|---|---|", *rows, ""]
    return "\n".join(lines)


def sweep_reference() -> str:
    """The table of the sweep file's keys (docs/sweep.md), from schema.SweepConfig."""
    rows = [f"| `{key}` | `{_default(f)}` | {_cell(f.metadata['check'].allowed)} | {_cell(f.metadata['doc'])} |"
            for key, f, _ in keys(SweepConfig)]
    return "\n".join(["| key | default | allowed | what it does |", "|---|---|---|---|", *rows]) + "\n"


def explain(key: str | None = None) -> str:
    """One key's entry (or the whole reference when key is None), as plain text for the terminal."""
    if key is None:
        return reference()
    found = {k: f for k, f, _ in keys()}
    if key not in found:
        raise ConfigError(f"{key}: unknown key{did_you_mean(key, found)}", key)
    f = found[key]
    if f.metadata["check"] is None:
        inner = [k for k in found if k.startswith(key + ".") and "." not in k[len(key) + 1:]]
        return f"{key}: {f.metadata['doc']}\n  keys: {', '.join(inner)}\n"
    return (f"{key}: {f.metadata['doc']}\n  default: {_default(f)}\n  allowed: {f.metadata['check'].allowed}\n")


if __name__ == "__main__":
    import sys

    print(sweep_reference() if sys.argv[1:] == ["sweep"] else reference(), end="")
