"""Wiring the stages together: video (or annotation) in, answers out.

- :mod:`~physreason.pipeline.worlds`: observation + physics fit -> future and counterfactual worlds;
- :mod:`~physreason.pipeline.engine`: :class:`Engine`, the Python API (observe, fit, answer, evaluate);
- :mod:`~physreason.pipeline.evaluate`: a whole CLEVRER-layout folder, scored, resumable;
- :mod:`~physreason.pipeline.draw`: annotated videos and trajectory plots (PIL);
- :mod:`~physreason.pipeline.export`: the reconstructed 3D scene at a frame as a glTF file;
- :mod:`~physreason.pipeline.demo`: the built-in end-to-end demonstration.
"""
