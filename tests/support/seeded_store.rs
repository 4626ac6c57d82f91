//! An embedded store filled with a seeded simulated tenant, as the collectors would fill it:
//! its records of some categories over a range (a day more at each end) and its directory
//! inventory as `collect-inventory` keeps it. For the report and recommendation tests, which
//! compare answers with what they compute from the same raw records.
#![allow(dead_code)] // each test binary uses a different part of this module

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use shared::model::Category;
use shared::model::rows::normalise;
use shared::pipeline::inventory::KINDS;
use shared::simulated::SimulatedTenant;
use shared::simulated::inventory::Inventory;
use shared::state::{PageRouting, SqliteState, StoredRow};
use std::collections::BTreeMap;

/// A record's event time.
pub fn time_of(r: &Value) -> DateTime<Utc> {
    let t = r["createdDateTime"]
        .as_str()
        .or(r["activityDateTime"].as_str())
        .unwrap();
    DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
}

/// Stores `tenant`'s records of `categories` under `key`, from a day before `[start, end]` to
/// a day after it; returns those in the range.
pub fn load(
    store: &SqliteState,
    key: &str,
    tenant: &SimulatedTenant,
    categories: &[Category],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> BTreeMap<Category, Vec<Value>> {
    let mut raw = BTreeMap::new();
    for &category in categories {
        // Into an empty table, as an import would: its indexes built once at the end.
        store.begin_bulk_load(category).unwrap();
        let records: Vec<Value> = tenant
            .records(
                category,
                start - Duration::days(1),
                end + Duration::days(1),
                None,
            )
            .into_iter()
            .map(|r| r.json)
            .collect();
        for chunk in records.chunks(10_000) {
            let rows: Vec<StoredRow> = chunk
                .iter()
                .map(|r| {
                    let row = normalise(category, key, r).unwrap();
                    StoredRow {
                        id: row.id,
                        time: row.time,
                        columns: row.columns,
                        raw: r.clone(),
                    }
                })
                .collect();
            store
                .store_page(
                    key,
                    category,
                    &rows,
                    &PageRouting::embedded_only(),
                    None,
                    start,
                    end,
                )
                .unwrap();
        }
        let inside: Vec<Value> = records
            .into_iter()
            .filter(|r| (start..=end).contains(&time_of(r)))
            .collect();
        raw.insert(category, inside);
    }
    store.build_indexes().unwrap();
    raw
}

/// Keeps `inv` as `key`'s inventory, listed at `at`.
pub fn sync(store: &SqliteState, key: &str, inv: &Inventory, at: DateTime<Utc>) {
    sync_except(store, key, inv, at, &[]);
}

/// The same, leaving out the kinds `skip` (never listed: a licence the tenant lacks).
pub fn sync_except(
    store: &SqliteState,
    key: &str,
    inv: &Inventory,
    at: DateTime<Utc>,
    skip: &[&str],
) {
    let p = &inv.people;
    for (kind, objects) in [
        ("applications", &inv.applications),
        ("servicePrincipals", &inv.service_principals),
        ("users", &p.users),
        ("roleDefinitions", &p.role_definitions),
        ("roleAssignments", &p.role_assignments),
        ("userRegistrationDetails", &p.registration_details),
        ("conditionalAccessPolicies", &p.conditional_access_policies),
        (
            "servicePrincipalSignInActivities",
            &inv.sp_sign_in_activities,
        ),
        (
            "appCredentialSignInActivities",
            &inv.credential_sign_in_activities,
        ),
        ("userEventsSummary", &inv.user_events),
        ("directoryRecommendations", &inv.recommendations),
    ] {
        if skip.contains(&kind) {
            continue;
        }
        // Each object as the collector keeps it (events keyed by user, time, feature, method).
        let mut objects = objects.clone();
        let kind_of = KINDS.iter().find(|k| k.name == kind).unwrap();
        if let Some(rekey) = kind_of.rekey {
            objects.iter_mut().for_each(rekey);
        }
        store.sync_inventory(key, kind, &objects, at, None).unwrap();
    }
}
