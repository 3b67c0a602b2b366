//! The state every compile step shares, and the resource shapes they build alike.

use std::collections::BTreeMap;

use deployer_config::model::Service;
use serde_json::{Map, Value, json};

use crate::{CompileInput, naming};

/// State shared by the compile steps: the template being built and the inputs.
pub(crate) struct Ctx<'a> {
    pub input: &'a CompileInput<'a>,
    pub service: &'a Service,
    pub stage: &'a str,
    pub template: Value,
    /// Functions invoked through an alias (provisioned concurrency, SnapStart): function key →
    /// (alias name, alias logical ID). Event sources then target the alias, as in v3.
    pub aliases: BTreeMap<String, (String, String)>,
}

impl Ctx<'_> {
    /// The template's `Resources`.
    pub fn resources(&mut self) -> &mut Map<String, Value> {
        self.template["Resources"]
            .as_object_mut()
            .expect("template has Resources")
    }

    /// The template's `Outputs`.
    pub fn outputs(&mut self) -> &mut Map<String, Value> {
        self.template["Outputs"]
            .as_object_mut()
            .expect("template has Outputs")
    }

    /// Whether a resource with this logical ID exists already.
    pub fn has_resource(&self, id: &str) -> bool {
        self.template["Resources"].get(id).is_some()
    }

    /// The deployed name of a function.
    pub fn function_name(&self, key: &str) -> String {
        self.service.function_name(key, self.stage)
    }

    /// The statements of the generated role's inline policy, if the role is generated.
    pub fn role_statements(&mut self) -> Option<&mut Vec<Value>> {
        self.template["Resources"]
            .get_mut(naming::ROLE_LOGICAL_ID)?
            .pointer_mut("/Properties/Policies/0/PolicyDocument/Statement")?
            .as_array_mut()
    }

    /// `{"Fn::GetAtt": ["<Fn>LambdaFunction", "Arn"]}`, or the alias ARN
    /// (`Fn::Join [":", [<that>, <alias>]]`) for a function with an alias (v3
    /// `resolveLambdaTarget`).
    pub fn lambda_arn(&self, key: &str) -> Value {
        let arn = json!({"Fn::GetAtt": [naming::lambda_logical_id(key), "Arn"]});
        match self.aliases.get(key) {
            Some((name, _)) => json!({"Fn::Join": [":", [arn, name]]}),
            None => arn,
        }
    }

    /// The logical ID of the function's alias, which event resources must depend on.
    pub fn alias_id(&self, key: &str) -> Option<String> {
        self.aliases.get(key).map(|(_, id)| id.clone())
    }

    /// The alias name of a function (`provisioned`, `snapstart`), if it has one.
    pub fn alias_name(&self, key: &str) -> Option<String> {
        self.aliases.get(key).map(|(name, _)| name.clone())
    }

    /// The execution role a function uses when it is not the provider's: its `role`, else an
    /// existing provider role (v3 `getCustomExecutionRole`).
    pub fn custom_execution_role(&self, key: &str) -> Option<Value> {
        let function = &self.service.functions[key];
        if let Some(role) = &function.role {
            return Some(role.clone());
        }
        let provider = &self.service.provider;
        if let Some(deployer_config::model::IamRole::Existing(role)) =
            provider.iam.as_ref().and_then(|i| i.role.as_ref())
        {
            return Some(role.clone());
        }
        provider.role.clone()
    }

    /// The logical ID of the role resource a function's event source mappings must wait for
    /// (v3 `resolveFunctionIamRoleResourceName`).
    pub fn function_role_resource(&self, key: &str) -> Option<String> {
        match self.custom_execution_role(key) {
            None => Some(naming::ROLE_LOGICAL_ID.to_owned()),
            Some(Value::String(role)) if !role.starts_with("arn:") => Some(role),
            Some(Value::Object(o)) => o
                .get("Fn::GetAtt")
                .and_then(|g| g.get(0))
                .and_then(Value::as_str)
                .map(str::to_owned),
            Some(_) => None,
        }
    }
}

/// A resource `{Type, DependsOn, Properties}` (v3's order when `DependsOn` is written first),
/// without `DependsOn` when there is nothing to wait for.
pub(crate) fn resource_depending(
    kind: &str,
    depends_on: Option<Value>,
    properties: Value,
) -> Value {
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!(kind));
    if let Some(depends_on) = depends_on {
        resource.insert("DependsOn".to_owned(), depends_on);
    }
    resource.insert("Properties".to_owned(), properties);
    Value::Object(resource)
}

/// A resource `{Type, Properties, DependsOn}` (v3's order when `DependsOn` is written last).
pub(crate) fn resource_then_depending(
    kind: &str,
    properties: Value,
    depends_on: Option<Value>,
) -> Value {
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!(kind));
    resource.insert("Properties".to_owned(), properties);
    if let Some(depends_on) = depends_on {
        resource.insert("DependsOn".to_owned(), depends_on);
    }
    Value::Object(resource)
}
