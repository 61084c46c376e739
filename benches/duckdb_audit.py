#!/usr/bin/env python3
"""The audit's verdict decision written as SQL in DuckDB, run on the same Parquet store, for
comparison with `wmo-audit audit` (what an analyst would write instead).

Usage: benches/duckdb_audit.py STORE VERDICTS_PARQUET [FIRST_DAY LAST_DAY]

It encodes the sample policy (samples/voorbeeldstad/policy.toml): direct_worker (grace 7),
team_coach (30), complaints_handler (30), replacement (same team; access and city-wide teams for
all), veilig_thuis, the six role rules; medical needs BIG; complaint and incident sections only
for the complaints handler, policy adviser and supervisor. It prints the verdict counts, the
time the query took, and how many events disagree with wmo-audit's verdicts.parquet (must be 0).
Installs duckdb with pip when missing. Not a test: a benchmark helper.
"""
import subprocess
import sys
import time

try:
    import duckdb
except ImportError:  # pragma: no cover
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "duckdb"])
    import duckdb

store, ours = sys.argv[1], sys.argv[2]
first, last = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("1900-01-01", "2999-12-31")
TZ = "Europe/Amsterdam"
OPEN = "DATE '9999-12-31'"

con = duckdb.connect()
# DuckDB spills to disk beyond its memory limit: next to the store, not in the working tree.
con.execute(f"SET temp_directory = '{store}/../duckdb-spill'")
con.execute(f"SET TimeZone = '{TZ}'")
for t in ["staff", "teams", "cases", "assignments", "complaints"]:
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{store}/{t}.parquet')")
con.execute(
    f"""CREATE VIEW ev AS
        SELECT source, event_id, user_id, client_pid, section, emergency,
               CAST(timezone('{TZ}', event_time) AS DATE) AS d
        FROM read_parquet('{store}/events/*/*.parquet')
        WHERE CAST(timezone('{TZ}', event_time) AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'"""
)

QUERY = f"""
WITH sk AS (SELECT s.*, t.kind FROM staff s LEFT JOIN teams t USING (team_id)),
r AS (
  SELECT e.*,
    EXISTS (SELECT 1 FROM assignments a JOIN cases c USING (case_id)
            WHERE c.client_pid = e.client_pid AND a.user_id = e.user_id
              AND e.d BETWEEN a.valid_from AND coalesce(a.valid_to + 7, {OPEN})) AS direct_worker,
    EXISTS (SELECT 1 FROM cases c JOIN sk s ON s.team_id = c.team_id
            WHERE c.client_pid = e.client_pid AND s.user_id = e.user_id AND s.role = 'coach'
              AND e.d BETWEEN s.valid_from AND coalesce(s.valid_to, {OPEN})
              AND e.d BETWEEN c.opened AND coalesce(c.closed + 30, {OPEN})) AS team_coach,
    EXISTS (SELECT 1 FROM complaints k
            WHERE k.client_pid = e.client_pid AND k.handler_user_id = e.user_id
              AND e.d BETWEEN k.opened AND coalesce(k.closed + 30, {OPEN})) AS complaints_handler,
    EXISTS (SELECT 1 FROM cases c, sk s
            WHERE c.client_pid = e.client_pid AND s.user_id = e.user_id
              AND e.d BETWEEN c.opened AND coalesce(c.closed, {OPEN})
              AND e.d BETWEEN s.valid_from AND coalesce(s.valid_to, {OPEN})
              AND (s.team_id = c.team_id OR s.kind IN ('access', 'citywide'))) AS replacement,
    EXISTS (SELECT 1 FROM sk s WHERE s.user_id = e.user_id AND s.role = 'veilig_thuis'
              AND e.d BETWEEN s.valid_from AND coalesce(s.valid_to, {OPEN}))
      AND EXISTS (SELECT 1 FROM cases c WHERE c.client_pid = e.client_pid AND c.domestic_violence
              AND e.d BETWEEN c.opened AND coalesce(c.closed, {OPEN})) AS veilig_thuis,
    (SELECT list(DISTINCT s.role) FROM sk s WHERE s.user_id = e.user_id
              AND e.d BETWEEN s.valid_from AND coalesce(s.valid_to, {OPEN})) AS roles,
    EXISTS (SELECT 1 FROM sk s WHERE s.user_id = e.user_id AND s.big_registered
              AND e.d BETWEEN s.valid_from AND coalesce(s.valid_to, {OPEN})) AS big
  FROM ev e
),
v AS (
  SELECT source, event_id,
    CASE WHEN emergency THEN 'emergency'
         WHEN (section <> 'medical' OR big) AND (
              (section NOT IN ('complaint', 'incident') AND (direct_worker OR team_coach OR replacement
                  OR veilig_thuis OR list_has_any(coalesce(roles, []),
                     ['coordinator', 'controller', 'auditor', 'administrator'])))
              OR complaints_handler
              OR list_has_any(coalesce(roles, []), ['supervisor', 'policy_adviser']))
         THEN 'justified' ELSE 'unjustified' END AS verdict
  FROM r
)
SELECT * FROM v
"""

start = time.perf_counter()
con.execute(f"CREATE TABLE duck AS {QUERY}")
elapsed = time.perf_counter() - start
counts = con.execute("SELECT verdict, count(*) FROM duck GROUP BY 1 ORDER BY 1").fetchall()
diff = con.execute(
    f"""SELECT count(*) FROM duck d
        FULL JOIN (SELECT source, event_id, verdict FROM read_parquet('{ours}')) o
          USING (source, event_id)
        WHERE d.verdict IS DISTINCT FROM o.verdict"""
).fetchone()[0]
print(f"duckdb {duckdb.__version__}: {sum(n for _, n in counts)} events in {elapsed:.2f} s")
for verdict, n in counts:
    print(f"  {verdict}: {n}")
print(f"  events whose verdict differs from wmo-audit's: {diff}")
sys.exit(1 if diff else 0)
