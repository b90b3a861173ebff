"""What this machine offers the process: its CPU (cores, instruction sets, nominal FP32 peak), and
the OpenMP settings that fit them."""
import ctypes
import functools
import os
import platform


@functools.lru_cache(maxsize=1)
def libc():
    """The C library this process has loaded (ctypes), or None where its symbols are not found."""
    try:
        process = ctypes.CDLL(None)
    except OSError:
        return None
    return process if all(hasattr(process, name)
                          for name in ("sigaltstack", "fflush", "madvise")) else None


MADV_DONTNEED = 4  # Linux's


def trim_heap():
    """Give memory freed in every thread's heap back to the system (glibc's malloc_trim): glibc
    keeps what a thread frees in its own arena, so an image decoded in a reader thread, or a tile's
    output, would stay counted at the next tile's peak (~190 MB of a 12-megapixel photo's)."""
    if libc() is not None and hasattr(libc(), "malloc_trim"):
        libc().malloc_trim(0)


def release_file_pages(path):
    """Drop this process's resident pages of its read-only mappings of the file ``path`` (Linux's
    madvise MADV_DONTNEED: a page touched again is read back from the file, unchanged); returns
    the bytes of the mappings released. OpenVINO maps an IR's weights and keeps them mapped beside
    its compiled model's own copy: half a gigabyte counted twice at full width."""
    if libc() is None or not os.path.exists("/proc/self/maps"):
        return 0
    real, released = os.path.realpath(path), 0
    with open("/proc/self/maps") as f:
        mappings = [line.split(None, 5) for line in f]
    for fields in mappings:
        # Only pages no one can have written to: read-only, never copied on write.
        if len(fields) == 6 and fields[5].rstrip("\n") == real and "w" not in fields[1]:
            start, end = (int(n, 16) for n in fields[0].split("-"))
            if libc().madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start),
                              MADV_DONTNEED) == 0:
                released += end - start
    return released


def cpu_cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def openmp_settings():
    """Intel's recommended OpenMP variables for TensorFlow's oneDNN build: one thread per core,
    threads that sleep after 1 ms, pinned compactly (the stock build has no OpenMP)."""
    return {"OMP_NUM_THREADS": str(cpu_cores()), "KMP_BLOCKTIME": "1",
            "KMP_AFFINITY": "granularity=fine,compact,1,0"}


def peak_rss_mb():
    """This process's peak resident memory in MB. Linux's VmHWM starts anew at exec; getrusage's
    ru_maxrss (the fallback elsewhere) keeps the parent's size at fork, so a fresh process started
    by a large one would report the parent's memory."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpuinfo():
    """{key: value} of /proc/cpuinfo's first processor ({} where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not line.strip():
                    break
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags():
    """The instruction-set flags /proc/cpuinfo names."""
    return set(cpuinfo().get("flags", "").split())


# The instructions that make int8 faster than fp32 on a CPU: VNNI's 8-bit dot products, AMX's tiles.
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def int8_note(flags=None):
    """One line when this CPU has none of ``INT8_FLAGS`` (int8 runs there, but no faster than
    fp32), else None."""
    flags = cpu_flags() if flags is None else flags
    if any(flag in flags for flag in INT8_FLAGS):
        return None
    return ("this CPU has no VNNI (%s): int8 runs here, but no faster than fp32"
            % ", ".join(INT8_FLAGS))


# FP32 FLOP per cycle and core of the widest vector unit a flag names (two FMA units).
FLOPS_PER_CYCLE = (("avx512f", 64), ("fma", 32), ("avx2", 32), ("avx", 16), ("sse2", 8))


def cpu_info():
    """{"model", "cores", "ghz", "flops_per_cycle", "simd", "nominal_gflops"} from /proc/cpuinfo.

    FP32 FLOP per cycle and core: two FMA units of the widest vector the flags name. AMD family 25
    (Zen 3/4) has AVX-512 only on Zen 4, which executes it on 256-bit units: 32, as AVX2.
    """
    info = cpuinfo()
    flags = set(info.get("flags", "").split())
    cores = cpu_cores()
    simd, per_cycle = next(((f, n) for f, n in FLOPS_PER_CYCLE if f in flags), ("none", 2))
    if simd == "avx512f" and info.get("vendor_id") == "AuthenticAMD" and info.get("cpu family") == "25":
        simd, per_cycle = "avx512f on 256-bit units (Zen 4)", 32
    ghz = float(info.get("cpu MHz", 0)) / 1000.0
    return {"model": info.get("model name", platform.processor() or "unknown"), "cores": cores,
            "ghz": ghz, "simd": simd, "flops_per_cycle": per_cycle,
            "nominal_gflops": cores * ghz * per_cycle}
