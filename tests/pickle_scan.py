"""Find pickle streams inside any bytes (a checkpoint, an npz, a Keras file, an event file).

A pickle that could run code imports a callable: GLOBAL, STACK_GLOBAL, INST or OBJ, then calls it
(REDUCE, BUILD, NEWOBJ). From every PROTO opcode (``\\x80`` and a protocol 2-5) and every byte that
could open an older-protocol pickle with GLOBAL (``c``), the opcodes are parsed with pickletools
(which never executes anything): a stream that parses to its STOP and imports something is a
pickle. Random bytes (float weights) practically never parse that far.
"""

import pickletools
import re

_STARTS = re.compile(rb"\x80[\x02-\x05]|c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n")
_IMPORTS = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"}


def pickles_in(data, window=1 << 20):
    """The offsets of pickle streams that import a global, found anywhere in ``data``."""
    found = []
    for match in _STARTS.finditer(data):
        start = match.start()
        try:
            names = {op.name for op, _, _ in pickletools.genops(data[start:start + window])}
        except Exception:  # not a complete pickle from here
            continue
        if names & _IMPORTS:
            found.append(start)
    return found
