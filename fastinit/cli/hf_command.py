"""``fastinit init --hf-config config.json -o DIR``: a Hugging Face seed checkpoint, out of core.

The model class is built from the config on the meta device (no memory for
weights) while :class:`fastinit.torch._record.InitRecorder` records what the
model's own init code writes: transformers' ``_init_weights`` and the layers'
``reset_parameters``, in the order eager construction runs them (the model's
``init_weights`` is made to run as off the meta device, so initialization
comes before weight tying, as in ``from_config``).  Every tensor that
``save_pretrained`` would write is then generated block by block from its
recorded ops (:mod:`fastinit._initops`), each on its named stream
``stream_id(name)``, into ``DIR/model.safetensors`` or, above
``--max-shard-size``, ``DIR/model-0000i-of-0000N.safetensors`` and
``DIR/model.safetensors.index.json``; then ``DIR/config.json``.  Memory stays
bounded by the write buffer whatever the model size.

The tensors written are those ``save_pretrained`` keeps: ``state_dict()``
minus ``_keys_to_ignore_on_save``, minus tied copies (transformers' own
``remove_tied_weights_from_state_dict``), under the names its weight
conversion gives them; shards are cut by huggingface_hub's
``split_torch_state_dict_into_shards``, as ``save_pretrained`` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fastinit as fi
from fastinit._initops import fill_ops
from fastinit._modelplan import tensor_stream
from fastinit.cli.atomic import AtomicFile, check_free_space
from fastinit.cli.errors import RuntimeFailure, UsageError, os_error_text
from fastinit.cli.formats.safetensors import SAFETENSORS
from fastinit.cli.progress import format_bytes
from fastinit.cli.init_command import printable_path
from fastinit.cli.jobs import SizedJob
from fastinit.cli.schemes import parse_integer, set_threads

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"
SHARD_PATTERN = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
DEFAULT_MAX_SHARD_SIZE = "50GB"            # save_pretrained's default in transformers 5
HF_DTYPES = ("float32", "float16", "bfloat16", "float64")
_UNITS = {"": 1, "B": 1, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


@dataclass
class HFTensorJob(SizedJob):
    """One tensor of the checkpoint: its recorded ops replayed block by block (see
    :class:`fastinit.cli.jobs.TensorJob` for the interface the writer uses)."""

    name: str
    shape: tuple
    dtype: np.dtype
    ops: list
    seed: int
    stream: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    whole_matrix = False          # whole-matrix ops are cached per tensor by fill_ops

    def fill_region(self, out: np.ndarray, region: tuple) -> None:
        fill_ops(self.ops, out, region, shape=self.shape, seed=self.seed, stream=self.stream,
                 cache=self._cache)
        if self._cache and all(s.stop == n for s, n in zip(region, self.shape)):
            self._cache.clear()                   # the last block: drop the whole matrix

    def provenance(self) -> dict:
        return {"seed": self.seed, "stream": self.name, "ops": [op.provenance() for op in self.ops]}


def parse_size(text) -> int:
    """``--max-shard-size``: bytes, or a number with KB/MB/GB/TB (powers of 10) or KiB/MiB/GiB/TiB."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise UsageError(f"--max-shard-size must be a size such as 5GB, 500MB, 2GiB or a number of bytes; "
                         f"got {text!r}")
    size = int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])
    if size < 1:
        raise UsageError(f"--max-shard-size must be at least 1 byte; got {text!r}")
    return size


def _import_libraries():
    try:
        import torch
        import transformers
        from huggingface_hub import split_torch_state_dict_into_shards
    except ImportError as exc:
        raise RuntimeFailure(f"--hf-config needs PyTorch and transformers ({exc}); install the "
                             "'torch' and 'transformers' extras of fastinit") from None
    return torch, transformers, split_torch_state_dict_into_shards


def load_config(path: Path, transformers):
    """The transformers config of a config.json (its ``model_type`` picks the class)."""
    where = f"--hf-config {str(path)!r}"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise RuntimeFailure(f"cannot read {where}: {os_error_text(exc)}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a JSON object (a transformers config.json)")
    model_type = data.get("model_type")
    mapping = transformers.CONFIG_MAPPING
    if not isinstance(model_type, str) or model_type not in mapping:
        raise UsageError(f"{where}: 'model_type' must name a model type transformers "
                         f"{transformers.__version__} knows (e.g. 'llama', 'gpt2'); got {model_type!r}")
    try:
        return mapping[model_type].from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"{where}: transformers refuses it: {exc}") from None


