"""The ``mlspan`` command-line interface."""
