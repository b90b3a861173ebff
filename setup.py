"""fcn_tf1: Fully Convolutional Networks (Long, Shelhamer & Darrell) on VGG16 in TensorFlow 1.x graph mode."""
import re

from setuptools import find_packages, setup

# The version lives in fcn_tf1/ground/names.py; read as text, since pip builds without TensorFlow.
with open("fcn_tf1/ground/names.py") as f:
    VERSION = re.search(r'^VERSION = "([^"]+)"', f.read(), re.M).group(1)
COMMANDS = ("train", "evaluate", "export", "predict", "compare", "bench", "weights")

setup(
    name="fcn_tf1",
    version=VERSION,
    description="FCN-32s/16s/8s on VGG16 in TensorFlow 1.x graph mode, with every fix for "
                "the transposed-convolution output size",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["fcn_tf1", "fcn_tf1.*"]),
    package_data={"fcn_tf1.ground": ["export_ops.json", "tflite_ops.json", "ir_ops.json"], "fcn_tf1.data": ["seg11valid.txt"]},
    # fcn-train etc. beside python -m fcn_tf1.train etc.
    entry_points={"console_scripts": ["fcn-%s = fcn_tf1.%s:main" % (c, c) for c in COMMANDS] +
                  ["fcn-data = fcn_tf1.data.__main__:main"]},
    license="Apache-2.0",
    # TensorFlow 1.15 has wheels for 3.5-3.7 only; on 3.8+ the same code runs on TF 2.x's v1 API.
    python_requires=">=3.6",
    # TensorFlow is an extra: the TF1 Docker images already ship tensorflow or tensorflow-gpu.
    install_requires=[
        "numpy>=1.14",
        "pillow>=5",
        "scipy>=1.1",
        "h5py>=2.8",
        "tqdm>=4.20",
        "threadpoolctl>=3.1",  # the bench names numpy's BLAS and its kernel
    ],
    extras_require={
        # What each Python gets (requirements/constraints.txt says why); tf-keras needs the
        # `tensorflow` distribution, so 3.12+ takes that rather than tensorflow-cpu.
        "tf": ["tensorflow==1.15.5; python_version<'3.8'",
               "tensorflow-cpu==2.13.*; python_version=='3.8'",
               "tensorflow-cpu==2.15.*; python_version>='3.9' and python_version<'3.12'",
               "tensorflow==2.21.*; python_version>='3.12'",
               "tf-keras==2.21.*; python_version>='3.12'"],
        "gpu": ["tensorflow-gpu==1.15.5; python_version<'3.8'"],
        "intel": ["intel-tensorflow==1.15.2; python_version<'3.8'"],
        # The runtimes beside TensorFlow (README "Runtimes"): OpenVINO 2023.1+ reads the frozen graph
        # (2022.2, the newest for 3.6, only ONNX: no extra there); ONNX Runtime the --onnx export.
        "openvino": ["openvino>=2023.1; python_version>='3.7'"],
        "onnx": ["tf2onnx>=1.16; python_version>='3.7'", "onnx; python_version>='3.7'",
                 "onnxruntime>=1.10; python_version>='3.7'"],
        # export --int8's quantizer, in its own venv for a TF1 one (./dev.sh int8-venv).
        "int8": ["openvino>=2023.1; python_version>='3.10'", "nncf>=2.7; python_version>='3.10'"],
        "plot": ["matplotlib"],
        # OpenCV's dnn module: the Caffe models' second opinion in the tests.
        "test": ["pytest", "matplotlib", "nbclient", "nbformat", "ipykernel",
                 "opencv-python-headless>=4.5,<5",
                 # tf2onnx 1.16 needs Python 3.7+; the ONNX test skips without it
                 "tf2onnx>=1.16; python_version>='3.7'", "onnx; python_version>='3.7'",
                 "onnxruntime>=1.10; python_version>='3.7'"],
    },
    classifiers=[
        "Programming Language :: Python :: 3.6",
        "Programming Language :: Python :: 3.7",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
