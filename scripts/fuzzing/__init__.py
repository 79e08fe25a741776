"""Case generators and the runner of ``scripts/fuzz.py`` (one module per group of inputs)."""
