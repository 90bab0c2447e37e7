"""Write the tutorials (00-09) as clean, unexecuted .ipynb files.

Run it, execute the notebooks so their saved outputs are what nbval compares, then tidy
them (``make notebooks`` does all three):

    .venv/bin/python notebooks/build_notebooks.py
    .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        --ExecutePreprocessor.record_timing=False \
        --ExecutePreprocessor.store_widget_state=False notebooks/0*.ipynb
    .venv/bin/python notebooks/build_notebooks.py --tidy
    .venv/bin/python -m pytest --nbval notebooks -q

Cells are written with fixed ids, so rebuilding a notebook gives the same file.
Each notebook is a list of cells: ``md(...)`` for prose, ``code(...)`` for code.
``--tidy`` removes what a run leaves that is random or large: widget state in the
metadata and widget views in outputs (their model ids change on every run; the
text/plain summary beside them stays, and is what nbval compares).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}


def md(text: str) -> dict:
    return {"kind": "markdown", "source": text.strip("\n")}


def code(text: str, *tags: str) -> dict:
    return {"kind": "code", "source": text.strip("\n"), "tags": list(tags)}


def build(stem: str, cells: list[dict]) -> Path:
    notebook = new_notebook()
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO}
    prefix = stem.split("-")[0]
    for index, cell in enumerate(cells, start=1):
        cell_id = f"nb{prefix}-{index:02d}"
        if cell["kind"] == "markdown":
            made = new_markdown_cell(cell["source"], id=cell_id)
        else:
            metadata = {"tags": cell["tags"]} if cell["tags"] else {}
            made = new_code_cell(cell["source"], id=cell_id, metadata=metadata)
        notebook.cells.append(made)
    path = HERE / f"{stem}.ipynb"
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return path


# --------------------------------------------------------------------------- 00 welcome

WELCOME = [
    md("""
# Welcome to gradmagic

