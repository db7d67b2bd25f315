# sfcrime: pytest set-up for the unit tests of the job's modules in python/ (no Spark JVM,
# no broker). connector_check.py beside them is a script that the Rust integration tests
# run through spark/submit.sh; pytest leaves it alone because its name is not test_*.py.
import sys
from pathlib import Path

# The job runs as a script, so its modules import each other as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
