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

x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %%
# %%tape --wrt x --order 2
y = a * x**2 + b * x + c

# %% [markdown]
# For $y = x^3$ at $x = 1$: $3x^2 = 3$, $6x = 6$ and $6$.

# %%
x = 1.0

# %%
# %%tape --order 3
y = x**3

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
# negative and one positive: the surface bends down in one direction and up in another,
# like a saddle. (The gradient is not zero here, so this point is not itself a saddle
# point; the verdict says so.)
#
# For just the matrix, use the `%hessian` one-liner:

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
# ## Seeing it: `--plot`
#
# With one input, `--plot` draws the target around the current point with its tangent
# line; with `--hessian` it adds the quadratic approximation built from the first and
# second derivatives. Here $x^3$ near $x = 1$: the tangent follows the curve only very
# close to the point, the quadratic a little further.

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
# Next: [4. Intermediates and control flow](04-intermediates-and-control-flow.ipynb).
