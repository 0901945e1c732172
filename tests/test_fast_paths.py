"""The fast paths give the same results as the plain ones: the training loop against a textbook
implementation, the data cache against parsing the CSV. (Speed itself is measured in bench/, not here.)"""

import json
import os

import numpy as np
import pandas as pd
import pytest

from nnfit.activations import ACTIVATIONS
from nnfit.config import from_dict
from nnfit.data import dataset_from_arrays
from nnfit.training import fit

from conftest import run_cli, write_config, write_csv


PHI = {  # activation: (phi(z), phi'(z) in terms of h = phi(z)), written out again for the reference
    "relu": (lambda z: np.maximum(z, 0), lambda h: (h > 0) * 1.0),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda h: np.where(h > 0, 1.0, 0.01)),
    "tanh": (np.tanh, lambda h: 1 - h**2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda h: h * (1 - h)),
    "identity": (lambda z: z, lambda h: np.ones_like(h)),
}


def reference_training(X, Y, sizes, W, b, epochs, batch, lr, order_rng, task, weight_decay=0.0, activation="relu",
                       row_weights=None):
    """Mini-batch SGD written as plainly as possible: fancy indexing, fresh arrays, explicit formulas. With
    row_weights (n,), each row's loss counts that many times in its batch's mean."""
    phi, dphi = PHI[activation]
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    n = len(X)
    for _ in range(epochs):
        order = order_rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            x, y = X[idx], Y[idx]
            hs = [x]
            for l in range(len(W)):
                z = hs[-1] @ W[l] + b[l]
                hs.append(phi(z) if l < len(W) - 1 else z)
            z = hs[-1]
            if task == "multiclass":
                p = np.exp(z - z.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                delta = (p - y) / len(x)
            elif task == "binary":
                delta = (1 / (1 + np.exp(-z)) - y) / len(x)
            else:
                delta = 2 * (z - y) / len(x)
            if row_weights is not None:
                delta = delta * row_weights[idx][:, None]  # the weights travel with their rows
            for l in range(len(W) - 1, -1, -1):
                gW, gb = hs[l].T @ delta, delta.sum(axis=0)
                if l > 0:
                    delta = (delta @ W[l].T) * dphi(hs[l])
                W[l] -= lr * (gW + weight_decay * W[l])  # L2 on the weights, not the biases
                b[l] -= lr * gb
    return W, b


def rewrite_keeping_size_and_mtime(csv):
    """Change one digit of a data row and put the modification time back; returns the old text."""
    before = csv.stat()
    text = csv.read_text()
    digit = next(i for i, ch in enumerate(text) if ch in "123456789" and i > text.index("\n"))
    csv.write_text(text[:digit] + str(int(text[digit]) % 9 + 1) + text[digit + 1:])
    os.utime(csv, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert csv.stat().st_size == before.st_size and csv.stat().st_mtime_ns == before.st_mtime_ns
    return text


@pytest.mark.parametrize("task,sizes,batch,weight_decay,activation", [
    ("multiclass", [6, 16, 8, 3], 7, 0.0, "relu"), ("regression", [5, 12, 1], 32, 0.0, "relu"),
    ("multiclass", [4, 3], 10, 0.0, "relu"), ("multiclass", [6, 16, 8, 3], 7, 0.3, "relu"),
    ("regression", [5, 12, 1], 32, 0.1, "relu"), ("regression", [5, 12, 1], 32, 1.0, "relu"),  # decay 1, exactly
    *[("multiclass", [6, 16, 8, 3], 7, 0.0, name) for name in ("leaky_relu", "tanh", "sigmoid", "identity")],
    ("regression", [5, 12, 9, 1], 8, 0.1, "tanh")])
@pytest.mark.parametrize("step", ["inside backprop", "after backprop"])
def test_fast_loop_matches_a_textbook_implementation(task, sizes, batch, weight_decay, activation, step, monkeypatch):
    from nnfit import blas

    if step == "after backprop":  # as where numpy has no OpenBLAS of its own, or for small networks
        monkeypatch.setattr(blas, "_gemm", {})
    elif blas.available(np.float64):
        monkeypatch.setattr(blas, "FUSE_MIN_WEIGHTS_PER_LAYER", 0)  # fold the step into gemm even for these
    else:
        pytest.skip("this numpy has no bundled OpenBLAS")
    rng = np.random.default_rng(0)
    n = 50  # not a multiple of the batch size: the last batch is smaller
    X = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], n) if task == "multiclass" else X @ rng.normal(size=sizes[0])
    cfg = from_dict({"task": task, "data": {"train": "-", "target": "y", "valid_fraction": 0, "standardize": False,
                                            "scale_target": False},
                     "model": {"hidden": sizes[1:-1], "activation": activation, "init": "glorot"},
                     "train": {"epochs": 3, "batch_size": batch, "optimizer": "sgd", "learning_rate": 0.05, "dtype": "float64",
                               "weight_decay": weight_decay}})
    data = dataset_from_arrays(cfg, X, y)
    result = fit(cfg, data, np.random.default_rng(7))
    # the same initial weights and shuffles: fit() draws both from rng.spawn(2)
    init_rng, shuffle_rng = np.random.default_rng(7).spawn(2)
    from nnfit.network import init_params

    start = init_params(sizes, "glorot", init_rng, np.float64)
    W, b = reference_training(data.train.X, data.train.Y, sizes, start.W, start.b, 3, batch, 0.05, shuffle_rng, task,
                              weight_decay, activation)
    for l in range(len(W)):
        np.testing.assert_allclose(result.params.W[l], W[l], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(result.params.b[l], b[l], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("task,class_weight", [
    ("binary", {"yes": 4.0}), ("binary", "balanced"), ("multiclass", {"a": 0.5, "c": 3.0}), ("multiclass", "balanced")])
def test_class_weights_with_mini_batches_match_a_textbook_weighted_sgd(task, class_weight):
    """Each row's loss is multiplied by its class's weight (balanced: n / (K * the class's rows)), the weights
    are shuffled with their rows, and the batch mean divides by the batch's rows."""
    rng = np.random.default_rng(8)
    n, sizes = 60, ([4, 8, 1] if task == "binary" else [4, 8, 3])
    X = rng.normal(size=(n, 4))
    labels = np.array(["no", "yes"] if task == "binary" else ["a", "b", "c"], dtype=object)
    y = labels[rng.choice(len(labels), n, p=[0.7, 0.3] if task == "binary" else [0.6, 0.3, 0.1])]
    cfg = from_dict({"task": task, "data": {"train": "-", "target": "y", "valid_fraction": 0, "standardize": False},
                     "model": {"hidden": sizes[1:-1], "init": "glorot"},
                     "train": {"epochs": 3, "batch_size": 7, "optimizer": "sgd", "learning_rate": 0.1, "dtype": "float64",
                               "class_weight": class_weight}})
    data = dataset_from_arrays(cfg, X, y)
    if class_weight == "balanced":  # computed here from the labels, not by nnfit
        counts = {label: np.sum(y == label) for label in labels}
        expected = np.array([n / (len(labels) * counts[label]) for label in y])
    else:
        expected = np.array([class_weight.get(label, 1.0) for label in y])
    np.testing.assert_allclose(data.train.w, expected, rtol=1e-15)
    result = fit(cfg, data, np.random.default_rng(7))
    init_rng, shuffle_rng = np.random.default_rng(7).spawn(2)
    from nnfit.network import init_params

    start = init_params(sizes, "glorot", init_rng, np.float64)
    W, b = reference_training(data.train.X, data.train.Y, sizes, start.W, start.b, 3, 7, 0.1, shuffle_rng, task,
                              row_weights=expected)
    for l in range(len(W)):
        np.testing.assert_allclose(result.params.W[l], W[l], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(result.params.b[l], b[l], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_tn_is_beta_c_plus_alpha_a_transposed_b(dtype, monkeypatch):
    from nnfit import blas

    rng = np.random.default_rng(3)
    big = rng.normal(size=(40, 30)).astype(dtype)
    A, B = big[:, :7], rng.normal(size=(40, 5)).astype(dtype)  # A's rows are spaced apart, as in a slice of X
    C = rng.normal(size=(7, 5)).astype(dtype)
    expected = 0.5 * C.astype(np.float64) - 2.0 * (A.T.astype(np.float64) @ B)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for gemm in ("blas", "numpy"):
        if gemm == "numpy":
            monkeypatch.setattr(blas, "_gemm", {})
        out = C.copy()
        assert blas.gemm_tn(-2.0, A, B, 0.5, out) is out
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    monkeypatch.undo()
    out = C.copy()
    blas.gemm_tn(-2.0, np.asfortranarray(A), B, 0.5, out)  # a layout BLAS is not given: numpy does it
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    frozen = C.copy()
    frozen.setflags(write=False)
    with pytest.raises(ValueError):  # never written through behind numpy's back
        blas.gemm_tn(-2.0, A, B, 0.5, frozen)
    np.testing.assert_array_equal(frozen, C)


def test_blas_fails_safe_to_numpy(monkeypatch):
    """The GEMM update uses numpy's own OpenBLAS only when numpy says it has one with 64-bit integers, the
    symbols exist and a small product comes out right; anything else means numpy, never a crash."""
    import ctypes.util

    from nnfit import blas

    assert blas._load(["/nonexistent/libscipy_openblas64_.so"]) == {}
    assert blas._load([ctypes.util.find_library("c")]) == {}  # a library without the symbols
    config = dict(np.__config__.CONFIG)
    monkeypatch.setattr(np.__config__, "CONFIG", {**config, "Build Dependencies": {"blas": {"name": "mkl-sdl"}}})
    assert blas._library_paths() == []
    monkeypatch.setattr(blas, "_gemm", None)
    assert not blas.available(np.float32) and blas._gemm == {}  # looked up on first use, and remembered
    monkeypatch.undo()

    monkeypatch.setattr(blas, "_gemm", None)  # gemm_tn itself looks the library up before its first call
    A, B, C = np.ones((4, 3)), np.ones((4, 2)), np.zeros((3, 2))
    blas.gemm_tn(1.0, A, B, 0.0, C)
    np.testing.assert_array_equal(C, 4.0)
    assert blas._gemm is not None


def test_a_small_weight_decay_is_not_lost_in_float32(tmp_path, monkeypatch):
    """lr * weight_decay = 1e-8 is below float32's resolution at 1: as a GEMM beta it would round to exactly
    1 (no decay at all) and 1e-7 to 1.19e-7. So SGD with weight decay keeps its step outside backprop."""
    from nnfit import blas

    monkeypatch.setattr(blas, "FUSE_MIN_WEIGHTS_PER_LAYER", 0)  # as for a big network
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(64, 6)), rng.integers(0, 3, 64)

    def weights(weight_decay):
        cfg = from_dict({"task": "multiclass", "data": {"train": "-", "target": "y", "valid_fraction": 0},
                         "model": {"hidden": [16, 16]},
                         "train": {"epochs": 3, "batch_size": 8, "optimizer": "sgd", "learning_rate": 0.001,
                                   "weight_decay": weight_decay}})
        return fit(cfg, dataset_from_arrays(cfg, X, y), np.random.default_rng(0)).params.flat

    plain, decayed, more = weights(0.0), weights(1e-5), weights(2.5e-5)
    assert not np.array_equal(decayed, plain) and not np.array_equal(more, decayed)
    assert np.sum(more.astype(np.float64) ** 2) < np.sum(plain.astype(np.float64) ** 2)


def test_cache_gives_the_same_run_and_notices_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd")).assign(
        color=rng.choice(["red", "blue"], 300), y=rng.integers(0, 3, 300))
    write_csv(tmp_path / "d.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "d.csv", "target": "y",
                                                                               "cache": True},
                                                "model": {"hidden": [8]}, "train": {"epochs": 3}})
    assert run_cli("train", config, "--out", "runs/a").exit_code == 0
    entries = list((tmp_path / "runs/.nnfit-cache").iterdir())
    assert len(entries) == 1 and (entries[0] / "train_X.npy").exists()
    assert run_cli("train", config, "--out", "runs/b").exit_code == 0
    assert (tmp_path / "runs/a/model.npz").read_bytes() == (tmp_path / "runs/b/model.npz").read_bytes()
    assert len(list((tmp_path / "runs/.nnfit-cache").iterdir())) == 1  # the second run read the entry
    # a changed file or changed data settings make a new entry
    frame.loc[0, "a"] = 99.0
    write_csv(tmp_path / "d.csv", frame)
    assert run_cli("train", config, "--out", "runs/c").exit_code == 0
    assert run_cli("train", config, "--out", "runs/d", "--set", "data.valid_fraction=0.3").exit_code == 0
    assert len(list((tmp_path / "runs/.nnfit-cache").iterdir())) == 3
    assert (tmp_path / "runs/c/model.npz").read_bytes() != (tmp_path / "runs/a/model.npz").read_bytes()
    summary = json.loads((tmp_path / "runs/b/summary.json").read_text())
    assert summary["timing"]["preprocess"] == 0.0  # read from the cache
    timing = summary["timing"]
    assert set(timing) == {"read", "preprocess", "train", "loop", "evaluate", "write"}
    assert timing["loop"] >= timing["train"] > 0  # the loop adds validation, metrics lines and checkpoints


