#!/usr/bin/env python
"""ppl-vae command line: python run.py --help"""
import sys

from ppl_vae.cli import main

if __name__ == "__main__":
    sys.exit(main())
