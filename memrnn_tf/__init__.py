"""memrnn_tf: understanding and controlling memory in recurrent networks (TF2 / Keras 3).

Reimplementation of Haviv, Rivkind & Barak, "Understanding and Controlling Memory in
Recurrent Neural Networks" (ICML 2019). Subpackages:

* ``memrnn_tf.data``: image sources and the delayed-classification task.
* ``memrnn_tf.models``: recurrent cells (GRU / LSTM / SimpleRNN), ``create_model``.
* ``memrnn_tf.training``: curricula, losses, ``train_and_evaluate``.
* ``memrnn_tf.analysis``: slow points and dynamics.

Importing the package does not import TensorFlow; the subpackages do.
"""

__version__ = '0.1.0'