def test_cache_entry_is_read_and_equals_the_parsed_data(tmp_path):
    from nnfit import cache
    from nnfit.config import load_config
    from nnfit.data import load_training_data

    rng = np.random.default_rng(2)
    write_csv(tmp_path / "d.csv", pd.DataFrame(rng.normal(size=(100, 3)), columns=list("abc")).assign(y=rng.normal(size=100)))
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "d.csv", "target": "y",
                                                                                         "cache": True}}))
    parsed = load_training_data(cfg, np.random.default_rng(0), cache_dir=tmp_path / "cache")
    cached = load_training_data(cfg, np.random.default_rng(0), cache_dir=tmp_path / "cache")
    assert cached.timing["preprocess"] == 0.0 and parsed.timing["preprocess"] > 0.0
    for role in ("train", "valid"):
        for name in ("X", "Y", "target"):
            np.testing.assert_array_equal(getattr(getattr(cached, role), name), getattr(getattr(parsed, role), name))
    assert cached.prep == parsed.prep
    key = next((tmp_path / "cache").iterdir()).name
    assert cache.load(tmp_path / "cache", "0" * 32) is None and cache.load(tmp_path / "cache", key) is not None

    # new bytes with the same size and modification time: the sha256 tells, and the entry is replaced
    csv = tmp_path / "d.csv"
    rewrite_keeping_size_and_mtime(csv)
    changed = load_training_data(cfg, np.random.default_rng(0), cache_dir=tmp_path / "cache")
    assert changed.timing["preprocess"] > 0.0  # parsed again, not read from the entry
    assert changed.train_sha256 != parsed.train_sha256
    assert not np.array_equal(np.sort(changed.train.target), np.sort(parsed.train.target)) or \
        not np.array_equal(changed.train.X, parsed.train.X)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [key]
    again = load_training_data(cfg, np.random.default_rng(0), cache_dir=tmp_path / "cache")
    assert again.timing["preprocess"] == 0.0 and again.train_sha256 == changed.train_sha256


