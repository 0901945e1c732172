"""The errors a user can cause, the exit code each one maps to, and how messages name files and choices.

The CLI turns an NnfitError into one line, `Error: <message>`, on stderr and exits with `exit_code`.
Anything else is a bug in nnfit and keeps its traceback.
"""

import os

EXIT_OK = 0
EXIT_FAILURE = 1  # the run itself failed (diverged, interrupted badly)
EXIT_USAGE = 2  # bad usage, config or data
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM, by shell convention 128 + SIGINT


class NnfitError(Exception):
    """An expected failure with a message meant for the user."""

    exit_code = EXIT_USAGE


class ConfigError(NnfitError):
    """The YAML config or a --set override is malformed or inconsistent."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key  # the dotted config key at fault, when there is one


class DataError(NnfitError):
    """A CSV file is missing, unreadable, or does not fit the config or the model."""


class ArtifactError(NnfitError):
    """A run directory is missing, incomplete, or was written by an incompatible nnfit."""


class UsageError(NnfitError):
    """A command-line argument does not make sense (an existing run without --force, say)."""


class MissingDependency(NnfitError):
    """An optional package that a command needs is not installed (matplotlib for `nnfit plot`)."""


class Interrupted(NnfitError):
    """Training stopped on request (Ctrl-C, SIGTERM) after a mini-batch; the run can be resumed."""

    exit_code = EXIT_INTERRUPTED


class TrainingError(NnfitError):
    """Training failed while running (the loss became NaN, say); `result` holds what was kept."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


def closest(name, choices) -> str | None:
    """The choice most like `name` (a likely typo), or None when nothing is close."""
    import difflib

    by_lower = {str(c).lower(): str(c) for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def shorten(items: list, most: int = 8) -> str:
    """'a, b, c ... and 40 more': a list for a message."""
    shown = ", ".join(map(str, items[:most]))
    return shown + (f" ... and {len(items) - most} more" if len(items) > most else "")


def did_you_mean(name, choices) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    match = closest(name, choices)
    return f" (did you mean '{match}'?)" if match else ""


def count(n: int, noun: str) -> str:
    """'1 row', '2 rows', '1,024 validation rows': a number and its noun, in the plural unless it is 1."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def display_path(path) -> str:
    """The shorter of the path relative to the working folder and the absolute path."""
    path = os.path.abspath(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if len(rel) < len(path) else path


def run_hint(path) -> str:
    """What a folder that is no run directory is instead, when nnfit made it: a sweep's trial with folds (a
    folder of run directories fold-1, fold-2, ...) or a sweep's folder, as a sentence that answers the question
    before it ("is this an nnfit run directory?"); "" otherwise."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return ""
    folds = sorted((n for n in names if n.startswith("fold-") and n[5:].isdigit()), key=lambda n: int(n[5:]))
    if folds:
        return (f" It is a sweep's trial with folds, a folder of run directories: give one of them "
                f"({os.path.join(display_path(path), folds[0])} to {folds[-1]})")
    if {"results.csv", "sweep.yaml"} <= names:
        return f" It is a sweep's folder: its run directories are in {os.path.join(display_path(path), 'trials')}"
    return ""
