"""Lab sessions for UX researchers: study files, counterbalancing, reports, withdrawal.

Qt-free (an import-linter contract keeps PySide6 out): the start dialog and kiosk mode in
``feedapp.ui`` use ``feedapp.lab.study`` (``load_study``, ``Study.assign``). Guide: docs/researchers.md.
"""
