"""The YAML config: read safely, override with --set, validate strictly against the schema, resolve.

load_config(path, overrides) -> Config reads the file with a safe YAML loader, applies `--set KEY=VALUE`
overrides, rejects unknown keys (with a "did you mean"), wrong types, out-of-range values and impossible
combinations, and fills defaults. The keys themselves live in schema.py. It imports neither numpy nor
pandas, so `nnfit check` starts fast.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import yaml

from .checks import Bad, show
from .errors import ConfigError, did_you_mean, display_path
from .schema import DEFAULT_LOSS, SECTIONS, TASK_LOSSES, Config

def _build(cls, raw: Any, prefix: str):
    """Validate the mapping `raw` against dataclass `cls`; errors name the dotted key."""
    where = prefix.rstrip(".") or "the config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, found {show(raw)}", prefix.rstrip(".") or None)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            hint = did_you_mean(key, fields) or f" (the keys here: {', '.join(fields)})"
            raise ConfigError(f"{prefix}{key}: unknown key{hint}", f"{prefix}{key}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        section = SECTIONS.get((cls, name))
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: missing required key ({f.metadata['doc']})", key)
            if section and not section[1]:
                values[name] = _build(section[0], {}, key + ".")
            continue
        value = raw[name]
        if section:
            sub_cls, nullable = section
            if value is None and nullable:
                values[name] = None
            else:  # an empty section (`model:` with nothing below) means all defaults
                values[name] = _build(sub_cls, {} if value is None else value, key + ".")
            continue
        try:
            values[name] = f.metadata["check"](value)
        except Bad as bad:
            complaint = bad.complaint or f"expected {bad.allowed}, found {show(value)}"
            raise ConfigError(f"{key}: {complaint}", key) from None
    return cls(**values)


def _check_combinations(cfg: Config) -> Config:
    """Reject settings that contradict each other; resolve 'auto' choices."""
    task, data, train = cfg.task, cfg.data, cfg.train
    loss = DEFAULT_LOSS[task] if cfg.loss == "auto" else cfg.loss
    if loss not in TASK_LOSSES[task]:
        raise ConfigError(f"loss: '{loss}' does not fit task '{task}' (choose from: auto, {', '.join(TASK_LOSSES[task])})", "loss")
    if data.positive is not None and task != "binary":
        raise ConfigError(f"data.positive: only used by task 'binary', but task is '{task}'", "data.positive")
    if train.class_weight is not None and task == "regression":
        raise ConfigError("train.class_weight: only used by classification, but task is 'regression'", "train.class_weight")
    if (data.folds is None) != (data.fold is None):
        key = "data.fold" if data.fold is None else "data.folds"
        raise ConfigError(f"{key}: data.folds and data.fold go together: the number of folds and the fold that validates", key)
    if data.folds is not None:
        if data.fold > data.folds:
            raise ConfigError(f"data.fold: expected a fold from 1 to data.folds = {data.folds}, found {data.fold}", "data.fold")
        if data.valid is not None:
            raise ConfigError("data.folds: the folds take the validation rows from data.train, but data.valid is set too; "
                              "remove one of them", "data.folds")
    if train.early_stopping is not None and data.valid is None and data.valid_fraction == 0 and data.folds is None:
        raise ConfigError("train.early_stopping: needs a validation set (set data.valid or data.valid_fraction > 0)", "train.early_stopping")
    if data.features is not None:
        if data.target in data.features:
            raise ConfigError(f"data.features: contains the target column '{data.target}'", "data.features")
        overlap = sorted(set(data.features) & set(data.ignore))
        if overlap:
            raise ConfigError(f"data.ignore: column '{overlap[0]}' is also listed in data.features", "data.ignore")
        if not data.features:
            raise ConfigError("data.features: expected at least one column, found []", "data.features")
    if data.target in data.types and not (task == "regression" and data.types[data.target] == "numeric"):
        raise ConfigError(f"data.types: the target '{data.target}' can only be declared numeric, for task "
                          "'regression'", "data.types")
    if data.target in data.ignore:
        raise ConfigError(f"data.ignore: contains the target column '{data.target}'", "data.ignore")
    # auto = glorot for every activation, He included: on tabular data (9 data sets, 10 seeds, against
    # scikit-learn's MLP) He's larger initial weights cost 2.5 accuracy points on average; see README
    init = "glorot" if cfg.model.init == "auto" else cfg.model.init
    rate = train.learning_rate
    if rate == "auto":  # each optimizer's usual step: Adam's steps are already scaled by its own running averages
        rate = 0.001 if train.optimizer == "adam" else 0.01
    return dataclasses.replace(cfg, loss=loss, model=dataclasses.replace(cfg.model, init=init),
                               train=dataclasses.replace(train, learning_rate=rate))


# ---- YAML: safe loading only, duplicate keys refused, 1e-3 read as a number ----


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads YAML 1.2 floats such as 1e-3."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                mark = key_node.start_mark
                raise ConfigError(f"line {mark.line + 1}: duplicate key '{key}'")
            seen.add(key) if isinstance(key, (str, int, float, bool)) else None
        return super().construct_mapping(node, deep)


# YAML 1.2 booleans: only true / false. YAML 1.1 also reads yes, no, on, off, y, n as booleans, which turns a
# class label `positive: yes` into True.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely; errors become ConfigError naming `source`, line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        tag = re.search(r"tag '([^']*)'", str(e.problem))
        what = f"tag '{tag.group(1).replace('tag:yaml.org,2002:', '!!')}'" if tag else "this value"
        raise ConfigError(
            f"{source}:{mark.line + 1}:{mark.column + 1}: {what} is not allowed "
            "(nnfit reads YAML with a safe loader: plain values only)"
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(f"{where}: YAML syntax error: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: YAML error: {e}") from None


def apply_overrides(raw: dict, overrides) -> list[str]:
    """Set each 'a.b.c=VALUE' (VALUE parsed as YAML; one punctuation character as itself) in the nested dict;
    returns the keys set."""
    keys = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not p for p in key.split(".")):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.learning_rate=0.001")
        bare = text.strip()
        if len(bare) == 1 and not bare.isalnum() and bare != "~":
            value = bare  # a separator or a decimal mark: YAML reads ',' and '|' as syntax, '-' as a list
        else:
            value = parse_yaml(text, f"--set {key}") if bare else None
        set_key(raw, key, value)
        keys.append(key)
    return keys


def set_key(raw: dict, key: str, value) -> None:
    """Set the dotted key 'a.b.c' to value in the nested dict, making the sections it needs."""
    node = raw
    *parents, last = key.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if isinstance(value, dict) and value and isinstance(node.get(last), dict):
        node[last] = {**node[last], **value}  # --set train={epochs: 5} changes epochs, not the whole section;
        # {} empties it (--set data.types={}): merged, it would change nothing
    else:
        node[last] = copy.deepcopy(value)


def load_config(path: str | os.PathLike, overrides=()) -> Config:
    """Read, override, validate and resolve a config file. Relative data paths become absolute."""
    source = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a folder, expected a YAML config file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from None
    raw = parse_yaml(text, source)
    return from_dict({} if raw is None else raw, source, overrides, base=Path(path).resolve().parent)


def from_dict(raw: Any, source: str = "config", overrides=(), base: str | os.PathLike = ".") -> Config:
    """Validate a config given as a dict (what a YAML file holds); data paths are taken relative to `base`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (task:, data:, ...), found {show(raw)}")
    raw = copy.deepcopy(raw)
    set_keys = apply_overrides(raw, overrides)
    try:
        cfg = _check_combinations(_build(Config, raw, ""))
    except ConfigError as e:
        from_set = e.key is not None and any(e.key == k or e.key.startswith(k + ".") or k.startswith(e.key + ".") for k in set_keys)
        raise ConfigError(f"--set {e}" if from_set else f"{source}: {e}", e.key) from None
    base = Path(base).resolve()
    absolute = {k: str((base / v).resolve()) if isinstance(v, str) else v
                for k, v in (("train", cfg.data.train), ("valid", cfg.data.valid), ("test", cfg.data.test))}
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **absolute))