def test_a_damaged_or_unwritable_cache_costs_only_time(tmp_path, monkeypatch):
    import tempfile

    from nnfit import cache
    from nnfit.config import load_config
    from nnfit.data import load_training_data

    rng = np.random.default_rng(5)
    write_csv(tmp_path / "d.csv", pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc")).assign(y=rng.integers(0, 2, 60)))
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "d.csv", "target": "y",
                                                                                     "cache": True}}))
    folder = tmp_path / "cache"
    parsed = load_training_data(cfg, np.random.default_rng(0), cache_dir=folder)
    entry = next(folder.iterdir())
    np.save(entry / "train_X.npy", parsed.train.X[:-1])  # an entry whose arrays no longer fit together
    assert cache.load(folder, entry.name) is None
    again = load_training_data(cfg, np.random.default_rng(0), cache_dir=folder)
    assert again.timing["preprocess"] > 0.0  # parsed again ...
    assert cache.load(folder, entry.name) is not None  # ... and the entry replaced
    np.testing.assert_array_equal(cache.load(folder, entry.name)[0].train.X, parsed.train.X)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)  # a cache folder that cannot be written to
    cfg2 = load_config(write_config(tmp_path / "c2.yaml", {"task": "binary", "data": {"train": "d.csv", "target": "y",
                                                                                       "cache": True, "valid_fraction": 0.3}}))
    data = load_training_data(cfg2, np.random.default_rng(0), cache_dir=folder)
    assert data.timing["preprocess"] > 0.0 and len(list(folder.iterdir())) == 1


