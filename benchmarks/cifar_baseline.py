r"""Feed-forward reference for the CIFAR-10 delayed task: the same conv front-end, no memory.

  python benchmarks/cifar_baseline.py [--epochs=20] [--seeds=0,1]

Trains the ``cpu`` config's conv front-end (``configs/cifar10.py:cpu``: 3 strided conv
layers, dense layers) with a linear softmax readout directly on the clean training images
(no stream, no delay, no noise), Adam at the config's learning rate and batch size, and
prints train and test accuracy per seed. It tells how much of the delayed networks' test
accuracy is limited by the images (e.g. the 5,085-image offline subset ``cifar10_subset.npz``)
rather than by memory: a delayed network cannot classify better than this.
"""

from absl import app
from absl import flags
import keras
import numpy as np

from memrnn_tf import cli
from memrnn_tf.data import sources
from memrnn_tf.models import memory_rnn

_EPOCHS = flags.DEFINE_integer('epochs', 20, 'Passes over the training images.', lower_bound=1)
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds, one network each.')
_LIMIT = flags.DEFINE_integer('limit', 0, 'Use only the first N images of each split (0: all).',
                              lower_bound=0)


def main(argv):
  del argv
  config = cli.load_config('cifar10', 'cpu')
  m = config.model
  splits = {}
  for split in ('train', 'test'):
    data = sources.load_dataset('cifar10', split)
    n = _LIMIT.value or len(data.labels)
    splits[split] = (data.float_images()[:n], data.labels[:n])
  image_shape = splits['train'][0].shape[1:]
  print(f'{"seed":>4s} {"train acc":>9s} {"test acc":>8s} {"best test (epoch)":>18s}')
  for seed in (int(s) for s in _SEEDS.value):
    keras.utils.set_random_seed(seed)
    frontend = memory_rnn.ConvFrontEnd(image_shape, filters=m.conv_filters,
                                       num_conv=m.num_conv, dense_units=m.dense_units,
                                       num_dense=m.num_dense, seed=seed)
    inputs = keras.Input((int(np.prod(image_shape)),))
    # The front-end takes [batch, time, pixels + trigger] frames: one frame, trigger 0.
    frames = keras.layers.Lambda(
        lambda x: keras.ops.concatenate([x, keras.ops.zeros_like(x[:, :1])], -1)[:, None])(inputs)
    logits = keras.layers.Dense(config.num_classes)(keras.layers.Flatten()(frontend(frames)))
    model = keras.Model(inputs, logits)
    model.compile(keras.optimizers.Adam(config.learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    (x_train, y_train), (x_test, y_test) = [(x.reshape(len(x), -1), y)
                                            for x, y in splits.values()]
    history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=_EPOCHS.value,
                        validation_data=(x_test, y_test), verbose=0).history
    test = history['val_accuracy']
    best = int(np.argmax(test))
    print(f'{seed:4d} {history["accuracy"][-1]:9.3f} {test[-1]:8.3f} '
          f'{test[best]:12.3f} ({best + 1:2d})')


if __name__ == '__main__':
  app.run(main)
