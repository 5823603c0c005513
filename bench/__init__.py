"""The benchmarks of docs/performance.md (`make bench`, `python -m bench.run --help`).

run            the run: which scenarios, on which backends, in what order; the table
config         what the environment asks for (BENCH_*), where output goes, the console
results        each measurement as a row (ratio against target), the table, results.json
databases      the datasets written with ivrlog's own write path; fresh empty databases
dataset        the deterministic calls the datasets and the ingest scenarios are made of
client         how the scenarios ask: wrk under load, one GET, curl's time to last byte
processes      servers started, waited for and stopped (ivrlog, floor, nginx, Datasette)
lookup         B1 (lookup against the framework floor, floor.py) and B4 (growth)
big_page       B2 (a 10,000-call page against nginx, and memory)
ingest         B3 (ingestion against executemany or COPY)
peer           B5 (against Datasette)
soak_scenario  B11 as two rows of the table; soak.py is its mixed load
floor          the framework floor's server (B1)
"""
