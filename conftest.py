"""pytest configuration shared by unit tests and nbval."""
import os

# nbval kernels inherit this: notebooks were executed single-threaded (see the Makefile).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# ... and text progress bars (nagkit.progress.TEXT_BARS): widget bars send a stream of comm messages that, on a
# loaded machine, outlast nbval's 5 s wait for a cell's output (a cold-cache surrogate training timed out).
os.environ.setdefault("NAGKIT_TEXT_PROGRESS", "1")


def pytest_collectstart(collector):
    """nbval: compare text outputs only; HTML renderings, JS and stderr (progress bars) vary."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr")
