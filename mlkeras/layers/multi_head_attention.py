"""Multi-head attention, a drop-in for `keras.layers.MultiHeadAttention`."""

import string

import keras
from keras import ops

# Which attention kernel is faster when both are correct: the fused
# `keras.ops.dot_product_attention` or the explicit path below (batched
# matmuls and a float32 softmax), by backend and device. The CPU entries were
# measured with `benchmarks/attention.py` (forward + backward, batch 32,
# sequence 256, d_model 256, 8 heads): on TensorFlow the fused op is the same
# einsums plus a scaling pass over the (B, H, T, S) logits, and on JAX's CPU
# XLA the explicit path was also faster. The GPU entries were not measured
# (no GPU was available): there the fused op reaches flash attention (cuDNN
# on JAX, SDPA kernels on PyTorch). Pairs not listed use the explicit path.
_FUSED_IS_FASTER = {
    ("tensorflow", "cpu"): False,
    ("jax", "cpu"): False,
    ("jax", "gpu"): True,
    ("torch", "gpu"): True,
}
_DEVICE_KIND = []


def _device_kind():
    """ "gpu" when the backend sees an accelerator, else "cpu" (cached)."""
    if not _DEVICE_KIND:
        devices = keras.distribution.list_devices()
        on_cpu = all(str(d).lower().startswith("cpu") for d in devices)
        _DEVICE_KIND.append("cpu" if on_cpu else "gpu")
    return _DEVICE_KIND[0]


# Added to masked logits before the softmax (the logits are float32).
_MASKED_LOGIT = -1e9


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _shape(tensor_or_shape):
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _normalized_axes(attention_axes, rank):
    """Attention axes of inputs of rank `rank`, as non-negative indices.

    `None` means every axis but the batch and the features; negative axes
    count from the end of the inputs, as in Keras.
    """
    if attention_axes is None:
        return tuple(range(1, rank - 1))
    return tuple(a if a >= 0 else rank + a for a in attention_axes)


def _attention_equations(rank, axes):
    """Einsum equations of the logits and of the weighted sum.

    `rank` is the rank of the projected tensors `(batch, ..., heads, size)`;
    `axes` the attention axes. Every other axis but the last (the heads
    included) is a batch axis. The logits are laid out as
    `(batch axes, query attention axes, key attention axes)`, as in Keras.
    """
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank - 1) if i not in axes]
    source = list(target)
    extra = iter(letters[rank:])
    for i in range(rank - 1):
        if i not in batch:
            source[i] = next(extra)
    source = "".join(source)
    product = "".join(
        [target[i] for i in batch]
        + [target[i] for i in axes]
        + [source[i] for i in axes]
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}"


def _check_mask_shape(name, mask, expected, min_rank):
    """Raises if `mask` cannot broadcast to `expected` (None = unknown)."""
    shape = _shape(mask)
    fits = min_rank <= len(shape) <= len(expected) and all(
        got is None or want is None or got in (1, want)
        for got, want in zip(shape[::-1], expected[::-1])
    )
    if not fits:
        raise ValueError(
            f"`{name}` must broadcast to shape {expected}. "
            f"Received: {name}.shape={shape}"
        )


