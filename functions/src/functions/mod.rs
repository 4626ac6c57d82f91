//! The function set: one file per function, and [`REGISTRY`], the single list every host,
//! `function.json` and the local scheduler derive from.
//!
//! Adding a function is adding a file with a `SPEC` and a `run`, and one line below.

mod collect;
pub mod collect_audit;
pub mod collect_inventory;
pub mod collect_provisioning;
pub mod collect_risk;
pub mod collect_signins;
pub mod detect_risks;
pub mod health;
pub mod health_alerts;
pub mod microsoft_recommendations;
pub mod questions;
pub mod recommendations;
pub mod replay_spool;
pub mod retention;
pub mod risk_detections;
pub mod risky_users;
pub mod workbooks;

pub use crate::app::{Function, Handler, HttpResult, TimerResult};

/// Every function of the set: the list below, then one HTTP function per question of
/// [`shared::query::questions::ALL`].
pub static REGISTRY: std::sync::LazyLock<Vec<Function>> = std::sync::LazyLock::new(|| {
    let mut all = vec![
        Function {
            spec: &collect_signins::SPEC,
            handler: Handler::Timer(collect_signins::run),
        },
        Function {
            spec: &collect_audit::SPEC,
            handler: Handler::Timer(collect_audit::run),
        },
        Function {
            spec: &collect_provisioning::SPEC,
            handler: Handler::Timer(collect_provisioning::run),
        },
        Function {
            spec: &collect_risk::SPEC,
            handler: Handler::Timer(collect_risk::run),
        },
        Function {
            spec: &collect_inventory::SPEC,
            handler: Handler::Timer(collect_inventory::run),
        },
        Function {
            spec: &replay_spool::SPEC,
            handler: Handler::Timer(replay_spool::run),
        },
        Function {
            spec: &retention::SPEC,
            handler: Handler::Timer(retention::run),
        },
        Function {
            spec: &detect_risks::SPEC,
            handler: Handler::Timer(detect_risks::run),
        },
        Function {
            spec: &recommendations::EVALUATE,
            handler: Handler::Timer(recommendations::evaluate),
        },
        Function {
            spec: &health_alerts::MONITOR,
            handler: Handler::Timer(health_alerts::run),
        },
        Function {
            spec: &health::SPEC,
            handler: Handler::Http(health::run),
        },
        Function {
            spec: &health_alerts::LIST,
            handler: Handler::Http(health_alerts::list),
        },
        Function {
            spec: &health_alerts::MICROSOFT_SIGNALS,
            handler: Handler::Http(health_alerts::microsoft_signals),
        },
        Function {
            spec: &health_alerts::GET,
            handler: Handler::Http(health_alerts::get),
        },
        Function {
            spec: &health_alerts::ACT,
            handler: Handler::Http(health_alerts::act),
        },
        Function {
            spec: &risk_detections::SPEC,
            handler: Handler::Http(risk_detections::run),
        },
        Function {
            spec: &risk_detections::SIGN_INS,
            handler: Handler::Http(risk_detections::sign_ins),
        },
        Function {
            spec: &risky_users::LIST,
            handler: Handler::Http(risky_users::list),
        },
        Function {
            spec: &risky_users::ACT,
            handler: Handler::Http(risky_users::act),
        },
        Function {
            spec: &recommendations::LIST,
            handler: Handler::Http(recommendations::list),
        },
        Function {
            spec: &recommendations::GET,
            handler: Handler::Http(recommendations::get),
        },
        Function {
            spec: &recommendations::RESOURCES,
            handler: Handler::Http(recommendations::resources),
        },
        Function {
            spec: &recommendations::ACT,
            handler: Handler::Http(recommendations::act),
        },
        Function {
            spec: &recommendations::ACT_ON_RESOURCE,
            handler: Handler::Http(recommendations::act),
        },
        Function {
            spec: &workbooks::PAGE,
            handler: Handler::Http(workbooks::page),
        },
        Function {
            spec: &workbooks::ASSET,
            handler: Handler::Http(workbooks::asset),
        },
        Function {
            spec: &questions::OPENAPI,
            handler: Handler::Http(questions::run_openapi),
        },
    ];
    all.extend(shared::query::questions::ALL.iter().map(|q| Function {
        spec: &q.spec().function,
        handler: Handler::Http(questions::run),
    }));
    all
});

/// Looks a function up by its name (case-insensitive, as Azure treats function names).
pub fn find(name: &str) -> Option<&'static Function> {
    REGISTRY
        .iter()
        .find(|f| f.spec.name.eq_ignore_ascii_case(name))
}

/// The names of the timer functions.
pub fn timer_names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|f| f.spec.is_timer())
        .map(|f| f.spec.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::registry::Trigger;
    use shared::schedule::Schedule;

    #[test]
    fn names_are_unique_valid_azure_names_and_schedules_parse() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|f| f.spec.name).collect();
        for name in &names {
            // Azure: a letter first, then letters, digits, '-' or '_', at most 128 characters.
            assert!(
                name.len() <= 128 && name.starts_with(|c: char| c.is_ascii_alphabetic()),
                "{name}"
            );
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{name}"
            );
        }
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names.dedup_by_key(|n| n.to_ascii_lowercase());
        assert_eq!(names.len(), REGISTRY.len());
        for f in REGISTRY.iter() {
            if let Trigger::Timer { schedule } = f.spec.trigger {
                // Every default schedule also runs on AWS as an EventBridge rule.
                let expression = Schedule::parse(schedule).unwrap().eventbridge();
                assert!(expression.is_ok(), "{}: {expression:?}", f.spec.name);
            }
        }
    }

    #[test]
    fn every_question_has_its_function() {
        for q in shared::query::questions::ALL {
            let name = q.spec().name();
            let f = find(name).unwrap_or_else(|| panic!("{name} is not registered"));
            assert!(std::ptr::eq(f.spec, &q.spec().function));
            assert!(matches!(f.handler, Handler::Http(_)));
        }
    }

    #[test]
    fn the_issue_named_functions_are_registered() {
        for name in [
            "collect-signins",
            "collect-audit",
            "collect-provisioning",
            "health",
        ] {
            assert!(find(name).is_some(), "{name} missing");
        }
        assert!(matches!(find("HEALTH").unwrap().handler, Handler::Http(_)));
        assert_eq!(
            timer_names(),
            vec![
                "collect-signins",
                "collect-audit",
                "collect-provisioning",
                "collect-risk",
                "collect-inventory",
                "replay-spool",
                "retention",
                "detect-risks",
                "evaluate-recommendations",
                "monitor-health"
            ]
        );
    }
}