**gradmagic** lets you see derivatives in a notebook without writing any differentiation
code. You write an ordinary cell, put `%%tape` on top of it, and gradmagic shows how
every value the cell computes changes when each number it reads changes. Underneath,
[JAX](https://jax.readthedocs.io) does the differentiating; on top, you get readable
tables, Hessians with a plain-English verdict, plots, and a reusable *tape* object.

This series is for anyone who has met derivatives in a maths class and wants to see them
at work in code: machine-learning students, scientists fitting models, or readers coming
from TensorFlow's `GradientTape` tutorials.

Everything starts by loading the extension:
"""),
    code("%load_ext gradmagic"),
    md("""
`%gradmagic` on its own line reports the versions of gradmagic and JAX, the device the
computations run on, and the current settings. Your output will differ from the one
saved here (the comment on the first line tells the notebook tester to ignore it).
"""),
    code("# NBVAL_IGNORE_OUTPUT\n%gradmagic"),
    md("""
## Thirty seconds of gradmagic

Take a rectangle 3 wide and 2 high:
"""),
    code("width = 3.0\nheight = 2.0"),
    md("""
Now compute its area and perimeter in a cell that starts with `%%tape`:
"""),
    code("%%tape\narea = width * height\nperimeter = 2 * (width + height)"),
    md("""
How to read the table:

- each **row** is a value the cell computed (`area`, `perimeter`), with its value;
- each **column** is a number the cell read (`width`, `height`);
- each entry is a partial derivative. Making the rectangle a little wider grows the area
  by 2 (its height) for every unit of width, and grows the perimeter by 2.

The cell itself ran exactly as a normal cell: `area` is now an ordinary Python number.
The derivatives are kept in a `Tape`, stored as `_tape`, which you can question
afterwards:
"""),
    code('area, _tape.gradient("area", "width")'),
    md("""
## The series

Each notebook teaches one idea. Work through them in order, or jump to what you need.

1. [First derivatives](01-first-derivatives.ipynb): what `%%tape` differentiates, `--wrt`,
   the `%grad` one-liner, finite differences by hand, and unconnected targets.
2. [Many targets and reuse](02-many-targets-and-reuse.ipynb): one tape, many questions;
   gradients of several targets; `tape.at`, `tape.function` with `jax.jit`, `jax.vmap`
   and `jax.grad`.
3. [Higher order and Hessians](03-higher-order-and-hessians.ipynb): second and third
   derivatives, Hessians with their eigenvalues and verdicts, and plots.
4. [Intermediates and control flow](04-intermediates-and-control-flow.ipynb): arrays,
   derivatives with respect to intermediate values, loops and `if`, and the recorded
   operations.
5. [Checking and compiling](05-checking-and-compiling.ipynb): comparing with finite
   differences (`--check`) and compiling with `--jit`.
6. [Minimize](06-minimize.ipynb): finding a minimum with `%minimize`.
7. [Optimizers compared](07-optimizers-compared.ipynb): SGD, momentum, Adam and friends
   on the same problem.
8. [Optimizer lab](08-optimizer-lab.ipynb): an interactive panel for learning rates and
   optimizers.
9. [From tf.GradientTape](09-from-tf-gradienttape.ipynb): a side-by-side guide for
   TensorFlow users.

Every magic has a help page: run `%%tape?`, `%grad?` or `%hessian?` in a cell.
"""),
]


# --------------------------------------------------------------------------- 01 first derivatives

FIRST = [
    md("""
# 1. First derivatives

Our running example is the parabola

$$y = a x^2 + b x + c \\qquad \\text{with } a = 1,\\; b = -2,\\; c = 1,$$

which is $(x - 1)^2$: its lowest point is at $x = 1$. Its slope is $2ax + b$, so at
$x = 0$ the slope is $-2$. Let's ask gradmagic.
"""),
    code("%load_ext gradmagic\n\nx = 0.0\na = 1.0\nb = -2.0\nc = 1.0"),
    code("%%tape\ny = a*x**2 + b*x + c"),
    md("""
The row is the target `y` (value 1), the columns are the inputs. Besides $dy/dx = -2$
you also get the derivatives with respect to the "constants": $dy/da = x^2 = 0$,
$dy/db = x = 0$ and $dy/dc = 1$. In TensorFlow you would have to *watch* constants for
that; here every floating-point number the cell reads is an input, in the order the cell
reads them.

**What counts as an input?** Floats: Python floats and NumPy or JAX floating scalars and
arrays. Integers, booleans, strings, functions and modules are never inputs; they shape
the computation but are not differentiated. Below, `power` (an int) and `shifted`
(a function) do not get a column, but gradmagic still differentiates *through* the
function:
"""),
    code("power = 2\n\ndef shifted(v):\n    return v - 1.0"),
    code("%%tape\nz = a * shifted(x)**power"),
    md("""
## Choosing inputs, and one-liners

`--wrt` (with respect to) picks the columns. For a single expression, the `%grad` line
magic is quicker: it shows and returns the derivative. The third cell moves to the
bottom of the parabola, where the slope is zero.
"""),
    code("%%tape --wrt x\ny = a*x**2 + b*x + c"),
    code("%grad a*x**2 + b*x + c --wrt x"),
    code("x = 1.0\n%grad a*x**2 + b*x + c --wrt x"),
    md("""
## The same tape at other points

A tape remembers the computation, so `tape.at(...)` evaluates it at other input values
without running the cell again (`--name quad` also stores the tape as `quad`). The lists
below are the derivatives with respect to x, a, b and c.
"""),
    code("%%tape --wrt x,a,b,c --name quad\ny = a*x**2 + b*x + c"),
    code("""
for point in (0.0, 1.0, 10.0):
    grads = quad.at(x=point).gradient("y", ["x", "a", "b", "c"])
    print(f"x = {point:4}:", [float(g) for g in grads])
print("x in the notebook is still", x)
"""),
    md("""
## Where the numbers come from: finite differences by hand

A derivative is the change of the output divided by a small change of the input. Nudge
the input by a small step $h$ on both sides and measure:

$$f'(x) \\approx \\frac{f(x + h) - f(x - h)}{2h}.$$

For $f(x) = 3x^2 + 2x - 1$ the exact answer is $f'(1) = 6 + 2 = 8$:
"""),
    code("""
def f(x):
    return 3*x**2 + 2*x - 1

h = 1e-4
(f(1 + h) - f(1 - h)) / (2*h)
"""),
    md("""
With two inputs, nudge one at a time. For $g(x_1, x_2) = (x_1 + 5)\\,x_2^2$ at
$(2, 3)$ the exact partials are $x_2^2 = 9$ and $2(x_1 + 5)x_2 = 42$:
"""),
    code("""
def g(x1, x2):
    return (x1 + 5) * x2**2

x1 = 2.0
x2 = 3.0
dg_dx1 = (g(x1 + h, x2) - g(x1 - h, x2)) / (2*h)
dg_dx2 = (g(x1, x2 + h) - g(x1, x2 - h)) / (2*h)
dg_dx1, dg_dx2
"""),
    md("""
Close, but not exact, and the result depends on the step. Automatic differentiation
gives the exact derivative (up to floating-point rounding) with no step to choose:
"""),
    code("%grad f(x) --wrt x"),
    code("%%tape\nresult = g(x1, x2)"),
    md("""
## Unconnected targets

When a target does not depend on an input at all, the derivative is shown as `0*`, the
star meaning *not connected*. TensorFlow returns `None` in that case (for example for a
constant it was not told to watch); `--unconnected none` gives you `None` too, in the
table and from `tape.gradient`:
"""),
    code("%%tape --unconnected none\nresult = g(x1, x2)\nside = x2**2 + 1"),
    code('_tape.gradient("side", ["x1", "x2"])'),
    md("""
## A few more examples

At $w = 2$: the derivative of $w \\cdot w$ is $2w = 4$; the derivative of $e^w$ is $e^w$
itself, $e^2 \\approx 7.389056$; and the derivative of $4^w$ is $\\ln 4 \\cdot 4^w$, that is
$16 \\ln 4 \\approx 22.18071$. Tables round to 6 significant digits;
`%gradmagic precision=7` shows one more.
"""),
    code("%gradmagic precision=7\nimport jax.numpy as jnp\n\nw = 2.0"),
    code("%%tape\nsquare = w * w\ngrowth = jnp.exp(w)\npower_of_4 = 4**w"),
    md("""
Back to the default precision, and a two-input loss $L = 2a^2 + 3b^3$ at $a = 2$,
$b = 3$: $\\partial L/\\partial a = 4a = 8$ and $\\partial L/\\partial b = 9b^2 = 81$.
With several `--wrt` names, `%grad` returns a tuple in the same order. (One-liners also
know `jax.numpy` functions without an import: `%grad exp(w) --wrt w` works as is.)
"""),
    code("%gradmagic precision=6\na = 2.0\nb = 3.0\n%grad 2*a**2 + 3*b**3 --wrt a,b"),
    md("""
Next: [2. Many targets and reuse](02-many-targets-and-reuse.ipynb).
"""),
]


# --------------------------------------------------------------------------- 02 many targets

REUSE = [
    md("""
# 2. Many targets and reuse

A TensorFlow `GradientTape` can answer one `gradient` call unless it is created with
`persistent=True`. A gradmagic tape has no such limit: record once, then ask as many
questions as you like, at the recorded point or at others.

Let $x = 3$, $y = x^2$ and $z = y^2 = x^4$. Then $dz/dx = 4x^3 = 108$ and $dy/dx = 2x = 6$.
"""),
    code("%load_ext gradmagic\nimport jax\nimport jax.numpy as jnp\n\nx = 3.0"),
    code("%%tape --name chain\ny = x**2\nz = y**2"),
    code('chain.gradient("z", "x"), chain.gradient("y", "x"), chain.gradient("z", "x")'),
    md("""
## Several targets at once

Give `gradient` a list of targets and their gradients add up, as in TensorFlow. With
$z_1 = 3x$ and $z_2 = x^2$ at $x = 5$ that is $3 + 10 = 13$. Targets can be named, or be
the values the cell produced.
"""),
    code("x = 5.0"),
    code("%%tape --name pair\nz1 = 3*x\nz2 = x**2"),
    code('pair.gradient(["z1", "z2"], "x"), pair.gradient([z1, z2], "x")'),
    md("""
## The answer has the shape of the question

Ask with one name and you get one value; ask with a list or a tuple and you get a list
or a tuple, in the same order. Here with $g(x_1, x_2) = (x_1 + 5)\\,x_2^2$ at $(2, 3)$
(`--quiet` stores the tape without showing it). The tape also tells you what it
recorded: `inputs`, `targets` and `values`.
"""),
    code("x1 = 2.0\nx2 = 3.0"),
    code("%%tape --quiet --name gt\ng = (x1 + 5) * x2**2"),
    code("""
print(gt.gradient("g", "x1"))
print(gt.gradient("g", ["x1", "x2"]))
print(gt.gradient("g", ("x1", "x2")))
print(gt.inputs, gt.targets, gt.values)
"""),
    md("""
## Other points, and a plain function

`tape.at(...)` re-evaluates the recorded computation at new input values; inputs you do
not mention keep their recorded values. The notebook's `x1` and `x2` are not touched.
"""),
    code("gt.at(x1=0.0, x2=1.0)"),
    md("""
`tape.function` is the cell as a pure function of its inputs, in `tape.inputs` order. It
is an ordinary JAX function, so the usual transformations apply: `jax.jit` compiles it,
`jax.vmap` evaluates it on a whole batch of points, and `jax.grad` differentiates it.
"""),
    code("g_of = gt.function\ng_of(2.0, 3.0), jax.jit(g_of)(2.0, 3.0)"),
    code("jax.vmap(g_of)(jnp.array([0.0, 1.0, 2.0]), jnp.array([1.0, 2.0, 3.0]))"),
    code("jax.grad(g_of, argnums=(0, 1))(2.0, 3.0)"),
    md("""
Next: [3. Higher order and Hessians](03-higher-order-and-hessians.ipynb).
"""),
]


# --------------------------------------------------------------------------- 03 higher order

HIGHER = [
    md("""
# 3. Higher-order derivatives and Hessians

The first derivative is a slope; the second derivative says how the slope changes, that
is, how the curve bends. In TensorFlow that takes one tape inside another. With
gradmagic, `--order N` lists every derivative up to order N, and `--hessian` gives the
matrix of second derivatives for several inputs.

For the parabola $y = x^2 - 2x + 1$ the second derivative is $2$ everywhere:
"""),
    code("%load_ext gradmagic\n\nx = 0.0\na = 1.0\nb = -2.0\nc = 1.0"),
    code("%%tape --wrt x --order 2\ny = a*x**2 + b*x + c"),
    md("""
For $y = x^3$ at $x = 1$: $3x^2 = 3$, $6x = 6$ and $6$.
"""),
    code("x = 1.0"),
    code("%%tape --order 3\ny = x**3"),
    md("""
## The Hessian and what it says

With several inputs the second derivatives form the *Hessian* matrix. For
$g(x_1, x_2) = (x_1 + 5)\\,x_2^2$ at $(2, 3)$ it is
$\\begin{pmatrix} 0 & 2x_2 \\\\ 2x_2 & 2(x_1 + 5) \\end{pmatrix}
= \\begin{pmatrix} 0 & 6 \\\\ 6 & 14 \\end{pmatrix}$.

The top-left entry is 0 because $g$ is a straight line in the $x_1$ direction.
TensorFlow's nested tapes report `None` for it (the first derivative $x_2^2$ does not
depend on $x_1$, so the graph is not connected); gradmagic reports the true value, 0.
"""),
    code("x1 = 2.0\nx2 = 3.0"),
    code("%%tape --hessian\ng = (x1 + 5) * x2**2"),
    md("""
