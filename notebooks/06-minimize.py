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
# runs this loop for you, compiled into one program, and writes the minimum back into your
# variables.
#
# Its default optimizer is called `sgd`, *stochastic* gradient descent, the name optax and
# TensorFlow use. The "stochastic" comes from machine learning, where each step uses the
# gradient on a random batch of the training data, so the gradient is a noisy estimate.
# Our objectives have no data: every step here uses the exact gradient, so `sgd` is plain
# gradient descent, the formula above and nothing more.
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
# $x$ reached $0.9999985$ and $y$ is 0 to float32 precision.
#
# Why not 1? Each step multiplies the distance to 1 by $1 - 0.01 \cdot 2 = 0.98$, and
# $0.98^{1000} \approx 2 \cdot 10^{-9}$, so in exact arithmetic $x$ would be within
# $2 \cdot 10^{-9}$ of 1. In float32 it stops long before: near 1, neighbouring float32
# numbers are $2^{-24} \approx 6 \cdot 10^{-8}$ apart, and once the step
# $0.01 \cdot 2(1 - x)$ is less than half that gap, $x - \text{step}$ rounds back to $x$.
# That happens at $1 - x \approx 1.5 \cdot 10^{-6}$: the run *stalls* there (notebook 13
# has more on such numbers).
#
# TensorFlow's tutorials show two neighbouring float32 numbers for this run: their eager
# loops (and the compiled `tf.range` loops of the last tutorial) print 0.99999857, the
# `@tf.function` loops of the first print 0.9999985, the same number as ours
# (0.99999851 to eight digits). Both are stall points, $6 \cdot 10^{-8}$ apart: which one a
# loop reaches depends on how each update is rounded, operation by operation or fused by
# a compiler (notebook 9 has a step-by-step loop that lands on 0.99999857).
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
# The table and loss curve are the same as above, so the next two ways keep their result
# quietly (`run = %minimize ...` stores it without showing it) and print only $x$.
#
# **A whole cell** with `%%minimize`: its last expression is the objective (or name a
# variable it assigns with `--of`).

# %%
x = 0.0

# %%
# %%minimize --wrt x --quiet
y = a * x**2 + b * x + c
y

# %%
print(f"x = {x:.7f}")

# %% [markdown]
# **A target of the last `%%tape`**: record the cell once, then minimise any of its targets
# by name.

# %%
x = 0.0

# %%
# %%tape --quiet
y = a * x**2 + b * x + c

# %%
# run = %minimize y --wrt x
print(f"x = {x:.7f}, {run.steps} steps")

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
# TensorFlow's version of this example first uses learning rate 0.01 and prints
# $x = -0.24999982118606567$. gradmagic gives the same float32 number, to the last digit:

# %%
x = 1.0

# %%
# run = %minimize 2*x**2 + x + 3 --lr 0.01
print(repr(x))

# %% [markdown]
# It is not $-0.25$ for the same reason as $0.9999985$ above: near $-0.25$ the float32
# spacing is $1.5 \cdot 10^{-8}$, and at $x = -0.24999982$ the step
# $0.01 \cdot (4x + 1) \approx 7 \cdot 10^{-9}$ is less than half of it, so the update
# rounds away and $x$ stalls. With lr 0.1 the steps are ten times larger and $x$ gets
# within one spacing of $-0.25$.

# %% [markdown]
# Two variables: $a^2 + 2b^2$ from $(1, 1)$, learning rate 0.1, 1000 steps. Both go to 0.
# TensorFlow's tutorial prints $a = 4.89 \cdot 10^{-38}$ and $b = 1.93 \cdot 10^{-38}$
# instead: there, the update $0.1 \cdot 2a$ becomes too small for a normal float32 number
# (below $1.2 \cdot 10^{-38}$), the processor flushes it to 0, and the variable stops
# moving. gradmagic's compiled loop computes the update and the subtraction in one fused
# operation and keeps shrinking the variables until they reach 0. Notebook 13
# reproduces TensorFlow's numbers exactly.

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
# ## Several minima: the start decides
#
# A bowl has one bottom. Most functions have several, and gradient descent finds the one
# whose valley it starts in. $x^4 - 3x^2 + x$ has two: a deep one near $x = -1.30$ and a
# shallow one near $x = 1.13$.

# %%
for start in (-2.0, -0.5, 0.5, 2.0):
    x = start
    # %minimize x**4 - 3*x**2 + x --lr 0.01 --steps 500 --quiet
    print(f"from x = {start:+.1f}: x = {x:+.4f}, objective {_min.loss:+.4f}")

# %% [markdown]
# The learning rate matters too. At $x = 2$ the curvature is
# $12x^2 - 6 = 42$, so the quadratic rule of notebook 8 says $\text{lr} < 2/42 \approx 0.048$.
# But this is not a quadratic: near the shallow minimum the curvature is only about 9.3.
# With lr 0.05 the first steps overshoot a little and the run still settles in the nearest
# valley; with lr 0.1 the first step, $2 - 0.1 \cdot 21 = -0.1$, jumps over the hump into
# the other valley:

# %%
for lr in (0.01, 0.05, 0.1):
    x = 2.0
    # %minimize x**4 - 3*x**2 + x --lr $lr --steps 200 --quiet
    first_step = float(_min.path["x"][1])
    print(f"lr {lr}: first step to x = {first_step:+.3f}, ends at x = {x:+.4f}")

# %% [markdown]
# **How to pick a learning rate when the problem is not quadratic.** The curvature changes
# from point to point, so no single bound is exact. A practical recipe:
#
# 1. measure the curvature where you start (`%hessian`, or the panel of notebook 8) and
#    start below $2/\lambda_{max}$ there;
# 2. watch the loss curve: if it rises or jumps, halve the rate; if it creeps, try
#    doubling it;
# 3. if the curvature differs wildly between directions or places, use an optimizer that
#    adapts: L-BFGS picks each step by a line search, Adam scales each variable
#    (notebook 7).
#
# And where several minima exist, try several starts: the answer belongs to the start.

# %%
x = 2.0
# %hessian x**4 - 3*x**2 + x --wrt x

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** SGD with lr 0.25 on $x^2$ from $x = 1$: where is $x$ after one step, and after
# two?

# %%
x = 1.0

# %%
# run = %minimize x**2 --lr 0.25 --steps 2
print([float(v) for v in run.path["x"]])

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Each step multiplies $x$ by $1 - 0.25 \cdot 2 = 0.5$: $1 \to 0.5 \to 0.25$.

# %% [markdown]
# **2.** Same problem, lr 1.0: converge, oscillate or diverge?

# %%
x = 1.0

# %%
# run = %minimize x**2 --lr 1.0 --steps 4
print([float(v) for v in run.path["x"]])

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** The factor is $1 - 2 = -1$: $x$ flips between 1 and $-1$ forever, exactly on
# the stability bound $\text{lr} = 2/\lambda = 1$.

# %% [markdown]
# **3.** $x^4 - 3x^2 + x$ from $x = 0$ with lr 0.01: which minimum?

# %%
x = 0.0

# %%
# run = %minimize x**4 - 3*x**2 + x --lr 0.01 --steps 500
print(f"x = {x:+.4f}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** The slope at 0 is $+1$, so the first step goes left, down into the deep
# valley: $x \approx -1.3008$.

# %% [markdown]
# Why $2/\lambda_{max}$, and what else changes with the learning rate, is the subject of
# the interactive [8. Optimizer lab](08-optimizer-lab.ipynb). First,
# [7. Optimizers compared](07-optimizers-compared.ipynb) tries other optimizers than SGD.
