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


def stacks(pb_gz_bytes):
    """[(frames, values)]: each sample's frames leaf first, one
    (function name, file name, function start line, line) per line of its
    locations (inlined callee first), and its values."""
    messages = profile_messages(pb_gz_bytes)
    strings = [value.decode("utf-8", "replace") for number, _, value in messages if number == 6]
    functions, locations, out = {}, {}, []
    for number, _, message in messages:
        if number == 5:  # Function: id, name, system_name, filename, start_line
            f = {n: v for n, _, v in fields(message)}
            functions[f.get(1, 0)] = (strings[f.get(2, 0)], strings[f.get(4, 0)], f.get(5, 0))
        elif number == 4:  # Location: id, ..., repeated Line{function_id, line}
            loc_id, lines = 0, []
            for n, _, v in fields(message):
                if n == 1:
                    loc_id = v
                elif n == 4:
                    line = {ln: lv for ln, _, lv in fields(v)}
                    lines.append((line.get(1, 0), line.get(2, 0)))
            locations[loc_id] = lines
    for number, _, message in messages:
        if number != 2:
            continue
        ids, values = [], []
        for n, w, v in fields(message):
            if n == 1:
                ids += packed(v, w)
            elif n == 2:
                values += packed(v, w)
        frames = [(*functions[fid], line) for loc in ids for fid, line in locations[loc]]
        out.append((frames, values))
    return out
