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
# # 9. Coming from `tf.GradientTape`
#
# If you learnt automatic differentiation with TensorFlow, this page maps what you know to
# gradmagic. The main differences:
#
# - **no variables or constants**: plain Python floats (or NumPy/JAX arrays) are enough;
#   every floating value a cell reads is an input unless you choose with `--wrt`;
# - **no `with` block**: put `%%tape` on top of the cell; it runs as a normal cell;
# - **no one-shot tapes**: a tape answers any number of questions, at the recorded point or
#   at others;
# - **no optimizer loop**: `%minimize` runs the whole loop, compiled, and writes the
#   result back into your variables, as a `tf.Variable` would be updated in place.
#
# | TensorFlow | gradmagic |
# |---|---|
# | `x = tf.Variable(0.0)`, `a = tf.constant(1.0)` | `x = 0.0`, `a = 1.0`; or the point in the magic line: `%grad expr --at x=0,a=1` |
# | `with tf.GradientTape() as tape:` around the computation | `%%tape` on top of the cell |
# | `tape.gradient(y, x)` | the table shows ∂y/∂x; `_tape.gradient("y", "x")` |
# | `tape.watch([a, b, c])` | nothing: every float is watched; narrow with `--wrt x,a` |
# | `tape.gradient(y, [x, a, b, c])` | `_tape.gradient("y", ["x", "a", "b", "c"])`: a list back |
# | `tape.gradient(z, [x1, x2])` gives `[None, None]` for constants not watched | constants are inputs too: 9, 42 |
# | `tf.GradientTape(persistent=True)`, then `del tape` | nothing: every tape is reusable |
# | `tape.gradient([z1, z2], x)` (gradients add up) | `_tape.gradient(["z1", "z2"], "x")` |
# | `t.gradient(z, y)` for an intermediate `y` | `%%tape --wrt x,y` |
# | `None` for a target that does not depend on a source | `0*` (not connected); `--unconnected none` gives `None` |
# | two nested tapes for d²y/dx² | `%%tape --order 2`, or `tape.derivative("y", "x", order=2)` (notebook 3) |
# | nested persistent tapes and a list comprehension for the Hessian | `%%tape --hessian`, `%hessian expr --wrt x1,x2`, `tape.hessian("g")` (notebook 3) |
# | `tape.jacobian(y, x)` | `tape.jacobian("y", "x")` (notebook 2) |
# | `tf.float64` variables | `%gradmagic x64=on` (notebook 13) |
# | `x.assign(1.0)`, then a new tape | `tape.at(x=1.0)`, `%%tape --at x=1.0`, or `x = 1.0` and run the cell again |
# | `approximate_derivative(f, x)` by hand | `%%tape --check` puts finite differences beside each value |
# | `@tf.function` around a tape | `%%tape --jit`, `%gradmagic jit=on`, or `jax.jit(tape.function)` |
# | loop with `x.assign_sub(lr * tape.gradient(y, x))` | loop with `slope = %grad expr --wrt x` and `x = x - lr * slope` |
# | `opt = tf.keras.optimizers.SGD(0.01)` + loop with `opt.apply_gradients([(dy_dx, x)])` | `%minimize expr --wrt x --lr 0.01 --steps 1000` |
# | `x = tf.Variable(0.0)` before the loop | `--start x=0` (the run's result creates or updates `x`) |
# | loop with `opt.minimize(f, [x])`, `f` taking no arguments | `%minimize f --wrt x` |
# | `@tf.function` around the whole training loop | nothing: `%minimize` is always one compiled loop |
# | `@tf.function def train(epochs, f, var)` | a Python function around `%minimize $f --wrt $var --steps $epochs` |
# | `tf.keras.optimizers.Adam`, `Adagrad`, `RMSprop` | `--optimizer adam`, `adagrad`, `rmsprop` (or any optax name) |
# | `print(x)`, `tf.print(x)` | `x` is a plain float; the run itself is `_min` |
#
# The cells below replay the main TensorFlow examples on the parabola
# $y = x^2 - 2x + 1$.

# %%
# %load_ext gradmagic
import jax

x = 0.0
a = 1.0
b = -2.0
c = 1.0

# %% [markdown]
# ## A tape, with the constants watched
#
# One cell gives what a tape with `tape.watch([a, b, c])` and
# `tape.gradient(y, [x, a, b, c])` gives: $-2, 0, 0, 1$ at $x = 0$.

