"""Regenerate the example CSV files in this folder: `python data/make_data.py` (needs scikit-learn).

digits_train.csv / digits_test.csv: the UCI optical handwritten digits (8x8 images, 1797 rows, 10 classes),
    as bundled with scikit-learn; an 80/20 stratified split, seed 0.
diabetes.csv: the diabetes progression data (442 rows, 10 features; Efron et al. 2004), as bundled with
    scikit-learn.
sine.csv: the lecture's regression demo, a noisy 1-D function y = sin(2x) + 0.3 x + N(0, 0.15^2), x in [-3, 3].
xor.csv: noisy XOR with labels in {-1, 1}: four Gaussian blobs at (+-1, +-1), label = sign(x1 * x2).
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main():
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype(int), columns=[f"pixel_{i}" for i in range(64)])
    frame["label"] = digits.target
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=0)
    train.to_csv(HERE / "digits_train.csv", index=False)
    test.to_csv(HERE / "digits_test.csv", index=False)

    diabetes = load_diabetes(scaled=False)
    frame = pd.DataFrame(diabetes.data, columns=diabetes.feature_names)
    frame["progression"] = diabetes.target
    frame.to_csv(HERE / "diabetes.csv", index=False)

    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 400))
    y = np.sin(2 * x) + 0.3 * x + rng.normal(0, 0.15, x.size)
    pd.DataFrame({"x": x.round(5), "y": y.round(5)}).to_csv(HERE / "sine.csv", index=False)

    centers = rng.choice([-1.0, 1.0], size=(400, 2))
    points = centers + rng.normal(0, 0.35, centers.shape)
    label = np.where(centers[:, 0] * centers[:, 1] > 0, 1, -1)
    pd.DataFrame({"x1": points[:, 0].round(5), "x2": points[:, 1].round(5), "label": label}).to_csv(
        HERE / "xor.csv", index=False)


if __name__ == "__main__":
    main()
