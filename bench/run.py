"""Benchmark nnfit's training loop against scikit-learn and PyTorch on the CPU, in one run, interleaved.

    python -m bench              # the full run (several minutes), prints a markdown table
    python -m bench --quick      # smaller data and fewer repetitions, for a smoke test

Every case trains the same network on the same data with the same batch size, optimizer (plain SGD) and
number of epochs in each framework. Each framework lives in its own worker process (see Worker); repetitions are
interleaved across them (nnfit, sklearn, torch for each case, then the matmul peak, then again) and the median
is reported, so a noisy neighbour slows every framework alike, and each timed run starts after a 0.5 s pause
and on memory the process has just touched (see touch_memory).
scikit-learn and PyTorch are optional (`pip install '.[bench]'`); a missing one is reported as skipped.

Training FLOPs per sample: forward 2 x weights, backward 4 x weights, minus the input gradient of the first
layer, which nobody needs (2 x its weights). Memory is the peak resident set of one extra, untimed training run
in a new process, above what that process held once its data and model were set up (Linux only).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfit.config import from_dict
from nnfit.data import dataset_from_arrays
from nnfit.training import fit


@dataclass(frozen=True)
class Case:
    name: str
    sizes: tuple[int, ...]  # inputs, hidden..., outputs
    batch: int
    rows: int
    epochs: int
    task: str  # multiclass | regression

    @property
    def flops_per_sample(self) -> int:
        weights = sum(i * o for i, o in zip(self.sizes[:-1], self.sizes[1:]))
        return 6 * weights - 2 * self.sizes[0] * self.sizes[1]


def cases(quick: bool) -> list[Case]:
    rows = 6000 if quick else 30000
    return [
        Case("mnist-shaped 784-256-128-10, batch 32", (784, 256, 128, 10), 32, rows, 1 if quick else 2, "multiclass"),
        Case("mnist-shaped 784-256-128-10, batch 128", (784, 256, 128, 10), 128, rows, 1 if quick else 2, "multiclass"),
        Case("mnist-shaped 784-256-128-10, batch 512", (784, 256, 128, 10), 512, rows, 1 if quick else 2, "multiclass"),
        Case("small regression 8-32-32-1, batch 32", (8, 32, 32, 1), 32, rows, 2 if quick else 3, "regression"),
    ]


def make_data(case: Case):
    rng = np.random.default_rng(0)
    X = rng.random((case.rows, case.sizes[0]), dtype=np.float32)  # speed does not depend on the values
    if case.task == "multiclass":
        y = rng.integers(0, case.sizes[-1], case.rows)
    else:
        y = (X @ rng.normal(size=case.sizes[0])).astype(np.float32)
    return X, y


# ---- the three trainers: each trains a fresh network for case.epochs epochs ----


def nnfit_trainer(case: Case, X, y):
    cfg = from_dict({
        "task": case.task,
        "data": {"train": "<memory>", "target": "y", "valid_fraction": 0, "standardize": False, "scale_target": False},
        "model": {"hidden": list(case.sizes[1:-1])},
        "train": {"epochs": case.epochs, "batch_size": case.batch, "optimizer": "sgd", "learning_rate": 0.01},
    })
    data = dataset_from_arrays(cfg, X, y)  # preprocessing happens once, outside the timed part
    return lambda: fit(cfg, data, np.random.default_rng(0))


def sklearn_trainer(case: Case, X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if case.task == "multiclass" else MLPRegressor

    def train():
        model = cls(hidden_layer_sizes=case.sizes[1:-1], solver="sgd", learning_rate_init=0.01, momentum=0.0,
                    nesterovs_momentum=False, alpha=0.0, batch_size=case.batch, max_iter=case.epochs, tol=0.0,
                    n_iter_no_change=case.epochs + 1, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)  # float32 X stays float32 in scikit-learn's MLP

    return train


def torch_trainer(case: Case, X, y):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.int64) if case.task == "multiclass" else y.reshape(-1, 1).astype(np.float32))
    loss_fn = torch.nn.CrossEntropyLoss() if case.task == "multiclass" else torch.nn.MSELoss()

    def train():
        torch.manual_seed(0)
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
            layers.append(torch.nn.Linear(fan_in, fan_out))
            if i < len(case.sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(case.epochs):
            order = torch.randperm(len(Xt))
            Xs, ys = Xt[order], yt[order]  # one shuffled copy per epoch, as nnfit does
            total = torch.zeros(())
            for s in range(0, len(Xs), case.batch):
                loss = loss_fn(model(Xs[s:s + case.batch]), ys[s:s + case.batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
            float(total)

    return train


def floor_trainer(case: Case, X, y):
    """The floor: the step's matrix products alone, at the case's shapes and in float32, for an epoch's
    mini-batches, on the same BLAS and threads. Forward: [h, 1] @ [W; b] for each layer (the first without the
    column of ones, as nnfit does); backward: [h, 1]^T delta for each layer and delta [W; b]^T for every layer
    but the first (the input's gradient is never needed). No activation, loss, update or shuffle: what no
    implementation of this network can do without."""
    sizes, batch = case.sizes, case.batch
    rng = np.random.default_rng(0)
    W = [rng.random((sizes[0], sizes[1]), dtype=np.float32)]
    W += [rng.random((i + 1, o), dtype=np.float32) for i, o in zip(sizes[1:-1], sizes[2:])]
    steps = [(start, min(start + batch, len(X))) for start in range(0, len(X), batch)]
    spaces = {}
    for start, end in steps:
        n = end - start
        if n not in spaces:
            h1 = [np.ones((n, width + 1), np.float32) for width in sizes[1:-1]]  # [h, 1]
            z = [h[:, :-1] for h in h1] + [np.empty((n, sizes[-1]), np.float32)]
            delta = [np.ones((n, width), np.float32) * 0.01 for width in sizes[1:]]
            dh = [np.empty((n, width + 1), np.float32) for width in sizes[1:-1]]
            grads = [np.empty_like(w) for w in W]
            spaces[n] = (h1, z, delta, dh, grads)

    def train():
        for _ in range(case.epochs):
            for start, end in steps:
                h1, z, delta, dh, grads = spaces[end - start]
                xb = X[start:end]
                np.matmul(xb, W[0], out=z[0])
                for l in range(1, len(W)):
                    np.matmul(h1[l - 1], W[l], out=z[l])
                for l in range(len(W) - 1, 0, -1):
                    np.matmul(h1[l - 1].T, delta[l], out=grads[l])
                    np.matmul(delta[l], W[l].T, out=dh[l - 1])
                np.matmul(xb.T, delta[0], out=grads[0])

    return train


TRAINERS = {"nnfit": nnfit_trainer, "scikit-learn": sklearn_trainer, "PyTorch": torch_trainer,
            "matrix products alone (the floor)": floor_trainer}


def available(name: str) -> str | None:
    """None when the framework can run, else why not."""
    module = {"scikit-learn": "sklearn", "PyTorch": "torch"}.get(name)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return f"skipped ({module} not installed; pip install '.[bench]')"
    return None


# ---- measurements ----


def matmul_peak() -> float:
    """Best float32 GFLOP/s of numpy's matmul over a few large square products."""
    rng = np.random.default_rng(0)
    best = 0.0
    for n in (1024, 2048):
        a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        np.matmul(a, b, out=c)
        reps = 8 if n == 1024 else 3
        t = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=c)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


