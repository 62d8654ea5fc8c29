"""memrnn_tf: understanding and controlling memory in recurrent networks (TF2 / Keras 3).

Reimplementation of Haviv, Rivkind & Barak, "Understanding and Controlling Memory in
Recurrent Neural Networks" (ICML 2019). Subpackages:

* ``memrnn_tf.data``: image sources and the delayed-classification task.
* ``memrnn_tf.models``: recurrent cells (GRU / LSTM / SimpleRNN), losses, ``create_model``.
* ``memrnn_tf.workdir``: run directories: config (checked on resume), checkpoints,
  snapshots, metrics; stores and opens runs, builds nothing.
* ``memrnn_tf.training``: curricula, the experiment (``build_experiment``, and
  ``load_trained_model`` / ``make_task``: how analysis rebuilds a run), the resumable loop,
  evaluation, ``train_and_evaluate``.
* ``memrnn_tf.analysis``: slow points and dynamics.
* ``memrnn_tf.files``: atomic writes, JSON, ``.npz``, config modules, the result cache.
* ``memrnn_tf.startup``: what a binary calls first (TensorFlow's start-up logging).

Layers point one way: data -> models -> workdir -> training -> analysis -> plots -> bin.

Importing the package does not import TensorFlow; the subpackages do.
"""

__version__ = '0.1.0'