# %%
# %%tape --name quad
y = a * x**2 + b * x + c

# %%
quad.gradient("y", ["x", "a", "b", "c"])

# %% [markdown]
# ## A compiled gradient function
#
# TensorFlow's `@tf.function` version returns $(dy/dx,\ y)$ for any $x$. The tape's
# `function` is a plain JAX function of its inputs, so `jax.value_and_grad` and `jax.jit`
# make the same thing (here with the inputs narrowed to `x`):

# %%
# %%tape --wrt x --quiet --name quad_x
y = a * x**2 + b * x + c

# %%
value_and_slope = jax.jit(jax.value_and_grad(quad_x.function))
for point in (0.0, 1.0, 3.0, 2.0):
    value, slope = value_and_slope(point)
    print(f"x = {point}: ({float(slope):g}, {float(value):g})")

# %% [markdown]
# ## The update loop, written out
#
# The first TensorFlow version updates the variable by hand, 1000 times, with learning
# rate 0.01. With the compiled slope function from the tape:

# %%
slope_at = jax.jit(jax.grad(quad_x.function))
x = 0.0
for _ in range(1000):
    x = x - 0.01 * slope_at(x)
print(f"x = {float(x):.7f}, y = {float(quad_x.function(x)):.7f}")


# %% [markdown]
# That is the number TensorFlow's eager loops print, 0.99999857 (and so do the compiled
# `tf.range` loops of its last tutorial). The `%minimize` runs below land on the
# neighbouring float32 number, 0.9999985, the number the `@tf.function` loops of its first
# tutorial print. Both are points where float32 rounding stalls the loop; which one a loop
# reaches depends on how each update is rounded (notebook 6 explains).
#
# ## `optimizer.minimize` with a loss that takes no arguments


# %%
def fun_to_min():
    return a * x**2 + b * x + c


x = 0.0


# %%
# %gradmagic precision=7
# %minimize fun_to_min --wrt x --lr 0.01 --steps 1000

# %% [markdown]
# ## A generic `train(epochs, f, var)`
#
# Inside a function, a magic line can use the function's own variables with `$name`.
# `%minimize` is already compiled, so the function is only a convenience:


# %%
def train(epochs, f, var):
    # %minimize $f --wrt $var --lr 0.01 --steps $epochs --quiet
    return _min.values[var], _min.loss


x = 0.0
position, loss = train(1000, "fun_to_min", "x")
print(f"x = {position:.7f}, y = {loss:.7f}")

# %% [markdown]
# ## Other optimizers
#
# Where TensorFlow offers `tf.keras.optimizers.Adagrad`, `Adam` or `RMSprop`, name them with
# `--optimizer`. $2x^2 + x + 3$ from $x = 1$ with Adam:

# %%
# %gradmagic precision=6
x = 1.0

# %%
# %minimize 2*x**2 + x + 3 --optimizer adam --lr 0.01 --steps 1000

# %% [markdown]
# ## Lines of code
#
# How much shorter is it? Below, each example of the TensorFlow tutorials is written twice,
# both in our own code (not the tutorials'): in TensorFlow with the API its tutorial uses
# (`apply_gradients` with a tape, `optimizer.minimize`, nested tapes…), as tersely as that
# API allows; and in gradmagic with the shortest tools this series teaches (`%grad`,
# `%hessian`, `%minimize`, a `%%tape` cell, arrays of points, the point in the magic line
# with `--at` and `--start`). Where the gradmagic version takes several points at once as
# an array, the TensorFlow one does too (`tape.jacobian`).
#
# **The counting rule**, the same for both sides: every line of the code counts except
# blank lines, comments, imports and `%load_ext`; setting the starting values counts on
# both sides (a `tf.Variable` line in TensorFlow; in gradmagic an assignment, or an option
# of the magic line, which then costs no line of its own). No line holds more than one
# statement.

