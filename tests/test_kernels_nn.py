"""MCCCCrossConditioning: the README example trains; the layer is the theory objects' mathematics
(attention memory with and without the normaliser, the capacity theory's key-addressed memory,
ALiBi); padding, packing and streaming are exact; the decode cache equals decode; the MHA adapter
trains inside nn.TransformerDecoderLayer; torch.compile(fullgraph=True) equals eager; the JAX
twin equals the torch module for every option; bad input gets the project's errors."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import mccc_kernels
from mccc_kernels.nn import MCCCCrossConditioning, MCCCDecoder, MCCCMultiheadAdapter
from mccc_theory.attention import ModalMemory
from mccc_theory.errors import (
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    OrderError,
    ShapeError,
)

README = Path(__file__).resolve().parents[1] / "README.md"
F64 = torch.float64

# the option grid every equality test runs over (mix x write/feature_map x normalize)
OPTIONS = [
    dict(mix="softmax"),
    dict(mix="linear"),
    dict(mix="softmax", normalize=True),
    dict(mix="linear", normalize=True),
    dict(mix="softmax", write="key"),
    dict(mix="linear", write="key", feature_map="elu+1", normalize=True),
]
IDS = ["softmax", "linear", "softmax-norm", "linear-norm", "key", "key-elu-norm"]


def _layer(seed=0, d_model=12, n_modes=6, d_source=5, d_value=4, **kw):
    torch.manual_seed(seed)
    return MCCCCrossConditioning(d_model, n_modes=n_modes, d_source=d_source, d_value=d_value,
                                 **kw).double()


def _close(a, b, scale=1.0):
    # float64 contractions over <= 40 tokens and <= 12-wide projections: each output is a sum of
    # O(100) products of O(1) terms, so rounding is ~100 eps ~ 2e-14; 1e-12 leaves a margin
    # and is still 10 orders below any modelling difference (e.g. a leaked decay of 0.999^k)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12 * scale)


def test_readme_example_trains(capsys):
    section = README.read_text().split("## Kernels (`mccc_kernels`)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    mse = [float(v) for v in re.findall(r"mse ([0-9.]+)", capsys.readouterr().out)]
    assert len(mse) == 5 and mse[-1] < 0.05 * mse[0]  # the layer learns the decayed summary


# -- the mathematics is the theory objects' ---------------------------------------------------
def _attention_memory(layer):
    """The layer (write='gain') as mccc_theory.attention.ModalMemory on queries [x, 1]."""
    s = (-torch.exp(layer.nu) + 1j * layer.theta).detach().numpy()
    b = (layer.b_re + 1j * layer.b_im).detach().numpy()
    if layer.mix == "softmax":
        W = torch.cat([layer.score.weight.t(), layer.score.bias[None]]).detach().numpy()
        g = (layer.g_re + 1j * layer.g_im).detach().numpy()
        return ModalMemory(s, b, W.astype(complex), g, readout="softmax",
                           normalize=layer.normalize)
    W_re = torch.cat([layer.score.weight.t(), layer.score.bias[None]]).detach().numpy()
    W_im = torch.cat([layer.score_im.weight.t(), layer.score_im.bias[None]]).detach().numpy()
    return ModalMemory(s, b, W_re + 1j * W_im, readout="linear", normalize=layer.normalize)


@pytest.mark.parametrize("kw", OPTIONS[:4], ids=IDS[:4])
def test_gain_layer_is_the_attention_memory(kw):
    layer = _layer(3, **kw)
    src, x = torch.randn(2, 17, 5, dtype=F64), torch.randn(2, 3, 12, dtype=F64)
    y = layer(x, src)
    mem = _attention_memory(layer)
    W_v, W_o = layer.value.weight.detach().numpy(), layer.out.weight.detach().numpy()
    for i in range(2):
        q = np.concatenate([x[i].numpy(), np.ones((3, 1))], 1)
        ref = mem.readout(mem.encode(src[i].numpy() @ W_v.T), q) @ W_o.T + \
            layer.out.bias.detach().numpy()
        np.testing.assert_allclose(y[i].detach().numpy(), ref, rtol=1e-12, atol=1e-12)  # _close


def test_key_layer_is_the_capacity_memory():
    from mccc_theory.recall import KeyedModalMemory
    d, m, n = 8, 5, 30
    mem = KeyedModalMemory.default(m, d, n, seed=4)
    layer = MCCCCrossConditioning(d, n_modes=m, d_source=d, d_value=d, mix="linear",
                                  write="key").double()
    lam = torch.exp(torch.as_tensor(mem.s))
    P = torch.as_tensor(mem.projection)
    with torch.no_grad():  # c(q) = phi(q) lambda: the read one step after the last write
        layer.nu.copy_(torch.as_tensor(mem.nu))
        layer.theta.copy_(torch.as_tensor(mem.theta))
        layer.key.weight.copy_(P)
        layer.value.weight.copy_(torch.eye(d))
        layer.score.weight.copy_(lam.real[:, None] * P)
        layer.score_im.weight.copy_(lam.imag[:, None] * P)
        for lin in (layer.score, layer.score_im, layer.out):
            lin.bias.zero_()
        layer.out.weight.copy_(torch.eye(d))
    rng = np.random.default_rng(5)
    K, V, Q = rng.standard_normal((2, n, d)), rng.standard_normal((2, n, d)), \
        rng.standard_normal((2, 4, d))
    y = layer(torch.as_tensor(Q), torch.as_tensor(V), keys=torch.as_tensor(K))
    np.testing.assert_allclose(y.detach().numpy(), mem.read(K, V, Q), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("N", [1, 7, 300])
def test_alibi_is_one_mode_plus_normaliser(N):
    slope, d = 0.07, 6
    layer = MCCCCrossConditioning(d, n_modes=1, normalize=True).double()
    with torch.no_grad():
        layer.nu.fill_(math.log(slope))
        layer.theta.zero_()
        layer.b_re.fill_(1.0)
        layer.value.weight.copy_(torch.eye(d))
        layer.out.weight.copy_(torch.eye(d))
        layer.out.bias.zero_()
    v, x = torch.randn(2, N, d, dtype=F64), torch.randn(2, 3, d, dtype=F64)
    bias = -slope * torch.arange(N - 1, -1, -1, dtype=F64)  # ALiBi: -slope * lag
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.zeros(2, 3, 1, dtype=F64), torch.zeros(2, N, 1, dtype=F64), v,
        attn_mask=bias.expand(3, N))
    _close(layer(x, v), ref)


# -- padding, packing, streaming --------------------------------------------------------------
@pytest.mark.parametrize("kw", OPTIONS, ids=IDS)
def test_padding_packing_streaming_are_exact(kw):
    layer = _layer(1, **kw)
    lens = [9, 4, 13]
    seqs = [torch.randn(1, n, 5, dtype=F64) for n in lens]
    alone = [layer.encode(s) for s in seqs]
    # right padding with garbage (not zeros) under the mask: equal to each sequence alone
    Nmax = max(lens)
    src = torch.randn(3, Nmax, 5, dtype=F64)
    kpm = torch.ones(3, Nmax, dtype=torch.bool)
    for i, s in enumerate(seqs):
        src[i, :lens[i]] = s[0]
        kpm[i, :lens[i]] = False
    right = layer.encode(src, key_padding_mask=kpm)
    # padding scattered inside the sequence and on the left: a padded step neither writes nor decays
    inner = torch.randn(3, Nmax + 5, 5, dtype=F64)
    kpm_in = torch.ones(3, Nmax + 5, dtype=torch.bool)
    for i, s in enumerate(seqs):
        pos = torch.sort(torch.randperm(Nmax + 5)[:lens[i]]).values
        inner[i, pos] = s[0]
        kpm_in[i, pos] = False
    scattered = layer.encode(inner, key_padding_mask=kpm_in)
    packed = layer.encode(torch.cat(seqs, 1), lengths=torch.tensor(lens))
    cu = layer.encode(torch.cat(seqs, 1), cu_seqlens=torch.tensor([0, 9, 13, 26]))
    for i in range(3):
        for got in (right, scattered, packed, cu):
            for a, b in zip(got, alone[i], strict=True):
                _close(a[i:i + 1], b)
    # streaming: the state of the first 5 tokens continues to the full encode
    full = layer.encode(seqs[2])
    part = layer.encode(seqs[2][:, 5:], layer.encode(seqs[2][:, :5]))
    for a, b in zip(part, full, strict=True):
        _close(a, b)
    # packed sequences continue their own streams: one state per sequence
    prev = [layer.encode(torch.randn(1, 3, 5, dtype=F64)) for _ in range(3)]
    h0 = tuple(torch.cat([p[j] for p in prev]) for j in range(2))
    cont = layer.encode(torch.cat(seqs, 1), h0, lengths=torch.tensor(lens))
    for i in range(3):
        for a, b in zip(cont, layer.encode(seqs[i], prev[i]), strict=True):
            _close(a[i:i + 1], b)
    # the mask bites: without it the right-padded first sequence's state is different
    unmasked = layer.encode(src)
    assert (unmasked[0][0] - alone[0][0][0]).abs().max() > 1e-3
    x = torch.randn(3, 2, 12, dtype=F64)
    _close(layer(x, src, key_padding_mask=kpm),
           torch.cat([layer(x[i:i + 1], seqs[i]) for i in range(3)]))


@pytest.mark.parametrize("kw", OPTIONS, ids=IDS)
def test_memory_projection_equals_token_projection(kw):
    """``encode`` applies W_v to the source's memory when that is cheaper (``projects_memory``);
    a continued stream (``state=``) projects every token. The two are one linear map: with a
    zero state both routes must give the same memory, output and gradients."""
    layer = _layer(3, d_source=4, d_value=7, n_modes=3, **kw)
    N = 40
    src = torch.randn(2, N, 4, dtype=F64, requires_grad=True)
    x = torch.randn(2, 3, 12, dtype=F64)
    # the rule: memory 12 N (4 + e) + 2*3*4*7 against tokens 28 N + 12 N (7 + e) multiply-adds
    # (e = 1 with the normaliser): 64 N > 168, the memory route from N = 3
    assert not layer.projects_memory(2) and layer.projects_memory(3) and layer.projects_memory(N)
    wide = _layer(3, d_source=9, d_value=2, n_modes=3, **kw)  # d_s >> d_v: project the tokens
    assert not wide.projects_memory(N)
    zero = tuple(torch.zeros(2, 3, layer.state_width, dtype=F64) for _ in range(2))
    grads = []
    for state in (None, zero):
        layer.zero_grad(set_to_none=True)
        src.grad = None
        H = layer.encode(src, state)
        y = layer.decode(x, H)
        (y.square().sum() + sum((h * torch.cos(h)).sum() for h in H)).backward()
        grads.append([t.detach().clone() for t in (*H, y, src.grad)] +
                     [p.grad.clone() for p in layer.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1]) > 5
    for a, b in zip(*grads, strict=True):
        _close(a, b, scale=float(b.abs().max()))


def test_zero_left_padding_stays_exact_without_a_mask():
    layer = _layer(2)  # zero inputs before the first token leave the zero state unchanged
    src = torch.randn(2, 11, 5, dtype=F64)
    padded = torch.cat([torch.zeros(2, 6, 5, dtype=F64), src], 1)
    for a, b in zip(layer.encode(padded), layer.encode(src), strict=True):
        _close(a, b)
    assert layer.encode(torch.randn(2, 500, 5, dtype=F64))[0].shape == (2, 6, 4)


# -- the decode cache -------------------------------------------------------------------------
@pytest.mark.parametrize("kw", OPTIONS, ids=IDS)
def test_decoder_cache_equals_decode(kw):
    layer = _layer(4, **kw)
    state = layer.encode(torch.randn(2, 25, 5, dtype=F64))
    x = torch.randn(2, 7, 12, dtype=F64)
    ref = layer.decode(x, state)
    cache = layer.decoder(state)
    assert isinstance(cache, MCCCDecoder)
    scale = float(ref.detach().abs().max())  # the normalised readout can be large where Re(c^T H_1) is small
    _close(cache(x), ref, scale)
    _close(cache(x[:, 3]), ref[:, 3], scale)
    one = layer.decoder(tuple(h[:1] for h in state))  # the single-sequence 2-d fast path
    _close(one(x[:1, 3]), ref[:1, 3], scale)
    _close(one(x[:1]), ref[:1], scale)
    assert not cache(x.requires_grad_()).requires_grad  # no graph through the cache
    with pytest.raises(ShapeError, match=r"x: expected \(2, d_model\)"):
        cache(torch.randn(2, 11, dtype=F64))


@pytest.mark.parametrize("kw", OPTIONS, ids=IDS)
@pytest.mark.parametrize("sizes", [dict(), dict(d_model=3, n_modes=1, d_source=2, d_value=1),
                                   dict(d_model=17, n_modes=9, d_source=3, d_value=17)],
                         ids=["12x6", "3x1", "17x9"])
def test_decoder_compiled_step_equals_torch_and_decode(kw, sizes):
    """The compiled one-token step (backend 'numba') against the torch GEMMs of the same cache
    and against ``decode``: float64 and float32, (1, d) and (1, 1, d) tokens, odd sizes; a
    token that requires grad is read without a graph, a non-contiguous one takes the torch path."""
    pytest.importorskip("numba")
    layer = _layer(5, **sizes, **kw)
    d = layer.d_model
    state = layer.encode(torch.randn(1, 19, layer.d_source, dtype=F64))
    x = torch.randn(1, 4, d, dtype=F64)
    ref = layer.decode(x, state).detach()
    scale = float(ref.abs().max())
    fast, slow = layer.decoder(state), layer.decoder(state, backend="torch")
    assert (fast.backend, slow.backend) == ("numba", "torch")
    for tok, want in ((x[:, 1], ref[:, 1]), (x[:, 2:3], ref[:, 2:3])):
        got = fast(tok.clone())
        assert got.shape == tok.shape and got.dtype == F64
        _close(got, want, scale)
        _close(got, slow(tok), scale)
    assert not fast(x[:, 0].clone().requires_grad_()).requires_grad
    wide = torch.randn(1, 2 * d, dtype=F64)[:, ::2]  # not contiguous: the torch GEMMs
    _close(fast(wide), layer.decode(wide[:, None], state)[:, 0], scale)
    # float32: each output is a sum of <= 2 x 17 products of O(1) terms, so the two rounding
    # orders differ by <= ~34 eps32 ~ 4e-6 of the output scale; 2e-5 leaves a margin
    layer32 = layer.float()
    state32 = tuple(h.float() for h in state)
    fast32, slow32 = layer32.decoder(state32), layer32.decoder(state32, backend="torch")
    tok = x[:, 1].float()
    assert fast32.backend == "numba" and fast32(tok).dtype == torch.float32
    torch.testing.assert_close(fast32(tok), slow32(tok), rtol=2e-5, atol=2e-5 * scale)
    torch.testing.assert_close(fast32(tok).double(), ref[:, 1], rtol=2e-5, atol=2e-5 * scale)


def test_decoder_backend_rule(monkeypatch):
    import mccc_kernels.nn as nn_mod
    from mccc_theory.errors import BackendUnavailableError

    layer = _layer(1)
    state = layer.encode(torch.randn(2, 5, 5, dtype=F64))
    one = tuple(h[:1] for h in state)
    assert layer.decoder(state).backend == "torch"  # a batch of 2: batched GEMMs, no step
    assert _layer(1, backend="torch").decoder(one).backend == "torch"  # the layer's choice
    with pytest.raises(MethodError, match="backend"):
        layer.decoder(one, backend="triton")
    monkeypatch.setattr(nn_mod, "_numba_decode_token", lambda: None)  # numba missing
    assert layer.decoder(one).backend == "torch"
    with pytest.raises(BackendUnavailableError, match="backend: 'numba'.*numba missing"):
        layer.decoder(one, backend="numba")


# -- the nn.MultiheadAttention adapter --------------------------------------------------------
def test_adapter_in_transformer_decoder_layer_trains_and_masks_exactly():
    torch.manual_seed(0)
    d, N, Q = 16, 20, 6
    dec = torch.nn.TransformerDecoderLayer(d, 4, dim_feedforward=32, dropout=0.0)  # seq-first
    dec.multihead_attn = MCCCMultiheadAdapter(d, 4, n_modes=8)
    target_map = torch.randn(d, d) / d ** 0.5
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    decay = torch.exp(-torch.arange(N - 1, -1, -1) / 5.0)
    losses = []
    for _ in range(40):
        mem, tgt = torch.randn(N, 8, d), torch.randn(Q, 8, d)
        summary = (decay[:, None, None] * mem).sum(0) / decay.sum()  # (batch, d)
        loss = torch.nn.functional.mse_loss(dec(tgt, mem), tgt + summary @ target_map)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # 40 Adam steps must at least halve the loss of the decayed-summary task (the untrained
    # layer sits near the target's variance, ~1 + |summary|^2)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    dec = dec.double().eval()
    mem, tgt = torch.randn(N, 2, d, dtype=F64), torch.randn(Q, 2, d, dtype=F64)
    padded = torch.cat([mem, torch.randn(7, 2, d, dtype=F64)])
    kpm = torch.zeros(2, N + 7, dtype=torch.bool)
    kpm[:, N:] = True
    with torch.no_grad():
        ref = dec(tgt, mem)
        # layer norms after the residuals: rounding stays at a few ulps of O(1) outputs
        _close(dec(tgt, padded, memory_key_padding_mask=kpm), ref)
        float_mask = torch.zeros(2, N + 7, dtype=F64).masked_fill(kpm, -math.inf)
        _close(dec(tgt, padded, memory_key_padding_mask=float_mask), ref)
        assert (dec(tgt, padded) - ref).abs().max() > 1e-3  # unmasked padding does change it


def test_adapter_refuses_what_it_cannot_honour():
    ad = MCCCMultiheadAdapter(8, 2, batch_first=True, n_modes=4)
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    out, w = ad(q, kv, kv)
    assert out.shape == q.shape and w is None
    cases = [
        (dict(attn_mask=torch.zeros(3, 5, dtype=torch.bool)), MethodError, r"attn_mask: MCCC"),
        (dict(is_causal=True), MethodError, r"is_causal"),
        (dict(need_weights=True), MethodError, r"need_weights"),
        (dict(key_padding_mask=torch.full((2, 5), 0.5)), ShapeError, r"key_padding_mask: a float"),
    ]
    for kwargs, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            ad(q, kv, kv, **kwargs)
    with pytest.raises(MethodError, match=r"dropout: expected 0"):
        MCCCMultiheadAdapter(8, 2, dropout=0.1)
    with pytest.raises(ShapeError, match=r"num_heads: expected a divisor of embed_dim = 8"):
        MCCCMultiheadAdapter(8, 3)
    with pytest.raises(ShapeError, match=r"kdim, vdim"):
        MCCCMultiheadAdapter(8, 2, kdim=4, vdim=6)


# -- torch.compile ----------------------------------------------------------------------------
def test_compile_fullgraph_equals_eager():
    torch._dynamo.reset()
    layer = _layer(5, normalize=True).float()
    x, src = torch.randn(2, 3, 12), torch.randn(2, 19, 5)
    kpm = torch.zeros(2, 19, dtype=torch.bool)
    kpm[1, 15:] = True
    eager = layer(x, src, key_padding_mask=kpm)
    compiled = torch.compile(layer, fullgraph=True)(x, src, key_padding_mask=kpm)
    # float32 both ways, the compiler may reorder/fuse sums: a few ulps of O(1) outputs
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)


# -- JAX twin ---------------------------------------------------------------------------------
# every write, feature map, mix and the normaliser appear at least once (the grid's corners)
JAX_OPTIONS = [0, 3, 4, 5]


@pytest.mark.parametrize("kw", [OPTIONS[i] for i in JAX_OPTIONS], ids=[IDS[i] for i in JAX_OPTIONS])
def test_jax_function_equals_torch_module(kw):
    jax = pytest.importorskip("jax")
    from mccc_kernels import jax_nn
    jnp = jax.numpy
    torch.manual_seed(2)
    layer = MCCCCrossConditioning(8, n_modes=7, d_source=5, d_value=6, **kw)
    x, src = torch.randn(2, 3, 8), torch.randn(2, 19, 5)
    kpm = torch.zeros(2, 19, dtype=torch.bool)
    kpm[0, 12:] = True
    kpm[1, :3] = True
    y = layer(x, src, key_padding_mask=kpm)
    p, opts = jax_nn.params_from_torch(layer), jax_nn.options_from_torch(layer)
    X, S, M = jnp.asarray(x.numpy()), jnp.asarray(src.numpy()), jnp.asarray(kpm.numpy())

    def f(q):
        return jax_nn.mccc_cross_conditioning(q, X, S, key_padding_mask=M, **opts)
    # float32 on both sides, different summation orders: ~1e-6 of the O(1) outputs
    np.testing.assert_allclose(np.asarray(f(p)), y.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    g = jax.grad(lambda q: (f(q) ** 2).sum())(p)
    names = ["nu", "theta"] + (["b_re", "b_im"] if layer.write == "gain" else [])
    for name in names:
        np.testing.assert_allclose(np.asarray(g[name]), getattr(layer, name).grad.numpy(),
                                   rtol=1e-4, atol=1e-5)  # float32 gradients through 19 steps
    if layer.write == "key":
        np.testing.assert_allclose(np.asarray(g["key_w"]), layer.key.weight.grad.numpy(),
                                   rtol=1e-4, atol=1e-5)
    packed = torch.cat([src[0, :12], src[1, 3:]])[None]
    lens = [12, 16]
    yp = layer(x, packed, lengths=torch.tensor(lens))
    yj = jax_nn.mccc_cross_conditioning(p, X, jnp.asarray(packed.numpy()), lengths=lens, **opts)
    np.testing.assert_allclose(np.asarray(yj), yp.detach().numpy(), rtol=1e-5, atol=1e-5)


# -- bad input --------------------------------------------------------------------------------
def _bad_calls():
    L = MCCCCrossConditioning(8, n_modes=4, d_source=5, d_value=3)
    x, src = torch.randn(2, 3, 8), torch.randn(2, 9, 5)
    nan_src, inf_x = src.clone(), x.clone()
    nan_src[1, 4, 2] = float("nan")
    inf_x[0, 1, 0] = float("inf")
    st = L.encode(src)
    K = MCCCCrossConditioning(8, n_modes=4, d_source=5, write="key")
    nan_keys = src.clone()
    nan_keys[0, 8, 1] = float("nan")
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[1, 4] = True  # nan_src's NaN sits at a padded position: zero weight, still refused
    big = MCCCCrossConditioning(8, n_modes=4, d_source=5, d_value=3)
    with torch.no_grad():
        big.value.weight.fill_(1.0)
    return [
        (lambda: L(x, nan_src), NonFiniteError, r"source: expected finite values, found nan at "
                                                r"index \(1, 4, 2\)"),
        (lambda: L(x, nan_src, key_padding_mask=pad), NonFiniteError,
         r"source: expected finite values, found nan at index \(1, 4, 2\)"),
        (lambda: K(x, src, keys=nan_keys), NonFiniteError,
         r"keys: expected finite values, found nan at index \(0, 8, 1\)"),
        # finite, but the value projection (five ones per row) of 3e38 leaves float32's range
        (lambda: big(x, torch.full((2, 9, 5), 3e38)), NonFiniteError,
         r"source: the memory overflowed torch.float32 \(finite source, largest \|entry\| 3e\+38"),
        (lambda: L(inf_x, src), NonFiniteError, r"x: expected finite values, found inf"),
        (lambda: L(x, src.long()), DTypeError, r"source: expected a floating dtype"),
        (lambda: L(x, src.double()), DTypeError, r"source: expected at most the layer's precision"),
        (lambda: L(x, torch.randn(2, 0, 5)), EmptyInputError, r"source: expected at least one"),
        (lambda: L(x, torch.randn(2, 9, 6)), ShapeError, r"source: expected \(batch, N, 5\) with "
                                                         r"d_source = 5"),
        (lambda: L(torch.randn(2, 3, 7), src), ShapeError, r"x: expected \(batch, Q, 8\) with "
                                                           r"d_model = 8"),
        (lambda: L(x, src, key_padding_mask=torch.zeros(2, 8, dtype=torch.bool)), ShapeError,
         r"key_padding_mask: expected shape \(batch, N\) = \(2, 9\)"),
        (lambda: L(x, src, key_padding_mask=torch.zeros(2, 9)), DTypeError,
         r"key_padding_mask: expected a bool tensor"),
        (lambda: L(x[:1], src[:1], lengths=torch.tensor([4, 4])), ShapeError,
         r"lengths: expected lengths summing to the packed length 9"),
        (lambda: L(x[:1], src[:1], lengths=torch.tensor([10, -1])), ShapeError,
         r"lengths: expected lengths >= 0"),
        (lambda: L(x[:1], src[:1], cu_seqlens=torch.tensor([0, 5, 3, 9])), ShapeError,
         r"cu_seqlens: expected non-decreasing"),
        (lambda: L(x, src, lengths=torch.tensor([9])), ShapeError, r"source: packed sequences"),
        (lambda: L(x, src, keys=src), MethodError, r"keys: only write='key'"),
        (lambda: L.decode(x, (st[0][:, :2], st[1])), ShapeError,
         r"state: expected planes \(H_re, H_im\) of shape \(2, 4, 3\)"),
        (lambda: L.encode(src, (st[0] * float("nan"), st[1])), NonFiniteError, r"state\[0\]"),
        (lambda: MCCCCrossConditioning(8, n_modes=-3), OrderError, r"n_modes: expected an integer"),
        (lambda: MCCCCrossConditioning(8, n_modes=0), OrderError, r"n_modes: expected an integer"),
        (lambda: MCCCCrossConditioning(8, d_value=-1), OrderError, r"d_value: expected an integer"),
        (lambda: MCCCCrossConditioning(0), OrderError, r"d_model: expected an integer"),
        (lambda: MCCCCrossConditioning(8, r_max=1.5), OrderError, r"r_min, r_max: expected 0 <="),
        (lambda: MCCCCrossConditioning(8, mix="dot"), MethodError, r"mix: expected one of"),
        (lambda: MCCCCrossConditioning(8, write="addr"), MethodError, r"write: expected one of"),
        (lambda: MCCCCrossConditioning(8, feature_map="elu+1"), MethodError,
         r"feature_map: applies to write='key' only"),
        (lambda: MCCCCrossConditioning(8, write="key", feature_map="relu"), MethodError,
         r"feature_map: expected one of"),
        (lambda: MCCCCrossConditioning(8, normalize=1), DTypeError, r"normalize: expected a bool"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_calls())))
def test_bad_input_names_the_argument(case):
    call, exc, pattern = _bad_calls()[case]
    with pytest.raises(exc, match=pattern):
        call()


def test_value_checks_follow_the_kernels_switch():
    L = MCCCCrossConditioning(8, n_modes=4, d_source=5, normalize=True)
    src = torch.randn(1, 9, 5)
    src[0, 0, 0] = float("nan")
    with mccc_kernels.checks(False):  # training loops: no value is read on the host
        assert torch.isnan(L(torch.randn(1, 2, 8), src)).all()
    with pytest.raises(NonFiniteError, match=r"source"):
        L(torch.randn(1, 2, 8), src)
    # normalize=True with every token padded: no normaliser, refused instead of a silent NaN
    with pytest.raises(NonFiniteError, match=r"state: the normaliser Re\(c\(q\)\^T H_1\) is 0"):
        L(torch.randn(1, 2, 8), torch.randn(1, 9, 5),
          key_padding_mask=torch.ones(1, 9, dtype=torch.bool))


@pytest.mark.parametrize("kw", [OPTIONS[i] for i in JAX_OPTIONS], ids=[IDS[i] for i in JAX_OPTIONS])
def test_jax_memory_projection_equals_token_projection(kw):
    """The JAX twin follows the same route rule (``_common.projects_memory``): its memory route
    (no state) equals its token route (a zero state), in the memory and in the gradient of
    W_v, and equals the torch layer."""
    jax = pytest.importorskip("jax")
    from mccc_kernels import jax_nn
    jnp = jax.numpy
    layer = _layer(3, d_source=4, d_value=7, n_modes=3, **kw).float()
    assert layer.projects_memory(40)
    p, opts = jax_nn.params_from_torch(layer), jax_nn.options_from_torch(layer)
    src = torch.randn(2, 40, 4)
    S = jnp.asarray(src.numpy())
    zero = tuple(jnp.zeros((2, 3, layer.state_width), jnp.float32) for _ in range(2))

    def loss(q, state):
        return sum((h * jnp.cos(h)).sum() for h in jax_nn.encode(q, S, state, **opts))
    # float32, two association orders over 40 tokens and 4-wide projections: ~ 50 eps32 = 6e-6
    # of the entries' magnitude; 1e-5 of the largest entry
    routes = [jax_nn.encode(p, S, st, **opts) for st in (None, zero)]
    grads = [jax.grad(loss)(p, st)["value_w"] for st in (None, zero)]
    with torch.no_grad():
        torch_H = layer.encode(src)
    for a, b, c in zip(*routes, torch_H, strict=True):
        scale = float(np.abs(np.asarray(b)).max())
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5 * scale)
        np.testing.assert_allclose(np.asarray(a), c.numpy(), rtol=1e-5, atol=1e-5 * scale)
    scale = float(np.abs(np.asarray(grads[1])).max())
    np.testing.assert_allclose(np.asarray(grads[0]), np.asarray(grads[1]), rtol=1e-5,
                               atol=1e-5 * scale)


def test_jax_bad_input_names_the_argument():
    jax = pytest.importorskip("jax")
    from mccc_kernels import jax_nn
    jnp = jax.numpy
    key = jax.random.PRNGKey(0)
    p = jax_nn.init_params(key, 8, n_modes=4, d_source=5, d_value=3)
    x, src = jnp.ones((2, 3, 8)), jnp.ones((2, 9, 5))
    cases = [
        (lambda: jax_nn.init_params(key, 8, r_max=1.5), OrderError, r"r_min, r_max: expected"),
        (lambda: jax_nn.init_params(key, 8, n_modes=0), OrderError, r"n_modes: expected an int"),
        (lambda: jax_nn.init_params(key, 8, d_value=-1), OrderError, r"d_value: expected an int"),
        (lambda: jax_nn.init_params(key, 8, write="x"), MethodError, r"write: expected one of"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, jnp.ones((2, 9, 6))), ShapeError,
         r"source: expected \(batch, N, 5\) with d_source = 5"),
        (lambda: jax_nn.mccc_cross_conditioning(p, jnp.ones((2, 3, 7)), src), ShapeError,
         r"x: expected \(batch, Q, 8\) with d_model = 8"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, src.at[0, 1, 2].set(jnp.nan)),
         NonFiniteError, r"source: expected finite values"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, jnp.ones((2, 9, 5), jnp.int32)),
         DTypeError, r"source: expected a floating dtype"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, jnp.ones((2, 0, 5))), EmptyInputError,
         r"source: expected at least one"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x[:1], src[:1], lengths=[4, 4]), ShapeError,
         r"lengths: expected non-negative integer lengths summing to the packed length 9"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, src, key_padding_mask=jnp.ones((2, 8), bool)),
         ShapeError, r"key_padding_mask: expected a bool array of shape \(batch, N\)"),
        (lambda: jax_nn.mccc_cross_conditioning(p, x, src, normalize=True,
                                                key_padding_mask=jnp.ones((2, 9), bool)),
         NonFiniteError, r"state: the normaliser Re\(c\(q\)\^T H_1\) is 0"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()
    y = jax.jit(lambda q, a, b: jax_nn.mccc_cross_conditioning(q, a, b))(p, x, src)
    assert np.isfinite(np.asarray(y)).all()  # validation traces under jit