def test_cache_keeps_the_most_recently_used_entries(tmp_path, monkeypatch):
    import os
    import time

    from nnfit import cache
    from nnfit.config import load_config
    from nnfit.data import load_training_data

    monkeypatch.setattr(cache, "KEEP", 3)
    rng = np.random.default_rng(6)
    write_csv(tmp_path / "d.csv", pd.DataFrame(rng.normal(size=(40, 2)), columns=list("ab")).assign(y=rng.normal(size=40)))
    folder = tmp_path / "cache"

    def run(seed):  # the seed draws the validation split, so each seed is its own entry
        cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "regression", "train": {"seed": seed},
                                                             "data": {"train": "d.csv", "target": "y", "cache": True}}))
        return load_training_data(cfg, np.random.default_rng(seed), cache_dir=folder)

    for seed in range(3):
        run(seed)
        for entry in folder.iterdir():  # make the order of use unambiguous whatever the clock's resolution
            meta = entry / "meta.json"
            os.utime(meta, (meta.stat().st_atime, meta.stat().st_mtime - 10))
    first = {e.name for e in folder.iterdir()}
    assert len(first) == 3
    time.sleep(0.01)
    assert run(0).timing["preprocess"] == 0.0  # seed 0's entry is used again: now the most recent
    kept_seed0 = [e.name for e in folder.iterdir() if (e / "meta.json").stat().st_mtime > time.time() - 5]
    run(3)  # a fourth entry: the least recently used one (seed 1's) goes
    names = {e.name for e in folder.iterdir()}
    assert len(names) == 3 and set(kept_seed0) <= names
    assert run(0).timing["preprocess"] == 0.0 and run(2).timing["preprocess"] == 0.0