def validate_keys(cls, raw: dict, source: str):
    """Validate a mapping against another schema dataclass (the sweep file's, say) as strictly as a config:
    unknown keys with a "did you mean", wrong types and values; errors name source and the key."""
    try:
        return _build(cls, raw, "")
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}", e.key) from None


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain YAML-ready values."""
    return dataclasses.asdict(cfg)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Sections as blocks, lists of plain values on one line: `hidden: [64, 64]`. libyaml's emitter when
    PyYAML has it (the same text, faster: every run writes its config.yaml), else PyYAML's own."""

    def represent_list(self, data):
        flat = all(not isinstance(v, (list, dict)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _Dumper.represent_list)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text that load_config reads back to the same Config."""
    return yaml.dump(config_to_dict(cfg), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)


def config_difference(saved: Config, now: Config, epochs: bool = True) -> tuple[str, object, object] | None:
    """(dotted key, saved value, new value) where two configs first differ in a way that changes the run's
    result, or None; when to checkpoint does not, and with epochs=False neither does train.epochs."""
    saved, now = config_to_dict(saved), config_to_dict(now)
    for section in (saved, now):
        section["train"].pop("checkpoint_every", None)
        if not epochs:
            section["train"].pop("epochs", None)
    return _first_difference(saved, now)


def _first_difference(a, b, prefix: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    return None if a == b else (prefix.rstrip("."), a, b)
