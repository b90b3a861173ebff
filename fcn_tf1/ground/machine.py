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
