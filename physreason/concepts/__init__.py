"""Concept learning from question-answer pairs (NS-CL / DCL): object crops and features from
perception, concept embeddings and the soft executor from reasoning, wired into training
(:mod:`.training`, :mod:`.recipe`), a saved model (:mod:`.model`) and cached data (:mod:`.data`)."""
