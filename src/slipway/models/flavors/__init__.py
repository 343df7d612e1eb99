"""One module per model flavor: how each kind of model is saved, loaded and run.

Every flavor module offers `save_model`, `log_model`, `load_model` (the native object) and
`load_pyfunc(model_dir, model, allow_pickle)` (the generic predictor `slipway.pyfunc` uses).
None imports its ML library until a function needs it.
"""

__all__: list[str] = []
