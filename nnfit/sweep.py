"""The sweep file -> its trials: strict validation, the grid or the random draws, names, each run's config.

load_sweep(path, overrides) reads the file with nnfit's safe YAML loader, checks its keys against
schema.SweepConfig as strictly as a train config, reads the base config, applies `--set` to it, and builds
every trial's config (one per fold with `folds`) through config.from_dict before anything runs, so a value a
key refuses stops the sweep up front, naming the parameter. Nothing here trains or writes.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import __version__
from .checks import show
from .config import Config, apply_overrides, from_dict, parse_yaml, set_key, validate_keys
from .errors import ConfigError, display_path
from .metrics import METRICS
from .schema import SweepConfig
from .sweepspace import check_parameter, choices, draw, flow, grid, trial_names

MINIMIZED = ("valid_loss", "rmse", "mae")  # goal auto: losses and errors go down, the other metrics up
PATH_KEYS = ("data.train", "data.valid", "data.test")


@dataclass(frozen=True)
class Trial:
    number: int  # 1, 2, ... in the order of the grid or of the draws
    name: str  # 007-learning_rate=0.01-hidden=128x64: the folder under DIR/trials
    values: dict  # dotted key -> this trial's value, in the file's order
    configs: tuple[Config, ...]  # one per fold (fold 1 first), or the single run's

    def runs(self) -> list[tuple[str, Config]]:
        """(run directory relative to the sweep folder, config) of each run of the trial."""
        if len(self.configs) == 1:
            return [(f"trials/{self.name}", self.configs[0])]
        return [(f"trials/{self.name}/fold-{i}", cfg) for i, cfg in enumerate(self.configs, 1)]


@dataclass(frozen=True)
class Sweep:
    spec: SweepConfig  # the validated sweep file, goal resolved to minimize or maximize
    source: str  # the sweep file as messages name it
    base: dict  # the base config as a mapping: --set applied, data paths absolute
    trials: list[Trial]

    @property
    def minimize(self) -> bool:
        return self.spec.goal == "minimize"

    def refit_config(self, trial: Trial, epoch: int) -> Config:
        """The best trial's config trained on every training row (no validation split, no folds) for `epoch`
        epochs, its kept epoch: without validation rows nothing else would choose when to stop."""
        cfg = trial.configs[0]
        data = dataclasses.replace(cfg.data, valid_fraction=0.0, folds=None, fold=None)
        train = dataclasses.replace(cfg.train, epochs=max(1, epoch), early_stopping=None)
        return dataclasses.replace(cfg, data=data, train=train)

    def resolved(self) -> str:
        """DIR/sweep.yaml: this sweep as a sweep file that needs nothing else, then its trials as comments."""
        spec = {f.name: getattr(self.spec, f.name) for f in dataclasses.fields(self.spec)}
        spec["base"] = self.base
        if self.spec.method == "grid":
            del spec["samples"], spec["seed"]
        head = (f"# The resolved sweep (nnfit {__version__}): the base config inline, with --set applied and absolute\n"
                "# paths. `nnfit sweep THIS_FILE --out THIS_FOLDER` continues the sweep.\n")
        trials = "".join(f"#   {t.name}: {flow(t.values)}\n" for t in self.trials)
        return head + yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, allow_unicode=True, width=120) \
            + f"# {len(self.trials)} trials:\n" + trials


SWEEP_KEYS = {f.name for f in dataclasses.fields(SweepConfig)}  # a sweep file's own keys, which --set cannot set


def load_sweep(path, overrides=()) -> Sweep:
    """Read and validate a sweep file and build every trial's config; raises ConfigError naming the key."""
    source = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: sweep file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    raw = parse_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (base:, parameters:, ...), found {show(raw)}")
    spec = validate_keys(SweepConfig, raw, source)
    _check_spec(spec, raw, source)
    here = Path(path).resolve().parent
    base, base_dir, base_name = _read_base(spec.base, here, source)
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key.partition(".")[0] in SWEEP_KEYS:
            raise ConfigError(f"--set {key}: sets a key of the base config (--set train.epochs=20, say); {key} is "
                              f"the sweep file's: change it in {source}")
    resolved_base = from_dict(base, base_name, overrides, base_dir)  # the base alone: its mistakes name it
    for item in overrides:
        key = item.partition("=")[0].strip()
        for p in spec.parameters:
            if key == p or key.startswith(p + ".") or p.startswith(key + "."):
                raise ConfigError(f"--set {key}: {source} sweeps parameters.{p}; change its values there instead")
    apply_overrides(base, overrides)
    for key in PATH_KEYS:
        section, _, name = key.partition(".")
        if isinstance(base.get(section), dict) and isinstance(base[section].get(name), str):
            base[section][name] = getattr(resolved_base.data, name)
    parameters = {k: _absolute(k, v, base_dir) for k, v in spec.parameters.items()}
    for key, value in parameters.items():
        check_parameter(key, value, spec, source)
    if spec.folds is not None and (resolved_base.data.folds is not None or resolved_base.data.valid is not None):
        which = "data.valid" if resolved_base.data.valid is not None else "data.folds"
        raise ConfigError(f"{source}: folds: the folds take the validation rows from data.train, but the base "
                          f"config sets {which}; remove one of them", "folds")
    goal = spec.goal if spec.goal != "auto" else ("minimize" if spec.metric in MINIMIZED else "maximize")
    spec = dataclasses.replace(spec, goal=goal, parameters=parameters)
    draws = grid(parameters, source) if spec.method == "grid" else draw(parameters, spec.samples, spec.seed, source)
    names = trial_names(draws)
    trials = [Trial(i, name, values, _configs(base, values, spec, source, name, base_dir, base_name))
              for i, (name, values) in enumerate(zip(names, draws), 1)]
    return Sweep(spec, source, base, trials)


