"""The package's user-facing errors: binaries report them as one line with exit code 1.

``cli.run_or_exit`` turns exactly these (``MemrnnError`` and its subclasses) into an
``error: ...`` line; anything else is a bug and keeps its traceback. Each subclass also
derives from the built-in error a library caller would expect (``ValueError`` for a bad
value, ``FileNotFoundError`` for a missing file), so ``except ValueError`` still works.
"""


class MemrnnError(Exception):
  """Base class of the package's user-facing errors."""


class ConfigError(MemrnnError, ValueError):
  """A config field, flag or name is invalid (unknown curriculum, cell, value out of range)."""


class DataNotFoundError(MemrnnError, FileNotFoundError):
  """The dataset files are not where they were looked for (and cannot be downloaded)."""


class DataFormatError(MemrnnError, ValueError):
  """A dataset file exists but is not what it should be (names the file and the problem)."""


class RunNotFoundError(MemrnnError, FileNotFoundError):
  """A workdir lacks what was asked for: its config.json, a checkpoint, an analysis file."""


class CheckpointMismatchError(MemrnnError, ValueError):
  """A workdir or checkpoint belongs to another architecture or config."""


class TrainingDivergedError(MemrnnError, RuntimeError):
  """The loss became NaN or infinite."""


class SpeedTargetsError(MemrnnError, ValueError):
  """A speed penalty was asked for without targets to apply it to."""


class RunDamagedError(MemrnnError, ValueError):
  """A file of a workdir is missing, truncated or garbage (names the file and the fix)."""


class CheckpointDamagedError(RunDamagedError):
  """No checkpoint of a run reads back whole, or the one asked for does not."""


class TrainingInterruptedError(MemrnnError):
  """Training stopped on SIGINT/SIGTERM after saving the current step (says how to resume).

  Attributes:
    exit_code: 128 + the signal's number, as a shell reports a process killed by it.
  """

  def __init__(self, message, signum):
    super().__init__(message)
    self.exit_code = 128 + int(signum)
