"""Trained weights shipped with the package: ``detector.pt`` and ``attributes.pt`` (see physreason.perception.perceive)."""
