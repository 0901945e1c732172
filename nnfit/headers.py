"""A CSV file's header: its separator, its column names, and whether the columns a config names are there.

Nothing here needs pandas, so a sweep's driver checks every trial's columns from the headers alone, before
any trial starts, without importing it (the trials' processes do that).
"""

from __future__ import annotations

import csv
import re

from .errors import DataError, closest, shorten

SEPARATORS = (",", ";", "\t", "|")  # what data.sep: auto recognises, in order of preference on a tie
HEADER_BYTES = 1 << 20  # how far header_names looks for the end of the header line


def detect_separator(head: bytes, decimal: str = ".") -> str:
    """The separator of a CSV from its header line: whichever of , ; tab | occurs most outside quotes there
    (with decimal commas, a comma only when the header has none of the others: its numbers are then quoted);
    ',' when the header has none, ';' with decimal commas."""
    lines = head.decode("utf-8", "replace").lstrip("\ufeff").split("\n")
    line = next((x for x in lines if x.strip()), "")  # pandas skips blank lines before the header
    line = re.sub(r'"[^"]*"', "", line)  # what is inside quotes does not count
    candidates = [s for s in SEPARATORS if not (s == "," and decimal == ",")]
    best = max(candidates, key=line.count)
    return best if line.count(best) else "," if "," in line or decimal == "." else candidates[0]


def separator_name(sep: str) -> str:
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(sep, repr(sep))


def other_separator_in(columns, sep: str) -> str | None:
    """A likelier separator when a header was split into one column that holds one, else None."""
    if len(columns) != 1:
        return None
    return next((s for s in SEPARATORS if s != sep and s in str(columns[0])), None)


def one_column_header(columns, sep: str, model: bool = False, decimal: str = ".") -> str | None:
    """When a header was read as one column that holds another separator: why, and what to set (model: the
    file is read as a trained model reads its files, with its data.sep and data.decimal, unless told)."""
    other = other_separator_in(columns, sep)
    if other is None:
        return None
    if model:
        fix = (f"and the model reads them separated by {separator_name(sep)}, as its training files were: add "
               f"--sep {'tab' if other == chr(9) else repr(other)}"
               + (" --decimal . (commas separate its fields)" if other == "," and decimal == "," else ""))
    else:
        fix = f"not {separator_name(sep)} (set data.sep: {'tab' if other == chr(9) else repr(other)}, or auto)"
    return f"the header is one column, {columns[0]}, so the fields look separated by {separator_name(other)}, {fix}"


def require_columns(header, columns, name: str, what: str = "column", sep: str = ",", model: bool = False,
                    decimal: str = ".") -> None:
    """Each of columns is in header (a file's column names), or a DataError naming it; model: the file is read
    as a trained model reads its files (predict, evaluate), where data.sep is no longer the user's to set."""
    header = list(header)
    for c in columns:
        if c not in header:
            split = one_column_header(header, sep, model, decimal)
            if split:  # the whole header became one column: the file has another separator
                raise DataError(f"{name}: {what} '{c}' not found: {split}")
            match = closest(c, [x for x in header if x not in columns])  # not one that is needed as itself
            hint = f"did you mean '{match}'? " if match else ""
            raise DataError(f"{name}: {what} '{c}' not found ({hint}columns: {shorten(header)})")


def feature_columns(header, data_cfg, name: str) -> list[str]:
    """The configured features, or every column of header except the target and the ignored ones."""
    sep = data_cfg.sep
    require_columns(header, [data_cfg.target], name, "target column", sep)
    require_columns(header, data_cfg.ignore, name, "column (in data.ignore)", sep)
    require_columns(header, list(data_cfg.types), name, "column (in data.types)", sep)
    if data_cfg.features is not None:
        require_columns(header, data_cfg.features, name, "feature column", sep)
        return list(data_cfg.features)
    features = [c for c in header if c != data_cfg.target and c not in data_cfg.ignore]
    if not features:
        raise DataError(f"{name}: no feature columns left after removing the target and data.ignore")
    return features


def header_names(path: str, sep: str = "auto", decimal: str = ".") -> list[str] | None:
    """A CSV file's column names as a training run reads them (the spaces around them stripped), from its
    first megabyte; None when that cannot be told here for certain (no whole header line, a quoted line break
    in it, not UTF-8), which the run's full read then reports."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
        lines = head.split(b"\n")
        line = next(x for x in lines[:-1] if x.strip(b"\r"))  # pandas skips blank lines before the header
        text = line.rstrip(b"\r").decode("utf-8").lstrip("\ufeff")
    except (OSError, StopIteration, UnicodeDecodeError):
        return None
    sep = detect_separator(line, decimal) if sep == "auto" else sep
    if len(sep) != 1 or text.count('"') % 2 or b"\x00" in head[:8192]:
        return None
    try:
        names = next(csv.reader([text], delimiter=sep), [])
    except csv.Error:  # a lone carriage return ending lines (old Mac files), say
        return None
    return [n.strip() or f"Unnamed: {i}" for i, n in enumerate(names)]
