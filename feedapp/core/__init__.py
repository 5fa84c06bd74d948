"""The Qt-free core: clips, catalog, feed order. Imports only the standard library and numpy."""
