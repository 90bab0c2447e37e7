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

# %%

# %% [markdown]
# # 12. Inside the tape
#
# How does a tape turn a cell into derivatives? By the **chain rule**, applied to one small
# operation at a time. This notebook does it by hand on a small example, then matches every
# number with what gradmagic records and computes.
#
# The example, at $x_1 = 2$, $x_2 = 3$:
#
# $$u = x_1 x_2, \qquad v = \sin x_1, \qquad z = u + v.$$

# %%
# %load_ext gradmagic
import math

import jax
import jax.numpy as jnp

x1 = 2.0
x2 = 3.0

# %% [markdown]
# ## The recorded operations
#
# `--show-tape` lists what the tape recorded: one line per operation, in the order the cell
# ran them, with the cell's own names.

# %%
# %%tape --show-tape --name graph
u = x1 * x2
v = jnp.sin(x1)
z = u + v

# %% [markdown]
# ## The same thing as a graph
#
# Each operation is a node; an arrow runs from each input of an operation to its result.
# On every arrow we write the **local derivative**: how much the result moves per unit
# move of that input, with everything else held still. These are the only derivatives
# anyone needs to know: those of multiplication, $\sin$ and addition.

# %%
import matplotlib.pyplot as plt
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


nodes = {
    "x1 = 2": (0, 2),
    "x2 = 3": (0, 0),
    "u = x1·x2 = 6": (2.2, 0.6),
    "v = sin x1 = 0.909": (2.4, 2.8),
    "z = u + v = 6.909": (4.4, 1.6),
}
edges = [
    ("x1 = 2", "u = x1·x2 = 6", "∂u/∂x1 = x2 = 3"),
    ("x2 = 3", "u = x1·x2 = 6", "∂u/∂x2 = x1 = 2"),
    ("x1 = 2", "v = sin x1 = 0.909", "∂v/∂x1 = cos x1 = −0.416"),
    ("u = x1·x2 = 6", "z = u + v = 6.909", "∂z/∂u = 1"),
    ("v = sin x1 = 0.909", "z = u + v = 6.909", "∂z/∂v = 1"),
]
fig, ax = plt.subplots(figsize=(9, 4))
for start, end, label in edges:
    (x_start, y_start), (x_end, y_end) = nodes[start], nodes[end]
    ax.annotate(
        "",
        xy=(x_end, y_end),
        xytext=(x_start, y_start),
        arrowprops={"arrowstyle": "-|>", "shrinkA": 28, "shrinkB": 34, "color": "grey"},
    )
    ax.text(
        0.55 * x_start + 0.45 * x_end,
        0.55 * y_start + 0.45 * y_end + 0.12,
        label,
        ha="center",
        fontsize=9,
        color="tab:red",
    )
for name, (x_node, y_node) in nodes.items():
    ax.text(
        x_node,
        y_node,
        name,
        ha="center",
        va="center",
        fontsize=10,
        bbox={"boxstyle": "round", "facecolor": "lightyellow"},
    )
ax.set_xlim(-0.8, 5.2)
ax.set_ylim(-0.5, 3.2)
ax.axis("off")
ax.set_title("The cell as a graph: values in the boxes, local derivatives on the arrows")
show(fig)

# %% [markdown]
# ## The chain rule on the graph
#
# A derivative of $z$ with respect to an input is the sum, over every path from the input
# to $z$, of the product of the local derivatives along the path. $x_1$ reaches $z$ by two
# paths (through $u$ and through $v$), $x_2$ by one:
#
# $$\frac{\partial z}{\partial x_1} = \underbrace{1 \cdot 3}_{\text{via } u} +
# \underbrace{1 \cdot \cos 2}_{\text{via } v} \approx 2.583853, \qquad
# \frac{\partial z}{\partial x_2} = 1 \cdot 2 = 2.$$
#
# There are two ways to organise that sum, and they give the two *modes* of automatic
# differentiation.
#
# ## Forward mode: follow one input forward
#
# Choose one input, say $x_1$, and carry along with every value its derivative with
# respect to that input (its *tangent*, written with a dot). Start with $\dot x_1 = 1$,
# $\dot x_2 = 0$ and apply each operation's rule in the order the tape recorded them:

# %%
dot_x1, dot_x2 = 1.0, 0.0  # seeding x1
dot_u = x2 * dot_x1 + x1 * dot_x2  # product rule for u = x1 * x2
dot_v = math.cos(x1) * dot_x1  # v = sin(x1)
dot_z = dot_u + dot_v  # z = u + v
print(f"forward pass seeded with x1: dz/dx1 = {dot_z:.6f}")

