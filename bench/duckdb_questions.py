"""The question endpoints' questions asked of DuckDB, on the rows the benchmark wrote.

Usage: duckdb_questions.py DIR FROM TO REPS PARAMS_JSON

Loads DIR/SigninLogs.ndjson, AuditLogs.ndjson and AADProvisioningLogs.ndjson into DuckDB tables
(in memory; the load is timed apart), then runs each question REPS times over [FROM, TO] and
prints JSON: {"duckdb": version, "load_s": ..., "questions": {name: {p50_ms, p95_ms, rows, values}}}
(values: each row's identifying values, see key_values).
Each query is the DuckDB form of what shared/src/query/questions.rs plans for SQLite.
"""

import datetime
import json
import sys
import time

import duckdb

ROLE_ACTIVITIES = [
    ("Add member to role", "direct"),
    ("Add eligible member to role", "PIM (eligible)"),
    ("Add member to role completed (PIM activation)", "PIM (activated)"),
    ("Add member to group", "group"),
]
SELF_SERVICE_RESET = "Reset password (self-service)"
ADMIN_RESET = "Reset user password"

TABLES = {
    "SigninLogs": {
        "Id": "VARCHAR", "TimeGenerated": "TIMESTAMP", "UserPrincipalName": "VARCHAR",
        "AppDisplayName": "VARCHAR", "AppId": "VARCHAR", "ResultType": "VARCHAR",
        "ResultDescription": "VARCHAR", "Location": "VARCHAR", "LocationDetails": "VARCHAR",
        "DeviceDetail": "VARCHAR", "IPAddress": "VARCHAR",
    },
    "AuditLogs": {
        "Id": "VARCHAR", "TimeGenerated": "TIMESTAMP", "OperationName": "VARCHAR",
        "TargetResources": "VARCHAR", "InitiatedBy": "VARCHAR", "CorrelationId": "VARCHAR",
    },
    "AADProvisioningLogs": {
        "Id": "VARCHAR", "TimeGenerated": "TIMESTAMP", "SourceSystem": "VARCHAR",
        "TargetSystem": "VARCHAR", "ProvisioningAction": "VARCHAR", "SourceIdentity": "VARCHAR",
        "TargetIdentity": "VARCHAR", "ResultType": "VARCHAR",
    },
}

WINDOW = "TimeGenerated >= $from AND TimeGenerated <= $to"


def provisioning(filters):
    where = " AND ".join([WINDOW] + [f"lower({col}) = lower('{value}')" for col, value in filters])
    return f"""SELECT TimeGenerated, json_extract_string(SourceSystem, '$.displayName'),
        json_extract_string(TargetSystem, '$.displayName'), ProvisioningAction,
        json_extract_string(SourceIdentity, '$.identityType'), ResultType,
        json_extract_string(SourceIdentity, '$.displayName'), json_extract_string(SourceIdentity, '$.id'),
        json_extract_string(TargetIdentity, '$.id'), Id
        FROM AADProvisioningLogs WHERE {where} ORDER BY TimeGenerated DESC, Id LIMIT 100"""


SOURCE = "json_extract_string(SourceSystem, '$.displayName')"
TARGET = "json_extract_string(TargetSystem, '$.displayName')"
OBJECT = "json_extract_string(SourceIdentity, '$.identityType')"


