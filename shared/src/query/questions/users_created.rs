//! 9. Users from a source system successfully created in a target system.

use super::provisioning::Events;
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::query::params::{ParamError, required};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "users-created",
        description: "Users from a source system successfully created in a target system.",
        trigger: Trigger::Http {
            route: "provisioning/users-created",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "source",
            required: true,
            description: "The source system's name (any case).",
            example: "Workday",
            values: &[],
        },
        Param {
            name: "target",
            required: true,
            description: "The target system's name (any case).",
            example: "Active Directory",
            values: &[],
        },
    ],
    default_days: 7,
};

pub struct UsersCreated;

impl Question for UsersCreated {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let source = required(q, "source", "Workday")?;
        let target = required(q, "target", "Active Directory")?;
        Ok(Events::succeeded(
            Some(source),
            Some(target),
            "create",
            "User",
        ))
    }
}
