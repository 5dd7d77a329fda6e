"""Two speed-ups for JSON replies, installed in the embedded llama.cpp server's own process.

evalkit's ragas and deepeval renderings ask the embedded Gemma for JSON constrained by a
grammar (a JSON schema turned into GBNF), at temperature 0 and without log-probabilities.
llama-cpp-python spends most of such a call in two places the reply does not need:

1. **The grammar checks the whole vocabulary for every token.** Its sampler chain runs
   llama.cpp's grammar sampler over all 262,144 Gemma tokens and then picks the greedy
   token (70-900 ms per token on a 2-core machine, against 33-50 ms without a grammar).
   At temperature 0 the chosen token is the highest-scoring token the grammar allows, so
   :func:`install` checks the highest-scoring token alone first and runs the
   whole-vocabulary check only when the grammar rejects it: the same token, chosen by the
   same rule (llama.cpp's own ``common_sampler`` does this, "grammar second").
2. **Logits for every prompt token.** The server is started with ``logits_all`` (log
   probabilities need it), so reading a prompt computes and copies the full-vocabulary
   logits of every prompt token, although sampling reads only the last. For a request
   with a grammar and no log-probabilities, :func:`install` has llama.cpp compute only the
   last row of each batch (stored where the sampler and the log-probability code read it).

Requests without a grammar (the system under test, the judges' one-token verdicts, which
read log-probabilities) run llama-cpp-python's own code unchanged, so their outputs do
not move; a grammar request's reply is the same text either way (a Gemma test compares
them). Nothing here is imported by evalkit itself: :mod:`evalkit.models._embedded` runs
:func:`install` in the server process before llama-cpp-python's server starts, unless
``EVALKIT_LLAMA_SPEEDUPS=0`` (for comparisons; ``bench/bench_judge_tokens.py``).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from typing import Any

import numpy as np

#: Written to the server log once installed (tests look for it).
INSTALLED_LINE = "evalkit: llama.cpp speed-ups installed (greedy-first grammar, last-row logits)"

_state = threading.local()


def install() -> bool:
    """Patches llama-cpp-python's ``Llama`` class in this process (idempotent); returns
    whether it did. They replace private methods of one llama-cpp-python version, so
    another version runs unpatched (and the server log says why)."""
    import llama_cpp
    from llama_cpp import llama as llama_module

    from evalkit.models.llama_wheel import VERSION

    version = str(getattr(llama_cpp, "__version__", "?"))
    if version.split("+")[0] != VERSION:
        print(
            f"evalkit: llama.cpp speed-ups not installed: llama-cpp-python {version} is "
            f"not {VERSION}, the version they were written for",
            file=sys.stderr,
            flush=True,
        )
        return False
    llama_class: Any = llama_module.Llama
    if getattr(llama_class, "_evalkit_speedups", False):
        return True
    original_sampler = llama_class._init_sampler
    original_eval = llama_class.eval
    original_completion = llama_class._create_completion

    @functools.wraps(original_sampler)
    def init_sampler(self: Any, *args: Any, **kwargs: Any) -> Any:
        grammar = kwargs.get("grammar")
        if (
            args
            or grammar is None
            or kwargs.get("temp", 0.8) != 0.0
            or kwargs.get("logits_processor") is not None
        ):
            return original_sampler(self, *args, **kwargs)
        return _greedy_grammar_chain(self, grammar, kwargs)

    @functools.wraps(original_eval)
    def eval_tokens(self: Any, tokens: Any) -> None:
        if not getattr(_state, "last_row_only", False):
            original_eval(self, tokens)
            return
        _eval_last_rows(self, tokens)

    @functools.wraps(original_completion)
    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        # A generator: the flag must hold while the caller iterates it.
        last_row_only = kwargs.get("grammar") is not None and kwargs.get("logprobs") is None
        inner = original_completion(self, *args, **kwargs)
        while True:
            _state.last_row_only = last_row_only
            try:
                item = next(inner)
            except StopIteration as stop:
                return stop.value
            finally:
                _state.last_row_only = False
            yield item

    llama_class._init_sampler = init_sampler
    llama_class.eval = eval_tokens
    llama_class._create_completion = create_completion
    llama_class._evalkit_speedups = True
    print(INSTALLED_LINE, file=sys.stderr, flush=True)
    return True


def _eval_last_rows(llama: Any, tokens: Any) -> None:
    """``Llama.eval`` computing logits for the last token of each batch only."""
    llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
    for start in range(0, len(tokens), llama.n_batch):
        batch = tokens[start : min(len(tokens), start + llama.n_batch)]
        n_past = llama.n_tokens
        n_tokens = len(batch)
        llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)
        llama._ctx.decode(llama._batch)
        llama.input_ids[n_past : n_past + n_tokens] = batch
        if llama._logits_all:
            row = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama._n_vocab,))
            llama.scores[n_past + n_tokens - 1, :] = row
        llama.n_tokens += n_tokens
        llama._requires_eval = False


def _greedy_grammar_chain(llama: Any, grammar: Any, kwargs: dict[str, Any]) -> Any:
    """The sampler chain ``_init_sampler`` builds at temperature 0 with a grammar
    (penalties, grammar, greedy), its grammar step checking the greedy token first."""
    from llama_cpp import _internals
    from llama_cpp import llama_cpp as bindings

    chain = _internals.LlamaSampler()
    chain.add_penalties(
        n_vocab=llama._n_vocab,
        penalty_last_n=llama.last_n_tokens_size,
        penalty_repeat=kwargs.get("repeat_penalty", 1.0),
        penalty_freq=kwargs.get("frequency_penalty", 0.0),
        penalty_present=kwargs.get("presence_penalty", 0.0),
    )
    grammar_sampler = bindings.llama_sampler_init_grammar(
        llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not grammar_sampler:
        raise ValueError("llama.cpp could not build a sampler for this grammar")
    step = _GreedyFirstGrammar(grammar_sampler)
    bindings.llama_sampler_chain_add(chain.sampler, step.pointer)
    # The chain must not free a sampler Python owns: LlamaSampler removes listed ones first.
    chain.custom_samplers.append((bindings.llama_sampler_chain_n(chain.sampler) - 1, step))
    chain._exit_stack.callback(step.free)
    chain.add_greedy()
    return chain


class _GreedyFirstGrammar:
    """A llama.cpp sampler (C interface, written in Python) wrapping a grammar sampler."""

    def __init__(self, grammar_sampler: Any) -> None:
        from llama_cpp import llama_cpp as bindings

        self._bindings = bindings
        self._grammar: Any = grammar_sampler
        interface = bindings.llama_sampler_i()
        self._callbacks = (
            bindings.llama_sampler_i_apply(self._apply),
            bindings.llama_sampler_i_accept(self._accept),
            bindings.llama_sampler_i_reset(self._reset),
        )
        interface.apply, interface.accept, interface.reset = self._callbacks
        interface.name = bindings.llama_sampler_i_name(0)
        interface.clone = bindings.llama_sampler_i_clone(0)
        interface.free = bindings.llama_sampler_i_free(0)
        self._interface = interface
        self._sampler = bindings.llama_sampler()
        self._sampler.iface = ctypes.pointer(interface)
        self._sampler.ctx = None
        self.pointer = ctypes.pointer(self._sampler)

    def _apply(self, _sampler: Any, cur_p: Any) -> None:
        bindings = self._bindings
        candidates = cur_p.contents
        view = np.ctypeslib.as_array(candidates.data, shape=(candidates.size,))
        best = view[int(np.argmax(view["logit"]))]
        single = bindings.llama_token_data(int(best["id"]), float(best["logit"]), 0.0)
        probe = bindings.llama_token_data_array(
            data=ctypes.pointer(single), size=1, selected=-1, sorted=False
        )
        bindings.llama_sampler_apply(self._grammar, ctypes.byref(probe))
        if np.isfinite(single.logit):
            return  # the grammar allows the greedy token: greedy picks it as before
        bindings.llama_sampler_apply(self._grammar, cur_p)

    def _accept(self, _sampler: Any, token: int) -> None:
        self._bindings.llama_sampler_accept(self._grammar, token)

    def _reset(self, _sampler: Any) -> None:
        self._bindings.llama_sampler_reset(self._grammar)

    def free(self) -> None:
        grammar, self._grammar = self._grammar, None
        if grammar:
            self._bindings.llama_sampler_free(grammar)
