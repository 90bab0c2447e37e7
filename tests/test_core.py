"""The pure core, without IPython: cell analysis, dependency analysis, derivatives."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.cell import analyse_cell
from gradmagic.cell_program import CellProgram, Source
from gradmagic.compiled_tape import differentiate_compiled
from gradmagic.derivatives import differentiate
from gradmagic.errors import GradmagicError
from gradmagic.finite_differences import finite_differences
from gradmagic.render import array, number
from gradmagic.tape_view import eigen_verdict


def program(source: str, namespace: dict) -> CellProgram:
    analysis = analyse_cell(source, "<test-cell>")
    frozen = {n: namespace[n] for n in analysis.reads if n in namespace}
    return CellProgram(analysis, namespace, frozen)


@pytest.mark.parametrize(
    ("source", "reads", "assigns", "last"),
    [
        ("y = a*x**2 + b*x + c", ("a", "x", "b", "c"), ("y",), None),
        ("x = x + 1\ny = x", ("x",), ("x", "y"), None),
        ("y = 2.0\nz = y * w", ("w",), ("y", "z"), None),
        ("t = 0.0\nfor i in range(n):\n    t = t + x", ("range", "n", "x"), ("t", "i"), None),
        ("def f(v):\n    return v * k\nf(x)", ("k", "f", "x")[:1] + ("x",), ("f",), "f(x)"),
        ("s = [v * x for v in vs]", ("vs", "x"), ("s",), None),
        ("y = (lambda u: u * q)(x)", ("q", "x"), ("y",), None),
        ("w * w", ("w",), (), "w * w"),
    ],
)
def test_cell_analysis(source, reads, assigns, last):
    analysis = analyse_cell(source)
    assert analysis.reads == reads
    assert analysis.assigns == assigns
    assert analysis.last_expression == last


def test_tracing_restores_the_namespace_exactly():
    namespace = {"x": 2.0, "log": []}
    cell = program("log.append(x)\ny = x**2\nprint('traced')", namespace)
    differentiate(cell, [Source("x")], hessian=True, order=3)
    assert namespace == {"x": 2.0, "log": []}


def test_dependency_analysis_is_structural_not_by_value():
    namespace = {"x": 3.0, "a": 1.0, "jax": __import__("jax")}
    cell = program(
        "same = x - x\ncut = jax.lax.stop_gradient(x) * 2\nfree = a * 2\nscaled = x * 0.0",
        namespace,
    )
    result = differentiate(cell, [Source("x")], ["same", "cut", "free", "scaled"])
    assert result.connected == {
        "same": (True,),
        "cut": (False,),
        "free": (False,),
        "scaled": (True,),
    }


def test_default_targets_are_connected_floating_assignments_in_order():
    namespace = {"x": 3.0, "n": 2}
    cell = program("k = n * 2\nz = x * 2\nconst = 5.0\ny = z + x", namespace)
    result = differentiate(cell, [Source("x")])
    assert result.targets == ("z", "y")


def test_intermediate_source_by_perturbation():
    namespace = {"x": 3.0}
    cell = program("y = x * x\nz = y * y", namespace)
    result = differentiate(cell, [Source("y", intermediate=True)], ["z"])
    assert float(result.jacobians["z"][0]) == 2 * 9.0


def test_compiled_matches_eager():
    namespace = {"x": jnp.array([1.0, 2.0]), "a": 3.0, "jnp": jnp}
    cell = program("y = a * jnp.sum(x**3)\nv = x * a", namespace)
    sources = [Source("x"), Source("a")]
    eager = differentiate(cell, sources, hessian=True)
    compiled = differentiate_compiled(cell, sources, None, hessian=True, order=1, record=False)
    assert eager.targets == compiled.targets == ("y", "v")
    for name in eager.targets:
        for left, right in zip(eager.jacobians[name], compiled.jacobians[name], strict=True):
            assert np.allclose(left, right)
    assert np.allclose(eager.hessians["y"], compiled.hessians["y"])


def test_finite_differences_agree_for_smooth_functions():
    namespace = {"x": 0.7, "jnp": jnp}
    cell = program("y = jnp.sin(x) * jnp.exp(x)", namespace)
    checks = finite_differences(cell, differentiate(cell, [Source("x")]))
    assert len(checks) == 1 and checks[0].agrees and checks[0].relative_error < 1e-3


def test_missing_output_on_some_path_is_a_clear_error():
    namespace = {"x": -1.0}
    cell = program("if x > 0:\n    y = x", namespace)
    with pytest.raises(GradmagicError, match="was not assigned"):
        differentiate(cell, [Source("x")], ["y"])


@pytest.mark.parametrize(
    ("eigenvalues", "gradient", "start"),
    [
        (
            [1.0, 2.0],
            0.0,
            "positive definite: the surface curves up in every direction here and the gradient vanishes: a local minimum.",
        ),
        (
            [-1.0, -2.0],
            0.0,
            "negative definite: the surface curves down in every direction here and the gradient vanishes: a local maximum.",
        ),
        (
            [-1.0, 2.0],
            0.0,
            "indefinite: the surface curves up in some directions and down in others here and the gradient vanishes: a saddle point.",
        ),
        (
            [6.0],
            3.0,
            "positive definite: the surface curves up in every direction here, but the gradient does not vanish, so this point is not stationary. (Where the gradient vanishes, this would be a local minimum.)",
        ),
        (
            [-1.0, 2.0],
            1.0,
            "indefinite: the surface curves up in some directions and down in others here, but the gradient does not vanish",
        ),
        (
            [0.0, 2.0],
            0.0,
            "singular (an eigenvalue is 0): the surface is flat to second order in some direction here and the gradient vanishes; the second-derivative test is inconclusive",
        ),
        (
            [0.0, 2.0],
            1.0,
            "singular (an eigenvalue is 0): the surface is flat to second order in some direction here; the gradient does not vanish, so this point is not stationary.",
        ),
    ],
)
def test_eigen_verdicts(eigenvalues, gradient, start):
    assert eigen_verdict(np.array(eigenvalues), gradient).startswith(start)


@pytest.mark.parametrize(
    ("value", "text"),
    [(7.389056, "7.38906"), (-2.0, "-2"), (-0.0, "0"), (1e-7, "1e-07"), (float("nan"), "nan")],
)
def test_number_formatting(value, text):
    assert number(value, 6) == text


def test_large_arrays_are_elided():
    text = array(np.arange(100.0), 6)
    assert text.startswith("(100,) [0, 1, 2, ..., 97, 98, 99]")
