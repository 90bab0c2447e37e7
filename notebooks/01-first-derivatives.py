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
# A derivative is the change of the output divided by a small change of the input. Nudge
# the input by a small step $h$ on both sides and measure:
#
# $$f'(x) \approx \frac{f(x + h) - f(x - h)}{2h}.$$
#
# For $f(x) = 3x^2 + 2x - 1$ the exact answer is $f'(1) = 6 + 2 = 8$:


# %%
def f(x):
    return 3 * x**2 + 2 * x - 1


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
# Close, but not exact, and the result depends on the step. Automatic differentiation
# gives the exact derivative (up to floating-point rounding) with no step to choose:

# %%
# %grad f(x) --wrt x

# %%
# %%tape
result = g(x1, x2)

# %% [markdown]
# ## Unconnected targets
#
# When a target does not depend on an input at all, the derivative is shown as `0*`, the
# star meaning *not connected*. TensorFlow returns `None` in that case (for example for a
# constant it was not told to watch); `--unconnected none` gives you `None` too, in the
# table and from `tape.gradient`:

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
# Next: [2. Many targets and reuse](02-many-targets-and-reuse.ipynb).
