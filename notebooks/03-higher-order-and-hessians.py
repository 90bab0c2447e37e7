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
# # 3. Higher-order derivatives and Hessians
#
# The first derivative is a slope; the second derivative says how the slope changes, that
# is, how the curve bends. In TensorFlow that takes one tape inside another. With
# gradmagic, `--order N` lists every derivative up to order N, and `--hessian` gives the
# matrix of second derivatives for several inputs.
#
# For the parabola $y = x^2 - 2x + 1$ the second derivative is $2$ everywhere:

# %%
# %load_ext gradmagic
import jax.numpy as jnp

x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %%
# %%tape --wrt x --order 2
y = a * x**2 + b * x + c

# %% [markdown]
# How to read the second table: its row $d^n y/dx^n$ is the n-th derivative, and the column
# `n = 2` holds it for $n = 2$: $d^2y/dx^2 = 2$ (the column `n = 1` repeats $dy/dx$).
#
# For $y = x^3$ at $x = 1$: $3x^2 = 3$, $6x = 6$ and $6$.

# %%
x = 1.0

# %%
# %%tape --order 3 --name cube
y = x**3

# %% [markdown]
# The tape answers the same question for one order at a time: `tape.derivative(target,
# source, order=n)`.

# %%
cube.derivative("y", "x", order=2), cube.derivative("y", "x", order=3)

# %% [markdown]
# ## The Hessian and what it says
#
# With several inputs the second derivatives form the *Hessian* matrix. For
# $g(x_1, x_2) = (x_1 + 5)\,x_2^2$ at $(2, 3)$ it is
# $\begin{pmatrix} 0 & 2x_2 \\ 2x_2 & 2(x_1 + 5) \end{pmatrix}
# = \begin{pmatrix} 0 & 6 \\ 6 & 14 \end{pmatrix}$.
#
# The top-left entry is 0 because $g$ is a straight line in the $x_1$ direction.
# TensorFlow's nested tapes report `None` for it (the first derivative $x_2^2$ does not
# depend on $x_1$, so the graph is not connected); gradmagic reports the true value, 0.

# %%
x1 = 2.0
x2 = 3.0

# %%
# %%tape --hessian
g = (x1 + 5) * x2**2

# %% [markdown]
# The eigenvalues of the Hessian tell the shape of the surface near the point. One is
# negative and one positive: along one direction the surface curves down, along another
# it curves up. The verdict says that first, and then that the gradient $(9, 42)$ is not
# zero, so the point is not *stationary*: it is no minimum, maximum or saddle point, just
# a point on a slope. The names minimum, maximum and saddle apply only where the gradient
# vanishes.
#
# The tape keeps the matrix too: `tape.hessian("g")` gives it with respect to every input
# (rows and columns in `tape.inputs` order). For just the matrix, without recording a
# tape, use the `%hessian` one-liner:

# %%
_tape.hessian("g")

# %%
# H = %hessian (x1 + 5) * x2**2 --wrt x1,x2
H

# %% [markdown]
# For contrast, a bowl $(p - 1)^2 + 2(q + 2)^2$ at its lowest point $(1, -2)$: the
# gradient vanishes and both eigenvalues are positive (*positive definite*), so this is a
# local minimum.

# %%
p = 1.0
q = -2.0

# %%
# %%tape --hessian
bowl = (p - 1) ** 2 + 2 * (q + 2) ** 2

# %% [markdown]
# ## The four shapes of a stationary point
#
# Where the gradient vanishes, the eigenvalues decide. Three surfaces, all stationary at
# the origin:
#
# - $u^2 - v^2$, a true **saddle**: up along $u$, down along $v$ (a mountain pass);
# - $-(u^2 + v^2)$, a **maximum**: down in every direction;
# - $u^2 + v^4$, a **degenerate** Hessian: it curves up along $u$, but along $v$ the
#   second derivative is 0 (the surface rises only like $v^4$). The test cannot decide:
#   $u^2 - v^4$ has the same Hessian at the origin and is a saddle.

# %%
u = 0.0
v = 0.0

# %%
# %%tape --hessian
saddle = u**2 - v**2
peak = -(u**2 + v**2)
flat = u**2 + v**4

# %% [markdown]
# And the same saddle away from the origin, at $(1, 0.5)$: the same eigenvalues, but the
# gradient is $(2, -1)$, so the verdict says the point is not stationary.

