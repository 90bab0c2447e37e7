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
# # 1. First derivatives
#
# Our running example is the parabola
#
# $$y = a x^2 + b x + c \qquad \text{with } a = 1,\; b = -2,\; c = 1,$$
#
# which is $(x - 1)^2$: its lowest point is at $x = 1$. Its slope is $2ax + b$, so at
# $x = 0$ the slope is $-2$. Let's ask gradmagic.

# %%
# %load_ext gradmagic

x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %%
# %%tape
y = a * x**2 + b * x + c

# %% [markdown]
# The row is the target `y` (value 1), the columns are the inputs. Besides $dy/dx = -2$
# you also get the derivatives with respect to the "constants": $dy/da = x^2 = 0$,
# $dy/db = x = 0$ and $dy/dc = 1$. In TensorFlow you would have to *watch* constants for
# that; here every floating-point number the cell reads is an input, in the order the cell
# reads them.
#
# **What counts as an input?** Floats: Python floats and NumPy or JAX floating scalars and
# arrays. Integers, booleans, strings, functions and modules are never inputs; they shape
# the computation but are not differentiated. Below, `power` (an int) and `shifted`
# (a function) do not get a column, but gradmagic still differentiates *through* the
# function:

# %%
power = 2


def shifted(v):
    return v - 1.0


# %%
# %%tape
z = a * shifted(x) ** power

# %% [markdown]
# ## Choosing inputs, and one-liners
#
# `--wrt` (with respect to) picks the columns. For a single expression, the `%grad` line
# magic is quicker: it shows and returns the derivative. The third cell moves to the
# bottom of the parabola, where the slope is zero.

# %%
# %%tape --wrt x
y = a * x**2 + b * x + c

# %%
# %grad a*x**2 + b*x + c --wrt x

# %%
x = 1.0
# %grad a*x**2 + b*x + c --wrt x

# %% [markdown]
# ## The same tape at other points
#
# A tape remembers the computation, so `tape.at(...)` evaluates it at other input values
# without running the cell again (`--name quad` also stores the tape as `quad`). The lists
# below are the derivatives with respect to x, a, b and c.

# %%
# %%tape --wrt x,a,b,c --name quad
y = a * x**2 + b * x + c

# %%
for point in (0.0, 1.0, 10.0):
    grads = quad.at(x=point).gradient("y", ["x", "a", "b", "c"])
    print(f"x = {point:4}:", [float(g) for g in grads])
print("x in the notebook is still", x)


# %% [markdown]
# ## Where the numbers come from: finite differences by hand
#
# A derivative is the limit of a slope between two points. Draw the *secant* line through
# the curve at $x - h$ and $x + h$: its slope,
#
# $$f'(x) \approx \frac{f(x + h) - f(x - h)}{2h},$$
#
# is a *central difference*, and as $h$ shrinks the secant turns into the *tangent*, whose
# slope is the derivative. For $f(x) = 3x^2 + 2x - 1$ the exact answer is
# $f'(1) = 6 + 2 = 8$:


# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


def f(x):
    return 3 * x**2 + 2 * x - 1


grid = np.linspace(-0.2, 2.2, 200)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, curve, name, exact in (
    (axes[0], f, "3x² + 2x − 1", 8.0),
    (axes[1], lambda v: v**3, "x³", 3.0),
):
    ax.plot(grid, curve(grid), color="black", label=name)
    for step, colour in ((1.0, "tab:orange"), (0.5, "tab:green")):
        slope = (curve(1 + step) - curve(1 - step)) / (2 * step)
        ax.plot(
            grid,
            curve(1 - step) + slope * (grid - 1 + step),
            "--",
            color=colour,
            label=f"secant, h = {step}: slope {slope:g}",
        )
        ax.plot([1 - step, 1 + step], [curve(1 - step), curve(1 + step)], "o", color=colour)
    ax.plot(
        grid, curve(1) + exact * (grid - 1), color="tab:red", label=f"tangent at 1: slope {exact:g}"
    )
    ax.plot(1, curve(1), "ko")
    ax.set_ylim(-5, 20 if exact == 8 else 10)
    ax.set_xlabel("x")
    ax.legend(loc="upper left", fontsize=8)
axes[0].set_title("parabola: secants parallel to the tangent")
axes[1].set_title("cube: secants approach the tangent as h → 0")
show(fig)

# %% [markdown]
# For a parabola every central secant is exactly parallel to the tangent (the $h^2$ terms
# cancel), so in exact arithmetic any $h$ would give 8. For most functions, like $x^3$ on
# the right, the secants only approach the tangent as $h$ shrinks. In code:

# %%
h = 1e-4
(f(1 + h) - f(1 - h)) / (2 * h)


# %% [markdown]
# With two inputs, nudge one at a time. For $g(x_1, x_2) = (x_1 + 5)\,x_2^2$ at
# $(2, 3)$ the exact partials are $x_2^2 = 9$ and $2(x_1 + 5)x_2 = 42$:


# %%
def g(x1, x2):
    return (x1 + 5) * x2**2


