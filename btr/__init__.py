"""btr: a corpus and toolkit for blame-taking resignation (引咎辞职) of public officials."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("btr")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
