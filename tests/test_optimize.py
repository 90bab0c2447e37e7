"""Tests for the engine behind %minimize (gradmagic.minimize: plain pytest, no IPython)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.errors import GradmagicError
from gradmagic.minimize import curvature, driver, loop
from gradmagic.minimize.curvature import Curvature, curvature_at
from gradmagic.minimize.driver import minimize
from gradmagic.minimize.optimizers import known_optimizers, resolve_optimizer
from gradmagic.minimize.step_size import StepSizeAdvice


def parabola(p, aux):
    """x² - 2x + 1 = (x - 1)²."""
    (x,) = p
    return x**2 - 2 * x + 1


def square(p, aux):
    return p[0] ** 2


def bowl(p, aux):
    """A scalar and a vector variable; minimum 0 at x = 1, v = (-0.5, 2)."""
    x, v = p
    return (x - 1.0) ** 2 + jnp.sum(2.0 * (v - jnp.array([-0.5, 2.0])) ** 2)


def rosenbrock(p, aux):
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


# --------------------------------------------------------------------------- accuracy


def test_parabola_matches_tensorflow_reference():
    run = minimize(parabola, (0.0,), lr=0.01, steps=1000)
    print(f"x after 1000 float32 SGD steps: {run.values[0]!r} (TensorFlow: 0.9999986)")
    assert isinstance(run.values[0], float)
    assert run.values[0] == pytest.approx(1.0, abs=1e-5)
    assert run.loss == pytest.approx(0.0, abs=1e-10)
    assert run.steps == run.requested_steps == 1000
    assert not run.converged and not run.interrupted and run.diverged_at is None
    assert run.history.shape == (1001,) and run.path[0].shape == (1001,)
    assert run.history[0] == pytest.approx(1.0)  # objective at x = 0
    assert run.path[0][0] == 0.0 and run.path[0][-1] == pytest.approx(run.values[0])
    assert np.all(np.diff(run.history) <= 0)  # small-lr SGD on a parabola never goes up
    assert run.grad_norm == pytest.approx(2 * abs(run.values[0] - 1), abs=1e-5)
    assert (run.optimizer, run.lr, run.momentum, run.tol) == ("sgd", 0.01, None, None)


@pytest.mark.parametrize(
    ("objective", "start", "lr", "steps", "expected", "loss"),
    [
        (lambda p, a: 3 * p[0] ** 2 + 2 * p[0] - 1, (0.0,), 0.1, 100, (-1 / 3,), -4 / 3),
        (lambda p, a: 2 * p[0] ** 2 + p[0] + 3, (1.0,), 0.1, 100, (-0.25,), 2.875),
        (lambda p, a: p[0] ** 2 + 2 * p[1] ** 2, (1.0, 1.0), 0.1, 100, (0.0, 0.0), 0.0),
    ],
    ids=["3x2+2x-1", "2x2+x+3", "a2+2b2"],
)
def test_textbook_quadratics(objective, start, lr, steps, expected, loss):
    run = minimize(objective, start, lr=lr, steps=steps)
    assert run.values == pytest.approx(expected, abs=1e-5)
    assert run.loss == pytest.approx(loss, abs=1e-5)


OPTIMIZERS = [  # name, lr, steps: each converges on `bowl`
    ("sgd", 0.1, 300),
    ("momentum", 0.05, 300),
    ("nesterov", 0.05, 300),
    ("adam", 0.1, 500),
    ("adamw", 0.1, 500),
    ("adagrad", 0.5, 500),
    ("rmsprop", 0.01, 1000),
    ("lbfgs", 1.0, 50),
    ("yogi", 0.1, 500),
    ("lion", 0.01, 500),
    ("sm3", 0.5, 500),
]


@pytest.mark.parametrize(("name", "lr", "steps"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_every_named_optimizer_reaches_the_bottom_of_a_bowl(name, lr, steps):
    run = minimize(bowl, (0.0, np.zeros(2, np.float32)), optimizer=name, lr=lr, steps=steps)
    x, v = run.values
    assert x == pytest.approx(1.0, abs=0.02)
    assert v == pytest.approx([-0.5, 2.0], abs=0.02)
    assert isinstance(v, np.ndarray) and v.shape == (2,) and v.dtype == np.float32
    assert run.path[1].shape == (run.steps + 1, 2)
    assert run.optimizer == name


def test_lbfgs_solves_rosenbrock_and_ignores_lr():
    run = minimize(rosenbrock, (-1.2, 1.0), optimizer="lbfgs", steps=1000, tol=1e-5)
    assert run.values == pytest.approx((1.0, 1.0), abs=1e-3)
    assert run.converged and run.steps < 200
    assert run.history[0] == pytest.approx(24.2)
    other = minimize(rosenbrock, (-1.2, 1.0), optimizer="lbfgs", lr=1e-3, steps=1000, tol=1e-5)
    np.testing.assert_array_equal(run.history, other.history)  # the line search sets steps


def test_objective_evaluations_per_run():
    calls = []

    def counted(p, aux):
        jax.debug.callback(lambda x: calls.append(x), p[0])
        return rosenbrock(p, aux)

    minimize(counted, (-1.2, 1.0), optimizer="adam", lr=0.01, steps=3)
    assert len(calls) == 1 + 3  # the start, then one per step
    calls.clear()
    minimize(counted, (-1.2, 1.0), optimizer="lbfgs", steps=1)
    assert len(calls) <= 4  # no line search runs on the placeholder state of a fresh run


def test_momentum_and_aux_change_the_result():
    def shifted(p, aux):
        return (p[0] - aux["target"]) ** 2

    a = minimize(shifted, (0.0,), aux={"target": 3.0}, optimizer="momentum", lr=0.05, steps=400)
    b = minimize(shifted, (0.0,), aux={"target": -2.0}, optimizer="momentum", lr=0.05, steps=400)
    c = minimize(shifted, (0.0,), aux={"target": 3.0}, optimizer="momentum", lr=0.05, steps=5)
    d = minimize(
        shifted, (0.0,), aux={"target": 3.0}, optimizer="momentum", lr=0.05, steps=5, momentum=0.0
    )
    assert a.values[0] == pytest.approx(3.0, abs=1e-4)
    assert b.values[0] == pytest.approx(-2.0, abs=1e-4)
    assert c.momentum == 0.9 and d.momentum == 0.0
    assert c.values[0] != pytest.approx(d.values[0])


# --------------------------------------------------------------------------- stopping


def test_tol_stops_early():
    run = minimize(square, (1.0,), lr=0.1, steps=10_000, tol=1e-3)
    assert run.converged and run.steps < 100 and run.requested_steps == 10_000
    assert run.grad_norm < 1e-3
    assert run.history.shape == (run.steps + 1,) and run.path[0].shape == (run.steps + 1,)


def test_tol_already_met_at_the_start_runs_no_step():
    run = minimize(square, (1e-6,), lr=0.1, steps=100, tol=1e-3)
    assert run.converged and run.steps == 0 and run.history.shape == (1,)
    assert run.values == (1e-6,)


def test_divergence_restores_the_start_and_suggests_a_learning_rate():
    run = minimize(square, (1.0,), lr=1.5, steps=1000)
    assert run.diverged_at is not None and 1 < run.diverged_at < 1000
    assert run.steps == run.diverged_at
    assert run.values == (1.0,) and run.loss == 1.0 and run.grad_norm == pytest.approx(2.0)
    assert not math.isfinite(run.history[-1]) and np.all(np.isfinite(run.history[:-1]))
    bowl = curvature_at(square, (1.0,))
    assert (bowl.lambda_min, bowl.lambda_max) == pytest.approx((2.0, 2.0))
    advice = StepSizeAdvice(bowl, "sgd")
    assert advice.bound == pytest.approx(1.0) and advice.bound < run.lr  # SGD: lr < 2/λmax
    message = advice.divergence_advice(run.lr)
    assert "SGD is stable for lr < 2/λmax = 1 here" in message and "try --lr 0.5." in message


# One row per rule: optimizer, momentum, (λmin, λmax), lr it diverged at, bound, best
# (lr, momentum), and what the divergence advice must (and must not) say.
ADVICE_RULES = [
    ("sgd", None, (2.0, 20.0), 0.2, 0.1, (2 / 22, None), "2/λmax = 0.1 ", "β"),
    ("momentum", 0.5, (2.0, 20.0), 0.3, 0.15, (4 / (20**0.5 + 2**0.5) ** 2, 0.26987),
     "momentum (β = 0.5) is stable for lr < 2(1+β)/λmax = 0.15 ", "2/λmax ="),
    ("nesterov", 0.5, (2.0, 20.0), 0.3, 0.075, (0.05, 0.51949),
     "nesterov (β = 0.5) is stable for lr < 2(1+β)/((1+2β)λmax) = 0.075 ", "2/λmax ="),
    ("adam", 0.9, (2.0, 20.0), 5.0, None, None,
     "divides each step by a running gradient scale", "λmax"),
    ("lbfgs", None, (2.0, 20.0), 1.0, None, None, "line search", "--lr"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("optimizer", "momentum", "extremes", "lr", "bound", "best", "says", "never"), ADVICE_RULES
)
def test_step_size_advice_per_optimizer(
    optimizer, momentum, extremes, lr, bound, best, says, never
):
    advice = StepSizeAdvice.for_optimizer(
        Curvature(*extremes), resolve_optimizer(optimizer), momentum
    )
    assert advice.bound == (None if bound is None else pytest.approx(bound))
    if best is None:
        assert advice.best is None
    else:
        assert advice.best[0] == pytest.approx(best[0])
        assert advice.best[1] == (None if best[1] is None else pytest.approx(best[1], abs=1e-5))
    text = advice.divergence_advice(lr)
    assert says in text and never not in text


def test_step_size_regimes_and_the_edge():
    advice = StepSizeAdvice(Curvature(2.0, 20.0), "sgd")
    assert advice.regime(0.05) == "stable" and advice.regime(0.2) == "unstable"
    assert advice.regime(0.1) == "edge"
    assert "never converges" in advice.stability(0.1)
    assert StepSizeAdvice(Curvature(2.0, 20.0), "adam", 0.9).regime(0.1) == "unknown"


def test_best_steps_converge_fastest_on_the_valley():
    """The tuned settings beat plain SGD's best step, and none of them diverges."""

    def valley(p, a):
        return p[0] ** 2 + 10 * p[1] ** 2

    bowl = curvature_at(valley, (1.0, 1.0))
    errors = {}
    for name in ("sgd", "momentum", "nesterov"):
        lr, momentum = StepSizeAdvice.for_optimizer(bowl, resolve_optimizer(name), None).best
        run = minimize(valley, (1.0, 1.0), optimizer=name, lr=lr, momentum=momentum, steps=40)
        assert run.diverged_at is None
        errors[name] = run.loss
    assert errors["momentum"] < errors["sgd"] and errors["nesterov"] < errors["sgd"]


