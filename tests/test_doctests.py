"""The examples in the docstrings of btr run and give what they show."""

import doctest
import importlib
import pkgutil

import pytest

import btr

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(btr.__path__, "btr.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_examples_are_run_at_all():
    attempted = sum(
        doctest.testmod(importlib.import_module(name), verbose=False, report=False).attempted
        for name in MODULES
    )
    assert attempted >= 20