def questions():
    activities = ", ".join(f"'{a}'" for a, _ in ROLE_ACTIVITIES)
    how = " ".join(f"WHEN '{a}' THEN '{h}'" for a, h in ROLE_ACTIVITIES)
    facets = [
        ("hour_weekday", "strftime(TimeGenerated, '%w') || '-' || strftime(TimeGenerated, '%H')"),
        ("location", "COALESCE(json_extract_string(LocationDetails, '$.city') || ', ', '') || COALESCE(Location, '')"),
        ("app", "AppDisplayName"),
        ("device", "COALESCE(json_extract_string(DeviceDetail, '$.operatingSystem'), '') || ' / ' || COALESCE(json_extract_string(DeviceDetail, '$.browser'), '')"),
        ("result", "ResultType"),
    ]
    pattern = " UNION ALL ".join(
        f"SELECT '{d}' AS d, {k} AS k, COUNT(*) AS n FROM SigninLogs WHERE {WINDOW} AND lower(UserPrincipalName) = lower($user) GROUP BY 2"
        for d, k in facets
    )
    return {
        "admin-access": f"""SELECT TimeGenerated, json_extract_string(TargetResources, '$[0].userPrincipalName'),
            json_extract_string(TargetResources, '$[1].displayName'), CASE OperationName {how} END,
            COALESCE(json_extract_string(InitiatedBy, '$.user.userPrincipalName'), json_extract_string(InitiatedBy, '$.app.displayName')),
            OperationName, CorrelationId
            FROM AuditLogs WHERE {WINDOW} AND OperationName IN ({activities})
              AND (OperationName != 'Add member to group' OR contains(lower(json_extract_string(TargetResources, '$[1].displayName')), 'admin'))
            ORDER BY TimeGenerated DESC, Id LIMIT 100""",
        "app-users": f"""SELECT UserPrincipalName, COUNT(*), MAX(TimeGenerated) FROM SigninLogs
            WHERE {WINDOW} AND (AppDisplayName = $app OR AppId = $app)
            GROUP BY UserPrincipalName ORDER BY COUNT(*) DESC, UserPrincipalName LIMIT 100""",
        "password-resets": f"""SELECT strftime(TimeGenerated, '%Y-%m-%d') AS day,
            SUM(CASE WHEN OperationName = '{SELF_SERVICE_RESET}' THEN 1 ELSE 0 END),
            SUM(CASE WHEN OperationName = '{ADMIN_RESET}' THEN 1 ELSE 0 END)
            FROM AuditLogs WHERE {WINDOW} AND OperationName IN ('{SELF_SERVICE_RESET}', '{ADMIN_RESET}')
            GROUP BY 1 ORDER BY 1""",
        "sign-in-pattern": f"{pattern} ORDER BY 1, 3 DESC, 2",
        "weekly-users": f"""SELECT strftime(TimeGenerated, '%Y-%m-%d') AS day, COUNT(DISTINCT lower(UserPrincipalName)), COUNT(*)
            FROM SigninLogs WHERE {WINDOW} GROUP BY 1
            UNION ALL SELECT 'all', COUNT(DISTINCT lower(UserPrincipalName)), COUNT(*) FROM SigninLogs WHERE {WINDOW}
            ORDER BY 1""",
        "sign-in-status": f"""SELECT ResultType, MAX(ResultDescription), COUNT(*) FROM SigninLogs
            WHERE {WINDOW} GROUP BY 1 ORDER BY 3 DESC, 1""",
        "groups-created": provisioning([(TARGET, "ServiceNow"), ("ProvisioningAction", "create"), (OBJECT, "Group"), ("ResultType", "success")]),
        "users-removed": provisioning([(TARGET, "Adobe Identity Management"), ("ProvisioningAction", "delete"), (OBJECT, "User"), ("ResultType", "success")]),
        "users-created": provisioning([(SOURCE, "Workday"), (TARGET, "Active Directory"), ("ProvisioningAction", "create"), (OBJECT, "User"), ("ResultType", "success")]),
        "logs": f"""SELECT * FROM SigninLogs WHERE {WINDOW} AND lower(UserPrincipalName) = lower($user)
            ORDER BY TimeGenerated DESC, Id LIMIT 100""",
    }


def key_values(name, rows):
    """The values that identify each row of an answer, as text, the same ones
    bench/src/endpoints.rs reads from the endpoint's answer: sorted, so the two engines'
    answers compare whatever their order."""
    pick = {
        "admin-access": lambda r: (r[1], r[2], r[3]),
        "app-users": lambda r: (r[0], r[1]),
        "password-resets": lambda r: (r[0], r[1], r[2]),
        "sign-in-pattern": lambda r: (r[0], r[1], r[2]),
        "weekly-users": lambda r: (r[0], r[1], r[2]),
        "sign-in-status": lambda r: (r[0], r[2]),
        "logs": lambda r: (r[0],),
    }.get(name, lambda r: (r[9],))
    text = lambda v: "" if v is None else str(v)
    keep = [r for r in rows if not (name == "weekly-users" and r[0] == "all")]
    return sorted("\t".join(text(v) for v in pick(r)) for r in keep)


def percentile(sorted_times, p):
    rank = round(p * (len(sorted_times) - 1))
    return sorted_times[min(rank, len(sorted_times) - 1)]


def main():
    data, start, end, reps, params = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
    con = duckdb.connect()
    t = time.perf_counter()
    for table, columns in TABLES.items():
        cols = "{" + ", ".join(f"'{c}': '{ty}'" for c, ty in columns.items()) + "}"
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_ndjson('{data}/{table}.ndjson', columns = {cols}, timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ')")
    load = time.perf_counter() - t
    bind = {
        "from": start.replace("T", " ").rstrip("Z"),
        "to": end.replace("T", " ").rstrip("Z"),
        "user": params["user"],
        "app": params["app"],
    }
    out = {}
    for name, sql in questions().items():
        used = {k: v for k, v in bind.items() if f"${k}" in sql}
        times = []
        rows = 0
        # One call first, not measured (as for the endpoints): a cold first call is not what
        # a repeated question costs.
        con.execute(sql, used).fetchall()
        for _ in range(reps):
            t = time.perf_counter()
            answer = con.execute(sql, used).fetchall()
            values = key_values(name, answer)
            if name == "password-resets":
                # The endpoint lists every day of the range, zero when nothing happened.
                first = datetime.date.fromisoformat(start[:10])
                last = datetime.date.fromisoformat(end[:10])
                days = {str(first + datetime.timedelta(days=d)) for d in range((last - first).days + 1)}
                answer = sorted(days | {r[0] for r in answer})
            # The endpoint gives the week's totals (the 'all' row) as its summary, not a row.
            rows = len([r for r in answer if not (name == "weekly-users" and r[0] == "all")])
            times.append((time.perf_counter() - t) * 1000.0)
        times.sort()
        out[name] = {"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95), "rows": rows, "values": values}
    print(json.dumps({"duckdb": duckdb.__version__, "load_s": load, "questions": out}))


if __name__ == "__main__":
    main()
