"""The examples at the end of ``mixfit --help`` and of each command's ``--help``.

Kept apart from :mod:`mixfit.cli.commands` so that the parser stays readable; every
example is a command line that runs as written on the files it names
(``tests/test_cli_newcomer.py`` runs the ``fit``, ``predict`` and ``info`` ones).
"""

from __future__ import annotations

import argparse

__all__ = ["EPILOGS", "HelpFormatter"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of a text that has them (the examples), wraps the others.

    RawDescriptionHelpFormatter alone would print the one-line descriptions
    unwrapped, as one long line each.
    """

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


EPILOGS = {
    "mixfit": """\
examples:
  mixfit fit data.csv -k 3 --out model.mixfit     fit a 3-component Gaussian mixture
  mixfit predict model.mixfit new.csv --out labels.csv
  mixfit info model.mixfit                        what a model file holds
  mixfit select data.csv --components 1-6         choose the model and K by BIC
  mixfit demo --quick                             the lecture's figures, in ./mixfit-demo

'mixfit COMMAND --help' explains each command's options.""",
    "fit": """\
examples:
  mixfit fit data.csv -k 3 --out model.mixfit
  mixfit fit data.csv --model kmeans -k 5 --n-init 10 --labels labels.csv
  mixfit fit data.csv --columns height,weight --standardize --covariance diag --json
  mixfit fit data.csv -k 4 --reg-covar 1e-4 --n-init 5 --seed 1 --out model.mixfit""",
    "predict": """\
examples:
  mixfit predict model.mixfit new.csv                    labels on stdout
  mixfit predict model.mixfit new.csv --out labels.csv
  mixfit predict model.mixfit new.csv --proba --out probabilities.csv

Columns are matched by name when the model was fitted on named columns, and a
model fitted with --standardize standardizes the new data as it did its own.""",
    "info": """\
examples:
  mixfit info model.mixfit
  mixfit info model.mixfit --json""",
    "select": """\
examples:
  mixfit select data.csv                                 mclust's 14 models, K = 1..9, by BIC
  mixfit select data.csv --components 1-5 --models EII,VVV --criterion icl
  mixfit select data.csv --models sklearn --out model.mixfit --plot bic.png
  mixfit select data.csv --columns height,weight --json

The criteria are in scikit-learn's sign (lower is better); mclust reports -BIC.
--out saves the chosen mixture, which 'mixfit predict' and 'mixfit info' read.""",
    "demo": """\
examples:
  mixfit demo                       all experiments, in ./mixfit-demo
  mixfit demo --quick --out /tmp/demo
  mixfit demo --seed 1""",
}
