"""Stand-in for ``label_studio_tools.core``."""
