"""Classic test functions for optimisation, ready for ``%minimize`` and its plots.

    from gradmagic.functions import rosenbrock, himmelblau
    %minimize rosenbrock(x, y) --wrt x,y --optimizer adam --lr 0.01 --plot

Calling convention
------------------
* The two-variable functions take two numbers, ``f(x, y)``; arrays broadcast, so
  ``f(X, Y)`` on a mesh grid gives the surface.
* Those defined in any dimension (:func:`rosenbrock`, :func:`rastrigin`,
  :func:`styblinski_tang`) also take one array, ``f(v)``, whose first axis holds the
  coordinates (``f(jnp.stack([X, Y]))`` is ``f(X, Y)``), or any number of scalars,
  ``f(x, y, z)``.

Every function computes with ``jax.numpy`` (imported when first called, so importing this
module stays cheap), so ``jax.grad``, ``jax.vmap`` and ``%minimize`` go through it.  Each
carries what a lesson needs beside the formula:

* ``minima``: the documented global minima in two dimensions, as ``(x, y)`` tuples (all
  four of Himmelblau's; none for the saddle),
* ``minimum_value``: the objective there (None where the function is unbounded below),
* ``box``: a plotting box ``((xlo, xhi), (ylo, yhi))`` that shows the landscape's shape.

Formulas, minima and domains are those of Wikipedia's "Test functions for optimization"
(https://en.wikipedia.org/wiki/Test_functions_for_optimization), to the digits given there
or, where it rounds, the digits of the cited papers (Himmelblau's other three minima,
Styblinski–Tang's coordinate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "beale",
    "booth",
    "himmelblau",
    "ill_conditioned",
    "rastrigin",
    "rosenbrock",
    "saddle",
    "styblinski_tang",
    "three_hump_camel",
]

Box = tuple[tuple[float, float], tuple[float, float]]

# Styblinski–Tang: the root of 4t³ − 32t + 5 = 0 that is the global minimum of each term.
STYBLINSKI_TANG_X = -2.903534027771177
STYBLINSKI_TANG_PER_DIMENSION = (
    STYBLINSKI_TANG_X**4 - 16 * STYBLINSKI_TANG_X**2 + 5 * STYBLINSKI_TANG_X
) / 2


def documented(
    minima: Sequence[tuple[float, float]], minimum_value: float | None, box: Box
) -> Callable[[Callable], Callable]:
    """Attach ``minima``, ``minimum_value`` and ``box`` to a test function."""

    def attach(function: Callable) -> Callable:
        function.minima = tuple(tuple(float(c) for c in point) for point in minima)
        function.minimum_value = minimum_value
        function.box = box
        return function

    return attach


def coordinates(arguments: tuple[Any, ...], name: str) -> Any:
    """The point as one array whose first axis holds the coordinates: ``f(v)`` passes
    ``v`` through, ``f(x, y, …)`` stacks the (broadcast) scalars or arrays."""
    import jax.numpy as jnp

    if not arguments:
        raise TypeError(f"{name}() takes a point: {name}(x, y) or {name}(v) with an array v.")
    if len(arguments) == 1:
        point = jnp.asarray(arguments[0])
        if point.ndim == 0:
            point = point[None]
        return point
    return jnp.stack(jnp.broadcast_arrays(*[jnp.asarray(a) for a in arguments]))


@documented([(1.0, 1.0)], 0.0, ((-2.0, 2.0), (-1.0, 3.0)))
def rosenbrock(*point: Any) -> Any:
    """Rosenbrock's banana valley: easy to find, slow to follow to its end.

    f(x) = Σᵢ [100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²], i = 1…n−1; in two dimensions
    f(x, y) = 100 (y − x²)² + (1 − x)².

    Global minimum 0 at (1, 1, …, 1).  Call as ``rosenbrock(x, y)``, ``rosenbrock(x, y, z)``
    or ``rosenbrock(v)`` (first axis: the coordinates, at least two).  Plotting box
    x ∈ [−2, 2], y ∈ [−1, 3].  Source: Wikipedia, "Test functions for optimization";
    H. H. Rosenbrock, The Computer Journal 3 (1960).
    """
    v = coordinates(point, "rosenbrock")
    if v.shape[0] < 2:
        raise TypeError("rosenbrock needs at least two coordinates.")
    return (100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2).sum(axis=0)


@documented([(0.0, 0.0)], 0.0, ((-5.12, 5.12), (-5.12, 5.12)))
def rastrigin(*point: Any) -> Any:
    """Rastrigin's egg tray: a bowl covered in regularly spaced local minima.

    f(x) = A n + Σᵢ [xᵢ² − A cos(2π xᵢ)], A = 10.

    Global minimum 0 at (0, …, 0); a local minimum near every integer point.  Call as
    ``rastrigin(x, y)`` or ``rastrigin(v)`` (first axis: the coordinates, any number).
    Plotting box [−5.12, 5.12]² (its usual search domain).  Source: Wikipedia, "Test
    functions for optimization"; L. A. Rastrigin, Systems of extremal control (1974).
    """
    import jax.numpy as jnp

    v = coordinates(point, "rastrigin")
    return (10.0 + v**2 - 10.0 * jnp.cos(2 * math.pi * v)).sum(axis=0)


@documented(
    [(STYBLINSKI_TANG_X, STYBLINSKI_TANG_X)],
    2 * STYBLINSKI_TANG_PER_DIMENSION,
    ((-5.0, 5.0), (-5.0, 5.0)),
)
def styblinski_tang(*point: Any) -> Any:
    """Styblinski–Tang: four basins in two dimensions, 2ⁿ in n, one of them the deepest.

    f(x) = ½ Σᵢ (xᵢ⁴ − 16 xᵢ² + 5 xᵢ).

    Global minimum −39.16616570… × n at xᵢ = −2.903534… for every i (in two dimensions
    −78.33233 at (−2.903534, −2.903534)).  Call as ``styblinski_tang(x, y)`` or
    ``styblinski_tang(v)`` (first axis: the coordinates).  Plotting box [−5, 5]².
    Source: Wikipedia, "Test functions for optimization"; M. A. Styblinski and T.-S. Tang,
    Neural Networks 3 (1990).
    """
    v = coordinates(point, "styblinski_tang")
    return ((v**4 - 16.0 * v**2 + 5.0 * v) / 2).sum(axis=0)


@documented([(3.0, 0.5)], 0.0, ((-4.5, 4.5), (-4.5, 4.5)))
def beale(x: Any, y: Any) -> Any:
    """Beale's function: flat plateaus and sharp ridges towards the corners.

    f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)².

    Global minimum 0 at (3, 0.5).  Plotting box [−4.5, 4.5]² (its search domain).
    Source: Wikipedia, "Test functions for optimization"; E. M. L. Beale (1958).
    """
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


@documented(
    [
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286170),
        (3.584428340330492, -1.848126526964404),
    ],
    0.0,
    ((-5.0, 5.0), (-5.0, 5.0)),
)
def himmelblau(x: Any, y: Any) -> Any:
    """Himmelblau's function: four global minima of equal depth, one in each quadrant.

    f(x, y) = (x² + y − 11)² + (x + y² − 7)².

    Global minima 0 at (3, 2), (−2.805118, 3.131313), (−3.779310, −3.283186) and
    (3.584428, −1.848127); a local maximum 181.617 at (−0.270845, −0.923039).  Which
    minimum a run reaches depends on where it starts.  Plotting box [−5, 5]².  Source:
    Wikipedia, "Test functions for optimization"; D. M. Himmelblau, Applied Nonlinear
    Programming (1972).
    """
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


@documented([(1.0, 3.0)], 0.0, ((-10.0, 10.0), (-10.0, 10.0)))
def booth(x: Any, y: Any) -> Any:
    """Booth's function: a plain quadratic bowl, elongated (Hessian eigenvalues 2 and 18).

    f(x, y) = (x + 2y − 7)² + (2x + y − 5)².

    Global minimum 0 at (1, 3).  Plotting box [−10, 10]² (its search domain).  Source:
    Wikipedia, "Test functions for optimization".
    """
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


@documented([(0.0, 0.0)], 0.0, ((-2.0, 2.0), (-2.0, 2.0)))
def three_hump_camel(x: Any, y: Any) -> Any:
    """The three-hump camel: a global minimum between two local ones.

    f(x, y) = 2x² − 1.05x⁴ + x⁶/6 + xy + y².

    Global minimum 0 at (0, 0); two local minima near (±1.75, ∓0.87).  Plotting box
    [−2, 2]², where the three basins show (its search domain is [−5, 5]², where the x⁶
    term hides them).  Source: Wikipedia, "Test functions for optimization".
    """
    return 2.0 * x**2 - 1.05 * x**4 + x**6 / 6.0 + x * y + y**2


@documented([], None, ((-2.0, 2.0), (-2.0, 2.0)))
def saddle(x: Any, y: Any) -> Any:
    """The simplest saddle: f(x, y) = x² − y².

    No minimum (unbounded below along y): the origin is a stationary point whose Hessian,
    diag(2, −2), has a negative eigenvalue, so gradient descent started on the x axis stops
    there and from anywhere else slides away along y.  ``minima`` is empty; ``minimum_value``
    None.  Plotting box [−2, 2]².
    """
    return x**2 - y**2


def ill_conditioned(condition: float = 100.0, angle: float = 0.0) -> Callable[[Any, Any], Any]:
    """A quadratic bowl with a chosen condition number: f(x, y) = ½ pᵀ H p.

    H has eigenvalues 1 and ``condition`` (so its condition number is ``condition``); its
    steep axis is the y axis turned by ``angle`` degrees (0: f = ½ (x² + condition·y²)).
    Gradient descent converges for learning rates below 2/condition and fastest at
    2/(1 + condition), where the rate is (condition − 1)/(condition + 1) per step: a
    direct lesson in why conditioning matters.  The returned function has ``minima``
    ((0, 0)), ``minimum_value`` (0), ``box`` ([−2, 2]²), ``eigenvalues`` (1, condition),
    ``condition`` and ``angle``.
    """
    if not condition >= 1.0 or not math.isfinite(condition):
        raise ValueError(f"condition must be a finite number ≥ 1, got {condition!r}.")
    turn = math.radians(angle)
    c, s = math.cos(turn), math.sin(turn)
    # H = Rᵀ diag(1, condition) R, written out so no matrix is built per call
    h_xx = c * c + condition * s * s
    h_yy = s * s + condition * c * c
    h_xy = (condition - 1.0) * s * c

    @documented([(0.0, 0.0)], 0.0, ((-2.0, 2.0), (-2.0, 2.0)))
    def quadratic(x: Any, y: Any) -> Any:
        return 0.5 * (h_xx * x**2 + 2.0 * h_xy * x * y + h_yy * y**2)

    quadratic.__name__ = quadratic.__qualname__ = "ill_conditioned"
    quadratic.__doc__ = (
        f"½ pᵀ H p with Hessian eigenvalues 1 and {condition:g} (condition number "
        f"{condition:g}), steep axis turned {angle:g}° from y.  Minimum 0 at (0, 0)."
    )
    quadratic.eigenvalues = (1.0, float(condition))
    quadratic.condition = float(condition)
    quadratic.angle = float(angle)
    return quadratic