def test_curvature_of_an_anisotropic_bowl():
    bowl = curvature_at(
        lambda p, a: p[0] ** 2 + 2 * jnp.sum(p[1] ** 2), (1.0, np.ones(2, np.float32))
    )
    assert (bowl.lambda_min, bowl.lambda_max) == pytest.approx((2.0, 4.0))
    assert StepSizeAdvice(bowl, "sgd").bound == pytest.approx(0.5)


def test_curvature_by_lanczos_above_the_hessian_limit(monkeypatch):
    monkeypatch.setattr(curvature.settings, "hessian_limit", 1)
    weights = jnp.array([1.0, 2.0, 3.0])
    bowl = curvature_at(lambda p, a: jnp.sum(a * p[0] ** 2), (np.ones(3, np.float32),), aux=weights)
    assert (bowl.lambda_min, bowl.lambda_max) == pytest.approx((2.0, 6.0), rel=1e-5)
    assert bowl.where == "at the start, by Lanczos from 3 Hessian-vector products"


def test_concave_objective_has_no_step_bound():
    advice = StepSizeAdvice(curvature_at(lambda p, a: -(p[0] ** 2), (1.0,)), "sgd")
    assert advice.bound is None and advice.best is None
    assert "may have no minimum" in advice.divergence_advice(0.1)


