//! 8. Users successfully removed (deleted) from a target system.

use super::provisioning::Events;
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::query::params::{ParamError, required};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "users-removed",
        description: "Users successfully removed (deleted) from a target system.",
        trigger: Trigger::Http {
            route: "provisioning/users-removed",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "target",
        required: true,
        description: "The target system's name (any case).",
        example: "Adobe Identity Management",
        values: &[],
    }],
    default_days: 7,
};

pub struct UsersRemoved;

impl Question for UsersRemoved {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let target = required(q, "target", "Adobe Identity Management")?;
        Ok(Events::succeeded(None, Some(target), "delete", "User"))
    }
}
