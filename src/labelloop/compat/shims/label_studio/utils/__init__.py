"""Stand-in for ``label_studio.utils`` (Label Studio 0.8/0.9): what model scripts used."""
