use super::*;
use crate::clock::Timestamp;

#[test]
fn event_times_are_read_in_the_forms_exports_use() {
    let at = |s: &str| parse_time(s).map(|t| t.rfc3339_millis());
    let expect = Some("2022-09-09T09:59:27.958Z".to_string());
    assert_eq!(at("2022-09-09T09:59:27.958Z"), expect);
    assert_eq!(at("2022-09-09T9:59:27.958Z"), expect);
    assert_eq!(at("2022-09-09 09:59:27.958"), expect);
    assert_eq!(at("2022-09-09T11:59:27.958+02:00"), expect);
    assert_eq!(at("9/9/2022 9:59:27.958 AM"), expect);
    assert_eq!(at("9/9/2022, 9:59:27.958 AM"), expect);
    assert_eq!(
        at("8/22/2022 6:11:52 PM"),
        Some("2022-08-22T18:11:52.000Z".to_string())
    );
    assert_eq!(at("yesterday"), None);
    // A record with such a time is read, its time columns in RFC 3339.
    let raw = json!({"id": "r", "riskLastUpdatedDateTime": "2022-09-09T9:59:27.958Z"});
    let row = normalise(Category::RiskyUsers, "t1", &raw).unwrap();
    assert_eq!(row.columns["TimeGenerated"], "2022-09-09T09:59:27.958Z");
    assert_eq!(
        row.columns["RiskLastUpdatedDateTime"],
        "2022-09-09T09:59:27.958Z"
    );
}

#[test]
fn sign_ins_map_to_table_columns_with_the_table_types() {
    let raw = json!({
        "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100", "createdDateTime": "2026-11-25T10:00:00Z",
        "userPrincipalName": "adele@contoso.example", "status": { "errorCode": 50126, "failureReason": "Invalid username or password." },
        "location": { "city": "Seattle", "countryOrRegion": "US" }, "deviceDetail": { "browser": "Edge" },
        "riskLevelDuringSignIn": "none", "someNewProperty": 1
    });
    let row = normalise(Category::SignInLogs, "t1", &raw).unwrap();
    assert_eq!(row.columns["ResultType"], "50126");
    assert_eq!(row.columns["Location"], "US");
    assert_eq!(row.columns["LocationDetails"]["city"], "Seattle");
    assert_eq!(row.columns["Type"], "SigninLogs");
    assert_eq!(row.unknown_fields, vec!["someNewProperty".to_string()]);
    // The non-interactive table keeps nested objects as JSON text.
    let row = normalise(Category::NonInteractiveUserSignInLogs, "t1", &raw).unwrap();
    assert_eq!(
        row.columns["Status"],
        json!("{\"errorCode\":50126,\"failureReason\":\"Invalid username or password.\"}")
    );
}

#[test]
fn casing_and_nulls_are_tolerated_and_bad_records_named() {
    let raw = json!({ "ID": "x1", "ActivityDateTime": "2026-11-25T10:00:00.123+01:00", "initiatedBy": null, "targetResources": [{ "Type": "User" }] });
    let row = normalise(Category::AuditLogs, "t", &raw).unwrap();
    assert_eq!(row.id, "x1");
    assert_eq!(row.time.to_rfc3339(), "2026-11-25T09:00:00.123+00:00");
    assert!(row.columns["Identity"].is_null());
    assert_eq!(
        normalise(Category::AuditLogs, "t", &json!([1])),
        Err(RowError::NotAnObject)
    );
    assert_eq!(
        normalise(Category::AuditLogs, "t", &json!({ "id": "" })),
        Err(RowError::MissingId)
    );
    assert!(matches!(
        normalise(
            Category::AuditLogs,
            "t",
            &json!({ "id": "a", "activityDateTime": "yesterday" })
        ),
        Err(RowError::BadTime {
            field: "activityDateTime",
            ..
        })
    ));
}

#[test]
fn every_row_has_exactly_its_tables_columns_with_their_types() {
    use crate::simulated::SimulatedTenant;
    use chrono::TimeZone;
    let tenant = SimulatedTenant::new(3, 200);
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let to = from + chrono::Duration::days(2);
    // Names the mapping writes for some tables only (shaping keeps the table's own).
    let per_table = [
        "AppliedConditionalAccessPolicies",
        "TenantId",
        "AADTenantId",
        "ProcessingTimeInMilliseconds",
        "ProcessingTimeInMs",
        "ServicePrincipalName",
        "AlternateSignInName",
        "FlaggedForReview",
        "IPAddressFromResourceProvider",
        "SignInIdentifier",
        "Category",
        "SourceAppClientId",
        "ManagedServiceIdentity",
        "AutonomousSystemNumber",
        "AuthenticationAppDeviceDetails",
        "AuthenticationAppPolicyEvaluationDetails",
    ];
    for category in Category::COLLECTED {
        let records = tenant.records(category, from, to, None);
        assert!(!records.is_empty(), "{category}: no records to check");
        for r in records.iter().take(300) {
            let mapped = map(category, "t", &r.json).unwrap();
            let (_, dropped) = shape(category, mapped.columns.clone());
            assert!(
                dropped.iter().all(|d| per_table.contains(&d.as_str())),
                "{category}: {dropped:?} are not columns of {}",
                category.table()
            );
            let row = normalise(category, "t", &r.json).unwrap();
            let names: Vec<&str> = row.columns.keys().map(String::as_str).collect();
            let mut expected: Vec<&str> = columns(category).iter().map(|(n, _)| *n).collect();
            expected.sort_unstable();
            assert_eq!(names, expected, "{category}");
            for (name, kind) in columns(category) {
                let v = &row.columns[*name];
                let ok = match kind {
                    _ if v.is_null() => true,
                    ColumnType::String => v.is_string(),
                    ColumnType::Bool => v.is_boolean(),
                    ColumnType::Long | ColumnType::Int => v.is_i64() || v.is_u64(),
                    ColumnType::DateTime => v
                        .as_str()
                        .is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok()),
                    ColumnType::Dynamic => true,
                };
                assert!(ok, "{category}.{name} = {v} is not a {kind:?}");
            }
            assert!(
                row.unknown_fields.is_empty(),
                "{category}: the simulated tenant sent {:?}",
                row.unknown_fields
            );
        }
    }
}
