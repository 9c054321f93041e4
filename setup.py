"""The build of paramlens (its metadata is in pyproject.toml).

With ``PARAMLENS_MYPYC=1`` the rule engine, the code every ``paramlens check`` runs on every
line, is compiled with mypyc, as the released wheels ship it (``make compiled``); without it,
as for the editable install of ``make setup``, everything stays plain Python. Both builds run
the same source and the same unit tests (``make test``; docs/ARCHITECTURE.md says why).
"""

import os

from setuptools import setup

# The walk and the rule families: about half the time of a cold check. The records they share
# (rules/records.py) and everything else stay interpreted.
MYPYC_MODULES = (
    "engine", "facts", "state_dict", "receivers", "spelling", "modes", "iterators", "ordering",
    "api_calls", "name_filters", "registration",
)  # fmt: skip


def extensions() -> list:
    """The compiled modules, when asked for."""
    if os.environ.get("PARAMLENS_MYPYC") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit(
            "PARAMLENS_MYPYC=1 compiles with mypyc, which comes with mypy: install the dev extra "
            "(pip install -e '.[dev]') and build with pip's --no-build-isolation, as "
            "`make compiled` does"
        ) from error

    paths = [f"server/paramlens/analysis/rules/{name}.py" for name in MYPYC_MODULES]
    return mypycify(paths, opt_level="3", group_name="paramlens")


setup(ext_modules=extensions())