MEMORY_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench.run import TRAINERS, cases, make_data, vm

case = cases(sys.argv[2] == "quick")[int(sys.argv[3])]
train = TRAINERS[sys.argv[4]](case, *make_data(case))
before = vm("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current size
train()
print(json.dumps(vm("VmHWM") - before))
"""


def vm(key: str) -> float:
    """A line of /proc/self/status in MB: VmRSS now, VmHWM the peak since the last reset."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1e3


def training_memory(quick: bool, index: int, name: str) -> float | None:
    """MB by which one training run raises the resident set above its set-up (data, model), in a new process."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, repo, "quick" if quick else "full", str(index), name],
                         capture_output=True, text=True)
    return float(out.stdout) if out.returncode == 0 else None


WORKER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from bench.run import TRAINERS, cases, make_data, matmul_peak, touch_memory

all_cases = cases(sys.argv[2] == "quick")
trainers = {i: TRAINERS[sys.argv[3]](case, *make_data(case)) for i, case in enumerate(all_cases)}
for train in trainers.values():  # imports, first-call costs, thread pools
    train()
print("ready", flush=True)
for line in sys.stdin:  # a case number: train it once and print the seconds; "peak": the matmul peak
    if line.strip() == "peak":
        print(matmul_peak(), flush=True)
        continue
    if line.strip() == "touch":  # see touch_memory
        touch_memory()
        print(0, flush=True)
        continue
    t = time.perf_counter()
    trainers[int(line)]()
    print(time.perf_counter() - t, flush=True)
"""


class Worker:
    """One framework in its own process, started once, with every case's data and trainer set up and warmed
    up. Frameworks never share a process: each brings its own thread pools (OpenBLAS, OpenMP) and allocator
    habits, and measured here nnfit ran 10-40% slower in a process where PyTorch had trained, even seconds
    later. The coordinator sends one command at a time, so only one framework computes at any moment."""

    def __init__(self, name: str, quick: bool):
        repo = str(Path(__file__).resolve().parent.parent)
        self.name = name
        self.process = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, repo, "quick" if quick else "full", name],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._expect("ready")

    def _expect(self, what: str | None = None) -> str:
        line = self.process.stdout.readline().strip()
        if not line or (what is not None and line != what):
            raise RuntimeError(f"the {self.name} worker stopped (exit code {self.process.wait()})")
        return line

    def ask(self, command) -> float:
        self.process.stdin.write(f"{command}\n")
        self.process.stdin.flush()
        return float(self._expect())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