def _check_spec(spec: SweepConfig, raw: dict, source: str) -> None:
    if spec.method == "random":
        if spec.samples is None:
            raise ConfigError(f"{source}: samples: method 'random' needs samples, the number of trials to draw", "samples")
        if not spec.parameters:
            raise ConfigError(f"{source}: parameters: method 'random' needs parameters to draw", "parameters")
    else:
        for key in ("samples", "seed"):
            if key in raw:
                raise ConfigError(f"{source}: {key}: only used by method 'random' (grid runs every combination)", key)


def _read_base(base, here: Path, source: str) -> tuple[dict, Path, str]:
    """(the base config as a mapping, the folder its relative paths start from, its name in messages)."""
    if isinstance(base, dict):
        return copy.deepcopy(base), here, f"{source}: base"
    path = here / base
    name = display_path(path)
    if not path.is_file():
        raise ConfigError(f"{source}: base: {name}: config file not found", "base")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: base: {name}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    raw = parse_yaml(text, name)
    return ({} if raw is None else raw), path.parent, name


def _configs(base: dict, values: dict, spec: SweepConfig, source: str, name: str, base_dir: Path,
             base_name: str) -> tuple[Config, ...]:
    """The trial's run configs (one per fold), validated; a refused value names its parameter."""
    raw = copy.deepcopy(base)
    for key, value in values.items():
        set_key(raw, key, value)
    folds = [None] if spec.folds is None else range(1, spec.folds + 1)
    configs = []
    for fold in folds:
        if fold is not None:
            set_key(raw, "data.folds", spec.folds)
            set_key(raw, "data.fold", fold)
        try:
            cfg = from_dict(raw, base_name, (), base_dir)
        except ConfigError as e:
            raise _blame(e, values, spec.parameters, source, name, base_name) from None
        configs.append(cfg)
    cfg = configs[0]
    allowed = ["valid_loss", *METRICS[cfg.task]]
    if spec.metric not in allowed:
        raise ConfigError(f"{source}: metric: {show(spec.metric)} is no validation metric of task '{cfg.task}' "
                          f"{choices(spec.metric, allowed)}", "metric")
    if cfg.data.valid is None and cfg.data.folds is None and cfg.data.valid_fraction == 0:
        raise ConfigError(f"{source}: metric: trial {name} has no validation rows to rank it by (data.valid is null "
                          "and data.valid_fraction is 0); set folds, data.valid or data.valid_fraction", "metric")
    if spec.refit and cfg.data.valid is not None:
        raise ConfigError(f"{source}: refit: trial {name} already trains on every row of data.train (data.valid is "
                          "set), so a refit would repeat it; set refit: false", "refit")
    return tuple(configs)


def _blame(e: ConfigError, values: dict, parameters: dict, source: str, name: str, base_name: str) -> ConfigError:
    """Point a trial's config error at the parameter that caused it (and, for a drawn value, at the draw), or at
    the trial."""
    text = str(e)[len(base_name) + 2:] if str(e).startswith(base_name + ": ") else str(e)
    for key in values:
        if e.key is not None and (e.key == key or e.key.startswith(key + ".")):
            inner = text[len(key) + 2:] if text.startswith(key + ": ") else text
            if isinstance(parameters.get(key), dict):
                (kind, bounds), = parameters[key].items()
                inner += (f" (drawn for trial {name} from {kind} [{bounds[0]}, {bounds[1]}]: keep the range within "
                          "what the key allows)")
            return ConfigError(f"{source}: parameters.{key}: {inner}", f"parameters.{key}")
    return ConfigError(f"{source}: trial {name}: {text}", e.key)


def _absolute(key: str, value, base_dir: Path):
    """A swept data path (or each of its values) made absolute, relative to base_dir like the base's paths."""
    if key not in PATH_KEYS or not isinstance(value, list):
        return value
    return [str((base_dir / v).resolve()) if isinstance(v, str) else v for v in value]
