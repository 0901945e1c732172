"""nnfit: train feed-forward neural networks on tabular data from a YAML config."""

__version__ = "1.0.0"