SETTLE_SECONDS = 0.5  # quiet time before each timed run, so no framework pays for another's spinning threads


# ---- end to end: `nnfit train` on a 60,000 x 785 CSV, and `nnfit --help` ----


def write_mnist_like_csv(path: Path, rows: int) -> None:
    """Pixels 0..255 in 784 columns plus a label: the shape and size of MNIST's CSV (about 110 MB)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    chunk = 5000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        pixels = (rng.random((n, 784)) ** 4 * 256).astype(np.uint8)  # mostly small values, like ink on paper
        frame = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(784)])
        frame.insert(0, "label", rng.integers(0, 10, n))
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)


E2E_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from nnfit import commands

def status(key):  # kB; VmHWM is this process's own peak (ru_maxrss would include the parent's, across fork)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1e3

marks = {"base_mb": status("VmRSS")}

def on_start(cfg, trainer):  # data loaded: note the peak so far (pandas' parse), then measure training alone
    data = trainer.data
    marks["load_peak_mb"] = status("VmHWM")
    marks["matrix_mb"] = sum(s.X.nbytes for s in (data.train, data.valid) if s is not None) / 1e6
    marks["rss_before_training_mb"] = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM

line = commands.train(sys.argv[1], out=sys.argv[2], force=True, on_start=on_start)
total = time.perf_counter() - t0
summary = json.load(open(sys.argv[2] + "/summary.json"))
print(json.dumps({"total": total, "timing": summary["timing"], "train_peak_mb": status("VmHWM"), **marks}))
"""


E2E_EPOCHS = 20  # as in Keras' classic MNIST MLP example (784-512-512-10, batch 128, 20 epochs)


def warm_memory(megabytes: int = 2048) -> None:
    """Touch memory in a throwaway process just before a run. On the VMs this was measured on, memory the
    guest has not used for a few seconds (or since boot) is backed by the host only when touched, at about
    1.2-2 ms/MB against 0.06 ms/MB otherwise (see touch_memory). Without this an end-to-end run would be timed
    partly on the hypervisor: a cached run, which frees no parsing memory first, paid 0.18 s to touch its
    shuffled copy."""
    subprocess.run([sys.executable, "-c", f"import numpy as np; np.ones({megabytes} << 18, np.float32)"], check=True)


TOUCH_MB = 512  # more than any framework allocates in one timed run here


def touch_memory(megabytes: int = TOUCH_MB) -> None:
    """Touch and free memory in this process just before a timed run.

    These VMs hand memory that has been free for about 2 s back to the host (virtio-balloon free page
    reporting), and touching it again costs about 1.2 ms/MB instead of 0.06: 110-140 ms for a fresh 94 MB
    buffer, measured, against 6 ms when the pages were freed a moment ago. nnfit allocates its shuffled copy
    (94 MB here) once per training run and PyTorch its shuffled copy once per epoch; a user's run pays that
    once, but a 2-epoch timing would count it as up to 30% of each epoch. Every worker does this before every
    timed run, so the timings are of the training loops on memory the guest already holds.
    """
    block = np.ones(megabytes << 18, np.float32)
    del block


def end_to_end(folder: Path, rows: int, epochs: int) -> list[dict]:
    import json

    csv = folder / "mnist_like.csv"
    write_mnist_like_csv(csv, rows)
    results = []
    for cache in (False, True, True):  # plain; with the cache (first run fills it); again (reads it)
        warm_memory()  # before each run, see touch_memory: a run allocates its shuffled copy (150 MB) fresh
        config = folder / f"e2e_{cache}.yaml"
        config.write_text(f"task: multiclass\ndata: {{train: {csv}, target: label, cache: {str(cache).lower()}}}\n"
                          f"model: {{hidden: [256, 128]}}\ntrain: {{epochs: {epochs}, batch_size: 128}}\n")
        out = subprocess.run([sys.executable, "-c", E2E_SCRIPT, str(config), str(folder / "run")],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout))
    results[0]["csv_mb"] = csv.stat().st_size / 1e6
    return results


