"""The ``wanqi`` command line (``cli.main:main``): the operator's door to the services of the bot and the console."""