# %%
examples = [
    (
        "dy/dx, dy/da, dy/db, dy/dc at x = 0",
        """x = tf.Variable(0.0)
a, b, c = tf.constant(1.0), tf.constant(-2.0), tf.constant(1.0)
with tf.GradientTape() as tape:
    tape.watch([a, b, c])
    y = a * x**2 + b * x + c
tape.gradient(y, [x, a, b, c])""",
        """%grad a*x**2 + b*x + c --at x=0,a=1,b=-2,c=1""",
        '[result[name] for name in ("x", "a", "b", "c")]',
        "-2, 0, 0, 1",
    ),
    (
        "d²y/dx² with nested tapes",
        """x = tf.Variable(0.0)
with tf.GradientTape() as outer:
    with tf.GradientTape() as inner:
        y = x**2 - 2 * x + 1
    dy_dx = inner.gradient(y, x)
outer.gradient(dy_dx, x)""",
        """%hessian x**2 - 2*x + 1 --at x=0""",
        "result",
        "2",
    ),
    (
        "compiled (dy/dx, y) at x = 0 and 1",
        """@tf.function
def slope_and_value(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**2 - 2 * x + 1
    return tape.gradient(y, x), y
slope_and_value(tf.constant([0.0, 1.0]))""",
        """%%tape --jit --at x=[0.0, 1.0]
y = x**2 - 2*x + 1""",
        'jnp.diag(result.jacobian("y", "x")), result.values["y"]',
        "[-2, 0], [1, 0]",
    ),
    (
        "gradients at x = 1 and x = 10, constants watched",
        """x = tf.Variable([1.0, 10.0])
a, b, c = tf.constant(1.0), tf.constant(-2.0), tf.constant(1.0)
with tf.GradientTape() as tape:
    tape.watch([a, b, c])
    y = a * x**2 + b * x + c
tape.jacobian(y, [x, a, b, c])""",
        """%%tape --at x=[1.0, 10.0],a=1,b=-2,c=1
y = a * x**2 + b * x + c""",
        '[jnp.diag(result.jacobian("y", "x")), *(result.jacobian("y", n) for n in "abc")]',
        "[0, 18], [1, 100], [1, 10], [1, 1]",
    ),
    (
        "SGD, 1000 steps, apply_gradients",
        """x = tf.Variable(0.0)
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
for _ in range(1000):
    with tf.GradientTape() as tape:
        y = x**2 - 2 * x + 1
    optimizer.apply_gradients([(tape.gradient(y, x), x)])""",
        """%minimize x**2 - 2*x + 1 --start x=0 --lr 0.01 --steps 1000""",
        "result.x",
        "0.99999857",
    ),
    (
        "SGD, 1000 steps, optimizer.minimize(f, [x])",
        """x = tf.Variable(0.0)
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
for _ in range(1000):
    optimizer.minimize(lambda: x**2 - 2 * x + 1, [x])""",
        """%minimize x**2 - 2*x + 1 --start x=0 --lr 0.01 --steps 1000""",
        "result.x",
        "0.99999857",
    ),
    (
        "the training loop compiled",
        """x = tf.Variable(0.0)
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
@tf.function
def train():
    for _ in tf.range(1000):
        with tf.GradientTape() as tape:
            y = x**2 - 2 * x + 1
        optimizer.apply_gradients([(tape.gradient(y, x), x)])
train()""",
        """%minimize x**2 - 2*x + 1 --start x=0 --lr 0.01 --steps 1000""",
        "result.x",
        "0.9999985",
    ),
    (
        "∂g/∂x1, ∂g/∂x2 from a persistent tape",
        """x1, x2 = tf.Variable(2.0), tf.Variable(3.0)
with tf.GradientTape(persistent=True) as tape:
    g = (x1 + 5) * x2**2
dg_dx1 = tape.gradient(g, x1)
dg_dx2 = tape.gradient(g, x2)
del tape""",
        """%grad (x1 + 5) * x2**2 --at x1=2,x2=3""",
        "result",
        "9, 42",
    ),
    (
        "Hessian of g",
        """x1, x2 = tf.Variable(2.0), tf.Variable(3.0)
with tf.GradientTape(persistent=True) as outer:
    with tf.GradientTape() as inner:
        g = (x1 + 5) * x2**2
    grads = inner.gradient(g, [x1, x2])
hessian = [[outer.gradient(d, v) for v in (x1, x2)] for d in grads]
del outer""",
        """%hessian (x1 + 5) * x2**2 --at x1=2,x2=3""",
        "result",
        "[[0 (None), 6], [6, 14]]",
    ),
    (
        "gradient of two targets z1 = 3x, z2 = x²",
        """x = tf.Variable(5.0)
with tf.GradientTape() as tape:
    z1 = 3 * x
    z2 = x**2
tape.gradient([z1, z2], x)""",
        """%grad 3*x + x**2 --at x=5""",
        "result",
        "13",
    ),
    (
        "gradient descent by hand, 100 steps",
        """x = tf.Variable(0.0)
for _ in range(100):
    with tf.GradientTape() as tape:
        y = 3 * x**2 + 2 * x - 1
    x.assign_sub(0.1 * tape.gradient(y, x))""",
        """%minimize 3*x**2 + 2*x - 1 --start x=0 --lr 0.1 --steps 100""",
        "result.x",
        "-1/3",
    ),
    (
        "dz/dx and dz/dy for an intermediate y",
        """x = tf.ones((2, 2))
with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    y = tf.reduce_sum(x)
    z = y**2
dz_dx = tape.gradient(z, x)
dz_dy = tape.gradient(z, y)""",
        """%%tape --wrt x,y --at x=[[1.0, 1.0], [1.0, 1.0]]
y = jnp.sum(x)
z = y**2""",
        'result.gradient("z", ["x", "y"])',
        "8 everywhere, 8",
    ),
    (
        "dy/dx and d²y/dx² of x³",
        """x = tf.Variable(1.0)
with tf.GradientTape() as outer:
    with tf.GradientTape() as inner:
        y = x**3
    dy_dx = inner.gradient(y, x)
d2y_dx2 = outer.gradient(dy_dx, x)""",
        """%%tape --order 2 --at x=1
y = x**3""",
        '[result.derivative("y", "x", order=n) for n in (1, 2)]',
        "3, 6",
    ),
    (
        "∂/∂a, ∂/∂b of 2a² + 3b³",
        """a, b = tf.Variable(2.0), tf.Variable(3.0)
with tf.GradientTape() as tape:
    loss = 2 * a**2 + 3 * b**3
tape.gradient(loss, [a, b])""",
        """%grad 2*a**2 + 3*b**3 --at a=2,b=3""",
        "result",
        "8, 81",
    ),
    (
        "SGD on a² + 2b², 1000 steps",
        """a, b = tf.Variable(1.0), tf.Variable(1.0)
optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)
for _ in range(1000):
    with tf.GradientTape() as tape:
        z = a * a + 2 * b * b
    optimizer.apply_gradients(zip(tape.gradient(z, [a, b]), [a, b]))""",
        """%minimize a**2 + 2*b**2 --wrt a,b --start a=1,b=1 --lr 0.1 --steps 1000""",
        "result.x",
        "4.9e-38, 1.9e-38",
    ),
    (
        "Adam on 2x² + x + 3",
        """x = tf.Variable(1.0)
optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
for _ in range(1000):
    optimizer.minimize(lambda: 2 * x * x + x + 3, [x])""",
        """%minimize 2*x**2 + x + 3 --start x=1 --optimizer adam --lr 0.01 --steps 1000""",
        "result.x",
        "-0.25",
    ),
]


