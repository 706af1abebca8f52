"""Symbolic reasoning over CLEVRER-style videos.

- :mod:`~physreason.reasoning.operators`: the operator table of the program language (both dialects).
- :mod:`~physreason.reasoning.program`: program trees, postfix and nested spellings, dialect normalisation.
- :mod:`~physreason.reasoning.typecheck`: static type checking of program trees.
- :mod:`~physreason.reasoning.questions`: the question-language parser (``question.lark``).
"""
