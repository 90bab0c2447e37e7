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
# # 2. Many targets and reuse
#
# A TensorFlow `GradientTape` can answer one `gradient` call unless it is created with
# `persistent=True`. A gradmagic tape has no such limit: record once, then ask as many
# questions as you like, at the recorded point or at others.
#
# Let $x = 3$, $y = x^2$ and $z = y^2 = x^4$. Then $dz/dx = 4x^3 = 108$ and $dy/dx = 2x = 6$.

# %%
# %load_ext gradmagic
import jax
import jax.numpy as jnp

x = 3.0

# %%
# %%tape --name chain
y = x**2
z = y**2

# %%
chain.gradient("z", "x"), chain.gradient("y", "x"), chain.gradient("z", "x")

# %% [markdown]
# ## Several targets at once
#
# Give `gradient` a list of targets and their gradients add up, as in TensorFlow. With
# $z_1 = 3x$ and $z_2 = x^2$ at $x = 5$ that is $3 + 10 = 13$. Targets can be named, or be
# the values the cell produced.

# %%
x = 5.0

# %%
# %%tape --name pair
z1 = 3 * x
z2 = x**2

# %%
pair.gradient(["z1", "z2"], "x"), pair.gradient([z1, z2], "x")

# %% [markdown]
# ## The answer has the shape of the question
#
# Ask with one name and you get one value; ask with a list or a tuple and you get a list
# or a tuple, in the same order. Here with $g(x_1, x_2) = (x_1 + 5)\,x_2^2$ at $(2, 3)$
# (`--quiet` stores the tape without showing it). The tape also tells you what it
# recorded: `inputs`, `targets` and `values`.

# %%
x1 = 2.0
x2 = 3.0

# %%
# %%tape --quiet --name gt
g = (x1 + 5) * x2**2

# %%
print(gt.gradient("g", "x1"))
print(gt.gradient("g", ["x1", "x2"]))
print(gt.gradient("g", ("x1", "x2")))
print(gt.inputs, gt.targets, gt.values)

# %% [markdown]
# ## Other points, and a plain function
#
# `tape.at(...)` re-evaluates the recorded computation at new input values; inputs you do
# not mention keep their recorded values. The notebook's `x1` and `x2` are not touched.

# %%
gt.at(x1=0.0, x2=1.0)

# %% [markdown]
# `tape.function` is the cell as a pure function of its inputs, in `tape.inputs` order. It
# is an ordinary JAX function, so the usual transformations apply: `jax.jit` compiles it,
# `jax.vmap` evaluates it on a whole batch of points, and `jax.grad` differentiates it.

# %%
g_of = gt.function
g_of(2.0, 3.0), jax.jit(g_of)(2.0, 3.0)

# %%
jax.vmap(g_of)(jnp.array([0.0, 1.0, 2.0]), jnp.array([1.0, 2.0, 3.0]))

# %%
jax.grad(g_of, argnums=(0, 1))(2.0, 3.0)

# %% [markdown]
# ## Jacobians: vector targets
#
# When a target is an array, its derivative with respect to an array input is a matrix,
# the *Jacobian*: row $i$, column $j$ holds $\partial y_i / \partial x_j$. `tape.jacobian`
# gives it. For $w = v^2$ entry by entry, each $w_i$ depends only on $v_i$, so the
# Jacobian is diagonal with $2 v_i$ on the diagonal; for the sum $s = \sum_i w_i$ it is
# a single row, the gradient $2v$.

# %%
v = jnp.array([1.0, 2.0, 3.0])

# %%
# %%tape --quiet --name squares
w = v**2
s = jnp.sum(w)

# %%
print(squares.jacobian("w", "v"))
print(squares.jacobian("s", "v"))

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** With $z_1 = 3x$ and $z_2 = x^2$ at $x = 5$ (the `pair` tape), what is the gradient
# of the list `["z1", "z2"]` at $x = -1$?

# %%
pair.at(x=-1.0).gradient(["z1", "z2"], "x")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $3 + 2x = 3 - 2 = 1$.

# %% [markdown]
# **2.** The Jacobian of `w = v * v[::-1]` (each entry times its mirror) at
# $v = (1, 2, 3)$: which entries are non-zero?

# %%
# %%tape --quiet --name mirror
w = v * v[::-1]

# %%
print(mirror.jacobian("w", "v"))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $w = (v_1 v_3,\ v_2^2,\ v_3 v_1)$: row 1 is $(v_3, 0, v_1) = (3, 0, 1)$, row 2
# is $(0, 2 v_2, 0) = (0, 4, 0)$, row 3 is $(3, 0, 1)$: both diagonals.

# %% [markdown]
# **3.** `jax.vmap(g_of)` evaluated $g$ at three points at once. What does
# `jax.vmap(jax.grad(g_of))` return for $x_1 = (0, 1, 2)$, $x_2 = (1, 2, 3)$?

# %%
jax.vmap(jax.grad(g_of))(jnp.array([0.0, 1.0, 2.0]), jnp.array([1.0, 2.0, 3.0]))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\partial g/\partial x_1 = x_2^2$ at each point: $(1, 4, 9)$.
# (`jax.grad` differentiates with respect to the first argument unless told otherwise.)

# %% [markdown]
# Next: [3. Higher order and Hessians](03-higher-order-and-hessians.ipynb).
