"""The dashboard's own helpers: cached store access (``data``), URL-bound widgets and
text-safe output (``widgets``), and charts (``charts``). ``app.py`` puts this folder on
``sys.path``; the pages import from here."""
