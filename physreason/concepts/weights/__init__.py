"""Learned concepts shipped with the package: ``concepts.pt`` (see physreason.concepts.model.load_concepts)."""
