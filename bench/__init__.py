"""nnfit's benchmark against scikit-learn and PyTorch: `python -m bench` (see bench/run.py)."""
