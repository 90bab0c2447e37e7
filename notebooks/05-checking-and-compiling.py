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
# # 5. Checking and compiling
#
# ## `--check`: compare with finite differences
#
# Automatic differentiation is exact, but it is good to be able to check. `--check` puts a
# central finite-difference estimate (the method from notebook 1) beside each derivative,
# with the relative error. For $f(x) = 3x^2 + 2x - 1$ at $x = 1$:

# %%
# %load_ext gradmagic
import jax.numpy as jnp

x = 1.0

# %%
# %%tape --check
f = 3 * x**2 + 2 * x - 1

# %% [markdown]
# The small difference comes from the finite step, not from autodiff. Where a function has
# a kink, the two methods can genuinely disagree. $|x|$ has no derivative at 0: JAX
# reports the slope of one side (1), while the symmetric difference sees 0. gradmagic
# warns you:

# %%
x = 0.0

# %%
# %%tape --check
v = jnp.abs(x)

# %% [markdown]
# ## `--jit`: compiled derivatives
#
# `--jit` compiles the cell's derivative computation with XLA (the analogue of
# TensorFlow's `tf.function`). Running the cell again with inputs of the same shapes
# reuses the compiled program instead of compiling again. (`%gradmagic jit=on` turns it on
# for every `%%tape` cell.)
#
# The compiled gradient of our parabola at $x = 3$ is $dy/dx = 4$ with $y = 4$:

# %%
a = 1.0
b = -2.0
c = 1.0
x = 3.0

# %%
# %%tape --jit --wrt x --name compiled
y = a * x**2 + b * x + c

# %% [markdown]
# `compiled.at(...)` runs the same compiled computation at other points. Each line shows
# $(dy/dx,\ y)$:

# %%
for point in (3.0, 1.0, 2.0, 0.0):
    at_point = compiled.at(x=point)
    slope = float(at_point.gradient("y", "x"))
    print(f"x = {point}: ({slope:g}, {float(at_point.values['y']):g})")

# %% [markdown]
# ## What changes under compilation
#
# While compiling, JAX traces the cell with placeholder values, so the cell cannot look at
# an input's actual value. A Python `if` on an input therefore cannot be compiled, and
# gradmagic stops with a message that names the line and the fix (this cell is expected to
# fail):

# %%
x = 2.0

# %% tags=["raises-exception"]
# %%tape --jit
if x > 1:
    y = x**2
else:
    y = -x

# %% [markdown]
# The fix: drop `--jit` (notebook 4 showed that plain cells branch freely), or write the
# choice as an array operation. `jnp.where(condition, if_true, if_false)` computes both
# branches and picks one, which compiles fine:

# %%
# %%tape --jit
y = jnp.where(x > 1, x**2, -x)

# %% [markdown]
# This ends the derivative half of the series. Next:
# [6. Minimize](06-minimize.ipynb), where derivatives are put to work finding minima.
