"""Write the derivative tutorials (00-05) as clean, unexecuted .ipynb files.

Run it, then execute the notebooks so their saved outputs are what nbval compares:

    .venv/bin/python notebooks/build_notebooks.py
    .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        --ExecutePreprocessor.record_timing=False notebooks/0[0-5]-*.ipynb
    .venv/bin/python -m pytest --nbval notebooks -q

Cells are written with fixed ids, so rebuilding a notebook gives the same file.
Each notebook is a list of cells: ``md(...)`` for prose, ``code(...)`` for code.
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


NOTEBOOKS = {
    "00-welcome": WELCOME,
    "01-first-derivatives": FIRST,
    "02-many-targets-and-reuse": REUSE,
    "03-higher-order-and-hessians": HIGHER,
    "04-intermediates-and-control-flow": INTERMEDIATES,
    "05-checking-and-compiling": CHECKING,
}


def main(names: list[str]) -> None:
    for stem, cells in NOTEBOOKS.items():
        if names and not any(stem.startswith(name) for name in names):
            continue
        print("wrote", build(stem, cells).relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
