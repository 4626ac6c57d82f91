//! Any bytes as an import file: the reader finds records (JSON lines, one document, CSV) and
//! each is classified and turned into a row, with and without `--tenant`. Nothing may panic,
//! and a rejected record is a reason, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::import::Options;
use shared::import::classify::classify;

fuzz_target!(|data: &[u8]| {
    let given = Options {
        tenant: Some("11111111-2222-3333-4444-555555555555".into()),
        ..Options::default()
    };
    let none = Options::default();
    let mut reader: &[u8] = data;
    let _ = shared::import::read::records(&mut reader, &mut |(line, item)| {
        assert!(line >= 1, "records are numbered from line 1");
        if let Ok(record) = item {
            for options in [&none, &given] {
                if let Ok(c) = classify(record.clone(), options) {
                    let _ = c.row.digest();
                }
            }
        }
    });
});
