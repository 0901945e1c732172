"""Accuracy against scikit-learn: the same network, optimizer, batch size, learning rate and epochs.

    python -m bench.accuracy               # 9 data sets, 3 settings, 10 seeds (about 2 minutes on 2 cores)
    python -m bench.accuracy --seeds 3 --only iris,wine

Needs scikit-learn (`pip install '.[bench]'`); its bundled data sets need no download. Each data set is split
75/25 into training and test rows once (seed 0); both libraries see standardized inputs (and, for regression,
a standardized target, as nnfit's data.scale_target does), train on the training rows and are scored on the
test rows: accuracy for classification, R² for regression. scikit-learn runs plain SGD (no momentum) or Adam,
no L2 penalty, exactly max_iter epochs. nnfit runs through its library API with its default hold-out of 20%
for choosing the epoch to keep, and with `valid_fraction: 0` (every training row, the last epoch), which is
what scikit-learn does. The fifth column halves nnfit's learning rate on regression: the lecture's MSE has no
1/2, so that is the step scikit-learn's SGD takes.

The last column is not like for like: each library as a user gets it when only the hidden layers ([100]) and
the epochs (200) are set. nnfit: plain SGD at 0.01, batch 32, 20% hold-out, standardized target. scikit-learn:
Adam at 0.001, batch 200, alpha 1e-4, stopping when the training loss stalls, on StandardScaler-ed inputs and
the target as it is. It shows what the defaults cost, not how well either library implements its algorithm.

Prints the mean over seeds of nnfit minus scikit-learn, in points (accuracy x 100, R² x 100), with the
standard error of that difference.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from nnfit.activations import ACTIVATIONS
from nnfit.config import from_dict
from nnfit.data import dataset_from_arrays
from nnfit.network import predict_logits
from nnfit.training import fit

SETTINGS = {  # name: hidden, optimizer, learning rate, batch, epochs (None: each library's default)
    "sgd": ([64, 64], "sgd", 0.01, 32, 100),
    "adam": ([100], "adam", 0.001, 200, 200),
    "defaults": ([100], None, None, None, 200),
}
COLUMNS = [("sgd", 0.2, 1.0), ("sgd", 0.0, 1.0), ("adam", 0.2, 1.0), ("adam", 0.0, 1.0), ("sgd", 0.0, 0.5),
           ("defaults", None, 1.0)]
DATASETS = ["iris", "wine", "breast_cancer", "mkclf3", "mkbin", "moons", "friedman1", "mkreg", "diabetes"]


def load(name: str):
    from sklearn import datasets as d

    if name in ("iris", "wine", "breast_cancer", "diabetes"):
        X, y = getattr(d, f"load_{name}")(return_X_y=True)
        return X, y, {"iris": "multiclass", "wine": "multiclass", "breast_cancer": "binary"}.get(name, "regression")
    if name == "mkclf3":
        X, y = d.make_classification(n_samples=2000, n_features=20, n_informative=10, n_redundant=5, n_classes=3,
                                     n_clusters_per_class=2, flip_y=0.03, random_state=0)
        return X, y, "multiclass"
    if name == "mkbin":
        X, y = d.make_classification(n_samples=1000, n_features=10, n_informative=5, n_redundant=2, flip_y=0.05,
                                     class_sep=0.8, random_state=1)
        return X, y, "binary"
    if name == "moons":
        X, y = d.make_moons(n_samples=1000, noise=0.3, random_state=2)
        return X, y, "binary"
    if name == "friedman1":
        X, y = d.make_friedman1(n_samples=1000, noise=1.0, random_state=0)
        return X, y, "regression"
    if name == "mkreg":
        X, y = d.make_regression(n_samples=1000, n_features=20, n_informative=10, noise=10.0, random_state=0)
        return X, y, "regression"
    raise KeyError(name)


def score(task: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    if task == "regression":
        return 1 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2)
    return float(np.mean(np.asarray(predicted, dtype=float) == truth))


def sklearn_score(task, setting, seed, Xtr, ytr, Xte, yte) -> float:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    hidden, optimizer, lr, batch, epochs = SETTINGS[setting]
    scaler = StandardScaler().fit(Xtr)
    if setting == "defaults":  # what a user gets by changing nothing but the layers and epochs
        M = MLPRegressor if task == "regression" else MLPClassifier
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = M(hidden_layer_sizes=tuple(hidden), max_iter=epochs, random_state=seed)
            return score(task, yte, model.fit(scaler.transform(Xtr), ytr).predict(scaler.transform(Xte)))
    kw = dict(hidden_layer_sizes=tuple(hidden), solver=optimizer, learning_rate_init=lr, batch_size=batch,
              max_iter=epochs, alpha=0.0, random_state=seed, tol=0.0, n_iter_no_change=epochs + 1)
    if optimizer == "sgd":
        kw.update(momentum=0.0, nesterovs_momentum=False, learning_rate="constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        if task == "regression":
            mean, std = ytr.mean(), ytr.std()
            model = MLPRegressor(**kw).fit(scaler.transform(Xtr), (ytr - mean) / std)
            return score(task, yte, model.predict(scaler.transform(Xte)) * std + mean)
        model = MLPClassifier(**kw).fit(scaler.transform(Xtr), ytr)
        return score(task, yte, model.predict(scaler.transform(Xte)))


def nnfit_score(task, setting, seed, holdout, lr_factor, Xtr, ytr, Xte, yte) -> float:
    import pandas as pd

    hidden, optimizer, lr, batch, epochs = SETTINGS[setting]
    if setting == "defaults":
        cfg = from_dict({"task": task, "data": {"train": "<arrays>", "target": "y"}, "model": {"hidden": hidden},
                         "train": {"epochs": epochs, "seed": seed}})
    else:
        cfg = from_dict({"task": task, "data": {"train": "<arrays>", "target": "y", "valid_fraction": holdout},
                         "model": {"hidden": hidden},
                         "train": {"optimizer": optimizer, "learning_rate": lr * lr_factor, "batch_size": batch,
                                   "epochs": epochs, "seed": seed}})
    data = dataset_from_arrays(cfg, Xtr, ytr, np.random.default_rng(seed))
    result = fit(cfg, data, np.random.default_rng(seed + 1))
    X, _ = data.prep.transform(pd.DataFrame(Xte, columns=[f"x{i}" for i in range(Xte.shape[1])]), "test rows")
    labels, _ = data.prep.decode(predict_logits(result.params, X, ACTIVATIONS[cfg.model.activation]))
    return score(task, yte, labels)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(DATASETS)}")
    args = parser.parse_args(argv)
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        sys.exit("scikit-learn is not installed: pip install '.[bench]'")
    names = args.only.split(",") if args.only else DATASETS
    heads = ["defaults against defaults" if s == "defaults" else
             f"{s}, valid_fraction {h:g}" + (", lr / 2 on regression" if f != 1 else "") for s, h, f in COLUMNS]
    print(f"nnfit minus scikit-learn, mean over {args.seeds} seeds ± standard error, in points "
          "(accuracy x 100; R² x 100 for regression)\n")
    print("| data | task | " + " | ".join(heads) + " |")
    print("|---|---|" + "---:|" * len(COLUMNS))
    for name in names:
        X, y, task = load(name)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0,
                                              stratify=None if task == "regression" else y)
        reference = {s: [sklearn_score(task, s, seed, Xtr, ytr, Xte, yte) for seed in range(args.seeds)]
                     for s in SETTINGS}
        cells = []
        for setting, holdout, factor in COLUMNS:
            if factor != 1 and task != "regression":
                cells.append("")
                continue
            ours = [nnfit_score(task, setting, seed, holdout, factor, Xtr, ytr, Xte, yte) for seed in range(args.seeds)]
            diff = 100 * (np.array(ours) - np.array(reference[setting]))
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            cells.append(f"{diff.mean():+.1f} ± {se:.1f}")
        print(f"| {name} | {task} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
