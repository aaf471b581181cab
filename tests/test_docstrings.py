"""The examples in the docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import mixfit

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(mixfit.__path__, prefix="mixfit.")
    if name != "mixfit.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_public_classes_have_examples():
    finder = doctest.DocTestFinder()
    for cls in (mixfit.GaussianMixture, mixfit.KMeans):
        assert any(test.examples for test in finder.find(cls)), cls.__name__
