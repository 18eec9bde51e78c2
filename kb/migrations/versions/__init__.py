"""Migration scripts, one file per revision, applied in order by ``kb db upgrade``."""