The eigenvalues of the Hessian tell the shape of the surface near the point. One is
negative and one positive: the surface bends down in one direction and up in another,
like a saddle. (The gradient is not zero here, so this point is not itself a saddle
point; the verdict says so.)

For just the matrix, use the `%hessian` one-liner:
"""),
    code("H = %hessian (x1 + 5) * x2**2 --wrt x1,x2\nH"),
    md("""
For contrast, a bowl $(p - 1)^2 + 2(q + 2)^2$ at its lowest point $(1, -2)$: the
gradient vanishes and both eigenvalues are positive (*positive definite*), so this is a
local minimum.
"""),
    code("p = 1.0\nq = -2.0"),
    code("%%tape --hessian\nbowl = (p - 1)**2 + 2*(q + 2)**2"),
    md("""
## Seeing it: `--plot`

With one input, `--plot` draws the target around the current point with its tangent
line; with `--hessian` it adds the quadratic approximation built from the first and
second derivatives. Here $x^3$ near $x = 1$: the tangent follows the curve only very
close to the point, the quadratic a little further.
"""),
    code("%%tape --hessian --plot\ny = x**3"),
    md("""
With two inputs, `--plot` draws contour lines and the gradient as a red arrow. The
arrow points uphill, across the contours, in the direction where $g$ grows fastest.
"""),
    code("%%tape --plot\ng = (x1 + 5) * x2**2"),
    md("""
Next: [4. Intermediates and control flow](04-intermediates-and-control-flow.ipynb).
"""),
]


# --------------------------------------------------------------------------- 04 intermediates

INTERMEDIATES = [
    md("""
# 4. Intermediate values and control flow

Inputs do not have to be single numbers. Start with a 2×2 array of ones, add up its
entries ($y = 4$) and square the sum ($z = 16$). Each entry of $x$ adds to $y$ one for
one, so $\\partial z/\\partial x_{ij} = 2y = 8$ for every entry.
"""),
    code("%load_ext gradmagic\nimport jax.numpy as jnp\n\nx = jnp.ones((2, 2))"),
    code("%%tape\ny = jnp.sum(x)\nz = y**2"),
    md("""
Array-valued derivatives are shown with their shape and entries.

