"""Errors that binaries report as one line (no traceback) with a nonzero exit code."""


class MemrnnError(Exception):
  """Base class of the package's user-facing errors."""


class CheckpointMismatchError(MemrnnError, ValueError):
  """A workdir or checkpoint belongs to another architecture or config."""


class TrainingDivergedError(MemrnnError, RuntimeError):
  """The loss became NaN or infinite."""


class SpeedTargetsError(MemrnnError, ValueError):
  """A speed penalty was asked for without targets to apply it to."""
