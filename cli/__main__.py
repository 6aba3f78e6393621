"""``python -m cli``: the ``assure`` command line, for a process started without the console
script (the benchmarks start the worker and the mail catcher this way)."""

from cli import main

main()
