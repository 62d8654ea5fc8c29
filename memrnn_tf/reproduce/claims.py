"""The paper's claims as report sections, each judged by the analysis plan.

One function per claim of ``docs/analysis_plan.md``: it gathers the claim's numbers from
the reproduction's saved files (``inputs``), passes them to the claim's rule (``rules``)
and writes the section's Markdown. It never trains and never recomputes an analysis. The
primary endpoint alone decides the verdict (reproduces / contradicted / not observed /
inconclusive); secondary comparisons are shown with Holm-adjusted p-values.
"""

from memrnn_tf.reproduce.claims_accuracy import cifar10
from memrnn_tf.reproduce.claims_accuracy import extrapolation
from memrnn_tf.reproduce.claims_accuracy import naive_training
from memrnn_tf.reproduce.claims_accuracy import noise
from memrnn_tf.reproduce.claims_accuracy import nominal_accuracy
from memrnn_tf.reproduce.claims_accuracy import second_retrieval
from memrnn_tf.reproduce.claims_dynamics import branching
from memrnn_tf.reproduce.claims_dynamics import cloud_spread
from memrnn_tf.reproduce.claims_dynamics import flipflop
from memrnn_tf.reproduce.claims_dynamics import regularization
from memrnn_tf.reproduce.claims_dynamics import slow_points
from memrnn_tf.reproduce.claims_dynamics import speed_accuracy
from memrnn_tf.reproduce.claims_dynamics import speed_difference
from memrnn_tf.reproduce.claims_dynamics import speed_jumps
from memrnn_tf.reproduce.inputs import Reproduction  # noqa: F401  (the report's entry point)
from memrnn_tf.reproduce.plan import INCONCLUSIVE  # noqa: F401
from memrnn_tf.reproduce.plan import VERDICTS  # noqa: F401
from memrnn_tf.reproduce.sections import Section  # noqa: F401

CLAIMS = (('1', nominal_accuracy), ('2', naive_training), ('3', extrapolation), ('4', noise),
          ('5', second_retrieval), ('6', slow_points), ('7', speed_accuracy),
          ('8', speed_difference), ('9', cloud_spread), ('10', speed_jumps), ('11', branching),
          ('12', regularization), ('13', flipflop), ('14', cifar10))
