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
# # 6. Minimize
#
# A derivative says which way is uphill, so stepping the other way goes down. Gradient
# descent repeats that small step,
#
# $$x \leftarrow x - \text{lr} \cdot \frac{dy}{dx},$$
#
# until the slope is flat. The learning rate `lr` sets how far each step goes. `%minimize`
# runs this loop for you (with plain gradient descent, called SGD, or any other optax
# optimizer), compiled into one program, and writes the minimum back into your variables.
#
# Back to the parabola $y = x^2 - 2x + 1 = (x - 1)^2$, whose lowest point is $x = 1$:

# %%
# %load_ext gradmagic

x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %% [markdown]
# ## One line
#
# One thousand SGD steps with learning rate 0.01, starting from $x = 0$ (0.01 and 1000 are
# also the defaults). For this section we show 7 significant digits instead of 6.

# %%
# %gradmagic precision=7
# %minimize a*x**2 + b*x + c --wrt x --lr 0.01 --steps 1000

# %% [markdown]
# The table shows where each variable started and ended, and the objective at both ends.
# $x$ reached $0.9999985$ and $y$ is 0 to float32 precision. TensorFlow's tutorials print
# $0.9999986$ for the same run: the two are neighbouring float32 numbers (about
# $6 \cdot 10^{-8}$ apart near 1), and which one a loop lands on depends on how the rounding
# of each update falls (notebook 9 has a step-by-step loop that lands on the other one).
#
# `%minimize` wrote the result back: `x` is now an ordinary Python float at the minimum.

# %%
print(f"x = {x:.7f}, y = {a * x**2 + b * x + c:.7f}")

# %% [markdown]
# ## Four ways to say what to minimise
#
# Everything below starts again from $x = 0$ and lands on the same number.
#
# **A function without arguments** that reads global variables, the way TensorFlow's
# `optimizer.minimize(f, [x])` expects its loss. Give its name; `--wrt` says which of the
# globals it reads may change:

# %%
x = 0.0


def f():
    return a * x**2 + b * x + c


# %%
# %minimize f --wrt x

# %% [markdown]
# **A whole cell** with `%%minimize`: its last expression is the objective (or name a
# variable it assigns with `--of`).

# %%
x = 0.0

# %%
# %%minimize --wrt x
y = a * x**2 + b * x + c
y

# %% [markdown]
# **A target of the last `%%tape`**: record the cell once, then minimise any of its targets
# by name.

# %%
x = 0.0

# %%
# %%tape --quiet
y = a * x**2 + b * x + c

# %%
# %minimize y --wrt x

# %% [markdown]
# Only the variables change: `y` still holds the value the tape cell computed at $x = 0$.
# The objective at the minimum is `_min.loss` (more on `_min` below).

# %%
x, y, _min.loss

# %%
# %gradmagic precision=6

# %% [markdown]
# ## Gradient descent by hand, then in one line
#
# To see that nothing magic happens, here is the loop written out for
# $f(x) = 3x^2 + 2x - 1$, whose minimum is at $f'(x) = 6x + 2 = 0$, so $x = -1/3$:
# 100 steps with learning rate 0.1, each one asking `%grad` for the slope (through
# `get_ipython().run_line_magic`, the call that a `slope = %grad ...` line stands for).

# %%
x = 0.0
for _ in range(100):
    slope = get_ipython().run_line_magic("grad", "3*x**2 + 2*x - 1 --wrt x")
    x = x - 0.1 * slope
print(f"x = {float(x):.7f}")

# %% [markdown]
# The same in one line (with a single floating variable in the expression, `--wrt` can be
# left out):

# %%
x = 0.0

# %%
# %minimize 3*x**2 + 2*x - 1 --lr 0.1 --steps 100

# %% [markdown]
# ## More bowls
#
# $2x^2 + x + 3$ from $x = 1$: the slope $4x + 1$ vanishes at $x = -0.25$, where the
# value is $2.875$.

# %%
x = 1.0

# %%
# %minimize 2*x**2 + x + 3 --lr 0.1

# %% [markdown]
# Two variables: $a^2 + 2b^2$ from $(1, 1)$, learning rate 0.1, 1000 steps. Both go to 0.

# %%
a = 1.0
b = 1.0

# %%
# %minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --steps 1000

# %% [markdown]
# ## What `_min` remembers
#
# Every run is stored as `_min` (and under another name with `--name`): the final
# `values`, the final `loss`, the `steps` run, whether it `converged` (only meaningful
# with `--tol`, below), the optimizer and learning rate, the objective at every step
# (`history`, starting with the objective at the start) and the variables at every step
# (`path`).

# %%
_min.values, _min.loss, _min.steps, _min.converged, _min.optimizer, _min.lr

# %%
print("steps recorded:", len(_min.history))
print("objective:", [round(float(v), 4) for v in _min.history[:5]])
for name, values in _min.path.items():
    print(f"{name}:", [round(float(v), 4) for v in values[:5]])

# %% [markdown]
# Each step multiplies $a$ by $1 - 0.1 \cdot 2 = 0.8$ and $b$ by $1 - 0.1 \cdot 4 = 0.6$:
# the path shows exactly that.
#
# ## Stopping early: `--tol`
#
# A thousand steps is usually more than needed. `--tol` stops as soon as the gradient's
# length falls below the tolerance, and the table says where it stopped:

# %%
x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %%
# %minimize a*x**2 + b*x + c --wrt x --lr 0.1 --tol 1e-3

# %% [markdown]
# ## Seeing the path: `--plot`
#
# Every run draws its loss curve. `--plot` adds the path the variables took: over the
# curve for one variable, over contour lines for two. A larger learning rate makes the
# path interesting: with lr 0.4, $b$ is multiplied by $1 - 0.4 \cdot 4 = -0.6$ each
# step, so it jumps from one side of the valley to the other while it shrinks.

# %%
a = 1.0
b = 1.0

# %%
# %minimize a**2 + 2*b**2 --wrt a,b --lr 0.4 --steps 20 --plot

# %% [markdown]
# ## When the learning rate is too large
#
# On $x^2 + 10y^2$ each SGD step multiplies $y$ by $1 - 20 \cdot \text{lr}$. Above
# $\text{lr} = 0.1$ that factor is below $-1$: $y$ flips sign and grows every step until
# the numbers overflow. gradmagic notices, stops, leaves the variables at their starting
# values, and suggests a learning rate from the curvature at the start (the largest
# eigenvalue of the Hessian, $\lambda_{max} = 20$):

# %%
x = 1.0
y = 1.0

# %%
# %minimize x**2 + 10*y**2 --wrt x,y --lr 0.12

# %%
x, y

# %% [markdown]
# With the suggested learning rate it converges:

# %%
# %minimize x**2 + 10*y**2 --wrt x,y --lr 0.05

# %% [markdown]
# Why $2/\lambda_{max}$, and what else changes with the learning rate, is the subject of
# the interactive [8. Optimizer lab](08-optimizer-lab.ipynb). First,
# [7. Optimizers compared](07-optimizers-compared.ipynb) tries other optimizers than SGD.
