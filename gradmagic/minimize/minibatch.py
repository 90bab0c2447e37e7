"""Training on data: minibatches drawn inside the compiled loop (``--data --batch --epochs``).

The data (arrays, or pytrees of arrays, sharing a leading axis of examples) is put on the
device once per run and passed to the compiled loop as an argument, never baked in.  Step
``k`` uses batch ``k % per_epoch`` of epoch ``k // per_epoch``: the examples at positions
``[j*B, (j+1)*B)`` of that epoch's permutation.  The permutation is drawn once per epoch,
at its first batch (``lax.cond``), from ``fold_in(key(seed), epoch)``; the seed is a traced
value, so a new seed reuses the compiled loop, and the same seed gives the same batches
(for every optimizer of a ``--compare``).  A last partial batch is dropped.  With the batch
the whole data set, there is nothing to permute: every step sees all of it, in order.

This module holds the pure JAX of it (:func:`next_epoch`, :func:`select_batch`) and the
checks of the user's data and settings.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
from jax import lax

from gradmagic.errors import GradmagicError
from gradmagic.minimize.lax_helpers import record_slot
from gradmagic.values import describe

SEED_LIMIT = 2**32


class Batching(NamedTuple):
    """The static shape of minibatching: what a compiled loop depends on."""

    examples: int
    size: int

    @property
    def per_epoch(self) -> int:
        return self.examples // self.size

    @property
    def full(self) -> bool:
        return self.size == self.examples

    @property
    def dropped(self) -> int:
        """Examples left out of every epoch (the last partial batch)."""
        return self.examples - self.per_epoch * self.size


def check_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The data on the device and its number of examples, or one clear error: a value that
    is not an array (or a pytree of arrays) of numbers, or leading axes that differ."""
    lengths: dict[str, int] = {}
    for name, value in data.items():
        leaves = jax.tree_util.tree_leaves_with_path(value)
        if not leaves:
            raise GradmagicError(
                f"--data {name}: {name} is {describe(value)}, with no arrays in it; data must be "
                "an array of examples (or a pytree of them), e.g. a NumPy array."
            )
        for path, leaf in leaves:
            label = name + jax.tree_util.keystr(path)
            dtype = getattr(leaf, "dtype", None)
            if dtype is None or not hasattr(leaf, "shape"):
                raise GradmagicError(
                    f"--data {name}: {label} is {describe(leaf)}, not an array; data must be "
                    f"arrays with one row per example (e.g. {label} = np.asarray(...))."
                )
            if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
                raise GradmagicError(
                    f"--data {name}: {label} holds {dtype} values; data must be numbers "
                    "(a float, int or bool array)."
                )
            if np.ndim(leaf) == 0:
                raise GradmagicError(
                    f"--data {name}: {label} is a single number; data needs a leading axis of "
                    "examples (an array of shape (examples, ...))."
                )
            lengths[label] = int(np.shape(leaf)[0])
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{label} has {n}" for label, n in lengths.items())
        raise GradmagicError(
            f"--data: the arrays must share their leading axis (one row per example), but "
            f"{listed}; give arrays with the same number of examples."
        )
    return on_device(dict(data)), next(iter(lengths.values()))


DEVICE_COPIES: OrderedDict[tuple, jax.Array] = OrderedDict()  # fingerprint -> device array
DEVICE_COPIES_SIZE = 16


