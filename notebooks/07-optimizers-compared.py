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
# # 7. Optimizers compared
#
# Plain gradient descent (SGD) is not the only way down. optax, the optimizer library
# gradmagic uses, offers many others. The ones you meet most often:
#
# - **momentum**: steps along a *decaying sum* of past gradients (each step adds the new
#   gradient to β = 0.9 times the previous sum), so consistent directions speed up and
#   back-and-forth directions cancel out;
# - **rmsprop**: divides each variable's gradient by its *root mean square*, the square
#   root of a running average of that variable's squared gradients. With optax's defaults
#   the average starts at 0 and keeps 10% of each new squared gradient, so the very first
#   step is $\text{lr}/\sqrt{0.1} \approx 3.2 \times \text{lr}$ in every variable;
# - **adam**: the same root-mean-square division, applied to a running average of the
#   gradients themselves (a momentum), with a correction for both averages starting at 0,
#   so its first steps are about the learning rate in every variable;
# - **adagrad**: divides by the square root of the *sum* of all past squared gradients, so
#   its steps keep shrinking.
#
# `--compare` runs the same problem from the same start with each optimizer, draws their
# loss curves and paths together, and tabulates the results. The notebook's variables are
# left as they were. Four significant digits are plenty to compare, so this notebook shows
# numbers with `precision=4`.

# %%
# %load_ext gradmagic
# %gradmagic precision=4

a = 1.0
b = 1.0

# %% [markdown]
# ## A round bowl
#
# $a^2 + 2b^2$ from $(1, 1)$, learning rate 0.1, 100 steps:

# %%
# %minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --steps 100 --compare sgd,momentum,adam,rmsprop,adagrad

# %% [markdown]
# How to read it: the table gives each optimizer's final objective and variables; the
# left plot is the objective per step (on a log scale when it spans many orders of
# magnitude), the right one the paths over the contour lines of the objective.
#
# On a mild bowl with a good learning rate, plain SGD wins by far: each step shrinks $a$
# by a factor 0.8 and $b$ by 0.6. Momentum overshoots and spirals in. Adam and rmsprop
# move both variables by the same amount per step whatever the size of their gradients
# (about lr for Adam, at first about 3.2 lr for rmsprop), so they head along the diagonal
# and then hover around the minimum. Rmsprop even dives almost to
# zero, but as the gradients vanish so does the average it divides by, its steps grow
# too large, and it is thrown back out: the spike in its curve. Adagrad's steps shrink
# as it goes. The results of every run stay available:

# %%
adam = _min.results["adam"]
print(adam.steps, f"{adam.loss:.4g}", {name: f"{value:.4g}" for name, value in adam.values.items()})

# %% [markdown]
# ## A long, narrow valley
#
# $x^2 + 10y^2$ is ten times steeper along $y$ than along $x$ (its Hessian has eigenvalues
# 2 and 20). SGD must keep its learning rate below $2/20 = 0.1$ or the $y$ direction blows
# up (notebook 6), and with such a small rate the shallow $x$ direction creeps. Here is a
# cautious learning rate, 0.02:

# %%
x = 1.0
y = 1.0

# %%
# %minimize x**2 + 10*y**2 --wrt x,y --lr 0.02 --steps 100 --compare sgd,momentum,adam,rmsprop,adagrad

# %% [markdown]
# SGD finished $y$ long ago, but $x$ is still at 0.017. Momentum builds up speed along the
# valley floor and gets five times closer in $x$, but it is still swinging across the
# valley in $y$, so its objective ends about even with SGD's (0.9 is more momentum than
# this valley needs; notebook 8 tunes it). Adagrad's ever-shrinking steps leave it far
# behind at this learning rate.
#
# Rmsprop seems to win: $10^{-17}$ after 100 steps. Look at its path, though: $x = y$ all
# the way. Dividing by each variable's root-mean-square gradient throws away the scale of
# each direction, so both coordinates take identical steps, and the valley's shape plays no
# part. Its dive at step 100 is a coincidence of the diagonal path passing through the
# minimum. Run it longer:

