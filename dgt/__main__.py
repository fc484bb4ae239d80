"""`python -m dgt`, the same as the `dgt` console script."""

from dgt import run

raise SystemExit(run())
