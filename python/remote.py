#
# sfcrime: the job as a Spark Connect client (spark/submit.sh --remote sc://HOST:PORT):
# what differs from a run with its own driver JVM.
#
import os

from pyspark import cloudpickle

# Set by spark/submit.sh --remote: the run's --conf settings, one KEY=VALUE per line.
SESSION_CONFS_ENV = "SFCRIME_SESSION_CONFS"


def apply_session_confs(spark):
    """The run's --conf settings, set on its session of the server. A setting the
    server fixed when it started (spark.driver.*, spark.eventLog.*, ...) cannot change
    per session: Spark refuses it with an error that names it (CANNOT_MODIFY_CONFIG)."""
    for line in os.environ.get(SESSION_CONFS_ENV, "").splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            spark.conf.set(key.strip(), value)


def ship_by_value(*modules):
    """The server's Python workers run the job's functions (the foreachBatch sink) but
    do not have the job's files: pickle these modules' code along with them."""
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
