"""Exercises, sandboxed checks and class grading for the course labs."""
