//! 7. Groups successfully created in a target system.

use super::provisioning::Events;
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::query::params::{ParamError, required};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "groups-created",
        description: "Groups successfully created in a target system.",
        trigger: Trigger::Http {
            route: "provisioning/groups-created",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "target",
        required: true,
        description: "The target system's name (any case).",
        example: "ServiceNow",
        values: &[],
    }],
    default_days: 7,
};

pub struct GroupsCreated;

impl Question for GroupsCreated {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let target = required(q, "target", "ServiceNow")?;
        Ok(Events::succeeded(None, Some(target), "create", "Group"))
    }
}
