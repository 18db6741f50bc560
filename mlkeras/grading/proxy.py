"""The `submission` object that checks call: a proxy to the sandboxed module.

`submission.relu(x)` sends `relu` and `x` to the child process and returns
the decoded answer, or raises `SubmissionError` saying why there is none.
A Keras model the submission returns comes back as a `.keras` file; a
separate verifier sandbox that runs no student code loads it with the real
Keras (`safe_mode=True`), and the check gets a `RemoteModel` whose facts
and `predict` come from that verifier, never from the submission. Held-out
labels never leave the grader.
"""

from mlkeras.grading import codec


class RemoteModel:
    """A Keras model that lives in the sandbox.

    Attributes:
        facts: architecture facts established by Keras in the verifier:
            `layers` (each
            with `class`, `name`, `trainable`, `params`, `trainable_params`
            and, for nested models, `layers`), `input_shape`,
            `output_shape`, `params`, `trainable_params`.
        type_name: the model's class, e.g.
            `"keras.src.models.sequential.Sequential"`.
    """

    def __init__(self, proxy, remote):
        self._proxy = proxy
        self.handle = remote.handle
        self.type_name = remote.type_name
        self.facts = remote.facts if isinstance(remote.facts, dict) else {}

    def predict(self, x, timeout=None, **kwargs):
        """Runs `model.predict(x, verbose=0)` in the sandbox."""
        kwargs.setdefault("verbose", 0)
        return self._proxy._call(
            "predict", (x,), kwargs, timeout, handle=self.handle
        )

    def __repr__(self):
        return f"<RemoteModel {self.type_name}>"


class _RemoteFunction:
    def __init__(self, proxy, name):
        self._proxy = proxy
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._proxy._call(self.__name__, args, kwargs, None)

    def __repr__(self):
        return f"<submission function {self.__name__}>"


class SubmissionProxy:
    """Calls functions of the sandboxed submission by attribute access.

    Args:
        sandbox: a started or startable `Sandbox`.
        timeout: seconds per call for this check, or `None` for the default.
    """

    def __init__(self, sandbox, timeout=None):
        self._sandbox = sandbox
        self._timeout = timeout

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _RemoteFunction(self, name)

    def call(self, name, *args, timeout=None, **kwargs):
        """Calls `name(*args, **kwargs)` with an explicit per-call timeout."""
        return self._call(name, args, kwargs, timeout)

    def _call(self, name, args, kwargs, timeout, handle=None):
        timeout = timeout if timeout is not None else self._timeout
        value = self._sandbox.call(
            name, args, kwargs, timeout=timeout, handle=handle
        )
        if isinstance(value, codec.Remote):
            verifier, loaded = self._sandbox.verify_model(value)
            return RemoteModel(SubmissionProxy(verifier, self._timeout), loaded)
        return value
