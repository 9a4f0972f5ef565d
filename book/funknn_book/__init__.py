"""The book's helpers: what the chapters (the notebooks of ``notebooks/``) repeat. Not part of the
``funknn`` library, nor of its wheel; ``make install`` installs this package beside the library.

A chapter reads ``from funknn_book import book, plotting``:

- :mod:`funknn_book.book`: every helper below under one name (``book.settings``, ``book.Results``, ...);
- :mod:`funknn_book.profiles`: a chapter's profiles of settings and the papermill parameters that
  override them; the machine and the clock of its run;
- :mod:`funknn_book.checkpoints`: the checkpoints it studies (where they are, what produced them);
- :mod:`funknn_book.results`: its results file (headline numbers, the paper's numbers beside ours,
  the paper's findings it tests), written by the chapter and read by "Results at a glance";
- :mod:`funknn_book.tables`: numbers glued into the prose, the paper's tables beside ours, score
  tables, the glance page's rows;
- :mod:`funknn_book.plotting`: the figures the chapters repeat (matplotlib).
"""
