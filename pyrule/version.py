"""The version, apart from the package's __init__ (which lazily imports the Python API): modules
that need it import this, not `pyrule`, and so no module imports the package that imports it."""

__version__ = "0.1.0"