def lines_of_code(code):
    skipped = ("import ", "from ", "%load_ext", "#")
    return sum(
        1 for line in code.splitlines() if line.strip() and not line.strip().startswith(skipped)
    )


total_tf = total_gm = 0
print(f"{'example':<50} {'TF':>3} {'gm':>3}  ratio")
for label, tensorflow, gradmagic, _, _ in examples:
    tf_lines, gm_lines = lines_of_code(tensorflow), lines_of_code(gradmagic)
    total_tf, total_gm = total_tf + tf_lines, total_gm + gm_lines
    mark = "" if 3 * gm_lines <= tf_lines else "  (more than 1/3)"
    print(f"{label:<50} {tf_lines:>3} {gm_lines:>3}  {gm_lines / tf_lines:.2f}{mark}")
print(
    f"{'all ' + str(len(examples)) + ' examples':<50} {total_tf:>3} {total_gm:>3}  {total_gm / total_tf:.2f}"
)

# %% [markdown]
# The gradmagic versions are not just short, they run. The cell below runs each one as
# notebook cells (a `%%` line starts a new cell, what they display is set aside), reads
# its result (`result`: the last line's value, or the `Tape` of a `%%tape` cell), and
# prints what it gives beside the value the TensorFlow tutorials show:

# %%
import jax.numpy as jnp  # noqa: F401 - the examples run below use it
import numpy as np
from IPython import get_ipython
from IPython.utils.capture import capture_output