# %%
u = 1.0
v = 0.5

# %%
# %%tape --hessian
saddle = u**2 - v**2

# %% [markdown]
# ## Seeing it: `--plot`
#
# With one input, `--plot` draws the target around the current point with its tangent
# line; with `--hessian` it adds the quadratic approximation built from the first and
# second derivatives. Here $x^3$ near $x = 1$: the tangent follows the curve only very
# close to the point, the quadratic a little further. The verdict reads "positive
# definite" (the curve bends up here, $6x = 6 > 0$), but $x^3$ has no minimum at all: the
# slope is 3, so this is not a stationary point.

# %%
# %%tape --hessian --plot
y = x**3

# %% [markdown]
# With two inputs, `--plot` draws contour lines and the gradient as a red arrow. The
# arrow points uphill, across the contours, in the direction where $g$ grows fastest.

# %%
# %%tape --plot
g = (x1 + 5) * x2**2

# %% [markdown]
# The gradient is *perpendicular* to the contour line through the point, but you can only
# see a right angle when one unit has the same length on both axes. Here is the same
# picture drawn with equal axes (the arrow is scaled to fit; its direction is what
# matters), beside the saddle $u^2 - v^2$ with gradient arrows at a few points:

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6))
grid1, grid2 = np.meshgrid(np.linspace(0.5, 3.5, 200), np.linspace(1.5, 4.5, 200))
left.contour(grid1, grid2, (grid1 + 5) * grid2**2, levels=15, cmap="viridis")
slope = np.array([9.0, 42.0])
arrow = 0.8 * slope / np.linalg.norm(slope)
left.arrow(2, 3, *arrow, width=0.03, color="red", length_includes_head=True)
left.plot(2, 3, "ko")
left.set_aspect("equal")
left.set_title("(x1 + 5)·x2², gradient at (2, 3)")
left.set_xlabel("x1")
left.set_ylabel("x2")

grid_u, grid_v = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
right.contour(grid_u, grid_v, grid_u**2 - grid_v**2, levels=15, cmap="coolwarm")
for point_u, point_v in ((1.0, 0.5), (-1.0, 1.0), (1.5, -1.2), (-0.5, -1.5)):
    gradient = np.array([2 * point_u, -2 * point_v])
    right.arrow(
        point_u, point_v, *(0.5 * gradient / np.linalg.norm(gradient)), width=0.03, color="red"
    )
    right.plot(point_u, point_v, "ko")
right.plot(0, 0, "k*", markersize=12)
right.set_aspect("equal")
right.set_title("saddle u² − v²: gradients, and the stationary point ★")
right.set_xlabel("u")
right.set_ylabel("v")
show(fig)

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** What is the Hessian of $u v$ at the origin, and what does the verdict say?

# %%
u = 0.0
v = 0.0

# %%
# H = %hessian u * v --wrt u,v
print(np.linalg.eigvalsh(np.array(H)))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\begin{pmatrix} 0 & 1 \\ 1 & 0 \end{pmatrix}$, eigenvalues $-1$ and $1$:
# indefinite, and the gradient $(v, u)$ vanishes at the origin, so it is a saddle (the
# saddle $u^2 - v^2$ turned by 45°). Run `%%tape --hessian` on it to read the verdict.

# %% [markdown]
# **2.** $y = x^4$ at $x = 0$: what are the derivatives of order 1 to 4?

# %%
x = 0.0

# %%
# %%tape --order 4
y = x**4

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $4x^3 = 0$, $12x^2 = 0$, $24x = 0$ and $24$. The second derivative is 0, so
# a Hessian test at 0 would be inconclusive, although 0 is the minimum.

# %% [markdown]
# **3.** $\cos(p) + q^2$ at $(p, q) = (\pi, 0)$: minimum, maximum, saddle, or not
# stationary?

# %%
import math

p = math.pi
q = 0.0

# %%
# %%tape --hessian
wave = jnp.cos(p) + q**2

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** The gradient $(-\sin p, 2q)$ vanishes and the Hessian is
# $\operatorname{diag}(-\cos \pi, 2) = \operatorname{diag}(1, 2)$: positive definite, a
# local minimum (up to float32 rounding of $\sin \pi$).

# %% [markdown]
# Next: [4. Intermediates and control flow](04-intermediates-and-control-flow.ipynb).
