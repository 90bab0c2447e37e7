"""Curvature without the matrix: Lanczos on Hessian-vector products, the ``hessian_limit``
setting, ``%%tape --hessian`` above it, and ``%minimize``'s divergence advice on a big
problem.  Eigenvalues are checked against ``numpy.linalg.eigvalsh`` of the explicit
Hessian."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.errors import GradmagicError
from gradmagic.program_cache import counting_compilations
from gradmagic.settings import settings
from gradmagic.spectrum import hessian_spectrum


def _rotated(eigenvalues: np.ndarray, seed: int = 0) -> np.ndarray:
    """A dense symmetric matrix with exactly these eigenvalues (a random rotation)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(eigenvalues.size, eigenvalues.size)))
    matrix = (q * eigenvalues) @ q.T
    return ((matrix + matrix.T) / 2).astype(np.float32)


def _quadratic(p, a):
    return 0.5 * p[0] @ a @ p[0]


def _assert_matches(spectrum, exact: np.ndarray, rel: float) -> None:
    """λmin, λmax and the top values against the sorted exact eigenvalues."""
    scale = np.max(np.abs(exact))
    top = exact[::-1][: len(spectrum.top)]
    assert spectrum.lambda_min == pytest.approx(exact[0], abs=rel * scale)
    assert spectrum.lambda_max == pytest.approx(exact[-1], abs=rel * scale)
    assert np.allclose(spectrum.top, top, atol=rel * scale)
    # The reported residuals are honest bounds: an eigenvalue within each.
    for value, residual in zip(spectrum.top, spectrum.top_residuals, strict=True):
        assert np.min(np.abs(exact - value)) <= residual + 1e-5 * scale


def test_quadratic_with_known_spectrum_including_negative_eigenvalues():
    known = np.concatenate([[-4.0, -1.5], np.linspace(0.5, 3.0, 35), [5.0, 7.0, 9.5]])
    matrix = _rotated(known)
    spectrum = hessian_spectrum(_quadratic, (np.ones(40, np.float32),), matrix)
    exact = np.linalg.eigvalsh(matrix.astype(np.float64))
    _assert_matches(spectrum, exact, 1e-4)
    assert spectrum.top[:3] == pytest.approx((9.5, 7.0, 5.0), abs=1e-4)
    assert spectrum.lambda_min == pytest.approx(-4.0, abs=1e-4)
    assert spectrum.converged and spectrum.size == 40 and 5 <= spectrum.products <= 40


def test_non_quadratic_against_the_explicit_hessian():
    def wavy(p, a):
        x, y = p
        return (
            jnp.sum(jnp.sin(a * x) * x**2)
            + jnp.sum(y**4) * jnp.sum(x)
            + jnp.sum(x[:6] * y.ravel()) ** 2
        )

    rng = np.random.default_rng(1)
    params = (rng.normal(size=12).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32))
    a = np.linspace(0.5, 2.0, 12).astype(np.float32)
    spectrum = hessian_spectrum(wavy, params, a)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    explicit = jax.hessian(lambda theta: wavy(unravel(theta), a))(flat)
    exact = np.linalg.eigvalsh(np.asarray(explicit, np.float64))
    _assert_matches(spectrum, exact, 1e-4)


def test_few_distinct_eigenvalues_restart_and_find_all_of_them():
    """A Krylov space of dimension 3 (three distinct eigenvalues) is exhausted after three
    steps; the iteration restarts orthogonally, runs all 30 steps, and finds every copy."""
    known = np.repeat(np.array([-2.0, 1.0, 3.0]), [10, 10, 10])
    spectrum = hessian_spectrum(_quadratic, (np.ones(30, np.float32),), _rotated(known, 2))
    assert spectrum.lambda_min == pytest.approx(-2.0, abs=1e-4)
    assert spectrum.top == pytest.approx((3.0,) * 5, abs=1e-4)
    assert spectrum.converged and spectrum.products == 30 and spectrum.exact


def test_asking_again_at_another_point_never_recompiles():
    def objective(p, a):
        return jnp.sum(a * jnp.cosh(p[0]))

    a = np.linspace(1.0, 2.0, 50).astype(np.float32)
    hessian_spectrum(objective, (np.zeros(50, np.float32),), a, cache_key="cosh")
    with counting_compilations() as compiled:
        moved = hessian_spectrum(objective, (np.ones(50, np.float32),), a * 2, cache_key="cosh")
    assert compiled == []
    assert moved.lambda_max == pytest.approx(4 * np.cosh(1.0), rel=1e-5)  # a*cosh''(1), a≤4


