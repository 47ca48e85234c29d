"""kamlab: key account management research toolkit.

One module per concern; see each module's docstring. The most used entry points are
re-exported here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kamlab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
