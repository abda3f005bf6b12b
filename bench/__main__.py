"""Run every benchmark: ``python -m bench [--large]``. Each prints its ratios last."""

import sys

from bench import extraction

if __name__ == "__main__":
    extraction.main(sys.argv[1:])
