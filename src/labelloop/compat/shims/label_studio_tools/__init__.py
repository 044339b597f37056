"""Stand-in for ``label_studio_tools`` (what label-studio-ml 1.0.x scripts import of it)."""
