"""Export trained models: ONNX (checked with onnxruntime), TorchScript, int8 dynamic quantisation.

``export_run(run_dir, "onnx", quantize="int8")`` is what ``lstmkit export`` runs;
``build_graph(estimator)`` gives the traceable task graph itself.
"""

from lstmkit.export.graph import TorchRNN, build_graph, exportable, run_scan
from lstmkit.export.run import FORMATS, export_run

__all__ = ["FORMATS", "TorchRNN", "build_graph", "export_run", "exportable", "run_scan"]
