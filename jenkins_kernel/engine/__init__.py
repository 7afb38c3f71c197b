"""The Jupyter side: kernels, the cell executor, sessions and the warm pool. No HTTP here."""
