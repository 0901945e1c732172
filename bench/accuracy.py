"""Accuracy against scikit-learn: the same network, optimizer, batch size, learning rate and epochs.

    python -m bench.accuracy               # 13 data sets, 3 settings, 10 seeds (about 15 minutes on 2 cores)
    python -m bench.accuracy --seeds 3 --only iris,wine

Needs scikit-learn (`pip install '.[bench]'`); its bundled data sets need no download. Each data set is split
75/25 into training and test rows once (seed 0); both libraries see standardized inputs (and, for regression,
a standardized target, as nnfit's data.scale_target does), train on the training rows and are scored on the
test rows: accuracy for classification, R² for regression. scikit-learn runs plain SGD (no momentum) or Adam,
no L2 penalty, exactly max_iter epochs. nnfit runs through its library API with a hold-out of 20%
for choosing the epoch to keep, and with `valid_fraction: 0` (every training row, the last epoch), which is
what scikit-learn does. The fifth column halves nnfit's learning rate on regression: the lecture's MSE has no
1/2, so that is the step scikit-learn's SGD takes.

The last column is not like for like: each library as a user gets it from the shortest config. nnfit: only
task, data.train and data.target (Adam at 0.001, batch 32, hidden [100], 100 epochs, 10% hold-out choosing the
epoch, standardized target). scikit-learn: MLPClassifier / MLPRegressor() with every default (hidden (100,),
Adam at 0.001, batch 200, alpha 1e-4, up to 200 epochs, stopping when the training loss stalls) on
StandardScaler-ed inputs and the target as it is. It shows what a user who changes nothing gets.

Prints the mean over seeds of nnfit minus scikit-learn, in points (accuracy x 100, R² x 100), with the
standard error of that difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the reference the tests use too
from likeforlike import DATASETS, SETTINGS, load, nnfit_score, sklearn_score  # noqa: E402

COLUMNS = [("sgd", 0.2, 1.0), ("sgd", 0.0, 1.0), ("adam", 0.2, 1.0), ("adam", 0.0, 1.0), ("sgd", 0.0, 0.5),
           ("defaults", None, 1.0)]


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
    heads = ["shortest config against scikit-learn's defaults" if s == "defaults" else
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