def test_a_process_keeps_prepared_data_in_memory_for_its_next_runs_while_the_files_are_unchanged(tmp_path,
                                                                                                  monkeypatch):
    """A sweep's worker: load_training_data(memory=True) hands the Dataset it prepared to the next call with the
    same files, settings and seed, read-only; a changed file, other settings or another seed are prepared anew."""
    from nnfit import cache
    from nnfit.config import load_config
    from nnfit.data import load_training_data

    monkeypatch.setattr(cache, "_memory", type(cache._memory)())
    monkeypatch.setattr(cache, "RECENT_SECONDS", 0.0)  # the files were just written
    rng = np.random.default_rng(7)
    write_csv(tmp_path / "d.csv", pd.DataFrame(rng.normal(size=(120, 3)), columns=list("abc")).assign(
        y=rng.choice(["no", "yes", "maybe"], 120)))

    def load(seed=0, memory=True, train=None, **data):
        cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "multiclass", "train": {"seed": seed, **(train or {})},
                                                             "data": {"train": "d.csv", "target": "y", **data}}))
        return load_training_data(cfg, np.random.default_rng(seed), memory=memory)

    plain = load(memory=False)
    first = load()
    again = load()
    assert first.timing["preprocess"] > 0.0 and again.timing["preprocess"] == 0.0  # recalled, not parsed
    assert again.train.X is first.train.X and again.prep is first.prep and again.notes == first.notes
    for role in ("train", "valid"):
        for name in ("X", "Y", "target"):
            np.testing.assert_array_equal(getattr(getattr(again, role), name), getattr(getattr(plain, role), name))
            assert not getattr(getattr(again, role), name).flags.writeable  # shared: nobody may write to it
    assert load(memory=False).timing["preprocess"] > 0.0  # only callers that ask use it
    assert load(seed=1).timing["preprocess"] > 0.0  # another seed draws another split
    assert load(valid_fraction=0.3).timing["preprocess"] > 0.0  # other settings
    # early stopping refuses data without validation rows, so data prepared without it is not handed to it
    assert load(train={"early_stopping": {"patience": 3}}).timing["preprocess"] > 0.0
    assert load().timing["preprocess"] == 0.0 and load(seed=1).timing["preprocess"] == 0.0

    old = rewrite_keeping_size_and_mtime(tmp_path / "d.csv")  # new bytes, same size and time: the ctime tells
    changed = load()
    assert changed.timing["preprocess"] > 0.0 and changed.train_sha256 != plain.train_sha256
    (tmp_path / "d.csv").write_text(old)
    assert load().train_sha256 == plain.train_sha256

    monkeypatch.setattr(cache, "RECENT_SECONDS", 1e9)  # a file changed too recently to be told apart: no memory
    assert load().timing["preprocess"] > 0.0 and load().timing["preprocess"] > 0.0
    monkeypatch.setattr(cache, "RECENT_SECONDS", 0.0)
    one = sum(a.nbytes for split in (first.train, first.valid) for a in (split.X, split.Y, split.target))
    monkeypatch.setattr(cache, "MEMORY_BYTES", one * 3 // 2)  # room for one Dataset, not two
    load(seed=2)
    load(seed=3)
    assert load(seed=3).timing["preprocess"] == 0.0 and load(seed=2).timing["preprocess"] > 0.0


def test_a_process_parses_a_file_once_for_all_its_seeds_and_folds(tmp_path, monkeypatch):
    """A sweep over seeds, or with folds: load_training_data(memory=True) parses each file once per process and
    prepares each seed's or fold's split from the parsed frame, to the same arrays as a fresh read."""
    from nnfit import cache, data
    from nnfit.config import load_config

    monkeypatch.setattr(cache, "_memory", type(cache._memory)())
    monkeypatch.setattr(cache, "RECENT_SECONDS", 0.0)  # the files were just written
    rng = np.random.default_rng(8)
    write_csv(tmp_path / "d.csv", pd.DataFrame(rng.normal(size=(90, 3)), columns=list("abc")).assign(
        y=rng.choice(["no", "yes", "maybe"], 90)))
    parsed = []
    real = data.read_files
    monkeypatch.setattr(data, "read_files", lambda *a: parsed.append(a) or real(*a))

    def load(seed, memory, **settings):
        cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "multiclass", "train": {"seed": seed},
                                                             "data": {"train": "d.csv", "target": "y", **settings}}))
        return data.load_training_data(cfg, np.random.default_rng(seed), memory=memory)

    variants = [(seed, {}) for seed in (0, 1, 2)] + [(0, {"folds": 3, "fold": k}) for k in (1, 2, 3)]
    for seed, settings in variants:
        fresh, memo = load(seed, False, **settings), load(seed, True, **settings)
        for role in ("train", "valid"):
            for name in ("X", "Y", "target"):
                np.testing.assert_array_equal(getattr(getattr(memo, role), name), getattr(getattr(fresh, role), name))
        assert memo.notes == fresh.notes and memo.train_sha256 == fresh.train_sha256
    assert len(parsed) == len(variants) + 1  # every fresh read, and the first of the process's own


