# fcn_tf1 in the official TensorFlow 1.15 image (Python 3.6).
#   docker build -t fcn_tf1 .                                   # CPU
#   docker build -t fcn_tf1:gpu --build-arg TF_TAG=1.15.5-gpu-py3 .
ARG TF_TAG=1.15.5-py3
FROM tensorflow/tensorflow:${TF_TAG}

WORKDIR /opt/fcn_tf1
COPY requirements/constraints.txt requirements/constraints.txt
COPY setup.py README.md ./
COPY fcn_tf1 fcn_tf1
# No [tf] extra: the image already has tensorflow (or tensorflow-gpu) 1.15.5, which must stay.
# Runtime: TensorFlow (predict/evaluate print "runtime: tf 1.15.5 fp32"); OpenVINO's newest for
# Python 3.6 (2022.2) reads no frozen graphs, and ONNX Runtime would need an ONNX export from 3.7+.
RUN pip install --no-cache-dir -c requirements/constraints.txt . \
    && python -c "import tensorflow as tf; assert tf.__version__.startswith('1.15'), tf.__version__"

LABEL org.opencontainers.image.description="fcn_tf1 on TensorFlow 1.15 (Python 3.6); inference runtime: tf"
VOLUME /opt/fcn_tf1/checkpoints
CMD ["python", "-m", "fcn_tf1.train"]
