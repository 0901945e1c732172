"""Where a training step's time goes, part by part, against the floor (the step's matrix products alone).

    python -m bench.profile                       # batch 128, the mnist-shaped 784-256-128-10 network
    python -m bench.profile --batch 512
    OPENBLAS_NUM_THREADS=1 python -m bench.profile    # what the second BLAS thread brings, or costs

Prints milliseconds per mini-batch, the median over repetitions, each part timed over a whole epoch's
mini-batches (30,000 rows) in float32, plain SGD as `python -m bench` trains it:

  floor       the step's matrix products alone (bench.run.floor_trainer)
  forward     network.forward with its workspace (the products, the biases' column, ReLU in place)
  loss        the fused softmax cross-entropy: its sum and the output gradient
  backward    network.backward with the SGD step folded into the gradient's product (blas.py)
  shuffle     the epoch's one shuffled copy of the rows, spread over its mini-batches
  epoch       Trainer's whole epoch (all of the above, the bookkeeping between), per mini-batch

"outside the products" is the epoch less the floor: what the activations, the loss, the update, the shuffle,
Python and the BLAS's thread hand-offs between calls cost together.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nnfit.activations import ACTIVATIONS
from nnfit.config import from_dict
from nnfit.data import dataset_from_arrays
from nnfit.losses import LOSSES, batch_loss_and_grad
from nnfit.network import Workspace, backward, forward
from nnfit.training import Streams, Trainer

from .run import Case, floor_trainer, make_data


def timed(run, reps: int) -> float:
    """The median of reps runs, in seconds, after one run to warm up."""
    run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    case = Case(f"784-256-128-10, batch {args.batch}", (784, 256, 128, 10), args.batch, 30000, 1, "multiclass")
    X, y = make_data(case)
    whole = len(X) // args.batch * args.batch  # whole mini-batches only, so that every part runs the same ones
    X, y = X[:whole], y[:whole]
    cfg = from_dict({"task": "multiclass", "model": {"hidden": [256, 128]},
                     "data": {"train": "<memory>", "target": "y", "valid_fraction": 0, "standardize": False},
                     "train": {"epochs": 1, "batch_size": args.batch, "optimizer": "sgd", "learning_rate": 0.01}})
    data = dataset_from_arrays(cfg, X, y)
    trainer = Trainer(cfg, data, Streams.for_training(np.random.default_rng(0)).init, np.random.default_rng(1))
    params, grads, act, loss = trainer.params, trainer.grads, ACTIVATIONS["relu"], LOSSES["cross_entropy"]
    Xs, Ys = data.train.X, data.train.Y
    starts = range(0, len(Xs), args.batch)
    space = Workspace(params.sizes, args.batch, params.flat.dtype, False)
    z0, _ = forward(params, Xs[:args.batch], act, Workspace(params.sizes, args.batch, params.flat.dtype, False))
    _, dz0 = batch_loss_and_grad(loss, z0, Ys[:args.batch], None, 1.0)
    dz0 = dz0 * 1e-6  # small steps: the weights barely move while backward runs again and again

    def run_forward():
        for s in starts:
            forward(params, Xs[s:s + args.batch], act, space)

    def run_loss():
        z, _ = forward(params, Xs[:args.batch], act, space)
        zc = z.copy()
        for s in starts:
            z[...] = zc
            batch_loss_and_grad(loss, z, Ys[s:s + args.batch], None, 1.0)

    def run_backward():
        z, hs = forward(params, Xs[:args.batch], act, space)
        for _ in starts:  # the weights move a little each time, which changes no timing
            backward(params, Xs[:args.batch], hs, dz0.copy(), act, grads, space, step=True)

    order = np.random.default_rng(0).permutation(len(Xs))
    out = np.empty_like(Xs)

    def run_shuffle():
        np.take(Xs, order, axis=0, out=out, mode="clip")

    def run_epoch():
        trainer.position = None
        trainer._epoch(None)

    floor = floor_trainer(Case(case.name, case.sizes, case.batch, whole, 1, "multiclass"), X, y)
    batches = len(starts)
    parts = {"floor": floor, "forward": run_forward, "loss": run_loss, "backward": run_backward,
             "shuffle": run_shuffle, "epoch": run_epoch}
    ms = {name: 1000 * timed(run, args.reps) / batches for name, run in parts.items()}
    print(f"{case.name}: milliseconds per mini-batch, median of {args.reps}")
    for name, value in ms.items():
        print(f"  {name:10s} {value:7.3f}")
    print(f"  {'outside the products':10s} {ms['epoch'] - ms['floor']:7.3f} "
          f"({100 * (ms['epoch'] - ms['floor']) / ms['epoch']:.0f}% of the epoch; the floor is "
          f"{100 * ms['floor'] / ms['epoch']:.0f}% of it)")


if __name__ == "__main__":
    main()
