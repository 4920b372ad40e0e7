"""Just enough protobuf decoding for tests to look inside yep's
gzip-compressed profile.proto files without a protobuf library."""
import gzip


def varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data):
    """Yields (field number, wire type, int or bytes) of one message."""
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 2:
            size, pos = varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        yield number, wire, value


def packed(value, wire):
    """The integers of a repeated scalar field, packed (bytes) or not."""
    if wire == 0:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        x, pos = varint(value, pos)
        out.append(x)
    return out


def profile_messages(pb_gz_bytes):
    """Top-level (field number, wire type, value) of a gzipped Profile."""
    return list(fields(gzip.decompress(pb_gz_bytes)))


def sample_totals(pb_gz_bytes):
    """Sum of each Sample.value over all samples."""
    totals = None
    for number, _, sample in profile_messages(pb_gz_bytes):
        if number != 2:
            continue
        values = [v for n, w, raw in fields(sample) if n == 2 for v in packed(raw, w)]
        totals = [a + b for a, b in zip(totals, values)] if totals else values
    return totals
