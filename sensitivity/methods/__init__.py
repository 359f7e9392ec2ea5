"""Methods: pure functions over an MLPBatch (and data), one module per family.

No I/O, no fitting, no estimators here (``docs/architecture.rst``). Every function returns plain
arrays with a leading batch axis ``B`` (networks), then outputs, then features.
"""
