"""The ``mixfit`` command (placeholder while the package is assembled)."""


def main(argv=None):
    raise SystemExit(0)
