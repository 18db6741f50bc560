"""The `mlkeras` command line: a thin argparse front over the library.

    mlkeras labs list
    mlkeras labs run ID [--quick] [--out DIR]
    mlkeras info
"""

import argparse
import importlib.metadata
import platform
import sys

import mlkeras
from mlkeras import labs as labs_lib


def _labs_list(args):
    rows = [(f"{lab.number:02d}", lab.lab_id, lab.title, lab.runtime)
            for lab in labs_lib.list_labs()]
    print(labs_lib.format_table(("no.", "id", "title", "runtime"), rows))
    return 0


def _labs_run(args):
    try:
        lab = labs_lib.find_lab(args.lab_id)
    except labs_lib.UnknownLabError as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    labs_lib.run_lab(lab.lab_id, quick=args.quick, out=args.out)
    return 0


def _package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _devices(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_logical_devices()]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    if backend == "torch":
        import torch

        names = ["cpu"]
        if torch.cuda.is_available():
            names += [torch.cuda.get_device_name(i)
                      for i in range(torch.cuda.device_count())]
        return names
    return ["unknown"]


def _info(args):
    import keras

    backend = keras.backend.backend()
    rows = [
        ("mlkeras", mlkeras.__version__),
        ("python", platform.python_version()),
        ("keras", keras.__version__),
        ("keras backend", backend),
    ]
    for package in ("tensorflow", "jax", "torch", "numpy",
                    "tensorflow-datasets", "scikit-learn", "matplotlib"):
        rows.append((package, _package_version(package)))
    rows.append(("devices", ", ".join(_devices(backend))))
    rows.append(("labs folder", str(labs_lib.labs_dir())))
    print(labs_lib.format_table(("component", "version"), rows))
    return 0


def build_parser():
    """Builds the argument parser of the `mlkeras` command."""
    parser = argparse.ArgumentParser(
        prog="mlkeras",
        description="Keras add-ons, course labs and a sandboxed grader.",
    )
    parser.add_argument("--version", action="version",
                        version=f"mlkeras {mlkeras.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    labs = commands.add_parser("labs", help="list or run the course labs")
    labs_commands = labs.add_subparsers(dest="labs_command", metavar="ACTION")
    labs_commands.required = True
    labs_list = labs_commands.add_parser("list", help="list the labs")
    labs_list.set_defaults(handler=_labs_list)
    labs_run = labs_commands.add_parser("run", help="run one lab")
    labs_run.add_argument("lab_id", metavar="ID",
                          help="lab number or name: 01, 1 or 01_perceptron")
    labs_run.add_argument("--quick", action="store_true",
                          help="the fast variant (seconds)")
    labs_run.add_argument("--out", default=None,
                          help="folder for figures and results (default: runs/<lab>/)")
    labs_run.set_defaults(handler=_labs_run)

    info = commands.add_parser(
        "info", help="versions, Keras backend and devices")
    info.set_defaults(handler=_info)
    return parser


def main(argv=None):
    """Runs the command line and returns its exit status."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
