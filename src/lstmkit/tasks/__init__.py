"""Task pipelines behind ``lstmkit train``: data -> estimator -> metrics, plots, run directory."""