def test_interrupt_from_progress_callback_keeps_the_finished_steps():
    calls = []

    def on_progress(done, loss):
        calls.append((done, loss))
        if len(calls) == 2:
            raise KeyboardInterrupt

    run = minimize(parabola, (0.0,), lr=0.001, steps=10_000, on_progress=on_progress)
    assert run.interrupted and not run.converged
    assert run.steps == calls[-1][0] < 10_000
    assert run.history.shape == (run.steps + 1,)
    assert run.loss == pytest.approx(calls[-1][1]) == pytest.approx(run.history[-1])
    assert run.values[0] == pytest.approx(run.path[0][-1])


def test_interrupt_during_a_chunk_drops_only_that_chunk(monkeypatch):
    real = driver.next_chunk
    seen = []

    def flaky(program, done, *rest):
        seen.append(done.status[0])
        if len(seen) == 3:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the chunk ran
        return real(program, done, *rest)

    monkeypatch.setattr(driver, "next_chunk", flaky)
    run = minimize(parabola, (0.0,), lr=0.001, steps=10_000)
    assert run.interrupted and run.steps == seen[-1] > 0
    assert run.history.shape == (run.steps + 1,) and run.path[0].shape == (run.steps + 1,)


def test_interrupt_during_the_first_chunk_propagates(monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt  # Ctrl-C while the first chunk compiles: nothing finished

    monkeypatch.setattr(driver, "next_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        minimize(parabola, (0.0,), lr=0.01, steps=100)


def test_progress_is_reported_after_every_chunk():
    reported = []
    run = minimize(parabola, (0.0,), lr=0.01, steps=700, on_progress=lambda *a: reported.append(a))
    assert reported[-1][0] == 700 == run.steps
    assert [n for n, _ in reported] == sorted(n for n, _ in reported)


# --------------------------------------------------------------------------- compilation


@pytest.fixture
def compilations():
    """Count XLA backend compilations (persistent cache off, so every compile is seen)."""
    events: list[float] = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    previous = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
        jax.config.update("jax_enable_compilation_cache", previous)


def test_nothing_recompiles_for_new_settings(compilations):
    def objective(p, aux):
        return aux[0] * (p[0] - aux[1]) ** 2 + jnp.sum(p[1] ** 2)

    aux = (np.float32(2.0), np.float32(1.0))
    start = (0.0, np.ones(3, np.float32))
    minimize(objective, start, aux=aux, optimizer="momentum", steps=300)
    assert len(compilations) == 1  # the first run compiles one program, used by every chunk
    compilations.clear()
    minimize(objective, start, aux=aux, optimizer="momentum", steps=300)  # re-run
    minimize(objective, start, aux=aux, optimizer="momentum", steps=300, lr=0.1)
    minimize(objective, start, aux=aux, optimizer="momentum", steps=300, momentum=0.5)
    minimize(objective, start, aux=aux, optimizer="momentum", steps=3000)
    minimize(objective, (5.0, np.zeros(3, np.float32)), aux=aux, optimizer="momentum", steps=30)
    minimize(objective, start, aux=(np.float32(3.0), np.float32(-1.0)), optimizer="momentum")
    minimize(lambda p, a: p[0], start, aux=aux, optimizer="momentum", cache_key=objective)
    assert compilations == []


def test_new_tol_value_does_not_recompile(compilations):
    minimize(parabola, (0.0,), lr=0.1, steps=50, tol=1e-2)
    compilations.clear()
    run = minimize(parabola, (3.0,), lr=0.05, steps=500, tol=1e-4)
    assert run.converged and compilations == []


def test_compiler_options_an_xla_rejects_are_dropped(monkeypatch):
    monkeypatch.setattr(loop, "COMPILER_OPTIONS", {"xla_no_such_option": True})
    monkeypatch.setattr(loop.Jit, "options_work", True)
    run = minimize(lambda p, a: (p[0] - 2.0) ** 2, (0.0,), lr=0.1, steps=100)
    assert run.values[0] == pytest.approx(2.0, abs=1e-4)
    assert not loop.Jit.options_work  # later programs compile without them at once


def test_value_kinds_round_trip():
    run = minimize(bowl, (np.float32(0.0), jnp.zeros(2)), optimizer="adam", lr=0.1, steps=10)
    assert all(isinstance(v, np.ndarray) for v in run.values)
    assert run.values[0].shape == () and run.values[1].shape == (2,)
    run = minimize(bowl, (0.0, [0.0, 0.0]), optimizer="adam", lr=0.1, steps=10)
    assert isinstance(run.values[0], float) and run.values[1].dtype == np.float32


def test_x64_gives_float64():
    with jax.enable_x64(True):
        run = minimize(parabola, (0.0,), lr=0.01, steps=1000)
        assert run.history.dtype == np.float64
        assert run.values[0] == pytest.approx(1.0, abs=1e-8)
        kept = minimize(parabola, (np.float32(0.0),), lr=0.01, steps=10)
        assert kept.values[0].dtype == np.float32


def test_large_variables_skip_the_path(monkeypatch):
    monkeypatch.setattr(driver, "PATH_LIMIT", 2)  # as if the variables were huge
    run = minimize(lambda p, a: jnp.sum(p[0] ** 2), (np.ones(3, np.float32),), steps=3)
    assert run.path == () and run.history.shape == (4,)


# --------------------------------------------------------------------------- registry


def test_registry_names_and_momentum():
    names = known_optimizers()
    curated = ["sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "lbfgs"]
    assert names[:8] == curated
    for extra in ("yogi", "lion", "adabelief", "lamb", "nadam", "radam", "novograd", "sm3"):
        assert extra in names
    expected = {
        "sgd": (None, None),
        "momentum": ("momentum", 0.9),
        "nesterov": ("momentum", 0.9),
        "adam": ("b1", 0.9),
        "rmsprop": ("decay", 0.9),
        "lbfgs": (None, None),
        "yogi": ("b1", 0.9),
        "adagrad": (None, None),
    }
    for name, (momentum_name, default) in expected.items():
        spec = resolve_optimizer(name)
        assert (spec.name, spec.momentum_name) == (name, momentum_name)
        assert spec.default_momentum == default
    assert resolve_optimizer(" Adam ").name == "adam"
    assert resolve_optimizer("L-BFGS").name == "lbfgs"
    assert "scale_by_adam" not in names and "chain" not in names


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", known_optimizers())
def test_every_optimizer_traces(name):
    """Every listed optimizer builds a loop JAX can trace (no compile, so this stays fast)."""
    start = (np.float32(0.0), np.zeros(2, np.float32))
    spec = resolve_optimizer(name)
    program = loop.build_program(bowl, spec, True, True, start, np.dtype(np.float32))
    fresh = program.fresh_carry(start, 0.1, 0.5, 1e-6)
    bounds = np.array([8, 0, 1, 0, 1], np.int32)
    carry, rows, _ = jax.eval_shape(program.chunk.fn, fresh, (), bounds)
    assert rows.shape == (program.rows + 1, 1 + 1 + 2) and rows.dtype == np.float32
    same = jax.tree_util.tree_map(
        lambda a, b: (a.shape, a.dtype) == (b.shape, b.dtype), carry, fresh
    )
    assert all(jax.tree_util.tree_leaves(same))  # later chunks reuse the first one's program


# --------------------------------------------------------------------------- user mistakes


def _constant(p, a):
    return jnp.float32(3.0)


BAD_CALLS = [
    ({"lr": 0}, "lr must be a positive number, got 0"),
    ({"lr": -0.1}, "lr must be a positive number"),
    ({"lr": float("nan")}, "lr must be a positive number"),
    ({"steps": 0}, "steps must be a whole number >= 1, got 0"),
    ({"steps": 2.5}, "steps must be a whole number"),
    ({"tol": 0}, "tol must be a positive number, got 0"),
    ({"tol": -1e-3}, "tol must be a positive number"),
    ({"initial": (1,)}, "is an integer (1); gradients need floats: make it a float, e.g. x = 1.0"),
    ({"initial": (np.array([1, 2]),)}, "holds integers (int64)"),
    ({"initial": (True,)}, "is a boolean"),
    ({"initial": ("one",)}, "must be a float or an array of floats, got str"),
    ({"initial": (1j,)}, "is complex"),
    ({"initial": ()}, "Nothing to minimise"),
    ({"initial": (float("nan"),)}, "The objective is nan at the starting values"),
    ({"optimizer": "adma"}, "Unknown optimizer 'adma'. Did you mean adam? Known optimizers: sgd,"),
    ({"optimizer": "sgd", "momentum": 0.9}, "sgd has no momentum setting"),
    ({"optimizer": "adam", "momentum": 1.5}, "momentum must be a number in [0, 1)"),
    ({"objective": lambda p, a: p[0] * jnp.ones(3)}, "has shape (3,); reduce it to a scalar"),
    ({"objective": lambda p, a: (p[0], p[0])}, "must return one number, got 2 values"),
    ({"objective": lambda p, a: jnp.round(p[0]).astype(jnp.int32)}, "must be a real float"),
    ({"objective": _constant}, "does not depend on the variable: its gradient is zero"),
    ({"objective": lambda p, a: jax.lax.stop_gradient(p[0]) ** 2}, "does not depend on"),
    ({"objective": lambda p, a: jnp.round(p[0]) ** 2}, "does not depend on"),
    ({"objective": lambda p, a: p[0] if p[0] > 0 else -p[0]}, "write the choice with jnp.where"),
    ({"objective": lambda p, a: np.sin(np.asarray(p[0]))}, "use jax.numpy (jnp.*) instead"),
    ({"objective": lambda p, a: float(p[0]) ** 2}, "needs a variable's concrete value"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_input_is_a_gradmagic_error(change, message):
    arguments = {"objective": square, "initial": (1.0,), **change}
    with pytest.raises(GradmagicError) as error:
        minimize(arguments.pop("objective"), arguments.pop("initial"), **arguments)
    assert message in str(error.value)


def test_messages_use_the_variable_names():
    with pytest.raises(GradmagicError, match=r"of w is an integer \(2\).*e\.g\. w = 2\.0"):
        minimize(square, (2,), names=["w"])
    with pytest.raises(GradmagicError, match="does not depend on b, so minimising over it"):
        minimize(lambda p, a: p[0] ** 2, (1.0, 2.0), names=["a", "b"])
    with pytest.raises(GradmagicError, match="does not depend on a, b: its gradient is zero"):
        minimize(lambda p, a: jnp.float32(1.0), (1.0, 2.0), names=["a", "b"])
