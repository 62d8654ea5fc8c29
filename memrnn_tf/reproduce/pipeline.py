"""``run_pipeline``: train every study, run every analysis, write the report.

Stages run in order: the training grids (``bin/sweep.py``, local or Ray), the flip-flop
networks, the aggregate analyses, speed regularisation, then the report. Each is a
subprocess with its log in ``<root>/logs/<stage>.log``. A stage whose outputs exist and
whose command has not changed since it last ran is reused, so a second call only redraws;
an analysis whose selection of runs grew (more networks finished) runs again, and its
binary reuses the per-run results it already has (computed with the same parameters). A
failed stage does not stop the others: its claim becomes "inconclusive" in the report.
"""

import fnmatch
import os
import time

from absl import logging

from memrnn_tf import errors
from memrnn_tf import files
from memrnn_tf import workdir as workdir_lib
from memrnn_tf.reproduce import stages as stages_lib
from memrnn_tf.sweep import runs as runs_lib

RECORD = 'reproduce.json'


class ReproduceError(errors.MemrnnError):
  """A reproduction that cannot start (bad root, unknown stage pattern)."""


def load_record(root):
  """``<root>/reproduce.json`` as a dict (empty stages when absent)."""
  return files.read_json(os.path.join(root, RECORD)) or {'stages': []}


def _entry(stage, status, seconds=None, error=None):
  return {'name': stage.name, 'kind': stage.kind, 'command': stage.command,
          'workdirs': list(stage.workdirs), 'outputs': list(stage.outputs),
          'figures': stage.figures(), 'status': status, 'seconds': seconds,
          'error': error or stage.skip_reason}


class _Record:
  """``reproduce.json``, rewritten after every stage (atomic)."""

  def __init__(self, root, config, previous):
    self.path = os.path.join(root, RECORD)
    self.header = {'variant': config.variant, 'root': root, 'config': config.to_dict()}
    self.previous = {s['name']: s for s in previous.get('stages', [])}
    self.entries = dict(self.previous)  # stages not run this time keep their last entry

  def set(self, entry):
    self.entries[entry['name']] = entry
    workdir_lib.write_json_atomic(
        self.path, {**self.header, 'updated': time.strftime('%Y-%m-%d %H:%M:%S'),
                    'stages': list(self.entries.values())})


def _execute(stage, root):
  """Runs the stage's command; returns ``(status, seconds, error)``."""
  os.makedirs(os.path.join(root, 'logs'), exist_ok=True)
  log_path = os.path.join(root, 'logs', f'{stage.name}.log')
  start = time.time()
  logging.info('%s: %s', stage.name, stage.command)
  try:
    with open(log_path, 'a') as log:
      runs_lib.call(stage.argv, log, {})  # the environment as it is ($MEMRNN_DATA_DIR, ...)
  except runs_lib.Stopped as e:
    return 'stopped', time.time() - start, f'{e}; see {log_path}'
  except runs_lib.RunFailed as e:
    return 'failed', time.time() - start, f'{e}; see {log_path}'
  if not stage.is_done():
    return 'failed', time.time() - start, f'ended without its outputs; see {log_path}'
  return 'done', time.time() - start, None


def _run_stage(stage, record, root, dry_run):
  previous = record.previous.get(stage.name, {})
  if stage.skip_reason:
    logging.info('%s: skipped (%s)', stage.name, stage.skip_reason)
    record.set(_entry(stage, 'skipped'))
    return 'skipped'
  same_command = previous.get('command') == stage.command
  # Analyses also compare the command: more finished runs mean a new aggregate.
  same = stage.kind != 'analysis' or (same_command
                                      and previous.get('status') in ('done', 'reused'))
  if stage.is_done() and same:
    # The time of the last call is this stage's only if it ran this command (a run stage
    # reused from outputs made by another command has no known time).
    seconds = previous.get('seconds') if same_command else None
    record.set(_entry(stage, 'reused', seconds))
    logging.info('%s: reused', stage.name)
    return 'reused'
  if dry_run:
    if stage.is_done() and previous.get('status') in ('done', 'reused'):
      return 'stale'  # keep the last results (and command) until the stage reruns
    record.set(_entry(stage, 'pending'))
    return 'pending'
  status, seconds, error = _execute(stage, root)
  if stage.kind == 'sweep':  # a resumed sweep: count the time of earlier calls too
    seconds += (previous.get('seconds') or 0.0) if previous.get('status') in ('failed', 'stopped') else 0.0
  record.set(_entry(stage, status, seconds, error))
  logging.log(logging.ERROR if error else logging.INFO, '%s: %s in %.0f s%s', stage.name,
              status, seconds, f' ({error})' if error else '')
  return status


def run_pipeline(config, root, stage_patterns=(), backend_flags=(), dry_run=False,
                 report=True):
  """Runs (or resumes) the reproduction of ``config`` under ``root``.

  Args:
    config: a ``configs/reproduce.py`` config.
    root: directory of everything it writes (created).
    stage_patterns: globs of stage names to run (empty: all); others keep their record.
    backend_flags: extra ``bin/sweep.py`` flags (``--ray_address=auto``, ``--concurrency=2``).
    dry_run: build and record the stages, run nothing (the report is still written).
    report: write ``<root>/report.md`` at the end.

  Returns:
    ``(record dict, report path or None)``.

  Raises:
    ReproduceError: a ``--stages`` pattern that matches no stage.
  """
  root = os.path.abspath(root)
  names = stages_lib.stage_names(config)
  for p in stage_patterns:
    if not any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(p, n) for n in names):
      raise ReproduceError(f'--stages={p} matches no stage: expected globs of {", ".join(names)}')
  os.makedirs(root, exist_ok=True)
  record = _Record(root, config, load_record(root))

  def run(stage):
    if runs_lib.stop_signal():  # stopped: later stages keep their records
      return
    if stages_lib.selected(stage.name, stage_patterns):
      _run_stage(stage, record, root, dry_run)
    elif stage.name not in record.entries:  # so the report can name its command
      record.set(_entry(stage, 'skipped' if stage.skip_reason else 'pending'))

  # Training first; each later stage is built from what is on disk when it starts.
  for study in stages_lib.studies(config):
    run(stages_lib.sweep_stage(config, root, study, backend_flags))
  for stage in stages_lib.flipflop_stages(config, root):
    run(stage)
  for stage in stages_lib.analysis_stages(config, root):
    run(stage)
  run(stages_lib.template_matching_figure_stage(config, root))
  for stage in stages_lib.regularize_stages(config, root):
    run(stage)
  run(stages_lib.regularization_figure_stage(config, root))  # over the finished arms
  path = None
  if report:
    from memrnn_tf.reproduce import report as report_lib  # pylint: disable=g-import-not-at-top
    path = report_lib.write_report(root)
    logging.info('Wrote %s', path)
  return load_record(root), path
