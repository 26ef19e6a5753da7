"""Inside the network: gates, cell states, forget-gate saturation, per-step hidden-state
gradients and input saliency of a trained lstmkit model.

``inspect_run(run_dir, inputs)`` writes PNG figures, ``summary.json`` and ``index.html`` for
chosen samples (the ``lstmkit inspect`` command). The pieces work on any lstmkit model or fitted
estimator: ``gate_trace`` (recorded gates and states), ``forget_stats``, ``hidden_grad_norms``
(||dLoss/dh_t|| per step: the vanishing-gradient picture), ``saliency`` (|dLoss/dx|), and
``recording`` (a context manager that records every recurrent layer inside a model).
"""

from lstmkit.inspect.analysis import Analysis, analyse, gate_trace, hidden_grad_norms, saliency
from lstmkit.inspect.report import Figure, Report, inspect_run
from lstmkit.inspect.stats import forget_stats
from lstmkit.nn.recording import Recording, recording

__all__ = [
    "Analysis",
    "Figure",
    "Recording",
    "Report",
    "analyse",
    "forget_stats",
    "gate_trace",
    "hidden_grad_norms",
    "inspect_run",
    "recording",
    "saliency",
]
