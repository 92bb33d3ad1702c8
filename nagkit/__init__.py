"""nagkit: DiffusionNAG (An, Lee et al., ICLR 2024), reproducible and reusable."""
__version__ = "0.1.0"
