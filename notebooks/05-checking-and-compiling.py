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
# Where does the small difference come from? Not from the step being too big: for a
# quadratic, a central difference has no *truncation* error at all (notebook 1's secants
# were parallel to the tangent). It is *rounding*: the cell computes in float32, about 7
# significant digits, and gradmagic's step is $h = \varepsilon^{1/3} \approx 0.0049$ (with
# $\varepsilon = 2^{-23}$ the float32 spacing at 1), so the rounding of $f(1 \pm h)$,
# divided by $2h$, shows in the sixth digit.
#
# On $x^3$ the step does matter. Its central difference is $3x^2 + h^2$: truncation alone
# adds $0.0049^2 \approx 2.4 \cdot 10^{-5}$, a relative error of $8 \cdot 10^{-6}$. That is
# the same size as the rounding error, by design (the step balances the two), so the
# error in the table is their sum, and here they partly cancel.

# %%
# %%tape --check
cube = x**3

# %% [markdown]
# Shrinking $h$ cuts the truncation error ($\propto h^2$) but grows the rounding error
# ($\propto \varepsilon / h$): plotted against $h$ the total error is a V, and its bottom is
# near $h = \varepsilon^{1/3}$, the step gradmagic uses. Here for $x^3$ at $x = 1$, in
# float32 and in float64. (At the far left, float32 cannot tell $1 + h$ from 1 at all, and
# the estimate is 0.)

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


steps = np.logspace(-12, -0.5, 300)
fig, ax = plt.subplots(figsize=(7, 4.2))
for dtype, colour in ((np.float32, "tab:blue"), (np.float64, "tab:orange")):
    one, h = dtype(1), steps.astype(dtype)
    estimate = ((one + h) ** 3 - (one - h) ** 3) / (2 * h)
    error = np.abs(estimate.astype(np.float64) - 3)
    ax.loglog(
        steps, np.maximum(error, 1e-17), ".", markersize=3, color=colour, label=np.dtype(dtype).name
    )
    epsilon = float(np.finfo(dtype).eps)
    ax.axvline(
        epsilon ** (1 / 3),
        color=colour,
        linestyle=":",
        label=f"h = ε^(1/3), {np.dtype(dtype).name}",
    )
ax.loglog(steps, steps**2, "k--", linewidth=1, label="truncation, h²")
ax.set_ylim(1e-17, 10)
ax.set_xlabel("step h")
ax.set_ylabel("|central difference − 3|")
ax.set_title("Finite-difference error of x³ at x = 1: rounding (left) against truncation (right)")
ax.legend(fontsize=8, loc="lower left")
show(fig)

# %% [markdown]
# Where a function has a *kink*, the two methods can genuinely disagree. $|x|$ has no
# derivative at 0: the slope is $-1$ on the left and $1$ on the right. JAX reports the
# slope of one side (1), while the symmetric difference sees $(|h| - |-h|)/2h = 0$, the
# slope of a flat secant that touches neither side:

# %%
grid = np.linspace(-1, 1, 201)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(grid, np.abs(grid), color="black", label="|x|")
ax.plot([-0.5, 0.5], [0.5, 0.5], "o--", color="tab:green", label="central secant, h = 0.5: slope 0")
ax.plot(grid, grid, color="tab:red", linestyle="-.", label="line of JAX's slope at 0: 1")
ax.plot(0, 0, "ko")
ax.set_aspect("equal")
ax.legend(fontsize=8, loc="upper center")
ax.set_title("The kink of |x| at 0")
show(fig)

# %% [markdown]
# gradmagic warns you:

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
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** `--check` on $\sqrt{x}$ at $x = 4$: ok, or a disagreement?

# %%
x = 4.0

# %%
# %%tape --check
root = jnp.sqrt(x)

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** ok: $\sqrt{x}$ is smooth at 4, and the derivative is $1/(2\sqrt{4}) = 0.25$.
# At $x = 0$ it would disagree: the slope is infinite there.

# %% [markdown]
# **2.** In float64 ($\varepsilon \approx 2.2 \cdot 10^{-16}$), which step gives the
# smallest error for a central difference of $x^3$ at 1: $10^{-2}$, $10^{-5}$ or
# $10^{-10}$?

# %%
for step in (1e-2, 1e-5, 1e-10):
    print(f"h = {step:.0e}: error {abs(((1 + step) ** 3 - (1 - step) ** 3) / (2 * step) - 3):.1e}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $10^{-5}$, close to $\varepsilon^{1/3} \approx 6 \cdot 10^{-6}$, the bottom
# of the V. $10^{-2}$ is dominated by truncation ($h^2 = 10^{-4}$), $10^{-10}$ by
# rounding (here $2.5 \cdot 10^{-7}$; it grows like $\varepsilon/h$).

# %% [markdown]
# **3.** A `%%tape --jit` cell with `y = jnp.maximum(x, 0.0) ** 2`: does it compile?

# %%
x = 2.0

# %%
# %%tape --jit
y = jnp.maximum(x, 0.0) ** 2

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Yes: `jnp.maximum` is an array operation, not a Python `if`, so it compiles.
# At $x = 2$, $dy/dx = 2x = 4$.

# %% [markdown]
# This ends the derivative half of the series. Next:
# [6. Minimize](06-minimize.ipynb), where derivatives are put to work finding minima.
