"""What this machine offers the process: its CPU cores, and the OpenMP settings that fit them."""
import os


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
