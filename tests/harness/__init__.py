"""Process harness shared by the integration tests and the benchmarks.

Real services on loopback, each on a free port of its own: a private ``nats-server``
(``nats``), a throwaway PostgreSQL cluster or a fresh database on a running server
(``postgres``), ``skyberth gateway`` / ``skyberth web`` processes (``cluster``), and
the load generators (``fleet``: pre-encoded MAVLink for thousands of drones;
``viewers``: ``/ws/live`` clients).

Imports go one way: ``bench/`` imports this package, ``tests/`` never imports
``bench/``. The harness is what the fault tests need to run, so it lives with the
tests, which must run from a bare checkout; a benchmark is one more user of it.
"""
