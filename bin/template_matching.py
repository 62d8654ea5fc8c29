r"""Class slow points and long-delay accuracy of a template-matching run (Fig. 7).

  python bin/template_matching.py --workdir=runs/tm_gru_s0

For a run trained with configs/template_matching.py: finds the slow point of each class of
the first stimulus, measures same/different accuracy per first class at --delays and
correlates it with the slow-point speed. Writes <workdir>/analysis/template_matching.json
and prints the table (a few minutes on 2 cores for a GRU-200).
"""

from memrnn_tf import startup

startup.quiet_tensorflow()  # before anything imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags

from memrnn_tf import cli
from memrnn_tf.analysis import template_matching

_WORKDIR = flags.DEFINE_string('workdir', None, 'Template-matching run.', required=True)
_DELAYS = cli.define_ints('delays', list(template_matching.DELAYS),
                          'Delays between the two stimuli.', lower_bound=1)
_TRIALS = flags.DEFINE_integer('num_trials', 1000, 'Trials per delay.', lower_bound=1)
cli.define_data_dir()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  out = cli.run_or_exit(template_matching.analyze_workdir, _WORKDIR.value,
                        _DELAYS.value, _TRIALS.value)
  print('class  speed      match@sp  ' + ' '.join(f'd={d:<5}' for d in out['delays']))
  for r in out['classes']:
    print(f'{r["class"]:5d}  {r["speed"]:.2e}  {r["slow_point_match_accuracy"]:8.3f}  ' +
          ' '.join(f'{a:7.3f}' for a in r['accuracy']))
  print('all' + ' ' * 26 + ' '.join(f'{a:7.3f}' for a in out['accuracy']))
  print('null answers' + ' ' * 17 + ' '.join(f'{a[0]:7.3f}' for a in out['answer_fractions']))
  for d, c in out['correlations'].items():
    print(f'delay {d}: Pearson(log10 speed, accuracy) {c["pearson_log_speed"]:+.2f}, '
          f'Spearman {c["spearman"]:+.2f}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
