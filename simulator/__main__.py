"""``python -m simulator``: the ``skyberth sim`` command on its own."""

import typer

from simulator.cli import sim

if __name__ == "__main__":
    typer.run(sim)
