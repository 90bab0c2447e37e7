"""``%minimize``: optax optimizers on notebook objectives, in one compiled loop.

One concept per module, in the order data flows through them:

* :mod:`~gradmagic.minimize.problem`: what is minimised (an expression, a function, a tape
  target or a cell), over which variables, from where;
* :mod:`~gradmagic.minimize.optimizers`: the optimizers a user can name (curated and optax's);
* :mod:`~gradmagic.minimize.validation`: checks on starting values, settings and objective;
* :mod:`~gradmagic.minimize.bounds` and :mod:`~gradmagic.minimize.schedules`: ``--bounds``
  (a box every step is projected into) and ``--schedule`` (the lr per step), both traced;
* :mod:`~gradmagic.minimize.loop`: the compiled chunk program (``lax.while_loop``);
* :mod:`~gradmagic.minimize.driver`: :func:`~gradmagic.minimize.driver.minimize`, which runs
  the loop chunk by chunk (progress, interrupts) and returns an ``OptimizationRun``;
* :mod:`~gradmagic.minimize.curvature` and :mod:`~gradmagic.minimize.step_size`: the Hessian's
  extreme eigenvalues and the learning-rate rules built on them;
* :mod:`~gradmagic.minimize.result`: ``_min`` (``MinimizeResult``) and ``Comparison``, with
  SciPy's ``OptimizeResult`` fields from :mod:`~gradmagic.minimize.optimize_result`;
* :mod:`~gradmagic.minimize.plot`, :mod:`~gradmagic.minimize.progress`: their pictures and
  the progress bar; :mod:`~gradmagic.minimize.runs`: write-back and ``--compare``.

Importing a module here imports JAX and optax; the magics import them on first use.
"""
