#
# sfcrime: how the job stops. Ctrl-C and SIGTERM only ask for a stop, which comes between
# micro-batches (then the job finalizes), and none can stop Spark while it starts.
#
import signal
import sys
import time

# How long a graceful stop waits for a running micro-batch before interrupting it
# (an interrupted batch is simply replayed from the checkpoint on the next start).
STOP_GRACE_SECONDS = 60
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def start_spark(builder):
    """builder.getOrCreate() with Ctrl-C and SIGTERM made stop requests: the session and
    the list of the stop signals received, which the caller checks between waits.
    The handler only appends to that list: it can interrupt itself (a Ctrl-C reaches this
    process directly and again via submit.sh), so locks (Event.set, print) would deadlock."""
    stop_signals = []

    def request_stop(signum, _frame):
        stop_signals.append(signum)

    # While Spark starts, INT stays pending: SparkContext installs its own SIGINT handler
    # (it raises KeyboardInterrupt) and the threads started meanwhile inherit the mask.
    # The JVM launched by getOrCreate() inherits an ignored TERM (pyspark makes it ignore
    # INT), so a TERM sent to the whole process group cannot stop Spark under us.
    signal.signal(signal.SIGINT, request_stop)  # not SIG_IGN, which would drop it
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    spark = builder.getOrCreate()
    for sig in STOP_SIGNALS:
        signal.signal(sig, request_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return spark, stop_signals


def run_until_done(writer, progress_log, stop_signals, real_time=False):
    """Start the query and wait for it, logging its progress; on a stop request let a
    running batch finish, then stop. A real-time batch runs for its whole checkpoint
    interval, so that query stops at once: its interval is replayed on the next start
    (at-least-once)."""
    if stop_signals:
        print("stop requested before the query started", file=sys.stderr, flush=True)
        return
    query = writer.start()
    progress_log.started(query)
    try:
        wait_for_query(query, progress_log, stop_signals, real_time)
    finally:
        progress_log.poll(query)
        if not query.isActive:
            progress_log.terminated(query)
    error = query.exception()
    if error is not None:  # it may have failed while we waited to stop it
        raise error


def wait_for_query(query, progress_log, stop_signals, real_time):
    """Returns once the query has ended, or has been stopped on a stop request."""
    while not query.awaitTermination(progress_log.POLL_SECONDS):
        progress_log.poll(query)
        if stop_signals and real_time:
            print(f"{signal.Signals(stop_signals[0]).name}: stopping the real-time query "
                  "(a restart replays its unfinished checkpoint interval)",
                  file=sys.stderr, flush=True)
            query.stop()
            break
        if stop_signals:
            print(f"{signal.Signals(stop_signals[0]).name}: stopping the query after the "
                  "running batch, then finalizing", file=sys.stderr, flush=True)
            # Spark has no "stop after this batch": wait for a new progress (the running
            # batch is done) or an idle trigger. If the next batch has started meanwhile,
            # stop() interrupts it; it is replayed from the checkpoint on the next start.
            last = query.lastProgress
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while (query.status["isTriggerActive"] and query.lastProgress == last
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            query.stop()
            break