@keras.saving.register_keras_serializable(package="mlkeras")
class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head attention that honours every mask and keeps float32 logits.

    A subclass of `keras.layers.MultiHeadAttention` that takes the same
    constructor and call arguments with the same meaning, builds the same
    sublayers (`query_dense`, `key_dense`, `value_dense`, the optional gate,
    `output_dense`) with the same weights in the same order, and returns the
    same results: `layer.set_weights(keras_layer.get_weights())` reproduces
    Keras's outputs and scores. The projections run through each sublayer's
    own call, so `model.quantize(...)` and `enable_lora` work as in Keras.
    Subclassing is what keeps this parity as Keras grows; only `call`,
    `build` (which first runs Keras's) and `compute_output_spec` are
    replaced, and no private method of Keras's class is overridden. A
    subclass of this layer that overrides `_compute_attention` (Keras's
    documented override point) gets it called, with the combined mask.

    Additions to Keras's layer (3.15):

    - An explicit `query_mask` is used (Keras's layer replaces it with the
      Keras mask of `query`). Every mask is combined with AND: `query_mask`,
      `value_mask`, `key_mask` (given explicitly, or else the Keras mask of
      the matching input), `attention_mask`, the causal mask and the sliding
      window; a per-head `attention_mask` `(B, num_heads, T, S)` combines
      with the others too.
    - A query row that may attend to no key at all gets zero attention
      weights, so its output is the output projection's bias; never NaN,
      whichever kernel runs.
    - Under mixed precision the scaled logits and the softmax are computed in
      float32; outputs and scores come in the compute dtype.
    - The symbolic shape of the scores is the real one, `(B, num_heads, T, S)`
      for cross-attention too.
    - `flash_attention` is a per-layer setting, saved in `get_config`
      (`False` never uses the fused kernel).
    - Inputs of rank below 3 and masks of the wrong shape raise a
      `ValueError` naming the shape received.

    Each call on inputs of rank 3 takes the fastest correct kernel for the
    backend: `keras.ops.dot_product_attention` (fused; flash attention on
    JAX and PyTorch GPUs) where it is measured faster and no scores or
    dropout are needed, the explicit matmul-softmax-matmul otherwise.

    Paper: [Attention Is All You Need](https://arxiv.org/abs/1706.03762).

    Args:
        num_heads: number of attention heads, a positive integer.
        key_dim: size of each head for query and key, a positive integer.
        value_dim: size of each head for value. Defaults to `None` (same as
            `key_dim`).
        dropout: dropout rate on the attention weights, in `[0, 1]`.
            Defaults to `0.0`.
        use_bias: whether the projections have biases. Defaults to `True`.
        output_shape: last dimensions of the output, an integer or a tuple.
            Defaults to `None` (the query's feature size).
        attention_axes: axes of the inputs over which attention runs, an
            integer or a tuple; negative values count from the end. Defaults
            to `None` (every axis but the batch and the features).
        sliding_window: if set, a positive integer `w`: query `t` attends
            only to keys `s` with `|t - s| < w` (with `use_causal_mask`, the
            causal sliding window). Defaults to `None`.
        flash_attention: `True` to always use the backend's flash attention
            (no scores, no dropout), `False` to never use the fused kernel,
            `None` to follow `keras.config.is_flash_attention_enabled()` and
            otherwise let the layer choose. Defaults to `None`.
        kernel_initializer: initializer of the projection kernels.
            Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of the projection biases.
            Defaults to `"zeros"`.
        kernel_regularizer: regularizer of the kernels. Defaults to `None`.
        bias_regularizer: regularizer of the biases. Defaults to `None`.
        activity_regularizer: regularizer of the sublayers' outputs (as in
            Keras). Defaults to `None`.
        kernel_constraint: constraint on the kernels. Defaults to `None`.
        bias_constraint: constraint on the biases. Defaults to `None`.
        use_gate: whether to gate the attended values with a sigmoid
            projection of the query (gated attention). Defaults to `False`.
        seed: integer seed of the dropout. Defaults to `None`.
        **kwargs: base layer arguments, such as `name` and `dtype`.

    Call arguments:
        query: tensor of shape `(B, T, dim)`, or `(B, ..., dim)`.
        value: tensor of shape `(B, S, dim_v)`, or `(B, ..., dim_v)`.
        key: optional tensor of shape `(B, S, dim_k)`. Defaults to `value`.
        query_mask: optional boolean `(B, T)`: `False` marks padded queries,
            whose rows get zero weights. Defaults to the Keras mask of
            `query`.
        value_mask: optional boolean `(B, S)`: `False` marks keys/values
            nobody may attend to. Defaults to the Keras mask of `value`.
        key_mask: optional boolean `(B, S)`, combined like `value_mask`.
            Defaults to the Keras mask of `key`.
        attention_mask: optional boolean `(B, T, S)`, `(T, S)` or per head
            `(B, num_heads, T, S)`: `True` where query `t` may attend to key
            `s`. Defaults to `None`.
        return_attention_scores: whether to also return the attention
            weights. Defaults to `False`.
        training: whether dropout is active. Defaults to `None` (inherits
            the model's training mode).
        use_causal_mask: whether query `t` may only attend to keys `s <= t`.
            Defaults to `False`.

    Returns:
        The output, of shape `(B, T, out_dim)`, or `(output, scores)` with
        scores of shape `(B, num_heads, T, S)` when
        `return_attention_scores=True`. The output carries the Keras mask of
        `query`.

    Example:

    >>> layer = MultiHeadAttention(num_heads=2, key_dim=8)
    >>> x = np.random.normal(size=(3, 5, 16)).astype("float32")
    >>> y = np.random.normal(size=(3, 7, 16)).astype("float32")
    >>> out, scores = layer(x, y, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((3, 5, 16), (3, 2, 5, 7))

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Dao et al., 2022, FlashAttention](https://arxiv.org/abs/2205.14135)
        - [Qiu et al., 2025, Gated Attention](https://arxiv.org/abs/2505.06708)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not _is_positive_int(value):
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, "
                    f"expected a positive integer. Received: {name}={value}"
                )
        if value_dim is not None and not _is_positive_int(value_dim):
            raise ValueError(
                "Received an invalid value for argument `value_dim`, "
                "expected a positive integer or `None`. "
                f"Received: value_dim={value_dim}"
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "Received an invalid value for argument `dropout`, expected "
                f"a number in [0, 1]. Received: dropout={dropout}"
            )
        if output_shape is not None:
            shape = (
                (output_shape,)
                if isinstance(output_shape, int)
                else output_shape
            )
            if (
                not isinstance(shape, (tuple, list))
                or not shape
                or not all(_is_positive_int(d) for d in shape)
            ):
                raise ValueError(
                    f"Invalid `output_shape`: {output_shape}. It must be a "
                    "positive integer or a tuple or list of them. "
                    f"Received: output_shape={output_shape}"
                )
            output_shape = tuple(shape)
        if isinstance(attention_axes, int) and not isinstance(
            attention_axes, bool
        ):
            attention_axes = (attention_axes,)
        if attention_axes is not None and (
            not isinstance(attention_axes, (list, tuple))
            or not all(
                isinstance(a, int) and not isinstance(a, bool)
                for a in attention_axes
            )
        ):
            raise ValueError(
                "`attention_axes` must be an int, list, or tuple of ints. "
                f"Received: attention_axes={attention_axes}"
            )
        if sliding_window is not None and not _is_positive_int(sliding_window):
            raise ValueError(
                "`sliding_window` must be `None` or a positive integer. "
                f"Received: sliding_window={sliding_window}"
            )
        if flash_attention not in (True, False, None):
            raise ValueError(
                "`flash_attention` must be True, False or None. "
                f"Received: flash_attention={flash_attention}"
            )
        flash = (
            flash_attention
            if flash_attention is not None
            else keras.config.is_flash_attention_enabled()
        )
        if flash and dropout > 0:
            raise ValueError(
                "Dropout is not supported when flash attention is enabled. "
                "Use dropout=0.0 or disable flash attention. "
                f"Received: dropout={dropout}, flash_attention={flash}"
            )
        super().__init__(
            num_heads=num_heads,
            key_dim=key_dim,
            value_dim=value_dim,
            dropout=dropout,
            use_bias=use_bias,
            output_shape=output_shape,
            attention_axes=attention_axes,
            sliding_window=sliding_window,
            flash_attention=flash_attention,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            use_gate=use_gate,
            seed=seed,
            **kwargs,
        )
        # The layer's own copies of its settings: Keras keeps them in
        # private attributes this class does not read.
        self.flash_attention = flash_attention
        self._flash = flash
        self._gated = bool(use_gate)
        self._window = sliding_window
        self._axes_setting = (
            None if attention_axes is None else tuple(attention_axes)
        )
        self._scale = 1.0 / float(key_dim) ** 0.5

    def _axes(self, input_rank):
        return _normalized_axes(self._axes_setting, input_rank)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if _shape(value_shape)[1:-1] != _shape(key_shape)[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, "
                f"must be equal. Received: value.shape={_shape(value_shape)}, "
                f"key.shape={_shape(key_shape)}"
            )
        shapes = {"query": query_shape, "value": value_shape, "key": key_shape}
        for name, shape in shapes.items():
            shape = _shape(shape)
            if len(shape) < 3:
                raise ValueError(
                    f"`{name}` must have rank 3 or more, (batch, ..., "
                    f"features). Received: {name}.shape={shape}"
                )
            if shape[-1] is None:
                raise ValueError(
                    f"The last dimension of `{name}` must be known. "
                    f"Received: {name}.shape={shape}"
                )
        rank = len(query_shape)
        axes = self._axes(rank)
        if not axes or not all(1 <= a <= rank - 2 for a in axes):
            raise ValueError(
                "`attention_axes` must name axes between the batch and the "
                f"features of inputs of rank {rank}. "
                f"Received: attention_axes={self._axes_setting}"
            )
        super().build(query_shape, value_shape, key_shape)
        self._built_shapes = {k: _shape(v) for k, v in shapes.items()}
        self._equations = _attention_equations(rank + 1, axes)
        if self._gated and self._gate() is None:
            raise RuntimeError(
                "keras.layers.MultiHeadAttention built no gate sublayer: "
                "this Keras version does not support `use_gate`. "
                f"Received: keras.__version__={keras.__version__}"
            )
        # This layer has used the inputs' Keras masks already; the
        # projections may pass them on instead of warning that they drop
        # them.
        for dense in self._projections():
            dense.supports_masking = True

    def _gate(self):
        # Read each time, never stored under a second attribute: saved
        # weight files name a sublayer after the attribute holding it.
        return getattr(self, "_gate_dense", None) if self._gated else None

    def _projections(self):
        layers = [self.query_dense, self.key_dense, self.value_dense]
        if self._gated:
            layers.append(self._gate())
        return layers

    def _check_inputs(self, query, value, key):
        """The inputs must match the shapes the layer was built for."""
        for name, tensor in (("query", query), ("value", value), ("key", key)):
            built = self._built_shapes[name]
            shape = _shape(tensor)
            if len(shape) != len(built) or shape[-1] not in (None, built[-1]):
                raise ValueError(
                    f"This layer was built for `{name}` of shape {built}. "
                    f"Received: {name}.shape={shape}"
                )
        if any(
            v is not None and k is not None and v != k
            for v, k in zip(_shape(value)[1:-1], _shape(key)[1:-1])
        ):
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, "
                f"must be equal. Received: value.shape={_shape(value)}, "
                f"key.shape={_shape(key)}"
            )

    def _combined_mask(
        self,
        query,
        value,
        query_mask,
        value_mask,
        key_mask,
        attention_mask,
        use_causal_mask,
    ):
        """ANDs every mask, each broadcast to the logits' rank, or None.

        The logits are `(batch axes, heads, query axes, key axes)`; each
        mask gets new axes in front of the query axes, as in Keras.
        """
        rank = len(query.shape)
        axes = self._axes(rank)
        scores_rank = rank + len(axes)
        expand_at = -2 * len(axes) - 1
        if rank == 3:
            batch, length, source = (
                query.shape[0],
                query.shape[1],
                value.shape[1],
            )
            checks = (
                ("query_mask", query_mask, (batch, length), 1),
                ("value_mask", value_mask, (batch, source), 1),
                ("key_mask", key_mask, (batch, source), 1),
            )
            if attention_mask is not None:
                per_head = len(attention_mask.shape) == 4
                heads = (self.num_heads,) if per_head else ()
                checks += (
                    (
                        "attention_mask",
                        attention_mask,
                        (batch, *heads, length, source),
                        2,
                    ),
                )
            for name, mask, expected, min_rank in checks:
                if mask is not None:
                    _check_mask_shape(name, mask, expected, min_rank)
        pieces = []
        if query_mask is not None:
            pieces.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        for mask in (value_mask, key_mask):
            if mask is not None:
                pieces.append(ops.expand_dims(ops.cast(mask, "bool"), -2))
        if use_causal_mask or self._window is not None:
            # Positions along the first attention axis, as in Keras.
            rows = ops.arange(0, ops.shape(query)[1], dtype="int32")[:, None]
            cols = ops.arange(0, ops.shape(value)[1], dtype="int32")[None]
            if use_causal_mask:
                pieces.append((rows >= cols)[None])
            if self._window is not None:
                pieces.append((ops.abs(rows - cols) < self._window)[None])
        if attention_mask is not None:
            pieces.append(ops.cast(attention_mask, "bool"))
        combined = None
        for mask in pieces:
            while len(mask.shape) < scores_rank:
                mask = ops.expand_dims(mask, expand_at)
            combined = (
                mask if combined is None else ops.logical_and(combined, mask)
            )
        return combined

    def _overridden_compute_attention(self):
        """Whether a subclass overrides Keras's `_compute_attention`."""
        mine = getattr(type(self), "_compute_attention", None)
        return mine is not getattr(
            keras.layers.MultiHeadAttention, "_compute_attention", None
        )

    def _use_fused(self, return_attention_scores, dropout_active):
        if self._flash:
            return True
        if return_attention_scores or dropout_active:
            return False
        if self.flash_attention is False:
            return False
        backend = keras.backend.backend()
        if backend == "jax" and self.value_dim != self.key_dim:
            return False  # jax.nn.dot_product_attention needs equal sizes
        if (
            keras.backend.standardize_dtype(self.compute_dtype) != "float32"
            and backend != "jax"
        ):
            # JAX's fused op takes float32 logits from low-precision inputs;
            # the others may not, so they keep the explicit float32 path.
            return False
        return _FUSED_IS_FASTER.get((backend, _device_kind()), False)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        if key is None:
            key = value
        self._check_inputs(query, value, key)
        if self._flash and return_attention_scores:
            raise ValueError(
                "Returning attention scores is not supported when flash "
                "attention is enabled. Please disable flash attention to "
                "access attention scores. Received: "
                "return_attention_scores=True, flash_attention=True"
            )
        # Causal alone is passed as a flag to the fused kernel; it never
        # masks a whole row, since key 0 is always visible.
        causal_flag = bool(use_causal_mask) and (
            query_mask is None
            and value_mask is None
            and key_mask is None
            and attention_mask is None
            and self._window is None
        )
        mask = self._combined_mask(
            query,
            value,
            query_mask,
            value_mask,
            key_mask,
            attention_mask,
            use_causal_mask and not causal_flag,
        )
        gate = self._gate()(query) if self._gated else None
        q = self.query_dense(query)  # (B, T, N, key_dim)
        k = self.key_dense(key)  # (B, S, N, key_dim)
        v = self.value_dense(value)  # (B, S, N, value_dim)
        dropout_active = bool(self.dropout > 0 and training)
        scores = None
        if self._overridden_compute_attention():
            # A subclass replaced Keras's documented override point: it
            # gets the combined mask, the causal part included.
            if causal_flag:
                mask = self._combined_mask(
                    query, value, None, None, None, None, True
                )
            attended, scores = self._compute_attention(
                q, k, v, mask, training, return_attention_scores
            )
        elif len(query.shape) != 3:
            if causal_flag:
                mask = self._combined_mask(
                    query, value, None, None, None, None, True
                )
            attended, scores = self._general_attention(q, k, v, mask, training)
        elif self._use_fused(return_attention_scores, dropout_active):
            attended = self._fused_attention(q, k, v, mask, causal_flag)
        else:
            if causal_flag:
                mask = self._combined_mask(
                    query, value, None, None, None, None, True
                )
            attended, scores = self._explicit_attention(
                q, k, v, mask, dropout_active
            )
        if gate is not None:
            attended = ops.multiply(attended, gate)
        output = self.output_dense(attended)
        if return_attention_scores:
            return output, scores
        return output

    def _fused_attention(self, q, k, v, mask, causal_flag):
        if mask is not None:
            length, source = ops.shape(q)[1], ops.shape(k)[1]
            full = ops.ones((1, 1, length, source), "bool")
            mask = ops.logical_and(mask, full)
        attended = ops.dot_product_attention(
            q,
            k,
            v,
            mask=mask,
            scale=self._scale,
            is_causal=causal_flag,
            flash_attention=self._flash,
        )
        if mask is not None:
            # Fused kernels spread a fully masked row evenly over the keys;
            # zero it, as the explicit path does.
            seen = ops.transpose(ops.any(mask, axis=-1), (0, 2, 1))
            attended = attended * ops.cast(seen[..., None], attended.dtype)
        return attended

    def _dropped(self, weights, dropout_active):
        if not dropout_active:
            return weights
        # Keras's own dropout sublayer, so the seed gives Keras's masks.
        return self._dropout_layer(weights, training=True)

    def _explicit_attention(self, q, k, v, mask, dropout_active):
        # Heads first, then batched matmuls: on TensorFlow this measured
        # about 20% faster than the equivalent einsums (benchmarks/).
        q = ops.transpose(ops.cast(q, "float32") * self._scale, (0, 2, 1, 3))
        k = ops.transpose(ops.cast(k, "float32"), (0, 2, 3, 1))
        logits = ops.matmul(q, k)  # (B, N, T, S), float32
        weights = self._masked_softmax_f32(logits, mask, axes=(-1,))
        weights = ops.cast(weights, v.dtype)
        kept = self._dropped(weights, dropout_active)
        attended = ops.matmul(kept, ops.transpose(v, (0, 2, 1, 3)))
        return ops.transpose(attended, (0, 2, 1, 3)), weights

    def _general_attention(self, q, k, v, mask, training):
        """Attention over any axes, for inputs of rank above 3."""
        dot, combine = self._equations
        n_axes = len(self._axes(len(q.shape) - 1))
        logits = ops.einsum(
            dot, ops.cast(k, "float32"), ops.cast(q, "float32") * self._scale
        )
        axes = tuple(range(-n_axes, 0))
        weights = ops.cast(
            self._masked_softmax_f32(logits, mask, axes=axes), v.dtype
        )
        kept = self._dropped(weights, bool(self.dropout > 0 and training))
        return ops.einsum(combine, kept, v), weights

    @staticmethod
    def _masked_softmax_f32(logits, mask, axes):
        """Softmax over `axes`; masked entries and fully masked rows get 0."""
        if mask is not None:
            logits = ops.where(mask, logits, _MASKED_LOGIT)
        if len(axes) == 1:
            weights = ops.softmax(logits, axis=axes[0])
        else:
            weights = ops.exp(
                logits - ops.logsumexp(logits, axis=axes, keepdims=True)
            )
        if mask is not None:
            weights = ops.where(mask, weights, 0.0)
        return weights

    def compute_output_spec(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        output = keras.KerasTensor(
            self.compute_output_shape(
                query.shape, value.shape, None if key is None else key.shape
            ),
            dtype=self.compute_dtype,
        )
        if not return_attention_scores:
            return output
        rank = len(query.shape)
        axes = self._axes(rank)
        query_dims = (*query.shape[:-1], self.num_heads)
        value_dims = (*value.shape[:-1], self.num_heads)
        batch = [i for i in range(rank) if i not in axes]
        shape = (
            [query_dims[i] for i in batch]
            + [query_dims[i] for i in axes]
            + [value_dims[i] for i in axes]
        )
        return output, keras.KerasTensor(tuple(shape), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["flash_attention"] = self.flash_attention
        return config
