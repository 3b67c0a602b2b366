//! The refusals of a protected stage (`custom.deployer.protect`,
//! `provider.deletionProtection`, the serverless-stack-termination-protection plugin; see
//! `deployer_config::protect`): the shortcuts that change a stage without review. Each
//! refusal names the setting and the way out; it comes before any AWS write.

use deployer_aws::flow::broadening::Broadening;
use deployer_config::StageSettings;

use crate::errors::{OpError, OpErrorKind};

/// A shortcut a protected stage refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// `remove`.
    Remove,
    /// `deploy function`.
    DeployFunction,
    /// `rollback` / `rollback function` without `--approve-rollback`.
    Rollback,
    /// `--force-unlock`.
    ForceUnlock,
    /// `--ignore-plugin`.
    IgnorePlugin,
    /// `--accept-account`.
    AcceptAccount,
    /// `up` with no account pinned.
    Unpinned,
    /// `up --plan` of a plan made on a drifted stack, without `--accept-drift`.
    Drifted,
}

impl Shortcut {
    /// What is refused, and how to do it anyway.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Shortcut::Remove => (
                "`remove`",
                "turn termination protection off on the stack (`aws cloudformation update-termination-protection --no-enable-termination-protection`) once the stage is out of the setting",
            ),
            Shortcut::DeployFunction => (
                "`deploy function` (it changes code the stack does not describe)",
                "deploy the change with `deployer up`",
            ),
            Shortcut::Rollback => (
                "a rollback without `--approve-rollback`",
                "pass --approve-rollback to roll back knowingly",
            ),
            Shortcut::ForceUnlock => (
                "`--force-unlock`",
                "wait for the other run, or delete its lock as the lock error says",
            ),
            Shortcut::IgnorePlugin => (
                "`--ignore-plugin`",
                "install the plugin or remove it from `plugins:` (custom.deployer.ignorePlugins in the reviewed configuration also works)",
            ),
            Shortcut::AcceptAccount => (
                "`--accept-account`",
                "change the stage's account in deployer.accounts.json or provider.allowedAccountIds in a reviewed commit",
            ),
            Shortcut::Drifted => (
                "executing a plan made on a drifted stack (its `drift` section)",
                "bring the stack back with a reviewed deploy, or pass --accept-drift to execute the plan over the drift",
            ),
            Shortcut::Unpinned => (
                "`up` with no account pinned for the stage",
                "pin it with provider.allowedAccountIds, `deployer pin --stage <stage>` or --expect-account",
            ),
        }
    }
}

/// Refuses `shortcut` when the stage is protected.
pub(crate) fn refuse(settings: &StageSettings, shortcut: Shortcut) -> anyhow::Result<()> {
    let Some(protection) = &settings.protection else {
        return Ok(());
    };
    Err(OpError::error(
        OpErrorKind::Protected,
        message(&settings.stage, protection.setting, shortcut),
    ))
}

/// `refuse` for each shortcut that is `used`.
pub(crate) fn refuse_used(
    settings: &StageSettings,
    used: &[(bool, Shortcut)],
) -> anyhow::Result<()> {
    for (_, shortcut) in used.iter().filter(|(on, _)| *on) {
        refuse(settings, *shortcut)?;
    }
    Ok(())
}

/// On a protected stage: refuses a saved plan that broadens access (no `--approve-broadening`).
pub(crate) fn refuse_planned_broadening(
    settings: &StageSettings,
    found: &[Broadening],
) -> anyhow::Result<()> {
    match &settings.protection {
        Some(p) => Err(OpError::error(
            OpErrorKind::Protected,
            broadening_message(&settings.stage, p.setting, found),
        )),
        None => Ok(()),
    }
}

pub(crate) fn broadening_message(stage: &str, setting: &str, found: &[Broadening]) -> String {
    let list: Vec<String> = found
        .iter()
        .map(|b| format!("{} ({}): {}", b.logical_id, b.resource_type, b.what))
        .collect();
    format!(
        "stage {stage} is protected ({setting}): this deploy broadens access and nothing was \
         changed:\n  - {}\nReview it with `deployer diff`, then pass --approve-broadening",
        list.join("\n  - ")
    )
}

fn message(stage: &str, setting: &str, shortcut: Shortcut) -> String {
    let (what, way_out) = shortcut.words();
    format!(
        "stage {stage} is protected ({setting}): {what} is refused; nothing was changed. \
         {}; or take the stage out of {setting} to allow it",
        capitalized(way_out)
    )
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployer_config::protect::Protection;

    fn settings(protected: bool) -> StageSettings {
        StageSettings {
            stage: "prod".into(),
            region: "us-east-1".into(),
            profile: None,
            allowed_account_ids: Vec::new(),
            forbidden_account_ids: Vec::new(),
            warnings: Vec::new(),
            dotenv: None,
            protection: protected.then_some(Protection {
                setting: "custom.deployer.protect",
            }),
        }
    }

    #[test]
    fn a_refusal_names_the_stage_the_setting_and_the_way_out() {
        let err = refuse(&settings(true), Shortcut::Rollback).unwrap_err();
        let op = err.downcast_ref::<OpError>().unwrap();
        assert_eq!(op.kind, OpErrorKind::Protected);
        let m = op.to_string();
        assert!(
            m.starts_with("stage prod is protected (custom.deployer.protect)"),
            "{m}"
        );
        assert!(m.contains("Pass --approve-rollback"), "{m}");
    }

    #[test]
    fn an_unprotected_stage_allows_every_shortcut() {
        let all = [Shortcut::Remove, Shortcut::ForceUnlock, Shortcut::Unpinned];
        for s in all {
            refuse(&settings(false), s).unwrap();
        }
        refuse_used(&settings(true), &[(false, Shortcut::ForceUnlock)]).unwrap();
        assert!(refuse_used(&settings(true), &[(true, Shortcut::ForceUnlock)]).is_err());
    }
}
