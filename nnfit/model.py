"""The trained model: its weights, architecture, task and preprocessing, and everything that scores or predicts.

Training's validation pass, summary.json, `nnfit evaluate`, `nnfit predict` and the run directory's model.json /
model.npz all go through Model:
  logits(X)   the last layer's outputs, (n, d) -> (n, k)
  predict(X)  labels as in the training file, or values in the target's own units (and class probabilities)
  score(split)  the loss and the task's metrics, named as in metrics.csv
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import __version__
from .activations import ACTIVATIONS, OUTPUT_NAMES, OUTPUTS
from .dataset import Split
from .errors import ArtifactError, run_hint
from .files import atomic_write, npz_bytes, to_json
from .losses import LOSSES
from .metrics import METRICS, confusion_matrix, predicted_classes
from .network import Params, predict_logits
from .preprocess import Preprocessor

FORMAT_VERSION = 1  # of model.json / model.npz; bump when predict can no longer read older runs


@dataclass
class Model:
    params: Params
    task: str  # regression | binary | multiclass
    loss: str  # a key of losses.LOSSES
    activation: str  # the hidden units', a key of activations.ACTIVATIONS
    prep: Preprocessor  # the features' and the target's preprocessing, fitted on the training rows
    epoch_kept: int = 0  # where the weights come from: the epoch (0 = the initial weights) ...
    train_file: str = ""  # ... of a run on this file
    train_sha256: str = ""  # ... with these bytes

    @property
    def dtype(self) -> np.dtype:
        return self.params.flat.dtype

    def with_params(self, params: Params, epoch_kept: int) -> Model:
        return replace(self, params=params, epoch_kept=epoch_kept)

    # ---- using it ----

    def logits(self, X: np.ndarray, exact: bool = True) -> np.ndarray:
        """(n, d) -> (n, k) in the model's dtype. exact: a row's logits depend on it alone (see predict_logits);
        otherwise the fast products the metrics use (the same rows in the same order give the same bits)."""
        return predict_logits(self.params, X, ACTIVATIONS[self.activation], exact=exact)

    def outputs(self, z: np.ndarray) -> np.ndarray:
        """Logits -> regression: values in the target's own units (n,), float64; classification: class
        probabilities (n, K), binary (n, 1) = P(positive)."""
        if self.task == "regression":
            return self.prep.target_values(z)
        return OUTPUTS[self.task](z)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(predictions (n,), class probabilities (n, K) or None), from the exact logits.

        Predictions are labels as in the training file, or values in the model's dtype (a CSV then shows
        float32's shortest digits, not spurious ones)."""
        z = self.logits(X)
        if self.task == "regression":
            return self.outputs(z).astype(z.dtype), None
        proba = self.outputs(z)
        labels = np.asarray(self.prep.classes, dtype=object)[predicted_classes(proba)]
        return labels, (np.hstack([1 - proba, proba]) if self.task == "binary" else proba)

    def score(self, split: Split, confusion: bool = False) -> dict:
        """{'loss': mean (unweighted) loss, then the task's metrics}; with confusion, classification also gets
        'classes' and 'confusion_matrix' (rows: true class). One forward pass."""
        z = self.logits(split.X, exact=False)  # (n, k)
        result = {"loss": float(LOSSES[self.loss].value(z, split.Y).mean(dtype=np.float64))}
        predicted = self.outputs(z).astype(np.float64)
        for name, metric in METRICS[self.task].items():
            result[name] = metric(split.target, predicted)
        if confusion and self.task != "regression":
            result["classes"] = self.prep.classes
            result["confusion_matrix"] = confusion_matrix(split.target, predicted, len(self.prep.classes))
        return result

    # ---- model.json and model.npz ----

    def info(self) -> dict:
        """model.json: everything predict needs, and where the weights came from."""
        return {
            "format_version": FORMAT_VERSION, "nnfit_version": __version__,
            "task": self.task, "loss": self.loss, "layer_sizes": self.params.sizes,
            "hidden_activation": self.activation, "output_activation": OUTPUT_NAMES[self.task],
            "dtype": self.dtype.name, "epoch_kept": self.epoch_kept,
            "train_file": self.train_file, "train_sha256": self.train_sha256, "preprocessing": self.prep.to_dict(),
        }

    def files(self) -> dict[str, bytes | str]:
        """model.npz (the weights W0, b0, W1, ...) and model.json, as file contents."""
        return {"model.npz": npz_bytes(self.params.to_arrays()), "model.json": to_json(self.info())}

    def save(self, run_dir: Path) -> None:
        """model.npz and model.json, each replaced atomically (the weights first)."""
        for name, data in self.files().items():
            atomic_write(Path(run_dir) / name, data)

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Model:
        """The model a run directory holds; ArtifactError naming the file when it cannot be used."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise ArtifactError(f"{run_dir}: " + ("is a file, not a run directory" if run_dir.exists()
                                                  else "run directory not found"))
        info = _read_info(run_dir / "model.json")
        sizes, dtype = info.get("layer_sizes"), info.get("dtype")
        if (not isinstance(sizes, list) or len(sizes) < 2 or dtype not in ("float32", "float64")
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)):
            raise ArtifactError(f"{run_dir / 'model.json'}: layer_sizes {sizes!r} or dtype {dtype!r} is not a model's")
        try:
            with np.load(run_dir / "model.npz", allow_pickle=False) as arrays:
                params = Params.from_arrays(sizes, arrays, np.dtype(dtype))
        except FileNotFoundError:
            raise ArtifactError(f"{run_dir}: model.npz not found; the run did not finish") from None
        except ValueError as e:
            if "pickle" in str(e).lower():
                raise ArtifactError(f"{run_dir / 'model.npz'}: holds a pickled object; nnfit never unpickles "
                                    "(it could run arbitrary code)") from None
            raise ArtifactError(f"{run_dir / 'model.npz'}: does not match model.json: {e}") from None
        except (KeyError, OSError, EOFError) as e:
            raise ArtifactError(f"{run_dir / 'model.npz'}: unreadable or incomplete ({e})") from None
        try:
            prep = Preprocessor.from_dict(info["preprocessing"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ArtifactError(f"{run_dir / 'model.json'}: preprocessing is incomplete or invalid ({e})") from None
        model = cls(params, info.get("task"), info.get("loss"), info.get("hidden_activation"), prep,
                    info.get("epoch_kept", 0), info.get("train_file", ""), info.get("train_sha256", ""))
        wrong = [(key, value) for key, value, ok in [
            ("task", model.task, model.task == prep.task), ("loss", model.loss, model.loss in LOSSES),
            ("hidden_activation", model.activation, model.activation in ACTIVATIONS),
            ("epoch_kept", model.epoch_kept, isinstance(model.epoch_kept, int) and model.epoch_kept >= 0),
            ("layer_sizes", params.sizes, params.sizes[0] == prep.n_features and params.sizes[-1] == prep.n_outputs)]
            if not ok]
        if wrong:
            raise ArtifactError(f"{run_dir / 'model.json'}: {wrong[0][0]} is {wrong[0][1]!r}, which does not fit the "
                                "rest of the model; retrain it")
        return model


def _read_info(path: Path) -> dict:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path.parent}: model.json not found; is this a finished nnfit run?"
                            f"{run_hint(path.parent)}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
        found = info.get("format_version") if isinstance(info, dict) else None
        made_by = info.get("nnfit_version", "?") if isinstance(info, dict) else "?"
        raise ArtifactError(f"{path}: model format {found!r} (from nnfit {made_by}); this nnfit {__version__} reads "
                            f"format {FORMAT_VERSION}: retrain the model")
    return info
