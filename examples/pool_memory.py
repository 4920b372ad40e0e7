"""A program whose work runs in worker processes: a Pool(2) of forked
workers builds four buffers. `yep memory pool_memory.py` reports @profile
functions wherever they ran: the program's own main(), then the lines each
worker ran, under a header naming the process. (profile is a builtin of
yep memory: run it under yep memory.)"""
import multiprocessing


@profile
def build(mib):
    raw = bytearray(mib * 2**20)
    packed = bytes(raw)
    del raw
    return len(packed)


@profile
def main():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        sizes = pool.map(build, [10, 20, 30, 40], chunksize=1)
    print(f"{sum(sizes) // 2**20} MiB built")


if __name__ == "__main__":
    main()
