//! How a function is declared: its name and its trigger. The function set's one registry
//! (in the `functions` crate) is a list of these; Azure's `function.json` files, the local
//! scheduler, the HTTP router and the Lambda dispatch are all derived from it.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// A function's identity and trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The Azure function name (also the folder holding its `function.json`).
    pub name: &'static str,
    /// One line for `entra-monitor functions` and the health report.
    pub description: &'static str,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Runs on a 6-field NCRONTAB schedule (UTC). This is the default; configuration may
    /// override it.
    Timer { schedule: &'static str },
    /// Answers HTTP requests at `/api/{route}`.
    Http {
        route: &'static str,
        methods: &'static [Method],
        auth: AuthLevel,
    },
}

/// HTTP verbs the functions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Azure's HTTP `authLevel`: which key, if any, the Functions host demands before it calls us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthLevel {
    Anonymous,
    Function,
    Admin,
}

impl AuthLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthLevel::Anonymous => "anonymous",
            AuthLevel::Function => "function",
            AuthLevel::Admin => "admin",
        }
    }
}

impl FunctionSpec {
    pub fn is_timer(&self) -> bool {
        matches!(self.trigger, Trigger::Timer { .. })
    }

    /// The `function.json` Azure Functions reads for this function (<https://learn.microsoft.com/en-us/azure/azure-functions/functions-custom-handlers#application-structure>).
    ///
    /// Timer bindings are named `timer`, HTTP bindings `req` / `res`; the envelope handler
    /// relies on those names only loosely (it takes the first binding it finds).
    pub fn function_json(&self) -> Value {
        match &self.trigger {
            Trigger::Timer { schedule } => json!({
                "bindings": [{
                    "name": "timer",
                    "type": "timerTrigger",
                    "direction": "in",
                    "schedule": schedule,
                    "runOnStartup": false,
                    "useMonitor": true
                }]
            }),
            Trigger::Http {
                route,
                methods,
                auth,
            } => json!({
                "bindings": [
                    {
                        "name": "req",
                        "type": "httpTrigger",
                        "direction": "in",
                        "authLevel": auth.as_str(),
                        "methods": methods.iter().map(|m| m.as_str().to_ascii_lowercase()).collect::<Vec<_>>(),
                        "route": route
                    },
                    { "name": "res", "type": "http", "direction": "out" }
                ]
            }),
        }
    }
}

/// Matches a request path (without the `/api/` prefix) against a route template such as
/// `reports/{kind}` or `files/{*rest}`, returning the captured parameters.
pub fn match_route(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let path = path.trim_matches('/');
    let mut params = BTreeMap::new();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    for part in template.trim_matches('/').split('/') {
        if let Some(name) = part.strip_prefix("{*").and_then(|p| p.strip_suffix('}')) {
            let rest: Vec<&str> = segments.by_ref().collect();
            params.insert(name.to_string(), rest.join("/"));
            return Some(params);
        }
        let segment = segments.next()?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_string(), segment.to_string());
            }
            None if part.eq_ignore_ascii_case(segment) => {}
            None => return None,
        }
    }
    segments.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_literals_parameters_and_catch_alls() {
        assert_eq!(match_route("health", "health"), Some(BTreeMap::new()));
        assert_eq!(match_route("health", "/health/"), Some(BTreeMap::new()));
        assert_eq!(match_route("health", "healthz"), None);
        assert_eq!(match_route("health", "health/extra"), None);
        let p = match_route("reports/{kind}", "reports/risky-users").unwrap();
        assert_eq!(p["kind"], "risky-users");
        assert_eq!(match_route("reports/{kind}", "reports"), None);
        let p = match_route("files/{*rest}", "files/a/b/c").unwrap();
        assert_eq!(p["rest"], "a/b/c");
    }

    #[test]
    fn function_json_has_the_host_shapes() {
        let timer = FunctionSpec {
            name: "t",
            description: "",
            trigger: Trigger::Timer {
                schedule: "0 */5 * * * *",
            },
        };
        let v = timer.function_json();
        assert_eq!(v["bindings"][0]["type"], "timerTrigger");
        assert_eq!(v["bindings"][0]["schedule"], "0 */5 * * * *");
        let http = FunctionSpec {
            name: "h",
            description: "",
            trigger: Trigger::Http {
                route: "health",
                methods: &[Method::Get],
                auth: AuthLevel::Anonymous,
            },
        };
        let v = http.function_json();
        assert_eq!(v["bindings"][0]["type"], "httpTrigger");
        assert_eq!(v["bindings"][0]["methods"], json!(["get"]));
        assert_eq!(v["bindings"][0]["authLevel"], "anonymous");
        assert_eq!(v["bindings"][1]["type"], "http");
    }
}
