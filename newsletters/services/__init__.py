"""Domain operations. Web views, CLI commands and workers all call these."""