x1 = 2.0
x2 = 3.0
dg_dx1 = (g(x1 + h, x2) - g(x1 - h, x2)) / (2 * h)
dg_dx2 = (g(x1, x2 + h) - g(x1, x2 - h)) / (2 * h)
dg_dx1, dg_dx2

# %% [markdown]
# Close, but not exact. Two different errors hide in a finite difference, and it pays to
# tell them apart:
#
# - **truncation**: the secant is not the tangent. For $x^3$ the central difference is
#   $3x^2 + h^2$, so at $h = 10^{-4}$ it is off by $10^{-8}$, and the error shrinks as
#   $h^2$. For our quadratics this error is exactly zero.
# - **rounding**: $f(x + h)$ and $f(x - h)$ are stored with about 16 significant digits,
#   and subtracting two nearly equal numbers loses most of them. This error *grows* as $h$
#   shrinks.
#
# So the $5 \cdot 10^{-12}$ above, and the errors in 9.000000000014552 and
# 42.00000000011528, are pure rounding. The table below shows both kinds: the quadratic's
# error only grows as $h$ shrinks; the cube's first shrinks like $h^2$, then rounding
# takes over.

# %%
for step in (1e-2, 1e-4, 1e-6, 1e-8):
    quadratic_error = (f(1 + step) - f(1 - step)) / (2 * step) - 8
    cube_error = ((1 + step) ** 3 - (1 - step) ** 3) / (2 * step) - 3
    print(
        f"h = {step:.0e}:  3x² + 2x − 1 off by {quadratic_error:+.1e},  x³ off by {cube_error:+.1e}"
    )

# %% [markdown]
# Automatic differentiation has neither error: it applies the rules of calculus to each
# operation, so it gives the exact derivative up to the rounding of the arithmetic itself,
# with no step to choose. `%grad f(x)` reads `x` from the notebook, so set it first:

# %%
x = 1.0
# %grad f(x) --wrt x

# %%
# %%tape
result = g(x1, x2)

# %% [markdown]
# ## Unconnected targets
#
# When a target does not depend on an input at all, the derivative is shown as `0*`, the
# star meaning *not connected*, as the footnote under the table says. Here `side` does not
# use `x1`:

# %%
# %%tape
result = g(x1, x2)
side = x2**2 + 1

# %% [markdown]
# TensorFlow returns `None` in that case (for example for a constant it was not told to
# watch). `--unconnected none` gives you `None` too, in the table and from
# `tape.gradient`. (The footnote still speaks of the star; in this table `None` takes its
# place.)

# %%
# %%tape --unconnected none
result = g(x1, x2)
side = x2**2 + 1

# %%
_tape.gradient("side", ["x1", "x2"])

# %% [markdown]
# ## A few more examples
#
# At $w = 2$: the derivative of $w \cdot w$ is $2w = 4$; the derivative of $e^w$ is $e^w$
# itself, $e^2 \approx 7.389056$; and the derivative of $4^w$ is $\ln 4 \cdot 4^w$, that is
# $16 \ln 4 \approx 22.18071$. Tables round to 6 significant digits;
# `%gradmagic precision=7` shows one more.

# %%
# %gradmagic precision=7
import jax.numpy as jnp

w = 2.0

# %%
# %%tape
square = w * w
growth = jnp.exp(w)
power_of_4 = 4**w

# %% [markdown]
# Back to the default precision, and a two-input loss $L = 2a^2 + 3b^3$ at $a = 2$,
# $b = 3$: $\partial L/\partial a = 4a = 8$ and $\partial L/\partial b = 9b^2 = 81$.
# With several `--wrt` names, `%grad` returns a tuple in the same order. (One-liners also
# know `jax.numpy` functions without an import: `%grad exp(w) --wrt w` works as is.)

# %%
# %gradmagic precision=6
a = 2.0
b = 3.0
# %grad 2*a**2 + 3*b**3 --wrt a,b

# %% [markdown]
# ## Your turn
#
# Predict each answer before you run the cell; the answer is in the collapsed cell below
# it (click it to open).
#
# **1.** $y = a x^2 + b x + c$ with $a = 1$, $b = -2$, $c = 1$. What is $dy/dx$ at
# $x = 3$, and what is $dy/da$ there?

# %%
a, b, c, x = 1.0, -2.0, 1.0, 3.0
# %grad a*x**2 + b*x + c --wrt x,a

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $dy/dx = 2ax + b = 6 - 2 = 4$ and $dy/da = x^2 = 9$.

# %% [markdown]
# **2.** Which columns does this table have? (`n` is an int, `scale` a float.)

# %%
n = 3
scale = 0.5

# %%
# %%tape
total = scale * n**2

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Only `scale`: integers are never inputs. The entry is $n^2 = 9$.

# %% [markdown]
# **3.** The central difference of $x^3$ at $x = 1$ with $h = 10^{-3}$: how far from 3 is
# it, and is that truncation or rounding?

# %%
step = 1e-3
print(f"{((1 + step) ** 3 - (1 - step) ** 3) / (2 * step) - 3:.3e}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** About $h^2 = 10^{-6}$ (printed as 1.000e-06, up to rounding in the last
# digits): truncation, the secant is not yet the tangent.

# %% [markdown]
# Next: [2. Many targets and reuse](02-many-targets-and-reuse.ipynb).
