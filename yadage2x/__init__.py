"""yadage2x: compile yadage workflows to Snakemake and CWL, and preserve them."""

__version__ = "0.1.0"
