//! Any JSON as a Graph record, a diagnostic-settings record's properties or a Log Analytics
//! row, of every category: normalising it gives a row or an error, never a panic, and a row
//! always has its id and the table's columns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::model::Category;
use shared::model::rows;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let tenant = "11111111-2222-3333-4444-555555555555";
    for category in Category::ALL {
        if let Ok(row) = rows::normalise(category, tenant, &record) {
            assert!(!row.id.is_empty());
            assert_eq!(
                row.columns.len(),
                shared::model::tables::columns(category).len()
            );
        }
        if let Some(obj) = record.as_object() {
            let _ = rows::from_table_row(category, tenant, obj);
        }
    }
});
