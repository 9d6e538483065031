"""The ``wanqi`` command line (``cli.main:main``): the operator's door to the services of the bot and the console."""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it; CHANGELOG.md says what changed)
