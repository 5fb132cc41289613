"""The ``fastinit`` command line: write initialized weight files, benchmark, inspect.

::

    fastinit init he_normal 100000x1024 -o embedding.npy
    fastinit init --spec model.toml -o model.safetensors
    fastinit init --hf-config config.json -o seed-checkpoint/
    fastinit bench --size-mib 256 --json bench.json --plot bench.png
    fastinit inspect embedding.npy --plot histogram.png
    fastinit info

``python -m fastinit ...`` runs the same command line (:func:`main`).  Each
command's options are in ``fastinit COMMAND --help``; what the help does not
say is below.

``init``
    A ``--param`` value is parsed as the type of the parameter's default
    (``0`` stays an int and ``0.1`` a float; a bool takes true/false, yes/no,
    on/off or 1/0; a parameter without a usable default takes a number, a
    bool word or else the text).

    Rows are generated with ``region=`` into a reusable 64 MiB buffer and
    written block by block (with four or more cores, two buffers: one is
    filled while the other is written), so the process stays under about
    250 MiB of anonymous memory whatever the file size.  orthogonal and
    sparse are computed whole (4096x4096 takes about 0.7 GiB).

    A ``.npy`` file is byte for byte ``np.save(FILE, fastinit.SCHEME(...))``.
    NumPy has no bfloat16: like ``np.save``, the header then says ``<V2`` and
    ``np.load(FILE).view(ml_dtypes.bfloat16)`` gives the values back
    (``.safetensors`` stores ``BF16``).  A progress bar is drawn on stderr
    when it is a terminal; the summary line gives the rate end to end and
    for generating the values alone.

    Options may come anywhere, also between SCHEME and SHAPE.  A SHAPE
    with a zero dimension (``100x0``) writes a valid empty array, as the
    Python API does.  A number too large for a float64 (``--param
    std=1e400``) is a usage error, not inf.  Tensor and stream names must be
    valid UTF-8 (bytes that are not, from the command line, are refused).

    The data goes to a hidden temporary file in the target's directory
    (``.NAME.HOST.XXXXXXXX.fastinit-part``, HOST 8 hex digits from the
    machine's name), which is fsync'ed and renamed over the target at the
    end.  On Ctrl-C, SIGTERM, SIGHUP or any error the temporary file is
    removed and the target is left as it was.  The
    writer holds an exclusive ``flock`` on it meanwhile; a write that was
    killed outright (``kill -9``, a crash) cannot clean up, so the next
    write into that directory removes such files of this machine that no
    live process holds (one line on stderr says which; a live write's file,
    and another machine's, are never touched).

    A JSON spec may not give a key twice in one object (JSON parsers
    usually keep the last; TOML refuses it too).

    A spec file may also be TOML::

        seed = 0                        # optional; --seed overrides it
        dtype = "bfloat16"              # optional default for the tensors

        [tensors."embed.weight"]
        scheme = "normal"
        shape = [50000, 1024]           # or "50000x1024"
        params = { std = 0.02 }

        [tensors."layers.0.mlp.weight"]
        scheme = "he_uniform"
        shape = "4096x1024"
        dtype = "float32"               # overrides the default
        stream = "mlp-0"                # default: the tensor's name

    A top level without ``tensors`` is read as the mapping of tensors itself.

    ``--hf-config config.json -o DIR`` (needs torch and transformers) writes
    the Hugging Face seed checkpoint of the config's model: every tensor as
    the model's own init code draws it, recorded on the meta device, from
    its named stream (:mod:`fastinit.cli.hf_command`).  The files are
    written into a hidden ``.DIR.XXXXXXXX.fastinit-part`` directory next to
    DIR and moved into place at the end.

Errors are one line on stderr, ``fastinit: error: ...``, and never a
traceback.  Exit status: 0 success; 2 usage errors (the command line or
spec is invalid whatever the state of the system: unknown scheme, bad shape,
dtype or parameter); 1 runtime errors (missing or unwritable directory,
existing target without ``--force``, missing input file, disk full, any
other OSError, a damaged input file); 130 interrupted by SIGINT (143
SIGTERM, 129 SIGHUP), wherever the signal lands: the console script
(``_fastinit_entry``, outside this package) catches them before the
imports run, and :func:`main` for the rest of the run.

The package, one job per module:

* this file: the documentation above, and :func:`main` and
  :func:`safe_stdout` (the entry points) from ``app``;
* ``app``: the argument parser, :func:`main` and error reporting;
* ``errors``: the error classes and the exit status of each;
* ``schemes``: the SCHEME table (read from the API's signatures) and the
  parsing of parameters, shapes, dtypes, seeds, streams and threads;
* ``formats``: the format table, one module per file format (``npy``,
  ``safetensors``): suffixes, layout, header encoding and decoding, reader
  and writer;
* ``atomic``: safe writes (a locked temporary file renamed into place,
  stale-file cleanup), target and free-space checks;
* ``chunked``: the out-of-core writer (blocks in file order, reusable
  buffers, background writes);
* ``jobs``: :class:`~fastinit.cli.jobs.TensorJob`, one tensor to generate;
* ``progress``: the progress bar, byte and duration formatting;
* ``init_command``: ``fastinit init`` and spec files;
* ``bench``: ``fastinit bench`` and the timing machinery it shares with
  ``benchmarks/compare.py``;
* ``inspect_command``: ``fastinit inspect``;
* ``info_command``: ``fastinit info``;
* ``plotting``: matplotlib for ``--plot``.
"""

from __future__ import annotations

from fastinit.cli.app import main, safe_stdout

__all__ = ["main", "safe_stdout"]
