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
# **Does `tape.at` take the other branch?** Yes. `tape.at` runs the cell's code again with
# the new values (without touching the notebook's variables), so Python decides the `if`
# again: at $x = -0.5$ the cell computes $-x$, whose derivative is $-1$.

# %%
other_side = _tape.at(x=-0.5)
print(
    f"piece = {float(other_side.values['piece']):g}, d piece/dx = {float(other_side.gradient('piece', 'x')):g}"
)

# %% [markdown]
# The picture: two branches, each with its own derivative, and a jump at $x = 1$ where the
# condition flips. Neither derivative knows about the jump: each describes only the branch
# it was taken on.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


fig, ax = plt.subplots(figsize=(6, 4))
right = np.linspace(1, 2.5, 100)
left = np.linspace(-1.5, 1, 100)
ax.plot(right, right**2, color="tab:blue", linewidth=2.5, label="x > 1: piece = x²")
ax.plot(left, -left, color="tab:orange", linewidth=2.5, label="otherwise: piece = −x")
ax.plot(1, 1, "o", markerfacecolor="white", color="tab:blue")
ax.plot(1, -1, "o", color="tab:orange")
near_two, near_minus_half = np.linspace(1.5, 2.5, 2), np.linspace(-1, 0, 2)
ax.plot(near_two, 4 + 4 * (near_two - 2), "k--", label="tangents: slope 4 at x = 2, −1 at x = −0.5")
ax.plot(near_minus_half, 0.5 - (near_minus_half + 0.5), "k--")
ax.plot([2, -0.5], [4, 0.5], "ko")
ax.set_xlabel("x")
ax.set_ylabel("piece")
ax.legend(fontsize=8, loc="upper left")
ax.set_title("An if gives two branches; the derivative is the taken branch's")
show(fig)

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** `product(x, 3)` at $x = 2$: what is its value and its derivative?

# %%
# %%tape
three_steps = product(x, 3)

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Steps 0, 1, 2: only step 2 multiplies, so it computes $x$: value 2,
# derivative 1.

# %% [markdown]
# **2.** How many multiplications does `--show-tape` list for `product(x, 6)`?

# %%
# %%tape --show-tape
six_steps = product(x, 6)

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Three, one for each of steps 2, 3 and 4.

# %% [markdown]
# **3.** The `if` cell above at exactly $x = 1$: which branch, and which derivative?

# %%
print(float(_tape.at(x=1.0).gradient("six_steps", "x")))
print(float(other_side.at(x=1.0).gradient("piece", "x")))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** `x > 1` is false at 1, so the cell takes the `else` branch, $-x$: derivative
# $-1$ (the second line). The first line is a reminder that `_tape` is now the tape of the
# last `%%tape` cell, `product(x, 6)`, whose derivative $3x^2$ is 3 at $x = 1$.

# %% [markdown]
# Next: [5. Checking and compiling](05-checking-and-compiling.ipynb).
