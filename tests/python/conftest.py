import os
import sys

from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))  # op_table.py

# CI runs the same examples every time; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