def help_time(reps: int = 9) -> float:
    """Median wall time of `nnfit --help` in a new process, in ms."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nnfit", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


# ---- the run ----


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repetitions")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 5, quick 2)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the 60,000-row CSV end-to-end run")
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 5)

    all_cases = cases(args.quick)
    skipped = {name: available(name) for name in TRAINERS}
    print("starting one worker process per framework (data, warm-up) ...", file=sys.stderr)
    workers = {name: Worker(name, args.quick) for name in TRAINERS if skipped[name] is None}
    times = {(case, name): [] for case in all_cases for name in workers}
    peaks = []
    print(f"{reps} interleaved repetitions ...", file=sys.stderr)
    for rep in range(reps):
        for index, case in enumerate(all_cases):
            for name, worker in workers.items():
                worker.ask("touch")
                time.sleep(SETTLE_SECONDS)
                times[(case, name)].append(worker.ask(index) / case.epochs)
        time.sleep(SETTLE_SECONDS)
        peaks.append(workers["nnfit"].ask("peak"))
        print(f"  repetition {rep + 1}/{reps} done", file=sys.stderr)
    for worker in workers.values():
        worker.close()
    memory = {(case, name): training_memory(args.quick, all_cases.index(case), name) for case, name in times
              if "floor" not in name}
    peak = statistics.median(peaks)

    print(f"\nnnfit benchmark, {time.strftime('%Y-%m-%d')}, {machine()}")
    print(f"numpy float32 matmul peak: {peak:.0f} GFLOP/s (median of {reps}); "
          f"{reps} interleaved repetitions, median reported\n")
    print("| case | framework | samples/s | s/epoch | nnfit speed-up | GFLOP/s | % of matmul peak | % of the floor "
          "| training memory MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    floor_name = "matrix products alone (the floor)"
    for case in all_cases:
        base = statistics.median(times[(case, "nnfit")])
        floor = statistics.median(times[(case, floor_name)])
        for name in TRAINERS:
            if skipped[name]:
                print(f"| {case.name} | {name} | {skipped[name]} | | | | | | |")
                continue
            epoch = statistics.median(times[(case, name)])
            gflops = case.flops_per_sample * case.rows / epoch / 1e9
            mem = memory[(case, name)] if name != floor_name else None
            share = "" if name == floor_name else f"{100 * floor / epoch:.0f}%"
            print(f"| {case.name} | {name} | {case.rows / epoch:,.0f} | {epoch:.3f} | {epoch / base:.2f}x | "
                  f"{gflops:.1f} | {100 * gflops / peak:.0f}% | {share} | {'' if mem is None else f'{mem:.0f}'} |")

    print(f"\n`nnfit --help`: {help_time():.0f} ms (median of 9 new processes)")
    if not args.no_e2e:
        rows = 10000 if args.quick else 60000
        with tempfile.TemporaryDirectory() as folder:
            plain, fill, cached = end_to_end(Path(folder), rows, epochs=E2E_EPOCHS)
        print(f"\nEnd to end, `nnfit train` on a {rows:,} x 785 CSV ({plain['csv_mb']:.0f} MB), 784-256-128-10, "
              f"{E2E_EPOCHS} epochs, batch 128, 20% validation split (times in seconds, from the start of the Python "
              "process, 2 GB of memory touched just before each run):\n")
        print("| run | total | read (hash + parse) | preprocess | training loop | of which mini-batches "
              "| evaluate + write | imports and other | outside reading and the training loop |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in (("CSV", plain), ("`data.cache: true`, first run", fill), ("`data.cache: true`, second run", cached)):
            t = r["timing"]
            other = r["total"] - t["read"] - t["preprocess"] - t["loop"] - t["evaluate"] - t["write"]
            outside = r["total"] - t["read"] - t["loop"]
            print(f"| {label} | {r['total']:.2f} | {t['read']:.2f} | {t['preprocess']:.2f} | {t['loop']:.2f} | "
                  f"{t['train']:.2f} | {t['evaluate'] + t['write']:.2f} | {other:.2f} | {100 * outside / r['total']:.0f}% |")
        t = plain["timing"]
        outside = plain["total"] - t["read"] - t["loop"]
        two_epochs = plain["total"] - t["loop"] + 2 * t["loop"] / E2E_EPOCHS
        print(f"\noutside reading and the training loop: {outside:.2f} s, the same whatever the epochs "
              f"({100 * outside / two_epochs:.0f}% of a 2-epoch run)")
        print(f"reading with the cache: {plain['timing']['read'] / max(cached['timing']['read'], 1e-9):.0f}x "
              "faster than hashing and parsing the CSV")
        m = plain
        print(f"memory: the float32 matrix is {m['matrix_mb']:.0f} MB; peak RSS while reading and preprocessing "
              f"{m['load_peak_mb']:.0f} MB (pandas' parse), while training {m['train_peak_mb']:.0f} MB = process "
              f"baseline {m['base_mb']:.0f} MB + {(m['train_peak_mb'] - m['base_mb']) / m['matrix_mb']:.1f}x the matrix")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


if __name__ == "__main__":
    main()