def test_column_statistics_taken_during_extraction_are_the_training_rows_mean_and_deviation():
    """extract_rows computes the training split's means and deviations while columns are contiguous (in
    groups of 16), over exactly the first stats_rows rows of the order, skipping missing values."""
    from nnfit.preprocess import extract_rows

    rng = np.random.default_rng(3)
    n, p = 1000, 37  # more columns than one group of 16, and a ragged last group
    frame = pd.DataFrame((rng.normal(5, 3, (n, p)) * rng.uniform(0.1, 100, p)).astype(np.float32),
                         columns=[f"c{j}" for j in range(p)])
    order = rng.permutation(n)
    for missing in (False, True):
        if missing:
            frame.iloc[order[5], 20] = np.nan
            frame.iloc[order[900], 3] = np.nan  # outside the statistics' rows
        rows = extract_rows(frame, list(frame.columns), [], None, "x", np.float32, order, stats_rows=800)
        np.testing.assert_array_equal(rows.numeric, frame.to_numpy()[order])
        mean, std, count = rows.stats
        reference = frame.to_numpy(np.float64)[order[:800]]
        np.testing.assert_allclose(mean, np.nanmean(reference, axis=0), rtol=1e-12)
        np.testing.assert_allclose(std, np.nanstd(reference, axis=0), rtol=1e-5)  # float32 deviations
        np.testing.assert_array_equal(count, 800 - np.isnan(reference).sum(axis=0))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_keeps_one_says_whether_phi_of_one_is_one(name):
    one = np.ones((2, 3))
    assert ACTIVATIONS[name].keeps_one == bool(np.all(ACTIVATIONS[name].fn(one) == 1.0))