## With respect to an intermediate value

`y` is computed inside the cell, yet you can still ask how `z` depends on it: list it in
`--wrt`. The point line marks it as *intermediate*, and $dz/dy = 2y = 8$.
"""),
    code("%%tape --wrt x,y\ny = jnp.sum(x)\nz = y**2"),
    md("""
## Python control flow just works

The cell runs as ordinary Python, so loops and `if` statements are fine. gradmagic
differentiates the path the code actually took. The function below multiplies by `x`
only on steps 2, 3 and 4 of an `n`-step loop:

- with 6 or 5 steps it computes $x^3$, whose derivative at $x = 2$ is $3x^2 = 12$;
- with 4 steps it stops at $x^2$, whose derivative is $2x = 4$.

`n` is an integer, so it is not an input: it only decides the path.
"""),
    code("""
def product(x, n):
    result = 1.0
    for step in range(n):
        if step in (2, 3, 4):
            result = result * x
    return result

x = 2.0
"""),
    code(
        "%%tape\nsix_steps = product(x, 6)\nfive_steps = product(x, 5)\nfour_steps = product(x, 4)"
    ),
    md("""
## Looking at the tape: `--show-tape`

`--show-tape` lists the operations that were recorded, grouped under the cell line that
produced them, with the cell's own names (`t1`, `t2`, … are unnamed temporaries). For
four steps, only two multiplications happened:
"""),
    code("%%tape --show-tape\nfour_steps = product(x, 4)"),
    md("""
An `if` on an input's value works too, without any special syntax. The derivative is
that of the branch taken at this point: at $x = 2$ the cell computes $x^2$, so the
derivative is $2x = 4$.
"""),
    code("%%tape\nif x > 1:\n    piece = x**2\nelse:\n    piece = -x"),
    md("""
Next: [5. Checking and compiling](05-checking-and-compiling.ipynb).
"""),
]


# --------------------------------------------------------------------------- 05 checking, jit

CHECKING = [
    md("""
# 5. Checking and compiling

## `--check`: compare with finite differences

Automatic differentiation is exact, but it is good to be able to check. `--check` puts a
central finite-difference estimate (the method from notebook 1) beside each derivative,
with the relative error. For $f(x) = 3x^2 + 2x - 1$ at $x = 1$:
"""),
    code("%load_ext gradmagic\nimport jax.numpy as jnp\n\nx = 1.0"),
    code("%%tape --check\nf = 3*x**2 + 2*x - 1"),
    md("""
The small difference comes from the finite step, not from autodiff. Where a function has
a kink, the two methods can genuinely disagree. $|x|$ has no derivative at 0: JAX
reports the slope of one side (1), while the symmetric difference sees 0. gradmagic
warns you:
"""),
    code("x = 0.0"),
    code("%%tape --check\nv = jnp.abs(x)"),
    md("""
## `--jit`: compiled derivatives

`--jit` compiles the cell's derivative computation with XLA (the analogue of
TensorFlow's `tf.function`). Running the cell again with inputs of the same shapes
reuses the compiled program instead of compiling again. (`%gradmagic jit=on` turns it on
for every `%%tape` cell.)

The compiled gradient of our parabola at $x = 3$ is $dy/dx = 4$ with $y = 4$:
"""),
    code("a = 1.0\nb = -2.0\nc = 1.0\nx = 3.0"),
    code("%%tape --jit --wrt x --name compiled\ny = a*x**2 + b*x + c"),
    md("""
`compiled.at(...)` runs the same compiled computation at other points. Each line shows
$(dy/dx,\\ y)$:
"""),
    code("""
for point in (3.0, 1.0, 2.0, 0.0):
    at_point = compiled.at(x=point)
    slope = float(at_point.gradient("y", "x"))
    print(f"x = {point}: ({slope:g}, {float(at_point.values['y']):g})")
"""),
    md("""
## What changes under compilation

While compiling, JAX traces the cell with placeholder values, so the cell cannot look at
an input's actual value. A Python `if` on an input therefore cannot be compiled, and
gradmagic stops with a message that names the line and the fix (this cell is expected to
fail):
"""),
    code("x = 2.0"),
    code("%%tape --jit\nif x > 1:\n    y = x**2\nelse:\n    y = -x", "raises-exception"),
    md("""
The fix: drop `--jit` (notebook 4 showed that plain cells branch freely), or write the
choice as an array operation. `jnp.where(condition, if_true, if_false)` computes both
branches and picks one, which compiles fine:
"""),
    code("%%tape --jit\ny = jnp.where(x > 1, x**2, -x)"),
    md("""
This ends the derivative half of the series. Next:
[6. Minimize](06-minimize.ipynb), where derivatives are put to work finding minima.
"""),
]


# --------------------------------------------------------------------------- 06 minimize

MINIMIZE = [
    md("""
# 6. Minimize

A derivative says which way is uphill, so stepping the other way goes down. Gradient
descent repeats that small step,

$$x \\leftarrow x - \\text{lr} \\cdot \\frac{dy}{dx},$$

until the slope is flat. The learning rate `lr` sets how far each step goes. `%minimize`
runs this loop for you (with plain gradient descent, called SGD, or any other optax
optimizer), compiled into one program, and writes the minimum back into your variables.

Back to the parabola $y = x^2 - 2x + 1 = (x - 1)^2$, whose lowest point is $x = 1$:
"""),
    code("%load_ext gradmagic\n\nx = 0.0\na = 1.0\nb = -2.0\nc = 1.0"),
    md("""
## One line

One thousand SGD steps with learning rate 0.01, starting from $x = 0$ (0.01 and 1000 are
also the defaults). For this section we show 7 significant digits instead of 6.
"""),
    code("%gradmagic precision=7\n%minimize a*x**2 + b*x + c --wrt x --lr 0.01 --steps 1000"),
    md("""
