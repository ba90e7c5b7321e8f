"""Wheel builds carry the contracts compiled, so an installed gaka needs neither solc nor node."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithContracts(build_py):
    """build_py plus `services/chain/compiled/` (artifacts, compiler.json, deploy.json)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # a checkout compiles its own contracts/ on demand
        sys.path.insert(0, str(ROOT))
        from services.chain.compiler import write_packaged

        write_packaged(Path(self.build_lib) / "services" / "chain" / "compiled")


setup(cmdclass={"build_py": BuildWithContracts})
