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
# # Welcome to gradmagic
#
# **gradmagic** lets you see derivatives in a notebook without writing any differentiation
# code. You write an ordinary cell, put `%%tape` on top of it, and gradmagic shows how
# every value the cell computes changes when each number it reads changes. Underneath,
# [JAX](https://jax.readthedocs.io) does the differentiating; on top, you get readable
# tables, Hessians with a plain-English verdict, plots, and a reusable *tape* object.
#
# This series is for anyone who has met derivatives in a maths class and wants to see them
# at work in code: machine-learning students, scientists fitting models, or readers coming
# from TensorFlow's `GradientTape` tutorials.
#
# Everything starts by loading the extension:

# %%
# %load_ext gradmagic

# %% [markdown]
# `%gradmagic` on its own line reports the versions of gradmagic and JAX, the device the
# computations run on, and the current settings. Your output will differ from the one
# saved here (the comment on the first line tells the notebook tester to ignore it).

# %%
# NBVAL_IGNORE_OUTPUT
# %gradmagic

# %% [markdown]
# ## Thirty seconds of gradmagic
#
# Take a rectangle 3 wide and 2 high:

# %%
width = 3.0
height = 2.0

# %% [markdown]
# Now compute its area and perimeter in a cell that starts with `%%tape`:

# %%
# %%tape
area = width * height
perimeter = 2 * (width + height)

# %% [markdown]
# How to read the table:
#
# - each **row** is a value the cell computed (`area`, `perimeter`), with its value;
# - each **column** is a number the cell read (`width`, `height`);
# - each entry is a partial derivative. Making the rectangle a little wider grows the area
#   by 2 (its height) for every unit of width, and grows the perimeter by 2.
#
# The cell itself ran exactly as a normal cell: `area` is now an ordinary Python number.
# The derivatives are kept in a `Tape`, stored as `_tape`, which you can question
# afterwards:

# %%
area, _tape.gradient("area", "width")

# %% [markdown]
# ## The series
#
# Each notebook teaches one idea. Work through them in order, or jump to what you need.
#
# 1. [First derivatives](01-first-derivatives.ipynb): what `%%tape` differentiates, `--wrt`,
#    the `%grad` one-liner, finite differences by hand, and unconnected targets.
# 2. [Many targets and reuse](02-many-targets-and-reuse.ipynb): one tape, many questions;
#    gradients of several targets; `tape.at`, `tape.function` with `jax.jit`, `jax.vmap`
#    and `jax.grad`.
# 3. [Higher order and Hessians](03-higher-order-and-hessians.ipynb): second and third
#    derivatives, Hessians with their eigenvalues and verdicts, and plots.
# 4. [Intermediates and control flow](04-intermediates-and-control-flow.ipynb): arrays,
#    derivatives with respect to intermediate values, loops and `if`, and the recorded
#    operations.
# 5. [Checking and compiling](05-checking-and-compiling.ipynb): comparing with finite
#    differences (`--check`) and compiling with `--jit`.
# 6. [Minimize](06-minimize.ipynb): finding a minimum with `%minimize`.
# 7. [Optimizers compared](07-optimizers-compared.ipynb): SGD, momentum, Adam and friends
#    on the same problem.
# 8. [Optimizer lab](08-optimizer-lab.ipynb): an interactive panel for learning rates and
#    optimizers.
# 9. [From tf.GradientTape](09-from-tf-gradienttape.ipynb): a side-by-side guide for
#    TensorFlow users.
#
# Going deeper, once the basics are familiar:
#
# 10. [Fitting a model](10-fitting-a-model.ipynb): parameters in dicts and lists of layers
#    (pytrees), training on minibatches with `--data`, a model's curvature.
# 11. [Comparing optimizers fairly](11-optimizers-fairly.ipynb): test functions, tuned
#    comparisons, basins from many starts, animations and a panel that needs no kernel.
# 12. [Inside the tape](12-inside-the-tape.ipynb): the chain rule by hand on a drawn
#    graph, forward and reverse passes, and why one reverse pass gives every partial.
# 13. [When numbers lie](13-when-numbers-lie.ipynb): float32 spacing, stalls on tiny
#    numbers, float64, finite-difference errors, kinks and the `jnp.where` NaN trap.
#
# Each notebook ends with **Your turn**: a few questions to answer before running a cell,
# with the answer in a collapsed cell (click it to open).
#
# Every magic has a help page: run `%%tape?`, `%grad?` or `%hessian?` in a cell.

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** If the rectangle were 4 wide instead of 3, how fast would its area grow with its
# height?

# %%
_tape.at(width=4.0).gradient("area", "height")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\partial(\text{width} \cdot \text{height})/\partial\,\text{height} =
# \text{width} = 4$. `tape.at` re-evaluates the recorded cell at the new width; the
# notebook's `width` is still 3.

# %% [markdown]
# **2.** What is $\partial\,\text{perimeter}/\partial\,\text{height}$, and does it depend
# on the size of the rectangle?

# %%
(
    _tape.gradient("perimeter", "height"),
    _tape.at(width=10.0, height=7.0).gradient("perimeter", "height"),
)

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** 2, everywhere: the perimeter $2(w + h)$ is linear, so its slope never
# changes.