The table shows where each variable started and ended, and the objective at both ends.
$x$ reached $0.9999985$ and $y$ is 0 to float32 precision. TensorFlow's tutorials print
$0.9999986$ for the same run: the two are neighbouring float32 numbers (about
$6 \\cdot 10^{-8}$ apart near 1), and which one a loop lands on depends on how the rounding
of each update falls (notebook 9 has a step-by-step loop that lands on the other one).

`%minimize` wrote the result back: `x` is now an ordinary Python float at the minimum.
"""),
    code('print(f"x = {x:.7f}, y = {a*x**2 + b*x + c:.7f}")'),
    md("""
## Four ways to say what to minimise

Everything below starts again from $x = 0$ and lands on the same number.

**A function without arguments** that reads global variables, the way TensorFlow's
`optimizer.minimize(f, [x])` expects its loss. Give its name; `--wrt` says which of the
globals it reads may change:
"""),
    code("x = 0.0\n\ndef f():\n    return a*x**2 + b*x + c"),
    code("%minimize f --wrt x"),
    md("""
**A whole cell** with `%%minimize`: its last expression is the objective (or name a
variable it assigns with `--of`).
"""),
    code("x = 0.0"),
    code("%%minimize --wrt x\ny = a*x**2 + b*x + c\ny"),
    md("""
**A target of the last `%%tape`**: record the cell once, then minimise any of its targets
by name.
"""),
    code("x = 0.0"),
    code("%%tape --quiet\ny = a*x**2 + b*x + c"),
    code("%minimize y --wrt x"),
    md("""
Only the variables change: `y` still holds the value the tape cell computed at $x = 0$.
The objective at the minimum is `_min.loss` (more on `_min` below).
"""),
    code("x, y, _min.loss"),
    code("%gradmagic precision=6"),
    md("""
## Gradient descent by hand, then in one line

To see that nothing magic happens, here is the loop written out for
$f(x) = 3x^2 + 2x - 1$, whose minimum is at $f'(x) = 6x + 2 = 0$, so $x = -1/3$:
100 steps with learning rate 0.1, each one asking `%grad` for the slope.
"""),
    code("""
x = 0.0
for step in range(100):
    slope = %grad 3*x**2 + 2*x - 1 --wrt x
    x = x - 0.1 * slope
print(f"x = {float(x):.7f}")
"""),
    md("""
The same in one line (with a single floating variable in the expression, `--wrt` can be
left out):
"""),
    code("x = 0.0"),
    code("%minimize 3*x**2 + 2*x - 1 --lr 0.1 --steps 100"),
    md("""
## More bowls

$2x^2 + x + 3$ from $x = 1$: the slope $4x + 1$ vanishes at $x = -0.25$, where the
value is $2.875$.
"""),
    code("x = 1.0"),
    code("%minimize 2*x**2 + x + 3 --lr 0.1"),
    md("""
Two variables: $a^2 + 2b^2$ from $(1, 1)$, learning rate 0.1, 1000 steps. Both go to 0.
"""),
    code("a = 1.0\nb = 1.0"),
    code("%minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --steps 1000"),
    md("""
## What `_min` remembers

Every run is stored as `_min` (and under another name with `--name`): the final
`values`, the final `loss`, the `steps` run, whether it `converged` (only meaningful
with `--tol`, below), the optimizer and learning rate, the objective at every step
(`history`, starting with the objective at the start) and the variables at every step
(`path`).
"""),
    code("_min.values, _min.loss, _min.steps, _min.converged, _min.optimizer, _min.lr"),
    code("""
print("steps recorded:", len(_min.history))
print("objective:", [round(float(v), 4) for v in _min.history[:5]])
for name, values in _min.path.items():
    print(f"{name}:", [round(float(v), 4) for v in values[:5]])
"""),
    md("""
Each step multiplies $a$ by $1 - 0.1 \\cdot 2 = 0.8$ and $b$ by $1 - 0.1 \\cdot 4 = 0.6$:
the path shows exactly that.

## Stopping early: `--tol`

A thousand steps is usually more than needed. `--tol` stops as soon as the gradient's
length falls below the tolerance, and the table says where it stopped:
"""),
    code("x = 0.0\na = 1.0\nb = -2.0\nc = 1.0"),
    code("%minimize a*x**2 + b*x + c --wrt x --lr 0.1 --tol 1e-3"),
    md("""
## Seeing the path: `--plot`

Every run draws its loss curve. `--plot` adds the path the variables took: over the
curve for one variable, over contour lines for two. A larger learning rate makes the
path interesting: with lr 0.4, $b$ is multiplied by $1 - 0.4 \\cdot 4 = -0.6$ each
step, so it jumps from one side of the valley to the other while it shrinks.
"""),
    code("a = 1.0\nb = 1.0"),
    code("%minimize a**2 + 2*b**2 --wrt a,b --lr 0.4 --steps 20 --plot"),
    md("""
## When the learning rate is too large

On $x^2 + 10y^2$ each SGD step multiplies $y$ by $1 - 20 \\cdot \\text{lr}$. Above
$\\text{lr} = 0.1$ that factor is below $-1$: $y$ flips sign and grows every step until
the numbers overflow. gradmagic notices, stops, leaves the variables at their starting
values, and suggests a learning rate from the curvature at the start (the largest
eigenvalue of the Hessian, $\\lambda_{max} = 20$):
"""),
    code("x = 1.0\ny = 1.0"),
    code("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.12"),
    code("x, y"),
    md("""
With the suggested learning rate it converges:
"""),
    code("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.05"),
    md("""
Why $2/\\lambda_{max}$, and what else changes with the learning rate, is the subject of
the interactive [8. Optimizer lab](08-optimizer-lab.ipynb). First,
[7. Optimizers compared](07-optimizers-compared.ipynb) tries other optimizers than SGD.
"""),
]


# --------------------------------------------------------------------------- 07 compare

COMPARE = [
    md("""
# 7. Optimizers compared

Plain gradient descent (SGD) is not the only way down. optax, the optimizer library
gradmagic uses, offers many others. The ones you meet most often:

- **momentum**: keeps a running sum of past gradients, so consistent directions speed up
  and back-and-forth directions cancel out;
