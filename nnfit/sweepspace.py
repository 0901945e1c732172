"""A sweep's search space: each parameter's values or distribution checked, the grid or the random draws,
and the trials' names. Knows the config's keys but builds no config (sweep.py does).
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import yaml

from .errors import ConfigError, closest
from .reference import keys as config_keys
from .checks import show
from .schema import DISTRIBUTIONS, SweepConfig

MAX_TRIALS = 10_000  # a bigger grid is far more likely a mistake than a plan
NAME_LENGTH = 100  # characters of a trial name after its number; file names allow 255 bytes


def check_parameter(key: str, value, spec: SweepConfig, source: str) -> None:
    """A parameter must be a config key with a list of distinct values or, with method random, a distribution."""
    where = f"{source}: parameters.{key}"
    known = {k: f.metadata["check"] is not None for k, f, _ in config_keys()}  # key -> whether it is no section
    if key not in known:
        section, _, last = key.rpartition(".")
        inside = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == section]
        match = closest(last, inside) if section in known else closest(key, [k for k, leaf in known.items() if leaf])
        hint = f" (did you mean '{section}.{match}'?)" if match and section in known else \
            f" (did you mean '{match}'?)" if match else ""
        raise ConfigError(f"{where}: not a config key{hint}", f"parameters.{key}")
    if spec.folds is not None and key in ("data.folds", "data.fold", "data.valid"):
        raise ConfigError(f"{where}: the sweep's folds set it; sweep it without folds", f"parameters.{key}")
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: expected at least one value, found []", f"parameters.{key}")
        for i, v in enumerate(value):
            if v in value[:i]:
                raise ConfigError(f"{where}: {show(v)} is listed twice", f"parameters.{key}")
        return
    if isinstance(value, dict) and len(value) == 1:
        (kind, bounds), = value.items()
        if kind not in DISTRIBUTIONS:
            raise ConfigError(f"{where}: unknown distribution {show(kind)} {choices(kind, DISTRIBUTIONS)}",
                              f"parameters.{key}")
        if spec.method != "random":
            raise ConfigError(f"{where}: a distribution needs method: random (grid takes a list of values)",
                              f"parameters.{key}")
        number = int if kind == "int_uniform" else (int, float)
        if (not isinstance(bounds, list) or len(bounds) != 2 or any(isinstance(b, bool) or not isinstance(b, number)
                                                                     or not math.isfinite(b) for b in bounds)):
            what = "integers" if kind == "int_uniform" else "numbers"
            raise ConfigError(f"{where}: {kind}: expected [low, high], two {what}, found {show(bounds)}", f"parameters.{key}")
        low, high = bounds
        if not low < high or (kind == "log_uniform" and low <= 0):
            need = "0 < low < high" if kind == "log_uniform" else "low < high"
            raise ConfigError(f"{where}: {kind}: expected {need}, found low {low}, high {high}", f"parameters.{key}")
        return
    raise ConfigError(f"{where}: expected a list of values, e.g. [0.001, 0.01], or (method: random) a distribution "
                      f"such as {{log_uniform: [1.0e-6, 1.0e-2]}}, found {show(value)}", f"parameters.{key}")


def grid(parameters: dict, source: str) -> list[dict]:
    """Every combination, the first parameter changing slowest (the file's order)."""
    keys = list(parameters)
    combos = math.prod(len(v) for v in parameters.values())
    if combos > MAX_TRIALS:
        raise ConfigError(f"{source}: parameters: the grid has {combos:,} combinations; nnfit sweep runs at most {MAX_TRIALS:,} "
                          "(use method: random with samples)", "parameters")
    return [dict(zip(keys, combo)) for combo in itertools.product(*parameters.values())]


def draw(parameters: dict, samples: int, seed: int, source: str) -> list[dict]:
    """`samples` draws, one trial after the other and each parameter in the file's order, from one generator:
    the same seed gives the same trials, and more samples keep the first ones."""
    if samples > MAX_TRIALS:
        raise ConfigError(f"{source}: samples: nnfit sweep runs at most {MAX_TRIALS:,} trials, found {samples:,}", "samples")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(samples):
        values = {}
        for key, spec in parameters.items():
            if isinstance(spec, list):
                values[key] = copy.deepcopy(spec[int(rng.integers(len(spec)))])
                continue
            (kind, (low, high)), = spec.items()
            if kind == "uniform":  # [low, high)
                values[key] = float(rng.uniform(low, high))
            elif kind == "log_uniform":  # log of the value uniform in [log low, log high)
                values[key] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            else:  # int_uniform: low to high, both included
                values[key] = int(rng.integers(low, high, endpoint=True))
        draws.append(values)
    return draws


def trial_names(draws: list[dict]) -> list[str]:
    """'007-learning_rate=0.01-hidden=128x64': the number, then each value under its key's last part (the
    whole dotted key where two last parts are the same). Only letters, digits and . _ + = - appear."""
    keys = list(draws[0]) if draws else []
    short = [k.rpartition(".")[2] for k in keys]
    labels = [k if short.count(s) > 1 else s for k, s in zip(keys, short)]
    width = max(3, len(str(len(draws))))
    names = []
    for i, values in enumerate(draws, 1):
        text = "-".join(f"{label}={_name_value(values[k])}" for label, k in zip(labels, keys))
        text = "".join(c if c.isascii() and (c.isalnum() or c in "._+=-") else "_" for c in text)[:NAME_LENGTH]
        names.append(f"{i:0{width}d}" + (f"-{text}" if text else ""))
    return names


def choices(value, choices) -> str:
    match = closest(value, choices) if isinstance(value, str) else None
    return f"(choose from: {', '.join(choices)}" + (f"; did you mean '{match}'?)" if match else ")")


def _name_value(v) -> str:
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "x".join(_name_value(x) for x in v) if v else "none"
    if isinstance(v, dict):
        return "+".join(f"{k}-{_name_value(x)}" for k, x in v.items())
    return str(v)


def flow(values: dict) -> str:
    return yaml.safe_dump(values, default_flow_style=True, sort_keys=False, width=10_000).strip()
