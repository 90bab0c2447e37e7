"""gradmagic benchmarks: ratios against hand-written JAX measured in the same run."""