def run_cells(code):
    """Run code as notebook cells and return the last line's value (a %%tape cell: its Tape)."""
    cells = []
    for line in code.splitlines():
        if line.startswith("%%") or not cells:
            cells.append([])
        cells[-1].append(line)
    if not cells[-1][0].startswith("%%"):
        cells[-1][-1] = "_example = " + cells[-1][-1]
    with capture_output():
        for cell in cells:
            get_ipython().run_cell("\n".join(cell), store_history=False).raise_error()
    return _tape if cells[-1][0].startswith("%%") else _example


def shown(value):
    """Numbers at 7 significant digits, whatever holds them."""
    if isinstance(value, dict):
        value = tuple(value.values())
    if isinstance(value, (tuple, list)):
        return ", ".join(shown(item) for item in value)
    data = np.asarray(value)
    if data.ndim == 0:
        return f"{float(data):.7g}"
    text = np.array2string(data, separator=", ", formatter={"all": lambda v: f"{v:.7g}"})
    return " ".join(text.split())


rows = [f"{'example':<50} {'gradmagic gives':<36} TF tutorials"]
for label, _, gradmagic, gives, reference in examples:
    result = run_cells(gradmagic)
    rows.append(f"{label:<50} {shown(eval(gives)):<36} {reference}")
print("\n".join(rows))

# %% [markdown]
# Every result is the tutorials' (the Hessian shows 0 where TensorFlow says `None`, not
# connected, as in notebook 3; the SGD runs end on 0.9999985, the float32 neighbour of
# the 0.99999857 of TensorFlow's eager loops, as explained above; and a² + 2b² ends on 0
# where TensorFlow stalls on tiny numbers, as notebook 13 explains).
#
# All sixteen together take 0.22 of TensorFlow's lines (21 against 94), and fifteen of the
# sixteen take a third or less. What made the difference is the point in the magic line:
# `%grad 3*x + x**2 --at x=5` evaluates at $x = 5$ without assigning `x` (the notebook's
# `x` keeps its value), and `%minimize … --start x=0` starts there, the run's result
# creating or updating `x` as the optimizer updates a `tf.Variable`.
#
# The one left above a third is the derivative with respect to an intermediate value
# ($y$ in $z = y^2$, $y = \sum x$): 3 lines against 7. A one-liner cannot name $y$, so it
# takes a `%%tape` cell, and the cell needs $y$ assigned in a statement of its own (that is
# what makes it an intermediate value) before $z$: the magic line plus two statements.
# Two lines would need two statements on one line, which the counting rule forbids.

# %% [markdown]
# ## Your turn
#
# Translate, predict, then run; the answers are in the collapsed cells.
#
# **1.** TensorFlow: `x.assign(3.0)`, a new tape, `tape.gradient(y, [x, a])` for the
# parabola. What is the gradmagic line, and the answer?

# %%
quad.at(x=3.0).gradient("y", ["x", "a"])

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** `quad.at(x=3.0).gradient("y", ["x", "a"])`: $dy/dx = 2ax + b = 4$ and
# $dy/da = x^2 = 9$, without touching the notebook's `x`.

# %% [markdown]
# **2.** TensorFlow: `opt = tf.keras.optimizers.SGD(0.1)` and 50 calls of
# `opt.minimize(lambda: (x - 3)**2, [x])` from $x = 0$. Where does $x$ end?

# %%
# run = %minimize (x - 3)**2 --start x=0 --lr 0.1 --steps 50
print(f"x = {x:.6f}")

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** Each step multiplies the distance to 3 by $1 - 0.1 \cdot 2 = 0.8$, and
# $3 \cdot 0.8^{50} \approx 4.3 \cdot 10^{-5}$: $x \approx 2.999957$.

# %% [markdown]
# **3.** TensorFlow returns `None` for `tape.gradient(z, w)` when `z` does not use `w`. What
# does a gradmagic table show, and how do you get `None`?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer.** `0*` (0, marked *not connected*); `%%tape --unconnected none` shows and
# returns `None` (notebook 1).

# %% [markdown]
# That is the end of the series. Back to the [welcome page](00-welcome.ipynb) for the
# overview, or run `%minimize?` and `%%tape?` for every option.