def test_the_top_eigenvalue_alone_needs_fewer_products():
    known = np.concatenate([np.linspace(0.0, 1.0, 1998), [10.0, 20.0]])
    matrix = _rotated(known, 3)
    top = hessian_spectrum(_quadratic, (np.ones(2000, np.float32),), matrix, wanted="max")
    every = hessian_spectrum(_quadratic, (np.ones(2000, np.float32),), matrix)
    assert top.lambda_max == pytest.approx(20.0, rel=1e-5)
    assert top.products < every.products <= 60


# ---------------------------------------------------------------------- through a shell
@pytest.fixture
def limited(nb):
    """A notebook whose hessian_limit is 3, restored afterwards."""
    nb.run("import numpy as np\nimport jax.numpy as jnp")
    nb.run("%gradmagic hessian_limit=3")
    try:
        yield nb
    finally:
        nb.run("%gradmagic hessian_limit=2000")


CELL = "%%tape --hessian --wrt x\ny = jnp.sum(d * x**2) / 2 + jnp.sum(x**4) / 12 + x[0] * x[1]"


def _explicit(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The Hessian of the cell's y, by hand: diag(d + x²) plus the x0·x1 coupling."""
    matrix = np.diag(d.astype(np.float64) + x.astype(np.float64) ** 2)
    matrix[0, 1] = matrix[1, 0] = 1.0
    return np.linalg.eigvalsh(matrix)


def test_tape_hessian_above_the_limit_shows_lanczos_extremes(limited):
    limited.run(
        "d = np.linspace(-3.0, 6.0, 10).astype(np.float32)\nx = np.full(10, 0.5, np.float32)"
    )
    text = limited.shown(CELL)
    exact = _explicit(np.full(10, 0.5), np.linspace(-3.0, 6.0, 10))
    tape = limited.ns["_tape"]
    spectrum = tape.spectrum("y")
    _assert_matches(spectrum, exact, 1e-4)
    assert "Hessian of y with respect to x: extreme eigenvalues" in text
    note = re.search(
        r"Hessian not formed: 10 numbers > hessian_limit 3; extreme eigenvalues from "
        r"(\d+) Hessian-vector products \(Lanczos\)\.",
        text,
    )
    assert note is not None and int(note.group(1)) == spectrum.products <= 10
    rows = dict(re.findall(r"^(λmax|λmin)\s+(\S+)", text, re.MULTILINE))
    assert float(rows["λmax"]) == pytest.approx(exact[-1], rel=1e-5)
    assert float(rows["λmin"]) == pytest.approx(exact[0], rel=1e-5)
    assert "2nd largest" in text and "5th largest" in text and "residual bound" in text
    assert "indefinite: the surface curves up in some directions and down in others" in text
    assert "eigenvalues:" not in text  # no matrix, no full list


def test_tape_rerun_above_the_limit_never_recompiles(limited):
    limited.run(
        "d = np.linspace(1.0, 4.0, 10).astype(np.float32)\nx = np.full(10, 0.5, np.float32)"
    )
    limited.run(CELL)
    with counting_compilations() as compiled:
        limited.run("x = np.full(10, 1.5, np.float32)\nd = d + 1")
        tape = limited.run(CELL)
    assert compiled == [], "re-running the cell at new values must not recompile"
    exact = _explicit(np.full(10, 1.5), np.linspace(2.0, 5.0, 10))
    _assert_matches(tape.spectrum("y"), exact, 1e-4)
    assert "positive definite: the surface curves up in every direction" in repr(tape)


def test_tape_hessian_method_above_the_limit_says_how_to_raise_it(limited):
    limited.run("d = np.ones(10, np.float32)\nx = np.ones(10, np.float32)")
    tape = limited.run(CELL)
    with pytest.raises(GradmagicError, match="is not formed") as raised:
        tape.hessian("y", "x")
    message = str(raised.value)
    assert "10 numbers" in message and "hessian_limit 3" in message
    assert "%gradmagic hessian_limit=10" in message and "tape.spectrum(target)" in message
    limited.run("%gradmagic hessian_limit=10")
    assert np.asarray(tape.hessian("y", "x")).shape == (10, 10)


def test_below_the_limit_the_matrix_is_shown_as_before(nb):
    nb.run("import jax.numpy as jnp\nx1 = 2.0; x2 = 3.0")
    text = nb.shown("%%tape --hessian\ng = (x1 + 5) * x2**2")
    assert "Hessian of g with respect to x1, x2\n" in text and "eigenvalues: " in text
    assert "not formed" not in text and nb.ns["_tape"].derivatives.spectra == {}


def test_cell_branching_on_a_value_above_the_limit_names_the_line(limited):
    limited.run("x = np.ones(10, np.float32)")
    message = limited.usage_error(
        "%%tape --hessian\ny = jnp.sum(x**2)\nif y > 1:\n    y = y * jnp.sum(x)"
    )
    assert "Line 2: `if y > 1:`" in message and "hessian_limit" in message


@pytest.mark.parametrize("word", ["0", "-5", "lots", "2.5"])
def test_hessian_limit_is_validated(nb, word):
    message = nb.usage_error(f"%gradmagic hessian_limit={word}")
    assert message == (
        f"hessian_limit must be a positive whole number, got {word!r} "
        "(e.g. %gradmagic hessian_limit=5000)."
    )
    assert settings.hessian_limit == 2000


def test_hessian_limit_is_a_configurable_trait(nb):
    magics = nb.shell.magics_manager.registry["GradMagics"]
    try:
        nb.run("%config GradMagics.hessian_limit = 50")
        assert magics.hessian_limit == 50 and settings.hessian_limit == 50
        nb.run("%config GradMagics.hessian_limit = 0")  # %config logs the TraitError
        assert magics.hessian_limit == 50 and settings.hessian_limit == 50
        assert "hessian_limit=50" in repr(nb.run("%gradmagic"))
    finally:
        nb.run("%gradmagic hessian_limit=2000")
    assert magics.hessian_limit == 2000


def test_divergence_advice_on_a_big_problem_uses_lanczos(nb):
    """3000 numbers (above the default limit 2000): the bound 2/λmax comes from Lanczos and
    matches the one from the true λmax to 3 significant digits."""
    nb.run(
        "import numpy as np\nimport jax.numpy as jnp\n"
        "rng = np.random.default_rng(4)\n"
        "a = rng.uniform(1.0, 10.0, 3000).astype(np.float32)\n"
        "w = np.ones(3000, np.float32)"
    )
    result = nb.run("%minimize jnp.sum(a * w**2) / 2 --wrt w --lr 0.5 --steps 100")
    assert result.diverged
    text = repr(result)
    true_bound = 2 / float(np.max(nb.ns["a"]))
    shown = re.search(r"SGD is stable for lr < 2/λmax = (\S+) here", text)
    assert shown is not None, text
    assert f"{float(shown.group(1)):.3g}" == f"{true_bound:.3g}"
    assert re.search(
        r"of the Hessian at the start, by Lanczos from \d+ Hessian-vector products", text
    )
    np.testing.assert_array_equal(nb.ns["w"], np.ones(3000, np.float32))


def test_curvature_along_a_path_uses_lanczos_above_the_limit(monkeypatch):
    """The panel's vectorised curvature (one vmapped program for 16 points) agrees with
    the matrix's eigenvalues when the limit sends it through Lanczos."""
    from gradmagic.minimize.curvature import curvature_along

    def bowl(p, a):
        return (p[0] - 2) ** 2 + 0.5 * p[0] ** 4 + 3 * p[1] ** 2 + p[0] * p[1]

    points = [(x, 1.0) for x in np.linspace(-1.0, 1.0, 5)]
    dense = curvature_along(bowl, points)
    monkeypatch.setattr(settings, "hessian_limit", 1)
    lanczos = curvature_along(bowl, points)
    for exact, found, (x, _) in zip(dense, lanczos, points, strict=True):
        eigenvalues = np.linalg.eigvalsh([[2 + 6 * x**2, 1.0], [1.0, 6.0]])
        assert exact.lambda_max == pytest.approx(eigenvalues[-1], rel=1e-5)
        assert (found.lambda_min, found.lambda_max) == pytest.approx(tuple(eigenvalues), rel=1e-5)