def test_cache_skips_hashing_a_file_whose_stat_is_unchanged_and_still_notices_a_rewrite(tmp_path, monkeypatch):
    import time
    import types

    from nnfit import cache, csvfiles, data
    from nnfit.config import load_config
    from nnfit.data import load_training_data

    hashed = []
    real_sha256, real_content_sha256 = csvfiles.file_sha256, csvfiles.content_sha256
    monkeypatch.setattr(csvfiles, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    monkeypatch.setattr(csvfiles, "content_sha256", lambda b: hashed.append(b) or real_content_sha256(b))
    if cache._filesystem(os.path.realpath(tmp_path)) not in cache.LOCAL_FILESYSTEMS:
        pytest.skip("the temporary folder is not on a local Linux filesystem: every run hashes")
    rng = np.random.default_rng(7)
    csv = tmp_path / "d.csv"
    write_csv(csv, pd.DataFrame(rng.normal(size=(50, 2)), columns=list("ab")).assign(y=rng.normal(size=50)))
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "d.csv", "target": "y",
                                                                                         "cache": True}}))
    clock = [0.0]  # what the run takes as now: set relative to the file's change time, whatever the machine's speed
    monkeypatch.setattr(data, "time", types.SimpleNamespace(time=lambda: clock[0], perf_counter=time.perf_counter))
    long_after = lambda: csv.stat().st_ctime + 10 * cache.RECENT_SECONDS  # noqa: E731
    just_after = lambda: csv.stat().st_ctime + cache.RECENT_SECONDS / 10  # noqa: E731
    load = lambda: load_training_data(cfg, np.random.default_rng(0), cache_dir=tmp_path / "cache")  # noqa: E731
    clock[0] = long_after()
    first = load()
    assert len(hashed) == 1 and first.timing["preprocess"] > 0.0
    second = load()
    assert len(hashed) == 1 and second.timing["preprocess"] == 0.0  # not read again: the fingerprint matches
    assert second.train_sha256 == first.train_sha256 == real_sha256(str(csv))

    # new bytes, the same size and modification time: the change time differs, so the file is hashed again
    # (it does not match the entry's sha256), then read and parsed, which hashes what was read
    text = rewrite_keeping_size_and_mtime(csv)
    clock[0] = long_after()  # long enough ago that only the change time can tell
    changed = load()
    assert len(hashed) == 3 and changed.timing["preprocess"] > 0.0 and changed.train_sha256 != first.train_sha256
    assert load().timing["preprocess"] == 0.0 and len(hashed) == 3

    # a file changed just before a run is hashed on every run until its stat can be trusted, then remembered
    csv.write_text(text)
    clock[0] = just_after()
    assert load().timing["preprocess"] > 0.0 and len(hashed) == 4  # a new modification time: a new entry
    assert load().timing["preprocess"] == 0.0 and len(hashed) == 5
    clock[0] = long_after()
    assert load().timing["preprocess"] == 0.0 and len(hashed) == 6  # checked again, and now remembered
    assert load().timing["preprocess"] == 0.0 and len(hashed) == 6


