"""Ships the course labs inside the package.

The lab scripts live in `labs/` at the repository root, where the course text
refers to them; this maps that folder to the package `mlkeras._labs`, so a
wheel or `pip install .` carries them and `mlkeras labs list` finds them.
Everything else is configured in setup.cfg.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mlkeras", "mlkeras.*"])
    + ["mlkeras._labs"],
    package_dir={"mlkeras._labs": "labs"},
)
