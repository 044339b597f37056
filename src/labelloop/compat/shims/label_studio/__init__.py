"""Stand-in for the ``label_studio`` package of Label Studio 0.8/0.9 (only its ``ml`` and
``utils`` parts, which model scripts import)."""
