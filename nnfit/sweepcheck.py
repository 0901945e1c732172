"""What a sweep checks of its data before any run starts, since a mistake there would fail every trial: that
each file is there, and that the columns each run's config names are in its files' headers.

The driver never imports pandas for this (each trial's process does): the headers are read with the csv module
(headers.header_names), and only a column that seems missing is looked for again as a run reads the file.
"""

from __future__ import annotations

import os

from .errors import DataError, display_path
from .headers import feature_columns, header_names, require_columns


def check_data(runs: list) -> None:
    """runs: (trial, config) of each run to start. Raises the DataError the first failing run would end with."""
    for t, cfg in runs:
        for role in ("train", "valid", "test"):
            path = getattr(cfg.data, role)
            if path is not None and not os.path.isfile(path):
                raise DataError(f"{display_path(path)}: file not found (data.{role} of trial {t.name})")
    _columns(runs)


def _columns(runs: list) -> None:
    """Each config's columns in its files' headers; a column that seems missing is looked for again in the
    files as the run reads them, so that a header the csv module reads otherwise (a separator ending every
    line, which the run drops) never refuses a good sweep."""
    headers, seen = {}, set()
    for t, cfg in runs:
        d = cfg.data
        key = (d.train, d.valid, d.test, d.target, str(d.features), str(d.ignore), str(d.types), d.sep, d.decimal)
        if key in seen:
            continue
        seen.add(key)
        paths = {role: getattr(d, role) for role in ("train", "valid", "test") if getattr(d, role) is not None}
        for path in paths.values():
            if (path, d.sep, d.decimal) not in headers:
                headers[path, d.sep, d.decimal] = header_names(path, d.sep, d.decimal)
        try:
            _check_headers(d, {role: headers[path, d.sep, d.decimal] for role, path in paths.items()})
        except DataError:
            try:
                _check_headers(d, {role: _columns_read(cfg, path, role) for role, path in paths.items()})
            except DataError as e:
                where = f" (trial {t.name})" if any(k.startswith("data.") for k in t.values) else ""
                raise DataError(f"{e}{where}") from None


def _check_headers(d, headers: dict) -> None:
    """headers: {role: the file's column names, or None when they are not known}."""
    features = None  # the training file's, which the others need too
    for role, header in headers.items():
        name = display_path(getattr(d, role))
        if header is not None and role == "train":
            features = feature_columns(header, d, name)
        elif header is not None:
            require_columns(header, [d.target], name, "target column", d.sep)
            require_columns(header, features or d.features or [], name, "feature column", d.sep)


def _columns_read(cfg, path: str, role: str) -> list[str]:
    """A file's columns as its run reads them: pandas, imported here only, once a column seems missing."""
    from .csvfiles import read_csv
    from .data import reading

    return list(read_csv(path, display_path(path), role=f"data.{role}", named=role == "train", **reading(cfg)).columns)
