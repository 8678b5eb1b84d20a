"""Single-answer grading (``evalkit grade``): each response gets an absolute score from a
grader model against a rubric template in ``judges/`` (docs/judging-modes.md)."""
