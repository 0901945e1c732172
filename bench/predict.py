"""What `nnfit predict` spends its time on: reading the CSV, the exact logits, and writing the output.

    python -m bench.predict              # 1,000,000 rows x 20 columns, two networks
    python -m bench.predict --rows 100000

The exact logits (every sum exact, see nnfit/exact.py) are timed beside the plain BLAS ones the metrics use, so
the table shows what a prediction that does not depend on the CPU or on the other rows costs. Each phase is the
median of --repeat runs, in one process, after one untimed run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nnfit.activations import ACTIVATIONS
from nnfit.model import Model
from nnfit.data import load_features
from nnfit.network import init_params, predict_logits

NETWORKS = {"20-64-64-1 (regression)": [20, 64, 64, 1], "20-256-128-10 (10 classes)": [20, 256, 128, 10]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.predict", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from nnfit import commands

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(args.rows, 20)).round(4), columns=[f"x{i}" for i in range(20)])
        frame["y"] = (frame.iloc[:, :5].sum(axis=1) + rng.normal(size=args.rows)).round(4)
        frame.to_csv(folder / "big.csv", index=False)
        frame.iloc[:2000].to_csv(folder / "train.csv", index=False)
        print("| network | rows | read + preprocess s | exact logits s | plain BLAS logits s | write CSV s | exact / (read + write) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, sizes in NETWORKS.items():
            (folder / "c.yaml").write_text(f"task: regression\ndata: {{train: train.csv, target: y}}\n"
                                           f"model: {{hidden: {sizes[1:-1]}}}\ntrain: {{epochs: 1}}\n")
            commands.train(folder / "c.yaml", out=folder / "run", force=True)
            model = Model.load(folder / "run")
            params, prep = model.params, model.prep
            if sizes[-1] != 1:  # the same inputs; a wider output layer, as a 10-class model has
                params = init_params(sizes, "glorot", rng, np.float32)
            times = {"read": [], "exact": [], "plain": [], "write": []}
            for attempt in range(args.repeat + 1):
                t0 = time.perf_counter()
                _, X, _ = load_features(prep, str(folder / "big.csv"), "big.csv", np.dtype(np.float32))
                t1 = time.perf_counter()
                z = predict_logits(params, X, ACTIVATIONS["relu"])
                t2 = time.perf_counter()
                predict_logits(params, X, ACTIVATIONS["relu"], exact=False)
                t3 = time.perf_counter()
                out = pd.DataFrame({f"p{j}": z[:, j] for j in range(z.shape[1])})
                out.to_csv(folder / "out.csv", index=False, lineterminator="\n")
                t4 = time.perf_counter()
                if attempt:
                    for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                        times[key].append(value)
            m = {key: statistics.median(v) for key, v in times.items()}
            print(f"| {name} | {args.rows:,} | {m['read']:.2f} | {m['exact']:.2f} | {m['plain']:.2f} | "
                  f"{m['write']:.2f} | {m['exact'] / (m['read'] + m['write']):.0%} |")


if __name__ == "__main__":
    main()
