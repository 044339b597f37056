"""Stand-ins for the modules old model scripts import; loaded under their real names
(``label_studio.ml``, ``label_studio_ml.model``...) by :mod:`labelloop.compat.standins`,
and only when no real installation provides them."""
