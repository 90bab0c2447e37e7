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
# # 11. Comparing optimizers fairly
#
# "Adam beats SGD" or "momentum beats Adam": claims like these are easy to make and easy
# to get wrong, because each optimizer has its own best learning rate. Compare them all at
# one learning rate and you mostly measure which one that rate happens to suit. This
# notebook compares them fairly: every optimizer gets its own tuned setting, every start
# point gets its say, and the result is a picture you can replay in a browser with no
# kernel behind it.
#
# gradmagic can do this from one line because it runs hundreds of settings at once, in one
# vectorised compiled program per optimizer. Four significant digits are plenty here.

# %%
# %load_ext gradmagic
# %gradmagic precision=4

from gradmagic.functions import himmelblau, ill_conditioned, rosenbrock

# %% [markdown]
# ## The test functions
#
# `gradmagic.functions` holds the classic landscapes of optimisation papers, each with its
# documented minima and a default box to plot: `rosenbrock` (a curved, flat-bottomed
# valley), `beale`, `himmelblau` (four minima), `rastrigin` (a sea of local minima),
# `booth`, `styblinski_tang`, `three_hump_camel`, `saddle` ($x^2 - y^2$) and
# `ill_conditioned` (a tilted quadratic bowl with the condition number you choose).

# %%
print("Rosenbrock's minimum:", rosenbrock.minima, "box:", rosenbrock.box)
print("Himmelblau's minima:", himmelblau.minima)
print("f at each:", [float(himmelblau(*m)) for m in himmelblau.minima])

# %% [markdown]
# ## One learning rate for all: not a fair race
#
# Rosenbrock from $(-1, 1.5)$, 1000 steps, each optimizer at lr 0.001:

# %%
x = -1.0
y = 1.5
# %minimize rosenbrock(x, y) --wrt x,y --compare sgd,momentum,adam --lr 0.001 --steps 1000

# %% [markdown]
# Momentum wins, SGD is half-way down the valley and Adam has hardly moved. Does that make
# Adam the worst? No: 0.001 is a tiny step for Adam, whose steps are about the learning
# rate whatever the size of the gradient, while SGD's and momentum's steps are the
# learning rate *times* a gradient that is large on this steep valley. Change the learning
# rate and the ranking changes. So let each optimizer find its own.
#
# ## A tuned comparison
#
# `--tune` runs each optimizer over 24 learning rates from $10^{-4}$ to 10 (log-spaced)
# and, where it has one, over momentum (or Adam's $\beta_1$) in $\{0, 0.5, 0.9, 0.99\}$: 24
# runs for SGD, 96 for momentum and for Adam, each optimizer's runs in one compiled
# program. The best setting is the one with the lowest final objective (or, with `--tol`,
# the fewest steps to get there); a run that diverged never wins, and the table says how
# many did.

# %%
# %minimize rosenbrock(x, y) --wrt x,y --compare sgd,momentum,adam --tune --steps 1000

# %% [markdown]
# The heat maps show the final objective over the whole grid for each optimizer (hatched
# grey: diverged): a fair comparison reports the best *cell* of each map, but the maps also
# tell how forgiving each optimizer is. SGD and momentum do best just below the learning
# rate where they start to diverge, and every larger rate diverges; Adam never diverges on
# this grid and has a broad good region around lr 0.3 with $\beta_1 = 0.9$. Tuned, Adam
# ends lowest after 1000 steps, the reverse of the untuned race above. Below the maps, the
# tuned runs' loss curves and paths.
#
# The notebook's `x` and `y` are unchanged by all of this:

# %%
print(x, y)

# %% [markdown]
# ## Where you start decides where you end
#
# Himmelblau's function has four minima of value 0. Which one gradient descent finds
# depends on where it starts. `--starts grid:8` runs from an 8 × 8 grid of starts over the
# function's box (`--starts 64` would draw 64 at random, seeded by `--seed`), all in one
# vectorised program, and colours each path by the minimum it reaches:

