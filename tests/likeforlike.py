"""scikit-learn's MLP and nnfit trained the same way on the same rows: the reference the accuracy test and
bench/accuracy.py share (needs scikit-learn; its bundled and synthetic data sets need no download)."""

from __future__ import annotations

import warnings

import numpy as np

from nnfit.config import from_dict
from nnfit.data import dataset_from_arrays
from nnfit.model import Model
from nnfit.training import fit

SETTINGS = {  # name: hidden, optimizer, learning rate, batch, epochs (None: each library's default)
    "sgd": ([64, 64], "sgd", 0.01, 32, 100),
    "adam": ([100], "adam", 0.001, 200, 200),
    "defaults": ([100], None, None, None, 200),  # scikit-learn's own defaults; nnfit: the shortest config
}
DATASETS = ["iris", "wine", "breast_cancer", "digits", "mkclf3", "mkbin", "moons", "xor", "circles", "friedman1",
            "mkreg", "diabetes", "sine"]


def load(name: str):
    from sklearn import datasets as d

    if name in ("iris", "wine", "breast_cancer", "diabetes"):
        X, y = getattr(d, f"load_{name}")(return_X_y=True)
        return X, y, {"iris": "multiclass", "wine": "multiclass", "breast_cancer": "binary"}.get(name, "regression")
    if name == "digits":
        X, y = d.load_digits(return_X_y=True)
        return X, y, "multiclass"
    if name == "xor":  # noisy XOR: no straight line separates the classes
        rng = np.random.default_rng(0)
        corner = rng.choice([-1.0, 1.0], size=(600, 2))
        return corner + rng.normal(0, 0.35, corner.shape), (corner[:, 0] * corner[:, 1] > 0).astype(int), "binary"
    if name == "circles":
        X, y = d.make_circles(n_samples=800, noise=0.15, factor=0.5, random_state=3)
        return X, y, "binary"
    if name == "sine":  # a noisy 1-D function
        rng = np.random.default_rng(1)
        x = rng.uniform(-3, 3, 400)
        return x[:, None], np.sin(2 * x) + 0.3 * x + rng.normal(0, 0.2, 400), "regression"
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
    if setting == "defaults":  # what a user gets by changing nothing (hidden (100,) and 200 epochs are the defaults)
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
    if setting == "defaults":  # the shortest config a user can write (and the seed)
        cfg = from_dict({"task": task, "data": {"train": "<arrays>", "target": "y"}, "train": {"seed": seed}})
    else:
        cfg = from_dict({"task": task, "data": {"train": "<arrays>", "target": "y", "valid_fraction": holdout},
                         "model": {"hidden": hidden},
                         "train": {"optimizer": optimizer, "learning_rate": lr * lr_factor, "batch_size": batch,
                                   "epochs": epochs, "seed": seed}})
    data = dataset_from_arrays(cfg, Xtr, ytr, np.random.default_rng(seed))
    result = fit(cfg, data, np.random.default_rng(seed + 1))
    X, _ = data.prep.transform(pd.DataFrame(Xte, columns=[f"x{i}" for i in range(Xte.shape[1])]), "test rows")
    labels, _ = Model(result.params, cfg.task, cfg.loss, cfg.model.activation, data.prep).predict(X)
    return score(task, yte, labels)
