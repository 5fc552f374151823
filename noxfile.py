"""Developer tasks: ``nox`` runs lint, type checks and the tests; ``nox -s bench``."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (pass pytest arguments after --)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "nerava", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "nerava", "tests", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Check types of the package with mypy --strict."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "nerava")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure the service under load (not run by plain ``nox``).

    Takes about five minutes on two cores; ``nox -s bench -- --quick`` is a
    short smoke run. Needs wrk (a Debian package, installed here when missing
    and run as root) and PostgreSQL on 127.0.0.1:5432 (or ``--no-postgres``).
    """
    session.install("-e", ".[bench]")
    if shutil.which("wrk") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            session.error("wrk is needed: install it with `apt-get install -y wrk`")
        session.run("apt-get", "install", "-y", "wrk", external=True)
    session.run("python", "bench/run.py", *session.posargs)
