"""``python -m bench``: print every benchmark's ratio against hand-written JAX."""

from __future__ import annotations

import importlib


def main() -> None:
    for module in (
        "bench.tape_bench",
        "bench.minimize_bench",
        "bench.cold_bench",
        "bench.panel_bench",
    ):
        try:
            benchmark = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name == module:
                continue
            raise
        print(f"== {module}")
        for line in benchmark.main():
            print(line)


if __name__ == "__main__":
    main()