def test_a_file_changed_while_it_is_read_is_read_again(tmp_path, monkeypatch):
    """Each file is read once and its sha256 and rows both come from those bytes; a file whose stat changed
    meanwhile is read again, also when the bytes caught mid-rewrite could not be parsed."""
    import hashlib
    import time

    from nnfit import csvfiles
    from nnfit.config import load_config
    from nnfit.data import load_training_data
    from nnfit.errors import DataError

    rng = np.random.default_rng(3)
    csv = tmp_path / "d.csv"
    write_csv(csv, pd.DataFrame(rng.normal(size=(40, 2)), columns=list("ab")).assign(y=rng.normal(size=40)))
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "d.csv", "target": "y",
                                                                                         "valid_fraction": 0}}))
    time.sleep(0.05)  # file times move in clock ticks of a few ms: the rewrites below get times of their own
    real_read, reads = csvfiles.read_file_bytes, []

    def read_then_edit(*args, edits=1, torn=False):
        content = real_read(*args)
        reads.append(1)
        if len(reads) <= edits:
            time.sleep(0.02)
            rewrite_keeping_size_and_mtime(csv)
            return b"" if torn else content  # torn: caught between the truncation and the new bytes
        return content

    monkeypatch.setattr(csvfiles, "read_file_bytes", read_then_edit)
    data = load_training_data(cfg, np.random.default_rng(0))
    assert len(reads) == 2
    assert data.train_sha256 == hashlib.sha256(csv.read_bytes()).hexdigest()
    monkeypatch.setattr(csvfiles, "read_file_bytes", real_read)
    np.testing.assert_array_equal(data.train.X, load_training_data(cfg, np.random.default_rng(0)).train.X)

    reads.clear()
    monkeypatch.setattr(csvfiles, "read_file_bytes", lambda *a: read_then_edit(*a, torn=True))
    data = load_training_data(cfg, np.random.default_rng(0))  # not "file is empty"
    assert len(reads) == 2 and data.train_sha256 == hashlib.sha256(csv.read_bytes()).hexdigest()

    reads.clear()
    monkeypatch.setattr(csvfiles, "read_file_bytes", lambda *a: read_then_edit(*a, edits=99))
    with pytest.raises(DataError, match=r"^data.train: .*d.csv changed while nnfit read it, 3 times in a row; "
                                        r"train again once it is completely written$"):
        load_training_data(cfg, np.random.default_rng(0))
    assert len(reads) == 3

    reads.clear()  # an empty file that nobody is writing is reported at once
    monkeypatch.setattr(csvfiles, "read_file_bytes", real_read)
    csv.write_text("")
    with pytest.raises(DataError, match=r"d.csv: file is empty$"):
        load_training_data(cfg, np.random.default_rng(0))


def test_stat_fingerprints_are_trusted_only_on_local_filesystems(tmp_path, monkeypatch):
    import time

    from nnfit import cache

    csv = tmp_path / "d.csv"
    csv.write_text("a,y\n1,2\n")
    later = time.time() + 10  # long after the last change
    monkeypatch.setattr(cache, "_filesystem", lambda path: "ext4")
    assert cache.fingerprint(str(csv), csv.stat(), later) is not None
    assert cache.fingerprint(str(csv), csv.stat(), time.time()) is None  # changed a moment ago
    for kind in ("nfs", "nfs4", "fuse.sshfs", "cifs", "9p", None):  # ctime not kept by the kernel asking
        monkeypatch.setattr(cache, "_filesystem", lambda path: kind)
        assert cache.fingerprint(str(csv), csv.stat(), later) is None


def test_mount_table_is_read_with_escaped_mount_points(tmp_path, monkeypatch):
    import builtins
    import io

    from nnfit import cache

    table = ("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
             "40 22 0:50 / /mnt/my\\040data rw shared:1 - nfs4 server:/x rw\n"
             "41 22 0:51 / /mnt/myd rw - tmpfs tmpfs rw\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: io.StringIO(table) if f == "/proc/self/mountinfo"
                        else real_open(f, *a, **k))
    assert cache._filesystem("/mnt/my data/train.csv") == "nfs4"
    assert cache._filesystem("/mnt/myd/train.csv") == "tmpfs"
    assert cache._filesystem("/mnt/mydata.csv") == "ext4"
    assert cache._filesystem("/home/u/train.csv") == "ext4"
