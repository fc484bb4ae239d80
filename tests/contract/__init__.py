"""Contract tests: one suite per port, run against each in-memory fake and each real adapter.

Every case is written once against the port (`functions.core.ports`) and parametrized over the
implementations in `conftest.py`, so a fake cannot drift from the adapter it stands for. What a
case needs to look behind the port (read back an S3 object, receive an SNS message, make a call
fail) goes through a small per-implementation helper there, never through the case itself.
"""