- **adam** and **rmsprop**: divide each variable's step by a running average of its own
  gradient size, so every variable moves at roughly the learning rate per step;
- **adagrad**: like rmsprop, but divides by the sum of *all* past squared gradients, so its
  steps keep shrinking.

`--compare` runs the same problem from the same start with each optimizer, draws their
loss curves and paths together, and tabulates the results. The notebook's variables are
left as they were. Four significant digits are plenty to compare, so this notebook shows
numbers with `precision=4`.
"""),
    code("%load_ext gradmagic\n%gradmagic precision=4\n\na = 1.0\nb = 1.0"),
    md("""
## A round bowl

$a^2 + 2b^2$ from $(1, 1)$, learning rate 0.1, 100 steps:
"""),
    code(
        "%minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --steps 100 "
        "--compare sgd,momentum,adam,rmsprop,adagrad"
    ),
    md("""
How to read it: the table gives each optimizer's final objective and variables; the
left plot is the objective per step (on a log scale when it spans many orders of
magnitude), the right one the paths over the contour lines of the objective.

On a mild bowl with a good learning rate, plain SGD wins by far: each step shrinks $a$
by a factor 0.8 and $b$ by 0.6. Momentum overshoots and spirals in. Adam and rmsprop
move both variables by about the learning rate per step whatever the gradient, so they
head along the diagonal and then hover around the minimum. Rmsprop even dives almost to
zero, but as the gradients vanish so does the average it divides by, its steps grow
too large, and it is thrown back out: the spike in its curve. Adagrad's steps shrink
as it goes. The results of every run stay available:
"""),
    code("""
adam = _min.results["adam"]
print(adam.steps, f"{adam.loss:.4g}", {name: f"{value:.4g}" for name, value in adam.values.items()})
"""),
    md("""
## A long, narrow valley

$x^2 + 10y^2$ is ten times steeper along $y$ than along $x$ (its Hessian has eigenvalues
2 and 20). SGD must keep its learning rate below $2/20 = 0.1$ or the $y$ direction blows
up (notebook 6), and with such a small rate the shallow $x$ direction creeps. Here is a
cautious learning rate, 0.02:
"""),
    code("x = 1.0\ny = 1.0"),
    code(
        "%minimize x**2 + 10*y**2 --wrt x,y --lr 0.02 --steps 100 "
        "--compare sgd,momentum,adam,rmsprop,adagrad"
    ),
    md("""
SGD finished $y$ long ago, but $x$ is still at 0.017. Momentum builds up speed along the
valley floor and gets five times closer in $x$, but it is still swinging across the
valley in $y$, so its objective ends about even with SGD's (0.9 is more momentum than
this valley needs; notebook 8 tunes it). The per-variable methods do not care that one
direction is steeper: they rescale each variable on its own, and here rmsprop goes all
the way to the bottom. Adagrad's ever-shrinking steps leave it far behind at this
learning rate.

## The Rosenbrock banana

$(1 - x)^2 + 100(y - x^2)^2$ has its minimum at $(1, 1)$ at the end of a curved, flat
valley: a classic test for optimizers. From the usual start $(-1.2, 1)$, with learning
rate 0.001 and 1000 steps:
"""),
    code("x = -1.2\ny = 1.0"),
    code(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --lr 0.001 --steps 1000 "
        "--compare sgd,momentum,adam,rmsprop,adagrad"
    ),
    md("""
Only momentum gets close. SGD follows the valley but slowly; adam and adagrad with such a
small learning rate have barely left the start. (A larger rate does not simply fix it:
at 0.01, SGD and momentum diverge within a few steps, because the valley walls are very
steep.)

## L-BFGS: using curvature

`--optimizer lbfgs` builds an estimate of the curvature from the last few gradients and
picks every step length with a line search, so it needs no learning rate (any `--lr` is
ignored). On the banana it reaches $(1, 1)$ in a few dozen steps:
"""),
    code(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs --steps 100 "
        "--tol 1e-5 --plot"
    ),
    md("""
## Any optax optimizer

Besides the names above, `--optimizer` (and `--compare`) accept any optax optimizer by
its optax name, for example `yogi`, `lion`, `nadam` or `radam`. Yogi on the banana:
"""),
    code("x = -1.2\ny = 1.0"),
    code(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer yogi --lr 0.05 --steps 2000"
    ),
    md("""
A misspelt name gets a suggestion and the list of every name gradmagic knows (this cell is
expected to fail):
"""),
    code(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer yogii",
        "raises-exception",
    ),
    md("""
Next: [8. Optimizer lab](08-optimizer-lab.ipynb), where you move the learning rate with a
slider and watch.
"""),
]


# --------------------------------------------------------------------------- 08 optimizer lab

LAB = [
    md("""
# 8. Optimizer lab

`%minimize ... --widgets` opens a panel of controls for one problem: learning rate,
optimizer, steps, momentum and start point, with a plot and a summary that follow every
change. Our subject is the valley from notebook 7,

$$x^2 + 10y^2 \\quad \\text{from } (1, 1).$$

Its Hessian is $\\begin{pmatrix} 2 & 0 \\\\ 0 & 20 \\end{pmatrix}$: the curvature is
$\\lambda_{min} = 2$ along $x$ and $\\lambda_{max} = 20$ along $y$. One SGD step multiplies
the distance to the minimum along each of these directions by $1 - \\text{lr} \\cdot \\lambda$.
So:

- SGD is **stable** only while $|1 - \\text{lr} \\cdot \\lambda_{max}| < 1$, that is
  $\\text{lr} < 2/\\lambda_{max} = 0.1$;
- the **best step** makes the slowest direction and the fastest one shrink equally fast:
  $\\text{lr} = 2/(\\lambda_{min} + \\lambda_{max}) = 1/11 \\approx 0.0909$, where both
  factors are $\\pm 9/11$.
"""),
    code("%load_ext gradmagic\n\nx = 1.0\ny = 1.0"),
    code("panel = %minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets\npanel"),
    md("""
