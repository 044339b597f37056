"""Stand-in for the ``label_studio_ml`` package (label-studio-ml 1.0.x and
label-studio-ml-backend 2.x), supplied by labelloop when it is not installed."""

package_name = "label-studio-ml"
__version__ = "0+labelloop"  # not a real release: labelloop tells the generations apart