def model_class(config, transformers):
    """The class ``config.architectures`` names (as save_pretrained records it), else the
    AutoModelForCausalLM class for the config."""
    names = getattr(config, "architectures", None) or []
    if names:
        cls = getattr(transformers, names[0], None)
        if cls is None:
            raise UsageError(f"config.json: 'architectures' names {names[0]!r}, which transformers "
                             f"{transformers.__version__} does not have")
        return cls
    auto = transformers.AutoModelForCausalLM
    try:
        return auto._model_mapping[type(config)]
    except KeyError:
        raise UsageError(f"config.json: model type {config.model_type!r} has no causal-LM class in "
                         "transformers; name the class in 'architectures'") from None


@contextlib.contextmanager
def eager_init_order(transformers):
    """Let ``init_weights`` run the model's init on the meta device, as it does off it.

    transformers skips ``initialize_weights`` when it finds a meta device
    context (``get_torch_context_manager_or_global_device``), but still ties
    weights; recording the init on the tied model would replay a tied output
    layer's init over the embedding's (padding row included), which is not
    what ``from_config`` gives.  So, while building, the check answers "no
    device context", and init then tie run in their eager order.
    """
    modeling_utils = transformers.modeling_utils
    original = modeling_utils.get_torch_context_manager_or_global_device
    modeling_utils.get_torch_context_manager_or_global_device = lambda: None
    try:
        yield
    finally:
        modeling_utils.get_torch_context_manager_or_global_device = original


def saved_tensors(model, torch, transformers) -> dict:
    """The tensors ``save_pretrained`` writes, by the name it writes them under, in its order."""
    from transformers.modeling_utils import remove_tied_weights_from_state_dict
    state = model.state_dict(keep_vars=True)
    for key in getattr(model, "_keys_to_ignore_on_save", None) or ():
        state.pop(key, None)
    state = remove_tied_weights_from_state_dict(state, model)
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:                       # no weight conversions in this transformers
        return state
    converted = revert_weight_conversion(model, state)
    if converted is state:
        return state
    originals = {id(tensor): name for name, tensor in state.items()}
    if (not isinstance(converted, dict) or len(converted) != len(state)
            or any(id(tensor) not in originals for tensor in converted.values())):
        raise UsageError(f"{type(model).__name__} saves its weights converted (merged or split), "
                         "which seed checkpoints do not support yet")
    return converted


def build_and_record(config, cls, dtype_text, torch, transformers):
    """The meta model and, per saved name, its recorded init ops."""
    from fastinit.torch._record import InitRecorder, RecordError
    dtype = getattr(torch, dtype_text)
    with torch.device("meta"):
        with InitRecorder() as recorder, eager_init_order(transformers):
            model = cls._from_config(config, dtype=dtype)
    saved = saved_tensors(model, torch, transformers)
    try:
        ops = recorder.ops_for(saved)
    except RecordError as exc:
        raise UsageError(f"{cls.__name__}: {exc}") from None
    return model, saved, ops