What you see when you run the cell (a saved copy of this notebook shows only the panel's
one-line text summary; run the notebook to get the live panel):

- the **learning rate** slider, on a log scale, with the stability bound $2/\\lambda_{max}$
  marked under it, and a line saying whether the current rate is below it;
- the **optimizer** menu, and a **momentum** slider (β1 for adam, decay for rmsprop) for
  the optimizers that have one;
- **steps**, the **best step** button, and the **start** point;
- the loss curve and the path over the contour lines, redrawn on every change;
- the result table and, under it, the `%minimize` line that reproduces the current
  settings, ready to copy;
- **Use these values**, the only control that changes your notebook: until you press it,
  `x` and `y` stay where they are.

Move the slider past the red mark and watch the path zigzag outwards.

## The same experiments, in code

Every control is an attribute of the panel (`panel.lr`, `panel.optimizer`,
`panel.steps`, `panel.momentum`, `panel.start`, `panel.best_step`, `panel.use`), and
setting a value has the same effect as moving the control. That is how the rest of this
notebook records what happens. The panel has worked out the curvature at the start:
"""),
    code(
        'print(f"λmin = {panel.lambda_min:g}, λmax = {panel.lambda_max:g}, '
        '2/λmax = {panel.bound:g}")'
    ),
    md("""
At the starting rate 0.01, 200 steps were plenty for the steep $y$ but not for the
shallow $x$ (factor 0.98 per step):
"""),
    code("print(panel.text_summary())"),
    md("""
Just below the bound, $x$ is done quickly, but now $y$ bounces from side to side,
shrinking only by a factor $|1 - 0.099 \\cdot 20| = 0.98$ per step, the same factor $x$
had before, so $y$ ends where $x$ did:
"""),
    code("panel.lr.value = 0.099\nprint(panel.text_summary())"),
    md("""
Past the bound, SGD diverges. The panel says so and suggests a rate, and the notebook's
variables are untouched:
"""),
    code("panel.lr.value = 0.12\nprint(panel.text_summary())"),
    md("""
## The best step

**best step** sets the rate to $2/(\\lambda_{min} + \\lambda_{max})$. Over 50 steps both
directions now shrink by the same factor, $9/11$ per step:
"""),
    code("""
panel.steps.value = 50
panel.best_step.click()
print(panel.lr.value)
print(panel.text_summary())
"""),
    md("""
## Momentum

Momentum adds a fraction β of the previous step to each new one. Switching the optimizer
shows the momentum slider, at its usual value 0.9. On this small problem that is far too
much: the path swings around the minimum for a long time.
"""),
    code('panel.optimizer.value = "momentum"\nprint(panel.text_summary())'),
    md("""
Tuned for this valley, momentum beats the best SGD step by a wide margin. The classic
choice for a quadratic is
$\\beta = \\left(\\frac{\\sqrt{\\lambda_{max}} - \\sqrt{\\lambda_{min}}}{\\sqrt{\\lambda_{max}} + \\sqrt{\\lambda_{min}}}\\right)^2 \\approx 0.27$
and $\\text{lr} = 4/(\\sqrt{\\lambda_{min}} + \\sqrt{\\lambda_{max}})^2 \\approx 0.115$,
which is beyond the SGD bound: with momentum, the stable range grows to
$\\text{lr} < 2(1 + \\beta)/\\lambda_{max} \\approx 0.127$.
"""),
    code("panel.momentum.value = 0.27\npanel.lr.value = 0.115\nprint(panel.text_summary())"),
    md("""
The line that reproduces these settings outside the panel:
"""),
    code("from IPython.display import HTML\n\nHTML(panel.line.value)"),
    md("""
## Keeping the result

So far `x` and `y` are unchanged. **Use these values** writes the current result into the
notebook and stores it as `_min`:
"""),
    code("print(x, y)\npanel.use.click()\nprint(x, y)\nprint(panel.message.value)"),
    code("_min is panel.result"),
    md("""
Next: [9. From tf.GradientTape](09-from-tf-gradienttape.ipynb), a translation guide for
TensorFlow users.
"""),
]


# --------------------------------------------------------------------------- 09 from TensorFlow

FROM_TF = [
    md("""
# 9. Coming from `tf.GradientTape`

If you learnt automatic differentiation with TensorFlow, this page maps what you know to
gradmagic. The main differences:

- **no variables or constants**: plain Python floats (or NumPy/JAX arrays) are enough;
  every floating value a cell reads is an input unless you choose with `--wrt`;
- **no `with` block**: put `%%tape` on top of the cell; it runs as a normal cell;
- **no one-shot tapes**: a tape answers any number of questions, at the recorded point or
  at others;
- **no optimizer loop**: `%minimize` runs the whole loop, compiled, and writes the
  result back into your variables, as a `tf.Variable` would be updated in place.

