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
# # 13. When numbers lie
#
# Computers store real numbers with a fixed number of binary digits. Most of the time that
# is invisible; this notebook collects the places in this series where it is not, explains
# each one, and shows the tool that catches it. JAX computes in **float32** by default:
# 24 binary digits, about 7 decimal ones.
#
# ## The spacing of float32 numbers
#
# Between 1 and 2 there are exactly $2^{23}$ float32 numbers, evenly spaced
# $2^{-23} \approx 1.2 \cdot 10^{-7}$ apart. Between 512 and 1024 they are 512 times
# further apart. The gap is *relative*: about $10^{-7}$ of the number itself.

# %%
# %load_ext gradmagic
import jax.numpy as jnp
import numpy as np

for value in (1e-6, 0.25, 1.0, 1000.0):
    gap32 = np.spacing(np.float32(value))
    print(f"next float32 after {value:g}: {gap32:.3g} further (float64: {np.spacing(value):.3g})")
print("float32: 1 + 1e-8 == 1 is", bool(np.float32(1) + np.float32(1e-8) == np.float32(1)))

# %% [markdown]
# ## Stalls: when a step is smaller than half a gap
#
# Gradient descent adds a small step to a variable. If the step is less than half the gap
# to the next float32 number, the sum rounds back to the variable itself, and the loop
# stops moving long before the maths says it should. That is why 1000 SGD steps on
# $(x - 1)^2$ end at $0.99999857$ (or its neighbour $0.9999985$, notebook 6) and not at
# $1 - 2 \cdot 10^{-9}$. The loop written out in float32, one operation at a time as
# TensorFlow's eager loop does it:

# %%
x = np.float32(0.0)
lr = np.float32(0.01)
for _ in range(1000):
    x = x - lr * (np.float32(2) * x - np.float32(2))
step = lr * (np.float32(2) * x - np.float32(2))
print(
    f"x = {x:.8f}; next step {abs(step):.3g}, half the gap below 1: {np.spacing(np.float32(1)) / 4:.3g}"
)

# %% [markdown]
# (Just below 1 the gap is half of the gap above it, $2^{-24}$; half of that is
# $2^{-25} \approx 3 \cdot 10^{-8}$.) The step, $2.9 \cdot 10^{-8}$, is smaller: every
# further update rounds away.
#
# ## Tiny numbers: TensorFlow's $4.9 \cdot 10^{-38}$
#
# The smallest *normal* float32 is about $1.18 \cdot 10^{-38}$. Below it come *subnormal*
# numbers, with fewer digits, down to $1.4 \cdot 10^{-45}$. Many processors are told to
# *flush* subnormal results to 0, for speed; JAX on CPU does, NumPy does not:

# %%
tiny = np.finfo(np.float32).tiny
in_jax = float(jnp.float32(5e-38) * jnp.float32(0.2))
in_numpy = np.float32(5e-38) * np.float32(0.2)
print(
    f"smallest normal float32: {tiny:.4g}\nNumPy: 5e-38 * 0.2 = {in_numpy:.4g}\nJAX:   5e-38 * 0.2 = {in_jax:.4g}"
)

# %% [markdown]
# This is where TensorFlow's SGD on $a^2 + 2b^2$ (learning rate 0.1, 1000 steps) stops:
# once the update $0.1 \cdot 2a$ is below $1.18 \cdot 10^{-38}$ it is flushed to 0 and $a$
# never moves again. The same loop in JAX, one operation at a time, lands on TensorFlow's
# numbers to the last digit:

# %%
a = jnp.float32(1.0)
b = jnp.float32(1.0)
for _ in range(1000):
    update_a = jnp.float32(0.1) * (2 * a)
    update_b = jnp.float32(0.1) * (4 * b)
    a = a - update_a
    b = b - update_b
print(f"a = {float(a)!r}, b = {float(b)!r}")

# %% [markdown]
# `%minimize` runs the loop compiled, where XLA fuses the multiplication and the
# subtraction into one operation; there the variables keep shrinking by 0.8 and 0.6 per
# step until they fall below the smallest normal number and become exactly 0, which is
# what notebook 6 shows.
#
# ## float64: `%gradmagic x64=on`
#
# When float32 is not enough, switch JAX to float64 for the session: about 16 decimal
# digits, gaps of $2.2 \cdot 10^{-16}$ near 1. The same SGD run on $(x - 1)^2$ now ends
# where exact arithmetic says, $1 - 0.98^{1000} \approx 1 - 1.7 \cdot 10^{-9}$:

# %%
# %gradmagic x64=on
x = 0.0

# %%
# run = %minimize x**2 - 2*x + 1 --lr 0.01 --steps 1000
print(f"x = {x:.12f}, 1 - x = {1 - x:.3g}, 0.98**1000 = {0.98**1000:.3g}")

# %% [markdown]
# float64 is slower on most accelerators and uses twice the memory, so JAX leaves it off
# by default. Turn it off again when you are done:

# %%
# %gradmagic x64=off

# %% [markdown]
# ## Finite differences: rounding against truncation
#
# Notebook 5 drew the V: a finite-difference estimate has a truncation error that shrinks
# like $h^2$ and a rounding error that grows like $\varepsilon/h$, where $\varepsilon$ is
# the gap near 1. The best step is near $\varepsilon^{1/3}$, and the best error near
# $\varepsilon^{2/3}$: about $2 \cdot 10^{-5}$ in float32, $4 \cdot 10^{-11}$ in float64.
# That is why `--check` calls a relative error of $10^{-5}$ "ok": it is as close as
# float32 finite differences can get.

