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
curvature = panel.curvature
print(f"λmin = {curvature.lambda_min:g}, λmax = {curvature.lambda_max:g}, 2/λmax = {panel.bound:g}")

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
best_sgd = panel.result

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
tuned_momentum = panel.result

# %% [markdown]
# How much faster? For the best SGD step the distance to the minimum shrinks by exactly
# $9/11 \approx 0.82$ per step. For tuned momentum the theory says $\sqrt{\beta} \approx 0.52$
# per step (a little slower in the first steps, because the two directions' factors
# coincide, which adds a slowly fading factor proportional to the step count). Measured on
# the two runs, from step 20 to step 50:

# %%
import numpy as np


def shrink_per_step(result, first=20, last=50):
    distance = np.hypot(np.asarray(result.path["x"]), np.asarray(result.path["y"]))
    return (distance[last] / distance[first]) ** (1 / (last - first))


print(f"best SGD step: {shrink_per_step(best_sgd):.3f} per step (9/11 = {9 / 11:.3f})")
print(f"tuned momentum: {shrink_per_step(tuned_momentum):.3f} per step (√0.27 = {0.27**0.5:.3f})")
print(
    f"after 50 steps, tuned momentum is {shrink_per_step(best_sgd, 0) ** 50 / shrink_per_step(tuned_momentum, 0) ** 50:.1e} times closer"
)

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
# ## Still pictures of the panel
#
# A saved notebook cannot show the live panel, so here is what its plot shows for a few
# settings, drawn from ordinary `%minimize` runs: the loss curves on a log scale (top) and
# the paths (below). The rates are 0.01 (too timid), the best step $1/11$, 0.099 (just below
# the bound: $y$ zigzags), 0.105 (just above it: $y$ zigzags outwards) and tuned momentum.

# %%
import matplotlib.pyplot as plt
from IPython.display import display


def show(figure):
    """Display a figure as a picture only (a saved notebook then holds no "<Figure ...>" text)."""
    plt.close(figure)
    display(figure, exclude=["text/plain"])


settings = [
    ("sgd, lr 0.01", "--lr 0.01"),
    ("sgd, lr 1/11 (best step)", "--lr 0.0909091"),
    ("sgd, lr 0.099", "--lr 0.099"),
    ("sgd, lr 0.105 (unstable)", "--lr 0.105"),
    ("momentum 0.27, lr 0.115", "--optimizer momentum --momentum 0.27 --lr 0.115"),
]
fig, axes = plt.subplot_mosaic(
    [["curves"] * 5, [f"path{i}" for i in range(5)]], figsize=(12, 6.5), height_ratios=[1.3, 1]
)
curves = axes["curves"]
grid_x, grid_y = np.meshgrid(np.linspace(-1.2, 1.2, 200), np.linspace(-1.6, 1.6, 200))
for index, (label, options) in enumerate(settings):  # noqa: B007 (the magic line reads $options)
    x = 1.0
    y = 1.0
    # %minimize x**2 + 10*y**2 --wrt x,y --steps 40 $options --quiet
    curves.semilogy(np.asarray(_min.history), label=label)
    path = axes[f"path{index}"]
    path.contour(grid_x, grid_y, grid_x**2 + 10 * grid_y**2, levels=10, colors="lightgrey")
    path.plot(
        _min.path["x"][:21], _min.path["y"][:21], ".-", color=f"C{index}", markersize=3, linewidth=1
    )
    path.set_xlim(-1.2, 1.2)
    path.set_ylim(-1.6, 1.6)
    path.set_title(label, fontsize=8)
    path.set_xticks([])
    path.set_yticks([])
curves.set_xlabel("step")
curves.set_ylabel("objective")
curves.set_ylim(1e-16, 1e3)
curves.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
curves.set_title("loss curves (40 steps); below, the first 20 steps of each path")
fig.tight_layout()
show(fig)

# %% [markdown]
# ## A panel that needs no kernel
#
# The live panel lives in the kernel: close the notebook, or open its HTML export, and the
# slider is gone. `--widgets --static` computes the runs up front instead: 48 learning
# rates for each of four optimizers (the chosen one, sgd, momentum and adam), all of one
# optimizer's runs in one vectorised program, and embeds them with a small script. Its
# slider and menu redraw the loss curve and the path in the browser, with no kernel, in an
# exported HTML file opened from disk too. The ▲ marks each optimizer's stability bound,
# as in the live panel.
#
# JupyterLab runs the script only in a *trusted* notebook (one you ran yourself, or
# trusted with the command palette's "Trust Notebook"); an untrusted one shows a still
# picture of the chosen setting and says so.

# %%
x = 1.0
y = 1.0
# %minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets --static

# %% [markdown]
# Move the slider past the ▲ with sgd selected and the path zigzags out of the picture;
# switch to momentum and the marker moves right, to $2(1 + \beta)/\lambda_{\max}$. The
# static panel cannot run a setting it did not compute (a momentum of your choice, a new
# start): for that, the live panel.

# %% [markdown]
# ## Your turn
#
# Predict, then run; the answers are in the collapsed cells.
#
# **1.** For $x^2 + 100y^2$, what are the stability bound and the best SGD step?

# %%
x = 1.0
y = 1.0

# %%
# other = %minimize x**2 + 100*y**2 --wrt x,y --widgets
print(
    f"2/λmax = {other.bound:g}, best step = {2 / (other.curvature.lambda_min + other.curvature.lambda_max):.4f}"
)

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\lambda = 2$ and $200$: the bound is $2/200 = 0.01$, the best step
# $2/202 \approx 0.0099$, and each step then shrinks the error by only $99/101$: the more
# stretched the valley, the slower SGD.

# %% [markdown]
# **2.** On $x^2 + 10y^2$, which momentum β does the classic formula give if the valley
# were round ($\lambda_{min} = \lambda_{max}$)?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** $\beta = 0$: on a round bowl plain SGD with lr $1/\lambda$ lands on the
# minimum in one step, and momentum has nothing to add.

# %% [markdown]
# **3.** Set the panel to momentum with β = 0.9 and lr 0.01: better or worse than plain
# SGD at lr 0.01 after 200 steps?

# %%
panel.steps.value = 200
panel.optimizer.value = "momentum"
panel.momentum.value = 0.9
panel.lr.value = 0.01
print(panel.text_summary())

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Better: at a small rate, momentum's effective step along the shallow $x$
# is about $\text{lr}/(1 - \beta) = 0.1$, ten times SGD's, so $x$ ends far closer to 0
# than SGD's 0.0176.

# %% [markdown]
# Next: [9. From tf.GradientTape](09-from-tf-gradienttape.ipynb), a translation guide for
# TensorFlow users.
