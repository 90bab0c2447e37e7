# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10. Fitting a model
#
# So far every variable was one number or one array. Real models keep their parameters
# in a *pytree*: a dict of arrays, a list of layers, a NamedTuple, a flax or equinox
# module. JAX differentiates such structures directly, and so does gradmagic: every
# magic takes a name holding a pytree. Its floating leaves are differentiated and
# optimised; every other leaf (an int, a string, a function) is held constant and never
# written.
#
# This notebook fits two models: a straight line with its parameters in a dict, then a
# small neural network that learns to tell two classes apart, trained on minibatches.
# Four significant digits are plenty here.

# %%
# %load_ext gradmagic
# %gradmagic precision=4

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

# %% [markdown]
# ## A line through noisy points
#
# Two hundred points near the plane $y = 3x_1 - 2x_2 + 1$, with a fixed seed so that
# everyone gets the same numbers:

# %%
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 2)).astype(np.float32)
y = (X @ np.array([3.0, -2.0]) + 1.0 + 0.1 * rng.normal(size=200)).astype(np.float32)

params = {"w": np.zeros(2, np.float32), "b": np.float32(0.0), "name": "line"}


def mse(params, X, y):
    """Mean squared error of the linear model X @ w + b."""
    return jnp.mean((X @ params["w"] + params["b"] - y) ** 2)


# %% [markdown]
# The gradient with respect to a dict is a dict with the same keys. The string leaf
# `name` is not a number to differentiate: its entry is `None`, as `jax.grad` would give.

# %%
# %grad mse(params, X, y) --wrt params

# %% [markdown]
# `%%tape` shows one row per leaf, labelled by its path in Python syntax:

# %%
# %%tape --wrt params
loss = mse(params, X, y)

# %% [markdown]
# Adam, 300 steps. The optimum is written back into the dict: the same keys, each leaf
# with the type it had (`w` stays a NumPy array, `b` a NumPy float32, `name` untouched).

# %%
# %minimize mse(params, X, y) --wrt params --optimizer adam --lr 0.1 --steps 300

# %%
print(params)
exact, *_ = np.linalg.lstsq(np.c_[X, np.ones(200)], y, rcond=None)
print("least squares:", np.round(exact, 3))

# %% [markdown]
# The same numbers as NumPy's least-squares solver, to the digits shown: for a straight
# line, the minimum of the mean squared error *is* the least-squares fit.
#
# ## Two classes, and a network to separate them
#
# Now something no straight line can do: points inside a ring belong to class 1, points
# outside it to class 0. 2 048 examples, made with NumPy:

# %%
rng = np.random.default_rng(1)
points = rng.uniform(-2, 2, size=(2048, 2)).astype(np.float32)
labels = (np.hypot(points[:, 0], points[:, 1]) < 1.2).astype(np.float32)
print(f"{len(points)} points, {int(labels.sum())} of them in class 1")

# %% [markdown]
# A multi-layer perceptron with two hidden layers of 16 units, its parameters a list of
# layer dicts (the way many JAX tutorials write them), and the logistic loss, the
# average of $\log(1 + e^{-s \cdot \text{logit}})$ with $s = \pm 1$ the class:


