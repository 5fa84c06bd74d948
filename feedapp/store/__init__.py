"""SQLite adapter (sqlite-utils): opening the file, migrations, caches and (later) the event log."""
