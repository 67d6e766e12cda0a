"""Byte-exact pins of every file ``tool/make_standin_models.py`` writes (both variants).

The sha256 values below were recorded from the generator before it was split into the
``tool/standin`` package; any change to the bytes (array values, key order, pickle opcodes, file
set) fails this test.

The bytes are reproducible run after run on one machine and library stack, but not across CPUs:
NumPy picks its SIMD loops (``exp``, ``sin``, ``arctan2``, ``einsum``, ...) and OpenBLAS its
kernels by the processor, and the AVX-512 and AVX2 paths differ in the last bits of some results.
So the generator runs in a subprocess with both choices fixed to the AVX2 level that every
x86-64-v3 processor has: ``NPY_ENABLE_CPU_FEATURES=X86_V3``, ``OPENBLAS_CORETYPE=Haswell`` and one
BLAS thread. The numpy-variant pickles also name the classes of the installed NumPy and SciPy,
so the comparison runs only on the library versions of the recording (elsewhere the test is
skipped with a message naming both stacks; the list of written files is checked everywhere).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tool.standin import mano_hand, smpl_gender

ROOT = Path(__file__).resolve().parents[1]

# Library stack and machine of the recording.
RECORDED_WITH = {
    "machine": "x86_64",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "numpy_openblas": "0.3.31.188.0",
    "scipy_openblas": "0.3.30",
}

EXPECTED_SHA256 = {
    "chumpy/flame/FLAME_NEUTRAL.pkl":
        "da77b5b580177a1505a25385efbfde2dd1b11e9dc08b439367886847794cb650",
    "chumpy/flame/flame_dynamic_embedding.npy":
        "5a23cab0b4161657472739e4c365c351ece657b06545a48524b0388600e9c67c",
    "chumpy/flame/flame_static_embedding.pkl":
        "e1305bd3a5b4778d9ccce82e48c4aeabb1b38d0d43dd7939852c094e008a8b8f",
    "chumpy/mano/MANO_LEFT.pkl":
        "19b4bed79e41739147e50e4b5e684ea9c7a4b5139d78f0d6d849d42f9c15f128",
    "chumpy/mano/MANO_RIGHT.pkl":
        "17172184ffb5828312822af25d26329481ebb921befa6e7d06022cec3d57c83a",
    "chumpy/smpl/SMPL_FEMALE.pkl":
        "ad726c90701a4a66cb84c832eb199a11193d875a091e0481d9532add8acbe4c3",
    "chumpy/smpl/SMPL_MALE.pkl":
        "27cc44aad8343ba952b1690e7a5b092458cb56017b4c95fff44555b60d61560d",
    "chumpy/smpl/SMPL_NEUTRAL.pkl":
        "97240d87eb16e3baca89aabe79cb5d0432a9ffe9b96a3dae4224063d757b5446",
    "numpy/flame/FLAME_NEUTRAL.pkl":
        "4f734f286f1cbff32dea59583092eb1f2e4e10fb7f3bdce576321d9944fedac4",
    "numpy/flame/flame_dynamic_embedding.npy":
        "3ce773785b16648ce7602af2ef6fe4b8eca7603e39f0de0d81931d7b1c95fe79",
    "numpy/flame/flame_static_embedding.pkl":
        "61629bcc63d9a22c217284d6315059b47ef4e2421864c7896024d5ef9f8d1a6a",
    "numpy/mano/MANO_LEFT.pkl":
        "b06a8ee55f5546fd703088fdffa1fa67a5a67665d46f0d95b2d8e8e9d42fb20e",
    "numpy/mano/MANO_RIGHT.pkl":
        "64d49bc5c649d2d18c3c632249d74961a51792198af464e19d6c44884a1779fc",
    "numpy/smpl/SMPL_FEMALE.pkl":
        "2e9357da6d512da4f7ce9436adeca90520af19f3027f0fbccfb79d6bfb282756",
    "numpy/smpl/SMPL_MALE.pkl":
        "771fe8db577d2916c42fc860f96c5b3454f88f413b34358e10cc8cada097f32b",
    "numpy/smpl/SMPL_NEUTRAL.pkl":
        "3242c6994b1244e6659e6103dfe7cc89de26683d1a757aa9b4d8f91bb3688f8c",
}  # fmt: skip

# Runs in the subprocess: writes both variants through the command line, prints the stack.
_GENERATE = """
import json, platform, sys
import numpy, scipy
from tool.make_standin_models import main
out = sys.argv[1]
main([out + "/chumpy"])
main([out + "/numpy", "--variant", "numpy"])
blas = lambda module: module.show_config(mode="dicts")["Build Dependencies"]["blas"]["version"]
print(json.dumps({
    "machine": platform.machine(),
    "numpy": numpy.__version__,
    "scipy": scipy.__version__,
    "numpy_openblas": blas(numpy),
    "scipy_openblas": blas(scipy),
}))
"""


def _fixed_cpu_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    env.update(NPY_ENABLE_CPU_FEATURES="X86_V3", OPENBLAS_CORETYPE="Haswell",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # fmt: skip
    return env


def test_every_written_file_matches_its_recorded_sha256(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _GENERATE, str(tmp_path)],
        cwd=ROOT, env=_fixed_cpu_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    stack = json.loads(run.stdout.strip().splitlines()[-1])
    written = {
        str(path.relative_to(tmp_path)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file()
    }
    assert sorted(written) == sorted(EXPECTED_SHA256)
    if stack != RECORDED_WITH:
        # Another NumPy/SciPy/OpenBLAS or processor changes the last bits of the arrays (and the
        # class paths in the numpy-variant pickles): the pins say nothing there.
        pytest.skip(
            f"the pins were recorded with {RECORDED_WITH}; this run has {stack}. Record them "
            "again from the unchanged generator on this stack before comparing a change."
        )
    changed = [name for name in EXPECTED_SHA256 if written[name] != EXPECTED_SHA256[name]]
    assert not changed, f"bytes changed: {changed}"


def test_unknown_gender_or_hand_is_refused() -> None:
    with pytest.raises(ValueError, match="gender.*'neutral', 'male', 'female'.*'child'"):
        smpl_gender("child")
    with pytest.raises(ValueError, match="hand_type.*'lft'"):
        mano_hand("lft")
