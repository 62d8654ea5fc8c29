"""``memrnn_tf.workdir``: old runs' configs migrate, and resumes compare the right fields."""

import json

from memrnn_tf import cli
from memrnn_tf import workdir as workdir_lib

# config.json of a run made before config.perf existed (fields as the sweep wrote them).
_OLD = {'seed': 0, 'jit_compile': True, 'steps_per_execution': 50, 'intra_op_threads': 0,
        'model': {'cell': 'gru', 'units': 200, 'num_chains': 1, 'unroll_limit': 64},
        'curriculum': 'decu', 'log_every': 250}


def test_old_config_migrates_speed_fields_into_perf(tmp_path):
  (tmp_path / 'config.json').write_text(json.dumps(_OLD))
  config = workdir_lib.load_config(str(tmp_path))
  assert config.perf.to_dict() == {'jit_compile': True, 'steps_per_execution': 50,
                                   'intra_op_threads': 0, 'num_chains': 1,
                                   'unroll_limit': 64}
  assert config.model.to_dict() == {'cell': 'gru', 'units': 200}
  assert 'jit_compile' not in config and config.seed == 0
  # A migrated config is left as it is.
  again = workdir_lib.migrate_config(json.loads(json.dumps(config.to_dict())))
  assert again == config.to_dict()


def test_differences_ignore_speed_logging_and_added_fields():
  old = workdir_lib.migrate_config(json.loads(json.dumps(_OLD)))
  new = workdir_lib.migrate_config(json.loads(json.dumps(_OLD)))
  new['perf'].update(num_chains=2, jit_compile=False)  # speed only
  new['log_every'] = 10  # logging only
  new['model']['readout_sigmoid'] = False  # added to the configs after the run
  assert workdir_lib.config_differences(old, new) == []
  new['seed'], new['model']['units'] = 5, 100
  assert workdir_lib.config_differences(old, new) == [('model.units', 200, 100),
                                                      ('seed', 0, 5)]


def test_every_config_keeps_speed_settings_in_perf():
  for name, variants in (('mnist', ('paper', 'paper_batch1', 'cpu', 'smoke')),
                         ('cifar10', ('paper', 'cpu', 'smoke')),
                         ('flipflop', ('delay0', 'delay8', 'smoke'))):
    for variant in variants:
      values = cli.load_config(name, variant).to_dict()
      moved = workdir_lib.migrate_config(json.loads(json.dumps(values, default=list)))
      assert moved == json.loads(json.dumps(values, default=list)), (name, variant)
      assert set(values['perf']) >= {'jit_compile', 'steps_per_execution', 'unroll_limit'}