# %%
# %minimize x**2 + 10*y**2 --wrt x,y --optimizer rmsprop --lr 0.02 --steps 1000 --quiet
for step in (50, 100, 150, 200, 1000):
    at_step = {name: float(values[step]) for name, values in _min.path.items()}
    print(f"step {step:4}: x = {at_step['x']:.3g}, y = {at_step['y']:.3g}")

# %% [markdown]
# After the dive it climbs back out, and it settles with $|x| = |y| \approx 0.01$ (the
# objective about 0.001): worse than SGD at step 100, and SGD keeps improving. With a
# fixed learning rate, rmsprop's steps never shrink to zero (the gradient is divided by
# its own size), so it hovers at a distance set by the learning rate. (This run wrote its
# result into `x` and `y`, so the next cell starts again from $(1, 1)$.)
#
# The paths again, with the legend outside the plot so that it hides none of them (Adam's
# path lies under rmsprop's: both run down the diagonal $x = y$):

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


x = 1.0
y = 1.0
# compared = %minimize x**2 + 10*y**2 --wrt x,y --lr 0.02 --steps 100 --compare sgd,momentum,adam,rmsprop,adagrad
fig, ax = plt.subplots(figsize=(8, 4.5))
grid_x, grid_y = np.meshgrid(np.linspace(-0.8, 1.3, 200), np.linspace(-1.1, 1.2, 200))
ax.contour(grid_x, grid_y, grid_x**2 + 10 * grid_y**2, levels=12, colors="lightgrey")
for name, result in compared.results.items():
    ax.plot(result.path["x"], result.path["y"], ".-", markersize=3, linewidth=1, label=name)
ax.plot(1, 1, "ko")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("x² + 10y² from (1, 1), lr 0.02, 100 steps")
fig.tight_layout()
show(fig)

# %% [markdown]
# ## The Rosenbrock banana
#
# $(1 - x)^2 + 100(y - x^2)^2$ has its minimum at $(1, 1)$ at the end of a curved, flat
# valley: a classic test for optimizers. From the usual start $(-1.2, 1)$, with learning
# rate 0.001 and 1000 steps:

# %%
x = -1.2
y = 1.0

# %%
# %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --lr 0.001 --steps 1000 --compare sgd,momentum,adam,rmsprop,adagrad

# %% [markdown]
# Only momentum gets close. SGD follows the valley but slowly; adam and adagrad with such a
# small learning rate have barely left the start. (A larger rate does not simply fix it:
# at 0.01, SGD and momentum diverge within a few steps, because the valley walls are very
# steep.)
#
# ## L-BFGS: using curvature
#
# `--optimizer lbfgs` builds an estimate of the curvature from the last few gradients and
# picks every step length with a line search, so it needs no learning rate (any `--lr` is
# ignored). On the banana it reaches $(1, 1)$ in a few dozen steps:

# %%
# %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs --steps 100 --tol 1e-5 --plot

# %% [markdown]
# ## For SciPy users
#
# If you know `scipy.optimize.minimize`, the result reads the same: `x` (a dict by name
# for several variables), `fun`, `jac` (the gradient at `x`), `nit`, `nfev`, `success`,
# `status` (0 converged, 1 step limit, 2 diverged, 3 interrupted) and `message`, and
# `res["x"]` works as on SciPy's `OptimizeResult`. L-BFGS stops once it has converged, by
# SciPy's rules (`gtol` 1e-5, or the objective no longer decreasing), and says which:

# %%
x, y = -1.2, 1.0
# res = %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs
print(res.message)
print(res.success, res.status, {name: round(float(v), 4) for name, v in res["x"].items()})
print(
    f"fun < 1e-9: {res.fun < 1e-9}, largest |jac| < 1e-4: {max(map(abs, res.jac.values())) < 1e-4}"
)

# %% [markdown]
# SciPy on the same problem, from the same start (`rosen` is this function):