# %%
def init_layers(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {
            "w": (rng.normal(size=(m, n)) / np.sqrt(m)).astype(np.float32),
            "b": np.zeros(n, np.float32),
        }
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def logits(layers, X):
    h = X
    for layer in layers[:-1]:
        h = jnp.tanh(h @ layer["w"] + layer["b"])
    return (h @ layers[-1]["w"] + layers[-1]["b"])[:, 0]


def logistic_loss(layers, X, y):
    return jnp.mean(jax.nn.softplus(-(2 * y - 1) * logits(layers, X)))


def accuracy(layers, X, y):
    return float(jnp.mean((logits(layers, X) > 0) == (y > 0.5)))


layers = init_layers([2, 16, 16, 1])
print(f"{sum(p.size for layer in layers for p in layer.values())} parameters")

# %% [markdown]
# ### How big a step can it take?
#
# Notebook 8 showed that plain gradient descent is stable only for learning rates below
# $2/\lambda_{\max}$, where $\lambda_{\max}$ is the largest eigenvalue of the Hessian.
# For a model there are 337 variables; gradmagic finds the extreme eigenvalues from
# Hessian-vector products, without writing the 337 × 337 matrix down:

# %%
# %%tape --wrt layers --of L --quiet
L = logistic_loss(layers, points, labels)

# %%
curvature = _tape.spectrum("L")
print(f"λmax = {curvature.lambda_max:.3g}, from Hessian-vector products (Lanczos)")
print(f"SGD is stable at the start for lr < 2/λmax = {2 / curvature.lambda_max:.3g}")

# %% [markdown]
# So SGD with a learning rate above that would start by overshooting. The curvature
# changes as the network learns, so this is a guide, not a guarantee.
#
# ### Training on minibatches
#
# `--data points,labels` says that these two arrays hold examples along their first
# axis. Each step then sees only a *minibatch* of `--batch 128` of them: the objective is
# called with the current batch under the same names. Each *epoch* visits every example
# once, in a fresh order drawn from `--seed`; `--epochs 20` runs twenty of them. This is
# where SGD's "stochastic" comes from (notebook 6): each gradient is an estimate from a
# random batch.

# %%
start = init_layers([2, 16, 16, 1])
layers = start
# %minimize logistic_loss(layers, points, labels) --wrt layers --data points,labels --batch 128 --epochs 20 --seed 0 --optimizer adam --lr 0.01

# %% [markdown]
# The loss curve shows the noisy minibatch loss of each step and, as dots, the loss on
# all the data after each epoch (`_min.epoch_loss`). 2 048 = 16 × 128, so no example is
# left out of an epoch.

# %%
trained = layers
print(f"accuracy on the training points: {accuracy(trained, points, labels):.3f}")

# %% [markdown]
# ### The decision boundary
#
# The network's answer over the whole square: where its logit is positive it says
# "class 1". The boundary should look like the circle of radius 1.2.

# %%
grid = np.linspace(-2, 2, 121, dtype=np.float32)
mesh = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
answer = np.asarray(logits(trained, mesh) > 0).reshape(121, 121)
figure, axes = plt.subplots(figsize=(4.2, 4.2))
axes.contourf(grid, grid, answer, levels=[-0.5, 0.5, 1.5], colors=["#dde6f0", "#f3dcc4"])
axes.scatter(*points[labels == 1][:300].T, s=4, color="#c05a00", label="class 1")
axes.scatter(*points[labels == 0][:300].T, s=4, color="#2f5d8a", label="class 0")
axes.add_patch(plt.Circle((0, 0), 1.2, fill=False, linestyle="--", color="black"))
axes.set_aspect("equal")
axes.set_title("decision boundary (dashed: the true circle)")
axes.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# ### Adam against SGD
#
# `--compare` trains a copy from the same start with each optimizer, on the same batches
# (same seed), and leaves `layers` as it is.

# %%
layers = start
# %minimize logistic_loss(layers, points, labels) --wrt layers --data points,labels --batch 128 --epochs 20 --lr 0.01 --compare sgd,adam

# %% [markdown]
# With the same learning rate, SGD has barely started: its steps are the gradient times
# 0.01, and this network's gradients are small. Adam divides each step by a running
# root mean square of the gradient, so its steps are about the learning rate whatever
# the gradient's size (notebook 7). The curvature above says SGD could take steps more
# than a hundred times larger (2/λmax ≈ 1.5) before overshooting at the start: try
# `--lr 1` with `--compare sgd,adam`, and see which one wins then.
#
# ### One layer's gradient
#
# A tape of the trained network shows each leaf's gradient as a summary (shape, norm,
# smallest and largest entries, first values), never hundreds of numbers:

# %%
# %%tape --wrt trained
L = logistic_loss(trained, points, labels)

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** `%grad` of the line's loss with respect to `params`, with `params` at the least
# squares solution: what are the gradient's entries?

# %%
params = {"w": exact[:2].astype(np.float32), "b": np.float32(exact[2]), "name": "line"}
# %grad mse(params, X, y) --wrt params

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** All about 0 (a few times $10^{-7}$, float32 rounding): the least-squares
# solution is where the mean squared error is flat.

# %% [markdown]
# **2.** With `--batch 100` instead of 128, how many examples does each epoch leave out?

# %%
layers = init_layers([2, 16, 16, 1])
# %minimize logistic_loss(layers, points, labels) --wrt layers --data points,labels --batch 100 --epochs 2 --optimizer adam --lr 0.01 --quiet
print(f"{_min.epochs} epochs, {_min.steps} steps")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** 48: $2048 = 20 \cdot 100 + 48$, and the last partial batch is dropped, so
# each epoch has 20 steps (a different 48 are left out each time, since each epoch draws
# a new order).

# %% [markdown]
# **3.** Train twice from the same start with `--seed 0`, then once with `--seed 1`.
# Which runs end at exactly the same parameters?

# %%
finals = []
for seed in (0, 0, 1):  # noqa: B007 (the magic line reads $seed)
    layers = init_layers([2, 16, 16, 1])
    # %minimize logistic_loss(layers, points, labels) --wrt layers --data points,labels --batch 128 --epochs 3 --optimizer adam --lr 0.01 --seed $seed --quiet
    finals.append(np.asarray(layers[0]["w"]))
print("seed 0 twice identical:", np.array_equal(finals[0], finals[1]))
print("seed 1 differs:", not np.array_equal(finals[0], finals[2]))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** The two seed-0 runs, bit for bit: the seed fixes the order of the examples
# in every epoch, and nothing else is random. Seed 1 visits them in other orders, so it
# ends elsewhere (close, but not equal).

# %% [markdown]
# Next: [11. Comparing optimizers fairly](11-optimizers-fairly.ipynb): tuned comparisons,
# many starts, animations and a panel that needs no kernel.
