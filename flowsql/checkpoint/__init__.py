"""Checkpoints: a restart after a crash loses nothing and writes nothing twice.

The protocol (one epoch after another, all on the engine's thread, between micro-batches):

1. Sinks deliver objects *staged*: written whole under a staging name the readers of the
   lake never look at (under the state folder for local sinks, a `.flowsql-staging/` prefix on
   S3). Nothing staged is visible yet.
2. A checkpoint commits, atomically and together: each source's position after the last
   micro-batch the engine took, the engine's window state (the rows of open windows, how far
   windows are emitted, the watermarks), each sink's unflushed rows and counters, and the list
   of staged objects with their final names. This write is the commit point.
3. The staged objects are promoted to their final names (a rename, or a copy on S3).

A crash before 2 leaves staged objects that no checkpoint names: the next start deletes them
and replays from the previous checkpoint, so their rows are produced again exactly once. A
crash during 3 is finished by the next start, which promotes what the checkpoint lists
(promotion is idempotent). So the output of a killed and restarted run is the output of one
uninterrupted run, provided the sources replay the same records from a position (files,
Kinesis, the generator do).
"""

from flowsql.checkpoint.state import CheckpointState, pipeline_fingerprint
from flowsql.checkpoint.store import CheckpointStore, LocalCheckpointStore, open_store

__all__ = ["CheckpointState", "CheckpointStore", "LocalCheckpointStore", "open_store", "pipeline_fingerprint"]