# %%
from scipy.optimize import minimize, rosen, rosen_der

ref = minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="L-BFGS-B")
print(ref.message)
print(ref.success, ref.status, ref.x.round(4))
print(f"fun < 1e-9: {ref.fun < 1e-9}, largest |jac| < 1e-4: {abs(ref.jac).max() < 1e-4}")

# %% [markdown]
# Bounds are `--bounds NAME=LOWER:UPPER` (either end may be left open; a list such as
# `v=[0,0]:[1,2]` bounds each element of an array): every step is projected back into the
# box, for every optimizer. SciPy's `bounds=[(None, 0.5), (0, 2)]` is `--bounds x=:0.5,y=0:2`:

# %%
x, y = -1.2, 1.0
# res = %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs --bounds x=:0.5,y=0:2
ref = minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="L-BFGS-B", bounds=[(None, 0.5), (0, 2)])
print(f"gradmagic: x = {res.x['x']:.4f}, y = {res.x['y']:.4f}, fun = {res.fun:.4f}")
print(f"SciPy:     x = {ref.x[0]:.4f}, y = {ref.x[1]:.4f}, fun = {ref.fun:.4f}")

# %% [markdown]
# `--callback NAME` calls a function of yours with the result so far, as SciPy does with a
# callback whose parameter is named `intermediate_result`; raising `StopIteration` ends the
# run cleanly and keeps its values. gradmagic calls it between compiled chunks of steps
# (256 steps each here; a program's very first chunk is shorter), not after every step:


# %%
def stop_early(result):
    print(f"step {result.nit}: fun = {result.fun:.3g}")
    if result.fun < 1e-3:
        raise StopIteration


x, y = -1.2, 1.0
# %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer adam --lr 0.02 --steps 5000 --callback stop_early

# %% [markdown]
# ## Any optax optimizer
#
# Besides the names above, `--optimizer` (and `--compare`) accept any optax optimizer by
# its optax name, for example `yogi`, `lion`, `nadam` or `radam`. Yogi on the banana:

# %%
x = -1.2
y = 1.0

# %%
# %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer yogi --lr 0.05 --steps 2000

# %% [markdown]
# A misspelt name gets a suggestion and the list of every name gradmagic knows (this cell is
# expected to fail):

# %% tags=["raises-exception"]
# %minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer yogii

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** One Adam step with lr 0.1 on $x^2 + 10y^2$ from $(1, 1)$: where does it go?

# %%
x = 1.0
y = 1.0

# %%
# run = %minimize x**2 + 10*y**2 --wrt x,y --optimizer adam --lr 0.1 --steps 1
print(f"x = {x:.4f}, y = {y:.4f}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $(0.9, 0.9)$: Adam's first step is about lr in every variable, although the
# gradient $(2, 20)$ is ten times steeper in $y$.

# %% [markdown]
# **2.** And one rmsprop step with lr 0.01?

# %%
x = 1.0
y = 1.0

# %%
# run = %minimize x**2 + 10*y**2 --wrt x,y --optimizer rmsprop --lr 0.01 --steps 1
print(f"x = {x:.4f}, y = {y:.4f}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** About $1 - 0.0316 = 0.9684$ in both: $\text{lr}/\sqrt{0.1} \approx 3.2 \times
# \text{lr}$, because the running average of squared gradients starts at 0.

# %% [markdown]
# **3.** SGD on the same valley with lr exactly 0.1, 50 steps: which variable never
# settles?

# %%
x = 1.0
y = 1.0

# %%
# run = %minimize x**2 + 10*y**2 --wrt x,y --lr 0.1 --steps 50
print(f"x = {x:.3g}, y = {y:.3g}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $y$: its factor per step is $1 - 0.1 \cdot 20 = -1$, so it flips between 1
# and $-1$ for ever (after 50 steps it is back at 1), while $x$ shrinks by 0.8 per step.

# %% [markdown]
# Next: [8. Optimizer lab](08-optimizer-lab.ipynb), where you move the learning rate with a
# slider and watch.
