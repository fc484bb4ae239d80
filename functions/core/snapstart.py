"""Lambda SnapStart: what a function must redo when its execution environment is resumed from a snapshot.

With SnapStart (`snapStart` in the CDK context, docs/snapstart.md) Lambda runs a function's init
phase once, when a version is published, snapshots the memory of the initialised environment, and
resumes every new execution environment of that version from the same snapshot. Whatever the init
phase left in memory is then shared, byte for byte, by all of them. For this code base:

- `uuid.uuid4` (job ids, notification lease tokens) and `secrets` read `os.urandom` on every call,
  which Lambda keeps unique after a restore (AWS: "Handling uniqueness with Lambda SnapStart").
  Nothing unique is drawn at init.
- the `random` module is seeded once, at import, so every environment resumed from one snapshot
  draws the same sequence. Nothing here uses it for anything secret, but botocore's and the
  Deepgram SDK's retry jitter do: identical jitter would make retries from many new environments
  line up, which is what jitter is there to prevent. `reseed_random` seeds it again after a restore.
- boto3 clients are built at init but open no connection before their first call, and their
  credentials come from Lambda's container credentials endpoint under SnapStart (refreshed as they
  expire), so nothing stale is carried over. Secrets are read on first use, not at init.

The hooks are registered with `snapshot_restore_py`, the module Lambda's Python runtimes (3.12
and later) provide. It exists only there: elsewhere (tests, the local stack) nothing is registered
and nothing happens. Without SnapStart the runtime never calls the hooks. Registration must happen
during the init phase (at import), before the snapshot is taken.

This module is imported at every cold start: standard library only.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Final

RUNTIME_HOOKS_MODULE: Final = "snapshot_restore_py"
"""Lambda's runtime hooks for Python (github.com/aws/snapshot-restore-py), in its managed runtimes only."""

_registered: set[Callable[[], object]] = set()
"""The hooks `install` has registered (so that it registers each once)."""


def after_restore(hook: Callable[[], object]) -> bool:
    """Have `hook` run each time Lambda resumes an execution environment from a snapshot (before the
    first invocation it serves). True if it was registered; False outside Lambda's runtime, where
    there are no snapshots and nothing is done."""
    try:
        hooks = importlib.import_module(RUNTIME_HOOKS_MODULE)
    except ImportError:
        return False
    hooks.register_after_restore(hook)
    return True


def reseed_random() -> None:
    """Seed the `random` module's shared generator again from `os.urandom`: this environment's
    sequence then differs from every other environment resumed from the same snapshot."""
    random.seed()


def install() -> bool:
    """Register what every function needs after a restore (`reseed_random`); call it at import,
    in the init phase. Registers once however often it is called. True if the hooks are in place
    (in Lambda's runtime), False elsewhere."""
    for hook in (reseed_random,):
        if hook not in _registered:
            if not after_restore(hook):
                return False
            _registered.add(hook)
    return True
