"""The worked example: one row through a 3-2-1 (3-2-3) ReLU network, computed independently with PyTorch
autograd in float64 and rounded to 6 decimals. Catches wrong conventions (a stray 1/2 in the MSE, a sign,
a transposed weight) that a test comparing the implementation with itself cannot."""

import numpy as np
import pytest

from nnfit.activations import ACTIVATIONS, OUTPUTS
from nnfit.losses import LOSSES, batch_loss_and_grad
from nnfit.network import Params, backward, forward
from nnfit.optimizers import SGD

X = np.array([[0.6, 0.8, 0.7]])
W1 = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]])
B1 = np.array([0.1, 0.1])

CASES = {
    "binary": dict(
        loss="binary_cross_entropy", y=np.array([[0.0]]),  # the lecture's y = -1 is class 0 here
        W2=[[0.1], [0.2]], b2=[1.0],
        output=[0.75676], value=1.413709,
        gW1=[[0.045406, 0.090811], [0.060541, 0.121082], [0.052973, 0.105946]], gb1=[0.075676, 0.151352],
        gW2=[[0.56757], [0.227028]], gb2=[0.75676],
        W1_after=[[0.095459, 0.190919], [0.293946, 0.087892], [0.494703, -0.010595]],
        b2_after=[0.924324], output_after=[0.73154]),
    "regression": dict(
        loss="mse", y=np.array([[0.5]]),
        W2=[[0.1], [0.2]], b2=[1.0],
        output=[1.135], value=0.403225,
        gW1=[[0.0762, 0.1524], [0.1016, 0.2032], [0.0889, 0.1778]], gb1=[0.127, 0.254],
        gW2=[[0.9525], [0.381]], gb2=[1.27],
        W1_after=[[0.09238, 0.18476], [0.28984, 0.07968], [0.49111, -0.01778]],
        b2_after=[0.873], output_after=[0.914743]),
    "multiclass": dict(
        loss="cross_entropy", y=np.array([[0.0, 0.0, 1.0]]),  # true class index 2
        W2=[[0.1, -0.2, 0.3], [0.2, 0.0, -0.1]], b2=[1.0, 0.0, -1.0],
        output=[0.70405, 0.194776, 0.101175], value=2.290907,
        gW1=[[-0.142919, 0.138415], [-0.190558, 0.184554], [-0.166738, 0.161485]], gb1=[-0.238198, 0.230692],
        gW2=[[0.528037, 0.146082, -0.674119], [0.211215, 0.058433, -0.269648]], gb2=[0.70405, 0.194776, -0.898825],
        W1_after=[[0.114292, 0.186158], [0.319056, 0.081545], [0.516674, -0.016148]],
        b2_after=[0.929595, -0.019478, -0.910117], output_after=[0.669737, 0.200563, 0.1297]),
}


def network(case):
    k = len(case["b2"])
    params = Params([3, 2, k], np.float64)
    params.W[0][...], params.b[0][...] = W1, B1
    params.W[1][...], params.b[1][...] = case["W2"], case["b2"]
    return params


@pytest.mark.parametrize("task", CASES)
def test_worked_example(task):
    case, relu = CASES[task], ACTIVATIONS["relu"]
    params = network(case)
    z, hs = forward(params, X, relu)
    np.testing.assert_allclose(hs[0], [[0.75, 0.3]], atol=1e-12)
    np.testing.assert_allclose(OUTPUTS[task](z)[0], case["output"], atol=1e-6)

    loss_sum, dz = batch_loss_and_grad(LOSSES[case["loss"]], z, case["y"])
    assert loss_sum == pytest.approx(case["value"], abs=1e-6)
    grads = backward(params, X, hs, dz, relu, Params(params.sizes, np.float64))
    np.testing.assert_allclose(grads.W[0], case["gW1"], atol=1e-6)
    np.testing.assert_allclose(grads.b[0], case["gb1"], atol=1e-6)
    np.testing.assert_allclose(grads.W[1], case["gW2"], atol=1e-6)
    np.testing.assert_allclose(grads.b[1], case["gb2"], atol=1e-6)

    sgd = SGD(params.flat.size, np.float64, learning_rate=0.1)
    sgd.step(params.flat, sgd.grad_scale * grads.flat)  # the training loop hands over grad_scale * dL/dp
    np.testing.assert_allclose(params.W[0], case["W1_after"], atol=1e-6)
    np.testing.assert_allclose(params.b[1], case["b2_after"], atol=1e-6)
    z_after, _ = forward(params, X, relu)
    np.testing.assert_allclose(OUTPUTS[task](z_after)[0], case["output_after"], atol=1e-6)
