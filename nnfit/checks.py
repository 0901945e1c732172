"""The checks behind every config key: each takes a YAML value and returns the value to store, or raises Bad
with what is allowed. schema.py builds its fields from them (`key`, `required_key`); config.py turns a Bad into
the error line that names the file and the key. Imports neither numpy nor pandas."""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any, Callable

from .errors import closest


class Bad(Exception):
    """A value does not pass a check; carries what is allowed, or the whole complaint."""

    def __init__(self, allowed: str, complaint: str | None = None):
        self.allowed = allowed
        self.complaint = complaint


def allows(text: str) -> Callable:
    """Label a check with what it allows, for the reference and the error message."""
    def label(check: Callable) -> Callable:
        check.allowed = text
        return check

    return label


# ---- checks: each takes the YAML value and returns the value to store, or raises Bad(allowed) ----


def integer(lo: int) -> Callable:
    @allows(f"an integer >= {lo}")
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise Bad(check.allowed)
        return v

    return check


def number(lo: float, hi: float | None = None, lo_open=False, hi_open=False) -> Callable:
    left, right = ("> " if lo_open else ">= "), ("< " if hi_open else "<= ")

    @allows(f"a number {left}{lo}" + (f" and {right}{hi}" if hi is not None else " (not .inf)"))
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise Bad(check.allowed)
        if v < lo or (lo_open and v == lo) or (hi is not None and (v > hi or (hi_open and v == hi))):
            raise Bad(check.allowed)
        return float(v)

    return check


def auto_or(check: Callable) -> Callable:
    """The keyword "auto" (resolved by config.py from the other keys), or what check allows."""
    return allows(f"auto | {check.allowed}")(lambda v: v if v == "auto" else check(v))


def choice(*names: str) -> Callable:
    @allows(" | ".join(names))
    def check(v):
        if not isinstance(v, str) or v not in names:
            match = closest(v, names) if isinstance(v, str) else None
            hint = f"; did you mean '{match}'?" if match else ""
            raise Bad("", f"unknown {show(v)} (choose from: {', '.join(names)}{hint})")
        return v

    return check


@allows("true | false")
def boolean(v):
    if not isinstance(v, bool):
        raise Bad("true or false")
    return v


def optional(check: Callable) -> Callable:
    return allows(f"null | {check.allowed}")(lambda v: None if v is None else check(v))


@allows("a file path")
def file_path(v):
    if not isinstance(v, str) or not v.strip():
        raise Bad("a file path")
    return v


@allows("a column name")
def column_name(v):
    # YAML reads a column named 1 as an int; CSV headers are always text
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise Bad("a column name")
    return str(v)


def int_or(word: str) -> Callable:
    """An integer >= 1, or the keyword `word` ("full" batches, "auto" checkpoints)."""
    @allows(f"an integer >= 1 | {word}")
    def check(v):
        if v == word:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise Bad(f'an integer >= 1 or "{word}"')
        return v

    return check


def key(default: Any, check: Callable | None, doc: str):
    """A key with a default; `doc` is its one-line description."""
    factory = (lambda: type(default)(default)) if isinstance(default, (list, dict)) else None
    kw = {"default_factory": factory} if factory else {"default": default}
    return field(metadata={"check": check, "doc": doc}, **kw)


def required_key(check: Callable | None, doc: str):
    """A required key."""
    return field(metadata={"check": check, "doc": doc})


def show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list {value!r}" if len(repr(value)) < 60 else "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}...' ({len(str(value))} characters)"
