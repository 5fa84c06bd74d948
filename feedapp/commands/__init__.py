"""CLI glue for the commands built on the Qt-free core (``rankers``, ``simulate``, ``replay``,
``check-ranker``): arguments in, the core's results printed as text or JSON. The parser lives in
``feedapp/cli.py``; the core itself never prints, reads the database or draws charts."""