def check_output_directory(path: Path, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise RuntimeFailure(f"-o {str(path)!r} is a file; --hf-config writes a directory")
    parent = path.parent
    if not path.exists() and not parent.is_dir():
        raise RuntimeFailure(f"cannot create {str(path)!r}: directory {str(parent)!r} does not exist")
    if path.is_dir() and not force:
        present = [name for name in os.listdir(path)
                   if name in (WEIGHTS_NAME, INDEX_NAME, CONFIG_NAME) or SHARD_PATTERN.fullmatch(name)]
        if present:
            raise RuntimeFailure(f"{str(path)!r} already holds {', '.join(sorted(present))}; pass --force "
                                 "to replace the checkpoint")


def write_small_file(path: Path, text: str) -> None:
    output = AtomicFile(path, force=True)
    try:
        output.open()
        output.write(text.encode("utf-8"))
        output.sync()
        output.publish()
    except OSError as exc:
        output.discard()
        raise RuntimeFailure(f"writing {str(path)!r} failed: {os_error_text(exc)}") from None
    except BaseException:
        output.discard()
        raise


def publish(staging: Path, output: Path, written: list) -> None:
    """Move the finished checkpoint from ``staging`` to ``output`` (renamed whole when new;
    file by file, config.json last, when it replaces one, whose other weight files go)."""
    try:
        if not output.exists():
            os.rename(staging, output)
            return
        for name in written:                          # config.json is the last of them
            os.replace(staging / name, output / name)
        # A previous checkpoint's weights that this one does not replace would be loaded with it.
        for name in os.listdir(output):
            if name not in written and (name in (WEIGHTS_NAME, INDEX_NAME) or SHARD_PATTERN.fullmatch(name)):
                os.unlink(output / name)
        os.rmdir(staging)
    except OSError as exc:
        raise RuntimeFailure(f"moving the checkpoint into {str(output)!r} failed: {os_error_text(exc)}") from None


def command_init_hf(args) -> int:
    """``fastinit init --hf-config``: returns the exit status (0)."""
    for value, option in ((args.scheme, "SCHEME"), (args.shape, "SHAPE"), (args.spec, "--spec"),
                          (args.stream, "--stream"), (args.param, "--param"), (args.name, "--name")):
        if value:
            raise UsageError(f"{option} cannot be combined with --hf-config (the model's own init code "
                             "gives every tensor's scheme)")
    seed = parse_integer(args.seed, "--seed") if args.seed is not None else 0
    max_shard = parse_size(args.max_shard_size if args.max_shard_size is not None else DEFAULT_MAX_SHARD_SIZE)
    output = Path(args.output)
    check_output_directory(output, args.force)
    if args.threads is not None:
        set_threads(args.threads)
    torch, transformers, split_shards = _import_libraries()
    config = load_config(Path(args.hf_config), transformers)
    if args.dtype is not None:
        dtype_text = args.dtype
    else:
        configured = getattr(config, "dtype", None)
        dtype_text = (str(configured).removeprefix("torch.") if configured not in (None, "auto")
                      else "float32")
    if dtype_text not in HF_DTYPES:
        raise UsageError(f"the checkpoint's dtype must be one of {', '.join(HF_DTYPES)}; the config gives "
                         f"{dtype_text!r} (override it with --dtype)")
    cls = model_class(config, transformers)

    start = time.perf_counter()
    model, saved, ops = build_and_record(config, cls, dtype_text, torch, transformers)
    from fastinit.torch._bridge import _NUMPY_DTYPES
    jobs = {}
    for name, tensor in saved.items():
        if tensor.dtype not in _NUMPY_DTYPES:
            raise UsageError(f"{name} has dtype {tensor.dtype}; seed checkpoints hold floating tensors")
        jobs[name] = HFTensorJob(name, tuple(tensor.shape), _NUMPY_DTYPES[tensor.dtype], ops[name], seed,
                                 tensor_stream(name))
    split = split_shards(saved, filename_pattern="model{suffix}.safetensors", max_shard_size=max_shard)
    total = sum(job.nbytes for job in jobs.values())

    check_free_space(output if not output.exists() else output / WEIGHTS_NAME, total)
    provenance_base = {"version": fi.__version__, "stream_version": fi.STREAM_VERSION, "seed": seed,
                       "model": cls.__name__}
    config.dtype = dtype_text
    config.architectures = [cls.__name__]
    # Everything is written into a hidden directory next to DIR and moved into place at the end:
    # a failed or interrupted run leaves DIR as it was.
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".fastinit-part", dir=output.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)            # mkdtemp's 0700 would become DIR's mode
    except OSError as exc:
        raise RuntimeFailure(f"cannot create a directory in {str(output.parent)!r}: "
                             f"{os_error_text(exc)}") from None
    generating = 0.0
    written = []
    try:
        for filename, names in split.filename_to_tensors.items():
            shard_jobs = SAFETENSORS.layout([jobs[name] for name in names])
            provenance = dict(provenance_base, tensors={job.name: job.provenance() for job in shard_jobs})
            header = SAFETENSORS.encode_header(shard_jobs, provenance)
            _, seconds = SAFETENSORS.write(staging / filename, header, shard_jobs, True, args.quiet)
            generating += seconds
            written.append(filename)
        if split.is_sharded:
            index = {"metadata": {"total_parameters": model.num_parameters(), **split.metadata},
                     "weight_map": split.tensor_to_filename}
            write_small_file(staging / INDEX_NAME, json.dumps(index, indent=2, sort_keys=True) + "\n")
            written.append(INDEX_NAME)
        write_small_file(staging / CONFIG_NAME, config.to_json_string(use_diff=True))
        written.append(CONFIG_NAME)
        publish(staging, output, written)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    args.written = True
    seconds = time.perf_counter() - start

    if not args.quiet:
        elements = sum(job.size for job in jobs.values())
        shards = len(split.filename_to_tensors)
        print(f"wrote {printable_path(output.resolve())}: {cls.__name__} seed checkpoint, {len(jobs)} "
              f"tensors, {elements:,} parameters ({dtype_text}), "
              f"{total:,} bytes ({format_bytes(total)}) in {shards} file{'s' if shards > 1 else ''}, "
              f"seed {seed}, in {seconds:.3g} s ({generating:.3g} s generating)")
    return 0

