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
RUN pip install --no-cache-dir -c requirements/constraints.txt . \
    && python -c "import tensorflow as tf; assert tf.__version__.startswith('1.15'), tf.__version__"

VOLUME /opt/fcn_tf1/checkpoints
CMD ["python", "-m", "fcn_tf1.train"]
