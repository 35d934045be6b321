"""Package layout that pyproject.toml cannot say: every package under src/, plus the demo's configs (configs/) and
data (demo/) shipped inside the wheel as ``shoptune._bundled.configs`` and ``shoptune._bundled.demo``.

configs/data_demo.yaml's ``data_root: ../demo/data`` resolves the same way in a checkout and in an installed
wheel, because the two folders keep their relative places. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

BUNDLED = {"shoptune._bundled.configs": "configs", "shoptune._bundled.demo": "demo"}

# Namespace discovery: some packages (shoptune.data) have no __init__.py.
PACKAGES = find_namespace_packages("src", include=["shoptune", "shoptune.*"], exclude=["*__pycache__"])

setup(packages=[*PACKAGES, *BUNDLED], package_dir={"": "src", **BUNDLED})