# %%
x = 0.0
y = 0.0
# %minimize himmelblau(x, y) --wrt x,y --starts grid:8 --optimizer adam --lr 0.05 --tol 1e-4

# %% [markdown]
# The four basins of attraction are visible at a glance: the regions of start points that
# lead to each minimum. Their borders follow the ridges between the minima.
#
# ## Watching one run
#
# `--animate` draws the path and the loss curve step by step as an animation that plays in
# the saved notebook and in its HTML export, with no kernel; `--save run.gif` (or `.html`)
# writes it to a file too. Adam on Rosenbrock, the first 60 steps:

# %%
x = -1.0
y = 1.5
# %minimize rosenbrock(x, y) --wrt x,y --optimizer adam --lr 0.3 --steps 60 --animate

# %% [markdown]
# ## A panel that needs no kernel
#
# Notebook 8's live panel runs in the kernel. `--widgets --static` computes a grid of
# learning rates for four optimizers up front and embeds them, so its slider and menu work
# in an HTML export opened from disk. Here on a bowl with condition number 10: SGD's
# stability bound (the ▲) sits at $2/\lambda_{\max}$.

# %%
bowl = ill_conditioned(condition=10)
x = 1.0
y = 1.0
# %minimize bowl(x, y) --wrt x,y --lr 0.05 --steps 100 --widgets --static

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** On the round bowl $x^2 + y^2$ (condition number 1), which SGD learning rate should
# `--tune` pick with `--tol 1e-6`?

# %%
x = 1.0
y = 1.0
# %minimize x**2 + y**2 --wrt x,y --tune --tol 1e-6 --steps 200 --quiet
print(f"best lr {_min.best['sgd'].lr:.4g} in {_min.best['sgd'].steps} steps")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** The grid value nearest 0.5, here 0.4962: with
# $\lambda_{\min} = \lambda_{\max} = 2$ the best step $2/(\lambda_{\min} + \lambda_{\max}) =
# 0.5$ would land on the minimum in one step; at 0.4962 each step multiplies the error by
# $1 - 2 \cdot 0.4962 = 0.0076$, so four steps reach the tolerance.

# %% [markdown]
# **2.** With `--starts 64` instead of the grid on Himmelblau, will every minimum still be
# found?

# %%
x = 0.0
y = 0.0
# %minimize himmelblau(x, y) --wrt x,y --starts 64 --seed 0 --optimizer adam --lr 0.05 --tol 1e-4 --quiet
print(f"{len(_min.found.minima)} minima found by {len(_min.runs.final)} random starts")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Almost surely: each basin covers roughly a quarter of the box, so the chance
# that 64 uniform starts miss one is about $4 \cdot (3/4)^{64} \approx 4 \cdot 10^{-8}$.

# %% [markdown]
# **3.** Tune SGD and momentum on a bowl with condition number 100. How many times fewer
# steps does tuned momentum need to reach `--tol 1e-6`?

# %%
steep = ill_conditioned(condition=100)
x = 1.0
y = 1.0
# %minimize steep(x, y) --wrt x,y --compare sgd,momentum --tune --tol 1e-6 --steps 2000 --quiet
for best in _min.best.values():
    print(f"{best.settings_text()}: {best.steps} steps")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** About 3.5 times fewer on this grid. In theory SGD's error shrinks per step by
# $(\kappa - 1)/(\kappa + 1) \approx 0.98$ at its best step and perfectly tuned momentum's
# by $(\sqrt{\kappa} - 1)/(\sqrt{\kappa} + 1) \approx 0.82$, about ten times fewer steps
# ($\log 0.98 / \log 0.82 \approx 0.1$). But the ideal momentum is
# $0.82^2 \approx 0.67$, and the grid only offers 0.5 and 0.9: a coarse grid leaves speed on
# the table. Try `--tune-grid` with more learning rates, or the live panel's "best step".

# %% [markdown]
# Next: [12. Inside the tape](12-inside-the-tape.ipynb).
