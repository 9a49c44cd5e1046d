"""Starts ``llama_cpp.server`` with ggml's extra CPU buffer types switched off when asked.

    python -m sftforge.operators.llm_client.llama_launch [--no-extra-buffers] [llama_cpp.server ARG ...]

The extra buffer types are where ggml repacks weights for its CPU kernels, Intel AMX's among them. A
virtual CPU may advertise AMX and fault on its first tile instruction (``ldtilecfg`` in
``ggml_backend_amx_mul_mat``): the server dies with a general protection fault on its first completion.
llama.cpp's ``llama_model_params.use_extra_bufts`` skips them, whatever the installed wheel was built
with, but llama-cpp-python's server has no setting for it; this launcher sets it in the default model
parameters that ``Llama`` starts from, then runs the server as ``__main__``.
"""

from __future__ import annotations

import runpy
import sys

NO_EXTRA_BUFFERS = "--no-extra-buffers"


def disable_extra_buffers() -> bool:
    """Makes every model loaded in this process skip the extra buffer types; False when unsupported."""
    import llama_cpp.llama_cpp as lib

    if "use_extra_bufts" not in {name for name, *_ in lib.llama_model_params._fields_}:
        return False
    defaults = lib.llama_model_default_params

    def model_params():
        params = defaults()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = model_params
    return True


def main(argv: list[str]) -> None:
    if argv and argv[0] == NO_EXTRA_BUFFERS:
        argv = argv[1:]
        if not disable_extra_buffers():
            print("llama_launch: this llama-cpp-python has no use_extra_bufts; extra buffers stay on",
                  file=sys.stderr, flush=True)
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