# %%
for dtype in (np.float32, np.float64):
    epsilon = np.finfo(dtype).eps
    print(
        f"{np.dtype(dtype).name}: ε = {epsilon:.3g}, best step ≈ {epsilon ** (1 / 3):.2g}, best error ≈ {epsilon ** (2 / 3):.1g}"
    )

# %% [markdown]
# ## Kinks
#
# At a kink the derivative does not exist, and autodiff still returns a number: the
# derivative of one side, or a convention. `--check` compares with the symmetric finite
# difference, which sees the *average* of the two sides, and warns where they differ:

# %%
x = 0.0

# %%
# %%tape --check
v = jnp.abs(x)
relu = jnp.maximum(x, 0.0)

# %% [markdown]
# $|x|$ is caught: JAX says 1, the symmetric difference 0. `jnp.maximum(x, 0)` is not:
# at a tie JAX splits the derivative, $0.5$, which is exactly the average of the two
# sides, so both methods agree on a value that is neither side's slope. `--check` detects
# disagreement, not every kink.
#
# ## The `jnp.where` NaN trap
#
# `jnp.where(condition, if_true, if_false)` computes **both** branches and then picks one.
# Below, at $x = -1$, the function is simply 0 and its slope is 0. But reverse-mode
# differentiation (what `%grad`, `%minimize` and `jax.grad` use) multiplies the derivative
# of the unused branch by 0, and that derivative, $1/(2\sqrt{x})$, is NaN at $x = -1$:
# $0 \cdot \text{NaN}$ is NaN.

# %%
x = -1.0
# %grad jnp.where(x > 0, jnp.sqrt(x), 0.0) --wrt x

# %% [markdown]
# The `%%tape` table computes its derivatives forward from each input instead, and there
# the unused branch is dropped before anything is multiplied, so the table shows 0 and
# `--check` agrees:

# %%
# %%tape --check
s = jnp.where(x > 0, jnp.sqrt(x), 0.0)

# %% [markdown]
# The place the trap bites is minimisation. From $x = -2$ the very first step is NaN, so
# `%minimize` stops at step 1 and keeps the starting value. It looks like a divergence,
# but no learning rate, however small, would help: a NaN step is NaN at any length.
# `%minimize` tells the two apart (the objective is finite where the run stopped, its
# gradient is not) and says so, with the fix:

# %%
x = -2.0

# %%
# %minimize jnp.where(x > 0, jnp.sqrt(x), 0.0) + (x + 1)**2 --lr 0.1 --steps 100

# %% [markdown]
# The fix is a second `jnp.where` *inside*, on the input, so that the unused branch never
# sees a bad value: `jnp.sqrt(jnp.where(x > 0, x, 1.0))` is a harmless $\sqrt{1}$ wherever
# the result is not used. (A start at $x = 2$ meets the same trap later, at the first step
# that crosses to $x < 0$; the message then names that step.)

# %%
# %minimize jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0) + (x + 1)**2 --lr 0.1 --steps 100

# %% [markdown]
# ## `--check`, the detector
#
# When a number looks wrong, `--check` is the first thing to try: it recomputes every
# derivative in the table a different way. What it catches and what it does not:
#
# | symptom | `--check` |
# |---|---|
# | a bug in a custom derivative, a wrong formula | DISAGREES |
# | a one-sided kink ($\lvert x \rvert$ at 0), an infinite slope ($\sqrt{x}$ at 0) | DISAGREES |
# | a kink where autodiff uses the average ($\max(x, 0)$ at 0) | ok |
# | rounding of order $\varepsilon^{2/3}$ | ok (within tolerance) |
# | the `jnp.where` NaN trap | not in the table (forward mode); `%grad` shows NaN, `%minimize` names it |
#
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** In float32, is $16777216 + 1 = 16777216$? ($16777216 = 2^{24}$.)

# %%
print(bool(np.float32(16777216) + np.float32(1) == np.float32(16777216)))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Yes (True): from $2^{24}$ on, float32 numbers are 2 apart, so $2^{24} + 1$
# lies exactly halfway and rounds to the even neighbour, $2^{24}$ itself.

# %% [markdown]
# **2.** With float64, where does SGD (lr 0.01, 1000 steps) on $2x^2 + x + 3$ from $x = 1$
# end? In float32 it was $-0.24999982$.

# %%
# %gradmagic x64=on
x = 1.0

# %%
# run = %minimize 2*x**2 + x + 3 --lr 0.01 --steps 1000
print(repr(x))

# %%
# %gradmagic x64=off

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $-0.24999999999999967$: within about $3 \cdot 10^{-16}$ of $-0.25$, the
# float64 version of the same stall.

# %% [markdown]
# **3.** `jnp.where(x > 0, jnp.log(x), 0.0)`: what does `%grad` give at $x = 0$, and at
# $x = -1$ (where $\log(-1)$ is NaN)?

# %%
x = 0.0
# at_zero = %grad jnp.where(x > 0, jnp.log(x), 0.0) --wrt x
x = -1.0
# at_minus_one = %grad jnp.where(x > 0, jnp.log(x), 0.0) --wrt x
print(float(at_zero), float(at_minus_one))

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** NaN at 0, because the unused branch's derivative $1/x$ is infinite there and
# $0 \cdot \infty$ is NaN; but $-0.0$ at $-1$, because $1/x = -1$ is finite, even though
# the *value* $\log(-1)$ is NaN. What poisons the gradient is the unused branch's
# derivative. The fix works for both: `jnp.log(jnp.where(x > 0, x, 1.0))`.

# %% [markdown]
# Back to the [welcome page](00-welcome.ipynb), or on to
# [12. Inside the tape](12-inside-the-tape.ipynb) if you skipped it.