# %% [markdown]
# One forward pass gives the derivatives of *every* target with respect to *one* input.
# For $\partial z/\partial x_2$ we need a second pass, seeded with $\dot x_2 = 1$.
#
# ## Reverse mode: follow one target backward
#
# Now start from the target instead. Give every value an *adjoint* (written with a bar):
# how much $z$ moves per unit move of that value. $\bar z = 1$. Walk the tape **backwards**,
# and at each operation hand the result's adjoint to its inputs, multiplied by the local
# derivative; an input used twice ($x_1$) collects the sum:

# %%
bar_z = 1.0
bar_u = bar_z * 1.0  # z = u + v
bar_v = bar_z * 1.0
bar_x1 = bar_v * math.cos(x1)  # v = sin(x1)
bar_x1 += bar_u * x2  # u = x1 * x2: x1 gets x2 times u's adjoint ...
bar_x2 = bar_u * x1  # ... and x2 gets x1 times it
print(f"one reverse pass: dz/dx1 = {bar_x1:.6f}, dz/dx2 = {bar_x2:.6f}")

# %% [markdown]
# **One reverse pass gave every partial derivative of $z$ at once.** That is why training
# a neural network with millions of parameters costs only a few times one evaluation of
# its loss: the gradient comes from a single backward sweep. (It needs the forward values,
# $x_1$, $x_2$, $\cos x_1$, which is why a tape *records* the forward pass.)
#
# gradmagic agrees with both hand computations. Its table is computed in forward mode (one
# pass per input column, cheap for the few inputs a cell has); `%grad`, `%minimize` and
# `jax.grad` use reverse mode:

# %%
print(
    f"table:    dz/dx1 = {float(graph.gradient('z', 'x1')):.6f}, dz/dx2 = {float(graph.gradient('z', 'x2')):.6f}"
)
z_index = list(graph.targets).index("z")  # the function returns every target: u, v, z
reverse = jax.grad(lambda a, b: graph.function(a, b)[z_index], argnums=(0, 1))(x1, x2)
print(f"jax.grad: dz/dx1 = {float(reverse[0]):.6f}, dz/dx2 = {float(reverse[1]):.6f}")

# %% [markdown]
# ## Counting the work: n + 1 runs against one
#
# Finite differences (notebook 1) nudge one input at a time: with $n$ inputs, forward
# differences need $f(x)$ plus $f(x + h e_i)$ for each $i$, that is $n + 1$ runs of the
# function (central differences, $2n$). Reverse mode runs the function once forward and
# once backward, whatever $n$ is. Counting the Python calls for a function of 1000
# inputs:

# %%
calls = 0


def loss(weights):
    global calls
    calls += 1
    return jnp.sum(jnp.sin(weights) * weights)


weights = jnp.linspace(0.0, 1.0, 1000)

calls = 0
gradient = jax.grad(loss)(weights)
reverse_calls = calls

calls = 0
step = 1e-3
base = loss(weights)
estimate = [(loss(weights.at[i].add(step)) - base) / step for i in range(weights.size)]
largest = max(abs(float(e) - float(g)) for e, g in zip(estimate, gradient, strict=True))
print(
    f"reverse mode: {reverse_calls} call of the Python function for all 1000 partials\n"
    f"forward differences: {calls} calls for the same 1000 partials\n"
    f"largest difference between the two: {largest:.1g}"
)

# %% [markdown]
# The finite differences are also far less accurate: the loss is about 300, float32 stores
# it to about $3 \cdot 10^{-5}$, and dividing that rounding by $h = 10^{-3}$ leaves errors
# of a few hundredths (notebook 13 has the details).
#
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** Add $w = z^2$ to the cell. From the graph, what is $\partial w/\partial x_2$?

# %%
# %%tape --wrt x1,x2
u = x1 * x2
v = jnp.sin(x1)
z = u + v
w = z**2

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** One more arrow, $\partial w/\partial z = 2z \approx 13.818595$, multiplies every
# path: $\partial w/\partial x_2 = 2z \cdot 2 \approx 27.6372$ and
# $\partial w/\partial x_1 = 2z \cdot 2.583853 \approx 35.70$.

# %% [markdown]
# **2.** In the reverse pass, which value's adjoint is a sum of two contributions, and
# why?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\bar x_1$: $x_1$ is used twice (in $u$ and in $v$), and each use hands back
# its own share, $3$ and $\cos 2$.

# %% [markdown]
# **3.** A function of 10 inputs: how many function runs do forward differences need for
# the full gradient, and how many forward-mode passes? And reverse mode?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Forward differences: 11 runs (central: 20). Forward mode: 10 passes, one per
# input. Reverse mode: one forward and one backward pass.

# %% [markdown]
# Next: [13. When numbers lie](13-when-numbers-lie.ipynb).