| TensorFlow | gradmagic |
|---|---|
| `x = tf.Variable(0.0)`, `a = tf.constant(1.0)` | `x = 0.0`, `a = 1.0` |
| `with tf.GradientTape() as tape:` around the computation | `%%tape` on top of the cell |
| `tape.gradient(y, x)` | the table shows ∂y/∂x; `_tape.gradient("y", "x")` |
| `tape.watch([a, b, c])` | nothing: every float is watched; narrow with `--wrt x,a` |
| `tape.gradient(y, [x, a, b, c])` | `_tape.gradient("y", ["x", "a", "b", "c"])`: a list back |
| `tape.gradient(z, [x1, x2])` gives `[None, None]` for constants not watched | constants are inputs too: 9, 42 |
| `tf.GradientTape(persistent=True)`, then `del tape` | nothing: every tape is reusable |
| `tape.gradient([z1, z2], x)` (gradients add up) | `_tape.gradient(["z1", "z2"], "x")` |
| `t.gradient(z, y)` for an intermediate `y` | `%%tape --wrt x,y` |
| `None` for a target that does not depend on a source | `0*` (not connected); `--unconnected none` gives `None` |
| two nested tapes for d²y/dx² | `%%tape --order 2`, or `tape.derivative("y", "x", order=2)` |
| nested persistent tapes and a list comprehension for the Hessian | `%%tape --hessian`, `%hessian expr --wrt x1,x2`, `tape.hessian("g")` |
| `x.assign(1.0)`, then a new tape | `tape.at(x=1.0)`, or `x = 1.0` and run the cell again |
| `approximate_derivative(f, x)` by hand | `%%tape --check` puts finite differences beside each value |
| `@tf.function` around a tape | `%%tape --jit`, `%gradmagic jit=on`, or `jax.jit(tape.function)` |
| loop with `x.assign_sub(lr * tape.gradient(y, x))` | loop with `slope = %grad expr --wrt x` and `x = x - lr * slope` |
| `opt = tf.keras.optimizers.SGD(0.01)` + loop with `opt.apply_gradients([(dy_dx, x)])` | `%minimize expr --wrt x --lr 0.01 --steps 1000` |
| loop with `opt.minimize(f, [x])`, `f` taking no arguments | `%minimize f --wrt x` |
| `@tf.function` around the whole training loop | nothing: `%minimize` is always one compiled loop |
| `@tf.function def train(epochs, f, var)` | a Python function around `%minimize $f --wrt $var --steps $epochs` |
| `tf.keras.optimizers.Adam`, `Adagrad`, `RMSprop` | `--optimizer adam`, `adagrad`, `rmsprop` (or any optax name) |
| `print(x)`, `tf.print(x)` | `x` is a plain float; the run itself is `_min` |

The cells below replay the main TensorFlow examples on the parabola
$y = x^2 - 2x + 1$.
"""),
    code("%load_ext gradmagic\nimport jax\n\nx = 0.0\na = 1.0\nb = -2.0\nc = 1.0"),
    md("""
## A tape, with the constants watched

One cell gives what a tape with `tape.watch([a, b, c])` and
`tape.gradient(y, [x, a, b, c])` gives: $-2, 0, 0, 1$ at $x = 0$.
"""),
    code("%%tape --name quad\ny = a*x**2 + b*x + c"),
    code('quad.gradient("y", ["x", "a", "b", "c"])'),
    md("""
## A compiled gradient function

TensorFlow's `@tf.function` version returns $(dy/dx,\\ y)$ for any $x$. The tape's
`function` is a plain JAX function of its inputs, so `jax.value_and_grad` and `jax.jit`
make the same thing (here with the inputs narrowed to `x`):
"""),
    code("%%tape --wrt x --quiet --name quad_x\ny = a*x**2 + b*x + c"),
    code("""
value_and_slope = jax.jit(jax.value_and_grad(quad_x.function))
for point in (0.0, 1.0, 3.0, 2.0):
    value, slope = value_and_slope(point)
    print(f"x = {point}: ({float(slope):g}, {float(value):g})")
"""),
    md("""
## The update loop, written out

The first TensorFlow version updates the variable by hand, 1000 times, with learning
rate 0.01. With the compiled slope function from the tape:
"""),
    code("""
slope_at = jax.jit(jax.grad(quad_x.function))
x = 0.0
for step in range(1000):
    x = x - 0.01 * slope_at(x)
print(f"x = {float(x):.7f}, y = {float(quad_x.function(x)):.7f}")
"""),
    md("""
That is TensorFlow's eager result, 0.9999986. The compiled versions below land on the
neighbouring float32 number, 0.9999985, exactly as TensorFlow's compiled versions do
(see notebook 6).

## `optimizer.minimize` with a loss that takes no arguments
"""),
    code("def fun_to_min():\n    return a*x**2 + b*x + c\n\nx = 0.0"),
    code("%gradmagic precision=7\n%minimize fun_to_min --wrt x --lr 0.01 --steps 1000"),
    md("""
## A generic `train(epochs, f, var)`

Inside a function, a magic line can use the function's own variables with `$name`.
`%minimize` is already compiled, so the function is only a convenience:
"""),
    code("""
def train(epochs, f, var):
    %minimize $f --wrt $var --lr 0.01 --steps $epochs --quiet
    return _min.values[var], _min.loss

x = 0.0
position, loss = train(1000, "fun_to_min", "x")
print(f"x = {position:.7f}, y = {loss:.7f}")
"""),
    md("""
## Other optimizers

Where TensorFlow offers `tf.keras.optimizers.Adagrad`, `Adam` or `RMSprop`, name them with
`--optimizer`. $2x^2 + x + 3$ from $x = 1$ with Adam:
"""),
    code("%gradmagic precision=6\nx = 1.0"),
    code("%minimize 2*x**2 + x + 3 --optimizer adam --lr 0.01 --steps 1000"),
    md("""
That is the end of the series. Back to the [welcome page](00-welcome.ipynb) for the
overview, or run `%minimize?` and `%%tape?` for every option.
"""),
]


NOTEBOOKS = {
    "00-welcome": WELCOME,
    "01-first-derivatives": FIRST,
    "02-many-targets-and-reuse": REUSE,
    "03-higher-order-and-hessians": HIGHER,
    "04-intermediates-and-control-flow": INTERMEDIATES,
    "05-checking-and-compiling": CHECKING,
    "06-minimize": MINIMIZE,
    "07-optimizers-compared": COMPARE,
    "08-optimizer-lab": LAB,
    "09-from-tf-gradienttape": FROM_TF,
}

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy(path: Path) -> bool:
    """Drop widget state and widget views from an executed notebook; True if it changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = notebook.metadata.pop("widgets", None) is not None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/plain" in data:
                del data[WIDGET_VIEW]
                changed = True
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(arguments: list[str]) -> None:
    tidying = "--tidy" in arguments
    names = [argument for argument in arguments if argument != "--tidy"]
    for stem, cells in NOTEBOOKS.items():
        if names and not any(stem.startswith(name) for name in names):
            continue
        if tidying:
            if tidy(HERE / f"{stem}.ipynb"):
                print("tidied", f"notebooks/{stem}.ipynb")
        else:
            print("wrote", build(stem, cells).relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
