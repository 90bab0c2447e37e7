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
# # 8. Optimizer lab
#
# `%minimize ... --widgets` opens a panel of controls for one problem: learning rate,
# optimizer, steps, momentum and start point, with a plot and a summary that follow every
# change. Our subject is the valley from notebook 7,
#
# $$x^2 + 10y^2 \quad \text{from } (1, 1).$$
#
# Its Hessian is $\begin{pmatrix} 2 & 0 \\ 0 & 20 \end{pmatrix}$: the curvature is
# $\lambda_{min} = 2$ along $x$ and $\lambda_{max} = 20$ along $y$. One SGD step multiplies
# the distance to the minimum along each of these directions by $1 - \text{lr} \cdot \lambda$.
# So:
#
# - SGD is **stable** only while $|1 - \text{lr} \cdot \lambda_{max}| < 1$, that is
#   $\text{lr} < 2/\lambda_{max} = 0.1$;
# - the **best step** makes the slowest direction and the fastest one shrink equally fast:
#   $\text{lr} = 2/(\lambda_{min} + \lambda_{max}) = 1/11 \approx 0.0909$, where both
#   factors are $\pm 9/11$.

# %%
# %load_ext gradmagic

x = 1.0
y = 1.0

# %%
# panel = %minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets
panel

# %% [markdown]
# What you see when you run the cell (a saved copy of this notebook shows only the panel's
# one-line text summary; run the notebook to get the live panel):
#
# - the **learning rate** slider, on a log scale, with the stability bound $2/\lambda_{max}$
#   marked under it, and a line saying whether the current rate is below it;
# - the **optimizer** menu, and a **momentum** slider (β1 for adam, decay for rmsprop) for
#   the optimizers that have one;
# - **steps**, the **best step** button, and the **start** point;
# - the loss curve and the path over the contour lines, redrawn on every change;
# - the result table and, under it, the `%minimize` line that reproduces the current
#   settings, ready to copy;
# - **Use these values**, the only control that changes your notebook: until you press it,
#   `x` and `y` stay where they are.
#
# Move the slider past the red mark and watch the path zigzag outwards.
#
# ## The same experiments, in code
#
# Every control is an attribute of the panel (`panel.lr`, `panel.optimizer`,
# `panel.steps`, `panel.momentum`, `panel.start`, `panel.best_step`, `panel.use`), and
# setting a value has the same effect as moving the control. That is how the rest of this
# notebook records what happens. The panel has worked out the curvature at the start:

# %%
print(f"λmin = {panel.lambda_min:g}, λmax = {panel.lambda_max:g}, 2/λmax = {panel.bound:g}")

# %% [markdown]
# At the starting rate 0.01, 200 steps were plenty for the steep $y$ but not for the
# shallow $x$ (factor 0.98 per step):

# %%
print(panel.text_summary())

# %% [markdown]
# Just below the bound, $x$ is done quickly, but now $y$ bounces from side to side,
# shrinking only by a factor $|1 - 0.099 \cdot 20| = 0.98$ per step, the same factor $x$
# had before, so $y$ ends where $x$ did:

# %%
panel.lr.value = 0.099
print(panel.text_summary())

# %% [markdown]
# Past the bound, SGD diverges. The panel says so and suggests a rate, and the notebook's
# variables are untouched:

# %%
panel.lr.value = 0.12
print(panel.text_summary())

# %% [markdown]
# ## The best step
#
# **best step** sets the rate to $2/(\lambda_{min} + \lambda_{max})$. Over 50 steps both
# directions now shrink by the same factor, $9/11$ per step:

# %%
panel.steps.value = 50
panel.best_step.click()
print(panel.lr.value)
print(panel.text_summary())

# %% [markdown]
# ## Momentum
#
# Momentum adds a fraction β of the previous step to each new one. Switching the optimizer
# shows the momentum slider, at its usual value 0.9. On this small problem that is far too
# much: the path swings around the minimum for a long time.

# %%
panel.optimizer.value = "momentum"
print(panel.text_summary())

# %% [markdown]
# Tuned for this valley, momentum beats the best SGD step by a wide margin. The classic
# choice for a quadratic is
# $\beta = \left(\frac{\sqrt{\lambda_{max}} - \sqrt{\lambda_{min}}}{\sqrt{\lambda_{max}} + \sqrt{\lambda_{min}}}\right)^2 \approx 0.27$
# and $\text{lr} = 4/(\sqrt{\lambda_{min}} + \sqrt{\lambda_{max}})^2 \approx 0.115$,
# which is beyond the SGD bound: with momentum, the stable range grows to
# $\text{lr} < 2(1 + \beta)/\lambda_{max} \approx 0.127$.

# %%
panel.momentum.value = 0.27
panel.lr.value = 0.115
print(panel.text_summary())

# %% [markdown]
# The line that reproduces these settings outside the panel:

# %%
from IPython.display import HTML

HTML(panel.line.value)

# %% [markdown]
# ## Keeping the result
#
# So far `x` and `y` are unchanged. **Use these values** writes the current result into the
# notebook and stores it as `_min`:

# %%
print(x, y)
panel.use.click()
print(x, y)
print(panel.message.value)

# %%
_min is panel.result

# %% [markdown]
# Next: [9. From tf.GradientTape](09-from-tf-gradienttape.ipynb), a translation guide for
# TensorFlow users.