def on_device(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` on the device, each NumPy leaf put there once: a re-run with the same
    arrays (same contents: a fingerprint of the bytes, far cheaper than a transfer)
    reuses the device copy, so training again does not pay a host-to-device copy."""

    def put(leaf: Any) -> Any:
        if not isinstance(leaf, np.ndarray):
            return jax.device_put(leaf)
        key = _fingerprint(leaf)
        copy = DEVICE_COPIES.get(key)
        if copy is None:
            copy = DEVICE_COPIES[key] = jax.device_put(leaf)
            while len(DEVICE_COPIES) > DEVICE_COPIES_SIZE:
                DEVICE_COPIES.popitem(last=False)
        DEVICE_COPIES.move_to_end(key)
        return copy

    return jax.tree_util.tree_map(put, data)


def _fingerprint(array: np.ndarray) -> tuple:
    """What identifies an array's contents: dtype, shape and a hash of its bytes."""
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.blake2b(memoryview(contiguous).cast("B"), digest_size=16).digest()
    return str(array.dtype), array.shape, digest


def check_batching(
    batch: Any, examples: int, epochs: Any, seed: Any, line_search: bool
) -> Batching:
    """The batching of a run, after checking ``batch`` (None: the whole data set),
    ``epochs`` (None or a whole number >= 1) and ``seed``."""
    size = examples if batch is None else batch
    if not isinstance(size, int | np.integer) or not 1 <= size <= examples:
        raise GradmagicError(
            f"--batch {batch}: a batch holds from 1 to {examples} examples (the data has "
            f"{examples}); e.g. --batch {min(64, examples)}."
        )
    if epochs is not None and (not isinstance(epochs, int | np.integer) or epochs < 1):
        raise GradmagicError(f"--epochs must be a whole number >= 1, got {epochs!r}.")
    if not isinstance(seed, int | np.integer) or not 0 <= seed < SEED_LIMIT:
        raise GradmagicError(f"--seed must be a whole number from 0 to 2**32 - 1, got {seed!r}.")
    batching = Batching(examples, int(size))
    if line_search and not batching.full:
        raise GradmagicError(
            "L-BFGS's line search needs the same objective at every trial, not a new "
            "minibatch each step: drop --batch (full batch) or use e.g. --optimizer adam."
        )
    return batching


def fresh_state(batching: Batching, seed: int, dtype: Any) -> tuple:
    """The loop's minibatch state before the first step: (permutation, seed, latest epoch
    loss).  The permutation is drawn in the loop at batch 0."""
    return (
        np.arange(batching.examples, dtype=np.int32),
        np.uint32(seed),
        np.full((), np.nan, dtype),
    )


def record_epoch(
    batching: Batching,
    epochs: jax.Array,
    value: jax.Array,
    index: jax.Array,
    stride: Any,
    first: Any,
) -> jax.Array:
    """``epochs`` with ``value``, the objective on all the data after ``index`` steps (an
    epoch's end), written as the loop writes its rows: epoch ``e`` to entry
    ``ceil(e / stride) - 1 - first`` (see :func:`~gradmagic.minimize.lax_helpers.record_slot`)."""
    done = lax.div(index, np.int32(batching.per_epoch))
    entry = lax.sub(lax.sub(record_slot(done, stride), np.int32(1)), first)
    return lax.dynamic_update_slice(
        epochs, lax.broadcast(value, (1,)), (lax.max(entry, np.int32(0)),)
    )


def next_epoch(
    batching: Batching,
    batches: tuple,
    epochs: jax.Array,
    index: jax.Array,
    full_loss: Callable[[], jax.Array],
    stride: Any,
    first: Any,
) -> tuple[tuple, jax.Array]:
    """The minibatch state and epoch record for batch ``index`` (not for a full batch).

    At an epoch's first batch it draws the epoch's permutation and, after the first epoch,
    records ``full_loss()``, the objective on all the data after the epoch that just ended.
    Both sit in one ``lax.cond``: the runtime decides each conditional of the loop's body
    every step, waiting for its predicate, so the loop keeps as few as it can.
    """
    order, seed, epoch_loss = batches
    per_epoch = np.int32(batching.per_epoch)

    def new_epoch() -> tuple:
        key = jax.random.fold_in(jax.random.key(seed), lax.div(index, per_epoch))
        drawn = lax.convert_element_type(jax.random.permutation(key, batching.examples), np.int32)

        def ended() -> tuple:
            value = full_loss()
            return value, record_epoch(batching, epochs, value, index, stride, first)

        loss, ends = lax.cond(lax.gt(index, np.int32(0)), ended, lambda: (epoch_loss, epochs))
        return drawn, loss, ends

    starts = lax.eq(lax.rem(index, per_epoch), np.int32(0))
    order, epoch_loss, epochs = lax.cond(starts, new_epoch, lambda: (order, epoch_loss, epochs))
    return (order, seed, epoch_loss), epochs


def select_batch(batching: Batching, data: Any, order: jax.Array, index: jax.Array) -> Any:
    """Batch ``index``'s examples of every array in ``data``."""
    if batching.full:
        return data
    start = lax.mul(lax.rem(index, np.int32(batching.per_epoch)), np.int32(batching.size))
    rows = lax.dynamic_slice_in_dim(order, start, batching.size)
    return jax.tree_util.tree_map(lambda x: x[rows], data)
