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
# # 4. Intermediate values and control flow
#
# Inputs do not have to be single numbers. Start with a 2×2 array of ones, add up its
# entries ($y = 4$) and square the sum ($z = 16$). Each entry of $x$ adds to $y$ one for
# one, so $\partial z/\partial x_{ij} = 2y = 8$ for every entry.

# %%
# %load_ext gradmagic
import jax.numpy as jnp

x = jnp.ones((2, 2))

# %%
# %%tape
y = jnp.sum(x)
z = y**2

# %% [markdown]
# Array-valued derivatives are shown with their shape and entries.
#
# ## With respect to an intermediate value
#
# `y` is computed inside the cell, yet you can still ask how `z` depends on it: list it in
# `--wrt`. The point line marks it as *intermediate*, and $dz/dy = 2y = 8$.

# %%
# %%tape --wrt x,y
y = jnp.sum(x)
z = y**2


# %% [markdown]
# ## Python control flow just works
#
# The cell runs as ordinary Python, so loops and `if` statements are fine. gradmagic
# differentiates the path the code actually took. The function below multiplies by `x`
# only on steps 2, 3 and 4 of an `n`-step loop:
#
# - with 6 or 5 steps it computes $x^3$, whose derivative at $x = 2$ is $3x^2 = 12$;
# - with 4 steps it stops at $x^2$, whose derivative is $2x = 4$.
#
# `n` is an integer, so it is not an input: it only decides the path.


# %%
def product(x, n):
    result = 1.0
    for step in range(n):
        if step in (2, 3, 4):
            result = result * x
    return result


x = 2.0

# %%
# %%tape
six_steps = product(x, 6)
five_steps = product(x, 5)
four_steps = product(x, 4)

# %% [markdown]
# ## Looking at the tape: `--show-tape`
#
# `--show-tape` lists the operations that were recorded, grouped under the cell line that
# produced them, with the cell's own names (`t1`, `t2`, … are unnamed temporaries). For
# four steps, only two multiplications happened:

# %%
# %%tape --show-tape
four_steps = product(x, 4)

# %% [markdown]
# An `if` on an input's value works too, without any special syntax. The derivative is
# that of the branch taken at this point: at $x = 2$ the cell computes $x^2$, so the
# derivative is $2x = 4$.

# %%
# %%tape
if x > 1:
    piece = x**2
else:
    piece = -x

# %% [markdown]
# Next: [5. Checking and compiling](05-checking-and-compiling.ipynb).
