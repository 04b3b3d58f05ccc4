# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Builds mot-client: the hand-written package plus stubs generated from proto/mot/v1.

The stubs are generated with grpcio-tools into the build directory as the packages
`mot.v1` (mot_pb2, mot_pb2_grpc), the module path protoc derives from the proto's path.
The proto directory is ../../proto in the source tree, or $MOT_PROTO_DIR.
"""
import os
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTO_DIR = pathlib.Path(os.environ.get("MOT_PROTO_DIR", HERE.parent.parent / "proto"))
PROTOS = ["mot/v1/mot.proto"]


def generate_stubs(out_dir: pathlib.Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    for proto in PROTOS:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(PROTO_DIR / proto),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO_DIR / proto}")
    for pkg in ("mot", "mot/v1"):
        (out_dir / pkg / "__init__.py").touch()


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate_stubs(pathlib.Path(self.build_lib))


setup(cmdclass={"build_py": BuildPyWithStubs})
