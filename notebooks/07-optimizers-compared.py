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
# - **momentum**: keeps a running sum of past gradients, so consistent directions speed up
#   and back-and-forth directions cancel out;
# - **adam** and **rmsprop**: divide each variable's step by a running average of its own
#   gradient size, so every variable moves at roughly the learning rate per step;
# - **adagrad**: like rmsprop, but divides by the sum of *all* past squared gradients, so its
#   steps keep shrinking.
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
# move both variables by about the learning rate per step whatever the gradient, so they
# head along the diagonal and then hover around the minimum. Rmsprop even dives almost to
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
# this valley needs; notebook 8 tunes it). The per-variable methods do not care that one
# direction is steeper: they rescale each variable on its own, and here rmsprop goes all
# the way to the bottom. Adagrad's ever-shrinking steps leave it far behind at this
# learning rate.
#
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
# Next: [8. Optimizer lab](08-optimizer-lab.ipynb), where you move the learning rate with a
# slider and watch.
