#!/usr/bin/env python
"""Write fastinit's raw Philox4x32-10 words to stdout as little-endian uint32.

Words ``start, start+1, ...`` of ``(seed, stream)`` are produced with
``fastinit.random_raw`` in chunks of ``--chunk`` words (default 2**22) and
written as a binary stream, endlessly or until ``--words N`` words are out.
Meant to be piped into a statistical test suite, e.g.

    python tools/stream_words.py --seed 0 --stream 0 | dieharder -g 200 -a

``--interleave K`` alternates the words of streams STREAM..STREAM+K-1 (word
by word), to look for correlations between streams of one seed.

Exits quietly (status 0) when the reader closes the pipe.  Uses one thread by
default (the thread count never changes the words, only the speed).  With
``--report``, prints how many words it wrote to stderr on exit; when the reader
closed the pipe it prints an upper bound on what the reader can have read (the
last chunk may be partly written, and the pipe buffer partly unread).
"""

import argparse
import os
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="key, in [0, 2**64) (default 0)")
    p.add_argument("--stream", type=int, default=0, help="stream id, in [0, 2**64) (default 0)")
    p.add_argument("--start", type=int, default=0, help="index of the first word (default 0)")
    p.add_argument("--words", type=int, default=None,
                   help="stop after this many words (default: endless)")
    p.add_argument("--chunk", type=int, default=1 << 22, help="words per random_raw call")
    p.add_argument("--interleave", type=int, default=1, metavar="K",
                   help="interleave streams STREAM..STREAM+K-1 word by word: output word "
                        "i is word START + i//K of stream STREAM + i%%K (default 1: no)")
    p.add_argument("--threads", type=int, default=1, help="fastinit threads (default 1)")
    p.add_argument("--report", action="store_true",
                   help="print the number of words written to stderr on exit")
    args = p.parse_args(argv)

    import numpy as np
    import fastinit as fi

    k = args.interleave
    if k < 1:
        p.error("--interleave must be >= 1")
    chunk = -(-args.chunk // k) * k     # whole rows of k, so no word is skipped
    fi.set_num_threads(args.threads)
    out = sys.stdout.buffer
    pos, left = args.start, args.words  # pos: per-stream word index
    done = 0                            # words written
    closed = False
    try:
        while left is None or left > 0:
            n = chunk if left is None else min(chunk, left)
            if k == 1:
                w = fi.random_raw(n, seed=args.seed, stream=args.stream, start=pos)
                pos += n
            else:
                m = -(-n // k)
                w = np.empty((m, k), dtype=np.uint32)
                for j in range(k):
                    w[:, j] = fi.random_raw(m, seed=args.seed, stream=args.stream + j, start=pos)
                w = w.reshape(-1)[:n]
                pos += m
            out.write(w.astype("<u4", copy=False).tobytes())
            done += n
            if left is not None:
                left -= n
        out.flush()
    except BrokenPipeError:
        # The reader is done with us.  Point stdout at /dev/null so the
        # interpreter's final flush does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        closed = True
    if args.report:
        what = (f"seed={args.seed}, stream={args.stream}" if k == 1 else
                f"seed={args.seed}, streams {args.stream}..{args.stream + k - 1} interleaved")
        if closed:
            # The chunk being written when the pipe closed may be partly out.
            hi = done + (chunk if left is None else min(chunk, left))
            print(f"stream_words: reader closed the pipe after reading at most {hi} "
                  f"words ({done} written in full chunks; {what}, start={args.start})",
                  file=sys.stderr)
        else:
            print(f"stream_words: words written: {done} ({what}, start={args.start})",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
