from setuptools import find_packages, setup

# Versions that install and load together (docs/architecture.md): tensorflow-io 0.37.1 does not
# load with TF 2.20, kapre 0.4.1 needs TF < 2.21 and keras < 3.14. Keep these pinned together.
PINNED = [
    "tensorflow==2.17.1",
    "keras==3.13.2",
    "kapre==0.4.1",
    "tensorflow-io==0.37.1",
    "numpy==1.26.4",
    "tensorflow-serving-api==2.17.1",
]

BEAM_EXTRAS = ["apache-beam==2.77.0"]
# zoo-tag's default runtime is ONNX Runtime (zoo.tagging.runtimes): tf2onnx converts once, then tagging
# runs without TensorFlow. onnx < 1.18: later releases need ml_dtypes >= 0.5, which TF 2.17 rules out.
ONNX = ["tf2onnx==1.17.0", "onnx==1.17.0", "onnxruntime==1.32.0"]
# Keras' other backends (docs/backends.md). jax 0.5.3 is the newest that resolves with the pins
# (ml_dtypes 0.4 for TF 2.17, numpy 1.26): its CPU jaxlib comes with it. torch 2.13.0: pip takes
# a CPU build where one lies on disk (a local wheel or index); PyPI's brings CUDA wheels (~2.5 GB).
JAX = ["jax==0.5.3"]
TORCH = ["torch==2.13.0"]
# zoo-demo (zoo.demo): Starlette + uvicorn serve one page of the zoo's own; python-multipart reads
# the uploads. 6 packages, 5.1 MB installed, where Gradio 6.31 would add 32 packages and 132 MB
# (docs/demo.md). selenium drives Debian's chromium in tests/test_demo.py (4.52 and later need a
# certifi newer than the one pip resolves here).
DEMO = ["starlette==1.10.0", "uvicorn==0.55.0", "python-multipart==0.0.34"]
BROWSER_TESTS = ["selenium==4.51.0"]
# hear-validator checks zoo.hear against the HEAR 2021 API (tests/test_hear.py); 2021.0.2 is PyPI's.
HEAR_VALIDATOR = ["hearvalidator==2021.0.2"]

setup(
    name="audio-zoo",
    version="0.1.0",
    description="Audio classification model zoo (front-end x back-end taxonomy) for Keras 3: TensorFlow, JAX, PyTorch",
    packages=find_packages(include=["zoo", "zoo.*", "pretrained", "pretrained.*", "export", "export.*",
                                    "benchmarks", "benchmarks.*"]),
    # the distilled students' weights and cards ship with the package (pretrained.mtt_distilled)
    package_data={"pretrained": ["weights/mtt-distilled/*.weights.h5", "weights/mtt-distilled/cards.json"]},
    python_requires=">=3.9,<3.13",
    install_requires=PINNED + [
        "pandas",
        "absl-py",
        "librosa",  # kapre builds its mel filterbank with librosa
        "mido",
        "tqdm",
        "matplotlib",
        "scikit-learn",
        "soxr",
        "soundfile",
    ] + ONNX,
    extras_require={
        "export": [],  # kept for old install commands: the ONNX packages are now always installed
        # Installed together with the pins, pip picks a protobuf both accept (4.25); installed
        # after them on its own, apache-beam pulls protobuf 6, which TF 2.17 refuses.
        "beam": BEAM_EXTRAS,
        "jax": JAX,
        "torch": TORCH,
        "demo": DEMO,
        # CI tests all three backends, and the demo page in a headless browser
        "test": ["pytest", "ruff==0.17.6"] + BEAM_EXTRAS + JAX + TORCH + DEMO + BROWSER_TESTS + HEAR_VALIDATOR,
    },
    entry_points={
        "console_scripts": [
            "zoo-tag=zoo.tagging.cli:main",
            "zoo-train=zoo.training.cli:main",
            "zoo-export=export.__main__:main",
            "zoo-demo=zoo.demo.cli:main",
        ],
        # The zoo's weights registry (zoo.weights) reads this group: each entry point is a
        # callable returning WeightsEntry objects, so zoo never imports the packages built on it.
        "audio_zoo.weights": [
            "musicnn = pretrained.musicnn:weights_entries",
            "mtt-distilled = pretrained.mtt_distilled:weights_entries",
        ],
    },
)
