"""CLI glue for the commands built on the Qt-free core (``rankers``, ``simulate``, ``replay``,
``check-ranker``): arguments in, the core's results printed as text or JSON. The parser lives in
``feedapp/cli.py``; the core itself never prints, reads the database or draws charts."""

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def plugin_prints_to_stderr() -> Iterator[None]:
    """While a batch command runs ranker code in this process (a plugin's ``print`` while debugging), what it
    prints goes to stderr: stdout holds the command's report alone, so ``--json`` stays JSON. (The app's
    plugin workers keep their output instead: ``PluginHost.output``.)"""
    with contextlib.redirect_stdout(sys.stderr):
        yield
