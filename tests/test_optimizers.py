"""One step of each optimizer against its textbook formula, computed here in plain float64."""

import numpy as np
import pytest

from nnfit.optimizers import SGD, Adam, Momentum

rng = np.random.default_rng(0)
P0 = rng.normal(size=20)
G1, G2, G3 = rng.normal(size=20), rng.normal(size=20), rng.normal(size=20)


def run(opt, grads):
    """Steps from the gradients dL/dp, which the training loop hands over multiplied by grad_scale."""
    p = P0.copy()
    for g in grads:
        opt.step(p, opt.grad_scale * g)
    return p


def test_sgd_step():
    np.testing.assert_allclose(run(SGD(20, np.float64, learning_rate=0.1), [G1]), P0 - 0.1 * G1, rtol=1e-15)


def test_momentum_steps():
    lr, mu = 0.1, 0.9
    v1 = -lr * G1
    v2 = mu * v1 - lr * G2
    p = run(Momentum(20, np.float64, learning_rate=lr, momentum=mu), [G1, G2])
    np.testing.assert_allclose(p, P0 + v1 + v2, rtol=1e-14)


def test_adam_steps_with_bias_correction():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p, m, v = P0.copy(), np.zeros(20), np.zeros(20)
    for t, g in enumerate([G1, G2, G3], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(run(Adam(20, np.float64, learning_rate=lr), [G1, G2, G3]), p, rtol=1e-13)
    # the first step of Adam moves every coordinate by about lr, whatever the gradient's scale
    first = run(Adam(20, np.float64, learning_rate=lr), [1000 * G1])
    np.testing.assert_allclose(np.abs(first - P0), lr, rtol=1e-6)


def test_weight_decay_is_l2_on_weights_only():
    mask = np.r_[np.ones(15), np.zeros(5)]  # 15 weights, 5 biases
    p = run(SGD(20, np.float64, learning_rate=0.1, weight_decay=0.5, decay_mask=mask), [G1])
    np.testing.assert_allclose(p, P0 - 0.1 * (G1 + 0.5 * mask * P0), rtol=1e-14)


@pytest.mark.parametrize("cls", [SGD, Momentum, Adam])
def test_float32_state_stays_float32(cls):
    p = P0.astype(np.float32)
    opt = cls(20, np.float32, learning_rate=0.1, weight_decay=0.1)
    opt.step(p, opt.grad_scale * G1.astype(np.float32))
    assert p.dtype == np.float32 and all(a.dtype == np.float32 for a in opt.state().values())


def textbook(name, grads, lr, decay, mask, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """The update rules with the L2 penalty's gradient decay * W added to each gradient, in plain float64."""
    p, v, m = P0.copy(), np.zeros(20), np.zeros(20)
    for t, g in enumerate(grads, start=1):
        g = g + decay * mask * p
        if name == "sgd":
            p = p - lr * g
        elif name == "momentum":
            v = mu * v - lr * g
            p = p + v
        else:
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
@pytest.mark.parametrize("name,cls", [("sgd", SGD), ("momentum", Momentum), ("adam", Adam)])
def test_weight_decay_follows_the_textbook_for_every_optimizer(name, cls, dtype, rtol):
    """L2 on the weights only, with each optimizer's own learning-rate factor, in float32 as in float64."""
    mask = np.r_[np.ones(15), np.zeros(5)]  # 15 weights, 5 biases
    lr, decay = 0.05, 0.3
    opt = cls(20, dtype, learning_rate=lr, weight_decay=decay, decay_mask=mask.astype(dtype))
    p = P0.astype(dtype)
    for g in (G1, G2, G3):
        opt.step(p, (opt.grad_scale * g).astype(dtype))
    expected = textbook(name, [G1, G2, G3], lr, decay, mask)
    assert p.dtype == dtype
    np.testing.assert_allclose(p, expected, rtol=rtol, atol=rtol)
    assert not np.allclose(expected, textbook(name, [G1, G2, G3], lr, 0.0, mask), rtol=1e-3)  # the decay shows


def textbook_float32(name, grads, lr, decay, mask, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """The update rules of the docstrings with every array and constant in float32, so every product rounds to
    float32 (g arrives as grad_scale * dL/dp; the decay is folded as grad_scale * weight_decay * mask)."""
    f = np.float32
    p, v, m = P0.astype(f), np.zeros(20, f), np.zeros(20, f)
    scale = f(1.0) if name == "adam" else f(lr)
    folded = mask.astype(f) * f(decay * (1.0 if name == "adam" else lr))
    for t, g in enumerate(grads, start=1):
        g = scale * g.astype(f) + p * folded
        if name == "sgd":
            p = p - g
        elif name == "momentum":
            v = f(mu) * v - g
            p = p + v
        else:
            m = f(b1) * m + g * f(1 - b1)
            v = f(b2) * v + g * g * f(1 - b2)
            p = p - m / (np.sqrt(v * f(1.0 / (1 - b2**t))) + f(eps)) * f(lr / (1 - b1**t))
    assert p.dtype == f
    return p


@pytest.mark.parametrize("masked", [True, False], ids=["weights only", "no mask: every parameter"])
@pytest.mark.parametrize("name,cls", [("sgd", SGD), ("momentum", Momentum), ("adam", Adam)])
def test_float32_steps_are_float32_arithmetic(name, cls, masked):
    """A float32 network is trained in float32 arithmetic, scratch included: the same bits as the rules written
    in float32 (float64 intermediates round differently)."""
    mask = np.r_[np.ones(15), np.zeros(5)] if masked else np.ones(20)
    lr, decay = 0.3, 0.7  # a decay term as large as the gradient's, so that its rounding shows
    grads = [0.3 * G1, 0.3 * G2, 0.3 * G3]
    opt = cls(20, np.float32, learning_rate=lr, weight_decay=decay,
              decay_mask=mask.astype(np.float32) if masked else None)
    p = P0.astype(np.float32)
    for g in grads:
        opt.step(p, np.float32(opt.grad_scale) * g.astype(np.float32))
    np.testing.assert_array_equal(p, textbook_float32(name, grads, lr, decay, mask))


@pytest.mark.parametrize("cls", [SGD, Momentum, Adam])
def test_an_absurd_weight_decay_makes_no_numpy_warnings(cls):
    """A decay that overflows float32 (1e30 * 1e30) gives inf, and 0 * inf on the biases NaN, quietly: the run
    then diverges and says so as a TrainingError, without RuntimeWarnings (here turned into errors)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(20, np.float32, learning_rate=1e30, weight_decay=1e30, decay_mask=np.r_[np.ones(15), np.zeros(5)])
        cls(20, np.float32, learning_rate=1e30, weight_decay=1e300, decay_mask=np.r_[np.ones(15), np.zeros(5)])
